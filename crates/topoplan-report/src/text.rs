//! The terminal view of `topoplan plan`: per host, a table of nodes; then links, changes
//! against the lock and warnings.

use crate::{cells, grouped_links};
use std::fmt::Write;
use topoplan_solver::{nodes_by_host, HostPlan, NodePlan, Plan};

/// The terminal view: per host, a table of nodes; then links and warnings.
pub fn text(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "deployment `{}`: {} (key validation: {})",
        plan.deployment, plan.product, plan.mode
    );
    let by_host = nodes_by_host(plan);
    for h in &plan.hosts {
        host_table(
            &mut s,
            plan,
            h,
            by_host.get(h.name.as_str()).into_iter().flatten(),
        );
    }
    if plan.nodes.iter().any(|n| n.pinned) {
        let _ = writeln!(s, "\n(* pinned offset)");
    }
    tail(&mut s, plan);
    s
}

/// One host: its line, then a row per node with the port columns.
fn host_table<'a>(
    s: &mut String,
    plan: &Plan,
    h: &HostPlan,
    nodes: impl Iterator<Item = &'a &'a NodePlan>,
) {
    let _ = writeln!(
        s,
        "\nhost {} ({}): {} node(s), span {}{}{}",
        h.name,
        h.address,
        h.nodes.len(),
        h.max_offset,
        if h.max_offset_minimal {
            ""
        } else {
            " (not proven minimal)"
        },
        if h.reserved_ports.is_empty() {
            String::new()
        } else {
            format!(", reserved {:?}", h.reserved_ports)
        }
    );
    let mut head = format!("  {:<16} {:<34} {:>6}", "node", "roles", "offset");
    for c in &plan.columns {
        if c.per_node {
            let _ = write!(head, "  {}", c.title);
        } else {
            let _ = write!(head, " {:>6}", c.title);
        }
    }
    let _ = writeln!(s, "{}", head.trim_end());
    for n in nodes {
        let mut row = format!(
            "  {:<16} {:<34} {:>5}{}",
            n.name,
            n.roles.join(","),
            n.offset,
            if n.pinned { "*" } else { " " },
        );
        for (c, v) in plan.columns.iter().zip(cells(plan, n)) {
            if c.per_node {
                let _ = write!(row, "  {v}");
            } else {
                let _ = write!(row, " {v:>6}");
            }
        }
        let _ = writeln!(s, "{}", row.trim_end());
    }
}

/// Links, changes against the lock, warnings, and how many `allow` silenced.
fn tail(s: &mut String, plan: &Plan) {
    let groups = grouped_links(plan);
    if !groups.is_empty() {
        let _ = writeln!(s, "\nlinks:");
        for (from, to, kind, refs) in groups {
            let _ = writeln!(s, "  {from} -> {to} [{kind}] {}", refs.join(", "));
        }
    }
    if !plan.clusters.is_empty() {
        let _ = writeln!(s, "\nclusters:");
        for c in &plan.clusters {
            let members: Vec<String> = c
                .members
                .iter()
                .map(|m| {
                    let part = if c.manager.as_deref() == Some(m.node.as_str()) {
                        " manager"
                    } else if m.worker {
                        " worker"
                    } else {
                        ""
                    };
                    let port = m.member_port.map_or(String::new(), |p| format!(":{p}"));
                    format!("{}{port}{part}", m.node)
                })
                .collect();
            let front = c.frontend.as_ref().map_or(String::new(), |f| {
                format!(
                    " behind {} (http {}, https {}{})",
                    f.address,
                    f.http_port,
                    f.https_port,
                    f.lb_host
                        .as_ref()
                        .map_or(String::new(), |h| format!(", on {h}"))
                )
            });
            let _ = writeln!(s, "  {}{front}: {}", c.name, members.join(", "));
        }
    }
    if let Some(changes) = &plan.changes {
        let _ = writeln!(s, "\nchanges against the lock:");
        if changes.is_empty() {
            let _ = writeln!(s, "  (none)");
        }
        for c in changes {
            let _ = writeln!(s, "  {}", c.line());
        }
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &plan.warnings {
            let _ = writeln!(s, "  - {w}");
        }
    }
    if plan.silenced > 0 {
        let _ = writeln!(
            s,
            "\n({} warning(s) silenced by `allow` in the topology)",
            plan.silenced
        );
    }
}
