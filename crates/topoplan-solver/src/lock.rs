//! The lock: the offsets and per-node ports a plan keeps from the last one, and what changed against it.

use crate::plan::*;
use std::collections::{BTreeMap, BTreeSet};
use topoplan_model::{Lock, LockedNode, Topology};

/// Per node: the offset the lock holds for it, when it is on the same host and not pinned
/// (a pin in the topology wins over the lock).
pub(crate) fn locked_offsets(topo: &Topology, lock: Option<&Lock>) -> Vec<Option<u32>> {
    topo.nodes
        .iter()
        .map(|n| {
            let l = lock?.nodes.get(&n.name)?;
            (n.pin.is_none() && l.host == topo.hosts[n.host].name).then_some(l.offset)
        })
        .collect()
}

/// The preview: every difference between the lock and the new plan, terraform style.
pub(crate) fn changes(
    lock: &Lock,
    plan: &Plan,
    moved: &BTreeMap<String, String>,
) -> Vec<PlanChange> {
    let mut out = Vec::new();
    node_changes(lock, plan, moved, &mut out);
    link_changes(lock, plan, &mut out);
    out
}

fn change(
    op: &str,
    kind: &str,
    subject: String,
    old: Option<String>,
    new: Option<String>,
    why: Option<String>,
) -> PlanChange {
    PlanChange {
        op: op.to_string(),
        kind: kind.to_string(),
        subject,
        old,
        new,
        why,
    }
}

/// Nodes added and removed, and the host, offset and per-node ports of the others.
fn node_changes(
    lock: &Lock,
    plan: &Plan,
    moved: &BTreeMap<String, String>,
    out: &mut Vec<PlanChange>,
) {
    for n in &plan.nodes {
        let Some(l) = lock.nodes.get(n.name.as_str()) else {
            let now = format!("offset {} on host {}", n.offset, n.host);
            out.push(change(
                "+",
                "node",
                n.name.to_string(),
                None,
                Some(now),
                None,
            ));
            continue;
        };
        if l.host != n.host {
            let (was, is) = (Some(l.host.clone()), Some(n.host.to_string()));
            out.push(change("~", "host", n.name.to_string(), was, is, None));
        }
        if l.offset != n.offset {
            let (was, is) = (Some(l.offset.to_string()), Some(n.offset.to_string()));
            let why = moved.get(n.name.as_str()).cloned();
            out.push(change("~", "offset", n.name.to_string(), was, is, why));
        }
        let now = per_node_ports(n);
        let names: BTreeSet<&String> = now.keys().chain(l.ports.keys()).collect();
        for port in names {
            let (was, is) = (l.ports.get(port), now.get(port));
            if was != is {
                let subject = format!("{} {port}", n.name);
                let why = moved.get(&format!("{}#{port}", n.name)).cloned();
                let (was, is) = (was.map(|p| p.to_string()), is.map(|p| p.to_string()));
                out.push(change("~", "port", subject, was, is, why));
            }
        }
    }
    for (name, l) in &lock.nodes {
        if plan.node(name).is_none() {
            let was = Some(format!("offset {}", l.offset));
            out.push(change("-", "node", name.clone(), was, None, None));
        }
    }
}

/// Shared lists of at most this many entries show a new reader's entries one by one in the
/// preview, as links; longer ones in one line.
const LIST_SHOWN: usize = 8;

/// The link side of the preview: what the lock held, what has been compared, and the changes
/// so far with the (reader, reference) they sort by.
struct LinkDiff<'a> {
    old: BTreeMap<String, &'a topoplan_model::LockedLink>,
    seen: BTreeSet<String>,
    found: Vec<((String, String), PlanChange)>,
}

fn pair_key(from: &str, reference: &str, to: &str) -> String {
    format!("{from} -> {to} ({reference})")
}

impl LinkDiff<'_> {
    fn push(&mut self, reader: &str, reference: &str, c: PlanChange) {
        self.found
            .push(((reader.to_string(), reference.to_string()), c));
    }

    /// One link against the lock's link of the same reader, reference and provider.
    fn pair(&mut self, l: &LinkPlan) {
        let k = pair_key(&l.from, &l.reference, &l.to);
        let c = value_change(&k, self.old.get(&k).map(|o| o.value()), l.value());
        if let Some(c) = c {
            self.push(&l.from, &l.reference, c);
        }
        self.seen.insert(k);
    }
}

/// Links added, removed, or pointing elsewhere, by reader and reference; a shared list's
/// changes once for the readers that share them.
fn link_changes(lock: &Lock, plan: &Plan, out: &mut Vec<PlanChange>) {
    let mut diff = LinkDiff {
        old: lock
            .links
            .iter()
            .map(|l| (pair_key(&l.from, &l.reference, &l.to), l))
            .collect(),
        seen: BTreeSet::new(),
        found: Vec::new(),
    };
    for l in &plan.links {
        diff.pair(l);
    }
    let kept = list_changes(lock, plan, &mut diff);
    diff.found.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(diff.found.into_iter().map(|(_, c)| c));
    for (k, o) in &diff.old {
        if !diff.seen.contains(k) {
            out.push(change("-", "link", k.clone(), Some(o.value()), None, None));
        }
    }
    for l in &lock.lists {
        let gone: Vec<&str> = (l.readers.iter().map(String::as_str))
            .filter(|r| !kept.contains(&(r.to_string(), l.reference.clone())))
            .collect();
        if !gone.is_empty() {
            let subject = format!("{} ({})", who_names(&gone), l.reference);
            let was = Some(format!("{} entries", l.entries.len()));
            out.push(change("-", "list", subject, was, None, None));
        }
    }
}

/// The shared lists against the lock's: readers that had the same list get its entries' changes
/// once; readers that held the entries as links (a format 2 lock) are compared pair by pair;
/// new readers are one line (or their links, for a short list). Returns the (reader,
/// reference) pairs that were in a locked list and still are.
fn list_changes(lock: &Lock, plan: &Plan, diff: &mut LinkDiff) -> BTreeSet<(String, String)> {
    let mut old_list: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, l) in lock.lists.iter().enumerate() {
        for r in &l.readers {
            old_list.insert((r.as_str(), l.reference.as_str()), i);
        }
    }
    let had_pairs: BTreeSet<(&str, &str)> = (lock.links.iter())
        .map(|l| (l.from.as_str(), l.reference.as_str()))
        .collect();
    let mut kept = BTreeSet::new();
    for list in &plan.lists {
        let reference = list.reference.as_str();
        let mut groups: BTreeMap<Option<usize>, Vec<&ListReader>> = BTreeMap::new();
        for r in &list.readers {
            let was = old_list.get(&(r.node.as_str(), reference)).copied();
            groups.entry(was).or_default().push(r);
        }
        for (was, readers) in groups {
            if let Some(o) = was {
                kept.extend(
                    readers
                        .iter()
                        .map(|r| (r.node.to_string(), reference.to_string())),
                );
                for c in list_entry_changes(&lock.lists[o], list, &readers) {
                    diff.push(&readers[0].node, reference, c);
                }
                continue;
            }
            let (pairs, fresh): (Vec<&ListReader>, Vec<&ListReader>) =
                readers.into_iter().partition(|r| {
                    had_pairs.contains(&(r.node.as_str(), reference))
                        || list.entries.len() <= LIST_SHOWN
                });
            for r in pairs {
                for l in list.links(r) {
                    diff.pair(&l);
                }
            }
            if let Some(r) = fresh.first() {
                let subject = format!("{} ({reference})", who(&fresh));
                let new = Some(format!("{} entries", list.entries.len()));
                diff.push(
                    &r.node,
                    reference,
                    change("+", "list", subject, None, new, None),
                );
            }
        }
    }
    kept
}

/// Entries added, removed or changed in a list `readers` had in the lock as `old`.
fn list_entry_changes(
    old: &topoplan_model::LockedList,
    list: &ListPlan,
    readers: &[&ListReader],
) -> Vec<PlanChange> {
    let who = who(readers);
    let was: BTreeMap<&str, &topoplan_model::LockedEntry> =
        old.entries.iter().map(|e| (e.to.as_str(), e)).collect();
    let subject = |to: &str| format!("{who} -> {to} ({})", list.reference);
    let mut out = Vec::new();
    let mut now = BTreeSet::new();
    for e in &list.entries {
        now.insert(e.to.as_str());
        let value = e
            .url
            .as_ref()
            .map_or_else(|| e.port.to_string(), SharedStr::to_string);
        let old = was.get(e.to.as_str()).map(|o| o.value());
        out.extend(value_change(&subject(&e.to), old, value));
    }
    for e in old.entries.iter().filter(|e| !now.contains(e.to.as_str())) {
        out.push(change(
            "-",
            "link",
            subject(&e.to),
            Some(e.value()),
            None,
            None,
        ));
    }
    out
}

/// A link's value against the lock's: `+` new, `~` changed, nothing when equal.
fn value_change(subject: &str, was: Option<String>, value: String) -> Option<PlanChange> {
    let subject = subject.to_string();
    match was {
        None => Some(change("+", "link", subject, None, Some(value), None)),
        Some(o) if o != value => Some(change("~", "link", subject, Some(o), Some(value), None)),
        Some(_) => None,
    }
}

/// Readers named in one change: the only one, or the first and how many more.
fn who(readers: &[&ListReader]) -> String {
    let names: Vec<&str> = readers.iter().map(|r| r.node.as_str()).collect();
    who_names(&names)
}

fn who_names(names: &[&str]) -> String {
    match names {
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} and {} other readers", rest.len()),
        [] => String::new(),
    }
}

/// A node's per-node ports by name.
pub(crate) fn per_node_ports(n: &NodePlan) -> BTreeMap<String, u32> {
    n.ports
        .iter()
        .filter(|p| p.per_node)
        .map(|p| (p.name.to_string(), p.effective))
        .collect()
}

/// The lock that records `plan`.
pub fn lock_of(plan: &Plan) -> Lock {
    Lock {
        version: topoplan_model::LOCK_VERSION,
        deployment: plan.deployment.clone(),
        product: plan.product.clone(),
        nodes: plan
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.to_string(),
                    LockedNode {
                        host: n.host.to_string(),
                        offset: n.offset,
                        ports: per_node_ports(n),
                    },
                )
            })
            .collect(),
        links: {
            let mut v: Vec<topoplan_model::LockedLink> = plan
                .links
                .iter()
                .map(|l| topoplan_model::LockedLink {
                    from: l.from.to_string(),
                    reference: l.reference.to_string(),
                    to: l.to.to_string(),
                    port: l.port,
                    url: l.url.as_ref().map(SharedStr::to_string),
                })
                .collect();
            v.sort();
            v
        },
        lists: plan
            .lists
            .iter()
            .map(|l| topoplan_model::LockedList {
                reference: l.reference.to_string(),
                readers: l.readers.iter().map(|r| r.node.to_string()).collect(),
                entries: l
                    .entries
                    .iter()
                    .map(|e| topoplan_model::LockedEntry {
                        to: e.to.to_string(),
                        port: e.port,
                        url: e.url.as_ref().map(SharedStr::to_string),
                    })
                    .collect(),
            })
            .collect(),
    }
}
