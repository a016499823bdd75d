//! `topoplan lock`: plan and write `<topology>.lock`.

use crate::output::out;
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
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    let path = session::write_lock_file(&args.topology, plan)?;
    crate::output::print_planned_warnings(&planned);
    out(&format!(
        "locked {} node(s) and {} link(s) in `{}`\n",
        plan.nodes.len(),
        plan.link_count(),
        path.display()
    ))?;
    Ok(ExitStatus::Success)
}
