//! Product profiles: the port catalogue and the cross-node references of one product release.
//!
//! A profile is data (`templates/<product>/profile.toml`), not code, so that adding a product
//! means adding a folder. Every entry carries the evidence line from the fixtures' `PORTS.md`
//! it was taken from, which the docs and the review repeat.

use serde::Deserialize;
use std::collections::BTreeMap;

/// How a gateway validates API keys against its key manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyValidation {
    /// Thrift client on the gateway, Thrift server on the key manager (App Manager 1.0/1.1).
    Thrift,
    /// SOAP over the key manager's HTTPS servlet port.
    Ws,
}

impl KeyValidation {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyValidation::Thrift => "thrift",
            KeyValidation::Ws => "ws",
        }
    }
}

/// Who decides a port's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PortRule {
    /// Every node listens on it (if `listens`), at `base` (+ offset if `follows_offset`).
    #[default]
    Every,
    /// The key-validation Thrift server: only key managers keep it, each on a port of its own.
    ThriftServer,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub product: ProductInfo,
    #[serde(default)]
    pub port: Vec<PortDef>,
    #[serde(default)]
    pub reference: Vec<ReferenceDef>,
    /// Sites topoplan does not rewrite (code, external servers, files it cannot address):
    /// shown in each reader's README and in the review's "manual steps", with the value to set.
    #[serde(default)]
    pub manual: Vec<ManualDef>,
}

/// A hard-coded site left to the operator, with the reason.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualDef {
    pub name: String,
    /// Roles whose nodes read the site; empty when it lives outside the deployment's nodes
    /// (a BPS server, an analytics receiver).
    #[serde(default)]
    pub readers: Vec<String>,
    /// When the site should point at a node of the deployment: that role and port, so the
    /// README and review can print the exact value. A `port` without `provider` means each
    /// reader's own port (a self-reference the kernel does not offset).
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub port: Option<String>,
    pub file: String,
    pub element: String,
    pub default: String,
    /// What to do, and why topoplan does not do it.
    pub action: String,
    pub evidence: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductInfo {
    pub name: String,
    pub title: String,
    /// Supported key-validation modes; the first is the default.
    pub key_validation: Vec<KeyValidation>,
    pub roles: Vec<String>,
    /// Lowest and highest port a listening port may take.
    #[serde(default = "default_range")]
    pub port_range: [u32; 2],
    /// How `apply` recognises a home of this product, so that a bundle for one release is
    /// never applied to another.
    pub home: HomeIdentity,
}

/// A product home's identity: a folder it has, and the name and version a Carbon product
/// states as the root's `<Name>` and `<Version>` children of `file`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HomeIdentity {
    pub marker: String,
    pub file: String,
    pub name: String,
    pub version: String,
}

fn default_range() -> [u32; 2] {
    [1024, 65535]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortDef {
    pub name: String,
    pub base: u32,
    pub protocol: String,
    pub purpose: String,
    pub file: String,
    pub element: String,
    pub listens: bool,
    pub follows_offset: bool,
    #[serde(default)]
    pub rule: PortRule,
    pub evidence: String,
}

/// How many providers a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Providers {
    /// One provider per reader: the node itself if it has the role, else the one `[[link]]`
    /// names, else the only candidate, else one on the same host, else the first by name.
    #[default]
    One,
    /// Every provider the reader serves: those its `[[link]]`s name, else every node with the
    /// role (e.g. the publisher's `<Environment>` list, the gateway's CORS origins).
    Each,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceDef {
    /// Identifier used by templates (`links.<name>`).
    pub name: String,
    /// Link kind shown in plans and diagrams (oauth, sso, acs, workflow, entitlement, ...).
    pub kind: String,
    /// Every role whose nodes *read* this value (PORTS.md "Readers"). Each node with one of
    /// these roles gets the value written into its own copy of `file`, once, however many of
    /// the roles it has.
    pub readers: Vec<String>,
    /// Where the readers come from: the product code that reads the value.
    pub readers_evidence: String,
    pub provider: String,
    #[serde(default)]
    pub providers: Providers,
    /// For `providers = "each"`: the warning given for a provider node that no reader lists
    /// (it is then cut off, e.g. a gateway that receives no app), after "`<node>` ".
    #[serde(default)]
    pub unserved: Option<String>,
    /// Name of the provider's port the reference must carry.
    pub port: String,
    pub file: String,
    pub element: String,
    pub default: String,
    /// Only in force under this key-validation mode.
    #[serde(default)]
    pub key_validation: Option<KeyValidation>,
    pub evidence: String,
}

impl Profile {
    /// Parses and cross-checks a profile. Errors are plain strings: profiles ship with the tool,
    /// so a broken one is a packaging bug, reported with the profile's path by the caller.
    pub fn parse(src: &str) -> Result<Profile, String> {
        let p: Profile = toml::from_str(src).map_err(|e| e.to_string())?;
        let mut names = BTreeMap::new();
        for port in &p.port {
            if names.insert(port.name.as_str(), port).is_some() {
                return Err(format!("duplicate port `{}`", port.name));
            }
        }
        let mut refs = std::collections::BTreeSet::new();
        for r in &p.reference {
            if !refs.insert(r.name.as_str()) {
                return Err(format!("duplicate reference `{}`", r.name));
            }
            if !names.contains_key(r.port.as_str()) {
                return Err(format!(
                    "reference `{}` names unknown port `{}`",
                    r.name, r.port
                ));
            }
            if r.readers.is_empty() {
                return Err(format!("reference `{}` names no reader role", r.name));
            }
            if r.unserved.is_some() && r.providers != Providers::Each {
                return Err(format!(
                    "reference `{}`: `unserved` needs `providers = \"each\"`",
                    r.name
                ));
            }
            for role in r.readers.iter().chain([&r.provider]) {
                if !p.product.roles.contains(role) {
                    return Err(format!(
                        "reference `{}` names unknown role `{role}`",
                        r.name
                    ));
                }
            }
        }
        let mut manual = std::collections::BTreeSet::new();
        for m in &p.manual {
            if !manual.insert(m.name.as_str()) || refs.contains(m.name.as_str()) {
                return Err(format!("duplicate manual step `{}`", m.name));
            }
            if let Some(port) = &m.port {
                if !names.contains_key(port.as_str()) {
                    return Err(format!(
                        "manual step `{}` names unknown port `{port}`",
                        m.name
                    ));
                }
            }
            if m.provider.is_some() && m.port.is_none() {
                return Err(format!(
                    "manual step `{}`: `provider` needs the `port` to point at",
                    m.name
                ));
            }
            for role in m.readers.iter().chain(m.provider.as_ref()) {
                if !p.product.roles.contains(role) {
                    return Err(format!(
                        "manual step `{}` names unknown role `{role}`",
                        m.name
                    ));
                }
            }
        }
        if p.product.key_validation.is_empty() {
            return Err("`product.key_validation` lists no mode".into());
        }
        Ok(p)
    }

    pub fn port(&self, name: &str) -> Option<&PortDef> {
        self.port.iter().find(|p| p.name == name)
    }

    /// Ports every node listens on and that move with its offset.
    pub fn offset_ports(&self) -> impl Iterator<Item = &PortDef> {
        self.port
            .iter()
            .filter(|p| p.listens && p.follows_offset && p.rule == PortRule::Every)
    }

    /// References in force under a key-validation mode.
    pub fn references(&self, kv: KeyValidation) -> impl Iterator<Item = &ReferenceDef> {
        self.reference
            .iter()
            .filter(move |r| r.key_validation.is_none_or(|k| k == kv))
    }

    /// Whether a node with `from` roles may consume anything from a node with `to` roles.
    pub fn can_link(&self, from: &[String], to: &[String]) -> bool {
        self.reference
            .iter()
            .any(|r| r.readers.iter().any(|c| from.contains(c)) && to.contains(&r.provider))
    }
}
