//! Assembly: the solved offsets, ports and graph into a [`Plan`] sorted for byte-identical output.

use crate::plan::*;
use crate::wiring::Wired;
use crate::DependencyGraph;
use crate::{hosts::*, reasons::*, warnings::*};
use petgraph::visit::EdgeRef;
use topoplan_model::Code;
use topoplan_model::{PortRule, Profile, Providers, Topology};

/// The place of each item in the order of `key`: comparing ranks is comparing keys.
pub(crate) fn ranks<T, K: Ord + ?Sized>(items: &[T], key: impl Fn(&T) -> &K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| key(&items[a]).cmp(key(&items[b])));
    let mut rank = vec![0; items.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r;
    }
    rank
}

/// The solved offsets, ports and graph as a [`Plan`]: nodes, links, hosts, warnings, columns.
pub(crate) fn build_plan(
    topo: &Topology,
    profile: &Profile,
    wired: &Wired,
    offsets: &[u32],
    host_info: &[HostInfo],
    per_node: &PerNode,
    mut warnings: Vec<Warning>,
) -> Plan {
    let mode = topo.mode.as_str();
    let mut nodes = node_plans(topo, profile, offsets, per_node);
    let mut values = Values::new(topo, profile);
    let links = link_plans(profile, &wired.graph, &nodes, &mut values);
    let lists = list_plans(wired, &nodes, &mut values);
    let clusters = crate::clusters::cluster_plans(topo, profile, &nodes);
    crate::clusters::unfronted_warnings(topo, profile, wired, &mut warnings);
    let hosts = host_plans(topo, host_info, &nodes, &mut warnings);
    single_role_warnings(topo, profile, &mut warnings);
    shared_database_warning(topo, profile, &mut warnings);
    let databases = database_plans(topo, profile);
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    review_warnings(topo, profile, &nodes, &hosts, &links, &lists, &mut warnings);
    let silenced = settle_warnings(topo, &mut warnings);
    let manual = manual_steps(profile, &nodes);
    let mut plan = Plan {
        schema: 2,
        deployment: topo.name.clone(),
        product: topo.product.clone(),
        home: profile.product.home.clone(),
        mode: topo.mode.clone(),
        mode_values: profile.mode_values(mode),
        columns: columns(profile, mode),
        kinds: profile.kind.clone(),
        hosts,
        nodes,
        links,
        lists,
        list_uses: Vec::new(),
        warnings,
        silenced,
        manual,
        changes: None,
        databases,
        clusters,
        worker_options: profile
            .product
            .launcher
            .as_ref()
            .map(|l| l.worker_options.clone())
            .unwrap_or_default(),
    };
    plan.index_lists();
    plan
}

/// Every `[[database]]` with its datasources' URLs and readers, and the addresses its user is
/// granted from.
fn database_plans(topo: &Topology, profile: &Profile) -> Vec<DatabasePlan> {
    let mut out = Vec::new();
    for d in &topo.databases {
        let Some(engine) = profile.engine(&d.engine) else {
            continue;
        };
        let mut clients: Vec<String> = Vec::new();
        let datasources = profile
            .datasource
            .iter()
            .filter(|ds| d.datasources.contains(&ds.name))
            .map(|ds| {
                let readers: Vec<&topoplan_model::Node> = topo
                    .nodes
                    .iter()
                    .filter(|n| ds.readers.iter().any(|r| n.has_role(r)))
                    .collect();
                clients.extend(readers.iter().map(|n| topo.hosts[n.host].address.clone()));
                SharedDatasource {
                    name: ds.name.clone(),
                    datasource: ds.datasource.clone(),
                    jndi: ds.jndi.clone(),
                    database: ds.database.clone(),
                    url: engine
                        .url
                        .replace("{host}", &topoplan_model::url_host(&d.address))
                        .replace("{port}", &d.port.to_string())
                        .replace("{database}", &ds.database),
                    shipped: ds.shipped,
                    scripts: ds.scripts.get(&d.engine).cloned().unwrap_or_default(),
                    readers: readers.iter().map(|n| n.name.clone()).collect(),
                    reader_roles: ds.readers.clone(),
                }
            })
            .collect();
        clients.sort();
        clients.dedup();
        out.push(DatabasePlan {
            name: d.name.clone(),
            engine: d.engine.clone(),
            host: d.host.map(|h| topo.hosts[h].name.clone()),
            address: d.address.clone(),
            port: d.port,
            user: d.user.clone(),
            password_env: d.password_env.clone(),
            driver: engine.driver.clone(),
            validation_query: engine.validation_query.clone(),
            driver_note: engine.driver_note.clone(),
            clients,
            datasources,
        });
    }
    out
}

/// `no-shared-database`: several nodes, a product with shared datasources, and no
/// `[[database]]`: every node keeps its own embedded database.
fn shared_database_warning(topo: &Topology, profile: &Profile, warnings: &mut Vec<Warning>) {
    if topo.nodes.len() < 2 || profile.datasource.is_empty() || !topo.databases.is_empty() {
        return;
    }
    let names: Vec<&str> = profile.datasource.iter().map(|d| d.name.as_str()).collect();
    warnings.push(Warning::new(
        Code::NoSharedDatabase,
        format!(
            "{} nodes and no `[[database]]`: each node keeps its own embedded {} databases, so what one node writes (apps, users, the registry) the others never see; add a `[[database]]`",
            topo.nodes.len(),
            names.join(", ")
        ),
    ));
}

/// Every node with its offset, the reason for it, and the ports it really listens on, in the
/// topology's order.
fn node_plans(
    topo: &Topology,
    profile: &Profile,
    offsets: &[u32],
    per_node: &PerNode,
) -> Vec<NodePlan> {
    let mode = topo.mode.as_str();
    let bases = offset_bases(profile, mode);
    let mut at: Vec<std::collections::HashMap<u32, usize>> =
        vec![Default::default(); topo.hosts.len()];
    for (i, n) in topo.nodes.iter().enumerate() {
        at[n.host].insert(offsets[i], i);
    }
    // Every repeated string made once and shared (see `SharedStr`): host names and addresses,
    // port names and protocols, and in the links, each reference's strings and provider URL.
    let host_text: Vec<(SharedStr, SharedStr)> = topo
        .hosts
        .iter()
        .map(|h| (SharedStr::from(&h.name), SharedStr::from(&h.address)))
        .collect();
    let port_text: std::collections::HashMap<&str, (SharedStr, SharedStr)> = profile
        .port
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                (SharedStr::from(&p.name), SharedStr::from(&p.protocol)),
            )
        })
        .collect();
    let mut nodes: Vec<NodePlan> = Vec::with_capacity(topo.nodes.len());
    for (i, n) in topo.nodes.iter().enumerate() {
        let mut ports: Vec<PortPlan> = profile
            .opens(mode, &n.roles, n.cluster.is_some())
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
            name: SharedStr::from(&n.name),
            host,
            address,
            roles: n.roles.clone(),
            offset: offsets[i],
            pinned: n.pin.is_some(),
            offset_reason: offset_reason(topo, &bases, offsets, i, &at[n.host]),
            ports,
            cluster: n.cluster.map(|c| SharedStr::from(&topo.clusters[c].name)),
        });
    }
    nodes
}

/// What a link to a provider carries, made once per (provider, port) and reference: the shared
/// texts of every link and list entry.
struct Values<'t> {
    topo: &'t Topology,
    profile: &'t Profile,
    ref_text: Vec<[SharedStr; 4]>,
    whys: std::collections::HashMap<String, SharedStr>,
    urls: std::collections::HashMap<(usize, &'t str), Option<SharedStr>>,
}

impl<'t> Values<'t> {
    fn new(topo: &'t Topology, profile: &'t Profile) -> Self {
        let ref_text = profile
            .reference
            .iter()
            .map(|r| [&r.kind, &r.name, &r.port, &r.file].map(SharedStr::from))
            .collect();
        Values {
            topo,
            profile,
            ref_text,
            whys: Default::default(),
            urls: Default::default(),
        }
    }

    fn why(&mut self, why: &str) -> SharedStr {
        if let Some(t) = self.whys.get(why) {
            return t.clone();
        }
        let t = SharedStr::from(why);
        self.whys.insert(why.to_string(), t.clone());
        t
    }

    /// The port, URL and front-end cluster reference `ri` carries to provider `p`.
    fn value(
        &mut self,
        nodes: &[NodePlan],
        ri: usize,
        p: usize,
    ) -> (u32, Option<SharedStr>, Option<SharedStr>) {
        let r = &self.profile.reference[ri];
        let provider = &nodes[p];
        let port_def = self
            .profile
            .port(&r.port)
            .expect("profile checked port names");
        let port = provider.port(&r.port).unwrap_or(port_def.base);
        match front_of(self.topo, r, p, &port_def.protocol) {
            Some((cluster, address, front_port)) => (
                front_port,
                url(&port_def.protocol, address, front_port).map(SharedStr::from),
                Some(SharedStr::from(cluster)),
            ),
            None => {
                let url = self
                    .urls
                    .entry((p, r.port.as_str()))
                    .or_insert_with(|| {
                        url(&port_def.protocol, &provider.address, port).map(SharedStr::from)
                    })
                    .clone();
                (port, url, None)
            }
        }
    }
}

/// One link per graph edge, in (reader name, reference name) order, sorted on ranks rather
/// than strings; the sort is stable, so entries of one list keep the graph's order. `nodes`
/// are in the topology's order (the graph's vertex weights).
fn link_plans(
    profile: &Profile,
    graph: &DependencyGraph,
    nodes: &[NodePlan],
    values: &mut Values,
) -> Vec<LinkPlan> {
    let name_rank = ranks(nodes, |n| &n.name);
    let ref_rank = ranks(&profile.reference, |r| &r.name);
    let mut edges: Vec<_> = graph.edge_references().collect();
    edges.sort_by_key(|e| (name_rank[graph[e.source()]], ref_rank[e.weight().reference]));
    let mut links = Vec::with_capacity(edges.len());
    for e in edges {
        let (c, p) = (graph[e.source()], graph[e.target()]);
        let ri = e.weight().reference;
        let (port, url, via) = values.value(nodes, ri, p);
        let why = values.why(&e.weight().why);
        let [kind, reference, port_name, file] = values.ref_text[ri].clone();
        links.push(LinkPlan {
            kind,
            reference,
            from: nodes[c].name.clone(),
            to: nodes[p].name.clone(),
            port_name,
            port,
            url,
            file,
            why,
            each: profile.reference[ri].providers == Providers::Each,
            via,
        });
    }
    links
}

/// The shared lists, by reference name; their readers by name.
fn list_plans(wired: &Wired, nodes: &[NodePlan], values: &mut Values) -> Vec<ListPlan> {
    let mut out = Vec::with_capacity(wired.lists.len());
    for l in wired.lists.iter().filter(|l| !l.readers.is_empty()) {
        let entries: Vec<ListEntry> = l
            .entries
            .iter()
            .map(|(p, why)| {
                let (port, url, via) = values.value(nodes, l.reference, *p);
                ListEntry {
                    to: nodes[*p].name.clone(),
                    port,
                    url,
                    why: values.why(why),
                    via,
                }
            })
            .collect();
        let mut readers: Vec<ListReader> = l
            .readers
            .iter()
            .map(|(c, first)| ListReader {
                node: nodes[*c].name.clone(),
                first: first
                    .iter()
                    .map(|&i| entries[i as usize].to.clone())
                    .collect(),
                first_at: first.clone(),
            })
            .collect();
        readers.sort_by(|a, b| a.node.cmp(&b.node));
        let [kind, reference, port_name, file] = values.ref_text[l.reference].clone();
        out.push(ListPlan {
            kind,
            reference,
            port_name,
            file,
            entries,
            readers,
        });
    }
    out.sort_by(|a, b| a.reference.cmp(&b.reference));
    out
}

/// For a reference a browser follows (`front`) to a member of a cluster with a front end: the
/// cluster's name, the front end's address and its port for the provider port's protocol.
fn front_of<'t>(
    topo: &'t Topology,
    r: &topoplan_model::ReferenceDef,
    provider: usize,
    protocol: &str,
) -> Option<(&'t str, &'t str, u32)> {
    if !r.front {
        return None;
    }
    let c = &topo.clusters[topo.nodes[provider].cluster?];
    let f = c.frontend.as_ref()?;
    let port = match protocol {
        "https" => f.https_port,
        "http" => f.http_port,
        _ => return None,
    };
    Some((&c.name, &f.address, port))
}

/// Every host with its nodes by offset and its largest offset, by name; a host whose largest
/// offset is not proven minimal gets a warning.
fn host_plans(
    topo: &Topology,
    host_info: &[HostInfo],
    nodes: &[NodePlan],
    warnings: &mut Vec<Warning>,
) -> Vec<HostPlan> {
    let mut hosts = Vec::new();
    for (h, info) in topo.hosts.iter().zip(host_info) {
        let mut members: Vec<&NodePlan> = info.members.iter().map(|&i| &nodes[i]).collect();
        members.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
        let mut reserved: Vec<u32> = h.reserved_ports.iter().map(|r| r.0).collect();
        reserved.sort_unstable();
        if !info.minimal {
            warnings.push(not_proven(h, info));
        }
        hosts.push(HostPlan {
            name: h.name.clone(),
            address: h.address.clone(),
            nodes: members.iter().map(|n| n.name.to_string()).collect(),
            reserved_ports: reserved,
            max_offset: info.max_offset,
            max_offset_minimal: info.minimal,
            max_offset_lower_bound: info.lower_bound,
        });
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    hosts
}

fn not_proven(h: &topoplan_model::Host, info: &HostInfo) -> Warning {
    Warning::new(Code::SpanNotProven,
        format!(
            "host `{}`: span {} is at most {} above the smallest possible (lower bound {}); the exact search covers up to {} nodes a host",
            h.name,
            info.max_offset,
            info.max_offset - info.lower_bound,
            info.lower_bound,
            crate::offsets::EXACT_UP_TO
        ),
    )
    .host(h.name.clone())
    .at(h.span.clone())
}

/// `single-<role>`: in a deployment of several nodes, the only node of a role the profile
/// says should not be alone.
fn single_role_warnings(topo: &Topology, profile: &Profile, warnings: &mut Vec<Warning>) {
    if topo.nodes.len() < 2 {
        return;
    }
    for role in &profile.role {
        let Some(why) = &role.single else { continue };
        let mut with = topo.nodes.iter().filter(|n| n.has_role(&role.name));
        if let (Some(only), None) = (with.next(), with.next()) {
            warnings.push(
                Warning::single(
                    &role.name,
                    format!("`{}` is the only `{}` node: {why}", only.name, role.name),
                )
                .node(only.name.clone())
                .at(only.name_span.clone()),
            );
        }
    }
}

/// Warnings sorted, each once, without the ones `allow` silences; returns how many it silenced.
fn settle_warnings(topo: &Topology, warnings: &mut Vec<Warning>) -> usize {
    warnings.sort_by(|a, b| (&a.code, &a.message).cmp(&(&b.code, &b.message)));
    warnings.dedup_by(|a, b| a.code == b.code && a.message == b.message);
    let before = warnings.len();
    warnings.retain(|w| !topo.allow.iter().any(|(code, _)| *code == w.code));
    before - warnings.len()
}

/// The port columns of the printed tables, from the profile.
fn columns(profile: &Profile, mode: &str) -> Vec<Column> {
    profile
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
        .collect()
}

/// `scheme://host:port` for a port that speaks HTTP(S), with IPv6 bracketed; `None` otherwise.
pub(crate) fn url(protocol: &str, address: &str, port: u32) -> Option<String> {
    matches!(protocol, "http" | "https")
        .then(|| format!("{protocol}://{}:{port}", topoplan_model::url_host(address)))
}

/// The profile's manual sites, resolved to the nodes that read them and the values to set.
pub(crate) fn manual_steps(profile: &Profile, nodes: &[NodePlan]) -> Vec<ManualStep> {
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
