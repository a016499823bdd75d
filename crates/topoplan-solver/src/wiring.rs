//! Step 1, wiring: a petgraph graph with one edge per (reader node, reference, provider), providers chosen
//! by rule (the node itself, an explicit `[[link]]`, the lock's choice, the only candidate, the same host).

use crate::plan::*;
use crate::{Dependency, DependencyGraph};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use topoplan_model::Code;
use topoplan_model::{Diagnostic, Lock, Profile, Providers, ReferenceDef, Topology};

/// Builds the dependency graph: one edge per (reader node, reference, provider), preferring
/// among equal candidates the providers the lock recorded, so that a new node never takes over
/// a value an existing node already points at. Returns the diagnostics for readers a reference
/// is `required_for` that have no usable provider, and for links that disagree; other
/// unresolved references become warnings.
pub fn wire_locked(
    topo: &Topology,
    profile: &Profile,
    lock: Option<&Lock>,
    warnings: &mut Vec<Warning>,
) -> (Wired, Vec<Diagnostic>) {
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
    let mut locked_lists: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, l) in lock.iter().flat_map(|l| &l.lists).enumerate() {
        for reader in &l.readers {
            locked_lists.insert((reader.as_str(), l.reference.as_str()), i);
        }
    }
    let mut graph = DependencyGraph::new();
    let idx: Vec<NodeIndex> = (0..topo.nodes.len()).map(|i| graph.add_node(i)).collect();
    let mut w = Wiring {
        topo,
        profile,
        locked,
        lock_sets: (lock.iter().flat_map(|l| &l.lists))
            .map(|l| {
                let entries = l.entries.iter().map(|e| e.to.as_str()).collect();
                (l.reference.as_str(), entries)
            })
            .collect(),
        locked_lists,
        roles: RoleIndex::new(topo),
        graph,
        idx,
        lists: Vec::new(),
        list_of: vec![None; profile.reference.len()],
        joined: BTreeMap::new(),
        diags: Vec::new(),
        warnings,
        reported: BTreeSet::new(),
    };
    for ci in 0..topo.nodes.len() {
        for (ri, r) in profile.reference.iter().enumerate() {
            let consumer = &topo.nodes[ci];
            if r.in_mode(&topo.mode) && r.readers.iter().any(|c| consumer.has_role(c)) {
                w.reference(ci, ri);
            }
        }
    }
    let wired = Wired {
        graph: w.graph,
        lists: w.lists,
    };
    let mut diags = w.diags;
    diags.extend(ipv6_errors(topo, profile, &wired));
    diags.extend(unserved_errors(topo, profile, &wired));
    unserved_warnings(topo, profile, &wired, warnings);
    long_list_warning(topo, profile, &wired, warnings);
    unused_link_warnings(topo, &wired.graph, warnings);
    (wired, diags)
}

/// The wiring: the graph of every link a reader holds one by one, and the lists readers share.
pub struct Wired {
    pub graph: DependencyGraph,
    pub lists: Vec<SharedList>,
}

/// A list of providers every reader of one reference shares (where no `[[link]]` narrows its
/// list and it is no provider itself): the plan's `ListPlan`.
pub struct SharedList {
    pub reference: usize,
    /// Providers in the list's order, with how each was chosen.
    pub entries: Vec<(usize, String)>,
    /// Each provider's position in `entries`.
    pub at: std::collections::HashMap<usize, u32>,
    /// Readers, with the entries (positions in `entries`) each puts before the others.
    pub readers: Vec<(usize, Vec<u32>)>,
}

impl Wired {
    /// The pairs of reference `ri` only (a list of another reference is not walked).
    pub fn pairs_of(&self, ri: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let g = &self.graph;
        g.edge_references()
            .filter(move |e| e.weight().reference == ri)
            .map(move |e| (g[e.source()], g[e.target()]))
            .chain(
                self.lists
                    .iter()
                    .filter(move |l| l.reference == ri)
                    .flat_map(|l| {
                        l.readers
                            .iter()
                            .flat_map(move |(c, _)| l.entries.iter().map(move |(p, _)| (*c, *p)))
                    }),
            )
    }
}

/// The state of wiring: the graph so far and what has been reported, once per reader and
/// provider role.
struct Wiring<'a, 'w> {
    topo: &'a Topology,
    profile: &'a Profile,
    locked: LockedProviders<'a>,
    /// The lock's shared lists (reference, the providers it held), made into sets once (an
    /// estate's readers each look one up), and which one each (reader, reference) was in.
    lock_sets: Vec<(&'a str, HashSet<&'a str>)>,
    locked_lists: BTreeMap<(&'a str, &'a str), usize>,
    roles: RoleIndex<'a>,
    graph: DependencyGraph,
    idx: Vec<NodeIndex>,
    lists: Vec<SharedList>,
    /// The shared list of each reference, once made.
    list_of: Vec<Option<usize>>,
    /// Where each (reader, reference) joined a shared list: (list, reader position).
    joined: BTreeMap<(usize, usize), (usize, usize)>,
    diags: Vec<Diagnostic>,
    warnings: &'w mut Vec<Warning>,
    reported: BTreeSet<(usize, String)>,
}

impl<'a> Wiring<'a, '_> {
    fn edge(&mut self, ci: usize, pi: usize, reference: usize, why: String) {
        let (c, p) = (self.idx[ci], self.idx[pi]);
        self.graph.add_edge(c, p, Dependency { reference, why });
    }

    /// The providers the lock recorded for this reader and reference.
    fn had(&self, ci: usize, ri: usize) -> Vec<&'a str> {
        let r = &self.profile.reference[ri];
        let from = self.topo.nodes[ci].name.as_str();
        (self.locked.get(from).and_then(|m| m.get(r.name.as_str())))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether this is the first report of its kind for the reader.
    fn first(&mut self, ci: usize, key: String) -> bool {
        self.reported.insert((ci, key))
    }

    /// Wires reference `ri` of reader `ci`: every provider of a list, or the one chosen; a
    /// derived reference exactly where its source points (the product computes one from the
    /// other).
    fn reference(&mut self, ci: usize, ri: usize) {
        let (topo, r) = (self.topo, &self.profile.reference[ri]);
        if let Some(src) = &r.derived_from {
            let si = self
                .profile
                .reference
                .iter()
                .position(|x| &x.name == src)
                .expect("profile check: derived_from names a reference");
            if let Some(&(li, at)) = self.joined.get(&(ci, si)) {
                self.join_derived(ci, ri, li, at, src);
                return;
            }
            // In the order the source's edges were added (its list order).
            let mut targets: Vec<(usize, usize)> = self
                .graph
                .edges(self.idx[ci])
                .filter(|e| e.weight().reference == si)
                .map(|e| (e.id().index(), self.graph[e.target()]))
                .collect();
            targets.sort_unstable();
            for (_, pi) in targets {
                self.edge(ci, pi, ri, format!("derived by the product from `{src}`"));
            }
            return;
        }
        if r.providers == Providers::Each {
            if !topo.nodes[ci].has_role(&r.provider)
                && self.roles.links_to_role(topo, ci, r).is_empty()
            {
                self.join_list(ci, ri);
                return;
            }
            let mut list = one_per_cluster(topo, r, each_provider(topo, &self.roles, ci, r));
            // Entries the lock already had keep their places before new ones, so the first
            // entry (the product's default) stays.
            let had = self.had(ci, ri);
            list.sort_by_key(|(p, _)| !had.contains(&topo.nodes[*p].name.as_str()));
            // The product reads a single value of the same file from the list's first entry
            // (the store shows the first environment): what that value's link chose goes first.
            if let Some(first) = self.sibling_choice(ci, r) {
                if let Some(i) = list.iter().position(|(p, _)| *p == first) {
                    let entry = list.remove(i);
                    list.insert(0, entry);
                }
            }
            for (pi, why) in list {
                self.edge(ci, pi, ri, why);
            }
            return;
        }
        match choose_provider(topo, self.profile, &self.roles, ci, r) {
            Ok((pi, why)) => {
                let (pi, why) = through_manager(topo, r, pi, why);
                self.edge(ci, pi, ri, why)
            }
            Err(Choice::Conflict(links)) => {
                if self.first(ci, format!("conflict:{}", r.provider)) {
                    self.diags.push(conflicting_links(topo, ci, r, &links));
                }
            }
            Err(Choice::None) => self.no_provider(ci, r),
            Err(Choice::Many(cands)) => match one_cluster(topo, &cands) {
                // Members of one cluster are one provider: any serves it.
                Some(c) => {
                    let why = format!(
                        "a member of cluster `{}`: any member serves it",
                        topo.clusters[c].name
                    );
                    let (pi, why) = through_manager(topo, r, cands[0], why);
                    self.edge(ci, pi, ri, why)
                }
                None => self.several_providers(ci, ri, &cands),
            },
        }
    }

    /// Reader `ci` of list reference `ri` with no `[[link]]` narrowing it: it joins the
    /// reference's shared list (every provider, made on first use), with its own order.
    fn join_list(&mut self, ci: usize, ri: usize) {
        let li = self.list_for(ri, |w| w.new_list(ci, ri));
        if self.lists[li].entries.is_empty() {
            return;
        }
        let first = self.first_entries(ci, li);
        self.join(ci, ri, li, first);
    }

    /// The shared list of reference `ri`, made by `make` on first use.
    fn list_for(&mut self, ri: usize, make: impl FnOnce(&Self) -> SharedList) -> usize {
        if let Some(li) = self.list_of[ri] {
            return li;
        }
        let list = make(self);
        self.lists.push(list);
        self.list_of[ri] = Some(self.lists.len() - 1);
        self.lists.len() - 1
    }

    /// Reader `ci` of reference `ri` joins shared list `li`, putting `first` first.
    fn join(&mut self, ci: usize, ri: usize, li: usize, first: Vec<u32>) {
        let list = &mut self.lists[li];
        list.readers.push((ci, first));
        self.joined.insert((ci, ri), (li, list.readers.len() - 1));
    }

    /// The shared list of reference `ri`: every provider (a cluster once), the entries a locked
    /// list of the reference had first (so that a new provider never takes the first place), then
    /// by name. `ci` is its first reader, whose locked list is the one looked at.
    fn new_list(&self, ci: usize, ri: usize) -> SharedList {
        let (topo, r) = (self.topo, &self.profile.reference[ri]);
        let why = format!(
            "every `{}` node, as no `[[link]]` narrows the list",
            r.provider
        );
        let mut all: Vec<usize> = self.roles.with_role(&r.provider).to_vec();
        let had = match self
            .lock_sets
            .iter()
            .find(|(reference, _)| *reference == r.name)
        {
            Some((_, set)) => Cow::Borrowed(set),
            None => self.locked_set(ci, ri),
        };
        all.sort_by(|&a, &b| {
            let key = |p: usize| {
                (
                    !had.contains(topo.nodes[p].name.as_str()),
                    &topo.nodes[p].name,
                )
            };
            key(a).cmp(&key(b))
        });
        let entries: Vec<(usize, String)> =
            one_per_cluster(topo, r, all.into_iter().map(|p| (p, why.clone())).collect());
        SharedList {
            reference: ri,
            at: positions(&entries),
            entries,
            readers: Vec::new(),
        }
    }

    /// The providers the lock had for reader `ci` and reference `ri`, in a shared list or as
    /// links.
    fn locked_set(&self, ci: usize, ri: usize) -> Cow<'_, HashSet<&'a str>> {
        let from = self.topo.nodes[ci].name.as_str();
        let reference = self.profile.reference[ri].name.as_str();
        match self.locked_lists.get(&(from, reference)) {
            Some(&i) => Cow::Borrowed(&self.lock_sets[i].1),
            None => Cow::Owned(self.had(ci, ri).into_iter().collect()),
        }
    }

    /// The entries reader `ci` puts before the others of shared list `li`, as positions: its
    /// order is the lock's entries first, its own host's first within those, by list position
    /// otherwise, and a single value's `[[link]]` choice of the same file before all. Kept as
    /// the shortest head after which the reader's order is the list's.
    fn first_entries(&self, ci: usize, li: usize) -> Vec<u32> {
        let (topo, list) = (self.topo, &self.lists[li]);
        let r = &self.profile.reference[list.reference];
        let had = self.locked_set(ci, list.reference);
        let host = topo.nodes[ci].host;
        let chosen = self.sibling_choice(ci, r);
        if had.is_empty() && chosen.is_none() {
            return self.own_host_first(ci, li);
        }
        // Four buckets, each in list order: (had, same host), (had, other), (new, same), (new, other).
        let mut buckets: [Vec<u32>; 4] = Default::default();
        for (i, &(p, _)) in list.entries.iter().enumerate() {
            let n = &topo.nodes[p];
            let b = 2 * usize::from(!had.is_empty() && !had.contains(n.name.as_str()))
                + usize::from(n.host != host);
            buckets[b].push(i as u32);
        }
        let mut order: Vec<u32> = buckets.concat();
        if let Some(chosen) = chosen {
            if let Some(at) = order
                .iter()
                .position(|&i| list.entries[i as usize].0 == chosen)
            {
                let i = order.remove(at);
                order.insert(0, i);
            }
        }
        // The longest tail in list order is implied; the head before it is kept.
        let mut k = order.len();
        while k > 0 && (k == order.len() || order[k - 1] < order[k]) {
            k -= 1;
        }
        order.truncate(k);
        order
    }

    /// [`Self::first_entries`] with no lock and no link: the entries on the reader's own host,
    /// found through the host's members (an estate's readers each look at a few, not at the
    /// whole list). None when they already lead the list.
    fn own_host_first(&self, ci: usize, li: usize) -> Vec<u32> {
        let (topo, list) = (self.topo, &self.lists[li]);
        let host = topo.nodes[ci].host;
        let mut same: Vec<u32> = self.roles.on_host[host]
            .iter()
            .filter_map(|&p| list.at.get(&p).copied())
            .collect();
        same.sort_unstable();
        // Own host first, then the rest in list order: the list's order itself when those lead
        // it (positions 0..len).
        if same.iter().enumerate().all(|(i, &p)| p as usize == i) {
            return Vec::new();
        }
        same
    }

    /// Reader `ci` of reference `ri`, derived from a reference it reads through shared list
    /// `li` (reader position `at`): the derived reference's shared list holds the same entries.
    fn join_derived(&mut self, ci: usize, ri: usize, li: usize, at: usize, src: &str) {
        let di = self.list_for(ri, |w| {
            let why = format!("derived by the product from `{src}`");
            let entries: Vec<(usize, String)> = (w.lists[li].entries.iter())
                .map(|&(p, _)| (p, why.clone()))
                .collect();
            SharedList {
                reference: ri,
                at: positions(&entries),
                entries,
                readers: Vec::new(),
            }
        });
        let first = self.lists[li].readers[at].1.clone();
        self.join(ci, ri, di, first);
    }

    /// The provider a single-provider reference of the same provider and file as list `r`
    /// takes for reader `ci`, when a `[[link]]` decides it.
    fn sibling_choice(&self, ci: usize, r: &ReferenceDef) -> Option<usize> {
        let consumer = &self.topo.nodes[ci];
        if consumer.has_role(&r.provider) {
            // It provides the single value itself, and comes first in the list anyway.
            return None;
        }
        let sibling = self.profile.reference.iter().find(|o| {
            o.providers == Providers::One
                && o.provider == r.provider
                && o.file == r.file
                && o.in_mode(&self.topo.mode)
                && o.readers.iter().any(|c| consumer.has_role(c))
        })?;
        match self.roles.links_to_role(self.topo, ci, sibling).as_slice() {
            [l] => Some(self.topo.links[*l].to),
            _ => None,
        }
    }

    /// No provider: an error for a reader that needs it, else a warning.
    fn no_provider(&mut self, ci: usize, r: &ReferenceDef) {
        let consumer = &self.topo.nodes[ci];
        if let Some(role) = required(r, consumer) {
            if self.first(ci, format!("required:{}", r.provider)) {
                self.diags.push(missing_provider(consumer, role, r));
            }
        } else if self.first(ci, r.provider.clone()) {
            self.warnings.push(unwired(consumer, r));
        }
    }

    /// Several candidates and no link: an error for a reader that needs one, else the lock's
    /// choice, or the first (same host first, then by name), with a warning.
    fn several_providers(&mut self, ci: usize, ri: usize, cands: &[usize]) {
        let (topo, r) = (self.topo, &self.profile.reference[ri]);
        let consumer = &topo.nodes[ci];
        if let Some(role) = required(r, consumer) {
            if self.first(ci, format!("required:{}", r.provider)) {
                let mut cands = cands.to_vec();
                cands.sort_by_key(|&c| self.roles.preference(topo, ci, c));
                self.diags
                    .push(ambiguous_provider(topo, ci, role, r, &cands));
            }
            return;
        }
        let had = self.had(ci, ri);
        let kept = (cands.iter().copied())
            .filter(|&c| had.contains(&topo.nodes[c].name.as_str()))
            .min_by_key(|&c| self.roles.preference(topo, ci, c));
        let pi = kept.unwrap_or(cands[0]);
        if self.first(ci, r.provider.clone()) {
            self.warnings.push(chose_one(topo, ci, pi, r));
        }
        let why = if kept.is_some() {
            "several candidates; kept the one in the lock"
        } else {
            "several candidates; same host first, then by name"
        };
        self.edge(ci, pi, ri, why.into());
    }
}

/// `ipv6-unsupported`: a reference the profile says its readers cannot use with an IPv6
/// literal, pointing at a provider on an IPv6 address.
fn ipv6_errors(topo: &Topology, profile: &Profile, wired: &Wired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let pairs = (profile.reference.iter().enumerate())
        .filter(|(_, r)| r.ipv6.is_some())
        .flat_map(|(ri, _)| wired.pairs_of(ri).map(move |(c, p)| (c, p, ri)));
    for (c, p, ri) in pairs {
        let r = &profile.reference[ri];
        let Some(why) = &r.ipv6 else { continue };
        let provider = &topo.nodes[p];
        let host = &topo.hosts[provider.host];
        if c != p && host.address.contains(':') {
            out.push(ipv6_unsupported(topo, c, p, r, why));
        }
    }
    out
}

// Messages: one function per problem, named after it.

fn ipv6_unsupported(
    topo: &Topology,
    c: usize,
    p: usize,
    r: &ReferenceDef,
    why: &str,
) -> Diagnostic {
    let (consumer, provider) = (&topo.nodes[c], &topo.nodes[p]);
    let host = &topo.hosts[provider.host];
    Diagnostic::new(
        Code::Ipv6Unsupported,
        format!(
            "`{}` reads `{}` from `{}`, whose host `{}` has the IPv6 address `{}`",
            consumer.name, r.name, provider.name, host.name, host.address
        ),
    )
    .at(host.span.clone(), "an IPv6 literal")
    .also(consumer.name_span.clone(), "reads it")
    .note(why.to_string())
    .note(format!(
        "give host `{}` a host name that resolves to its IPv6 address (`address = \"km.example.net\"`), or choose a mode without this value",
        host.name
    ))
}

fn conflicting_links(topo: &Topology, ci: usize, r: &ReferenceDef, links: &[usize]) -> Diagnostic {
    let l0 = &topo.links[links[0]];
    let named: Vec<String> = links
        .iter()
        .map(|&l| format!("`{}`", topo.nodes[topo.links[l].to].name))
        .collect();
    let mut d = Diagnostic::new(
        Code::ConflictingLinks,
        format!(
            "`{}` reads one `{}` for `{}`, but its links name {}",
            topo.nodes[ci].name,
            r.provider,
            r.name,
            named.join(" and ")
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
    d.note(format!(
        "{} ({}) holds a single `{}` address; keep one of these links",
        r.file, r.element, r.provider
    ))
}

fn missing_provider(consumer: &topoplan_model::Node, role: &str, r: &ReferenceDef) -> Diagnostic {
    Diagnostic::new(
        Code::MissingProvider,
        format!(
            "`{}` ({role}) needs a `{}` node for `{}`, and there is none",
            consumer.name, r.provider, r.name
        ),
    )
    .at(
        consumer.roles_span.clone(),
        format!("this node is a `{role}`"),
    )
    .note(format!(
        "add a node with role `{}` (or give this node that role too)",
        r.provider
    ))
}

fn unwired(consumer: &topoplan_model::Node, r: &ReferenceDef) -> Warning {
    Warning::new(
        Code::Unwired,
        format!(
            "`{}` ({}) has no `{}` node to point at: references such as `{}` keep their default",
            consumer.name,
            consumer.roles.join(", "),
            r.provider,
            r.name
        ),
    )
    .node(consumer.name.clone())
    .at(consumer.roles_span.clone())
}

fn ambiguous_provider(
    topo: &Topology,
    ci: usize,
    role: &str,
    r: &ReferenceDef,
    cands: &[usize],
) -> Diagnostic {
    let consumer = &topo.nodes[ci];
    let names: Vec<_> = cands
        .iter()
        .map(|&c| format!("`{}`", topo.nodes[c].name))
        .collect();
    let mut d = Diagnostic::new(
        Code::AmbiguousProvider,
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
    for &c in cands {
        d = d.also(topo.nodes[c].name_span.clone(), "a candidate");
    }
    d.note(format!(
        "add a `[[link]]` with `from = \"{}\"` and `to = \"{}\"`",
        consumer.name, topo.nodes[cands[0]].name
    ))
}

fn chose_one(topo: &Topology, ci: usize, pi: usize, r: &ReferenceDef) -> Warning {
    let consumer = &topo.nodes[ci];
    Warning::new(
        Code::SeveralProviders,
        format!(
            "`{}` could use several `{}` nodes; chose `{}` (add a `[[link]]` to choose another)",
            consumer.name, r.provider, topo.nodes[pi].name
        ),
    )
    .node(consumer.name.clone())
    .node(topo.nodes[pi].name.clone())
    .at(consumer.name_span.clone())
}

/// The first of a reference's `required_for` roles the consumer has: it cannot work without
/// the provider, so a missing or ambiguous one is an error.
pub(crate) fn required<'r>(
    r: &'r ReferenceDef,
    consumer: &topoplan_model::Node,
) -> Option<&'r str> {
    r.required_for
        .iter()
        .find(|role| consumer.has_role(role))
        .map(String::as_str)
}

/// Each provider's position in a list.
fn positions(entries: &[(usize, String)]) -> std::collections::HashMap<usize, u32> {
    (entries.iter().enumerate())
        .map(|(i, &(p, _))| (p, i as u32))
        .collect()
}

/// Providers a lock recorded, by reader, then reference.
pub(crate) type LockedProviders<'l> = BTreeMap<&'l str, BTreeMap<&'l str, Vec<&'l str>>>;

/// Nodes by role and links by source, built once so that wiring is linear in the topology.
pub(crate) struct RoleIndex<'t> {
    by_role: BTreeMap<&'t str, Vec<usize>>,
    links_from: Vec<Vec<usize>>,
    /// Each node's place in name order.
    name_rank: Vec<u32>,
    /// Nodes by host.
    on_host: Vec<Vec<usize>>,
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
        let mut by_name: Vec<usize> = (0..topo.nodes.len()).collect();
        by_name.sort_by(|&a, &b| topo.nodes[a].name.cmp(&topo.nodes[b].name));
        let mut name_rank = vec![0u32; by_name.len()];
        for (r, &i) in by_name.iter().enumerate() {
            name_rank[i] = r as u32;
        }
        let mut on_host = vec![Vec::new(); topo.hosts.len()];
        for (i, n) in topo.nodes.iter().enumerate() {
            on_host[n.host].push(i);
        }
        RoleIndex {
            by_role,
            links_from,
            name_rank,
            on_host,
        }
    }

    /// [`preference`] as integers: the node itself, then its own host, then by name.
    fn preference(&self, topo: &Topology, ci: usize, pi: usize) -> (bool, bool, u32) {
        (
            pi != ci,
            topo.nodes[pi].host != topo.nodes[ci].host,
            self.name_rank[pi],
        )
    }

    fn with_role(&self, role: &str) -> &[usize] {
        self.by_role.get(role).map_or(&[], Vec::as_slice)
    }

    /// Indices into `topo.links` of the links from `ci` to a node with `role`.
    fn links_to_role(&self, topo: &Topology, ci: usize, r: &ReferenceDef) -> Vec<usize> {
        self.links_from[ci]
            .iter()
            .copied()
            .filter(|&l| {
                let link = &topo.links[l];
                topo.nodes[link.to].has_role(&r.provider) && link.decides(&r.kind)
            })
            .collect()
    }
}

/// The order every provider choice uses, so that a single reference and a list of the same
/// role in one node agree on who comes first: the node itself, then its own host, then name.
pub(crate) fn preference(topo: &Topology, ci: usize, pi: usize) -> (bool, bool, &str) {
    (
        pi != ci,
        topo.nodes[pi].host != topo.nodes[ci].host,
        topo.nodes[pi].name.as_str(),
    )
}

pub(crate) fn each_provider(
    topo: &Topology,
    roles: &RoleIndex,
    ci: usize,
    r: &ReferenceDef,
) -> Vec<(usize, String)> {
    let linked = roles.links_to_role(topo, ci, r);
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

pub(crate) enum Choice {
    None,
    /// Several candidates, the best first (the others in no particular order).
    Many(Vec<usize>),
    /// Several `[[link]]`s (indices into `topo.links`) name different providers.
    Conflict(Vec<usize>),
}

pub(crate) fn choose_provider(
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
    let linked = roles.links_to_role(topo, ci, r);
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
    let cands = roles.with_role(&r.provider);
    match cands.len() {
        0 => Err(Choice::None),
        1 => Ok((cands[0], format!("the only `{}` node", r.provider))),
        _ => {
            // Only the best is needed unless this is an error (an estate's store has
            // thousands of candidate gateways): it goes first, the rest in role order.
            let mut cands = cands.to_vec();
            let best = (0..cands.len())
                .min_by_key(|&i| roles.preference(topo, ci, cands[i]))
                .expect("two candidates at least");
            cands.swap(0, best);
            Err(Choice::Many(cands))
        }
    }
}

/// The cluster every candidate is a member of, if they share one: any of them serves the
/// reference (they share state, and a browser-facing value names the front end anyway).
fn one_cluster(topo: &Topology, cands: &[usize]) -> Option<usize> {
    let c = topo.nodes[*cands.first()?].cluster?;
    cands
        .iter()
        .all(|&p| topo.nodes[p].cluster == Some(c))
        .then_some(c)
}

/// For a reference only a manager may provide (`manager` in the profile), the manager of the
/// provider's cluster instead of a worker.
fn through_manager(topo: &Topology, r: &ReferenceDef, pi: usize, why: String) -> (usize, String) {
    if !r.manager {
        return (pi, why);
    }
    let Some(c) = topo.nodes[pi].cluster.map(|c| &topo.clusters[c]) else {
        return (pi, why);
    };
    match c.manager {
        Some(m) if m != pi => (
            m,
            format!(
                "the manager of cluster `{}` (workers refuse admin calls)",
                c.name
            ),
        ),
        _ => (pi, why),
    }
}

/// A list of providers names each cluster once: by its manager for a reference only a manager
/// may provide, by its first member (the value is its front end) for one a browser follows
/// through a front end. Other providers stay as they are, in order.
fn one_per_cluster(
    topo: &Topology,
    r: &ReferenceDef,
    list: Vec<(usize, String)>,
) -> Vec<(usize, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (pi, why) in list {
        let Some(ci) = topo.nodes[pi].cluster else {
            out.push((pi, why));
            continue;
        };
        let c = &topo.clusters[ci];
        let (pi, why) = if r.manager && c.manager.is_some() {
            through_manager(topo, r, pi, why)
        } else if r.front && c.frontend.is_some() {
            (pi, format!("cluster `{}`, through its front end", c.name))
        } else {
            out.push((pi, why));
            continue;
        };
        if seen.insert(ci) {
            out.push((pi, why));
        }
    }
    out
}

/// `unused-link`: a `[[link]]` no value follows (the reader has the provider's role itself,
/// or its kinds name no value between the two): it changes nothing, which is not what its
/// author meant.
fn unused_link_warnings(topo: &Topology, g: &DependencyGraph, warnings: &mut Vec<Warning>) {
    let used: BTreeSet<(usize, usize)> = g
        .edge_references()
        .map(|e| (g[e.source()], g[e.target()]))
        .collect();
    for l in topo
        .links
        .iter()
        .filter(|l| !used.contains(&(l.from, l.to)))
    {
        let (from, to) = (&topo.nodes[l.from], &topo.nodes[l.to]);
        warnings.push(
            Warning::new(
                Code::UnusedLink,
                format!(
                    "the link from `{}` to `{}` changes nothing: no value `{}` reads comes from `{}` through it (it provides them itself, or the link's kinds name none); remove it, or link to the node it should use",
                    from.name, to.name, from.name, to.name
                ),
            )
            .node(from.name.clone())
            .node(to.name.clone())
            .at(l.span.clone()),
        );
    }
}

/// Above this many providers in one reader's list, the topology gets `long-lists`.
pub const LONG_LIST: usize = 100;

/// `long-lists`: lists of providers that span an estate (every publisher serving every gateway,
/// every gateway allowing every store) because no link scopes them: each entry is written into
/// the reader's files and planned, reviewed and bundled. Once, naming the largest.
fn long_list_warning(
    topo: &Topology,
    profile: &Profile,
    wired: &Wired,
    warnings: &mut Vec<Warning>,
) {
    let g = &wired.graph;
    let mut count: std::collections::HashMap<(usize, usize), usize> = Default::default();
    for e in g.edge_references() {
        let ri = e.weight().reference;
        if profile.reference[ri].providers == Providers::Each {
            *count.entry((g[e.source()], ri)).or_default() += 1;
        }
    }
    for l in &wired.lists {
        for &(c, _) in &l.readers {
            *count.entry((c, l.reference)).or_default() += l.entries.len();
        }
    }
    let long: Vec<(&(usize, usize), &usize)> =
        count.iter().filter(|(_, n)| **n > LONG_LIST).collect();
    let Some((&(reader, ri), &n)) = long
        .iter()
        .copied()
        .max_by_key(|((reader, ri), n)| (**n, std::cmp::Reverse((*reader, *ri))))
    else {
        return;
    };
    let entries: usize = count.values().sum();
    let r = &profile.reference[ri];
    let node = &topo.nodes[reader];
    warnings.push(
        Warning::new(
            Code::LongLists,
            format!(
                "`{}` lists {n} `{}` nodes in `{}` ({} list(s) of more than {LONG_LIST}; {entries} list entries in all): each is written into the readers' files; scope the readers with `[[link]]`s, or put the providers in a `[[cluster]]` behind one front end",
                node.name,
                r.provider,
                r.name,
                long.len()
            ),
        )
        .node(node.name.clone())
        .at(node.name_span.clone()),
    );
}

/// Which nodes the readers of list reference `ri` serve (`None` when it has no reader): the
/// providers listed, and every member of a cluster named once (by its manager, or through its
/// front end).
fn served_by(topo: &Topology, r: &ReferenceDef, ri: usize, wired: &Wired) -> Option<Vec<bool>> {
    let mut served = vec![false; topo.nodes.len()];
    let mut any_reader = false;
    let g = &wired.graph;
    let listed = wired
        .lists
        .iter()
        .filter(|l| l.reference == ri && !l.readers.is_empty())
        .flat_map(|l| l.entries.iter().map(|&(p, _)| p));
    let edges = g
        .edge_references()
        .filter(|e| e.weight().reference == ri)
        .map(|e| g[e.target()]);
    for p in edges.chain(listed) {
        any_reader = true;
        served[p] = true;
        if let Some(c) = topo.nodes[p].cluster {
            let c = &topo.clusters[c];
            if (r.manager && c.manager == Some(p)) || (r.front && c.frontend.is_some()) {
                for &m in &c.nodes {
                    served[m] = true;
                }
            }
        }
    }
    any_reader.then_some(served)
}

/// A provider that no reader of an `each` reference lists is cut off from its readers (a
/// gateway no publisher lists never receives an app): say so, naming it.
pub(crate) fn unserved_warnings(
    topo: &Topology,
    profile: &Profile,
    wired: &Wired,
    warnings: &mut Vec<Warning>,
) {
    for (ri, r) in profile.reference.iter().enumerate() {
        let Some(text) = &r.unserved else { continue };
        if !r.in_mode(&topo.mode) {
            continue;
        }
        let Some(served) = served_by(topo, r, ri, wired) else {
            continue;
        };
        for (i, n) in topo.nodes.iter().enumerate() {
            if n.has_role(&r.provider) && !served[i] {
                warnings.push(
                    Warning::new(Code::Unserved, format!("`{}` {text}", n.name))
                        .node(n.name.clone())
                        .at(n.name_span.clone()),
                );
            }
        }
    }
}

/// `unserved-provider`: a value (`served_by` in the profile) pointing at a provider that no
/// reader of the named list serves: a store showing the access URLs of a gateway no publisher
/// publishes to shows only dead links.
fn unserved_errors(topo: &Topology, profile: &Profile, wired: &Wired) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (ri, r) in profile.reference.iter().enumerate() {
        let Some(list) = &r.served_by else { continue };
        let Some(li) = profile.reference.iter().position(|x| &x.name == list) else {
            continue;
        };
        let l = &profile.reference[li];
        if !r.in_mode(&topo.mode) || !l.in_mode(&topo.mode) {
            continue;
        }
        let Some(served) = served_by(topo, l, li, wired) else {
            continue;
        };
        for (c, p) in wired.pairs_of(ri) {
            if !served[p] {
                out.push(unserved_provider(topo, c, p, r, l));
            }
        }
    }
    out
}

fn unserved_provider(
    topo: &Topology,
    c: usize,
    p: usize,
    r: &ReferenceDef,
    list: &ReferenceDef,
) -> Diagnostic {
    let (consumer, provider) = (&topo.nodes[c], &topo.nodes[p]);
    let link = topo.links.iter().find(|l| l.from == c && l.to == p);
    let d = Diagnostic::new(
        Code::UnservedProvider,
        format!(
            "`{}` reads `{}` from `{}`, which no `{}` list names",
            consumer.name, r.name, provider.name, list.name
        ),
    );
    let d = match link {
        Some(l) => d.at(
            l.span.clone(),
            format!("links `{}` to `{}`", consumer.name, provider.name),
        ),
        None => d.at(
            consumer.name_span.clone(),
            format!("chose `{}`", provider.name),
        ),
    };
    d.also(
        provider.name_span.clone(),
        "served by no reader of the list",
    )
    .note(format!(
        "`{}` {}: the value would point at a `{}` that gets nothing",
        provider.name,
        list.unserved.as_deref().unwrap_or("is in no list"),
        provider.roles.join(", ")
    ))
    .note(format!(
        "link `{}` to a `{}` that is listed, or link a reader of `{}` ({}) to `{}`",
        consumer.name,
        r.provider,
        list.name,
        list.readers.join(", "),
        provider.name
    ))
}
