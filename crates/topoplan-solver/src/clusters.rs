//! Clusters: each `[[cluster]]` with its members' cluster member ports, its manager and
//! workers, its front end and what the load balancer forwards to; and the warning for
//! browser-facing roles left outside one front end.

use crate::plan::*;
use crate::wiring::Wired;
use petgraph::visit::EdgeRef;
use topoplan_model::{Code, Profile, Topology};

/// Every `[[cluster]]` as planned, by name (looked up by [`Plan::cluster`]). `nodes` are in
/// the topology's order.
pub(crate) fn cluster_plans(
    topo: &Topology,
    profile: &Profile,
    nodes: &[NodePlan],
) -> Vec<ClusterPlan> {
    let member_port = profile
        .port
        .iter()
        .find(|p| p.clustered)
        .map(|p| p.name.as_str());
    let mut clusters = topo
        .clusters
        .iter()
        .map(|c| {
            let members = c
                .nodes
                .iter()
                .map(|&i| {
                    let (n, plan) = (&topo.nodes[i], &nodes[i]);
                    // A manager takes admin calls; the load balancer sends traffic to the workers
                    // (to the manager only when it is alone).
                    let takes_traffic =
                        c.frontend.is_some() && (c.manager != Some(i) || c.nodes.len() == 1);
                    MemberPlan {
                        node: n.name.clone(),
                        host: plan.host.to_string(),
                        address: plan.address.to_string(),
                        member_port: member_port.and_then(|p| plan.port(p)),
                        worker: c.is_worker(i),
                        backends: if takes_traffic {
                            backends(profile, plan)
                        } else {
                            Default::default()
                        },
                    }
                })
                .collect();
            ClusterPlan {
                name: c.name.clone(),
                domain: format!("{}.{}", topo.name, c.name),
                manager: c.manager.map(|m| topo.nodes[m].name.clone()),
                frontend: c.frontend.as_ref().map(|f| FrontEndPlan {
                    address: f.address.clone(),
                    lb_host: f.lb_host.map(|h| topo.hosts[h].name.clone()),
                    http_port: f.http_port,
                    https_port: f.https_port,
                }),
                members,
            }
        })
        .collect::<Vec<_>>();
    clusters.sort_by(|a, b| a.name.cmp(&b.name));
    clusters
}

/// The member's ports a load balancer forwards its `http` and `https` to: those of its first
/// role (in profile order) that names `front_ports`.
fn backends(profile: &Profile, node: &NodePlan) -> std::collections::BTreeMap<String, u32> {
    let Some(role) = node
        .roles
        .iter()
        .filter_map(|r| profile.role(r))
        .find(|d| !d.front_ports.is_empty())
    else {
        return Default::default();
    };
    role.front_ports
        .iter()
        .filter_map(|(front, port)| Some((front.clone(), node.port(port)?)))
        .collect()
}

/// `unfronted`: nodes of a role browsers reach at one registered address that share a peer
/// (a publisher listing them, an identity provider they use, a store using them) and are not all
/// members of one cluster with a front end. Nodes that share no peer (cells of an estate, each
/// with its own identity provider and publisher) do not compete.
pub(crate) fn unfronted_warnings(
    topo: &Topology,
    profile: &Profile,
    wired: &Wired,
    warnings: &mut Vec<Warning>,
) {
    for role in &profile.role {
        let Some(breaks) = &role.browser else {
            continue;
        };
        for group in competing(topo, wired, &role.name) {
            let fronted = |i: usize| {
                topo.nodes[i]
                    .cluster
                    .filter(|&c| topo.clusters[c].frontend.is_some())
            };
            let first = fronted(group[0]);
            if first.is_some() && group.iter().all(|&i| fronted(i) == first) {
                continue;
            }
            warnings.push(unfronted(topo, &role.name, breaks, &group));
        }
    }
}

/// The nodes of `role` that share a peer, grouped (union-find over the graph's edges), each
/// group of two or more in the topology's order.
fn competing(topo: &Topology, wired: &Wired, role: &str) -> Vec<Vec<usize>> {
    let n = topo.nodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let is_role: Vec<bool> = topo.nodes.iter().map(|x| x.has_role(role)).collect();
    // Per peer, the first node of the role seen next to it; later ones join its group.
    let mut first: Vec<Option<usize>> = vec![None; n];
    fn union(parent: &mut [usize], x: usize, y: usize) {
        let (rx, ry) = (root(parent, x), root(parent, y));
        parent[rx] = ry;
    }
    let mut meet = |parent: &mut Vec<usize>, peer: usize, x: usize| match first[peer] {
        None => first[peer] = Some(x),
        Some(y) => union(parent, x, y),
    };
    let g = &wired.graph;
    for e in g.edge_references() {
        let (a, b) = (g[e.source()], g[e.target()]);
        for (peer, x) in [(a, b), (b, a)] {
            if a != b && is_role[x] {
                meet(&mut parent, peer, x);
            }
        }
    }
    // A shared list meets every reader with every entry: its entries of the role join one
    // group through each reader, its readers of the role one group through each entry (linear
    // in the list, not in its pairs). Readers are never entries of their own list.
    for l in &wired.lists {
        let readers: Vec<usize> = l.readers.iter().map(|&(c, _)| c).collect();
        let entries: Vec<usize> = l.entries.iter().map(|&(p, _)| p).collect();
        for (peers, xs) in [(&readers, &entries), (&entries, &readers)] {
            let Some(&x0) = xs.iter().find(|&&x| is_role[x]) else {
                continue;
            };
            for &x in xs.iter().filter(|&&x| is_role[x]) {
                union(&mut parent, x, x0);
            }
            for &peer in peers {
                meet(&mut parent, peer, x0);
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for i in (0..n).filter(|&i| is_role[i]) {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    groups.into_values().filter(|g| g.len() > 1).collect()
}

fn unfronted(topo: &Topology, role: &str, breaks: &str, group: &[usize]) -> Warning {
    let names: Vec<String> = group
        .iter()
        .take(6)
        .map(|&i| format!("`{}`", topo.nodes[i].name))
        .collect();
    let more = if group.len() > 6 {
        format!(" and {} more", group.len() - 6)
    } else {
        String::new()
    };
    let mut w = Warning::new(
        Code::Unfronted,
        format!(
            "{} `{role}` nodes ({}{more}) serve the same peers but are not one cluster behind a front end: {breaks}; put them in one `[[cluster]]` with a `frontend`",
            group.len(),
            names.join(", ")
        ),
    )
    .at(topo.nodes[group[1]].name_span.clone());
    for &i in group {
        w = w.node(topo.nodes[i].name.clone());
    }
    w
}
