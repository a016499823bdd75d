//! Product profiles: everything topoplan knows about one product release, as data.
//!
//! A profile (`templates/<product>/profile.toml`, documented in `docs/profiles.md`) declares the
//! product's roles, its modes (ways to run it that change which ports open and which references
//! are read), its port catalogue, its cross-node references and who reads them, the link kinds
//! shown in diagrams, and the sites left to the operator. The engine names no product: adding a
//! product means adding a folder. Every entry carries the evidence it was taken from, which the
//! docs and the review repeat.
//!
//! [`Profile::parse`] reports **every** problem of a profile in one run, each with the byte
//! range of the key it concerns, so `topoplan profile check` can point at file, line and column.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

mod check;

/// Who decides a port's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PortRule {
    /// The port is at `base` (+ the node's offset when `follows_offset`). A listening port
    /// that does not follow the offset collides when two nodes that open it share a host:
    /// that is reported as an error (`fixed-port-collision`).
    #[default]
    Every,
    /// The port has a per-node configuration element: the solver gives each node on a host
    /// that opens it a value of its own, from `base` (+ offset when `follows_offset`) up,
    /// free of every other port on the host. References to the port carry the provider's
    /// value (e.g. a client port that must equal a server port).
    PerNode,
}

/// A product profile. See `docs/profiles.md` for every key, with examples.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "topoplan product profile")]
pub struct Profile {
    /// The product: its name, title, how a home is recognised and started.
    pub product: ProductInfo,
    /// The roles a node may have. `all` is reserved: in a topology it means every role.
    #[serde(default)]
    pub role: Vec<RoleDef>,
    /// Ways to run the product that change which ports open and which references are read
    /// (the topology's `[deployment] key_validation` picks one; the first is the default).
    /// A profile without modes has one implicit mode, `default`.
    #[serde(default)]
    pub mode: Vec<ModeDef>,
    /// Link kinds: the legend and colour every diagram and review uses for a reference's kind.
    #[serde(default)]
    pub kind: Vec<KindDef>,
    #[serde(default)]
    /// Every port the product listens on or names, with where it is configured.
    pub port: Vec<PortDef>,
    #[serde(default)]
    /// Every cross-node value: who reads it, where, and whom it points at.
    pub reference: Vec<ReferenceDef>,
    /// Sites topoplan does not rewrite (code, external servers, files it cannot address):
    /// shown in each reader's README and in the review's "manual steps", with the value to set.
    #[serde(default)]
    pub manual: Vec<ManualDef>,
    /// Variables `topoplan export ansible` adds to each node of the inventory.
    #[serde(default)]
    pub ansible_var: Vec<AnsibleVarDef>,
    /// Database engines a `[[database]]` may name: supported ones, and refused ones with the
    /// reason.
    #[serde(default)]
    pub engine: Vec<EngineDef>,
    /// The datasources nodes of several roles must share, on a `[[database]]`.
    #[serde(default)]
    pub datasource: Vec<DatasourceDef>,
}

/// A database engine.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineDef {
    /// The name a `[[database]]` gives as `engine`; the first supported one is the default.
    pub name: String,
    /// Why the product cannot run on it: a `[[database]]` naming it is refused with this text.
    #[serde(default)]
    pub refused: Option<String>,
    /// The server's port when a `[[database]]` gives none.
    #[serde(default)]
    pub port: u32,
    /// The JDBC driver class every shared datasource gets.
    #[serde(default)]
    pub driver: String,
    /// The JDBC URL, with `{host}` (IPv6 bracketed), `{port}` and `{database}`.
    #[serde(default)]
    pub url: String,
    /// The connection test every shared datasource gets.
    #[serde(default)]
    pub validation_query: String,
    /// What the operator installs on every node for it (the JDBC driver and where it goes).
    #[serde(default)]
    pub driver_note: String,
    /// The file whose line names this engine's facts.
    pub evidence: String,
}

/// A datasource the nodes share.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasourceDef {
    /// The name a topology's `datasources` uses (`apps`, `users`, …).
    pub name: String,
    /// Its `<name>` in the product's datasources file.
    pub datasource: String,
    /// Its JNDI name, which the product's other files name.
    pub jndi: String,
    /// The database created for it on the server.
    pub database: String,
    /// The roles whose nodes read it.
    pub readers: Vec<String>,
    /// Whether the shipped datasources file has it (rewired in place) or it is added.
    #[serde(default)]
    pub shipped: bool,
    /// Scripts under the product home that create its tables, per engine, in order.
    #[serde(default)]
    pub scripts: BTreeMap<String, Vec<String>>,
    /// The product files that define or name it (their templates write it).
    #[serde(default)]
    pub files: Vec<String>,
    /// What the datasource holds.
    pub description: String,
    /// Where the facts come from (files and lines).
    pub evidence: String,
}

impl Profile {
    /// The engine of this name.
    pub fn engine(&self, name: &str) -> Option<&EngineDef> {
        self.engine.iter().find(|e| e.name == name)
    }

    /// The engine a `[[database]]` without `engine` gets: the first the product runs on.
    pub fn default_engine(&self) -> Option<&EngineDef> {
        self.engine.iter().find(|e| e.refused.is_none())
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// The product a profile describes.
pub struct ProductInfo {
    /// The profile's folder name and the topology's `deployment.product`.
    pub name: String,
    /// Human title, shown in reviews.
    pub title: String,
    /// Lowest and highest port a listening port may take.
    #[serde(default = "default_range")]
    pub port_range: [u32; 2],
    /// How `apply` recognises a home of this product, so that a bundle for one release is
    /// never applied to another.
    pub home: HomeIdentity,
    /// Where product homes live by default (`topoplan export ansible`'s `topoplan_home_base`):
    /// each node's home is `<home_base>/<node>`.
    #[serde(default = "default_home_base")]
    pub home_base: String,
    /// The product's own start script, which `check` reads for an offset option that would
    /// override the planned one.
    #[serde(default)]
    pub launcher: Option<Launcher>,
}

/// A product home's identity: a folder it has, and the name and version the product states
/// as the root's `<Name>` and `<Version>` children of `file`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HomeIdentity {
    /// A folder every home of the product has (relative to the home).
    pub marker: String,
    /// An XML file (relative to the home) whose root has `<Name>` and `<Version>` children.
    pub file: String,
    /// The `<Name>` the file must hold.
    pub name: String,
    /// The `<Version>` the file must hold.
    pub version: String,
}

/// The start script and the option that sets the offset on its command line.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Launcher {
    /// Relative to the home, e.g. `bin/server.sh`.
    pub script: String,
    /// The option, without `=` and value, e.g. `-DportOffset`.
    pub offset_option: String,
    /// An environment variable the start script adds to the command line (`JAVA_OPTS` for a
    /// Java product), where `check` looks for the option too.
    #[serde(default)]
    pub options_env: Option<String>,
    /// Options the start script of a cluster's worker passes (a member of a cluster with a
    /// manager, other than the manager), e.g. `["-DworkerNode=true"]`.
    #[serde(default)]
    pub worker_options: Vec<String>,
}

/// One role.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDef {
    /// Lower-case letters, digits and `-`.
    pub name: String,
    /// What nodes of the role do.
    pub description: String,
    /// When set, a deployment of several nodes with exactly one node of this role gets the
    /// warning `single-<role>`: "`<node>` is the only `<role>` node: <this text>".
    #[serde(default)]
    pub single: Option<String>,
    /// Roles with the same `cluster` group may be members of one `[[cluster]]`; a role
    /// without one is never clustered.
    #[serde(default)]
    pub cluster: Option<String>,
    /// When set, a cluster of this role has a manager (`[[cluster]] manager`), the member
    /// that takes admin calls; this text says why (what a worker refuses).
    #[serde(default)]
    pub manager: Option<String>,
    /// When set, the role serves browsers at one registered address: several nodes of it
    /// outside one fronted cluster get the warning `unfronted`, with this text (what breaks).
    #[serde(default)]
    pub browser: Option<String>,
    /// The ports a load balancer in front of a cluster of this role forwards to, by the front
    /// end's `http` and `https` port (e.g. `{ http = "servlet-http", https = "servlet-https" }`).
    #[serde(default)]
    pub front_ports: BTreeMap<String, String>,
}

/// One mode.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeDef {
    /// Lower-case letters, digits and `-`.
    pub name: String,
    /// What the mode is.
    pub description: String,
    /// Values templates print under this mode (`mode.<key>`), e.g. a client class name.
    #[serde(default)]
    pub values: BTreeMap<String, String>,
}

/// One link kind.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindDef {
    /// Lower-case letters, digits and `-`.
    pub name: String,
    /// What a link of this kind means, for legends.
    pub legend: String,
    /// Edge colour, `#rrggbb`.
    pub colour: String,
}

fn default_home_base() -> String {
    "/opt".into()
}

fn default_range() -> [u32; 2] {
    [1024, 65535]
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// A port of the product.
pub struct PortDef {
    /// Lower-case letters, digits and `-`; templates see it with `_` for `-`.
    pub name: String,
    /// The product's default port number.
    pub base: u32,
    /// `http` and `https` ports make URLs; anything else is shown as a bare port.
    pub protocol: String,
    /// What the port is for.
    pub purpose: String,
    /// Where the port is configured (relative to the home).
    pub file: String,
    /// The element or key that sets it.
    pub element: String,
    /// Whether the port really listens (a disabled listener is catalogued, not planned).
    pub listens: bool,
    /// Whether the kernel adds the node's offset to it.
    pub follows_offset: bool,
    #[serde(default)]
    /// How its value is chosen (`follows-offset`, `fixed`, `per-node`).
    pub rule: PortRule,
    /// Opened only by members of a `[[cluster]]` (a cluster member port such as Hazelcast's,
    /// off elsewhere).
    #[serde(default)]
    pub clustered: bool,
    /// Roles whose nodes open the port; empty: every node.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Modes under which the port exists; empty: every mode.
    #[serde(default)]
    pub modes: Vec<String>,
    /// Column title in node tables and diagram boxes; no column when absent.
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    /// Where the facts come from (PORTS.md rows, product source by file and line).
    pub evidence: String,
}

/// How many providers a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Providers {
    /// One provider per reader: the node itself if it has the role, else the one `[[link]]`
    /// names, else the only candidate, else one on the same host, else the first by name.
    #[default]
    One,
    /// Every provider the reader serves: those its `[[link]]`s name, else every node with the
    /// role (e.g. a list of environments, a list of allowed origins).
    Each,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
/// A cross-node value of the product.
pub struct ReferenceDef {
    /// Identifier used by templates (`links.<name>`).
    pub name: String,
    /// A `[[kind]]` name, shown in plans and diagrams.
    pub kind: String,
    /// Every role whose nodes *read* this value. Each node with one of these roles gets the
    /// value written into its own copy of `file`, once, however many of the roles it has.
    pub readers: Vec<String>,
    /// Where the readers come from: the product code that reads the value.
    #[serde(default)]
    pub readers_evidence: String,
    /// The role whose node the value points at.
    pub provider: String,
    #[serde(default)]
    /// `one` provider, or `each` (a list with an entry per provider).
    pub providers: Providers,
    /// For `providers = "each"`: the warning given for a provider node that no reader lists
    /// (it is then cut off), after "`<node>` ".
    #[serde(default)]
    pub unserved: Option<String>,
    /// Reader roles for which a missing provider, or several with no `[[link]]` to choose,
    /// is an error rather than a warning (the node cannot work without it).
    #[serde(default)]
    pub required_for: Vec<String>,
    /// When set, a link between two hosts gets the warning `cross-host-link`, naming the
    /// address and port to open: "`<reader>` <this text> at `<provider>` on another host".
    #[serde(default)]
    pub cross_host: Option<String>,
    /// Why the readers cannot use this value when the provider's address is an IPv6 literal
    /// (the product splits it on `:`): such a plan is the error `ipv6-unsupported`.
    #[serde(default)]
    pub ipv6: Option<String>,
    /// A browser follows it (an IdP or ACS URL, an access URL, a CORS origin): when the
    /// provider is a member of a cluster with a front end, the value is the front end's
    /// address and port.
    #[serde(default)]
    pub front: bool,
    /// Only the manager of a cluster with one may provide it (admin calls: a worker refuses
    /// them); a list of providers names each such cluster once, by its manager.
    #[serde(default)]
    pub manager: bool,
    /// The name of an `each` reference whose readers must serve this value's provider: a
    /// provider none of them lists is the error `unserved-provider` (a store showing the access
    /// URLs of a gateway no publisher publishes to).
    #[serde(default)]
    pub served_by: Option<String>,
    /// Name of the provider's port the reference must carry.
    pub port: String,
    /// The file (relative to the home) that holds the value; a template of the same path
    /// writes it.
    pub file: String,
    /// The element (a selector or pointer) that holds the value.
    pub element: String,
    /// The value shipped.
    pub default: String,
    /// Modes under which the reference is read; empty: every mode.
    #[serde(default)]
    pub modes: Vec<String>,
    /// The product computes this value from another reference's element (an earlier
    /// `[[reference]]` of the same provider and port, read by every reader of this one): the
    /// file is left as shipped, this reference always points where that one does, and `check`
    /// verifies the shipped derivation is still in place (the profile's `checks/` templates).
    #[serde(default)]
    pub derived_from: Option<String>,
    #[serde(default)]
    /// Where the facts come from (PORTS.md rows, product source by file and line).
    pub evidence: String,
}

impl ReferenceDef {
    /// Whether `apply` writes this value (a derived one is computed by the product).
    pub fn written(&self) -> bool {
        self.derived_from.is_none()
    }
}

/// A hard-coded site left to the operator, with the reason.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualDef {
    /// Identifier of the site.
    pub name: String,
    /// Roles whose nodes read the site; empty when it lives outside the deployment's nodes.
    #[serde(default)]
    pub readers: Vec<String>,
    /// When the site should point at a node of the deployment: that role and port, so the
    /// README and review can print the exact value. A `port` without `provider` means each
    /// reader's own port (a self-reference the kernel does not offset).
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    /// The provider's port the value names.
    pub port: Option<String>,
    /// The file that holds the site (relative to the home, or of another server).
    pub file: String,
    /// The element or line that holds it.
    pub element: String,
    /// The value shipped.
    pub default: String,
    /// What to do, and why topoplan does not do it.
    pub action: String,
    #[serde(default)]
    /// Where the facts come from.
    pub evidence: String,
}

/// An inventory variable: the URL of the first of `references` a node holds, plus `suffix`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnsibleVarDef {
    /// The variable's name in the inventory.
    pub name: String,
    /// References whose URL it takes, the first the node holds.
    pub references: Vec<String>,
    #[serde(default)]
    /// Appended to the URL (`/services/`).
    pub suffix: String,
}

/// A path into the profile document: table names, array indices, keys.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    /// A key of a table.
    Key(&'a str),
    /// An index into an array of tables.
    Index(usize),
}

/// The byte range of the value at `path` (or of the deepest part of it that exists).
pub fn locate(src: &str, path: &[Seg]) -> Range<usize> {
    use toml::de::{DeTable, DeValue};
    let Ok(root) = DeTable::parse(src) else {
        return 0..0;
    };
    let mut span = 0..0;
    let mut table: Option<&DeTable> = Some(root.get_ref());
    let mut array: Option<&toml::de::DeArray> = None;
    for seg in path {
        let value = match (*seg, table, array) {
            (Seg::Key(k), Some(t), _) => match t.iter().find(|(key, _)| key.get_ref() == k) {
                Some((key, v)) => {
                    span = key.span();
                    v
                }
                None => break,
            },
            (Seg::Index(i), _, Some(a)) => match a.get(i) {
                Some(v) => v,
                None => break,
            },
            _ => break,
        };
        if !matches!(value.get_ref(), DeValue::Table(_)) || matches!(seg, Seg::Index(_)) {
            span = value.span();
        }
        (table, array) = match value.get_ref() {
            DeValue::Table(t) => (Some(t), None),
            DeValue::Array(a) => (None, Some(a)),
            _ => (None, None),
        };
    }
    span
}

/// Lower-case letters, digits and `-`, starting with a letter: role, mode, kind and port
/// names, which reach file names, CSS classes and diagnostics codes.
fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase())
        && s.len() <= 48
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `#rrggbb`.
fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// A relative path that stays inside the home.
fn is_relative_inside(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.contains('\\')
        && s.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
}

/// The implicit mode of a profile that declares none.
pub const DEFAULT_MODE: &str = "default";

impl Profile {
    /// Parses and cross-checks a profile, reporting every problem found.
    pub fn parse(src: &str) -> Result<Profile, Vec<crate::Diagnostic>> {
        match Profile::parse_lenient(src) {
            (Some(p), problems) if problems.is_empty() => Ok(p),
            (_, problems) => Err(problems),
        }
    }

    /// Every problem of a profile, and the profile itself whenever its TOML has the right
    /// shape (even with problems), so `profile check` can go on to its templates.
    pub fn parse_lenient(src: &str) -> (Option<Profile>, Vec<crate::Diagnostic>) {
        let problem = |span: Range<usize>, message: String| {
            crate::Diagnostic::new(crate::Code::InvalidProfile, message).at(span, "")
        };
        let p: Profile = match toml::from_str(src) {
            Ok(p) => p,
            Err(e) => {
                let message = e.message().lines().next().unwrap_or("").to_string();
                return (None, vec![problem(e.span().unwrap_or(0..0), message)]);
            }
        };
        let mut problems = Vec::new();
        p.check(&mut |path: &[Seg], message: String| {
            problems.push(problem(locate(src, path), message));
        });
        problems.sort_by_key(crate::Diagnostic::position);
        (Some(p), problems)
    }

    /// A port by name.
    pub fn port(&self, name: &str) -> Option<&PortDef> {
        self.port.iter().find(|p| p.name == name)
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&RoleDef> {
        self.role.iter().find(|r| r.name == name)
    }

    /// Every role's name, in profile order.
    pub fn role_names(&self) -> Vec<String> {
        self.role.iter().map(|r| r.name.clone()).collect()
    }

    /// Mode names, the default first.
    pub fn mode_names(&self) -> Vec<String> {
        if self.mode.is_empty() {
            vec![DEFAULT_MODE.to_string()]
        } else {
            self.mode.iter().map(|m| m.name.clone()).collect()
        }
    }

    /// The values templates see under `mode`.
    pub fn mode_values(&self, mode: &str) -> BTreeMap<String, String> {
        self.mode
            .iter()
            .find(|m| m.name == mode)
            .map(|m| m.values.clone())
            .unwrap_or_default()
    }

    /// Ports that listen under `mode` on a node with `roles` (`clustered`: the node is a
    /// member of a `[[cluster]]`).
    pub fn opens<'a>(
        &'a self,
        mode: &'a str,
        roles: &'a [String],
        clustered: bool,
    ) -> impl Iterator<Item = &'a PortDef> + 'a {
        self.port
            .iter()
            .filter(move |p| p.listens && p.in_mode(mode) && p.opened_by(roles, clustered))
    }

    /// Ports that listen under `mode` and move with the offset: the offset search keeps these
    /// distinct on a host. Ports only some roles open are counted for every node, so that a
    /// node gaining a role never needs a new offset.
    pub fn offset_ports<'a>(&'a self, mode: &'a str) -> impl Iterator<Item = &'a PortDef> + 'a {
        self.port.iter().filter(move |p| {
            p.listens && p.follows_offset && p.rule == PortRule::Every && p.in_mode(mode)
        })
    }

    /// References in force under a mode.
    pub fn references<'a>(&'a self, mode: &'a str) -> impl Iterator<Item = &'a ReferenceDef> + 'a {
        self.reference.iter().filter(move |r| r.in_mode(mode))
    }

    /// Whether a node with `from` roles may consume anything from a node with `to` roles.
    pub fn can_link(&self, from: &[String], to: &[String]) -> bool {
        self.can_link_kinds(from, to, &[])
    }

    /// [`Profile::can_link`] for values of `kinds` only (all when empty).
    pub fn can_link_kinds(&self, from: &[String], to: &[String], kinds: &[String]) -> bool {
        self.reference.iter().any(|r| {
            r.readers.iter().any(|c| from.contains(c))
                && to.contains(&r.provider)
                && (kinds.is_empty() || kinds.contains(&r.kind))
        })
    }

    /// A link kind by name.
    pub fn kind(&self, name: &str) -> Option<&KindDef> {
        self.kind.iter().find(|k| k.name == name)
    }
}

impl PortDef {
    /// Whether a node with `roles` (a cluster member when `clustered`) opens it, mode aside.
    pub fn opened_by(&self, roles: &[String], clustered: bool) -> bool {
        (self.roles.is_empty() || self.roles.iter().any(|r| roles.contains(r)))
            && (clustered || !self.clustered)
    }

    /// Whether the port exists under `mode`.
    pub fn in_mode(&self, mode: &str) -> bool {
        self.modes.is_empty() || self.modes.iter().any(|m| m == mode)
    }
}

impl ReferenceDef {
    /// Whether the reference is read under `mode`.
    pub fn in_mode(&self, mode: &str) -> bool {
        self.modes.is_empty() || self.modes.iter().any(|m| m == mode)
    }
}

/// The JSON Schema (draft-07) of `profile.toml`, for taplo-based editors (`#:schema`).
pub fn profile_schema() -> serde_json::Value {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Profile>();
    serde_json::to_value(schema).expect("schemas serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: &str = r##"
[product]
name = "p"
title = "P"
[product.home]
marker = "repository"
file = "conf/server.xml"
name = "P"
version = "1"
[[role]]
name = "web"
description = "w"
[[kind]]
name = "api"
legend = "calls"
colour = "#123456"
[[port]]
name = "https"
base = 9443
protocol = "https"
purpose = "x"
file = "f"
element = "e"
listens = true
follows_offset = true
evidence = "ev"
"##;

    #[test]
    fn a_minimal_profile_parses_with_an_implicit_mode() {
        let p = Profile::parse(MINI).unwrap();
        assert_eq!(p.mode_names(), ["default"]);
        assert_eq!(p.offset_ports("default").count(), 1);
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let src = format!(
            "{MINI}[[reference]]\nname = \"r\"\nkind = \"nope\"\nreaders = [\"ghost\"]\nprovider = \"web\"\nport = \"https\"\nfile = \"/etc/x\"\nelement = \"e\"\ndefault = \"d\"\n"
        );
        let problems = Profile::parse(&src).unwrap_err();
        let text: Vec<String> = problems
            .iter()
            .map(|p| {
                let (l, c) = p.line_col(&src);
                format!("{l}:{c} {}", p.message)
            })
            .collect();
        assert_eq!(
            text,
            [
                "27:1 reference `r` has no evidence",
                "27:1 reference `r` has no `readers_evidence`",
                "29:8 reference `r` names unknown kind `nope`",
                "30:11 reference `r` names unknown role `ghost`",
                "33:8 reference `r`: `file` must be a relative path inside the home",
            ],
            "{text:#?}"
        );
    }

    #[test]
    fn a_port_written_as_templates_see_it_is_named_with_the_fix() {
        let src = include_str!("../../../templates/appm-1.2.0/profile.toml").replacen(
            "port = \"servlet-https\"\nfile = \"repository/deployment/server/synapse-configs/default/api/_TokenAPI_.xml\"",
            "port = \"servlet_https\"\nfile = \"repository/deployment/server/synapse-configs/default/api/_TokenAPI_.xml\"",
            1,
        );
        let problems = Profile::parse(&src).expect_err("a problem");
        assert!(
            problems.iter().any(|p| p
                .message
                .contains("unknown port `servlet_https`; port names use `-` (`servlet-https`)")),
            "{:?}",
            problems.iter().map(|p| &p.message).collect::<Vec<_>>()
        );
    }
}
