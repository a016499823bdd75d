//! topoplan-report: printers for a [`Plan`].
//!
//! One plan, several printers side by side (as ripgrep's printer crate does): the terminal
//! table of `topoplan plan`, the JSON document, and the Markdown review. Printers only read the
//! plan; anything they show that the plan does not hold is a bug in the solver, not here.

mod html;

pub use html::{html, Picture, ReviewError, DRAW_UP_TO, SUMMARY_UP_TO, TEMPLATE as HTML_TEMPLATE};

use std::fmt::Write;
use topoplan_diagram::Diagram;
use topoplan_solver::{nodes_by_host, Plan, Text};

/// The JSON document, written as it is produced.
pub fn write_json(plan: &Plan, w: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, plan)?;
    w.write_all(b"\n")
}

pub fn json(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).expect("plan types serialise");
    s.push('\n');
    s
}

/// The cells of a node's port columns (the profile's `column`s), for every node table
/// (terminal, Markdown, HTML), computed in one place.
fn cells(plan: &Plan, n: &topoplan_solver::NodePlan) -> Vec<String> {
    plan.columns.iter().map(|c| cell(plan, n, c)).collect()
}

/// A plain column shows the port or `-`. A `per-node` column shows the node's own value (or
/// `off` when it does not open the port), then where its link over that port points.
fn cell(plan: &Plan, n: &topoplan_solver::NodePlan, c: &topoplan_solver::Column) -> String {
    let own = n.port(&c.port);
    if !c.per_node {
        return own.map_or_else(|| "-".into(), |p| p.to_string());
    }
    let server = own.map_or_else(|| "off".to_string(), |p| format!("server {p}"));
    let client = plan
        .links_from(&n.name)
        .iter()
        .filter(|l| l.port_name == c.port)
        .find_map(|l| {
            let to = plan.node(&l.to)?;
            Some(format!(
                "client -> {}:{}",
                topoplan_model::url_host(&to.address),
                l.port
            ))
        });
    match client {
        Some(c) => format!("{server}; {c}"),
        None => server,
    }
}

/// Links grouped by (from, to, kind) with their ports, for compact listings.
fn grouped_links(plan: &Plan) -> Vec<(String, String, String, Vec<String>)> {
    // In the order each group first appears, found through a map (thousands of links).
    let mut at: std::collections::HashMap<(&str, &str, &str), usize> = Default::default();
    let mut out: Vec<(String, String, String, Vec<String>)> = Vec::new();
    for l in plan.links.iter().filter(|l| l.from != l.to) {
        let label = format!("{}:{}", l.reference, l.port);
        match at.get(&(l.from.as_str(), l.to.as_str(), l.kind.as_str())) {
            Some(&i) => out[i].3.push(label),
            None => {
                at.insert((&l.from, &l.to, &l.kind), out.len());
                out.push((
                    l.from.to_string(),
                    l.to.to_string(),
                    l.kind.to_string(),
                    vec![label],
                ));
            }
        }
    }
    out
}

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
        for n in by_host.get(h.name.as_str()).into_iter().flatten() {
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
    if plan.nodes.iter().any(|n| n.pinned) {
        let _ = writeln!(s, "\n(* pinned offset)");
    }
    let groups = grouped_links(plan);
    if !groups.is_empty() {
        let _ = writeln!(s, "\nlinks:");
        for (from, to, kind, refs) in groups {
            let _ = writeln!(s, "  {from} -> {to} [{kind}] {}", refs.join(", "));
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
    s
}

/// The Markdown review: port maps, links, firewall openings, reasons, warnings.
pub fn markdown(plan: &Plan) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Deployment review: `{}`\n", plan.deployment);
    let _ = writeln!(s, "Product `{}`, key validation `{}`. Generated by topoplan from the topology; every number below is in the plan.\n", plan.product, plan.mode);
    if let Some(changes) = &plan.changes {
        let _ = writeln!(s, "## Changes against the lock\n");
        if changes.is_empty() {
            let _ = writeln!(
                s,
                "None: the plan keeps every locked offset, port and link."
            );
        }
        for c in changes {
            let _ = writeln!(s, "- `{}`", c.line());
        }
        let _ = writeln!(s);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(s, "## Warnings\n");
        for w in &plan.warnings {
            let _ = writeln!(s, "- `{}`: {}", w.code, w.message);
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "## Topology\n\n```mermaid\n{}```\n",
        Diagram::from_plan(plan).mermaid()
    );
    let titles: String = plan
        .columns
        .iter()
        .map(|c| format!(" {} |", c.title))
        .collect();
    let rule = "---|".repeat(plan.columns.len());
    let _ = writeln!(
        s,
        "## Nodes\n\n| node | host | roles | offset |{titles}\n|---|---|---|---|{rule}"
    );
    for n in &plan.nodes {
        let row: String = cells(plan, n).iter().map(|c| format!(" {c} |")).collect();
        let _ = writeln!(
            s,
            "| `{}` | {} ({}) | {} | {}{} |{row}",
            n.name,
            n.host,
            n.address,
            n.roles.join(", "),
            n.offset,
            if n.pinned { " (pinned)" } else { "" },
        );
    }
    s.push('\n');
    let by_host = nodes_by_host(plan);
    let _ = writeln!(s, "## Hosts and port maps\n");
    for h in &plan.hosts {
        let _ = writeln!(s, "### Host `{}` ({})\n", h.name, h.address);
        if !h.reserved_ports.is_empty() {
            let _ = writeln!(s, "Reserved by other software: {:?}.\n", h.reserved_ports);
        }
        let _ = writeln!(s, "| node | roles | offset | port | name | base | follows offset |\n|---|---|---|---|---|---|---|");
        for n in by_host.get(h.name.as_str()).into_iter().flatten() {
            for (k, p) in n.ports.iter().enumerate() {
                let (name, roles, off) = if k == 0 {
                    (
                        format!("`{}`", n.name),
                        n.roles.join(", "),
                        n.offset.to_string(),
                    )
                } else {
                    (String::new(), String::new(), String::new())
                };
                let _ = writeln!(
                    s,
                    "| {name} | {roles} | {off} | {} | {} | {} | {} |",
                    p.effective,
                    p.name,
                    p.base,
                    if p.follows_offset { "yes" } else { "no" }
                );
            }
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Why each offset\n");
    for n in &plan.nodes {
        let _ = writeln!(s, "- `{}`: {} — {}", n.name, n.offset, n.offset_reason);
    }
    let _ = writeln!(
        s,
        "\n## Links\n\n| from | to | kind | reference | port | file |\n|---|---|---|---|---|---|"
    );
    for l in &plan.links {
        let _ = writeln!(
            s,
            "| `{}` | `{}` | {} | {} | {} | `{}` |",
            l.from, l.to, l.kind, l.reference, l.port, l.file
        );
    }
    let _ = writeln!(s, "\n## Firewall openings\n\n| source host | destination | protocol | needed by |\n|---|---|---|---|");
    for row in firewall(plan) {
        let _ = writeln!(
            s,
            "| `{}` | `{}` ({}):{} | {} | {}{} |",
            row.from_host,
            row.to_host,
            row.to_address,
            row.port,
            row.protocol,
            row.why.join(", "),
            if row.same_host { " (same host)" } else { "" }
        );
    }
    let _ = writeln!(
        s,
        "\n## Manual steps\n\nSites topoplan does not rewrite, with the nodes whose copy matters and the value to set.\n"
    );
    for m in &plan.manual {
        let _ = writeln!(s, "{}", m.markdown(None));
    }
    s
}

/// `topoplan explain`: one node's plan and the reasons behind it, in a few lines.
/// `None` when the plan has no such node.
pub fn explain(plan: &Plan, node: &str) -> Option<String> {
    let n = plan.node(node)?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}) on host {} ({})",
        n.name,
        n.roles.join(", "),
        n.host,
        n.address
    );
    let _ = writeln!(
        s,
        "  offset {}{}: {}",
        n.offset,
        if n.pinned { " (pinned)" } else { "" },
        n.offset_reason
    );
    let (moved, fixed): (Vec<_>, Vec<_>) = n.ports.iter().partition(|p| p.follows_offset);
    let list = |ps: &[&topoplan_solver::PortPlan]| {
        ps.iter()
            .map(|p| format!("{} {}", p.name, p.effective))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "  listens (base + {}): {}", n.offset, list(&moved));
    if !fixed.is_empty() {
        let _ = writeln!(s, "  listens (no offset): {}", list(&fixed));
    }
    for c in plan.columns.iter().filter(|c| c.per_node) {
        let _ = writeln!(s, "  {}: {}", c.title, cell(plan, n, c));
    }
    // One line per peer, edges grouped by kind as in the diagram.
    let edges = Diagram::from_plan(plan).edges;
    let mut peers: Vec<(&str, &str)> = Vec::new(); // (arrow, peer)
    for e in &edges {
        if e.from == n.name && !peers.contains(&("->", e.to.as_str())) {
            peers.push(("->", e.to.as_str()));
        }
    }
    for e in &edges {
        if e.to == n.name && !peers.contains(&("<-", e.from.as_str())) {
            peers.push(("<-", e.from.as_str()));
        }
    }
    for (arrow, peer) in peers {
        let kinds: Vec<String> = edges
            .iter()
            .filter(|e| {
                (arrow == "->" && e.from == n.name && e.to == peer)
                    || (arrow == "<-" && e.to == n.name && e.from == peer)
            })
            .map(|e| e.label())
            .collect();
        let mut line = format!("  {arrow} {peer}: {}", kinds.join(", "));
        if arrow == "->" {
            let mut whys: Vec<&str> = plan
                .uses(&n.name)
                .filter(|l| l.to == peer)
                .map(|l| l.why.as_str())
                .collect();
            whys.sort_unstable();
            whys.dedup();
            let _ = write!(line, " ({})", whys.join("; "));
        }
        let _ = writeln!(s, "{line}");
    }
    for w in plan.warnings.iter().filter(|w| w.names(&n.name)) {
        let _ = writeln!(s, "  warning: {w}");
    }
    Some(s)
}

/// One firewall opening: traffic from a host to a port on another (or the same) host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirewallRow {
    pub from_host: String,
    pub from_address: String,
    pub to_host: String,
    pub to_address: String,
    pub port: u32,
    pub protocol: String,
    pub same_host: bool,
    pub why: Vec<String>,
}

/// Openings needed by the links, merged per (source host, destination host, port).
pub fn firewall(plan: &Plan) -> Vec<FirewallRow> {
    let mut rows: Vec<FirewallRow> = Vec::new();
    // Rows by (source host, destination host, port), and each row's reasons, in maps: an
    // estate has thousands of links.
    let mut at: std::collections::HashMap<(Text, Text, u32), usize> = Default::default();
    let mut seen: std::collections::HashSet<(usize, String)> = Default::default();
    for l in plan.links.iter().filter(|l| l.from != l.to) {
        let (Some(from), Some(to)) = (plan.node(&l.from), plan.node(&l.to)) else {
            continue;
        };
        let protocol = to
            .ports
            .iter()
            .find(|p| p.effective == l.port)
            .map_or("tcp".into(), |p| p.protocol.to_string());
        let why = format!("{} {}→{}", l.kind, l.from, l.to);
        let key = (from.host.clone(), to.host.clone(), l.port);
        match at.get(&key) {
            Some(&i) => {
                if seen.insert((i, why.clone())) {
                    rows[i].why.push(why);
                }
            }
            None => {
                at.insert(key, rows.len());
                seen.insert((rows.len(), why.clone()));
                rows.push(FirewallRow {
                    from_host: from.host.to_string(),
                    from_address: from.address.to_string(),
                    to_host: to.host.to_string(),
                    to_address: to.address.to_string(),
                    port: l.port,
                    protocol,
                    same_host: from.host == to.host,
                    why: vec![why],
                });
            }
        }
    }
    rows.sort_by(|a, b| {
        (&a.from_host, &a.to_host, a.port).cmp(&(&b.from_host, &b.to_host, b.port))
    });
    rows
}
