#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-model: what a deployment *is*, before anything is solved.
//!
//! It owns the topology format (hosts, nodes, roles, pins, links), the product profiles (port
//! catalogue and cross-node references, as data) and the diagnostics for bad input. It reads
//! strings, not files, and renders nothing, so that every later stage (solver, templates,
//! reports) works from one validated value and spans still point into the user's file.

pub mod address;
pub mod diag;
pub mod lock;
pub mod parallel;
pub mod profile;
pub mod schema;
pub mod topology;
pub mod xml;

pub use address::{parse_address, url_host, AddressError};
pub use diag::{
    engine_warning_codes, error_chain, error_codes, line_col, warning_codes, Code, Diagnostic,
    FileProblems, Label, LineIndex, Severity, Span,
};
pub use lock::{
    Lock, LockedEntry, LockedLink, LockedList, LockedNode, LOCK_VERSION, OLDEST_LOCK_VERSION,
};
pub use profile::{
    locate, profile_schema, AnsibleVarDef, HomeIdentity, KindDef, Launcher, ManualDef, ModeDef,
    PortDef, PortRule, Profile, Providers, ReferenceDef, RoleDef, Seg, DEFAULT_MODE,
};
pub use topology::{parse, parse_with, Cluster, FrontEnd, Host, Link, Node, Topology};
