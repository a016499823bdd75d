//! What every command prints besides its own result: standard output written whole, a file
//! written atomically, the plan's warnings on standard error, and a progress line.

use crate::diagnostics::visible;
use anyhow::Result;
use std::io::Write;
use std::path::Path;
use topoplan_solver::Plan;

/// Writes `s` to standard output and flushes it.
pub fn out(s: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(s.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes `text` to `file` atomically (temp + rename), or to standard output.
pub fn to_file_or_stdout(file: Option<&Path>, text: &str) -> Result<()> {
    match file {
        Some(f) => {
            topoplan_safefs::write_atomic(f, text.as_bytes())?;
            eprintln!("wrote `{}`", f.display());
            Ok(())
        }
        None => out(text),
    }
}

/// The plan's node names, comma-separated, for messages.
pub fn node_names(plan: &Plan) -> String {
    const SHOWN: usize = 12;
    let names: Vec<&str> = plan.nodes.iter().map(|n| n.name.as_str()).collect();
    if names.len() <= SHOWN {
        names.join(", ")
    } else {
        format!(
            "{}, ... ({} more)",
            names[..SHOWN].join(", "),
            names.len() - SHOWN
        )
    }
}

/// `warning[code]: file:line:col: message`, as cargo prints a located warning.
pub fn print_warnings(topology: &Path, plan: &Plan) {
    for w in &plan.warnings {
        print_warning(topology, &w.code, w.line.zip(w.column), &w.message);
    }
}

fn print_warning(topology: &Path, code: &str, at: Option<(usize, usize)>, message: &str) {
    let at = match at {
        Some((l, c)) => format!("{}:{l}:{c}", topology.display()),
        None => topology.display().to_string(),
    };
    eprintln!(
        "warning[{}]: {}: {}",
        visible(code),
        visible(&at),
        visible(message)
    );
}

/// A plan warning as a bundle recorded it (its JSON, `docs/plan-json.md`).
pub fn print_recorded_warning(topology: &Path, note: &str) {
    let Ok(w) = serde_json::from_str::<serde_json::Value>(note) else {
        return;
    };
    let num = |k: &str| w[k].as_u64().and_then(|n| usize::try_from(n).ok());
    print_warning(
        topology,
        w["code"].as_str().unwrap_or("warning"),
        num("line").zip(num("column")),
        w["message"].as_str().unwrap_or_default(),
    );
}

/// A spinner with the current step, on standard error, shown only when that is a terminal and
/// the work has taken over a second (indicatif hides it otherwise), so scripts and short runs
/// stay quiet.
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    pub fn start(step: &str) -> Progress {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::hidden());
        bar.set_message(step.to_string());
        let shown = bar.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(1));
            if !shown.is_finished() {
                shown.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                shown.enable_steady_tick(std::time::Duration::from_millis(120));
            }
        });
        Progress { bar }
    }

    pub fn step(&self, step: String) {
        self.bar.set_message(step);
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    /// An error on the way clears the line before it is printed.
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}
