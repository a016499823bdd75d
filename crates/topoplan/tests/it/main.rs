//! The integration tests of the binary, one test binary (as ripgrep's `tests/tests.rs`): each
//! module is one concern, run against the built `topoplan` as a user runs it.

mod common;

mod ansible;
mod apim;
mod cli;
mod clusters;
mod cmd;
mod databases;
mod docs;
mod lifecycle;
mod profiles;
mod races;
mod readers;
mod review;
mod safety;
mod tooling;
