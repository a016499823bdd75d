//! `topoplan plan`: solve a topology and print the plan, with the changes against its lock.

use crate::output::print_to_stdout;
use crate::session;
use crate::status::ExitStatus;
use anyhow::Result;
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;
use topoplan_render::TemplateSet;

#[derive(clap::Args)]
pub struct Args {
    /// The topology file (TOML).
    topology: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the lock file after planning (atomically).
    #[arg(long)]
    write_lock: bool,
    /// Exit 0 when nothing changed against the lock, 2 when something did (or there is no
    /// lock yet), 1 for problems and errors.
    #[arg(long)]
    detailed_exitcode: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    if args.write_lock {
        session::write_lock_file(&args.topology, plan)?;
    }
    match args.format {
        Format::Text => print_to_stdout(|w| topoplan_report::write_text(plan, w))?,
        Format::Markdown => {
            crate::output::print_planned_warnings(&planned);
            print_to_stdout(|w| topoplan_report::write_markdown(plan, w))?
        }
        Format::Json => {
            crate::output::print_planned_warnings(&planned);
            // Streamed: a plan of 100,000 nodes is hundreds of megabytes of JSON.
            let mut w = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            topoplan_report::write_json(plan, &mut w)?;
            w.flush()?;
        }
    }
    let changed = plan.changes.as_ref().is_none_or(|c| !c.is_empty());
    // The process ends here: freeing a plan of millions of values one by one would only
    // delay the exit (a tenth of the run for 100,000 nodes).
    std::mem::forget(planned);
    Ok(if args.detailed_exitcode && changed && !args.write_lock {
        ExitStatus::Changed
    } else {
        ExitStatus::Success
    })
}
