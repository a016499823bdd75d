//! Review warnings: what plans but will not work as the operator may expect, each with a code.

use crate::plan::*;
use std::collections::BTreeMap;
use topoplan_model::Code;
use topoplan_model::{Profile, Topology};

/// How close (in port numbers) a reserved port may sit to a used one before the review says
/// so: within this distance, moving one node by an offset or two collides with the other
/// software on the host.
pub const RESERVED_NEAR: u32 = 2;

/// Checks an architecture review asks for, beyond correctness: exposure and fragility.
pub(crate) fn review_warnings(
    topo: &Topology,
    profile: &Profile,
    nodes: &[NodePlan],
    hosts: &[HostPlan],
    links: &[LinkPlan],
    lists: &[ListPlan],
    warnings: &mut Vec<Warning>,
) {
    let spans: std::collections::HashMap<&str, &topoplan_model::Span> = topo
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), &n.name_span))
        .collect();
    // Each warning at the node it names first, in the topology.
    let mut push = |w: Warning, node: &str| {
        warnings.push(match spans.get(node) {
            Some(s) => w.at((*s).clone()),
            None => w,
        })
    };
    cross_host_links(profile, nodes, links, lists, &mut push);
    for n in nodes {
        for p in n.ports.iter().filter(|p| p.effective < 1024) {
            let w = Warning::new(Code::PrivilegedPort,
                format!(
                    "`{}` listens on {} port {} (below 1024): the process needs root or CAP_NET_BIND_SERVICE",
                    n.name, p.name, p.effective
                ),
            )
            .node(n.name.clone());
            push(w, &n.name);
        }
    }
    reserved_near(nodes, hosts, &mut push);
}

/// `cross-host-link`: a link the profile says needs a port opened between two hosts.
fn cross_host_links(
    profile: &Profile,
    nodes: &[NodePlan],
    links: &[LinkPlan],
    lists: &[ListPlan],
    push: &mut dyn FnMut(Warning, &str),
) {
    let by_name: BTreeMap<&str, &NodePlan> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let crossing = |reference: &str| {
        profile
            .reference
            .iter()
            .any(|r| r.name == reference && r.cross_host.is_some())
    };
    // Lists are expanded only for a reference that has something to say.
    let listed = lists
        .iter()
        .filter(|l| crossing(&l.reference))
        .flat_map(|l| l.readers.iter().flat_map(move |r| l.links(r)))
        .map(std::borrow::Cow::Owned);
    for l in links.iter().map(std::borrow::Cow::Borrowed).chain(listed) {
        let Some(text) = profile
            .reference
            .iter()
            .find(|r| r.name == l.reference)
            .and_then(|r| r.cross_host.as_ref())
        else {
            continue;
        };
        let (Some(from), Some(to)) = (by_name.get(l.from.as_str()), by_name.get(l.to.as_str()))
        else {
            continue;
        };
        if from.host != to.host {
            let w = Warning::new(Code::CrossHostLink,
                format!(
                    "`{}` {text} at `{}` on another host: open TCP {}:{} on `{}` to traffic from `{}` ({})",
                    from.name, to.name, to.address, l.port, to.host, from.host, from.address
                ),
            )
            .node(from.name.clone())
            .node(to.name.clone());
            push(w, &from.name);
        }
    }
}

/// `reserved-near`: per node, the reserved ports of its host it listens next to; one warning
/// per node keeps a host that reserves the product's default ports readable.
fn reserved_near(nodes: &[NodePlan], hosts: &[HostPlan], push: &mut dyn FnMut(Warning, &str)) {
    let mut on_host: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in nodes {
        on_host.entry(n.host.as_str()).or_default().push(n);
    }
    for h in hosts {
        let mut near: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for &r in &h.reserved_ports {
            let nearest = on_host
                .get(h.name.as_str())
                .into_iter()
                .flatten()
                .flat_map(|n| n.ports.iter().map(move |p| (*n, p)))
                .filter(|(_, p)| p.effective != r && p.effective.abs_diff(r) <= RESERVED_NEAR)
                .min_by_key(|(n, p)| (p.effective.abs_diff(r), p.effective, n.name.as_str()));
            if let Some((n, p)) = nearest {
                near.entry(n.name.as_str())
                    .or_default()
                    .push(format!("{r} (its {} is {})", p.name, p.effective));
            }
        }
        for (n, pairs) in near {
            let w = Warning::new(Code::ReservedNear,
                format!(
                    "`{n}` listens within {RESERVED_NEAR} of reserved port(s) on `{}`: {}; a small offset change would collide with the other software",
                    h.name,
                    pairs.join(", ")
                ),
            )
            .node(n)
            .host(h.name.clone());
            push(w, n);
        }
    }
}
