//! `topoplan explain`: one node's plan and the reasons behind it, in a few lines.

use crate::cell;
use std::fmt::Write as _;
use std::io::{self, Write};
use topoplan_diagram::Diagram;
use topoplan_solver::{NodePlan, Plan};

/// `topoplan explain`: one node's plan and the reasons behind it, in a few lines.
/// `None` when the plan has no such node.
pub fn explain(plan: &Plan, node: &str) -> Option<String> {
    let n = plan.node(node)?;
    Some(crate::to_string(|w| write_explain(plan, n, w)))
}

/// [`explain`] of the plan's node `n`, written to `w`.
pub fn write_explain(plan: &Plan, n: &NodePlan, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "{} ({}) on host {} ({})",
        n.name,
        n.roles.join(", "),
        n.host,
        n.address
    )?;
    writeln!(
        w,
        "  offset {}{}: {}",
        n.offset,
        if n.pinned { " (pinned)" } else { "" },
        n.offset_reason
    )?;
    let (moved, fixed): (Vec<_>, Vec<_>) = n.ports.iter().partition(|p| p.follows_offset);
    let list = |ps: &[&topoplan_solver::PortPlan]| {
        ps.iter()
            .map(|p| format!("{} {}", p.name, p.effective))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(w, "  listens (base + {}): {}", n.offset, list(&moved))?;
    if !fixed.is_empty() {
        writeln!(w, "  listens (no offset): {}", list(&fixed))?;
    }
    for c in plan.columns.iter().filter(|c| c.per_node) {
        writeln!(w, "  {}: {}", c.title, cell(plan, n, c))?;
    }
    // One line per peer, edges grouped by kind as in the diagram.
    let edges = Diagram::edges_at(plan, &n.name);
    let mut peers: Vec<(&str, &str)> = Vec::new(); // (arrow, peer)
    let mut seen = std::collections::HashSet::new();
    for arrow in ["->", "<-"] {
        for e in &edges {
            let peer = match arrow {
                "->" if e.from == n.name => e.to.as_str(),
                "<-" if e.to == n.name => e.from.as_str(),
                _ => continue,
            };
            if seen.insert((arrow, peer)) {
                peers.push((arrow, peer));
            }
        }
    }
    // Labels and reasons per peer, gathered once (a node of an estate has thousands).
    let mut labels: std::collections::HashMap<(&str, &str), Vec<String>> = Default::default();
    for e in &edges {
        let key = if e.from == n.name {
            ("->", e.to.as_str())
        } else {
            ("<-", e.from.as_str())
        };
        labels.entry(key).or_default().push(e.label());
    }
    let mut whys: std::collections::HashMap<String, Vec<String>> = Default::default();
    for l in plan.uses(&n.name) {
        whys.entry(l.to.to_string())
            .or_default()
            .push(l.why.to_string());
    }
    for (arrow, peer) in peers {
        let kinds = labels.get(&(arrow, peer)).cloned().unwrap_or_default();
        let mut line = format!("  {arrow} {peer}: {}", kinds.join(", "));
        if arrow == "->" {
            let mut whys = whys.get(peer).cloned().unwrap_or_default();
            whys.sort_unstable();
            whys.dedup();
            let _ = write!(line, " ({})", whys.join("; "));
        }
        writeln!(w, "{line}")?;
    }
    for warning in plan.warnings.iter().filter(|x| x.names(&n.name)) {
        writeln!(w, "  warning: {warning}")?;
    }
    Ok(())
}
