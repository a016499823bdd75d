//! topoplan-solver: from a validated topology to a [`Plan`].
//!
//! Three steps, in this order because each needs the one before:
//! 1. **wiring**: a petgraph graph with one vertex per node and one edge per profile reference
//!    a node consumes (consumer -> provider). Providers are chosen by rule: the node itself if it
//!    has the role, else an explicit `[[link]]`, else the only candidate; a reader the profile
//!    marks `required_for` that cannot pick a provider is an error, other ambiguous picks prefer
//!    the same host and warn.
//! 2. **offsets**: per host, the smallest span with pins kept ([`offsets`]); ports that listen
//!    without following the offset are kept out of the way, and collide if two nodes open one.
//! 3. **per-node ports** (`rule = "per-node"` in the profile, e.g. a Thrift server the offset
//!    never moves): each node that opens one gets a value free on its host, and every reference
//!    to it carries the provider's value.
//!
//! The engine names no product, role or link kind: all of that is the profile's.
//!
//! Everything is sorted so that identical input gives byte-identical plans.

pub mod offsets;
pub mod plan;

pub use plan::{
    Column, HostPlan, LinkPlan, ManualStep, ManualValue, NodePlan, Plan, PlanChange, PortPlan,
    Text, Warning,
};

use offsets::HostProblem;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::{BTreeMap, BTreeSet};
use topoplan_model::{
    Diagnostic, Lock, LockedNode, PortDef, PortRule, Profile, Providers, ReferenceDef, Topology,
};

/// One dependency: `consumer` holds `reference` pointing at `provider`.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub reference: usize,
    pub why: String,
}

/// The dependency graph: vertices are indices into `Topology::nodes`.
pub type DependencyGraph = DiGraph<usize, Dependency>;

/// Solves a topology against its profile.
pub fn solve(topo: &Topology, profile: &Profile) -> Result<Plan, Vec<Diagnostic>> {
    solve_locked(topo, profile, None)
}

/// Solves a topology, keeping what `lock` assigned wherever that is still possible, and
/// records in the plan what changed against the lock (and why a locked value moved).
pub fn solve_locked(
    topo: &Topology,
    profile: &Profile,
    lock: Option<&Lock>,
) -> Result<Plan, Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let (graph, mut diags) = wire_locked(topo, profile, lock, &mut warnings);
    let mut moved: BTreeMap<String, String> = BTreeMap::new();
    let locked = locked_offsets(topo, lock);
    let offsets = match assign_offsets(topo, profile, &locked, &mut moved) {
        Ok(o) => Some(o),
        Err(d) => {
            diags.extend(d);
            None
        }
    };
    if !diags.is_empty() {
        diags.sort_by_key(Diagnostic::position);
        return Err(diags);
    }
    let (offsets, host_info) = offsets.expect("no diagnostics means offsets were found");
    let per_node = assign_per_node(topo, profile, &offsets, &host_info, lock, &mut moved)?;
    let mut plan = build_plan(
        topo, profile, &graph, &offsets, &host_info, &per_node, warnings,
    );
    if let Some(lock) = lock {
        let index: std::collections::HashMap<&str, usize> = topo
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        for n in plan.nodes.iter_mut() {
            if let Some(why) = moved.get(n.name.as_str()) {
                n.offset_reason = format!("{} (moved from the lock: {why})", n.offset_reason);
            } else if index
                .get(n.name.as_str())
                .is_some_and(|&i| locked[i].is_some())
            {
                n.offset_reason = format!("kept from the lock ({})", n.offset);
            }
        }
        plan.changes = Some(changes(lock, &plan, &moved));
    }
    Ok(plan)
}

/// Per node: the offset the lock holds for it, when it is on the same host and not pinned
/// (a pin in the topology wins over the lock).
fn locked_offsets(topo: &Topology, lock: Option<&Lock>) -> Vec<Option<u32>> {
    topo.nodes
        .iter()
        .map(|n| {
            let l = lock?.nodes.get(&n.name)?;
            (n.pin.is_none() && l.host == topo.hosts[n.host].name).then_some(l.offset)
        })
        .collect()
}

/// The preview: every difference between the lock and the new plan, terraform style.
fn changes(lock: &Lock, plan: &Plan, moved: &BTreeMap<String, String>) -> Vec<PlanChange> {
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
fn per_node_ports(n: &NodePlan) -> BTreeMap<String, u32> {
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

/// Builds the dependency graph: one edge per (reader node, reference, provider). Returns the
/// diagnostics for readers a reference is `required_for` that have no usable provider, and for
/// links that disagree; other unresolved references become warnings.
pub fn wire(
    topo: &Topology,
    profile: &Profile,
    warnings: &mut Vec<Warning>,
) -> (DependencyGraph, Vec<Diagnostic>) {
    wire_locked(topo, profile, None, warnings)
}

/// [`wire`], preferring among equal candidates the providers the lock recorded, so that a new
/// node never takes over a value an existing node already points at.
pub fn wire_locked(
    topo: &Topology,
    profile: &Profile,
    lock: Option<&Lock>,
    warnings: &mut Vec<Warning>,
) -> (DependencyGraph, Vec<Diagnostic>) {
    // The lock's providers per reader and reference, indexed once: looked up for every reader.
    let mut locked: LockedProviders = BTreeMap::new();
    for k in lock.iter().flat_map(|l| &l.links) {
        locked
            .entry(k.from.as_str())
            .or_default()
            .entry(k.reference.as_str())
            .or_default()
            .push(k.to.as_str());
    }
    let locked_to = |from: &str, reference: &str| locked_providers(&locked, from, reference);
    let mut g = DependencyGraph::new();
    let idx: Vec<NodeIndex> = (0..topo.nodes.len()).map(|i| g.add_node(i)).collect();
    let mut diags = Vec::new();
    let mut reported: BTreeSet<(usize, String)> = BTreeSet::new();
    let roles = RoleIndex::new(topo);
    for (ci, consumer) in topo.nodes.iter().enumerate() {
        for (ri, r) in profile.reference.iter().enumerate() {
            if !r.in_mode(&topo.key_validation) || !r.readers.iter().any(|c| consumer.has_role(c)) {
                continue;
            }
            if r.providers == Providers::Each {
                let mut list = each_provider(topo, &roles, ci, r);
                // Entries the lock already had keep their places before new ones, so the
                // first entry (the product's default) stays.
                let had = locked_to(&consumer.name, &r.name);
                list.sort_by_key(|(p, _)| !had.contains(&topo.nodes[*p].name.as_str()));
                for (pi, why) in list {
                    g.add_edge(idx[ci], idx[pi], Dependency { reference: ri, why });
                }
                continue;
            }
            match choose_provider(topo, profile, &roles, ci, r) {
                Ok((pi, why)) => {
                    g.add_edge(idx[ci], idx[pi], Dependency { reference: ri, why });
                }
                Err(Choice::Conflict(links)) => {
                    if reported.insert((ci, format!("conflict:{}", r.provider))) {
                        let l0 = &topo.links[links[0]];
                        let mut d = Diagnostic::error(
                            "conflicting-links",
                            format!(
                                "`{}` reads one `{}` for `{}`, but its links name {}",
                                consumer.name,
                                r.provider,
                                r.name,
                                links
                                    .iter()
                                    .map(|&l| format!("`{}`", topo.nodes[topo.links[l].to].name))
                                    .collect::<Vec<_>>()
                                    .join(" and ")
                            ),
                        )
                        .at(
                            l0.span.clone(),
                            format!("names `{}`", topo.nodes[l0.to].name),
                        );
                        for &l in &links[1..] {
                            let link = &topo.links[l];
                            d = d.also(
                                link.span.clone(),
                                format!("also names `{}`", topo.nodes[link.to].name),
                            );
                        }
                        diags.push(d.note(format!(
                            "{} ({}) holds a single `{}` address; keep one of these links",
                            r.file, r.element, r.provider
                        )));
                    }
                }
                Err(Choice::None) => {
                    if let Some(role) = required(r, consumer) {
                        if reported.insert((ci, format!("required:{}", r.provider))) {
                            diags.push(
                                Diagnostic::error(
                                    "missing-provider",
                                    format!(
                                        "`{}` ({role}) needs a `{}` node for `{}`, and there is none",
                                        consumer.name, r.provider, r.name
                                    ),
                                )
                                .at(consumer.roles_span.clone(), format!("this node is a `{role}`"))
                                .note(format!(
                                    "add a node with role `{}` (or give this node that role too)",
                                    r.provider
                                )),
                            );
                        }
                    } else if reported.insert((ci, r.provider.clone())) {
                        warnings.push(
                            Warning::new(
                                "unwired",
                                format!(
                                    "`{}` ({}) has no `{}` node to point at: references such as `{}` keep their default",
                                    consumer.name,
                                    consumer.roles.join(", "),
                                    r.provider,
                                    r.name
                                ),
                            )
                            .node(consumer.name.clone())
                            .at(consumer.roles_span.clone()),
                        );
                    }
                }
                Err(Choice::Many(cands)) => {
                    if let Some(role) = required(r, consumer) {
                        if reported.insert((ci, format!("required:{}", r.provider))) {
                            let names: Vec<_> = cands
                                .iter()
                                .map(|&c| format!("`{}`", topo.nodes[c].name))
                                .collect();
                            let mut d = Diagnostic::error(
                                "ambiguous-provider",
                                format!(
                                    "`{}` ({role}) could use `{}` nodes {} for `{}`",
                                    consumer.name,
                                    r.provider,
                                    names.join(", "),
                                    r.name
                                ),
                            )
                            .at(
                                consumer.name_span.clone(),
                                format!("no `[[link]]` says which `{}` this node uses", r.provider),
                            );
                            for &c in &cands {
                                d = d.also(topo.nodes[c].name_span.clone(), "a candidate");
                            }
                            diags.push(d.note(format!(
                                "add a `[[link]]` with `from = \"{}\"` and `to = \"{}\"`",
                                consumer.name, topo.nodes[cands[0]].name
                            )));
                        }
                        continue;
                    }
                    let had = locked_to(&consumer.name, &r.name);
                    let kept = cands
                        .iter()
                        .copied()
                        .find(|&c| had.contains(&topo.nodes[c].name.as_str()));
                    let pi = kept.unwrap_or(cands[0]);
                    if reported.insert((ci, r.provider.clone())) {
                        warnings.push(
                            Warning::new(
                                "several-providers",
                                format!(
                                    "`{}` could use several `{}` nodes; chose `{}` (add a `[[link]]` to choose another)",
                                    consumer.name, r.provider, topo.nodes[pi].name
                                ),
                            )
                            .node(consumer.name.clone())
                            .node(topo.nodes[pi].name.clone())
                            .at(consumer.name_span.clone()),
                        );
                    }
                    g.add_edge(
                        idx[ci],
                        idx[pi],
                        Dependency {
                            reference: ri,
                            why: if kept.is_some() {
                                "several candidates; kept the one in the lock".into()
                            } else {
                                "several candidates; same host first, then by name".into()
                            },
                        },
                    );
                }
            }
        }
    }
    unserved_warnings(topo, profile, &g, warnings);
    (g, diags)
}

/// The first of a reference's `required_for` roles the consumer has: it cannot work without
/// the provider, so a missing or ambiguous one is an error.
fn required<'r>(r: &'r ReferenceDef, consumer: &topoplan_model::Node) -> Option<&'r str> {
    r.required_for
        .iter()
        .find(|role| consumer.has_role(role))
        .map(String::as_str)
}

/// Providers a lock recorded, by reader, then reference.
type LockedProviders<'l> = BTreeMap<&'l str, BTreeMap<&'l str, Vec<&'l str>>>;

fn locked_providers<'l>(
    locked: &'l LockedProviders<'l>,
    from: &str,
    reference: &str,
) -> &'l [&'l str] {
    locked
        .get(from)
        .and_then(|m| m.get(reference))
        .map_or(&[], Vec::as_slice)
}

/// Nodes by role and links by source, built once so that wiring is linear in the topology.
struct RoleIndex<'t> {
    by_role: BTreeMap<&'t str, Vec<usize>>,
    links_from: Vec<Vec<usize>>,
}

impl<'t> RoleIndex<'t> {
    fn new(topo: &'t Topology) -> Self {
        let mut by_role: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, n) in topo.nodes.iter().enumerate() {
            for r in &n.roles {
                by_role.entry(r.as_str()).or_default().push(i);
            }
        }
        let mut links_from = vec![Vec::new(); topo.nodes.len()];
        for (li, l) in topo.links.iter().enumerate() {
            links_from[l.from].push(li);
        }
        RoleIndex {
            by_role,
            links_from,
        }
    }

    fn with_role(&self, role: &str) -> &[usize] {
        self.by_role.get(role).map_or(&[], Vec::as_slice)
    }

    /// Indices into `topo.links` of the links from `ci` to a node with `role`.
    fn links_to_role(&self, topo: &Topology, ci: usize, role: &str) -> Vec<usize> {
        self.links_from[ci]
            .iter()
            .copied()
            .filter(|&l| topo.nodes[topo.links[l].to].has_role(role))
            .collect()
    }
}

/// The order every provider choice uses, so that a single reference and a list of the same
/// role in one node agree on who comes first: the node itself, then its own host, then name.
fn preference(topo: &Topology, ci: usize, pi: usize) -> (bool, bool, &str) {
    (
        pi != ci,
        topo.nodes[pi].host != topo.nodes[ci].host,
        topo.nodes[pi].name.as_str(),
    )
}

fn each_provider(
    topo: &Topology,
    roles: &RoleIndex,
    ci: usize,
    r: &ReferenceDef,
) -> Vec<(usize, String)> {
    let linked = roles.links_to_role(topo, ci, &r.provider);
    let mut out: Vec<(usize, String)> = if linked.is_empty() {
        roles
            .with_role(&r.provider)
            .iter()
            .map(|&p| {
                let why = if p == ci {
                    "the node has this role itself".to_string()
                } else {
                    format!(
                        "every `{}` node, as no `[[link]]` narrows the list",
                        r.provider
                    )
                };
                (p, why)
            })
            .collect()
    } else {
        let mut v: Vec<(usize, String)> = linked
            .iter()
            .map(|&l| (topo.links[l].to, "named by a [[link]]".to_string()))
            .collect();
        if topo.nodes[ci].has_role(&r.provider) {
            v.push((ci, "the node has this role itself".into()));
        }
        v
    };
    out.sort_by(|a, b| preference(topo, ci, a.0).cmp(&preference(topo, ci, b.0)));
    out.dedup_by_key(|x| x.0);
    out
}

enum Choice {
    None,
    /// Several candidates, best first.
    Many(Vec<usize>),
    /// Several `[[link]]`s (indices into `topo.links`) name different providers.
    Conflict(Vec<usize>),
}

fn choose_provider(
    topo: &Topology,
    profile: &Profile,
    roles: &RoleIndex,
    ci: usize,
    r: &ReferenceDef,
) -> Result<(usize, String), Choice> {
    let consumer = &topo.nodes[ci];
    if consumer.has_role(&r.provider) {
        return Ok((ci, "the node has this role itself".into()));
    }
    let linked = roles.links_to_role(topo, ci, &r.provider);
    match linked.len() {
        0 => {}
        1 => return Ok((topo.links[linked[0]].to, "named by a [[link]]".into())),
        _ => {
            // The same node also lists every provider of this role (a publisher's
            // environments): its links name that list, and this single value takes the list's
            // first entry, as the product does (the store reads the first environment).
            let lists = profile.reference.iter().any(|o| {
                o.providers == Providers::Each
                    && o.provider == r.provider
                    && o.file == r.file
                    && o.readers.iter().any(|c| consumer.has_role(c))
            });
            if !lists {
                return Err(Choice::Conflict(linked));
            }
            let best = linked
                .iter()
                .map(|&l| topo.links[l].to)
                .min_by(|&a, &b| preference(topo, ci, a).cmp(&preference(topo, ci, b)))
                .expect("two links at least");
            return Ok((best, "first of the providers its [[link]]s name".into()));
        }
    }
    let mut cands: Vec<usize> = roles.with_role(&r.provider).to_vec();
    cands.sort_by(|&a, &b| preference(topo, ci, a).cmp(&preference(topo, ci, b)));
    match cands.len() {
        0 => Err(Choice::None),
        1 => Ok((cands[0], format!("the only `{}` node", r.provider))),
        _ => Err(Choice::Many(cands)),
    }
}

/// A provider that no reader of an `each` reference lists is cut off from its readers (a
/// gateway no publisher lists never receives an app): say so, naming it.
fn unserved_warnings(
    topo: &Topology,
    profile: &Profile,
    g: &DependencyGraph,
    warnings: &mut Vec<Warning>,
) {
    for (ri, r) in profile.reference.iter().enumerate() {
        let Some(text) = &r.unserved else { continue };
        if !r.in_mode(&topo.key_validation) {
            continue;
        }
        let mut served = vec![false; topo.nodes.len()];
        let mut any_reader = false;
        for e in g.edge_references().filter(|e| e.weight().reference == ri) {
            any_reader = true;
            served[g[e.target()]] = true;
        }
        if !any_reader {
            continue;
        }
        for (i, n) in topo.nodes.iter().enumerate() {
            if n.has_role(&r.provider) && !served[i] {
                warnings.push(
                    Warning::new("unserved", format!("`{}` {text}", n.name))
                        .node(n.name.clone())
                        .at(n.name_span.clone()),
                );
            }
        }
    }
}

/// Per-host solution facts kept for the plan.
#[derive(Debug, Clone)]
struct HostInfo {
    /// The host's nodes (indices into `topo.nodes`), in name order: found once here, read by
    /// the per-node ports and the plan.
    members: Vec<usize>,
    span: u32,
    minimal: bool,
    lower_bound: u32,
}

fn offset_bases(profile: &Profile, mode: &str) -> Vec<u32> {
    let mut b: Vec<u32> = profile.offset_ports(mode).map(|p| p.base).collect();
    b.sort_unstable();
    b.dedup();
    b
}

/// Ports a node opens at their base whatever its offset (`rule = "every"`, not following the
/// offset).
fn fixed_ports<'p>(
    profile: &'p Profile,
    mode: &'p str,
    node: &'p topoplan_model::Node,
) -> impl Iterator<Item = &'p PortDef> + 'p {
    profile
        .opens(mode, &node.roles)
        .filter(|p| p.rule == PortRule::Every && !p.follows_offset)
}

/// Per host, the fixed ports its nodes open. Two nodes opening one is an error: nothing can
/// move it. The rest are kept out of the offset search's way like reserved ports.
fn host_fixed_ports(
    topo: &Topology,
    profile: &Profile,
    members: &[usize],
    diags: &mut Vec<Diagnostic>,
) -> BTreeSet<u32> {
    let mut by_port: BTreeMap<u32, Vec<(usize, &PortDef)>> = BTreeMap::new();
    for &i in members {
        for p in fixed_ports(profile, &topo.key_validation, &topo.nodes[i]) {
            by_port.entry(p.base).or_default().push((i, p));
        }
    }
    for (port, users) in &by_port {
        if users.len() < 2 {
            continue;
        }
        let (first, def) = users[0];
        let host = &topo.hosts[topo.nodes[first].host];
        let mut d = Diagnostic::error(
            "fixed-port-collision",
            format!(
                "{} nodes on host `{}` listen on port {port} ({}), which the offset does not move",
                users.len(),
                host.name,
                def.name
            ),
        )
        .at(topo.nodes[first].name_span.clone(), format!("opens {port}"));
        for &(i, _) in &users[1..] {
            d = d.also(
                topo.nodes[i].name_span.clone(),
                format!("also opens {port}"),
            );
        }
        diags.push(d.note(format!(
            "{} ({}) is the same on every node; put these nodes on different hosts",
            def.file, def.element
        )));
    }
    by_port.into_keys().collect()
}

fn assign_offsets(
    topo: &Topology,
    profile: &Profile,
    locked: &[Option<u32>],
    moved: &mut BTreeMap<String, String>,
) -> Result<(Vec<u32>, Vec<HostInfo>), Vec<Diagnostic>> {
    let bases = offset_bases(profile, &topo.key_validation);
    let range = (profile.product.port_range[0], profile.product.port_range[1]);
    let by_host = host_members(topo);
    let mut offsets = vec![0u32; topo.nodes.len()];
    let mut info = Vec::new();
    let mut diags = Vec::new();
    for (host, members) in topo.hosts.iter().zip(by_host) {
        let members = &members;
        let mut pins: Vec<Option<u32>> = members
            .iter()
            .map(|&i| topo.nodes[i].pin.as_ref().map(|p| p.0))
            .collect();
        let mut reserved: BTreeSet<u32> = host.reserved_ports.iter().map(|r| r.0).collect();
        reserved.extend(host_fixed_ports(topo, profile, members, &mut diags));
        let explicit = pins.clone();
        let check = HostProblem {
            bases: &bases,
            reserved: &reserved,
            range,
            pins: &explicit,
        };
        // Locked offsets become pins, in name order, as long as each still fits beside the
        // explicit pins and the locks kept before it; the rest move, with the reason.
        for (k, &i) in members.iter().enumerate() {
            let Some(o) = locked[i] else { continue };
            let why = if !check.fits(o) {
                let (lo, hi) = check.bounds();
                Some(match bases.iter().find(|b| reserved.contains(&(*b + o))) {
                    Some(b) => format!("port {} is now reserved on `{}`", b + o, host.name),
                    None => format!("offset {o} is outside {lo}..={hi}"),
                })
            } else {
                members.iter().enumerate().find_map(|(j, &other)| {
                    let p = pins[j].filter(|_| j != k)?;
                    check.shared_port(o, p).map(|port| {
                        format!(
                            "`{}` now holds offset {p} and port {port}",
                            topo.nodes[other].name
                        )
                    })
                })
            };
            match why {
                Some(w) => {
                    moved.insert(topo.nodes[i].name.clone(), w);
                }
                None => pins[k] = Some(o),
            }
        }
        let problem = HostProblem {
            bases: &bases,
            reserved: &reserved,
            range,
            pins: &pins,
        };
        let solved = problem.solve().or_else(|| {
            // Keeping every lock leaves no room: drop them, say so.
            for (k, &i) in members.iter().enumerate() {
                if pins[k].is_some() && explicit[k].is_none() {
                    moved.insert(
                        topo.nodes[i].name.clone(),
                        "no assignment keeps every locked offset on the host".into(),
                    );
                }
            }
            check.solve()
        });
        match solved {
            Some(sol) => {
                for (k, &i) in members.iter().enumerate() {
                    offsets[i] = sol.offsets[k];
                }
                info.push(HostInfo {
                    members: members.clone(),
                    span: sol.span,
                    minimal: sol.minimal,
                    lower_bound: sol.lower_bound,
                });
            }
            None => {
                let mut d = Diagnostic::error(
                    "unsatisfiable",
                    format!(
                        "no offsets keep the ports of {} nodes on host `{}` distinct within {}..={}",
                        members.len(),
                        host.name,
                        range.0,
                        range.1
                    ),
                )
                .at(host.span.clone(), "this host");
                for &i in members {
                    d = d.also(topo.nodes[i].name_span.clone(), "placed on it");
                }
                diags.push(d.note(format!(
                    "every node listens on {} + its offset; move nodes to another host, drop pins, or free reserved ports",
                    bases.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ")
                )));
                info.push(HostInfo {
                    members: members.clone(),
                    span: 0,
                    minimal: false,
                    lower_bound: 0,
                });
            }
        }
    }
    if diags.is_empty() {
        Ok((offsets, info))
    } else {
        Err(diags)
    }
}

/// Per node, the values of its `per-node` ports (only those it opens), by port name.
type PerNode = Vec<BTreeMap<String, u32>>;

/// Gives each node that opens a `per-node` port a value of its own on its host: the locked
/// value while it is still free, else the first free one from the base (+ offset) up.
fn assign_per_node(
    topo: &Topology,
    profile: &Profile,
    offsets: &[u32],
    host_info: &[HostInfo],
    lock: Option<&Lock>,
    moved: &mut BTreeMap<String, String>,
) -> Result<PerNode, Vec<Diagnostic>> {
    let mode = topo.key_validation.as_str();
    let mut ports: PerNode = vec![BTreeMap::new(); topo.nodes.len()];
    let defs: Vec<&PortDef> = profile
        .port
        .iter()
        .filter(|p| p.listens && p.rule == PortRule::PerNode && p.in_mode(mode))
        .collect();
    if defs.is_empty() {
        return Ok(ports);
    }
    let bases = offset_bases(profile, mode);
    let hi_limit = profile.product.port_range[1];
    for (host, info) in topo.hosts.iter().zip(host_info) {
        let on_host = &info.members;
        let mut used: BTreeSet<u32> = host.reserved_ports.iter().map(|r| r.0).collect();
        for &i in on_host.iter() {
            used.extend(bases.iter().map(|b| b + offsets[i]));
            used.extend(fixed_ports(profile, mode, &topo.nodes[i]).map(|p| p.base));
        }
        for def in &defs {
            let openers: Vec<usize> = on_host
                .iter()
                .copied()
                .filter(|&i| {
                    def.roles.is_empty() || def.roles.iter().any(|r| topo.nodes[i].has_role(r))
                })
                .collect();
            // Locked values first, while still free; readers already point at them.
            let mut rest = Vec::new();
            for i in openers {
                let n = &topo.nodes[i];
                let locked = lock
                    .and_then(|l| l.nodes.get(&n.name))
                    .filter(|l| l.host == host.name)
                    .and_then(|l| l.ports.get(&def.name).copied());
                match locked {
                    Some(p) if !used.contains(&p) && p <= hi_limit => {
                        used.insert(p);
                        ports[i].insert(def.name.clone(), p);
                    }
                    Some(p) => {
                        moved.insert(
                            format!("{}#{}", n.name, def.name),
                            format!("port {p} is now taken on `{}`", host.name),
                        );
                        rest.push(i);
                    }
                    None => rest.push(i),
                }
            }
            for i in rest {
                let from = if def.follows_offset {
                    def.base + offsets[i]
                } else {
                    def.base
                };
                let Some(p) = (from..=hi_limit).find(|p| !used.contains(p)) else {
                    return Err(vec![Diagnostic::error(
                        "unsatisfiable",
                        format!(
                            "no free `{}` port for `{}` on host `{}`",
                            def.name, topo.nodes[i].name, host.name
                        ),
                    )
                    .at(topo.nodes[i].name_span.clone(), "this node opens it")]);
                };
                used.insert(p);
                ports[i].insert(def.name.clone(), p);
            }
        }
    }
    Ok(ports)
}

/// Nodes per host (indices into `topo.nodes`), each list in name order: built once, so no
/// step scans every node for every host.
fn host_members(topo: &Topology) -> Vec<Vec<usize>> {
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); topo.hosts.len()];
    for (i, n) in topo.nodes.iter().enumerate() {
        members[n.host].push(i);
    }
    for m in &mut members {
        m.sort_by(|&a, &b| topo.nodes[a].name.cmp(&topo.nodes[b].name));
    }
    members
}

/// Why node `i` has its offset. `at` maps each offset on the node's host to its node (offsets
/// are distinct on a host), so each smaller offset's reason is a lookup per pair of bases.
fn offset_reason(
    topo: &Topology,
    bases: &[u32],
    offsets: &[u32],
    i: usize,
    at: &std::collections::HashMap<u32, usize>,
) -> String {
    let node = &topo.nodes[i];
    if node.pin.is_some() {
        return format!("pinned to {} in the topology", offsets[i]);
    }
    let host = &topo.hosts[node.host];
    let why = |k: u32| -> String {
        // The first node (in file order), then base, whose port offset `k` would take.
        let mut best: Option<(usize, usize)> = None;
        for (ai, a) in bases.iter().enumerate() {
            for b in bases {
                let Some(o) = (k + a).checked_sub(*b) else {
                    continue;
                };
                if let Some(&j) = at.get(&o).filter(|&&j| j != i) {
                    if best.is_none_or(|x| (j, ai) < x) {
                        best = Some((j, ai));
                    }
                }
            }
        }
        if let Some((j, ai)) = best {
            return format!("{k} (port {} of `{}`)", bases[ai] + k, topo.nodes[j].name);
        }
        bases
            .iter()
            .find(|b| host.reserved_ports.iter().any(|r| r.0 == *b + k))
            .map(|b| format!("{k} (reserved port {})", b + k))
            .unwrap_or_else(|| format!("{k} (kept for a node earlier in name order)"))
    };
    let o = offsets[i];
    if o == 0 {
        "the smallest offset; nothing on the host rules it out".into()
    } else if o <= 6 {
        let ruled: Vec<String> = (0..o).map(why).collect();
        format!(
            "the smallest free offset on `{}`; ruled out: {}",
            host.name,
            ruled.join(", ")
        )
    } else {
        let ruled: Vec<String> = (0..3).map(why).collect();
        format!(
            "the smallest free offset on `{}`; {o} smaller offsets ruled out, e.g. {}",
            host.name,
            ruled.join(", ")
        )
    }
}

/// The place of each item in the order of `key`: comparing ranks is comparing keys.
fn ranks<T, K: Ord + ?Sized>(items: &[T], key: impl Fn(&T) -> &K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| key(&items[a]).cmp(key(&items[b])));
    let mut rank = vec![0; items.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    rank
}

fn build_plan(
    topo: &Topology,
    profile: &Profile,
    graph: &DependencyGraph,
    offsets: &[u32],
    host_info: &[HostInfo],
    per_node: &PerNode,
    mut warnings: Vec<Warning>,
) -> Plan {
    let mode = topo.key_validation.as_str();
    let bases = offset_bases(profile, mode);
    let mut at: Vec<std::collections::HashMap<u32, usize>> =
        vec![Default::default(); topo.hosts.len()];
    for (i, n) in topo.nodes.iter().enumerate() {
        at[n.host].insert(offsets[i], i);
    }
    // Every repeated string made once and shared (see `Text`): host names and addresses,
    // port names and protocols, and below, each reference's strings and each provider URL.
    let host_text: Vec<(Text, Text)> = topo
        .hosts
        .iter()
        .map(|h| (Text::from(&h.name), Text::from(&h.address)))
        .collect();
    let port_text: std::collections::HashMap<&str, (Text, Text)> = profile
        .port
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                (Text::from(&p.name), Text::from(&p.protocol)),
            )
        })
        .collect();
    let mut nodes: Vec<NodePlan> = Vec::with_capacity(topo.nodes.len());
    for (i, n) in topo.nodes.iter().enumerate() {
        let mut ports: Vec<PortPlan> = profile
            .opens(mode, &n.roles)
            .filter_map(|p| {
                let effective = match p.rule {
                    PortRule::PerNode => *per_node[i].get(&p.name)?,
                    PortRule::Every if p.follows_offset => p.base + offsets[i],
                    PortRule::Every => p.base,
                };
                let (name, protocol) = port_text[p.name.as_str()].clone();
                Some(PortPlan {
                    name,
                    protocol,
                    base: p.base,
                    effective,
                    follows_offset: p.follows_offset,
                    per_node: p.rule == PortRule::PerNode,
                })
            })
            .collect();
        ports.sort_by(|a, b| (a.effective, &a.name).cmp(&(b.effective, &b.name)));
        let (host, address) = host_text[n.host].clone();
        nodes.push(NodePlan {
            name: Text::from(&n.name),
            host,
            address,
            roles: n.roles.clone(),
            offset: offsets[i],
            pinned: n.pin.is_some(),
            offset_reason: offset_reason(topo, &bases, offsets, i, &at[n.host]),
            ports,
        });
    }

    // Links in (reader name, reference name) order, sorted on ranks rather than strings;
    // the sort is stable, so entries of one list keep the graph's order.
    let name_rank = ranks(&nodes, |n| &n.name);
    let ref_rank = ranks(&profile.reference, |r| &r.name);
    let mut edges: Vec<_> = graph.edge_references().collect();
    edges.sort_by_key(|e| (name_rank[graph[e.source()]], ref_rank[e.weight().reference]));
    let ref_text: Vec<[Text; 4]> = profile
        .reference
        .iter()
        .map(|r| [&r.kind, &r.name, &r.port, &r.file].map(Text::from))
        .collect();
    let mut whys: std::collections::HashMap<&str, Text> = Default::default();
    let mut urls: std::collections::HashMap<(usize, &str), Option<Text>> = Default::default();
    let mut links = Vec::with_capacity(edges.len());
    for e in edges {
        let (c, p) = (graph[e.source()], graph[e.target()]);
        let ri = e.weight().reference;
        let r = &profile.reference[ri];
        let provider = &nodes[p];
        let port_def = profile.port(&r.port).expect("profile checked port names");
        let port = provider.port(&r.port).unwrap_or(port_def.base);
        let url = urls
            .entry((p, r.port.as_str()))
            .or_insert_with(|| url(&port_def.protocol, &provider.address, port).map(Text::from))
            .clone();
        let why = e.weight().why.as_str();
        let why = whys.entry(why).or_insert_with(|| Text::from(why)).clone();
        let [kind, reference, port_name, file] = ref_text[ri].clone();
        links.push(LinkPlan {
            kind,
            reference,
            from: nodes[c].name.clone(),
            to: provider.name.clone(),
            port_name,
            port,
            url,
            file,
            why,
            each: r.providers == Providers::Each,
        });
    }

    let mut hosts = Vec::new();
    for (hi, h) in topo.hosts.iter().enumerate() {
        let mut members: Vec<&NodePlan> =
            host_info[hi].members.iter().map(|&i| &nodes[i]).collect();
        members.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
        let mut reserved: Vec<u32> = h.reserved_ports.iter().map(|r| r.0).collect();
        reserved.sort_unstable();
        if !host_info[hi].minimal {
            warnings.push(
                Warning::new(
                    "span-not-proven",
                    format!(
                        "host `{}`: span {} is at most {} above the smallest possible (lower bound {}); the exact search covers up to {} nodes a host",
                        h.name,
                        host_info[hi].span,
                        host_info[hi].span - host_info[hi].lower_bound,
                        host_info[hi].lower_bound,
                        offsets::EXACT_UP_TO
                    ),
                )
                .host(h.name.clone())
                .at(h.span.clone()),
            );
        }
        hosts.push(HostPlan {
            name: h.name.clone(),
            address: h.address.clone(),
            nodes: members.iter().map(|n| n.name.to_string()).collect(),
            reserved_ports: reserved,
            span: host_info[hi].span,
            span_minimal: host_info[hi].minimal,
            span_lower_bound: host_info[hi].lower_bound,
        });
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));

    if topo.nodes.len() > 1 {
        for role in &profile.role {
            let Some(why) = &role.single else { continue };
            let mut with = topo.nodes.iter().filter(|n| n.has_role(&role.name));
            if let (Some(only), None) = (with.next(), with.next()) {
                warnings.push(
                    Warning::new(
                        format!("single-{}", role.name),
                        format!("`{}` is the only `{}` node: {why}", only.name, role.name),
                    )
                    .node(only.name.clone())
                    .at(only.name_span.clone()),
                );
            }
        }
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    review_warnings(topo, profile, &nodes, &hosts, &links, &mut warnings);
    warnings.sort_by(|a, b| (&a.code, &a.message).cmp(&(&b.code, &b.message)));
    warnings.dedup_by(|a, b| a.code == b.code && a.message == b.message);
    let before = warnings.len();
    warnings.retain(|w| !topo.allow.iter().any(|(code, _)| *code == w.code));
    let silenced = before - warnings.len();
    let manual = manual_steps(profile, &nodes);
    let columns = profile
        .port
        .iter()
        .filter(|p| p.listens && p.in_mode(mode))
        .filter_map(|p| {
            Some(Column {
                title: p.column.clone()?,
                port: p.name.clone(),
                per_node: p.rule == PortRule::PerNode,
            })
        })
        .collect();

    Plan {
        schema: 1,
        deployment: topo.name.clone(),
        product: topo.product.clone(),
        home: profile.product.home.clone(),
        key_validation: topo.key_validation.clone(),
        mode: profile.mode_values(mode),
        columns,
        kinds: profile.kind.clone(),
        hosts,
        nodes,
        links,
        warnings,
        silenced,
        manual,
        changes: None,
    }
}

/// `scheme://host:port` for a port that speaks HTTP(S), with IPv6 bracketed; `None` otherwise.
fn url(protocol: &str, address: &str, port: u32) -> Option<String> {
    matches!(protocol, "http" | "https")
        .then(|| format!("{protocol}://{}:{port}", topoplan_model::url_host(address)))
}

/// The profile's manual sites, resolved to the nodes that read them and the values to set.
fn manual_steps(profile: &Profile, nodes: &[NodePlan]) -> Vec<ManualStep> {
    profile
        .manual
        .iter()
        .map(|m| {
            let readers: Vec<&NodePlan> = nodes
                .iter()
                .filter(|n| m.readers.iter().any(|r| n.has_role(r)))
                .collect();
            let values = match &m.port {
                Some(port) => {
                    let def = profile.port(port).expect("profile checked port names");
                    // A provider role: every node of it; none: each reader's own port.
                    let targets: Vec<&NodePlan> = match &m.provider {
                        Some(role) => nodes.iter().filter(|n| n.has_role(role)).collect(),
                        None => readers.clone(),
                    };
                    targets
                        .iter()
                        .map(|n| {
                            let p = n.port(port).unwrap_or(def.base);
                            ManualValue {
                                node: n.name.to_string(),
                                value: url(&def.protocol, &n.address, p).unwrap_or_else(|| {
                                    format!("{}:{p}", topoplan_model::url_host(&n.address))
                                }),
                            }
                        })
                        .collect()
                }
                None => Vec::new(),
            };
            ManualStep {
                name: m.name.clone(),
                file: m.file.clone(),
                element: m.element.clone(),
                default: m.default.clone(),
                action: m.action.clone(),
                nodes: readers.iter().map(|n| n.name.to_string()).collect(),
                values,
                evidence: m.evidence.clone(),
            }
        })
        .collect()
}

/// How close (in port numbers) a reserved port may sit to a used one before the review says
/// so: within this distance, moving one node by an offset or two collides with the other
/// software on the host.
pub const RESERVED_NEAR: u32 = 2;

/// Checks an architecture review asks for, beyond correctness: exposure and fragility.
fn review_warnings(
    topo: &Topology,
    profile: &Profile,
    nodes: &[NodePlan],
    hosts: &[HostPlan],
    links: &[LinkPlan],
    warnings: &mut Vec<Warning>,
) {
    let by_name: BTreeMap<&str, &NodePlan> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let spans: std::collections::HashMap<&str, &topoplan_model::Span> = topo
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), &n.name_span))
        .collect();
    let span_of = |name: &str| spans.get(name).map(|s| (*s).clone());
    let mut on_host: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in nodes {
        on_host.entry(n.host.as_str()).or_default().push(n);
    }
    for l in links {
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
            let mut w = Warning::new(
                "cross-host-link",
                format!(
                    "`{}` {text} at `{}` on another host: open TCP {}:{} on `{}` to traffic from `{}` ({})",
                    from.name, to.name, to.address, l.port, to.host, from.host, from.address
                ),
            )
            .node(from.name.clone())
            .node(to.name.clone());
            if let Some(s) = span_of(&from.name) {
                w = w.at(s);
            }
            warnings.push(w);
        }
    }
    for n in nodes {
        for p in n.ports.iter().filter(|p| p.effective < 1024) {
            let mut w = Warning::new(
                "privileged-port",
                format!(
                    "`{}` listens on {} port {} (below 1024): the JVM needs root or CAP_NET_BIND_SERVICE",
                    n.name, p.name, p.effective
                ),
            )
            .node(n.name.clone());
            if let Some(s) = span_of(&n.name) {
                w = w.at(s);
            }
            warnings.push(w);
        }
    }
    for h in hosts {
        // Per node, the reserved ports it sits next to; one warning per node keeps a host
        // that reserves the product's default ports readable.
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
            let mut w = Warning::new(
                "reserved-near",
                format!(
                    "`{n}` listens within {RESERVED_NEAR} of reserved port(s) on `{}`: {}; a small offset change would collide with the other software",
                    h.name,
                    pairs.join(", ")
                ),
            )
            .node(n)
            .host(h.name.clone());
            if let Some(s) = span_of(n) {
                w = w.at(s);
            }
            warnings.push(w);
        }
    }
}

/// Nodes grouped by host name, each group by offset then name; used by printers.
pub fn nodes_by_host(plan: &Plan) -> BTreeMap<&str, Vec<&NodePlan>> {
    let mut m: BTreeMap<&str, Vec<&NodePlan>> = BTreeMap::new();
    for n in &plan.nodes {
        m.entry(n.host.as_str()).or_default().push(n);
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
    }
    m
}
