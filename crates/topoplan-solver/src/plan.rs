//! The solved plan: what every node listens on and where every cross-node reference points.
//!
//! This is the one value every output is printed from (`plan --format json` serialises it
//! as is), so field names are part of the documented schema in `docs/plan-json.md`.

use serde::Serialize;
use std::borrow::Cow;
use std::sync::Arc;
use topoplan_model::Code;

/// A shared, immutable string. A plan repeats a few values (node, host and address names,
/// link kinds, references, files, provider URLs) across hundreds of thousands of links and
/// ports; sharing each once keeps a 100,000-node plan in a few hundred megabytes and makes
/// cloning a link a few reference counts. Reads as a `str` and serialises as one.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SharedStr {
    fn default() -> Self {
        SharedStr(Arc::from(""))
    }
}

impl std::ops::Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::fmt::Display for SharedStr {
    /// As a `str` prints: width, fill and alignment apply (the text tables pad names).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

impl Serialize for SharedStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl From<&str> for SharedStr {
    fn from(s: &str) -> Self {
        SharedStr(Arc::from(s))
    }
}

impl From<String> for SharedStr {
    fn from(s: String) -> Self {
        SharedStr(Arc::from(s))
    }
}

impl From<&String> for SharedStr {
    fn from(s: &String) -> Self {
        SharedStr(Arc::from(s.as_str()))
    }
}

impl From<SharedStr> for String {
    fn from(t: SharedStr) -> Self {
        t.0.to_string()
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, o: &str) -> bool {
        &*self.0 == o
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, o: &&str) -> bool {
        &*self.0 == *o
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, o: &String) -> bool {
        &*self.0 == o.as_str()
    }
}

impl PartialEq<SharedStr> for str {
    fn eq(&self, o: &SharedStr) -> bool {
        self == &*o.0
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, o: &SharedStr) -> bool {
        *self == &*o.0
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, o: &SharedStr) -> bool {
        self.as_str() == &*o.0
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// A solved topology: every node's offset and ports, every value it holds, and the review's findings.
pub struct Plan {
    /// Schema version of this JSON document.
    pub schema: u32,
    /// `[deployment] name`.
    pub deployment: String,
    /// The product profile's name.
    pub product: String,
    /// How `apply` recognises a home of this product (`marker` folder, `file` whose root
    /// `<Name>`/`<Version>` must match).
    pub home: topoplan_model::HomeIdentity,
    /// The profile mode in force (the topology's `[deployment] key_validation`, the JSON's
    /// `key_validation`).
    #[serde(rename = "key_validation")]
    pub mode: String,
    /// The mode's values (`[[mode]] values` in the profile), which templates print (`mode`).
    #[serde(rename = "mode")]
    pub mode_values: std::collections::BTreeMap<String, String>,
    /// The port columns of node tables and diagram boxes, from the profile.
    pub columns: Vec<Column>,
    /// Legend and colour of every link kind, from the profile.
    pub kinds: Vec<topoplan_model::KindDef>,
    /// Every host, by name.
    pub hosts: Vec<HostPlan>,
    /// Every node, by name.
    pub nodes: Vec<NodePlan>,
    /// Every link a node holds one by one: single values, and the entries of lists a
    /// `[[link]]` narrows or the reader is in itself. Sorted by reader.
    pub links: Vec<LinkPlan>,
    /// Lists many readers share (every provider of a role, where no `[[link]]` narrows a
    /// reader's list), each kept once: an estate's publishers all list every gateway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<ListPlan>,
    /// Which lists each node reads, by node name (built by [`Plan::index_lists`]).
    #[serde(skip)]
    pub list_uses: Vec<ListUse>,
    /// What the review should make an operator look at, by code then message.
    pub warnings: Vec<Warning>,
    /// How many warnings the topology's `[deployment] allow` silenced.
    #[serde(skip_serializing_if = "is_zero")]
    pub silenced: usize,
    /// Hard-coded sites left to the operator, with the value each should take.
    pub manual: Vec<ManualStep>,
    /// What changed against the lock file, when the plan was made with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<PlanChange>>,
    /// Shared database servers and the datasources each holds (`[[database]]`). The password
    /// is not here: only the variable `apply` reads it from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub databases: Vec<DatabasePlan>,
    /// Clusters (`[[cluster]]`), by name: members, their cluster member ports, managers and
    /// workers, front ends and what the load balancer forwards to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<ClusterPlan>,
    /// What a worker's start script passes (the profile's `launcher.worker_options`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worker_options: Vec<String>,
}

/// A cluster of nodes that act as one.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClusterPlan {
    /// The `[[cluster]]` name.
    pub name: String,
    /// The Hazelcast domain its members share (`<deployment>.<cluster>`), unique per cluster.
    pub domain: String,
    /// The member that takes admin calls, when its roles have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Its load-balanced address, when it has one.
    pub frontend: Option<FrontEndPlan>,
    /// Every member, in the topology's order.
    pub members: Vec<MemberPlan>,
}

/// A cluster's load-balanced address.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FrontEndPlan {
    /// Host name, IPv4 or IPv6 address, bare.
    pub address: String,
    /// The topology host that runs the load balancer, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lb_host: Option<String>,
    /// The port the load balancer takes HTTP on.
    pub http_port: u32,
    /// The port the load balancer takes HTTPS on.
    pub https_port: u32,
}

impl FrontEndPlan {
    /// The front end's port for a provider port of `protocol`: `https` and `http` ports are
    /// served on the load balancer's; others are not load-balanced (`None`).
    pub fn port_for(&self, protocol: &str) -> Option<u32> {
        match protocol {
            "https" => Some(self.https_port),
            "http" => Some(self.http_port),
            _ => None,
        }
    }
}

/// One member of a cluster.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberPlan {
    /// The member node.
    pub node: String,
    /// Its host.
    pub host: String,
    /// Its address.
    pub address: String,
    /// Its cluster member port (the profile's `clustered` port: Hazelcast's
    /// `localMemberPort`), chosen unique on its host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_port: Option<u32>,
    /// A member of a cluster with a manager, other than the manager.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub worker: bool,
    /// What the load balancer forwards to on this member, by the front end's `http` and
    /// `https` (empty: the member takes no traffic from it, e.g. a manager).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub backends: std::collections::BTreeMap<String, u32>,
}

impl Plan {
    /// The cluster `node` is a member of.
    pub fn cluster_of(&self, node: &NodePlan) -> Option<&ClusterPlan> {
        self.cluster(node.cluster.as_deref()?)
    }

    /// A cluster by name.
    /// A cluster by name: a binary search, as `clusters` is sorted by name (every link of a
    /// bundle looks up its provider's cluster).
    pub fn cluster(&self, name: &str) -> Option<&ClusterPlan> {
        match self
            .clusters
            .binary_search_by(|c| c.name.as_str().cmp(name))
        {
            Ok(i) => Some(&self.clusters[i]),
            // Not sorted (a plan built by hand): look at every cluster.
            Err(_) => self.clusters.iter().find(|c| c.name == name),
        }
    }
}

/// A shared database server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DatabasePlan {
    /// The `[[database]]` name.
    pub name: String,
    /// The engine (`mysql`, …).
    pub engine: String,
    /// The topology host it runs on, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The address its clients connect to.
    pub address: String,
    /// Its port.
    pub port: u32,
    /// The user every node connects as.
    pub user: String,
    /// The environment variable `apply` reads the password from.
    pub password_env: String,
    /// The JDBC driver class.
    pub driver: String,
    /// The query a pool validates connections with.
    pub validation_query: String,
    /// What to install on every node for this engine (the profile's `driver_note`).
    pub driver_note: String,
    /// The addresses of the nodes that connect, the only ones the user is granted from.
    pub clients: Vec<String>,
    /// The shared datasources it holds.
    pub datasources: Vec<SharedDatasource>,
}

/// One shared datasource on a database server.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SharedDatasource {
    /// The profile's name for it (`apps`, `users`, …).
    pub name: String,
    /// Its name in the product's datasources file.
    pub datasource: String,
    /// Its JNDI name.
    pub jndi: String,
    /// The database on the server.
    pub database: String,
    /// The JDBC URL every reader gets.
    pub url: String,
    /// Whether the shipped datasources file has it (rewired) or it is added.
    pub shipped: bool,
    /// Scripts under the product home that create its tables, in order.
    pub scripts: Vec<String>,
    /// The nodes that read it.
    pub readers: Vec<String>,
    /// The roles whose nodes read it (what `readers` was made from; a node is looked up by
    /// its roles, not searched for in `readers`, which an estate makes long).
    #[serde(skip)]
    pub reader_roles: Vec<String>,
}

impl Plan {
    /// The shared datasources `node` reads, with the server each is on.
    pub fn datasources_of<'a>(
        &'a self,
        node: &'a NodePlan,
    ) -> impl Iterator<Item = (&'a DatabasePlan, &'a SharedDatasource)> + 'a {
        self.databases.iter().flat_map(move |db| {
            db.datasources
                .iter()
                .filter(move |ds| node.roles.iter().any(|r| ds.reader_roles.contains(r)))
                .map(move |ds| (db, ds))
        })
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A port column of the node tables.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Column {
    /// The column's heading.
    pub title: String,
    /// The port it shows.
    pub port: String,
    /// A `per-node` port: the cell shows the node's own value (or `off`) and where its links
    /// over that port point.
    pub per_node: bool,
}

/// Something the plan should make an operator think twice about, with a stable code.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    /// Stable code (`docs/diagnostics.md`); `[deployment] allow = [...]` silences it.
    pub code: String,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The nodes it concerns: `explain` and the reviews select warnings by these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// The host it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// 1-based line and column in the topology, where one place is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// See `line`.
    pub column: Option<usize>,
    /// Byte range in the topology (for located messages; not serialised).
    #[serde(skip)]
    pub span: Option<std::ops::Range<usize>>,
}

impl Warning {
    /// A warning of `code` (a warning code of [`Code`], never `single-<role>`: see
    /// [`Warning::single`]).
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        debug_assert!(code.severity() == topoplan_model::Severity::Warning && code != Code::Single);
        Self::coded(code.name().to_string(), message.into())
    }

    /// `single-<role>`: the only node of a role the profile marks `single`.
    pub fn single(role: &str, message: impl Into<String>) -> Self {
        Self::coded(format!("single-{role}"), message.into())
    }

    /// The warning as a [`topoplan_model::Diagnostic`], for the one renderer: the caret at
    /// its place in the topology, when it has one.
    pub fn diagnostic(&self) -> topoplan_model::Diagnostic {
        let code = Code::from_name(&self.code).unwrap_or(Code::Single);
        let d =
            topoplan_model::Diagnostic::new(code, self.message.clone()).named(self.code.clone());
        match &self.span {
            Some(span) => d.at(span.clone(), ""),
            None => d,
        }
    }

    /// A warning as a bundle recorded it, by its code's name.
    pub fn recorded(code: &str, message: &str) -> Self {
        Self::coded(code.to_string(), message.to_string())
    }

    fn coded(code: String, message: String) -> Self {
        Warning {
            code,
            message,
            nodes: Vec::new(),
            host: None,
            line: None,
            column: None,
            span: None,
        }
    }

    /// Names a node it concerns.
    pub fn node(mut self, n: impl Into<String>) -> Self {
        self.nodes.push(n.into());
        self
    }

    /// Names the host it concerns.
    pub fn host(mut self, h: impl Into<String>) -> Self {
        self.host = Some(h.into());
        self
    }

    /// Places it in the topology (byte range).
    pub fn at(mut self, span: std::ops::Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    /// Whether it concerns `node`.
    pub fn names(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n == node)
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.message)
    }
}

/// One difference between the lock and the new plan, terraform style.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanChange {
    /// `+` added, `~` changed, `-` removed.
    pub op: String,
    /// `node`, `host`, `offset`, `port` (a per-node port, subject `node port-name`) or `link`.
    pub kind: String,
    /// The node, or the link as `from -> to (reference)`.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The value before (absent for an addition).
    pub old: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The value now (absent for a removal).
    pub new: Option<String>,
    /// Why a locked value moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

impl PlanChange {
    /// One line: `~ offset gw1: 2 -> 3 (port 9445 is now reserved on `h`)`.
    pub fn line(&self) -> String {
        let mut s = format!("{} {} {}", self.op, self.kind, self.subject);
        match (&self.old, &self.new) {
            (Some(o), Some(n)) => s.push_str(&format!(": {o} -> {n}")),
            (None, Some(n)) => s.push_str(&format!(": {n}")),
            (Some(o), None) => s.push_str(&format!(" (was {o})")),
            (None, None) => {}
        }
        if let Some(w) = &self.why {
            s.push_str(&format!(" ({w})"));
        }
        s
    }
}

impl Plan {
    /// A node by name: a binary search, as `nodes` is sorted by name.
    pub fn node(&self, name: &str) -> Option<&NodePlan> {
        match self.nodes.binary_search_by(|n| n.name.as_str().cmp(name)) {
            Ok(i) => Some(&self.nodes[i]),
            // Not sorted (a plan built by hand): look at every node.
            Err(_) => self.nodes.iter().find(|n| n.name == name),
        }
    }

    /// The links `node` holds one by one, itself included (not its places in shared lists:
    /// [`Plan::links_of`] has both): a range of `links`, which the solver sorts by reader (a
    /// binary search, so a bundle of thousands of nodes stays linear).
    pub fn links_from<'a>(&'a self, node: &str) -> &'a [LinkPlan] {
        let start = self.links.partition_point(|l| l.from.as_str() < node);
        let end = start + self.links[start..].partition_point(|l| l.from.as_str() <= node);
        &self.links[start..end]
    }

    /// Every link `node` holds, its places in shared lists included, by reference name; list
    /// entries in the reader's order. Links of lists are made on the fly (owned).
    pub fn links_of<'a>(&'a self, node: &str) -> Vec<Cow<'a, LinkPlan>> {
        self.held_by(node, |_| false).0
    }

    /// What `node` holds, for printers that show a long list as one piece: its links one by
    /// one (its own, and the entries of the shared lists `whole` does not keep whole, made on
    /// the fly, each list's in the node's order), and the lists `whole` keeps whole; both by
    /// reference name.
    pub fn held_by<'a>(
        &'a self,
        node: &str,
        whole: impl Fn(&ListPlan) -> bool,
    ) -> (Vec<Cow<'a, LinkPlan>>, Vec<(&'a ListPlan, &'a ListReader)>) {
        let mut links: Vec<Cow<'a, LinkPlan>> =
            self.links_from(node).iter().map(Cow::Borrowed).collect();
        let mut kept = Vec::new();
        // `lists` are sorted by reference, so are a node's places in them.
        for (list, reader) in self.lists_of(node) {
            if whole(list) {
                kept.push((list, reader));
            } else {
                links.extend(list.links(reader).map(Cow::Owned));
            }
        }
        // Stable: a list's entries keep their order.
        links.sort_by(|a, b| a.reference.cmp(&b.reference));
        (links, kept)
    }

    /// Links `node` holds that point at another node (a node serving itself crosses no wire).
    pub fn uses<'a>(&'a self, node: &'a str) -> impl Iterator<Item = Cow<'a, LinkPlan>> + 'a {
        self.links_of(node)
            .into_iter()
            .filter(move |l| l.to != node)
    }

    /// The shared lists `node` reads, with its place among their readers.
    pub fn lists_of<'a>(
        &'a self,
        node: &str,
    ) -> impl Iterator<Item = (&'a ListPlan, &'a ListReader)> + 'a {
        let start = self.list_uses.partition_point(|u| u.node.as_str() < node);
        let end = start + self.list_uses[start..].partition_point(|u| u.node.as_str() <= node);
        self.list_uses[start..end].iter().map(|u| {
            let list = &self.lists[u.list as usize];
            (list, &list.readers[u.reader as usize])
        })
    }

    /// Every link of the plan in reader order (a reader's links by reference name, a list's
    /// entries in the reader's order): `links` and every shared list's entries for each of its
    /// readers, made on the fly (an estate's lists hold millions of them).
    pub fn all_links(&self) -> impl Iterator<Item = Cow<'_, LinkPlan>> + '_ {
        self.nodes.iter().flat_map(|n| self.links_of(&n.name))
    }

    /// How many links `all_links` yields, without making them.
    pub fn link_count(&self) -> usize {
        self.links.len()
            + self
                .lists
                .iter()
                .map(|l| l.readers.len() * l.entries.len())
                .sum::<usize>()
    }

    /// The plan as if `node` held no value of `reference` (its links dropped, and its place in a
    /// shared list): what `profile check` renders to see which lines a value changes.
    pub fn without(&self, node: &str, reference: &str) -> Plan {
        let mut p = self.clone();
        p.links
            .retain(|l| !(l.from == node && l.reference == reference));
        for l in p.lists.iter_mut().filter(|l| l.reference == reference) {
            l.readers.retain(|r| r.node != node);
        }
        p.index_lists();
        p
    }

    /// Whether `node` holds a value of `reference`.
    pub fn holds(&self, node: &str, reference: &str) -> bool {
        self.links_of(node).iter().any(|l| l.reference == reference)
    }

    /// Indexes which lists each node reads (after building or changing `lists`).
    pub fn index_lists(&mut self) {
        let mut uses = Vec::new();
        for (li, l) in self.lists.iter().enumerate() {
            for (ri, r) in l.readers.iter().enumerate() {
                uses.push(ListUse {
                    node: r.node.clone(),
                    list: li as u32,
                    reader: ri as u32,
                });
            }
        }
        uses.sort_by(|a, b| a.node.cmp(&b.node).then(a.list.cmp(&b.list)));
        self.list_uses = uses;
    }

    /// Manual steps that concern `node` (its roles read the site).
    pub fn manual_for<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a ManualStep> + 'a {
        // `nodes` of a step are in name order, as the plan's nodes are.
        self.manual
            .iter()
            .filter(move |m| m.nodes.binary_search_by(|n| n.as_str().cmp(node)).is_ok())
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// One host: its nodes by offset and the largest offset.
pub struct HostPlan {
    /// The host's name.
    pub name: String,
    /// Its address (host name, IPv4 or IPv6, bare).
    pub address: String,
    /// Node names on this host, by offset.
    pub nodes: Vec<String>,
    /// Ports the topology reserves on it for other software, ascending.
    pub reserved_ports: Vec<u32>,
    /// Largest offset on the host (`span` in the JSON: the host's offsets span 0..=this).
    #[serde(rename = "span")]
    pub max_offset: u32,
    /// Whether no smaller largest offset exists: proven by the lower bound, or by the exact
    /// search (hosts of up to 44 nodes to place).
    #[serde(rename = "span_minimal")]
    pub max_offset_minimal: bool,
    /// A largest offset no assignment can beat; `max_offset - max_offset_lower_bound` is the
    /// most the greedy result can be above the optimum (0 when minimal).
    #[serde(rename = "span_lower_bound")]
    pub max_offset_lower_bound: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// One node: where it runs, its offset and why, and every port it opens.
pub struct NodePlan {
    /// The node's name.
    pub name: SharedStr,
    /// Its host's name.
    pub host: SharedStr,
    /// Its host's address, bare.
    pub address: SharedStr,
    /// Its roles, `all` expanded.
    pub roles: Vec<String>,
    /// Its port offset.
    pub offset: u32,
    /// Whether the topology pins the offset.
    pub pinned: bool,
    /// Why the offset is what it is, in one sentence.
    pub offset_reason: String,
    /// Every port the node will really listen on.
    pub ports: Vec<PortPlan>,
    /// The `[[cluster]]` it is a member of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<SharedStr>,
}

impl NodePlan {
    /// The effective value of port `name`, if the node opens it.
    pub fn port(&self, name: &str) -> Option<u32> {
        self.ports
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.effective)
    }

    /// Whether the node has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// One port a node listens on.
pub struct PortPlan {
    /// The profile's name for it.
    pub name: SharedStr,
    /// What speaks on it (`https`, `tcp`, …).
    pub protocol: SharedStr,
    /// The product's default.
    pub base: u32,
    /// What the node really listens on.
    pub effective: u32,
    /// Whether the port offset moves it.
    pub follows_offset: bool,
    /// A `per-node` port: its value was chosen for this node (and is kept by the lock).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub per_node: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// One value a node holds: a reference of the profile, pointing at its provider.
pub struct LinkPlan {
    /// Link kind (a profile `[[kind]]`).
    pub kind: SharedStr,
    /// The profile reference this link fills.
    pub reference: SharedStr,
    /// Consumer node (holds the reference in its files).
    pub from: SharedStr,
    /// Provider node.
    pub to: SharedStr,
    /// Provider port name and number the reference carries.
    pub port_name: SharedStr,
    /// The number of that port.
    pub port: u32,
    /// `scheme://address:port` of the provider, for URL references.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<SharedStr>,
    /// Product file (under the product home) of the consumer that holds the reference.
    pub file: SharedStr,
    /// How the provider was chosen.
    pub why: SharedStr,
    /// This link is one entry of a list (a profile reference with `providers = "each"`, such
    /// as the publisher's gateway environments). Entries of one list keep their order here:
    /// the first is the one the product treats as the default.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub each: bool,
    /// The cluster whose front end the value names instead of the provider (a reference a
    /// browser follows, `front` in the profile): `url` and `port` are the front end's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<SharedStr>,
}

/// A list of providers several readers share: every provider of a role, for the readers of a
/// list reference (`providers = "each"`) that no `[[link]]` narrows and that do not provide it
/// themselves. Kept once however many read it; each reader's files still list every entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ListPlan {
    /// Link kind (a profile `[[kind]]`).
    pub kind: SharedStr,
    /// The profile reference its readers fill with it.
    pub reference: SharedStr,
    /// Provider port name the entries carry.
    pub port_name: SharedStr,
    /// Product file of the readers that holds it.
    pub file: SharedStr,
    /// Every provider, in the list's order: the entries the lock had first, then by name.
    pub entries: Vec<ListEntry>,
    /// The nodes that read it, by name.
    pub readers: Vec<ListReader>,
}

/// One provider of a shared list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ListEntry {
    /// The provider node.
    pub to: SharedStr,
    /// The provider's port the entry carries (the front end's, `via` a cluster).
    pub port: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `scheme://address:port` of the provider, for URL references.
    pub url: Option<SharedStr>,
    /// How the provider was chosen.
    pub why: SharedStr,
    /// The cluster whose front end the value names (as [`LinkPlan::via`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<SharedStr>,
}

/// One reader of a shared list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ListReader {
    /// The reader node.
    pub node: SharedStr,
    /// The entries (by provider) this reader lists before the others, in this order: those on
    /// its own host, the lock's, the one a `[[link]]` chose for a single value of the same
    /// file. The rest follow in the list's order. Empty: the list's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub first: Vec<SharedStr>,
    /// `first` as indices into the list's `entries`.
    #[serde(skip)]
    pub first_at: Vec<u32>,
}

/// A node's place among a shared list's readers (the plan's index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUse {
    /// The reader node.
    pub node: SharedStr,
    /// Index of the list in the plan's `lists`.
    pub list: u32,
    /// Index of the node among the list's readers.
    pub reader: u32,
}

/// A set of ports in one cell: `8243`, or `8243-8260 (12 ports)`.
pub fn port_set(ports: impl Iterator<Item = u32>) -> String {
    let mut v: Vec<u32> = ports.collect();
    v.sort_unstable();
    v.dedup();
    match v.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [lo, .., hi] => format!("{lo}-{hi} ({} ports)", v.len()),
    }
}

impl ListPlan {
    /// The ports of its entries, as [`port_set`] writes them.
    pub fn ports(&self) -> String {
        port_set(self.entries.iter().map(|e| e.port))
    }

    /// `reader`'s entries in its order: its `first` ones, then the others in the list's order.
    pub fn ordered<'a>(
        &'a self,
        reader: &'a ListReader,
    ) -> impl Iterator<Item = &'a ListEntry> + 'a {
        let mut skip = vec![
            false;
            if reader.first_at.is_empty() {
                0
            } else {
                self.entries.len()
            }
        ];
        for &i in &reader.first_at {
            skip[i as usize] = true;
        }
        let first = reader.first_at.iter().map(|&i| &self.entries[i as usize]);
        let rest = self
            .entries
            .iter()
            .enumerate()
            .filter(move |(i, _)| !skip.get(*i).copied().unwrap_or(false))
            .map(|(_, e)| e);
        first.chain(rest)
    }

    /// `reader`'s entries as links, in its order.
    pub fn links<'a>(&'a self, reader: &'a ListReader) -> impl Iterator<Item = LinkPlan> + 'a {
        self.ordered(reader).map(|e| self.link(&reader.node, e))
    }

    /// Entry `e` as the link `from` holds.
    pub fn link(&self, from: &SharedStr, e: &ListEntry) -> LinkPlan {
        LinkPlan {
            kind: self.kind.clone(),
            reference: self.reference.clone(),
            from: from.clone(),
            to: e.to.clone(),
            port_name: self.port_name.clone(),
            port: e.port,
            url: e.url.clone(),
            file: self.file.clone(),
            why: e.why.clone(),
            each: true,
            via: e.via.clone(),
        }
    }
}

/// A site topoplan leaves to the operator (see the profile's `[[manual]]`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ManualStep {
    /// The profile's name for the site.
    pub name: String,
    /// Product file (under the product home, or of another server) holding the site.
    pub file: String,
    /// The element or key (a selector, a line) that holds the value.
    pub element: String,
    /// The value shipped.
    pub default: String,
    /// What to do, and why topoplan does not do it.
    pub action: String,
    /// Nodes whose copy matters (their roles read it); empty when the site lives outside the
    /// deployment's nodes.
    pub nodes: Vec<String>,
    /// The values the site may take: one per node of the provider role.
    pub values: Vec<ManualValue>,
    /// Where the fact comes from (PORTS.md, product source, by file and line).
    pub evidence: String,
}

impl LinkPlan {
    /// What the reader holds: the URL, or the bare port for non-HTTP links.
    pub fn value(&self) -> String {
        self.url
            .as_ref()
            .map_or_else(|| self.port.to_string(), SharedStr::to_string)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
/// One value a manual site may take: that of one node.
pub struct ManualValue {
    /// The node whose value it is.
    pub node: String,
    /// `scheme://host:port` of that node's port, or `host:port` for non-HTTP ports.
    pub value: String,
}
