//! The terminal view of `topoplan plan`: per host, a table of nodes; then links, changes
//! against the lock and warnings.

use crate::{cells, grouped_links};
use std::fmt::Write as _;
use std::io::{self, Write};
use topoplan_solver::{nodes_by_host, HostPlan, NodePlan, Plan};

/// The terminal view: per host, a table of nodes; then links and warnings.
pub fn text(plan: &Plan) -> String {
    crate::to_string(|w| write_text(plan, w))
}

/// [`text`], written to `w`.
pub fn write_text(plan: &Plan, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "deployment `{}`: {} (key validation: {})",
        plan.deployment, plan.product, plan.mode
    )?;
    let by_host = nodes_by_host(plan);
    for h in &plan.hosts {
        host_table(
            w,
            plan,
            h,
            by_host.get(h.name.as_str()).into_iter().flatten(),
        )?;
    }
    if plan.nodes.iter().any(|n| n.pinned) {
        writeln!(w, "\n(* pinned offset)")?;
    }
    tail(w, plan)
}

/// One host: its line, then a row per node with the port columns.
fn host_table<'a>(
    w: &mut dyn Write,
    plan: &Plan,
    h: &HostPlan,
    nodes: impl Iterator<Item = &'a &'a NodePlan>,
) -> io::Result<()> {
    writeln!(
        w,
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
    )?;
    let mut head = format!("  {:<16} {:<34} {:>6}", "node", "roles", "offset");
    for c in &plan.columns {
        if c.per_node {
            let _ = write!(head, "  {}", c.title);
        } else {
            let _ = write!(head, " {:>6}", c.title);
        }
    }
    writeln!(w, "{}", head.trim_end())?;
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
        writeln!(w, "{}", row.trim_end())?;
    }
    Ok(())
}

/// Links, changes against the lock, warnings, and how many `allow` silenced.
fn tail(w: &mut dyn Write, plan: &Plan) -> io::Result<()> {
    let groups = grouped_links(plan);
    if !groups.is_empty() {
        writeln!(w, "\nlinks:")?;
        for (from, to, kind, refs) in groups {
            writeln!(w, "  {from} -> {to} [{kind}] {}", refs.join(", "))?;
        }
    }
    if !plan.clusters.is_empty() {
        writeln!(w, "\nclusters:")?;
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
            writeln!(w, "  {}{front}: {}", c.name, members.join(", "))?;
        }
    }
    if let Some(changes) = &plan.changes {
        writeln!(w, "\nchanges against the lock:")?;
        if changes.is_empty() {
            writeln!(w, "  (none)")?;
        }
        for c in changes {
            writeln!(w, "  {}", c.line())?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(w, "\nwarnings:")?;
        for warning in &plan.warnings {
            writeln!(w, "  - {warning}")?;
        }
    }
    if plan.silenced > 0 {
        writeln!(
            w,
            "\n({} warning(s) silenced by `allow` in the topology)",
            plan.silenced
        )?;
    }
    Ok(())
}
