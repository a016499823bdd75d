//! `topoplan review`: the architecture review, one self-contained HTML or Markdown file.

use crate::output::to_file_or_stdout;
use crate::session;
use crate::status::ExitStatus;
use anyhow::{Context, Result};
use clap::ValueEnum;
use std::path::{Path, PathBuf};
use topoplan_render::TemplateSet;
use topoplan_solver::Plan;

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
    /// Output file; `.html` gives the HTML page, `.md` Markdown. Standard output (Markdown)
    /// when absent.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Format, when the file name does not tell.
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Html,
    Markdown,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let format = format_of(args.format, args.out.as_deref())?;
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    crate::output::print_planned_warnings(&planned);
    let text = match format {
        Format::Html => html(plan, templates)?,
        Format::Markdown => topoplan_report::markdown(plan),
    };
    to_file_or_stdout(args.out.as_deref(), &text)?;
    Ok(ExitStatus::Success)
}

/// The review format: `--format`, else the output file's extension, else Markdown.
fn format_of(explicit: Option<Format>, out: Option<&Path>) -> Result<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let Some(out) = out else {
        return Ok(Format::Markdown);
    };
    match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("html" | "htm") => Ok(Format::Html),
        Some("md" | "markdown") => Ok(Format::Markdown),
        _ => anyhow::bail!(
            "cannot tell the review format from `{}`: name it .html or .md, or pass --format html|markdown",
            out.display()
        ),
    }
}

/// The HTML review, from the templates' review page.
pub fn html(plan: &Plan, templates: &TemplateSet) -> Result<String> {
    let template = templates
        .files
        .get(topoplan_report::HTML_TEMPLATE)
        .with_context(|| format!("no template `{}`", topoplan_report::HTML_TEMPLATE))?;
    Ok(topoplan_report::html(plan, template)?)
}
