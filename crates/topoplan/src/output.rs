//! What every command prints besides its own result: standard output written whole, a file
//! written atomically, the plan's warnings on standard error, and a progress line.

use anyhow::Result;
use std::io::Write;
use std::path::Path;
use topoplan_solver::{Plan, Warning};

/// Writes `s` to standard output and flushes it. Names and values quoted from product files,
/// bundles and locks may hold terminal escapes: shown escaped ([`print_to_stdout`]).
pub fn out(s: &str) -> Result<()> {
    print_to_stdout(|w| w.write_all(s.as_bytes()))
}

/// Standard output written by `print` (a printer of `topoplan-report`, writing to any
/// `io::Write`), buffered, with what a terminal would act on shown escaped.
pub fn print_to_stdout(print: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let mut w = TerminalSafe(std::io::BufWriter::with_capacity(
        1 << 16,
        std::io::stdout().lock(),
    ));
    print(&mut w)?;
    w.0.flush()?;
    Ok(())
}

/// A writer that shows control characters and bidirectional overrides escaped
/// ([`crate::diagnostics::terminal_safe`]) chunk by chunk. Printers write whole `str` pieces,
/// so every chunk is UTF-8.
struct TerminalSafe<W>(W);

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0
            .write_all(crate::diagnostics::terminal_safe(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Writes JSON to standard output, with what a terminal would act on escaped as JSON escapes.
pub fn out_json(s: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(crate::diagnostics::json_safe(s).as_bytes())?;
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

/// A plan's warnings, each with its place in its topology.
pub fn print_planned_warnings(planned: &topoplan_session::Planned) {
    print_warnings(&planned.path, &planned.source, &planned.plan.warnings);
}

/// The plan's warnings, rendered as the topology's errors are: code, message, and the
/// source line with a caret where one place is to blame.
pub fn print_warnings(topology: &Path, source: &str, warnings: &[Warning]) {
    if warnings.is_empty() {
        return;
    }
    let diags: Vec<_> = warnings.iter().map(Warning::diagnostic).collect();
    let name = topology.display().to_string();
    eprint!("{}", crate::diagnostics::render(&name, source, &diags));
}

/// The plan warnings a bundle recorded (their JSON, `docs/plan-json.md`), printed as
/// [`print_warnings`] does; the place comes back from the recorded line and column.
pub fn print_recorded_warnings(topology: &Path, source: &str, notes: &[String]) {
    let lines = topoplan_model::LineIndex::new(source);
    let warnings: Vec<Warning> = notes
        .iter()
        .filter_map(|note| {
            let w: serde_json::Value = serde_json::from_str(note).ok()?;
            let num = |k: &str| w[k].as_u64().and_then(|n| usize::try_from(n).ok());
            let mut warning = Warning::recorded(
                w["code"].as_str().unwrap_or("warning"),
                w["message"].as_str().unwrap_or_default(),
            );
            let span = w["span"].as_array().and_then(|s| {
                let at = |i: usize| s.get(i)?.as_u64().and_then(|n| usize::try_from(n).ok());
                Some(at(0)?..at(1)?)
            });
            if let Some(span) = span.filter(|s| s.start <= s.end && s.end <= source.len()) {
                warning = warning.at(span);
            } else if let Some((l, c)) = num("line").zip(num("column")) {
                let at = lines.offset(l, c);
                let end = source[at..]
                    .chars()
                    .next()
                    .map_or(at, |ch| at + ch.len_utf8());
                warning = warning.at(at..end);
            }
            Some(warning)
        })
        .collect();
    print_warnings(topology, source, &warnings);
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

#[cfg(test)]
mod tests {
    use super::TerminalSafe;
    use std::io::Write;

    /// What a printer writes reaches standard output with escapes and bidirectional overrides
    /// shown escaped, line breaks and tabs kept, piece by piece as [`super::out`] does it whole.
    #[test]
    fn a_printer_writes_nothing_a_terminal_acts_on() {
        let mut w = TerminalSafe(Vec::new());
        writeln!(w, "host a\u{1b}[2J\tb").unwrap();
        w.write_all("\u{202e}lmx.nobrac \u{9b}31m é\n".as_bytes())
            .unwrap();
        let shown = String::from_utf8(w.0).unwrap();
        assert_eq!(
            shown,
            "host a\\u{1b}[2J\tb\n\\u{202e}lmx.nobrac \\u{9b}31m é\n"
        );
    }
}
