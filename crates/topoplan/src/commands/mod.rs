//! One module per command, each owning its `Args` and its `run`, which returns how the
//! command ended ([`crate::status::ExitStatus`]).

pub mod apply;
pub mod bundle;
pub mod check;
pub mod completions;
pub mod explain;
pub mod export;
pub mod generate;
pub mod graph;
pub mod init;
pub mod lock;
pub mod man;
pub mod plan;
pub mod profile;
pub mod review;
pub mod schema;
