//! The firewall matrix: openings the links need, merged per source host, destination host
//! and port.

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
    for l in plan.links.iter().filter(|l| l.from != l.to) {
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
    rows.sort_by(|a, b| {
        (&a.from_host, &a.to_host, a.port).cmp(&(&b.from_host, &b.to_host, b.port))
    });
    rows
}
