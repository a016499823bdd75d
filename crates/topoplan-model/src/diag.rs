//! Diagnostics: what is wrong with the user's input, where, and with a stable code.
//!
//! Kept free of any renderer so that the model stays terminal-agnostic; the binary turns these
//! into rustc-style messages. Every code is listed in [`CODES`] so docs and tests can check them.

use std::ops::Range;

/// Byte range into the topology source.
pub type Span = Range<usize>;

/// How bad a diagnostic is. Errors stop the plan; warnings are carried into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One labelled place in the source. The primary label is where the caret goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// A problem in the user's topology, pointing into the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error whose code must be one of [`CODES`].
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(CODES.iter().any(|(c, _)| *c == code), "unknown code {code}");
        Self {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Primary label: the caret.
    pub fn at(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// Secondary label, e.g. "first defined here".
    pub fn also(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Start of the primary span, used to keep diagnostics in source order.
    pub fn position(&self) -> usize {
        self.labels
            .iter()
            .find(|l| l.primary)
            .map_or(0, |l| l.span.start)
    }
}

/// Every diagnostic code with a one-line summary. `docs/diagnostics.md` has one heading per code.
pub const CODES: &[(&str, &str)] = &[
    ("toml-syntax", "the file is not valid TOML"),
    ("unknown-key", "a key the topology format does not know"),
    ("missing-key", "a required key is absent"),
    (
        "invalid-value",
        "a value of the wrong type or out of its allowed set",
    ),
    (
        "unknown-product",
        "`deployment.product` names no product profile",
    ),
    (
        "invalid-key-validation",
        "`key_validation` is not one the product supports",
    ),
    ("duplicate-host", "two hosts share a name"),
    ("duplicate-node", "two nodes share a name"),
    (
        "unsafe-node-name",
        "a node name that is not a safe folder name",
    ),
    (
        "reserved-node-name",
        "a node name that is one of the bundle's own file names",
    ),
    (
        "invalid-name",
        "a host or deployment name outside the safe name set",
    ),
    (
        "invalid-address",
        "a host address (or a host name used as one) that is not a host name, IPv4 or IPv6 address",
    ),
    (
        "address-with-port",
        "a host address that carries a port, which topoplan assigns itself",
    ),
    ("unknown-role", "a role the product profile does not define"),
    ("unknown-host", "a node names a host that is not defined"),
    ("unknown-node", "a link names a node that is not defined"),
    (
        "invalid-link",
        "a link between nodes whose roles never talk to each other",
    ),
    ("duplicate-link", "the same link twice"),
    ("no-nodes", "the topology has no node"),
    ("invalid-port", "a reserved port outside 1..=65535"),
    (
        "pin-out-of-range",
        "a pinned offset pushes a listening port outside the allowed range",
    ),
    (
        "pin-on-reserved",
        "a pinned offset lands a listening port on a reserved port",
    ),
    (
        "pin-collision",
        "two pinned nodes on one host listen on the same port",
    ),
    (
        "missing-provider",
        "a node cannot work without a provider the topology lacks (the profile's `required_for`)",
    ),
    (
        "ambiguous-provider",
        "a node could use several providers it cannot work without, and no link says which",
    ),
    (
        "fixed-port-collision",
        "two nodes on one host open a port the offset does not move",
    ),
    (
        "unknown-warning",
        "`[deployment] allow` names a code no warning has",
    ),
    (
        "conflicting-links",
        "two links give one single-provider reference different providers",
    ),
    ("invalid-lock", "a lock file that topoplan cannot read"),
    (
        "foreign-lock",
        "a lock file written for another deployment or product",
    ),
    (
        "unsatisfiable",
        "no offsets exist that keep every port on a host distinct",
    ),
];

/// Every warning code the engine gives, with a one-line summary. Profiles add `single-<role>`
/// for each role with `single` set. `docs/diagnostics.md` has one heading per code.
pub const WARNING_CODES: &[(&str, &str)] = &[
    (
        "unwired",
        "a node reads references from a role no node has: they keep their defaults",
    ),
    (
        "several-providers",
        "several nodes could serve a reference; one was chosen by rule",
    ),
    (
        "unserved",
        "a provider no reader lists (a profile's `unserved` text)",
    ),
    (
        "span-not-proven",
        "a host too large to prove its smallest offset span",
    ),
    (
        "cross-host-link",
        "a link the profile marks `cross_host` crosses hosts: a firewall opening",
    ),
    ("privileged-port", "a node listens below 1024"),
    (
        "reserved-near",
        "a node listens within 2 of a reserved port",
    ),
    (
        "single-<role>",
        "the only node of a role the profile marks `single`",
    ),
];

/// The warning codes a topology of this profile can get (what `allow` accepts).
pub fn warning_codes(p: &crate::Profile) -> Vec<String> {
    let mut v: Vec<String> = WARNING_CODES
        .iter()
        .filter(|(c, _)| !c.contains('<'))
        .map(|(c, _)| c.to_string())
        .collect();
    v.extend(
        p.role
            .iter()
            .filter(|r| r.single.is_some())
            .map(|r| format!("single-{}", r.name)),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for (code, summary) in CODES {
            assert!(seen.insert(*code), "duplicate code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code} is not kebab-case"
            );
            assert!(!summary.is_empty());
        }
    }
}

#[cfg(test)]
mod docs_tests {
    #[test]
    fn every_code_has_a_docs_heading() {
        let docs = include_str!("../../../docs/diagnostics.md");
        for (code, _) in super::CODES.iter().chain(super::WARNING_CODES) {
            assert!(
                docs.contains(&format!("## `{code}`")),
                "docs/diagnostics.md lacks `{code}`"
            );
        }
    }
}

/// An error and its sources on one line (`outer: inner: root`). Template engines and parsers
/// put the useful part of a message in the source chain, which `Display` alone drops.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    message
}
