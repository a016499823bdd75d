//! `topoplan check`: does what is installed still match the plan? Reads only.
//!
//! For each node given a home, the node's overlays are rendered from the plan exactly as
//! `bundle` does and evaluated against the installed files without writing (the patchers'
//! `drift`), so every value `apply` would write is checked: the offset, host names, per-node
//! ports, every rewired XML and JSON value. An offset option on the command line (the
//! profile's `[product.launcher]`: in the product's start script or in `JAVA_OPTS`), which wins
//! over the configuration file at run time, must agree with the offset.

use crate::session;
use crate::status::ExitStatus;
use anyhow::{Context, Result};
use clap::ValueEnum;
use serde::Serialize;
use std::path::{Path, PathBuf};
use topoplan_patch::Patch;
use topoplan_render::TemplateSet;
use topoplan_solver::Plan;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DriftItem {
    pub node: String,
    /// Product file under the node's home (or `$VAR`, the launcher's options variable).
    pub file: String,
    /// Selector, JSON pointer or setting.
    pub element: String,
    pub expected: String,
    pub found: String,
}

/// `NODE=DIR` pairs from `--home` and from `--homes-file FILE` (one per line, `#` comments).
pub fn homes(pairs: &[String], file: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    let mut lines: Vec<String> = pairs.to_vec();
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading `{}`", f.display()))?;
        lines.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    lines
        .iter()
        .map(|l| {
            let (n, d) = l
                .split_once('=')
                .with_context(|| format!("`{l}`: expected NODE=DIR"))?;
            Ok((n.trim().to_string(), PathBuf::from(d.trim())))
        })
        .collect()
}

fn offsets_in(text: &str, option: &str) -> Vec<String> {
    text.match_indices(&format!("{option}="))
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        })
        .collect()
}

/// Every drift of one node's home: the values of its overlays, what the product derives
/// from them (the profile's `checks/`), and the offset its launcher passes.
pub fn node_drift(
    set: &TemplateSet,
    plan: &Plan,
    node: &str,
    home: &Path,
) -> Result<Vec<DriftItem>> {
    let n = plan.node(node).context("checked by the caller")?;
    let mut out = Vec::new();
    let mut push = |file: &str, element: String, expected: String, found: String| {
        out.push(DriftItem {
            node: node.to_string(),
            file: file.to_string(),
            element,
            expected,
            found,
        })
    };
    let mut overlays = topoplan_render::render_node(set, plan, node)?;
    overlays.extend(topoplan_render::render_checks(set, plan, node)?);
    for o in overlays {
        overlay_drift(&o, home, &mut push)?;
    }
    let profile = crate::session::profile(set, &plan.product)?;
    if let Some(launcher) = &profile.product.launcher {
        launcher_drift(launcher, n, home, &mut push);
    }
    Ok(out)
}

/// One drift: (file, element, expected, found).
type Report<'a> = &'a mut dyn FnMut(&str, String, String, String);

/// The drift of one rendered overlay against the file in the home.
fn overlay_drift(o: &topoplan_render::Overlay, home: &Path, item: Report) -> Result<()> {
    let target = topoplan_safefs::resolve_inside(home, Path::new(&o.path))?;
    let text = match topoplan_safefs::read_regular(&target) {
        Ok(t) => t,
        Err(e) => {
            item(
                &o.path,
                "(file)".into(),
                "present".into(),
                format!("unreadable: {e}"),
            );
            return Ok(());
        }
    };
    // Secrets compare against the environment, as `apply` wrote them; they are never printed
    // (a drifted password shows as masked on both sides).
    let (patch, secrets) = match crate::patch::fill_secrets(o.format, &o.patch) {
        Ok(filled) => filled,
        Err(e) => {
            let (var, why) = match e {
                topoplan_patch::SecretError::Unset(var) => (var, "is not set"),
                topoplan_patch::SecretError::NotWritable(var) => {
                    (var, "holds a control character no XML file can carry")
                }
            };
            item(
                &o.path,
                "(database password)".into(),
                format!("the value of ${var}"),
                format!("not compared: ${var} {why}"),
            );
            return Ok(());
        }
    };
    let masked = |s: String| topoplan_patch::mask(&s, &secrets);
    match Patch::parse(o.format, &patch).and_then(|p| p.drift(&text)) {
        Ok(ds) => {
            for d in ds {
                item(&o.path, d.at, masked(d.expected), masked(d.found));
            }
        }
        Err(e) => item(
            &o.path,
            "(file)".into(),
            "what the plan writes".into(),
            e.to_string(),
        ),
    }
    Ok(())
}

/// An offset option in the start script (comments aside) or in the launcher's options
/// variable that is not the planned offset: it wins over carbon.xml at run time.
fn launcher_drift(
    launcher: &topoplan_model::Launcher,
    n: &topoplan_solver::NodePlan,
    home: &Path,
    item: Report,
) {
    let want = n.offset.to_string();
    let option = launcher.offset_option.as_str();
    let script = launcher.script.as_str();
    // Read like every product file: never through a link out of the home, never a FIFO. A
    // start script that is not there is said, not skipped: the offset it would pass is unknown.
    let text = topoplan_safefs::resolve_inside(home, Path::new(script))
        .map_err(|e| e.to_string())
        .and_then(|p| topoplan_safefs::read_regular(&p).map_err(|e| e.to_string()));
    match text {
        Ok(text) => {
            for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
                for got in offsets_in(line, option).into_iter().filter(|g| *g != want) {
                    item(script, option.into(), want.clone(), got);
                }
            }
        }
        // Said on standard error; not drift of the plan's values (a home unpacked without
        // `bin/` is still checked for everything else).
        Err(e) => eprintln!(
            "note: {}: {e}; the offset its start script passes was not checked",
            crate::diagnostics::visible(&n.name)
        ),
    }
    let env = launcher.options_env.as_deref();
    if let Some((var, opts)) = env.and_then(|v| Some((v, std::env::var(v).ok()?))) {
        for got in offsets_in(&opts, option).into_iter().filter(|g| *g != want) {
            item(&format!("${var}"), option.into(), want.clone(), got);
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    topology: PathBuf,
    /// A node and its product home, `NODE=DIR`; repeat for more nodes.
    #[arg(long = "home", value_name = "NODE=DIR")]
    homes: Vec<String>,
    /// A file of `NODE=DIR` lines, for many nodes.
    #[arg(long, value_name = "FILE")]
    homes_file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

pub fn run(args: Args, templates: &TemplateSet) -> Result<ExitStatus> {
    let planned = session::plan_file(&args.topology, templates)?;
    let plan = &planned.plan;
    let homes = homes(&args.homes, args.homes_file.as_deref())?;
    report(templates, plan, &homes, args.format == Format::Json)
}

/// Prints the drift of every node given a home; [`ExitStatus::Problems`] when anything drifted.
fn report(
    set: &TemplateSet,
    plan: &Plan,
    homes: &[(String, PathBuf)],
    json: bool,
) -> Result<ExitStatus> {
    anyhow::ensure!(
        !homes.is_empty(),
        "give at least one `--home NODE=DIR` (or `--homes-file FILE`)"
    );
    let mut all = Vec::new();
    for (node, home) in homes {
        anyhow::ensure!(
            plan.node(node).is_some(),
            "no node `{node}` in the plan; its nodes are: {}",
            plan.nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        all.extend(node_drift(set, plan, node, home)?);
    }
    let text = if json {
        let mut s = serde_json::to_string_pretty(&all)?;
        s.push('\n');
        s
    } else if all.is_empty() {
        format!("no drift: {} node(s) match the plan\n", homes.len())
    } else {
        let mut s = String::new();
        for d in &all {
            s.push_str(&format!(
                "{}: {}: {}: expected {}, found {}\n",
                d.node, d.file, d.element, d.expected, d.found
            ));
        }
        s.push_str(&format!("{} value(s) drifted from the plan\n", all.len()));
        s
    };
    if json {
        crate::output::out_json(&text)?;
    } else {
        crate::output::out(&text)?;
    }
    Ok(if all.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}
