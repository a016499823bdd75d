//! The topology file: wire types as serde sees them, and the validated domain model.
//!
//! Two phases, as in cargo-deny: serde fills flat wire structs (`deny_unknown_fields`, every
//! value `Spanned`), then [`validate`] walks them with the product profile and collects **all**
//! problems instead of stopping at the first. Spans survive into the domain types so that the
//! solver can still point into the user's file.

use crate::diag::{Code, Diagnostic, Span};
use crate::profile::Profile;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

mod validate;
use validate::validate;

/// The whole file's tables, gathered from its pieces ([`ChunkWire`]).
#[derive(Debug)]
struct TopologyWire {
    deployment: Spanned<DeploymentWire>,
    host: Vec<Spanned<HostWire>>,
    node: Vec<Spanned<NodeWire>>,
    link: Vec<Spanned<LinkWire>>,
    database: Vec<Spanned<DatabaseWire>>,
    cluster: Vec<Spanned<ClusterWire>>,
}

/// One piece of a large topology ([`chunks`]): the same tables, `[deployment]` optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChunkWire {
    deployment: Option<Spanned<DeploymentWire>>,
    #[serde(default)]
    host: Vec<Spanned<HostWire>>,
    #[serde(default)]
    node: Vec<Spanned<NodeWire>>,
    #[serde(default)]
    link: Vec<Spanned<LinkWire>>,
    #[serde(default)]
    database: Vec<Spanned<DatabaseWire>>,
    #[serde(default)]
    cluster: Vec<Spanned<ClusterWire>>,
}

/// Moves every span of a value parsed from a piece of the file to its place in the file.
trait Shift: Sized {
    fn shift(self, by: usize) -> Self;
}

impl<T: Shift> Shift for Spanned<T> {
    fn shift(self, by: usize) -> Self {
        let span = self.span();
        Spanned::new(span.start + by..span.end + by, self.into_inner().shift(by))
    }
}

impl<T: Shift> Shift for Option<T> {
    fn shift(self, by: usize) -> Self {
        self.map(|v| v.shift(by))
    }
}

impl<T: Shift> Shift for Vec<T> {
    fn shift(self, by: usize) -> Self {
        self.into_iter().map(|v| v.shift(by)).collect()
    }
}

impl Shift for String {
    fn shift(self, _: usize) -> Self {
        self
    }
}

impl Shift for i64 {
    fn shift(self, _: usize) -> Self {
        self
    }
}

impl Shift for DeploymentWire {
    fn shift(self, by: usize) -> Self {
        DeploymentWire {
            name: self.name.shift(by),
            product: self.product.shift(by),
            mode: self.mode.shift(by),
            allow: self.allow.shift(by),
        }
    }
}

impl Shift for HostWire {
    fn shift(self, by: usize) -> Self {
        HostWire {
            name: self.name.shift(by),
            address: self.address.shift(by),
            reserved_ports: self.reserved_ports.shift(by),
        }
    }
}

impl Shift for NodeWire {
    fn shift(self, by: usize) -> Self {
        NodeWire {
            name: self.name.shift(by),
            roles: self.roles.shift(by),
            host: self.host.shift(by),
            offset: self.offset.shift(by),
        }
    }
}

impl Shift for LinkWire {
    fn shift(self, by: usize) -> Self {
        LinkWire {
            from: self.from.shift(by),
            to: self.to.shift(by),
            kinds: self.kinds.shift(by),
        }
    }
}

impl Shift for Diagnostic {
    fn shift(mut self, by: usize) -> Self {
        for l in &mut self.labels {
            l.span = l.span.start + by..l.span.end + by;
        }
        for r in &mut self.redact {
            *r = r.start + by..r.end + by;
        }
        self
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeploymentWire {
    name: Spanned<String>,
    product: Spanned<String>,
    /// The profile mode.
    #[serde(rename = "key_validation")]
    mode: Option<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostWire {
    name: Spanned<String>,
    address: Option<Spanned<String>>,
    #[serde(default)]
    reserved_ports: Vec<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeWire {
    name: Spanned<String>,
    roles: Spanned<Vec<Spanned<String>>>,
    host: Spanned<String>,
    offset: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkWire {
    from: Spanned<String>,
    to: Spanned<String>,
    /// The link kinds (the profile's `[[kind]]`s) it decides; all when absent.
    kinds: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[[database]]`: a database server the nodes share (DESIGN.md "Shared databases").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseWire {
    name: Spanned<String>,
    engine: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    user: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    datasources: Option<Spanned<Vec<Spanned<String>>>>,
}

impl Shift for DatabaseWire {
    fn shift(self, by: usize) -> Self {
        DatabaseWire {
            name: self.name.shift(by),
            engine: self.engine.shift(by),
            host: self.host.shift(by),
            address: self.address.shift(by),
            port: self.port.shift(by),
            user: self.user.shift(by),
            password_env: self.password_env.shift(by),
            datasources: self.datasources.shift(by),
        }
    }
}

/// `[[cluster]]`: nodes of one role group that act as one (DESIGN.md "Clusters and front
/// ends").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterWire {
    name: Spanned<String>,
    nodes: Spanned<Vec<Spanned<String>>>,
    manager: Option<Spanned<String>>,
    frontend: Option<Spanned<String>>,
    lb_host: Option<Spanned<String>>,
    http_port: Option<Spanned<i64>>,
    https_port: Option<Spanned<i64>>,
}

impl Shift for ClusterWire {
    fn shift(self, by: usize) -> Self {
        ClusterWire {
            name: self.name.shift(by),
            nodes: self.nodes.shift(by),
            manager: self.manager.shift(by),
            frontend: self.frontend.shift(by),
            lb_host: self.lb_host.shift(by),
            http_port: self.http_port.shift(by),
            https_port: self.https_port.shift(by),
        }
    }
}

/// A validated topology. Hosts and nodes keep the order of the file; indices are stable.
#[derive(Debug, Clone)]
pub struct Topology {
    /// `[deployment] name`.
    pub name: String,
    /// `[deployment] product`.
    pub product: String,
    /// The profile mode in force (`[deployment] key_validation`, default the profile's first).
    pub mode: String,
    /// Warning codes the topology silences (`[deployment] allow`), with where each is written.
    pub allow: Vec<(String, Span)>,
    /// Every `[[host]]`, in the file's order.
    pub hosts: Vec<Host>,
    /// Every `[[node]]`, in the file's order.
    pub nodes: Vec<Node>,
    /// Every `[[link]]`, in the file's order.
    pub links: Vec<Link>,
    /// Shared database servers (`[[database]]`), in the file's order.
    pub databases: Vec<Database>,
    /// Clusters (`[[cluster]]`), in the file's order; each node is in at most one
    /// ([`Node::cluster`]).
    pub clusters: Vec<Cluster>,
}

/// Nodes that act as one: Hazelcast members of one domain, and (with a front end) one
/// load-balanced name for the references browsers follow.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster's name.
    pub name: String,
    /// Members, indices into [`Topology::nodes`], in the file's order.
    pub nodes: Vec<usize>,
    /// The member that takes admin calls (publishes), for roles whose profile has a manager;
    /// the other members are workers.
    pub manager: Option<usize>,
    /// Its load-balanced address, when it has one.
    pub frontend: Option<FrontEnd>,
    /// Where the table is.
    pub span: Span,
}

/// The load-balanced address of a cluster.
#[derive(Debug, Clone)]
pub struct FrontEnd {
    /// Host name, IPv4 or IPv6 address, bare.
    pub address: String,
    /// The topology host that runs the load balancer, when it is one (its ports are reserved
    /// there).
    pub lb_host: Option<usize>,
    /// The port the load balancer takes HTTP on.
    pub http_port: u32,
    /// The port the load balancer takes HTTPS on.
    pub https_port: u32,
}

impl Cluster {
    /// Whether `node` (an index into [`Topology::nodes`]) is a worker: a member of a cluster
    /// with a manager, other than the manager.
    pub fn is_worker(&self, node: usize) -> bool {
        self.manager.is_some_and(|m| m != node) && self.nodes.contains(&node)
    }
}

/// A database server the nodes share, validated.
#[derive(Debug, Clone)]
pub struct Database {
    /// The server's name.
    pub name: String,
    /// An engine of the profile (`[[engine]]`).
    pub engine: String,
    /// The topology host it runs on, when it is one (its address is used, its port reserved).
    pub host: Option<usize>,
    /// Host name, IPv4 or IPv6 address, bare.
    pub address: String,
    /// Its port.
    pub port: u32,
    /// The login every node uses.
    pub user: String,
    /// The environment variable `apply` reads the password from; the password itself is
    /// never in a topology, plan, bundle or log.
    pub password_env: String,
    /// The profile's shared datasources that live on this server.
    pub datasources: Vec<String>,
    /// Where the table is.
    pub span: Span,
}

#[derive(Debug, Clone)]
/// A machine nodes run on.
pub struct Host {
    /// The host's name.
    pub name: String,
    /// Host name, IPv4 or IPv6 address (bare, never bracketed) written into rendered files;
    /// defaults to the host name, which must then be a valid host name.
    pub address: String,
    /// Ports other software uses there, and where each is written.
    pub reserved_ports: Vec<(u32, Span)>,
    /// Where the table is.
    pub span: Span,
}

#[derive(Debug, Clone)]
/// One Carbon server.
pub struct Node {
    /// The node's name.
    pub name: String,
    /// Where the name is written.
    pub name_span: Span,
    /// Index into [`Topology::hosts`].
    pub host: usize,
    /// Roles with `all` expanded, in profile order.
    pub roles: Vec<String>,
    /// Where the roles are written.
    pub roles_span: Span,
    /// Pinned offset and where it was written.
    pub pin: Option<(u32, Span)>,
    /// The `[[cluster]]` it is a member of, an index into [`Topology::clusters`].
    pub cluster: Option<usize>,
}

impl Node {
    /// Whether the node has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug, Clone)]
/// A choice of provider: `from` reads its values of the provider's role from `to`.
pub struct Link {
    /// The reader, an index into [`Topology::nodes`].
    pub from: usize,
    /// The provider, an index into [`Topology::nodes`].
    pub to: usize,
    /// The link kinds it decides (empty: every value `from` reads from `to`).
    pub kinds: Vec<String>,
    /// Where the table is.
    pub span: Span,
}

impl Link {
    /// Whether the link decides values of `kind`.
    pub fn decides(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k == kind)
    }
}

/// Parses `src` and validates it against the profile its `deployment.product` names.
/// `profiles` maps product names to profiles. On failure every diagnostic found is returned,
/// in source order.
pub fn parse(src: &str, profiles: &BTreeMap<String, Profile>) -> Result<Topology, Vec<Diagnostic>> {
    let known: Vec<String> = profiles.keys().cloned().collect();
    parse_with(src, &known, profiles)
}

/// [`parse`] with only the profiles needed loaded: `known` names every product (for the
/// `unknown-product` note), `profiles` holds the loaded ones.
pub fn parse_with(
    src: &str,
    known: &[String],
    profiles: &BTreeMap<String, Profile>,
) -> Result<Topology, Vec<Diagnostic>> {
    // Structure first, over the whole file: every misspelt or missing key at once. Misspelt
    // keys are then blanked out (same byte length, so spans stay right) and the semantic
    // checks run too, so one run reports both kinds of problem.
    let (wire, mut diags) = parse_chunks(src)?;
    match validate(wire, known, profiles) {
        Ok(t) if diags.is_empty() => Ok(t),
        Ok(_) => Err(diags),
        Err(more) => {
            diags.extend(more);
            diags.sort_by_key(Diagnostic::position);
            Err(diags)
        }
    }
}

/// The keys of each table of the format: (key, required). The schema pass checks files
/// against these, and [`crate::schema`] publishes them as a JSON Schema, so the two agree.
pub const DEPLOYMENT_KEYS: &[(&str, bool)] = &[
    ("name", true),
    ("product", true),
    ("key_validation", false),
    ("allow", false),
];
/// The keys of `[[host]]`.
pub const HOST_KEYS: &[(&str, bool)] = &[
    ("name", true),
    ("address", false),
    ("reserved_ports", false),
];
/// The keys of `[[node]]`.
pub const NODE_KEYS: &[(&str, bool)] = &[
    ("name", true),
    ("roles", true),
    ("host", true),
    ("offset", false),
];
/// The keys of `[[link]]`.
pub const LINK_KEYS: &[(&str, bool)] = &[("from", true), ("to", true), ("kinds", false)];
/// The keys of `[[database]]`.
pub const DATABASE_KEYS: &[(&str, bool)] = &[
    ("name", true),
    ("engine", false),
    ("host", false),
    ("address", false),
    ("port", false),
    ("user", false),
    ("password_env", false),
    ("datasources", false),
];
/// The keys of `[[cluster]]`.
pub const CLUSTER_KEYS: &[(&str, bool)] = &[
    ("name", true),
    ("nodes", true),
    ("manager", false),
    ("frontend", false),
    ("lb_host", false),
    ("http_port", false),
    ("https_port", false),
];

/// Checks every table's keys against the format. Returns the source with misspelt keys blanked
/// and their diagnostics; `Err` when the structure is too broken to go on (a syntax error,
/// a missing key, an unknown top-level table).
///
/// `has_deployment` is set once the text parses: whether it holds `[deployment]` (which one
/// piece of a large file must, checked over all pieces by [`parse_chunks`]).
fn schema_pass<'a>(
    src: &'a str,
    has_deployment: &mut Option<bool>,
) -> Result<(Parsed<'a>, Vec<Diagnostic>), Vec<Diagnostic>> {
    use toml::de::{DeTable, DeValue};
    let root = match DeTable::parse(src) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            return Err(vec![syntax_diagnostic(src, span, first_line(e.message()))]);
        }
    };
    *has_deployment = Some(
        root.get_ref()
            .keys()
            .any(|k| k.get_ref().as_ref() == "deployment"),
    );
    let mut diags = Vec::new();
    let mut blank: Vec<Span> = Vec::new();
    let mut stop = false;
    let root_keys: &[(&str, bool)] = &[
        ("deployment", true),
        ("host", false),
        ("node", false),
        ("link", false),
        ("database", false),
        ("cluster", false),
    ];
    for (k, v) in root.get_ref().iter() {
        let (key, table_keys) = match k.get_ref().as_ref() {
            "deployment" => ("deployment", DEPLOYMENT_KEYS),
            "host" => ("[[host]]", HOST_KEYS),
            "node" => ("[[node]]", NODE_KEYS),
            "link" => ("[[link]]", LINK_KEYS),
            "database" => ("[[database]]", DATABASE_KEYS),
            "cluster" => ("[[cluster]]", CLUSTER_KEYS),
            other => {
                diags.push(unknown(other, k.span(), root_keys, "the topology"));
                stop = true;
                continue;
            }
        };
        match v.get_ref() {
            DeValue::Table(t) => {
                stop |= !check_table(t, v.span(), table_keys, key, &mut diags, &mut blank);
            }
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        stop |=
                            !check_table(t, item.span(), table_keys, key, &mut diags, &mut blank);
                    }
                }
            }
            // Wrong shapes are the typed parse's to report, with its wording.
            _ => {}
        }
    }
    if stop {
        diags.sort_by_key(Diagnostic::position);
        return Err(diags);
    }
    if blank.is_empty() {
        // The usual case: the typed parse reads the tree already built (a large topology is
        // parsed once, not twice).
        return Ok((Parsed::Tree(root), diags));
    }
    Ok((Parsed::Text(blank_out(src, &blank)), diags))
}

/// `src` with the byte ranges `blank` turned to spaces (line breaks kept, so positions stay).
fn blank_out(src: &str, blank: &[Span]) -> String {
    let mut clean = src.as_bytes().to_vec();
    for r in blank {
        for b in &mut clean[r.start.min(src.len())..r.end.min(src.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    // Only whole key-value runs were blanked, so the text is still UTF-8.
    String::from_utf8(clean).unwrap_or_else(|_| src.to_string())
}

/// `unknown-key`, with the keys the table has.
fn unknown(key: &str, span: Span, keys: &[(&str, bool)], table: &str) -> Diagnostic {
    let mut d = Diagnostic::new(
        Code::UnknownKey,
        format!("unknown key `{key}` in `{table}`"),
    )
    .at(span, "not a key of this table");
    if let Some(h) = did_you_mean(key, keys.iter().map(|k| k.0)) {
        d = d.note(h);
    }
    let list: Vec<String> = keys.iter().map(|k| format!("`{}`", k.0)).collect();
    d.note(format!("keys of `{table}`: {}", list.join(", ")))
}
/// Unknown keys (reported, and their key-value runs to blank) and missing ones (fatal).
fn check_table(
    t: &toml::de::DeTable,
    span: Span,
    keys: &[(&str, bool)],
    table: &str,
    diags: &mut Vec<Diagnostic>,
    blank: &mut Vec<Span>,
) -> bool {
    let mut complete = true;
    for (k, v) in t.iter() {
        if !keys.iter().any(|(name, _)| *name == k.get_ref().as_ref()) {
            if table == "[[database]]" && k.get_ref().as_ref() == "password" {
                diags.push(inline_password(k.span().start..v.span().end, v.span()));
            } else {
                diags.push(unknown(k.get_ref(), k.span(), keys, table));
            }
            blank.push(k.span().start..v.span().end.max(k.span().end));
        }
    }
    for (name, required) in keys {
        if *required && !t.keys().any(|k| k.get_ref().as_ref() == *name) {
            diags.push(
                Diagnostic::new(Code::MissingKey, format!("`{table}` lacks `{name}`"))
                    .at(span.clone(), format!("add `{name} = ...` to this table")),
            );
            complete = false;
        }
    }
    complete
}

/// A password written into the topology: refused, because a topology is committed, reviewed
/// and copied; `password_env` names the variable `apply` reads it from instead.
fn inline_password(span: Span, value: Span) -> Diagnostic {
    Diagnostic::new(
        Code::InlinePassword,
        "a database password is written in the topology",
    )
    .at(span, "a secret in a file that is committed, reviewed and copied")
    .redact(value)
    .note("remove it, and give the variable that holds it: `password_env = \"DB_PASSWORD\"` (default `TOPOPLAN_DB_PASSWORD`); `apply` reads it there")
}

/// What the typed parse reads: the spanned tree, or (when misspelt keys were blanked out so
/// the rest can still be checked) the cleaned text.
enum Parsed<'a> {
    Tree(toml::Spanned<toml::de::DeTable<'a>>),
    Text(String),
}

/// Below this size a topology is parsed whole; above, in pieces ([`chunks`]).
const CHUNK_FROM: usize = 512 * 1024;
/// The smallest piece worth a thread of its own.
const MIN_CHUNK: usize = 128 * 1024;
/// The most text one piece holds: fewer, larger pieces cost less in fresh pages than
/// they add to the peak (1 MiB of text is about 40 MiB of parser state, per core).
const CHUNK_SIZE: usize = 1024 * 1024;

/// Where a large topology may be cut: before each top-level `[deployment]`, `[[host]]`,
/// `[[node]]` or `[[link]]` header, at most one cut per [`CHUNK_SIZE`] of text. Each piece is
/// then a TOML document of its own with the same meaning, so pieces parse on every core and
/// only one piece's parser state (about 40 times its text) is alive per core, instead of the
/// whole file's: 100,000 nodes parse in a few hundred megabytes.
///
/// A cut is made only where the scanner is sure it stands at the top level (outside strings,
/// comments, arrays and inline tables), and only when nothing but comments precedes the first
/// header (a root key could otherwise clash with a later table). Anything unusual means no
/// cut: the file is then one piece and parsed exactly as a small one.
fn chunks(src: &str) -> Vec<Span> {
    // A few pieces per core, so cores finish together; never more text than CHUNK_SIZE a piece.
    let size = (src.len() / (crate::parallel::threads() * 4)).clamp(MIN_CHUNK, CHUNK_SIZE);
    chunks_sized(src, CHUNK_FROM, size)
}

/// [`chunks`] with its two sizes given (the tests cut small files).
#[allow(clippy::single_range_in_vec_init)] // one piece: the whole file
fn chunks_sized(src: &str, from: usize, size: usize) -> Vec<Span> {
    if src.len() < from {
        return vec![0..src.len()];
    }
    let b = src.as_bytes();
    let mut cuts = vec![0];
    let (mut i, mut depth, mut line_start, mut seen_header) = (0usize, 0usize, true, false);
    while i < b.len() {
        let c = b[i];
        if line_start && depth == 0 {
            // Skip indentation, then look at what the line is.
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if j < b.len() && b[j] == b'[' {
                if is_cut_header(&src[j..]) && i - cuts[cuts.len() - 1] >= size {
                    cuts.push(i);
                }
                seen_header = true;
            } else if !seen_header && j < b.len() && !matches!(b[j], b'#' | b'\n' | b'\r') {
                // A root key before the first header: parse whole.
                return vec![0..src.len()];
            }
        }
        line_start = false;
        match c {
            b'\n' => line_start = true,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' | b'\'' => {
                let triple = b.len() >= i + 3 && b[i + 1] == c && b[i + 2] == c;
                let Some(end) = string_end(b, i, c, triple) else {
                    return vec![0..src.len()];
                };
                i = end;
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    cuts.push(src.len());
    cuts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Whether `line` starts with one of the headers [`chunks`] cuts before.
fn is_cut_header(line: &str) -> bool {
    let line = line.split('\n').next().unwrap_or("");
    let head = line.split('#').next().unwrap_or("").trim_end();
    let compact: String = head.chars().filter(|c| *c != ' ' && *c != '\t').collect();
    matches!(
        compact.as_str(),
        "[deployment]" | "[[host]]" | "[[node]]" | "[[link]]" | "[[database]]" | "[[cluster]]"
    )
}

/// The index just past the string that opens at `i` (quote `q`, triple or not); `None` if it
/// never closes.
fn string_end(b: &[u8], i: usize, q: u8, triple: bool) -> Option<usize> {
    let mut j = i + if triple { 3 } else { 1 };
    while j < b.len() {
        match b[j] {
            // Escapes exist in basic strings only.
            b'\\' if q == b'"' => j += 2,
            b'\n' if !triple => return None,
            c if c == q => {
                if !triple {
                    return Some(j + 1);
                }
                if b.len() >= j + 3 && b[j + 1] == q && b[j + 2] == q {
                    // Up to two more quotes may belong to the content.
                    let mut end = j + 3;
                    while end < b.len() && b[end] == q && end < j + 5 {
                        end += 1;
                    }
                    return Some(end);
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    None
}

/// The structural passes over every piece of the file (in parallel), merged: the typed
/// topology and the problems found so far, or the problems that stop the parse.
fn parse_chunks(src: &str) -> Result<(TopologyWire, Vec<Diagnostic>), Vec<Diagnostic>> {
    parse_pieces(src, &chunks(src))
}

/// [`parse_chunks`] over given pieces (tests compare a cut file with the file whole).
fn parse_pieces(
    src: &str,
    pieces: &[Span],
) -> Result<(TopologyWire, Vec<Diagnostic>), Vec<Diagnostic>> {
    let one = |r: &Span| parse_piece(src, r, pieces.len() == 1);
    let results: Vec<Piece> = if pieces.len() == 1 {
        vec![one(&pieces[0])]
    } else {
        crate::parallel::map_in_order(pieces, 2, one)
    };
    merge_pieces(results)
}

/// One piece of a topology: whether it holds `[deployment]` (`None`: unknown, the schema pass
/// stopped), and its tables with their warnings, shifted to the file's offsets, or its errors.
type Piece = (
    Option<bool>,
    Result<(ChunkWire, Vec<Diagnostic>), Vec<Diagnostic>>,
);

/// Parses the piece `r` of `src` (`whole`: it is the whole file).
fn parse_piece(src: &str, r: &Span, whole: bool) -> Piece {
    let text = &src[r.clone()];
    let shift = |d: Vec<Diagnostic>| d.into_iter().map(|d| d.shift(r.start)).collect();
    let mut has_deployment = None;
    let (parsed, diags) = match schema_pass(text, &mut has_deployment) {
        Ok(p) => p,
        Err(d) => return (has_deployment, Err(shift(d))),
    };
    // Without `[deployment]` the file is not planned: the shapes of the rest are not looked at
    // (as the schema pass stops for a missing table).
    if has_deployment == Some(false) && whole {
        return (has_deployment, Err(shift(diags)));
    }
    let wire = match parse_wire(text, parsed) {
        Ok(w) => w,
        Err(more) => {
            let mut all = diags;
            all.extend(more);
            return (has_deployment, Err(shift(all)));
        }
    };
    let chunk = ChunkWire {
        deployment: wire.deployment.shift(r.start),
        host: wire.host.shift(r.start),
        node: wire.node.shift(r.start),
        link: wire.link.shift(r.start),
        database: wire.database.shift(r.start),
        cluster: wire.cluster.shift(r.start),
    };
    (has_deployment, Ok((chunk, shift(diags))))
}

/// The pieces' tables in file order as one topology; one `[deployment]` exactly.
fn merge_pieces(results: Vec<Piece>) -> Result<(TopologyWire, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (mut diags, mut fatal) = (Vec::new(), false);
    let mut deployment: Option<Spanned<DeploymentWire>> = None;
    let (mut host, mut node, mut link, mut database, mut cluster) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Every piece parsed and none holds `[deployment]`: the file lacks it.
    let lacks_deployment = results.iter().all(|(has, _)| *has == Some(false));
    for (_, r) in results {
        let (w, d) = match r {
            Ok(ok) => ok,
            Err(d) => {
                diags.extend(d);
                fatal = true;
                continue;
            }
        };
        diags.extend(d);
        if let Some(dep) = w.deployment {
            if let Some(first) = &deployment {
                // What TOML says when one file defines the table twice.
                diags.push(
                    Diagnostic::new(Code::TomlSyntax, "invalid TOML")
                        .at(dep.span(), "duplicate key `deployment`")
                        .also(first.span(), "first defined here"),
                );
                fatal = true;
            } else {
                deployment = Some(dep);
            }
        }
        host.extend(w.host);
        node.extend(w.node);
        link.extend(w.link);
        database.extend(w.database);
        cluster.extend(w.cluster);
    }
    let deployment = match deployment {
        Some(d) if !fatal => d,
        _ => {
            if lacks_deployment {
                diags.push(
                    Diagnostic::new(Code::MissingKey, "the topology has no `[deployment]` table")
                        .at(0..0, "add `[deployment]` with `name` and `product`"),
                );
            }
            diags.sort_by_key(Diagnostic::position);
            return Err(diags);
        }
    };
    let wire = TopologyWire {
        deployment,
        host,
        node,
        link,
        database,
        cluster,
    };
    Ok((wire, diags))
}

/// The typed parse. Syntax was checked by [`schema_pass`], on the same text, so every error
/// here is about the shape (or range) of a value.
fn parse_wire(src: &str, parsed: Parsed) -> Result<ChunkWire, Vec<Diagnostic>> {
    use serde::de::IntoDeserializer;
    let result = match parsed {
        Parsed::Tree(t) => ChunkWire::deserialize(t.into_deserializer()),
        Parsed::Text(clean) => toml::from_str::<ChunkWire>(&clean),
    };
    result.map_err(|e| {
        let msg = first_line(e.message());
        let span = e.span().unwrap_or(0..0);
        let code = if msg.starts_with("unknown field") {
            Code::UnknownKey
        } else if msg.starts_with("missing field") {
            Code::MissingKey
        } else {
            Code::InvalidValue
        };
        if msg.contains("as i128") {
            // An integer beyond 64 bits, which the spanned parser keeps.
            return vec![syntax_diagnostic(src, span, msg)];
        }
        let written = src.get(span.clone()).unwrap_or("").trim();
        // `[host]` where the format has a list of tables.
        if msg.starts_with("invalid type: map, expected a sequence")
            && written.starts_with('[')
            && !written.starts_with("[[")
        {
            let table = written.trim_matches(|c| c == '[' || c == ']').trim();
            return vec![Diagnostic::new(
                Code::InvalidValue,
                format!("`[{table}]` is one table, but a topology has a list of `{table}` tables"),
            )
            .at(span, format!("write `[[{table}]]`"))
            .note(format!(
                "each `[[{table}]]` header starts one more entry of the list"
            ))];
        }
        let mut d = Diagnostic::new(code, msg.clone()).at(span, label_for(code));
        if let Some(hint) = unknown_field_hint(&msg) {
            d = d.note(hint);
        }
        vec![d]
    })
}

/// Syntax errors whose position or wording the TOML parser gets wrong for a human.
fn syntax_diagnostic(src: &str, span: Span, msg: String) -> Diagnostic {
    // An array never closed: the parser notices only at the next line, and calls it a missing
    // comma. Point at the `[` that is still open.
    if msg.contains("missing comma between array elements") {
        let before = &src[..span.start.min(src.len())];
        let content_end = before.trim_end().len();
        if content_end < span.start && before[content_end..].contains('\n') {
            if let Some(open) = unclosed_bracket(&src[..content_end]) {
                return Diagnostic::new(Code::TomlSyntax, "an array is never closed")
                    .at(open..open + 1, "this `[` has no matching `]`")
                    .also(span, "the next line starts here")
                    .note("add the missing `]` at the end of the array");
            }
        }
    }
    if msg.contains("as i128") || msg.contains("number too large") {
        return Diagnostic::new(Code::InvalidValue, "integer out of range").at(
            span,
            "TOML integers are 64-bit; no port or offset is this large",
        );
    }
    Diagnostic::new(Code::TomlSyntax, "invalid TOML").at(span, msg)
}

/// The byte position of the innermost `[` still open at the end of `text` (ignoring brackets
/// inside strings and comments), searching back from the end of its last line.
fn unclosed_bracket(text: &str) -> Option<usize> {
    let mut stack = Vec::new();
    let (mut in_str, mut in_comment) = (None::<char>, false);
    for (i, c) in text.char_indices() {
        match (in_str, c) {
            _ if in_comment => in_comment = c != '\n',
            (Some(q), c) if c == q => in_str = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => in_str = Some(c),
            (None, '#') => in_comment = true,
            (None, '[') => stack.push(i),
            (None, ']') => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop()
}

/// `unknown field `hots`, expected one of `name`, `roles`, ...`: the closest expected key.
fn unknown_field_hint(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (got, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    did_you_mean(got, expected.iter().copied())
}

/// "did you mean `x`?" for the closest of `candidates`, when one is close enough.
pub fn did_you_mean<'a>(got: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    // Close means one typo (a swap of two letters counts as one) per three characters, at
    // least one.
    let limit = (got.chars().count() / 3).max(1);
    candidates
        .map(|c| (strsim::osa_distance(got, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

fn label_for(code: Code) -> &'static str {
    match code {
        Code::UnknownKey => "not a key of this table",
        Code::MissingKey => "in this table",
        _ => "here",
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// File names a bundle uses for itself beside the node folders.
pub const RESERVED_NODE_NAMES: &[&str] = &[
    "plan.json",
    "review.md",
    "review.html",
    "databases",
    "load-balancers",
];

/// A node name becomes a bundle folder, and every name reaches terminals, XML comments,
/// shell comments and Markdown: keep names to a portable, traversal-free, markup-free set.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;

    /// The tests cut files of a few hundred kilobytes into pieces of 64 KiB.
    const SMALL_FROM: usize = 128 * 1024;
    const SMALL_SIZE: usize = 64 * 1024;

    /// A topology of `n` nodes, well over the size that is parsed in pieces, with comments,
    /// multi-line arrays and literal strings that a careless cutter would trip on.
    fn large(n: usize) -> String {
        let mut t = String::from(
            "# a large estate\n[deployment]\nname = \"big\"\nproduct = \"appm-1.1.0\"\n",
        );
        for h in 0..n / 5 {
            t += &format!(
                "\n[[host]]\nname = 'h{h}'\naddress = \"10.0.{}.{}\"\nreserved_ports = [\n  3306,\n]\n",
                h / 250,
                h % 250 + 1
            );
        }
        for k in 0..n {
            t += &format!(
                "\n[[node]] # node {k}\nname = \"n{k}\"\nroles = [\"gateway\"]\nhost = \"h{}\"\n",
                k / 5
            );
        }
        t
    }

    #[test]
    fn a_large_file_parses_in_pieces_exactly_as_it_parses_whole() {
        let src = large(3_000);
        let pieces = chunks_sized(&src, SMALL_FROM, SMALL_SIZE);
        assert!(
            src.len() > SMALL_FROM && pieces.len() > 2,
            "{}",
            pieces.len()
        );
        // The pieces tile the file, and each starts at a header.
        assert_eq!(pieces[0].start, 0);
        assert_eq!(pieces.last().unwrap().end, src.len());
        for w in pieces.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert!(is_cut_header(&src[w[1].start..]), "cut at {}", w[1].start);
        }
        let cut = parse_pieces(&src, &pieces).unwrap();
        let whole = parse_pieces(&src, &[0..src.len()]).unwrap();
        assert_eq!(
            format!("{cut:?}"),
            format!("{whole:?}"),
            "same values, same spans"
        );
    }

    #[test]
    fn header_lines_inside_a_string_are_never_cut_and_problems_keep_their_place() {
        let mut src = large(3_000);
        let at = src.find("[[node]] # node 2000").unwrap();
        // A multi-line string holding header lines, each a cut candidate if read naively.
        let hidden = format!(
            "[[node]]\nname = \"tricky\"\nroles = [\"gateway\"]\nhost = \"h0\"\nnote = \"\"\"\n{}\"\"\"\n",
            "[[node]]\n".repeat(40_000)
        );
        src.insert_str(at, &hidden);
        let pieces = chunks_sized(&src, SMALL_FROM, SMALL_SIZE);
        assert!(pieces.len() > 2);
        for p in &pieces {
            assert!(
                p.start <= at + 60 || p.start >= at + hidden.len(),
                "cut inside the string at {}",
                p.start
            );
        }
        // `note` is no key of a node: reported, at its place in the whole file.
        let diags = parse_pieces(&src, &pieces)
            .map(|(_, d)| d)
            .unwrap_or_else(|d| d);
        let d = diags
            .iter()
            .find(|d| d.code.name() == "unknown-key")
            .expect("unknown key");
        assert_eq!(&src[d.labels[0].span.start..][..4], "note");
    }

    #[test]
    fn a_file_with_root_keys_is_parsed_whole() {
        let src = format!("title = \"x\"\n{}", large(3_000));
        assert_eq!(
            chunks_sized(&src, SMALL_FROM, SMALL_SIZE),
            vec![0..src.len()]
        );
    }

    #[test]
    fn a_second_deployment_in_another_piece_is_a_located_error() {
        let mut src = large(3_000);
        src.push_str("\n[deployment]\nname = \"again\"\nproduct = \"appm-1.1.0\"\n");
        assert!(chunks_sized(&src, SMALL_FROM, SMALL_SIZE).len() > 1);
        let diags = parse_pieces(&src, &chunks_sized(&src, SMALL_FROM, SMALL_SIZE)).unwrap_err();
        let d = diags.iter().find(|d| d.message == "invalid TOML").unwrap();
        let second = src.rfind("[deployment]").unwrap();
        let span = d.labels[0].span.clone();
        assert!(
            span.start >= second && span.start < src.len(),
            "{span:?} {second}"
        );
    }
}
