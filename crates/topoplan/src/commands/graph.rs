//! `topoplan graph`: the deployment as DOT, Mermaid or SVG.

use crate::output::to_file_or_stdout;
use crate::session;
use crate::status::ExitStatus;
use anyhow::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use topoplan_diagram::Diagram;
use topoplan_render::TemplateSet;
use topoplan_report::{Picture, SUMMARY_UP_TO};
use topoplan_solver::Plan;

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
    /// `dot` for Graphviz, `mermaid` for Markdown (GitHub renders it), `svg` drawn by
    /// topoplan itself (nothing to install).
    #[arg(long, value_enum, default_value_t = Format::Dot)]
    format: Format,
    /// Write to this file (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Dot,
    Mermaid,
    Svg,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    crate::output::print_planned_warnings(&planned);
    let text = match args.format {
        Format::Dot => Diagram::from_plan(plan).dot(),
        Format::Mermaid => Diagram::from_plan(plan).mermaid(),
        Format::Svg => svg(plan)?,
    };
    to_file_or_stdout(args.out.as_deref(), &text)?;
    Ok(ExitStatus::Success)
}

/// Above the size where boxes stay readable (and the in-process layout stays fast), the
/// picture is the per-host summary; DOT keeps every node.
fn svg(plan: &Plan) -> Result<String> {
    match Picture::of(plan) {
        Picture::Nodes => Ok(Diagram::from_plan(plan).svg()),
        Picture::Hosts => {
            eprintln!(
                "{} nodes: drawing one box per host (node counts per role) and the links between hosts; `--format dot` has every node",
                plan.nodes.len()
            );
            let d = Diagram::summary(plan);
            if d.omitted_edges > 0 {
                eprintln!(
                    "{} host-to-host arrows are too many to read: drawing the hosts alone; `topoplan review` lists every opening",
                    d.omitted_edges
                );
            }
            Ok(d.svg())
        }
        Picture::Tables => anyhow::bail!(
            "{} nodes on {} hosts are too many to draw in-process (above {SUMMARY_UP_TO} hosts even the per-host summary is unreadable); use `--format dot` and Graphviz (`dot -Tsvg`), or `topoplan review`'s per-host table",
            plan.nodes.len(),
            plan.hosts.len(),
        ),
    }
}
