//! The firewall matrix: openings the links need, merged per source host, destination host
//! and port, and the openings from each load-balancer host to the members it forwards to.

use topoplan_solver::{Plan, Text};

/// One firewall opening: traffic from a host to a port on another (or the same) host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirewallRow {
    pub from_host: String,
    pub from_address: String,
    pub to_host: String,
    pub to_address: String,
    pub port: u32,
    pub protocol: String,
    pub same_host: bool,
    pub why: Vec<String>,
}

/// Openings needed by the links, merged per (source host, destination host, port).
pub fn firewall(plan: &Plan) -> Vec<FirewallRow> {
    let mut rows: Vec<FirewallRow> = Vec::new();
    // Rows by (source host, destination host, port), and each row's reasons, in maps: an
    // estate has thousands of links.
    let mut at: std::collections::HashMap<(Text, Text, u32), usize> = Default::default();
    let mut seen: std::collections::HashSet<(usize, String)> = Default::default();
    for l in plan.all_links().filter(|l| l.from != l.to) {
        let (Some(from), Some(to)) = (plan.node(&l.from), plan.node(&l.to)) else {
            continue;
        };
        let protocol = to
            .ports
            .iter()
            .find(|p| p.effective == l.port)
            .map_or("tcp".into(), |p| p.protocol.to_string());
        let why = format!("{} {}→{}", l.kind, l.from, l.to);
        let key = (from.host.clone(), to.host.clone(), l.port);
        match at.get(&key) {
            Some(&i) => {
                if seen.insert((i, why.clone())) {
                    rows[i].why.push(why);
                }
            }
            None => {
                at.insert(key, rows.len());
                seen.insert((rows.len(), why.clone()));
                rows.push(FirewallRow {
                    from_host: from.host.to_string(),
                    from_address: from.address.to_string(),
                    to_host: to.host.to_string(),
                    to_address: to.address.to_string(),
                    port: l.port,
                    protocol,
                    same_host: from.host == to.host,
                    why: vec![why],
                });
            }
        }
    }
    load_balancer_rows(plan, &mut rows);
    rows.sort_by(|a, b| {
        (&a.from_host, &a.to_host, a.port).cmp(&(&b.from_host, &b.to_host, b.port))
    });
    rows
}

/// From a load-balancer host (a topology host) to every member port it forwards to, and
/// between the hosts of a cluster's members, to each member's cluster member port.
fn load_balancer_rows(plan: &Plan, rows: &mut Vec<FirewallRow>) {
    for c in &plan.clusters {
        member_rows(c, rows);
        let Some(f) = &c.frontend else { continue };
        let Some(lb) = f.lb_host.as_deref() else {
            continue;
        };
        let Some(lb_host) = plan.hosts.iter().find(|h| h.name == lb) else {
            continue;
        };
        for m in &c.members {
            for (front, port) in &m.backends {
                rows.push(FirewallRow {
                    from_host: lb.to_string(),
                    from_address: lb_host.address.clone(),
                    to_host: m.host.clone(),
                    to_address: m.address.clone(),
                    port: *port,
                    protocol: front.clone(),
                    same_host: lb == m.host,
                    why: vec![format!("load balancer of cluster {} → {}", c.name, m.node)],
                });
            }
        }
    }
}

/// Hazelcast: every member host reaches every other member's member port.
fn member_rows(c: &topoplan_solver::ClusterPlan, rows: &mut Vec<FirewallRow>) {
    let mut hosts: Vec<(&str, &str)> = c
        .members
        .iter()
        .map(|m| (m.host.as_str(), m.address.as_str()))
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    for m in &c.members {
        let Some(port) = m.member_port else { continue };
        for &(h, address) in hosts.iter().filter(|(h, _)| *h != m.host) {
            rows.push(FirewallRow {
                from_host: h.to_string(),
                from_address: address.to_string(),
                to_host: m.host.clone(),
                to_address: m.address.clone(),
                port,
                protocol: "tcp".into(),
                same_host: false,
                why: vec![format!(
                    "cluster {} members (Hazelcast) → {}",
                    c.name, m.node
                )],
            });
        }
    }
}
