//! `topoplan explain`: one node's plan and the reasons behind it, in a few lines.

use crate::cell;
use std::fmt::Write;
use topoplan_diagram::Diagram;
use topoplan_solver::Plan;

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
            let mut whys: Vec<String> = plan
                .uses(&n.name)
                .filter(|l| l.to == peer)
                .map(|l| l.why.to_string())
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
