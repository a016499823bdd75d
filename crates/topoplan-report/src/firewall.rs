//! The firewall matrix: openings the links need, merged per source host, destination host
//! and port, and the openings from each load-balancer host to the members it forwards to.

use crate::aggregate::{HOSTS_UP_TO, WHY_UP_TO};
use std::collections::{BTreeMap, HashMap, HashSet};
use topoplan_solver::{LinkPlan, ListPlan, Plan, SharedStr};

/// One firewall opening: traffic from a host to a port on another (or the same) host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FirewallRow {
    /// The source host.
    pub from_host: String,
    /// Its address.
    pub from_address: String,
    /// The destination host, or a summary of many (`30 hosts: h0, h1, h10, …`).
    pub to_host: String,
    /// Its address (empty for a summary).
    pub to_address: String,
    /// The destination port.
    pub port: u32,
    /// What speaks on it (`https`, `tcp`, …).
    pub protocol: String,
    /// Traffic that stays on one host.
    pub same_host: bool,
    /// The links that need it (`kind from→to`), cut to a few with a count.
    pub why: Vec<String>,
}

/// Rows by (source host, destination host, port), and each row's reasons, in maps: an estate
/// has thousands of links.
#[derive(Default)]
struct Openings {
    rows: Vec<FirewallRow>,
    at: HashMap<(SharedStr, SharedStr, u32), usize>,
    seen: HashSet<(usize, String)>,
}

impl Openings {
    /// The opening link `l` needs.
    fn add(&mut self, plan: &Plan, l: &LinkPlan) {
        let (Some(from), Some(to)) = (plan.node(&l.from), plan.node(&l.to)) else {
            return;
        };
        let why = format!("{} {}→{}", l.kind, l.from, l.to);
        let key = (from.host.clone(), to.host.clone(), l.port);
        if let Some(&i) = self.at.get(&key) {
            if self.seen.insert((i, why.clone())) {
                self.rows[i].why.push(why);
            }
            return;
        }
        self.at.insert(key, self.rows.len());
        self.seen.insert((self.rows.len(), why.clone()));
        self.rows.push(FirewallRow {
            from_host: from.host.to_string(),
            from_address: from.address.to_string(),
            to_host: to.host.to_string(),
            to_address: to.address.to_string(),
            port: l.port,
            protocol: protocol(to, l.port),
            same_host: from.host == to.host,
            why: vec![why],
        });
    }
}

fn protocol(to: &topoplan_solver::NodePlan, port: u32) -> String {
    (to.ports.iter().find(|p| p.effective == port)).map_or("tcp".into(), |p| p.protocol.to_string())
}

/// A shared list whose entries are on more than [`HOSTS_UP_TO`] hosts: its openings are
/// counted per (reader host, port) rather than made one by one (an estate's publishers each
/// reach every gateway host: millions of pairs).
fn wide(l: &ListPlan, plan: &Plan) -> bool {
    let hosts: std::collections::BTreeSet<&str> = (l.entries.iter())
        .filter_map(|e| plan.node(&e.to).map(|n| n.host.as_str()))
        .collect();
    hosts.len() > HOSTS_UP_TO
}

/// Openings needed by the links, merged per (source host, destination host, port).
pub fn firewall(plan: &Plan) -> Vec<FirewallRow> {
    let mut open = Openings::default();
    let wide: HashSet<&str> = (plan.lists.iter())
        .filter(|l| wide(l, plan))
        .map(|l| l.reference.as_str())
        .collect();
    for n in &plan.nodes {
        let (links, _) = plan.held_by(&n.name, |l| wide.contains(l.reference.as_str()));
        for l in links.iter().filter(|l| l.from != l.to) {
            open.add(plan, l);
        }
    }
    let mut folded = Vec::new();
    for l in (plan.lists.iter()).filter(|l| wide.contains(l.reference.as_str())) {
        wide_rows(plan, l, &mut open, &mut folded);
    }
    let mut rows = open.rows;
    rows.extend(folded);
    load_balancer_rows(plan, &mut rows);
    rows.sort_by(|a, b| {
        (&a.from_host, &a.to_host, a.port).cmp(&(&b.from_host, &b.to_host, b.port))
    });
    rows
}

/// The openings of a wide shared list: per reader host and port, one row to the entries'
/// hosts (folded as the review folds many hosts, with a few reasons and a count).
fn wide_rows(plan: &Plan, l: &ListPlan, open: &mut Openings, rows: &mut Vec<FirewallRow>) {
    let mut readers: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for r in &l.readers {
        if let Some(n) = plan.node(&r.node) {
            readers
                .entry((&n.host, &n.address))
                .or_default()
                .push(&r.node);
        }
    }
    let mut by_port: BTreeMap<u32, Vec<&topoplan_solver::NodePlan>> = BTreeMap::new();
    for e in &l.entries {
        if let Some(n) = plan.node(&e.to) {
            by_port.entry(e.port).or_default().push(n);
        }
    }
    for ((host, address), names) in &readers {
        for (&port, to) in &by_port {
            let mut hosts: Vec<&str> = to.iter().map(|n| n.host.as_str()).collect();
            hosts.sort_unstable();
            hosts.dedup();
            if hosts.len() <= HOSTS_UP_TO {
                // Few hosts on this port: their openings one by one, as any link's.
                for r in names {
                    for e in l.entries.iter().filter(|e| e.port == port) {
                        open.add(plan, &l.link(&SharedStr::from(*r), e));
                    }
                }
                continue;
            }
            let pairs = names.len() * to.len();
            let mut why: Vec<String> = (names.iter())
                .flat_map(|r| to.iter().map(move |t| format!("{} {r}→{}", l.kind, t.name)))
                .take(WHY_UP_TO - 1)
                .collect();
            if pairs > why.len() {
                why.push(format!("and {} more", pairs - why.len()));
            }
            let first: Vec<&str> = hosts.iter().take(3).copied().collect();
            rows.push(FirewallRow {
                from_host: host.to_string(),
                from_address: address.to_string(),
                to_host: format!("{} hosts: {}, …", hosts.len(), first.join(", ")),
                to_address: String::new(),
                port,
                protocol: protocol(to[0], port),
                same_host: false,
                why,
            });
        }
    }
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
