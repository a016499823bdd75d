//! `topoplan`: the binary. Parses arguments, hands each command to its module in `commands/`,
//! and maps how it ended to an exit code (`status.rs` documents every one).

mod cli;
mod commands;
mod diagnostics;
mod embedded;
mod output;
mod patch;
mod session;
mod status;

use clap::Parser;
use cli::{Cli, Command};
use commands::*;
use status::ExitStatus;
use std::process::ExitCode;

/// A plan of 100,000 nodes is millions of small values made and dropped; glibc's allocator
/// spent a fifth of `plan` in `malloc`, `free` and consolidation. mimalloc halves the run of
/// 10,000 nodes and lowers the peak (docs/benchmarks.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `plan --detailed-exitcode` keeps 2 for "changed" alone: a usage error is 1 there.
    let detailed = std::env::args_os().any(|a| a == "--detailed-exitcode");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if detailed && e.use_stderr() => {
            let _ = e.print();
            return ExitStatus::Error.code(true);
        }
        Err(e) => e.exit(),
    };
    let status = run(cli).unwrap_or_else(|e| status::of_error(&e));
    status.code(detailed)
}

fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let templates = session::load_templates(cli.templates.as_deref())?;
    let t = &templates;
    match cli.command {
        Command::Plan(args) => plan::run(args, t),
        Command::Lock(args) => lock::run(args, t),
        Command::Bundle(args) => bundle::run(args, t),
        Command::Graph(args) => graph::run(args, t),
        Command::Review(args) => review::run(args, t),
        Command::Explain(args) => explain::run(args, t),
        Command::Check(args) => check::run(args, t),
        Command::Init(args) => init::run(args, t, cli.templates.as_deref()),
        Command::Completions(args) => completions::run(args),
        Command::Export(args) => export::run(args, t),
        Command::Schema => schema::run(t),
        Command::Generate(args) => generate::run(args, t),
        Command::Profile(cmd) => profile::run(cmd),
        Command::Man => man::run(),
        Command::Apply(args) => apply::run(args),
    }
}
