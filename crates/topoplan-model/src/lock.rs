//! The lock file (`<topology>.lock`, beside the topology, as `Cargo.lock` beside
//! `Cargo.toml`): what an earlier plan assigned, so that a later plan keeps it. A deployment
//! lives for years; adding a node must not move the ports of nodes already running.
//!
//! It holds every node's host and offset, every per-node port (e.g. the 1.1.0 Thrift server
//! ports), and every link with its port and URL, so a new plan can be compared with it
//! (`+` new, `~` changed, `-` removed). It is written by `topoplan lock` / `plan --write-lock`
//! and read by `plan`, `bundle`, `review` and `check`; hand edits are checked like the
//! topology.

use crate::diag::{Code, Diagnostic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// Version of the lock format.
/// 2: per-node ports by port name (`ports`), for every `rule = "per-node"` port of the profile.
/// 3: shared lists (`lists`): a list every reader of a reference shares is kept once. Version 2
/// locks are read as they are (their lists are per-pair `links`).
pub const LOCK_VERSION: u32 = 3;

/// The oldest lock format this topoplan reads.
pub const OLDEST_LOCK_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// What an earlier plan assigned (see the module).
pub struct Lock {
    /// The lock format version ([`LOCK_VERSION`]).
    pub version: u32,
    /// The topology's `[deployment] name`.
    pub deployment: String,
    /// The topology's product.
    pub product: String,
    /// Every node's host, offset and per-node ports, by name.
    pub nodes: BTreeMap<String, LockedNode>,
    #[serde(default)]
    /// The links nodes hold one by one.
    pub links: Vec<LockedLink>,
    /// Shared lists: every provider of a role, listed by readers no `[[link]]` narrows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<LockedList>,
}

/// A list of providers that several readers share (the plan's `lists`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedList {
    /// The reference its readers fill with it.
    pub reference: String,
    /// The nodes that list it.
    pub readers: Vec<String>,
    /// Its entries, in the list's order.
    pub entries: Vec<LockedEntry>,
}

/// One entry of a shared list: a provider and the value its readers hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedEntry {
    /// The provider node.
    pub to: String,
    /// The port the entry carries.
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The URL, for URL references.
    pub url: Option<String>,
}

impl LockedEntry {
    /// What the readers hold: the URL, or the bare port.
    pub fn value(&self) -> String {
        self.url.clone().unwrap_or_else(|| self.port.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// Where a node ran.
pub struct LockedNode {
    /// Its host.
    pub host: String,
    /// Its offset.
    pub offset: u32,
    /// The node's `rule = "per-node"` ports (those it opens), by port name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// One value a node held.
pub struct LockedLink {
    /// The reader.
    pub from: String,
    /// The reference.
    pub reference: String,
    /// The provider.
    pub to: String,
    /// The port it carried.
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The URL, for URL references.
    pub url: Option<String>,
}

impl LockedLink {
    /// What the reader held: the URL, or the bare port for non-HTTP links (Thrift).
    pub fn value(&self) -> String {
        self.url.clone().unwrap_or_else(|| self.port.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LockWire {
    version: Spanned<u32>,
    deployment: Spanned<String>,
    product: Spanned<String>,
    #[serde(default)]
    nodes: BTreeMap<String, LockedNode>,
    #[serde(default)]
    links: Vec<LockedLink>,
    #[serde(default)]
    lists: Vec<LockedList>,
}

/// Locked values a plan would write as they are: an offset or a per-node port outside what a
/// TCP port can be (a hand-edited `0` would become `ThriftServerPort 0`) is an error here,
/// as a pin of the topology is.
fn out_of_range(src: &str, nodes: &BTreeMap<String, LockedNode>) -> Vec<Diagnostic> {
    use crate::profile::{locate, Seg::Key as K};
    let mut diags = Vec::new();
    for (name, n) in nodes {
        if n.offset > 65535 {
            diags.push(
                Diagnostic::new(
                    Code::InvalidLock,
                    format!("locked offset {} of `{name}`", n.offset),
                )
                .at(
                    locate(src, &[K("nodes"), K(name), K("offset")]),
                    "expected 0..=65535",
                )
                .note("regenerate it with `topoplan lock <topology>`"),
            );
        }
        for (port, v) in &n.ports {
            if !(1..=65535).contains(v) {
                diags.push(
                    Diagnostic::new(
                        Code::InvalidLock,
                        format!("locked port {port} = {v} of `{name}` is not a TCP port"),
                    )
                    .at(
                        locate(src, &[K("nodes"), K(name), K("ports"), K(port)]),
                        "expected 1..=65535",
                    )
                    .note("regenerate it with `topoplan lock <topology>`"),
                );
            }
        }
    }
    diags
}

impl Lock {
    /// Parses a lock and checks that it belongs to `deployment` of `product`. Diagnostics
    /// point into the lock's own text.
    pub fn parse(src: &str, deployment: &str, product: &str) -> Result<Lock, Vec<Diagnostic>> {
        let w: LockWire = toml::from_str(src).map_err(|e| {
            vec![
                Diagnostic::new(Code::InvalidLock, "not a topoplan lock file")
                    .at(
                        e.span().unwrap_or(0..0),
                        e.message().lines().next().unwrap_or("").to_string(),
                    )
                    .note("regenerate it with `topoplan lock <topology>`"),
            ]
        })?;
        let mut diags = Vec::new();
        if !(OLDEST_LOCK_VERSION..=LOCK_VERSION).contains(w.version.get_ref()) {
            diags.push(
                Diagnostic::new(
                    Code::InvalidLock,
                    format!("lock format version {}", w.version.get_ref()),
                )
                .at(
                    w.version.span(),
                    format!("this topoplan reads versions {OLDEST_LOCK_VERSION} to {LOCK_VERSION}"),
                )
                .note("regenerate it with `topoplan lock <topology>`"),
            );
        }
        if w.product.get_ref() != product {
            diags.push(
                Diagnostic::new(Code::ForeignLock,
                    format!("the lock is for product `{}`, the topology for `{product}`", w.product.get_ref()),
                )
                .at(w.product.span(), "locked for another product")
                .note("a lock belongs to one topology: delete it to plan afresh, or use the topology it was written for"),
            );
        }
        if w.deployment.get_ref() != deployment {
            diags.push(
                Diagnostic::new(Code::ForeignLock,
                    format!(
                        "the lock is for deployment `{}`, the topology is `{deployment}`",
                        w.deployment.get_ref()
                    ),
                )
                .at(w.deployment.span(), "locked for another deployment")
                .note("a lock belongs to one topology: delete it to plan afresh, or use the topology it was written for"),
            );
        }
        diags.extend(out_of_range(src, &w.nodes));
        if !diags.is_empty() {
            return Err(diags);
        }
        let mut links = w.links;
        links.sort();
        Ok(Lock {
            version: *w.version.get_ref(),
            deployment: w.deployment.into_inner(),
            product: w.product.into_inner(),
            nodes: w.nodes,
            links,
            lists: w.lists,
        })
    }

    /// The lock as TOML, with a header saying what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("a lock serialises");
        format!(
            "# topoplan lock: the offsets, fixed ports and links of the last plan written with\n\
             # `topoplan lock` or `plan --write-lock`. Later plans keep them, so adding a node never moves\n\
             # a running one. Commit it beside the topology; see docs/lock.md.\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_topology() {
        let mut nodes = BTreeMap::new();
        nodes.insert(
            "km".to_string(),
            LockedNode {
                host: "h".into(),
                offset: 2,
                ports: [("thrift-key-validation".to_string(), 10397)].into(),
            },
        );
        let lock = Lock {
            version: LOCK_VERSION,
            deployment: "d".into(),
            product: "appm-1.1.0".into(),
            nodes,
            links: vec![LockedLink {
                from: "gw".into(),
                reference: "thrift".into(),
                to: "km".into(),
                port: 10397,
                url: None,
            }],
            lists: vec![LockedList {
                reference: "gateway_env".into(),
                readers: vec!["pub".into()],
                entries: vec![LockedEntry {
                    to: "gw".into(),
                    port: 9443,
                    url: Some("https://gw:9443".into()),
                }],
            }],
        };
        let text = lock.to_toml();
        assert_eq!(Lock::parse(&text, "d", "appm-1.1.0").unwrap(), lock);
        let d = Lock::parse(&text, "d", "appm-1.2.0").unwrap_err();
        assert_eq!(d[0].code.name(), "foreign-lock");
        let d = Lock::parse("version = 2\nnodez = 3\n", "d", "p").unwrap_err();
        assert_eq!(d[0].code.name(), "invalid-lock");
    }
}
