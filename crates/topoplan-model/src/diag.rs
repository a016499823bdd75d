//! Diagnostics: what is wrong with the user's input, where, and with a stable code.
//!
//! Kept free of any renderer so that the model stays terminal-agnostic; the binary turns these
//! into rustc-style messages. Every code is a variant of [`Code`], so docs and tests can check them.

use std::ops::Range;

/// Byte range into the topology source.
pub type Span = Range<usize>;

/// How bad a diagnostic is. Errors stop the plan; warnings are carried into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Stops the plan.
    Error,
    /// Carried into the plan.
    Warning,
}

/// One labelled place in the source. The primary label is where the caret goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The byte range it marks.
    pub span: Span,
    /// What it says about the place.
    pub message: String,
    /// Whether the caret goes here.
    pub primary: bool,
}

/// A problem in the user's topology, pointing into the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What kind of problem.
    pub code: Code,
    /// The code as users see it, where it is more than [`Code::name`]: `single-<role>` names
    /// the role ([`Diagnostic::named`]).
    pub name: Option<String>,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The places it concerns, the primary first.
    pub labels: Vec<Label>,
    /// What to do about it.
    pub notes: Vec<String>,
    /// Byte ranges of the source never to show (a password written where it should not be):
    /// the renderer prints `*` in their place.
    pub redact: Vec<Span>,
}

impl Diagnostic {
    /// A diagnostic of `code`, with the code's severity (an error or a warning: the code says
    /// which, not the constructor).
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            name: None,
            severity: code.severity(),
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
            redact: Vec::new(),
        }
    }

    /// The name users see for this diagnostic's code (`single-gateway` for [`Code::Single`]).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The code's name as users see it.
    pub fn code_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.code.name())
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

    /// Hides these bytes of the source wherever the diagnostic is shown.
    pub fn redact(mut self, span: Span) -> Self {
        self.redact.push(span);
        self
    }

    /// Adds what to do about it.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// 1-based line and column of the primary span's start in `src`.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.position())
    }

    /// Start of the primary span, used to keep diagnostics in source order.
    pub fn position(&self) -> usize {
        self.labels
            .iter()
            .find(|l| l.primary)
            .map_or(0, |l| l.span.start)
    }
}

/// The diagnostics of one file, with its name as the user knows it and its text: what a
/// renderer needs to show each at its place, with the source line and a caret. Libraries return
/// it; only the binary prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblems {
    /// The file, as the user named it (or as a message should show it).
    pub file: String,
    /// Its text (empty for a file that is not there).
    pub source: String,
    /// What is wrong, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl std::fmt::Display for FileProblems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.diagnostics.first().map_or("", |d| d.message.as_str());
        write!(f, "`{}`: {first}", self.file)?;
        if self.diagnostics.len() > 1 {
            write!(f, " (and {} more problems)", self.diagnostics.len() - 1)?;
        }
        Ok(())
    }
}

impl std::error::Error for FileProblems {}

/// Line starts of a source, found once, so that locating many places is a binary search each
/// rather than a scan from the top (a large topology gets one warning per host).
pub struct LineIndex<'a> {
    src: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes the line starts of `src`.
    pub fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(src.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    /// The byte at 1-based `line` and `column` (in characters): the inverse of
    /// [`LineIndex::line_col`], clamped to the source.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.src.len();
        };
        let rest = &self.src[start..];
        let end = rest.find('\n').unwrap_or(rest.len());
        start
            + rest[..end]
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(end, |(i, _)| i)
    }

    /// 1-based line and column (in characters) of byte `at`.
    pub fn line_col(&self, at: usize) -> (usize, usize) {
        let at = at.min(self.src.len());
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts[line - 1];
        let col = self
            .src
            .get(start..at)
            .map_or(at - start, |t| t.chars().count())
            + 1;
        (line, col)
    }
}

/// 1-based line and column (in characters) of byte `at` in `src`, clamped to it, for one
/// place ([`LineIndex`] for many).
pub fn line_col(src: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(src.len());
    while !src.is_char_boundary(at) {
        at -= 1;
    }
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Declares [`Code`]: one variant per diagnostic and warning code, with its kebab-case name,
/// its severity and a one-line description, in one flat table.
macro_rules! codes {
    ($($variant:ident = ($name:literal, $severity:ident, $description:literal),)*) => {
        /// Every diagnostic and warning code. `docs/diagnostics.md` has one heading per code;
        /// a test keeps the full list (`Code::ALL`) as a snapshot, so none changes unnoticed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(#[doc = $description] $variant,)*
        }

        impl Code {
            /// Every code, errors first, in the order of the table.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The stable kebab-case name users see and `allow` takes.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// One line: what the code means.
            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => $description,)* }
            }

            /// Whether the code stops the plan (an error) or is carried into it (a warning).
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// The code of this name, if any (`single-<role>` names are [`Code::Single`]).
            pub fn from_name(name: &str) -> Option<Code> {
                if name.starts_with("single-") {
                    return Some(Code::Single);
                }
                Code::ALL.iter().copied().find(|c| c.name() == name)
            }
        }

        impl std::fmt::Display for Code {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

codes! {
    TomlSyntax = ("toml-syntax", Error, "the file is not valid TOML"),
    UnknownKey = ("unknown-key", Error, "a key the topology format does not know"),
    MissingKey = ("missing-key", Error, "a required key is absent"),
    InvalidValue = ("invalid-value", Error, "a value of the wrong type or out of its allowed set"),
    UnknownProduct = ("unknown-product", Error, "`deployment.product` names no product profile"),
    InvalidKeyValidation = ("invalid-key-validation", Error, "`key_validation` is not one the product supports"),
    DuplicateHost = ("duplicate-host", Error, "two hosts share a name"),
    DuplicateNode = ("duplicate-node", Error, "two nodes share a name"),
    UnsafeNodeName = ("unsafe-node-name", Error, "a node name that is not a safe folder name"),
    ReservedNodeName = ("reserved-node-name", Error, "a node name that is one of the bundle's own file names"),
    InvalidName = ("invalid-name", Error, "a host or deployment name outside the safe name set"),
    InvalidAddress = ("invalid-address", Error, "a host address (or a host name used as one) that is not a host name, IPv4 or IPv6 address"),
    AddressWithPort = ("address-with-port", Error, "a host address that carries a port, which topoplan assigns itself"),
    UnknownRole = ("unknown-role", Error, "a role the product profile does not define"),
    UnknownHost = ("unknown-host", Error, "a node names a host that is not defined"),
    UnknownNode = ("unknown-node", Error, "a link or cluster names a node that is not defined"),
    InvalidLink = ("invalid-link", Error, "a link between nodes whose roles never talk to each other"),
    DuplicateLink = ("duplicate-link", Error, "the same link twice"),
    NoNodes = ("no-nodes", Error, "the topology has no node"),
    InvalidPort = ("invalid-port", Error, "a reserved or load-balancer port outside 1..=65535"),
    PinOutOfRange = ("pin-out-of-range", Error, "a pinned offset pushes a listening port outside the allowed range"),
    PinOnReserved = ("pin-on-reserved", Error, "a pinned offset lands a listening port on a reserved port"),
    PinCollision = ("pin-collision", Error, "two pinned nodes on one host listen on the same port"),
    MissingProvider = ("missing-provider", Error, "a node cannot work without a provider the topology lacks (the profile's `required_for`)"),
    AmbiguousProvider = ("ambiguous-provider", Error, "a node could use several providers it cannot work without, and no link says which"),
    FixedPortCollision = ("fixed-port-collision", Error, "two nodes on one host open a port the offset does not move"),
    UnknownWarning = ("unknown-warning", Error, "`[deployment] allow` names a code no warning has"),
    ConflictingLinks = ("conflicting-links", Error, "two links give one single-provider reference different providers"),
    InvalidLock = ("invalid-lock", Error, "a lock file that topoplan cannot read"),
    ForeignLock = ("foreign-lock", Error, "a lock file written for another deployment or product"),
    InvalidProfile = ("invalid-profile", Error, "a product profile (`profile.toml`) that breaks a rule of the profile format"),
    Unsatisfiable = ("unsatisfiable", Error, "no offsets exist that keep every port on a host distinct"),
    InlinePassword = ("inline-password", Error, "a database password written in the topology instead of `password_env`"),
    UnknownEngine = ("unknown-engine", Error, "a `[[database]]` engine the product does not run on, or one it refuses with a reason"),
    DatabaseLocation = ("database-location", Error, "a `[[database]]` with both `host` and `address`, neither, or an unknown host"),
    DuplicateDatabase = ("duplicate-database", Error, "two `[[database]]` tables share a name"),
    UnknownDatasource = ("unknown-datasource", Error, "a `[[database]]` names a datasource the product does not share"),
    SharedTwice = ("shared-twice", Error, "one shared datasource placed on two `[[database]]` servers"),
    InvalidEnvName = ("invalid-env-name", Error, "a `password_env` that is not an environment variable name"),
    DuplicateCluster = ("duplicate-cluster", Error, "two `[[cluster]]` tables share a name"),
    ClusteredTwice = ("clustered-twice", Error, "a node listed in two clusters (or twice in one)"),
    ClusterRoles = ("cluster-roles", Error, "a cluster whose members' roles may not share one (the profile's role `cluster` groups)"),
    ClusterManager = ("cluster-manager", Error, "a cluster's `manager`: missing where its roles have one, given where they have none, or not a member"),
    UnservedProvider = ("unserved-provider", Error, "a value (the profile's `served_by`) points at a provider no reader of its list serves"),
    Ipv6Unsupported = ("ipv6-unsupported", Error, "a value the product cannot read as an IPv6 literal (the profile's `ipv6`) points at an IPv6 address"),
    Unwired = ("unwired", Warning, "a node reads references from a role no node has: they keep their defaults"),
    SeveralProviders = ("several-providers", Warning, "several nodes could serve a reference; one was chosen by rule"),
    Unserved = ("unserved", Warning, "a provider no reader lists (a profile's `unserved` text)"),
    SpanNotProven = ("span-not-proven", Warning, "a host too large to prove its smallest offset span"),
    CrossHostLink = ("cross-host-link", Warning, "a link the profile marks `cross_host` crosses hosts: a firewall opening"),
    PrivilegedPort = ("privileged-port", Warning, "a node listens below 1024"),
    ReservedNear = ("reserved-near", Warning, "a node listens within 2 of a reserved port"),
    Single = ("single-<role>", Warning, "the only node of a role the profile marks `single`"),
    UnusedLink = ("unused-link", Warning, "a link no value follows: it changes nothing"),
    LongLists = ("long-lists", Warning, "lists of providers no link scopes grow with the estate (more than 100 entries in one reader's list)"),
    Unfronted = ("unfronted", Warning, "several nodes of a browser-facing role outside one cluster with a front end"),
    NoSharedDatabase = ("no-shared-database", Warning, "several nodes, no `[[database]]`: each keeps its own embedded database"),
}

/// Every error code with its summary, derived from [`Code`] (for docs and tests).
pub fn error_codes() -> impl Iterator<Item = Code> {
    Code::ALL
        .iter()
        .copied()
        .filter(|c| c.severity() == Severity::Error)
}

/// Every warning code the engine gives. Profiles add `single-<role>` for each role with
/// `single` set ([`Code::Single`]).
pub fn engine_warning_codes() -> impl Iterator<Item = Code> {
    Code::ALL
        .iter()
        .copied()
        .filter(|c| c.severity() == Severity::Warning)
}

/// The warning codes a topology of this profile can get (what `allow` accepts).
pub fn warning_codes(p: &crate::Profile) -> Vec<String> {
    let mut v: Vec<String> = engine_warning_codes()
        .filter(|c| *c != Code::Single)
        .map(|c| c.name().to_string())
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
        for code in Code::ALL {
            let name = code.name();
            assert!(seen.insert(name), "duplicate code {name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-<>".contains(c)),
                "{name} is not kebab-case"
            );
            assert!(!code.description().is_empty());
            assert_eq!(Code::from_name(name), Some(*code));
        }
    }

    /// The full list, name, severity and description, so that renaming, dropping or adding a
    /// code is a visible change of this file (as cargo-deny's `codes_unique`).
    #[test]
    fn the_list_of_codes() {
        let list: Vec<String> = Code::ALL
            .iter()
            .map(|c| format!("{:?} {} {}", c.severity(), c.name(), c.description()))
            .collect();
        let want = include_str!("../tests/codes.txt");
        assert_eq!(
            list.join("\n") + "\n",
            want,
            "update crates/topoplan-model/tests/codes.txt"
        );
    }
}

#[cfg(test)]
mod docs_tests {
    #[test]
    fn every_code_has_a_docs_heading() {
        let docs = include_str!("../../../docs/diagnostics.md");
        for code in super::Code::ALL.iter().map(|c| c.name()) {
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
