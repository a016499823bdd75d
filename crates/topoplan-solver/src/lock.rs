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
    let change = |op: &str,
                  kind: &str,
                  subject: String,
                  old: Option<String>,
                  new: Option<String>,
                  why: Option<String>| PlanChange {
        op: op.to_string(),
        kind: kind.to_string(),
        subject,
        old,
        new,
        why,
    };
    for n in &plan.nodes {
        match lock.nodes.get(n.name.as_str()) {
            None => out.push(change(
                "+",
                "node",
                n.name.to_string(),
                None,
                Some(format!("offset {} on host {}", n.offset, n.host)),
                None,
            )),
            Some(l) => {
                if l.host != n.host {
                    out.push(change(
                        "~",
                        "host",
                        n.name.to_string(),
                        Some(l.host.clone()),
                        Some(n.host.to_string()),
                        None,
                    ));
                }
                if l.offset != n.offset {
                    out.push(change(
                        "~",
                        "offset",
                        n.name.to_string(),
                        Some(l.offset.to_string()),
                        Some(n.offset.to_string()),
                        moved.get(n.name.as_str()).cloned(),
                    ));
                }
                let now = per_node_ports(n);
                let names: BTreeSet<&String> = now.keys().chain(l.ports.keys()).collect();
                for port in names {
                    let (was, is) = (l.ports.get(port), now.get(port));
                    if was != is {
                        out.push(change(
                            "~",
                            "port",
                            format!("{} {port}", n.name),
                            was.map(|p| p.to_string()),
                            is.map(|p| p.to_string()),
                            moved.get(&format!("{}#{port}", n.name)).cloned(),
                        ));
                    }
                }
            }
        }
    }
    for name in lock.nodes.keys() {
        if plan.node(name).is_none() {
            out.push(change(
                "-",
                "node",
                name.clone(),
                Some(format!("offset {}", lock.nodes[name].offset)),
                None,
                None,
            ));
        }
    }
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
    out
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
