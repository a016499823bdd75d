//! `topoplan bundle`: one folder per node (overlays, start script, README), plus plan.json and
//! the reviews. Re-bundling unchanged inputs into an untouched folder writes nothing.

use crate::output::{node_names, out, print_recorded_warnings, print_warnings, Progress};
use crate::session::{self, Sources};
use crate::status::ExitStatus;
use anyhow::Result;
use std::path::{Path, PathBuf};
use topoplan_bundle::{Rendering, WriteReport};
use topoplan_render::TemplateSet;
use topoplan_solver::Plan;

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
    /// Output folder; node folders in it are replaced.
    #[arg(short, long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let (topology, dir) = (&args.topology, &args.out);
    let progress = Progress::start("planning");
    let sources = session::read_sources(topology)?;
    let digest = inputs_digest(&sources, templates);
    if let Some(digest) = &digest {
        if let Some(rec) = topoplan_bundle::untouched(dir).filter(|r| r.digest == *digest) {
            progress.done();
            print_recorded_warnings(topology, &sources.topology, &rec.notes);
            out(&format!(
                "`{}` already holds the bundle of this topology, untouched: nothing written\n",
                dir.display()
            ))?;
            return Ok(ExitStatus::Success);
        }
    }
    let plan = session::plan_texts(topology, &sources, templates)?;
    let inputs = digest.map(|digest| topoplan_bundle::Inputs {
        digest,
        notes: plan.warnings.iter().filter_map(note).collect(),
    });
    progress.step(format!(
        "rendering and writing {} node bundle(s)",
        plan.nodes.len()
    ));
    let rendering = rendering(&plan, templates)?;
    let report = topoplan_bundle::write_bundle(dir, &rendering, inputs.as_ref())?;
    progress.done();
    print_warnings(topology, &sources.topology, &plan.warnings);
    out(&summary(dir, &plan, &report))?;
    Ok(ExitStatus::Success)
}

/// A folder that holds, untouched, the bundle of these very inputs (the topology, its lock,
/// the templates, this program) needs no plan, render or compare: one digest and one `stat` per
/// file. Planning is a function of those inputs, so the plan's warnings, recorded with the
/// bundle, are printed again as they were. `None` turns the shortcut off.
fn inputs_digest(sources: &Sources, templates: &TemplateSet) -> Option<String> {
    let program = program_id()?;
    let texts = sources.texts()?;
    Some(topoplan_bundle::inputs_digest(&texts, templates, &program))
}

/// A warning as the bundle records it: its JSON (`docs/plan-json.md`) and its byte range in
/// the topology, so that it prints again exactly as now.
fn note(w: &topoplan_solver::Warning) -> Option<String> {
    let mut v = serde_json::to_value(w).ok()?;
    if let (Some(span), Some(obj)) = (&w.span, v.as_object_mut()) {
        obj.insert("span".into(), serde_json::json!([span.start, span.end]));
    }
    serde_json::to_string(&v).ok()
}

/// What `bundle` did, for standard output.
fn summary(dir: &Path, plan: &Plan, report: &WriteReport) -> String {
    let mut text = if report.changed == 0 {
        format!(
            "`{}` already holds this plan's {} node bundle(s): nothing written\n",
            dir.display(),
            plan.nodes.len()
        )
    } else {
        format!(
            "wrote {} node bundle(s) to `{}` ({} file(s) new or changed, {} kept): {}\n",
            plan.nodes.len(),
            dir.display(),
            report.changed,
            report.unchanged,
            node_names(plan)
        )
    };
    if !report.removed_nodes.is_empty() {
        text.push_str(&format!(
            "removed the bundles of nodes no longer in the plan: {}\n",
            report.removed_nodes.join(", ")
        ));
    }
    if let Some((kept, extra)) = &report.kept_old {
        let shown: Vec<String> = extra.iter().take(5).map(|e| format!("`{e}`")).collect();
        text.push_str(&format!(
            "kept the previous bundle in `{}`: {} path(s) topoplan did not write appeared in it while this one was written ({}{}); take what you need from it, then remove it\n",
            kept.display(),
            extra.len(),
            shown.join(", "),
            if extra.len() > 5 { ", ..." } else { "" }
        ));
    }
    text
}

/// Every node's bundle plus the reviews beside them, rendered part by part as it is written:
/// what `bundle` and `export` both write.
pub fn rendering<'a>(plan: &'a Plan, templates: &'a TemplateSet) -> Result<Rendering<'a>> {
    let reviews = vec![
        ("review.md".to_string(), topoplan_report::markdown(plan)),
        (
            "review.html".to_string(),
            super::review::html(plan, templates)?,
        ),
    ];
    Ok(Rendering::new(templates, plan, reviews)?)
}

/// This build of topoplan, for the digest of a bundle's inputs: the version, and the size and
/// modification time of the executable, so a rebuilt program never trusts a bundle an older
/// one rendered. `None` (no way to tell) turns the shortcut off.
fn program_id() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let m = std::fs::metadata(exe).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!(
        "topoplan {} {} {}.{:09}",
        env!("CARGO_PKG_VERSION"),
        m.len(),
        t.as_secs(),
        t.subsec_nanos()
    ))
}
