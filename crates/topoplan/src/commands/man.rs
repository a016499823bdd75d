//! `topoplan man`: the manual page (roff) from the command line's own definition.

use crate::output::out;
use crate::status::ExitStatus;
use anyhow::Result;
use clap::CommandFactory;

pub fn run() -> Result<ExitStatus> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(crate::cli::Cli::command()).render(&mut buf)?;
    out(&String::from_utf8_lossy(&buf))?;
    Ok(ExitStatus::Success)
}
