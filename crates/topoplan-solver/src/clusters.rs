//! Clusters: each `[[cluster]]` with its members' cluster member ports, its manager and
//! workers, its front end and what the load balancer forwards to; and the warning for
//! browser-facing roles left outside one front end.

use crate::plan::*;
use topoplan_model::{Code, Profile, Topology};

/// Every `[[cluster]]` as planned. `nodes` are in the topology's order.
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
    topo.clusters
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
        .collect()
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

/// `unfronted`: several nodes of a role browsers reach at one registered address, not all
/// members of one cluster with a front end.
pub(crate) fn unfronted_warnings(topo: &Topology, profile: &Profile, warnings: &mut Vec<Warning>) {
    for role in &profile.role {
        let Some(breaks) = &role.browser else {
            continue;
        };
        let with: Vec<usize> = (0..topo.nodes.len())
            .filter(|&i| topo.nodes[i].has_role(&role.name))
            .collect();
        if with.len() < 2 {
            continue;
        }
        let fronted = |i: usize| {
            topo.nodes[i]
                .cluster
                .filter(|&c| topo.clusters[c].frontend.is_some())
        };
        let first = fronted(with[0]);
        if first.is_some() && with.iter().all(|&i| fronted(i) == first) {
            continue;
        }
        let names: Vec<String> = with
            .iter()
            .take(6)
            .map(|&i| format!("`{}`", topo.nodes[i].name))
            .collect();
        let more = if with.len() > 6 {
            format!(" and {} more", with.len() - 6)
        } else {
            String::new()
        };
        let mut w = Warning::new(
            Code::Unfronted,
            format!(
                "{} `{}` nodes ({}{more}) are not one cluster behind a front end: {breaks}; put them in one `[[cluster]]` with a `frontend`",
                with.len(),
                role.name,
                names.join(", ")
            ),
        )
        .at(topo.nodes[with[1]].name_span.clone());
        for &i in &with {
            w = w.node(topo.nodes[i].name.clone());
        }
        warnings.push(w);
    }
}
