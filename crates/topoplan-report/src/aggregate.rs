//! Review tables that cost what they say, not what they list: a reader's list of one reference
//! longer than [`LIST_UP_TO`] (a publisher serving every gateway of an estate) is one row with
//! its size, ports and first names; a firewall opening from one host to more than
//! [`HOSTS_UP_TO`] hosts on one port is one row with the count. Per-node detail stays in
//! `topoplan explain` and in the plan (every entry, exactly).

use crate::firewall::FirewallRow;
use std::borrow::Cow;
use topoplan_solver::{port_set, LinkPlan, ListPlan, ListReader, Plan};

/// Longest list of one reference the review shows entry by entry.
pub const LIST_UP_TO: usize = 8;
/// Most destination hosts of one opening (source host, port) the review shows one by one.
pub const HOSTS_UP_TO: usize = 8;
/// Most reasons shown for one firewall row.
pub(crate) const WHY_UP_TO: usize = 6;

/// One row of the review's link table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LinkRow {
    /// The reader.
    pub from: String,
    /// The provider, or a list summary (`400 gateway nodes: gw1, gw2, gw3, …`).
    pub to: String,
    /// The link kind.
    pub kind: String,
    /// The profile reference.
    pub reference: String,
    /// The port, or the ports of a list (`8243-8260 (12 ports)`).
    pub port: String,
    /// The reader's product file that holds it.
    pub file: String,
    /// The value written, for a single link.
    pub url: Option<String>,
    /// How the provider (or the list) was chosen.
    pub why: String,
    /// How many links the row stands for.
    pub count: usize,
}

/// What one reader holds, as the tables show it: its links one by one, and a shared list
/// longer than [`LIST_UP_TO`] as one piece (never made into links: an estate's lists hold
/// millions). By reference, as the plan orders a reader's links.
pub(crate) enum Held<'a> {
    Links(Vec<Cow<'a, LinkPlan>>),
    List(&'a ListPlan, &'a ListReader),
}

/// A reader's links, runs of one reference together, with long shared lists kept whole.
pub(crate) fn held<'a>(plan: &'a Plan, node: &str) -> Vec<Held<'a>> {
    let (links, lists) = plan.held_by(node, |l| l.entries.len() > LIST_UP_TO);
    let mut out: Vec<(topoplan_solver::SharedStr, Held<'a>)> = Vec::new();
    let mut links = links.into_iter().peekable();
    while let Some(first) = links.next() {
        let r = first.reference.clone();
        let mut run = vec![first];
        while let Some(l) = links.next_if(|l| l.reference == r) {
            run.push(l);
        }
        out.push((r, Held::Links(run)));
    }
    out.extend(
        lists
            .into_iter()
            .map(|(l, r)| (l.reference.clone(), Held::List(l, r))),
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, h)| h).collect()
}

/// `400 gateway nodes: gw1, gw2, gw3, …`: a long list in one cell.
pub(crate) fn list_summary<'a>(
    plan: &Plan,
    len: usize,
    mut to: impl Iterator<Item = &'a str>,
) -> String {
    let first: Vec<&str> = to.by_ref().take(3).collect();
    let role = (first.first().and_then(|n| plan.node(n)))
        .and_then(|n| n.roles.first().cloned())
        .unwrap_or_default();
    format!(
        "{len} {role} nodes: {}, … (`topoplan explain` lists them)",
        first.join(", ")
    )
}

/// The link table: every link, with long lists of one reader folded into one row each.
pub fn link_rows(plan: &Plan) -> Vec<LinkRow> {
    let mut rows = Vec::new();
    for n in &plan.nodes {
        for h in held(plan, &n.name) {
            match h {
                Held::Links(links) => reader_rows(plan, &links, &mut rows),
                Held::List(l, r) => rows.push(shared_row(plan, l, r)),
            }
        }
    }
    rows
}

/// A long shared list one reader holds, as one row.
fn shared_row(plan: &Plan, l: &ListPlan, r: &ListReader) -> LinkRow {
    let e = l.ordered(r).next().expect("a shared list has entries");
    LinkRow {
        from: r.node.to_string(),
        to: list_summary(plan, l.entries.len(), l.ordered(r).map(|e| e.to.as_str())),
        kind: l.kind.to_string(),
        reference: l.reference.to_string(),
        port: l.ports(),
        file: l.file.to_string(),
        url: None,
        why: e.why.to_string(),
        count: l.entries.len(),
    }
}

/// The rows of one reader's links of one reference.
fn reader_rows(plan: &Plan, links: &[Cow<'_, LinkPlan>], rows: &mut Vec<LinkRow>) {
    let mut i = 0;
    while i < links.len() {
        let l = &links[i];
        // Links are sorted by reader, then reference; the entries of one list are adjacent.
        let mut j = i + 1;
        while j < links.len() && links[j].from == l.from && links[j].reference == l.reference {
            j += 1;
        }
        let group = &links[i..j];
        if l.each && group.len() > LIST_UP_TO {
            rows.push(list_row(plan, group));
        } else {
            rows.extend(group.iter().map(|l| LinkRow {
                from: l.from.to_string(),
                to: l.to.to_string(),
                kind: l.kind.to_string(),
                reference: l.reference.to_string(),
                port: l.port.to_string(),
                file: l.file.to_string(),
                url: l.url.as_ref().map(|u| u.to_string()),
                why: l.why.to_string(),
                count: 1,
            }));
        }
        i = j;
    }
}

fn list_row(plan: &Plan, group: &[Cow<'_, LinkPlan>]) -> LinkRow {
    let l = &group[0];
    LinkRow {
        from: l.from.to_string(),
        to: list_summary(plan, group.len(), group.iter().map(|x| x.to.as_str())),
        kind: l.kind.to_string(),
        reference: l.reference.to_string(),
        port: port_set(group.iter().map(|x| x.port)),
        file: l.file.to_string(),
        url: None,
        why: l.why.to_string(),
        count: group.len(),
    }
}

/// The firewall table: openings from one host on one port to many hosts folded into one row;
/// the reasons of a row cut to a few, with a count.
pub fn firewall_rows(plan: &Plan) -> Vec<FirewallRow> {
    let rows = crate::firewall(plan);
    let mut out: Vec<FirewallRow> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        // Rows are sorted by source host, destination host, port: gather one source's rows
        // by port.
        let mut j = i + 1;
        while j < rows.len() && rows[j].from_host == rows[i].from_host {
            j += 1;
        }
        let mut by_port: std::collections::BTreeMap<(u32, &str), Vec<&FirewallRow>> =
            Default::default();
        for r in &rows[i..j] {
            by_port
                .entry((r.port, r.protocol.as_str()))
                .or_default()
                .push(r);
        }
        let mut folded: Vec<FirewallRow> = Vec::new();
        for ((port, protocol), group) in by_port {
            if group.len() > HOSTS_UP_TO {
                let first: Vec<&str> = group.iter().take(3).map(|r| r.to_host.as_str()).collect();
                let links: usize = group.iter().map(|r| r.why.len()).sum();
                folded.push(FirewallRow {
                    from_host: group[0].from_host.clone(),
                    from_address: group[0].from_address.clone(),
                    to_host: format!("{} hosts: {}, …", group.len(), first.join(", ")),
                    to_address: String::new(),
                    port,
                    protocol: protocol.to_string(),
                    same_host: false,
                    why: cut(group[0].why.clone(), links),
                });
            } else {
                folded.extend(group.into_iter().map(|r| {
                    let mut r = r.clone();
                    let n = r.why.len();
                    r.why = cut(r.why, n);
                    r
                }));
            }
        }
        folded.sort_by(|a, b| (&a.to_host, a.port).cmp(&(&b.to_host, b.port)));
        out.extend(folded);
        i = j;
    }
    out
}

/// At most [`WHY_UP_TO`] reasons, then how many more.
fn cut(mut why: Vec<String>, total: usize) -> Vec<String> {
    if total > WHY_UP_TO || why.len() > WHY_UP_TO {
        why.truncate(WHY_UP_TO - 1);
        why.push(format!("and {} more", total - why.len()));
    }
    why
}
