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

/// Links added, removed, or pointing elsewhere.
fn link_changes(lock: &Lock, plan: &Plan, out: &mut Vec<PlanChange>) {
    let key = |from: &str, reference: &str, to: &str| format!("{from} -> {to} ({reference})");
    let old: BTreeMap<String, &topoplan_model::LockedLink> = lock
        .links
        .iter()
        .map(|l| (key(&l.from, &l.reference, &l.to), l))
        .collect();
    let mut seen = BTreeSet::new();
    for l in &plan.links {
        let k = key(&l.from, &l.reference, &l.to);
        let value = l.value();
        match old.get(&k) {
            None => out.push(change("+", "link", k.clone(), None, Some(value), None)),
            Some(o) => {
                let was = o.value();
                if was != value {
                    out.push(change("~", "link", k.clone(), Some(was), Some(value), None));
                }
            }
        }
        seen.insert(k);
    }
    for (k, o) in &old {
        if !seen.contains(k) {
            out.push(change("-", "link", k.clone(), Some(o.value()), None, None));
        }
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
                    url: l.url.as_ref().map(Text::to_string),
                })
                .collect();
            v.sort();
            v
        },
    }
}
