//! Random topologies through the solver; every plan is checked by an independent validator
//! written here from the product facts (PORTS.md), not from the solver's code. Small cases are
//! also cross-checked against a brute-force search for the smallest span.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use topoplan_model::Profile;
use topoplan_solver::Plan;

fn profiles() -> BTreeMap<String, Profile> {
    let mut m = BTreeMap::new();
    for (name, src) in [
        (
            "appm-1.1.0",
            include_str!("../../../../templates/appm-1.1.0/profile.toml"),
        ),
        (
            "appm-1.2.0",
            include_str!("../../../../templates/appm-1.2.0/profile.toml"),
        ),
    ] {
        m.insert(name.to_string(), Profile::parse(src).unwrap());
    }
    m
}

/// Offset-following ports every node listens on, per PORTS.md (1.1.0 adds the Thrift PDP).
fn bases(product: &str) -> Vec<u32> {
    let mut b = vec![9763, 9443, 8280, 8243, 9999, 11111];
    if product == "appm-1.1.0" {
        b.push(10500);
    }
    b
}

#[derive(Debug, Clone)]
struct Gen {
    product: &'static str,
    hosts: Vec<Vec<u32>>, // reserved ports per host
    nodes: Vec<(usize, Vec<&'static str>, Option<u32>)>,
    links: Vec<(usize, usize)>,
}

const ROLES: [&str; 4] = ["gateway", "key-manager", "store", "publisher"];

fn gen() -> impl Strategy<Value = Gen> {
    (
        prop_oneof![Just("appm-1.1.0"), Just("appm-1.2.0")],
        prop::collection::vec(
            prop::collection::vec(
                prop_oneof![8243u32..8300, 9443u32..9480, 10390u32..10410, 1000u32..2000],
                0..4,
            ),
            1..4,
        ),
    )
        .prop_flat_map(|(product, hosts)| {
            let nh = hosts.len();
            let node = (
                0..nh,
                prop::sample::subsequence(ROLES.to_vec(), 1..=4),
                prop::option::weighted(0.15, 0u32..60),
            );
            (
                Just(product),
                Just(hosts),
                prop::collection::vec(node, 1..9),
                prop::collection::vec((0usize..9, 0usize..9), 0..4),
            )
        })
        .prop_map(|(product, hosts, nodes, links)| {
            let n = nodes.len();
            let links = links.into_iter().map(|(a, b)| (a % n, b % n)).collect();
            Gen {
                product,
                hosts,
                nodes,
                links,
            }
        })
}

/// `[deployment]` and the hosts `h0`, `h1`, … with their reserved ports; odd hosts are IPv6,
/// so every URL check also checks the brackets.
pub(crate) fn deployment_and_hosts(product: &str, hosts: &[Vec<u32>]) -> String {
    let mut s = format!("[deployment]\nname = \"p\"\nproduct = \"{product}\"\n");
    for (i, r) in hosts.iter().enumerate() {
        let address = if i % 2 == 1 {
            format!("fd00::{i}")
        } else {
            format!("10.0.0.{i}")
        };
        s += &format!(
            "[[host]]\nname = \"h{i}\"\naddress = \"{address}\"\nreserved_ports = {r:?}\n"
        );
    }
    s
}

fn to_toml(g: &Gen) -> String {
    let mut s = deployment_and_hosts(g.product, &g.hosts);
    for (i, (h, roles, pin)) in g.nodes.iter().enumerate() {
        s += &format!("[[node]]\nname = \"n{i}\"\nhost = \"h{h}\"\nroles = {roles:?}\n");
        if let Some(p) = pin {
            s += &format!("offset = {p}\n");
        }
    }
    for (a, b) in &g.links {
        s += &format!("[[link]]\nfrom = \"n{a}\"\nto = \"n{b}\"\n");
    }
    s
}

/// The independent checker. Returns the first violated property.
fn check(g: &Gen, plan: &Plan) -> Result<(), String> {
    let node = |name: &str| plan.nodes.iter().find(|n| n.name == name).unwrap();
    for (i, (_, _, pin)) in g.nodes.iter().enumerate() {
        let n = node(&format!("n{i}"));
        if let Some(p) = pin {
            if n.offset != *p {
                return Err(format!("n{i}: pin {p} not kept ({})", n.offset));
            }
        }
        let ports: BTreeSet<u32> = n.ports.iter().map(|p| p.effective).collect();
        for b in bases(g.product) {
            if !ports.contains(&(b + n.offset)) {
                return Err(format!("n{i}: port {b}+{} missing from ports[]", n.offset));
            }
        }
    }
    for (hi, reserved) in g.hosts.iter().enumerate() {
        let mut seen = BTreeMap::new();
        for n in plan.nodes.iter().filter(|n| n.host == format!("h{hi}")) {
            for p in &n.ports {
                if !(1024..=65535).contains(&p.effective) {
                    return Err(format!("{}: port {} out of range", n.name, p.effective));
                }
                if reserved.contains(&p.effective) {
                    return Err(format!("{}: port {} is reserved", n.name, p.effective));
                }
                if let Some(other) = seen.insert(p.effective, n.name.clone()) {
                    return Err(format!(
                        "h{hi}: port {} used by {other} and {}",
                        p.effective, n.name
                    ));
                }
            }
        }
    }
    // Per-node ports (the 1.1.0 Thrift server): open exactly on the nodes of their roles;
    // links over them carry the provider's value (checked with every link below).
    let profile = &profiles()[g.product];
    let kv = plan.mode.as_str();
    for def in profile
        .port
        .iter()
        .filter(|p| p.listens && p.rule == topoplan_model::PortRule::PerNode && p.in_mode(kv))
    {
        for n in &plan.nodes {
            // Cluster member ports: these topologies have no [[cluster]], so no node opens one.
            let opens =
                (def.roles.is_empty() || def.roles.iter().any(|r| n.has_role(r))) && !def.clustered;
            if opens != n.port(&def.name).is_some() {
                return Err(format!("{}: {} open = {}", n.name, def.name, !opens));
            }
        }
    }
    // Every link points at a node of the right role, at its effective port.
    let all: Vec<topoplan_solver::LinkPlan> = plan.all_links().map(|l| l.into_owned()).collect();
    for l in &all {
        let r = profile
            .reference
            .iter()
            .find(|r| r.name == l.reference)
            .unwrap();
        let (from, to) = (node(&l.from), node(&l.to));
        if !r.readers.iter().any(|c| from.has_role(c)) || !to.has_role(&r.provider) {
            return Err(format!(
                "link {} {} -> {} has the wrong roles",
                l.reference, l.from, l.to
            ));
        }
        let expected = to
            .ports
            .iter()
            .find(|p| p.name == r.port)
            .map(|p| p.effective);
        if expected != Some(l.port) {
            return Err(format!(
                "link {} -> {}: port {} but provider has {expected:?}",
                l.reference, l.to, l.port
            ));
        }
        if let Some(url) = &l.url {
            let host = if to.address.contains(':') {
                format!("[{}]", to.address)
            } else {
                to.address.to_string()
            };
            if !url.ends_with(&format!("://{host}:{}", l.port)) {
                return Err(format!(
                    "link url {url} does not point at {host}:{}",
                    l.port
                ));
            }
        }
    }
    // Every reader of every reference, in every node, has its value: one provider of the right
    // role (itself if it has the role), or for a list, each provider it serves.
    for (i, (_, roles, _)) in g.nodes.iter().enumerate() {
        let name = format!("n{i}");
        let kv = plan.mode.as_str();
        for r in &profile.reference {
            if !r.in_mode(kv) || !r.readers.iter().any(|c| roles.contains(&c.as_str())) {
                continue;
            }
            let got: Vec<&str> = all
                .iter()
                .filter(|l| l.from == name && l.reference == r.name)
                .map(|l| l.to.as_str())
                .collect();
            let providers: Vec<String> = g
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.1.contains(&r.provider.as_str()))
                .map(|(j, _)| format!("n{j}"))
                .collect();
            let linked: Vec<String> = g
                .links
                .iter()
                .filter(|(a, b)| *a == i && providers.contains(&format!("n{b}")))
                .map(|(_, b)| format!("n{b}"))
                .collect();
            let own = roles.contains(&r.provider.as_str());
            if r.providers == topoplan_model::Providers::Each {
                let mut want: BTreeSet<String> = if linked.is_empty() {
                    providers.iter().cloned().collect()
                } else {
                    linked.iter().cloned().collect()
                };
                if own {
                    want.insert(name.clone());
                }
                let have: BTreeSet<String> = got.iter().map(|s| s.to_string()).collect();
                if have != want {
                    return Err(format!("{name} {}: lists {have:?}, want {want:?}", r.name));
                }
                if own && got.first() != Some(&name.as_str()) {
                    return Err(format!(
                        "{name} {}: its own role is not listed first",
                        r.name
                    ));
                }
            } else if providers.is_empty() {
                if !got.is_empty() {
                    return Err(format!(
                        "{name} {}: points at {got:?} with no provider",
                        r.name
                    ));
                }
            } else {
                if got.len() != 1 {
                    return Err(format!(
                        "{name} {}: {} providers, want one",
                        r.name,
                        got.len()
                    ));
                }
                if own && got[0] != name {
                    return Err(format!(
                        "{name} {}: has the role but points at {}",
                        r.name, got[0]
                    ));
                }
                if !own && !linked.is_empty() && !linked.iter().any(|l| l == got[0]) {
                    return Err(format!("{name} {}: ignores its links {linked:?}", r.name));
                }
            }
        }
    }
    Ok(())
}

/// Whether a generated topology gives some single-provider reference two links that name
/// different providers (and no list of the same role in that node explains them).
fn has_conflicting_links(g: &Gen, profile: &Profile) -> bool {
    g.nodes.iter().enumerate().any(|(i, (_, roles, _))| {
        profile.reference.iter().any(|r| {
            r.providers == topoplan_model::Providers::One
                && r.readers.iter().any(|c| roles.contains(&c.as_str()))
                && !roles.contains(&r.provider.as_str())
                && !profile.reference.iter().any(|o| {
                    o.providers == topoplan_model::Providers::Each
                        && o.provider == r.provider
                        && o.file == r.file
                        && o.readers.iter().any(|c| roles.contains(&c.as_str()))
                })
                && g.links
                    .iter()
                    .filter(|(a, b)| *a == i && g.nodes[*b].1.contains(&r.provider.as_str()))
                    .count()
                    >= 2
        })
    })
}

/// Smallest span by brute force, for hosts of at most 3 unpinned nodes.
fn brute_span(bases: &[u32], reserved: &[u32], n: usize) -> Option<u32> {
    let diffs: BTreeSet<u32> = bases
        .iter()
        .flat_map(|a| bases.iter().map(move |b| a.abs_diff(*b)))
        .collect();
    let ok = |o: u32| bases.iter().all(|b| !reserved.contains(&(b + o)));
    for span in 0..200u32 {
        let cands: Vec<u32> = (0..=span).filter(|&o| ok(o)).collect();
        let found = match n {
            1 => cands.iter().any(|&a| a <= span),
            2 => cands
                .iter()
                .any(|&a| cands.iter().any(|&b| a < b && !diffs.contains(&(b - a)))),
            3 => cands.iter().any(|&a| {
                cands.iter().any(|&b| {
                    a < b
                        && !diffs.contains(&(b - a))
                        && cands.iter().any(|&c| {
                            b < c && !diffs.contains(&(c - b)) && !diffs.contains(&(c - a))
                        })
                })
            }),
            _ => unreachable!(),
        };
        if found {
            return Some(span);
        }
    }
    None
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn every_plan_passes_the_independent_checker(g in gen()) {
        let profiles = profiles();
        let topo = match topoplan_model::parse(&to_toml(&g), &profiles) {
            Ok(t) => t,
            // Random pins may collide or land on reserved ports: the model must say so.
            Err(d) => {
                prop_assert!(d.iter().all(|d| d.code.name().starts_with("pin-") || d.code.name() == "invalid-link" || d.code.name() == "duplicate-link"), "{d:?}");
                return Ok(());
            }
        };
        match topoplan_solver::solve(&topo, &profiles[g.product]) {
            Ok(plan) => {
                if let Err(e) = check(&g, &plan) {
                    prop_assert!(false, "{e}\n{}", to_toml(&g));
                }
                // Deterministic: the same input gives the same plan.
                prop_assert_eq!(&plan, &topoplan_solver::solve(&topo, &profiles[g.product]).unwrap());
                // Small unpinned hosts: span equals the brute-force optimum.
                for (hi, reserved) in g.hosts.iter().enumerate() {
                    let members: Vec<_> = g.nodes.iter().filter(|n| n.0 == hi).collect();
                    if !members.is_empty() && members.len() <= 3 && members.iter().all(|n| n.2.is_none()) {
                        let h = plan.hosts.iter().find(|h| h.name == format!("h{hi}")).unwrap();
                        prop_assert_eq!(Some(h.max_offset), brute_span(&bases(g.product), reserved, members.len()));
                    }
                }
            }
            Err(d) => {
                let conflict = has_conflicting_links(&g, &profiles[g.product]);
                // 1.1.0 validates keys over Thrift, whose client cannot take an IPv6 key manager:
                // possible only with a key manager on an (odd, IPv6) host and a gateway that is
                // not one itself.
                let v6_thrift = g.product == "appm-1.1.0"
                    && g.nodes.iter().any(|n| n.0 % 2 == 1 && n.1.contains(&"key-manager"))
                    && g.nodes.iter().any(|n| n.1.contains(&"gateway") && !n.1.contains(&"key-manager"));
                // A store's gateway that no publisher lists: only possible when links narrow
                // the publishers' lists or choose the store's gateway.
                let narrowed = g.links.iter().any(|&(a, b)| {
                    (g.nodes[a].1.contains(&"publisher") || g.nodes[a].1.contains(&"store"))
                        && g.nodes[b].1.contains(&"gateway")
                });
                let explained = d.iter().all(|d| match d.code.name() {
                    "missing-provider" | "ambiguous-provider" => true,
                    "unserved-provider" => narrowed,
                    "conflicting-links" => conflict,
                    "ipv6-unsupported" => v6_thrift,
                    _ => false,
                });
                prop_assert!(explained, "{d:?}\n{}", to_toml(&g));
                if conflict {
                    prop_assert!(d.iter().any(|d| d.code.name() == "conflicting-links"), "missed conflict\n{}", to_toml(&g));
                }
            }
        }
    }
}

/// Extra nodes (host, roles; unpinned) to add, and optionally (node, base) whose port to reserve.
type Additions = (Vec<(usize, Vec<&'static str>)>, Option<(usize, usize)>);

fn additions() -> impl Strategy<Value = Additions> {
    (
        prop::collection::vec(
            (0usize..4, prop::sample::subsequence(ROLES.to_vec(), 1..=4)),
            1..4,
        ),
        prop::option::weighted(0.3, (0usize..9, 0usize..6)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    /// With a lock, adding nodes never moves a locked node's offset or Thrift port unless the
    /// plan says why; a newly reserved port under a locked node moves it, with the reason.
    #[test]
    fn a_lock_keeps_running_nodes_in_place(g in gen(), (extra, reserve) in additions()) {
        let profiles = profiles();
        let profile = &profiles[g.product];
        let Ok(topo) = topoplan_model::parse(&to_toml(&g), &profiles) else { return Ok(()) };
        let Ok(before) = topoplan_solver::solve(&topo, profile) else { return Ok(()) };
        let lock = topoplan_solver::lock_of(&before);
        let mut g2 = g.clone();
        let nh = g2.hosts.len();
        for (h, roles) in extra {
            g2.nodes.push((h % nh, roles, None));
        }
        if let Some((n, b)) = reserve {
            let victim = &before.nodes[n % before.nodes.len()];
            let hi: usize = victim.host[1..].parse().unwrap();
            let port = bases(g.product)[b % bases(g.product).len()] + victim.offset;
            g2.hosts[hi].push(port);
        }
        let Ok(topo2) = topoplan_model::parse(&to_toml(&g2), &profiles) else { return Ok(()) };
        let Ok(after) = topoplan_solver::solve_locked(&topo2, profile, Some(&lock)) else { return Ok(()) };
        let changes = after.changes.clone().expect("planned with a lock");
        for old in &before.nodes {
            let new = after.node(&old.name).expect("nodes are only added");
            if new.offset != old.offset {
                let explained = changes.iter().any(|c| c.kind == "offset" && c.subject == old.name && c.why.is_some());
                prop_assert!(explained, "{} moved {} -> {} without a reason\n{}", old.name, old.offset, new.offset, to_toml(&g2));
                prop_assert!(reserve.is_some() || old.pinned, "{} moved with nothing reserved\n{}", old.name, to_toml(&g2));
            }
            for p in old.ports.iter().filter(|p| p.per_node) {
                if new.port(&p.name) != Some(p.effective) {
                    let subject = format!("{} {}", old.name, p.name);
                    prop_assert!(changes.iter().any(|c| c.kind == "port" && c.subject == subject), "{subject} moved silently");
                }
            }
        }
        // Every list a locked node had keeps its first entry (the product's default) first.
        for old in &before.nodes {
            let first = |p: &topoplan_solver::Plan| -> std::collections::BTreeMap<String, String> {
                let mut m = std::collections::BTreeMap::new();
                for l in p.links_of(&old.name).into_iter().filter(|l| l.each) {
                    m.entry(l.reference.to_string()).or_insert_with(|| l.to.to_string());
                }
                m
            };
            let (was, now) = (first(&before), first(&after));
            for (reference, to) in &was {
                prop_assert_eq!(now.get(reference), Some(to), "{} {}: first entry moved\n{}", old.name, reference, to_toml(&g2));
            }
        }
        // Every added node is announced.
        for n in &after.nodes {
            if before.node(&n.name).is_none() {
                prop_assert!(changes.iter().any(|c| c.op == "+" && c.kind == "node" && c.subject == n.name));
            }
        }
        // The new plan is still valid.
        if let Err(e) = check(&g2, &after) {
            prop_assert!(false, "{e}\n{}", to_toml(&g2));
        }
    }
}
