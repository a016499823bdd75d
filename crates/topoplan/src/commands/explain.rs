//! `topoplan explain`: one node, its offset and why, its ports and peers.

use crate::output::{node_names, print_to_stdout};
use crate::session;
use crate::status::ExitStatus;
use anyhow::Result;
use std::path::PathBuf;
use topoplan_render::TemplateSet;

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
    /// The node's name in the topology.
    node: String,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    match plan.node(&args.node) {
        Some(n) => print_to_stdout(|w| topoplan_report::write_explain(plan, n, w))?,
        None => anyhow::bail!(
            "no node `{}` in `{}`; its nodes are: {}",
            args.node,
            args.topology.display(),
            node_names(plan)
        ),
    }
    Ok(ExitStatus::Success)
}
