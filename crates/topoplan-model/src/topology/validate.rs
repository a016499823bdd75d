//! Validation of the wire tables against the product profile: one function per table
//! (deployment, hosts, nodes, links, pins), each collecting **all** its problems. The message
//! of each problem is built by a function beside the check that finds it, under "Messages".

mod cluster;

use super::{
    did_you_mean, is_safe_name, Database, DatabaseWire, DeploymentWire, Host, HostWire, Link,
    LinkWire, Node, NodeWire, Topology, TopologyWire, RESERVED_NODE_NAMES,
};
use crate::address::{parse_address, AddressError};
use crate::diag::{Code, Diagnostic, Span};
use crate::profile::Profile;
use std::collections::{BTreeMap, HashMap};
use toml::Spanned;

/// The state of one validation: the profile the topology names (`None` when unknown: checks
/// that need it are skipped) and every problem found so far.
struct Validator<'a> {
    profile: Option<&'a Profile>,
    product: String,
    diags: Vec<Diagnostic>,
}

/// Hosts by name, with their index and where the name is written.
type HostIndex = BTreeMap<String, (usize, Span)>;

pub(super) fn validate(
    wire: TopologyWire,
    known: &[String],
    profiles: &BTreeMap<String, Profile>,
) -> Result<Topology, Vec<Diagnostic>> {
    let dep = wire.deployment.get_ref();
    let product = dep.product.get_ref().clone();
    let mut v = Validator {
        profile: profiles.get(&product),
        product,
        diags: Vec::new(),
    };
    v.deployment_name(dep);
    if v.profile.is_none() {
        v.diags
            .push(unknown_product(&v.product, known, dep.product.span()));
    }
    let mode = v.mode(dep);
    let allow = v.allow(dep);
    let (mut hosts, host_index) = v.hosts(&wire.host);
    if wire.node.is_empty() {
        v.diags.push(no_nodes(wire.deployment.span()));
    }
    let (mut nodes, node_names) = v.nodes(&wire.node, &host_index);
    let links = v.links(&wire.link, &nodes, &node_names);
    let mut databases = v.databases(&wire.database, dep.name.get_ref(), &host_index);
    place_databases(&mut databases, &mut hosts);
    let clusters = v.clusters(&wire.cluster, &mut nodes, &node_names, &host_index);
    cluster::place_clusters(&clusters, &mut hosts);
    if let Some(p) = v.profile {
        check_pins(p, &mode, &hosts, &nodes, &mut v.diags);
    }
    let mut diags = v.diags;
    if !diags.is_empty() {
        diags.sort_by_key(Diagnostic::position);
        return Err(diags);
    }
    Ok(Topology {
        name: dep.name.get_ref().clone(),
        product: v.product,
        mode,
        allow,
        hosts,
        nodes,
        links,
        databases,
        clusters,
    })
}

/// A database server on a topology host takes the host's address and holds its port there:
/// no node may take it.
fn place_databases(databases: &mut [Database], hosts: &mut [Host]) {
    for d in databases {
        if let Some(h) = d.host {
            d.address = hosts[h].address.clone();
            let reserved = &mut hosts[h].reserved_ports;
            if !reserved.iter().any(|(p, _)| *p == d.port) {
                reserved.push((d.port, d.span.clone()));
            }
        }
    }
}

impl Validator<'_> {
    fn deployment_name(&mut self, dep: &DeploymentWire) {
        if !is_safe_name(dep.name.get_ref()) {
            let d = name_diagnostic("deployment", dep.name.get_ref(), dep.name.span());
            self.diags.push(d);
        }
    }

    /// The profile mode in force: `key_validation`, else the profile's first mode.
    fn mode(&mut self, dep: &DeploymentWire) -> String {
        let Some(p) = self.profile else {
            return String::new();
        };
        let modes = p.mode_names();
        match &dep.mode {
            None => modes[0].clone(),
            Some(kv) if modes.contains(kv.get_ref()) => kv.get_ref().clone(),
            Some(kv) => {
                self.diags.push(unsupported_mode(&self.product, kv, &modes));
                modes[0].clone()
            }
        }
    }

    /// The warning codes `allow` silences; an unknown code is an error.
    fn allow(&mut self, dep: &DeploymentWire) -> Vec<(String, Span)> {
        let mut allow = Vec::new();
        for a in &dep.allow {
            let code = a.get_ref();
            match self.profile {
                Some(p) if !crate::diag::warning_codes(p).contains(code) => {
                    self.diags
                        .push(unknown_warning(a, &crate::diag::warning_codes(p)));
                }
                _ => allow.push((code.clone(), a.span())),
            }
        }
        allow
    }

    fn hosts(&mut self, wire: &[Spanned<HostWire>]) -> (Vec<Host>, HostIndex) {
        let mut hosts: Vec<Host> = Vec::new();
        let mut index = HostIndex::new();
        for h in wire {
            let hw = h.get_ref();
            let name = hw.name.get_ref().clone();
            if !is_safe_name(&name) {
                self.diags
                    .push(name_diagnostic("host", &name, hw.name.span()));
            }
            if let Some((_, first)) = index.get(&name) {
                let d = duplicate("host", &name, hw.name.span(), first.clone());
                self.diags.push(d);
                continue;
            }
            let address = self.host_address(hw, &name);
            let reserved_ports = self.reserved_ports(hw);
            index.insert(name.clone(), (hosts.len(), hw.name.span()));
            hosts.push(Host {
                name,
                address,
                reserved_ports,
                span: h.span(),
            });
        }
        (hosts, index)
    }

    /// The host's address, bare; without one, the name is used in every URL, so it must be a
    /// host name itself.
    fn host_address(&mut self, hw: &HostWire, name: &str) -> String {
        let (value, span, from_name) = match &hw.address {
            Some(a) => (a.get_ref().as_str(), a.span(), false),
            None => (name, hw.name.span(), true),
        };
        parse_address(value).unwrap_or_else(|e| {
            self.diags
                .push(address_diagnostic(value, &e, span, from_name));
            value.to_string()
        })
    }

    fn reserved_ports(&mut self, hw: &HostWire) -> Vec<(u32, Span)> {
        let mut reserved = Vec::new();
        for p in &hw.reserved_ports {
            let v = *p.get_ref();
            match u32::try_from(v).ok().filter(|v| (1..=65535).contains(v)) {
                Some(port) => reserved.push((port, p.span())),
                None => self.diags.push(invalid_port(v, p.span())),
            }
        }
        reserved
    }

    /// The nodes that validate, and every node name given (with where), valid or not, so that
    /// links to a node with another problem are not also "unknown".
    fn nodes(
        &mut self,
        wire: &[Spanned<NodeWire>],
        hosts: &HostIndex,
    ) -> (Vec<Node>, BTreeMap<String, Span>) {
        let mut nodes = Vec::new();
        let mut names: BTreeMap<String, Span> = BTreeMap::new();
        for n in wire {
            let nw = n.get_ref();
            let name = nw.name.get_ref().clone();
            let mut ok = self.node_name(nw);
            if let Some(first) = names.get(&name) {
                let d = duplicate("node", &name, nw.name.span(), first.clone());
                self.diags.push(d);
                ok = false;
            } else {
                names.insert(name.clone(), nw.name.span());
            }
            let host = self.node_host(nw, hosts);
            let roles = self.roles(nw);
            let pin = self.pin(nw);
            if let (Some(host), true) = (host, ok) {
                nodes.push(Node {
                    name,
                    name_span: nw.name.span(),
                    host,
                    roles,
                    roles_span: nw.roles.span(),
                    pin,
                    cluster: None,
                });
            }
        }
        (nodes, names)
    }

    /// A node name becomes a bundle folder: safe, and none of the bundle's own file names.
    fn node_name(&mut self, nw: &NodeWire) -> bool {
        let name = nw.name.get_ref();
        if !is_safe_name(name) {
            self.diags.push(unsafe_node_name(name, nw.name.span()));
            return false;
        }
        if RESERVED_NODE_NAMES.contains(&name.as_str()) {
            self.diags.push(reserved_node_name(name, nw.name.span()));
            return false;
        }
        true
    }

    fn node_host(&mut self, nw: &NodeWire, hosts: &HostIndex) -> Option<usize> {
        match hosts.get(nw.host.get_ref()) {
            Some((i, _)) => Some(*i),
            None => {
                self.diags.push(unknown_host(nw, hosts));
                None
            }
        }
    }

    /// The node's roles with `all` expanded, in profile order, each once.
    fn roles(&mut self, nw: &NodeWire) -> Vec<String> {
        let mut roles: Vec<String> = Vec::new();
        if nw.roles.get_ref().is_empty() {
            self.diags.push(no_role(nw));
        }
        let Some(p) = self.profile else {
            return roles;
        };
        for r in nw.roles.get_ref() {
            let role = r.get_ref().as_str();
            if role == "all" {
                roles.extend(p.role_names());
            } else if p.role(role).is_some() {
                roles.push(role.to_string());
            } else {
                self.diags.push(unknown_role(p, &self.product, r));
            }
        }
        roles.sort_by_key(|r| p.role.iter().position(|x| &x.name == r));
        roles.dedup();
        roles
    }

    fn pin(&mut self, nw: &NodeWire) -> Option<(u32, Span)> {
        let o = nw.offset.as_ref()?;
        match u32::try_from(*o.get_ref()).ok().filter(|v| *v <= 65535) {
            Some(v) => Some((v, o.span())),
            None => {
                self.diags.push(offset_out_of_range(*o.get_ref(), o.span()));
                None
            }
        }
    }

    /// Links between known nodes whose roles use something of each other, each pair once.
    /// Nodes and links are indexed once, so checking them stays linear in their number.
    fn links(
        &mut self,
        wire: &[Spanned<LinkWire>],
        nodes: &[Node],
        names: &BTreeMap<String, Span>,
    ) -> Vec<Link> {
        let position: HashMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut seen: HashMap<(usize, usize), Span> = HashMap::new();
        let mut links = Vec::new();
        for l in wire {
            let lw = l.get_ref();
            let from = self.link_end(&lw.from, &position, names);
            let to = self.link_end(&lw.to, &position, names);
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            let kinds = self.link_kinds(lw);
            if let Some(p) = self.profile {
                let (f, t) = (&nodes[from], &nodes[to]);
                if from == to || !p.can_link_kinds(&f.roles, &t.roles, &kinds) {
                    self.diags.push(invalid_link(p, f, t, l.span()));
                    continue;
                }
            }
            if let Some(prev) = seen.get(&(from, to)) {
                self.diags.push(duplicate_link(lw, l.span(), prev.clone()));
                continue;
            }
            seen.insert((from, to), l.span());
            links.push(Link {
                from,
                to,
                kinds,
                span: l.span(),
            });
        }
        links
    }

    /// A link's `kinds`: each a kind of the profile.
    fn link_kinds(&mut self, lw: &LinkWire) -> Vec<String> {
        let Some(kinds) = &lw.kinds else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for k in kinds.get_ref() {
            match self.profile {
                Some(p) if p.kind(k.get_ref()).is_none() => {
                    let known: Vec<&str> = p.kind.iter().map(|x| x.name.as_str()).collect();
                    let mut d = Diagnostic::new(
                        Code::InvalidValue,
                        format!("unknown link kind `{}`", k.get_ref()),
                    )
                    .at(k.span(), "not a kind of this product");
                    if let Some(h) = did_you_mean(k.get_ref(), known.iter().copied()) {
                        d = d.note(h);
                    }
                    self.diags
                        .push(d.note(format!("kinds: {}", known.join(", "))));
                }
                _ => out.push(k.get_ref().clone()),
            }
        }
        out
    }

    /// The node a link names; an unknown name is an error (a node with problems of its own is
    /// known, and skipped quietly).
    fn link_end(
        &mut self,
        s: &Spanned<String>,
        position: &HashMap<&str, usize>,
        names: &BTreeMap<String, Span>,
    ) -> Option<usize> {
        let i = position.get(s.get_ref().as_str()).copied();
        if i.is_none() && !names.contains_key(s.get_ref()) {
            self.diags.push(unknown_node("link", s, names));
        }
        i
    }
}

impl Validator<'_> {
    /// `[[database]]` tables: a unique name, a supported engine, one location (a topology host
    /// or an address), a port, a user, a password variable (never a password), and the shared
    /// datasources it holds, each on one server only.
    fn databases(
        &mut self,
        wire: &[Spanned<DatabaseWire>],
        deployment: &str,
        hosts: &HostIndex,
    ) -> Vec<Database> {
        let mut out: Vec<Database> = Vec::new();
        let mut names: BTreeMap<String, Span> = BTreeMap::new();
        let mut placed: BTreeMap<String, Span> = BTreeMap::new();
        for d in wire {
            let dw = d.get_ref();
            let name = dw.name.get_ref().clone();
            if !is_safe_name(&name) {
                self.diags
                    .push(name_diagnostic("database", &name, dw.name.span()));
            }
            if let Some(first) = names.get(&name) {
                let first = first.clone();
                self.diags
                    .push(duplicate_database(&name, dw.name.span(), first));
                continue;
            }
            names.insert(name.clone(), dw.name.span());
            let engine = self.engine(dw);
            let location = self.database_location(dw, d.span(), hosts);
            let datasources = self.database_datasources(dw, &mut placed);
            let password_env = self.password_env(dw);
            let (Some((engine, default_port)), Some((host, address))) = (engine, location) else {
                continue;
            };
            out.push(Database {
                name,
                engine,
                host,
                address,
                port: self.database_port(dw).unwrap_or(default_port),
                user: dw
                    .user
                    .as_ref()
                    .map_or_else(|| deployment.to_string(), |u| u.get_ref().clone()),
                password_env,
                datasources,
                span: d.span(),
            });
        }
        out
    }

    /// The engine and its default port; an unknown or refused engine is an error.
    fn engine(&mut self, dw: &DatabaseWire) -> Option<(String, u32)> {
        let p = self.profile?;
        let Some(e) = &dw.engine else {
            let Some(def) = p.default_engine() else {
                self.diags.push(no_engine(&self.product, dw.name.span()));
                return None;
            };
            return Some((def.name.clone(), def.port));
        };
        match p.engine(e.get_ref()) {
            Some(def) if def.refused.is_none() => Some((def.name.clone(), def.port)),
            def => {
                let reason = def.and_then(|d| d.refused.clone());
                self.diags.push(unknown_engine(p, &self.product, e, reason));
                None
            }
        }
    }

    /// `host` (a topology host: its address) or `address` (a server outside), not both.
    fn database_location(
        &mut self,
        dw: &DatabaseWire,
        span: Span,
        hosts: &HostIndex,
    ) -> Option<(Option<usize>, String)> {
        match (&dw.host, &dw.address) {
            (Some(h), Some(a)) => {
                self.diags.push(host_and_address(h.span(), a.span()));
                None
            }
            (None, None) => {
                self.diags.push(no_location(span));
                None
            }
            (Some(h), None) => match hosts.get(h.get_ref()) {
                Some((i, _)) => Some((Some(*i), String::new())),
                None => {
                    self.diags.push(unknown_database_host(h, hosts));
                    None
                }
            },
            (None, Some(a)) => match parse_address(a.get_ref()) {
                Ok(bare) => Some((None, bare)),
                Err(e) => {
                    self.diags
                        .push(address_diagnostic(a.get_ref(), &e, a.span(), false));
                    None
                }
            },
        }
    }

    fn database_port(&mut self, dw: &DatabaseWire) -> Option<u32> {
        let p = dw.port.as_ref()?;
        let v = *p.get_ref();
        match u32::try_from(v).ok().filter(|v| (1..=65535).contains(v)) {
            Some(port) => Some(port),
            None => {
                self.diags.push(invalid_database_port(v, p.span()));
                None
            }
        }
    }

    fn password_env(&mut self, dw: &DatabaseWire) -> String {
        let Some(v) = &dw.password_env else {
            return DEFAULT_PASSWORD_ENV.to_string();
        };
        let name = v.get_ref();
        let mut c = name.chars();
        let ok = c
            .next()
            .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
            && c.all(|x| x.is_ascii_alphanumeric() || x == '_');
        if !ok {
            self.diags.push(invalid_env_name(v));
        }
        name.clone()
    }

    /// The profile's shared datasources on this server (all by default), each on one server.
    fn database_datasources(
        &mut self,
        dw: &DatabaseWire,
        placed: &mut BTreeMap<String, Span>,
    ) -> Vec<String> {
        let Some(p) = self.profile else {
            return Vec::new();
        };
        let known: Vec<&str> = p.datasource.iter().map(|d| d.name.as_str()).collect();
        let given: Vec<(String, Span)> = match &dw.datasources {
            Some(list) => list
                .get_ref()
                .iter()
                .map(|s| (s.get_ref().clone(), s.span()))
                .collect(),
            None => known
                .iter()
                .map(|k| (k.to_string(), dw.name.span()))
                .collect(),
        };
        let mut out = Vec::new();
        for (name, span) in given {
            if !known.contains(&name.as_str()) {
                self.diags.push(unknown_datasource(&name, span, &known));
                continue;
            }
            if let Some(first) = placed.get(&name) {
                self.diags.push(shared_twice(&name, span, first.clone()));
                continue;
            }
            placed.insert(name.clone(), span);
            out.push(name);
        }
        out
    }
}

/// The variable `apply` reads a database password from when `password_env` is not given.
pub const DEFAULT_PASSWORD_ENV: &str = "TOPOPLAN_DB_PASSWORD";

/// Pins are checked here rather than in the solver because each is a plain fact of the file
/// (the offset-following ports are the same on every node), so the user gets them all at once,
/// next to any other input error.
fn check_pins(
    p: &Profile,
    mode: &str,
    hosts: &[Host],
    nodes: &[Node],
    diags: &mut Vec<Diagnostic>,
) {
    let ports: Vec<(&str, u32)> = p
        .offset_ports(mode)
        .map(|port| (port.name.as_str(), port.base))
        .collect();
    for n in nodes {
        if let Some(pin) = &n.pin {
            pin_in_range(p, n, pin, &ports, &hosts[n.host], diags);
        }
    }
    // Pairs of pinned nodes on one host: grouped by host first, so unpinned nodes and other
    // hosts cost nothing.
    let mut pinned: BTreeMap<usize, Vec<&Node>> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.pin.is_some()) {
        pinned.entry(n.host).or_default().push(n);
    }
    for on_host in pinned.values() {
        for (i, a) in on_host.iter().enumerate() {
            for b in &on_host[i + 1..] {
                if let Some(d) = pin_collision(a, b, &ports, &hosts[a.host]) {
                    diags.push(d);
                }
            }
        }
    }
}

/// Every offset-following port of a pinned node inside the product's port range and clear of
/// the host's reserved ports.
fn pin_in_range(
    p: &Profile,
    n: &Node,
    (off, span): &(u32, Span),
    ports: &[(&str, u32)],
    host: &Host,
    diags: &mut Vec<Diagnostic>,
) {
    let [lo, hi] = p.product.port_range;
    let largest_base = ports.iter().map(|(_, b)| *b).max().unwrap_or(0);
    for (port, base) in ports {
        let eff = base + off;
        if eff < lo || eff > hi {
            let fits = hi.saturating_sub(largest_base);
            diags.push(pin_out_of_range(n, port, *base, *off, span, (lo, hi), fits));
            break;
        }
        if let Some((_, rspan)) = host.reserved_ports.iter().find(|(r, _)| *r == eff) {
            diags.push(pin_on_reserved(n, port, *base, *off, span, host, rspan));
        }
    }
}

fn pin_collision(a: &Node, b: &Node, ports: &[(&str, u32)], host: &Host) -> Option<Diagnostic> {
    let ((oa, sa), (ob, sb)) = (a.pin.as_ref()?, b.pin.as_ref()?);
    let (pa, pb) = ports.iter().find_map(|(_, pa)| {
        ports
            .iter()
            .find(|(_, pb)| pa + oa == pb + ob)
            .map(|(_, pb)| (*pa, *pb))
    })?;
    Some(
        Diagnostic::new(
            Code::PinCollision,
            format!(
                "`{}` and `{}` on host `{}` would both listen on port {}",
                a.name,
                b.name,
                host.name,
                pa + oa
            ),
        )
        .at(sb.clone(), format!("{pb} + {ob} = {}", pb + ob))
        .also(sa.clone(), format!("{pa} + {oa} = {}", pa + oa))
        .note("pin one of them to another offset, or drop a pin and let topoplan choose"),
    )
}

// Messages: one function per problem, named after it.

/// Host and deployment names are labels only, but they reach terminals, comments in the
/// generated XML and shell files, and Markdown: the node-name rules keep them inert there.
fn name_diagnostic(what: &str, name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidName,
        format!("{what} name `{}` is not a safe name", name.escape_debug()),
    )
    .at(span, "it is printed in plans, bundles and generated files")
    .note(SAFE_NAME_RULE)
}

const SAFE_NAME_RULE: &str =
    "use letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64 characters";

fn unknown_product(product: &str, known: &[String], span: Span) -> Diagnostic {
    let known: Vec<_> = known.iter().map(|k| format!("`{k}`")).collect();
    Diagnostic::new(Code::UnknownProduct, format!("unknown product `{product}`"))
        .at(span, "no profile for this product")
        .note(format!("known products: {}", known.join(", ")))
        .note("a product of your own: give its profile folder's parent with `topoplan --templates DIR …` (DIR/<product>/profile.toml, docs/profiles.md)")
}

fn unsupported_mode(product: &str, kv: &Spanned<String>, modes: &[String]) -> Diagnostic {
    let ok: Vec<_> = modes.iter().map(|k| format!("`{k}`")).collect();
    Diagnostic::new(
        Code::InvalidKeyValidation,
        format!(
            "`{product}` does not support key_validation `{}`",
            kv.get_ref()
        ),
    )
    .at(kv.span(), "not supported by this product")
    .note(format!("supported: {}", ok.join(", ")))
}

fn unknown_warning(a: &Spanned<String>, known: &[String]) -> Diagnostic {
    let code = a.get_ref();
    let mut d = Diagnostic::new(
        Code::UnknownWarning,
        format!("no warning has code `{code}`"),
    )
    .at(a.span(), "not a warning code");
    if let Some(h) = did_you_mean(code, known.iter().map(String::as_str)) {
        d = d.note(h);
    }
    d.note(format!("warning codes: {}", known.join(", ")))
}

fn duplicate(what: &str, name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        if what == "host" {
            Code::DuplicateHost
        } else {
            Code::DuplicateNode
        },
        format!("duplicate {what} name `{name}`"),
    )
    .at(span, "defined again here")
    .also(first, "first defined here")
}

fn address_diagnostic(value: &str, e: &AddressError, span: Span, from_name: bool) -> Diagnostic {
    let code = match e {
        AddressError::HasPort(_) => Code::AddressWithPort,
        _ => Code::InvalidAddress,
    };
    let what = if from_name {
        format!(
            "host `{}` has no `address`, and its name cannot stand in for one",
            value.escape_debug()
        )
    } else {
        format!("address `{}` cannot go into a URL", value.escape_debug())
    };
    let d = Diagnostic::new(code, what).at(span, e.to_string());
    if from_name {
        d.note("add `address = \"...\"` (a host name, IPv4 or IPv6 address), or rename the host to a valid host name")
    } else {
        d.note("expected an RFC 1123 host name (`km1.example.com`), an IPv4 address (`10.0.0.5`) or an IPv6 address (`fd00::5` or `[fd00::5]`)")
    }
}

fn invalid_port(v: i64, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidPort,
        format!("reserved port {v} is not a TCP port"),
    )
    .at(span, "expected 1..=65535")
}

fn no_nodes(span: Span) -> Diagnostic {
    Diagnostic::new(Code::NoNodes, "the topology defines no node")
        .at(span, "add at least one `[[node]]` to this deployment")
}

fn unsafe_node_name(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnsafeNodeName,
        format!("node name `{name}` is not a safe folder name"),
    )
    .at(span, "becomes the bundle folder `out/<name>/`")
    .note(SAFE_NAME_RULE)
}

fn reserved_node_name(name: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::ReservedNodeName,
        format!("node name `{name}` is a file name the bundle uses itself"),
    )
    .at(
        span,
        "`bundle` writes a file of this name beside the node folders",
    )
    .note(format!(
        "rename the node; reserved: {}",
        RESERVED_NODE_NAMES.join(", ")
    ))
}

fn unknown_host(nw: &NodeWire, hosts: &HostIndex) -> Diagnostic {
    let known: Vec<_> = hosts.keys().map(|k| format!("`{k}`")).collect();
    let mut d = Diagnostic::new(
        Code::UnknownHost,
        format!(
            "node `{}` names unknown host `{}`",
            nw.name.get_ref(),
            nw.host.get_ref()
        ),
    )
    .at(nw.host.span(), "no `[[host]]` has this name");
    if let Some(hint) = did_you_mean(nw.host.get_ref(), hosts.keys().map(String::as_str)) {
        d = d.note(hint);
    }
    d.note(if known.is_empty() {
        "no host is defined".to_string()
    } else {
        format!("defined hosts: {}", known.join(", "))
    })
}

fn no_role(nw: &NodeWire) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownRole,
        format!("node `{}` has no role", nw.name.get_ref()),
    )
    .at(nw.roles.span(), "list at least one role")
}

fn unknown_role(p: &Profile, product: &str, r: &Spanned<String>) -> Diagnostic {
    let role = r.get_ref();
    let mut d = Diagnostic::new(Code::UnknownRole, format!("unknown role `{role}`"))
        .at(r.span(), format!("not a role of `{product}`"));
    if let Some(hint) = did_you_mean(role, p.role.iter().map(|r| r.name.as_str()).chain(["all"])) {
        d = d.note(hint);
    }
    d.note(format!("roles: {}, or `all`", p.role_names().join(", ")))
}

fn offset_out_of_range(v: i64, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::PinOutOfRange,
        format!("offset {v} is not a valid port offset"),
    )
    .at(span, "expected 0..=65535")
}

fn unknown_node(what: &str, s: &Spanned<String>, names: &BTreeMap<String, Span>) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::UnknownNode,
        format!("{what} names unknown node `{}`", s.get_ref()),
    )
    .at(s.span(), "no `[[node]]` has this name");
    if let Some(hint) = did_you_mean(s.get_ref(), names.keys().map(String::as_str)) {
        d = d.note(hint);
    }
    d
}

fn invalid_link(p: &Profile, f: &Node, t: &Node, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidLink,
        format!(
            "`{}` ({}) uses nothing from `{}` ({})",
            f.name,
            f.roles.join(", "),
            t.name,
            t.roles.join(", ")
        ),
    )
    .at(span, "these roles are never linked")
    .note(link_help(p))
}

fn link_help(p: &Profile) -> String {
    let mut pairs: Vec<String> = p
        .reference
        .iter()
        .flat_map(|r| r.readers.iter().map(|c| format!("{c} -> {}", r.provider)))
        .collect();
    pairs.sort();
    pairs.dedup();
    format!(
        "a link goes from a consumer to a provider: {}",
        pairs.join(", ")
    )
}

fn duplicate_link(lw: &LinkWire, span: Span, prev: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateLink,
        format!(
            "link `{}` -> `{}` is given twice",
            lw.from.get_ref(),
            lw.to.get_ref()
        ),
    )
    .at(span, "given again here")
    .also(prev, "first given here")
}

fn pin_out_of_range(
    n: &Node,
    port: &str,
    base: u32,
    off: u32,
    span: &Span,
    (lo, hi): (u32, u32),
    fits: u32,
) -> Diagnostic {
    let eff = base + off;
    Diagnostic::new(
        Code::PinOutOfRange,
        format!("offset {off} of `{}` puts its {port} port at {eff}", n.name),
    )
    .at(
        span.clone(),
        format!("{base} + {off} = {eff} is outside {lo}..={hi}"),
    )
    .note(format!("largest offset that fits: {fits}"))
}

fn pin_on_reserved(
    n: &Node,
    port: &str,
    base: u32,
    off: u32,
    span: &Span,
    host: &Host,
    rspan: &Span,
) -> Diagnostic {
    let eff = base + off;
    Diagnostic::new(
        Code::PinOnReserved,
        format!(
            "offset {off} of `{}` puts its {port} port on reserved port {eff}",
            n.name
        ),
    )
    .at(span.clone(), format!("{base} + {off} = {eff}"))
    .also(
        rspan.clone(),
        format!("reserved on host `{}` here", host.name),
    )
}

fn duplicate_database(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DuplicateDatabase,
        format!("duplicate database name `{name}`"),
    )
    .at(span, "defined again here")
    .also(first, "first defined here")
}

fn no_engine(product: &str, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::UnknownEngine,
        format!("`{product}` runs on no database engine topoplan knows"),
    )
    .at(span, "this database has nothing to run on")
}

fn unknown_engine(
    p: &Profile,
    product: &str,
    e: &Spanned<String>,
    refused: Option<String>,
) -> Diagnostic {
    let supported: Vec<String> = p
        .engine
        .iter()
        .filter(|d| d.refused.is_none())
        .map(|d| format!("`{}`", d.name))
        .collect();
    let d = match refused {
        Some(reason) => Diagnostic::new(
            Code::UnknownEngine,
            format!("`{product}` cannot run on `{}`", e.get_ref()),
        )
        .at(e.span(), "refused for this product")
        .note(reason),
        None => Diagnostic::new(
            Code::UnknownEngine,
            format!("unknown database engine `{}`", e.get_ref()),
        )
        .at(e.span(), format!("not an engine of `{product}`")),
    };
    d.note(format!("supported: {}", supported.join(", ")))
}

fn host_and_address(host: Span, address: Span) -> Diagnostic {
    Diagnostic::new(
        Code::DatabaseLocation,
        "a database has both `host` and `address`",
    )
    .at(address, "an address outside the topology")
    .also(host, "and a host of the topology")
    .note("keep `host` for a server on a topology host (its address is used and its port reserved), or `address` for one outside")
}

fn no_location(span: Span) -> Diagnostic {
    Diagnostic::new(Code::DatabaseLocation, "a database has neither `host` nor `address`")
        .at(span, "where does this server run?")
        .note("add `host = \"<a [[host]]>\"`, or `address = \"db.example.com\"` for a server outside the topology")
}

fn unknown_database_host(h: &Spanned<String>, hosts: &HostIndex) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::DatabaseLocation,
        format!(
            "database host `{}` is not a host of the topology",
            h.get_ref()
        ),
    )
    .at(h.span(), "no `[[host]]` has this name");
    if let Some(hint) = did_you_mean(h.get_ref(), hosts.keys().map(String::as_str)) {
        d = d.note(hint);
    }
    d.note("for a server outside the topology, write `address = \"...\"` instead")
}

fn invalid_database_port(v: i64, span: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidPort,
        format!("database port {v} is not a TCP port"),
    )
    .at(span, "expected 1..=65535")
}

fn invalid_env_name(v: &Spanned<String>) -> Diagnostic {
    Diagnostic::new(
        Code::InvalidEnvName,
        format!(
            "`{}` is not an environment variable name",
            v.get_ref().escape_debug()
        ),
    )
    .at(v.span(), "`apply` reads the password from this variable")
    .note("letters, digits and `_`, not starting with a digit, e.g. `DB_PASSWORD`")
}

fn unknown_datasource(name: &str, span: Span, known: &[&str]) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::UnknownDatasource,
        format!("`{name}` is not a datasource the nodes share"),
    )
    .at(span, "not a shared datasource of this product");
    if let Some(hint) = did_you_mean(name, known.iter().copied()) {
        d = d.note(hint);
    }
    d.note(format!("shared datasources: {}", known.join(", ")))
}

fn shared_twice(name: &str, span: Span, first: Span) -> Diagnostic {
    Diagnostic::new(
        Code::SharedTwice,
        format!("datasource `{name}` is placed on two database servers"),
    )
    .at(span, "placed here")
    .also(first, "and here")
    .note("every node must read one copy: list it under one `[[database]]`")
}
