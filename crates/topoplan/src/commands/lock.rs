//! `topoplan lock`: plan and write `<topology>.lock`.

use crate::output::{out, print_warnings};
use crate::session;
use crate::status::ExitStatus;
use anyhow::Result;
use std::path::PathBuf;
use topoplan_render::TemplateSet;

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let plan = session::plan_file(&args.topology, templates)?;
    let path = session::write_lock_file(&args.topology, &plan)?;
    print_warnings(&args.topology, &plan);
    out(&format!(
        "locked {} node(s) and {} link(s) in `{}`\n",
        plan.nodes.len(),
        plan.links.len(),
        path.display()
    ))?;
    Ok(ExitStatus::Success)
}
