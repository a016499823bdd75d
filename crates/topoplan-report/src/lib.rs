#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-report: printers for a [`Plan`].
//!
//! One plan, several printers side by side (as ripgrep's printer crate does), one module
//! each: `text` (the terminal table of `topoplan plan`), `json`, `markdown` (the review),
//! `html` (the review page, through a view-model), `explain` (one node), `firewall` (the
//! openings the links need) and `readme` (a node bundle's README). This file holds only what
//! several of them share. Printers only read the plan; anything they show that the plan does
//! not hold is a bug in the solver, not here.

pub mod aggregate;
mod explain;
mod firewall;
mod html;
mod json;
mod markdown;
mod readme;
mod text;

pub use explain::{explain, write_explain};
pub use firewall::{firewall, FirewallRow};
pub use json::{json, write_json};
pub use markdown::{manual_step, markdown, write_markdown};
pub use readme::{node_readme, write_node_readme};
pub use text::{text, write_text};

pub use html::{html, write_html, ReviewError, TEMPLATE as HTML_TEMPLATE};
pub use topoplan_diagram::{Picture, DRAW_UP_TO, SUMMARY_UP_TO};

use topoplan_solver::{Plan, SharedStr};

/// What a printer writes to an `io::Write`, as a `String` (printers write only UTF-8).
fn to_string(print: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> String {
    let mut bytes = Vec::new();
    print(&mut bytes).expect("writing to memory does not fail");
    String::from_utf8(bytes).expect("printers write UTF-8")
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
        .links_of(&n.name)
        .into_iter()
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

/// Links grouped by (from, to, kind) with their ports, for compact listings; a long shared
/// list one reader holds is one group, its `to` a summary.
fn grouped_links(plan: &Plan) -> Vec<(String, String, String, Vec<String>)> {
    let mut out: Vec<(String, String, String, Vec<String>)> = Vec::new();
    for n in &plan.nodes {
        // In the order each group first appears (a reader's groups are its own).
        let mut at: std::collections::HashMap<(SharedStr, SharedStr), usize> = Default::default();
        for h in aggregate::held(plan, &n.name) {
            let links = match h {
                aggregate::Held::List(l, r) => {
                    let to = aggregate::list_summary(
                        plan,
                        l.entries.len(),
                        l.ordered(r).map(|e| e.to.as_str()),
                    );
                    let ports = l.ports();
                    let label = format!("{}:{ports}", l.reference);
                    out.push((n.name.to_string(), to, l.kind.to_string(), vec![label]));
                    continue;
                }
                aggregate::Held::Links(links) => links,
            };
            for l in links.iter().filter(|l| l.from != l.to) {
                let label = format!("{}:{}", l.reference, l.port);
                match at.get(&(l.to.clone(), l.kind.clone())) {
                    Some(&i) => out[i].3.push(label),
                    None => {
                        at.insert((l.to.clone(), l.kind.clone()), out.len());
                        out.push((
                            l.from.to_string(),
                            l.to.to_string(),
                            l.kind.to_string(),
                            vec![label],
                        ));
                    }
                }
            }
        }
    }
    out
}
