//! `topoplan completions`: shell completions from the command line's own definition.

use crate::output::out;
use crate::status::ExitStatus;
use anyhow::Result;
use clap::CommandFactory;

#[derive(clap::Args)]
pub struct Args {
    shell: clap_complete::Shell,
}

pub fn run(args: Args) -> Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::cli::Cli::command(),
        "topoplan",
        &mut buf,
    );
    out(&String::from_utf8_lossy(&buf))?;
    Ok(ExitStatus::Success)
}
