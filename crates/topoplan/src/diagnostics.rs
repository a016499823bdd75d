//! Renders model diagnostics rustc-style. The only place that knows the renderer, so it can
//! be swapped without touching the libraries.

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, Config};
use topoplan_model::{Diagnostic, Severity};

/// Control characters in a topology (an ESC sequence in a name) must not reach the terminal:
/// in the source shown under the caret each becomes `?` (one byte each, so spans stay right),
/// and in messages, which quote names from the file, it is shown escaped.
fn visible_source(src: &str) -> String {
    src.chars()
        .map(|c| match c {
            '\n' | '\t' | '\r' => c.to_string(),
            // Same byte length, so every span still points at its place.
            c if c.is_control() || is_bidi(c) => "?".repeat(c.len_utf8()),
            c => c.to_string(),
        })
        .collect()
}

/// Unicode bidirectional formatting characters: shown raw, they reorder what a terminal
/// displays (U+202E makes `lmx.nobrac` read as `carbon.xml`).
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text for a terminal: line breaks and tabs kept, every other control character (ESC, OSC,
/// DEL, C1) and bidirectional override shown escaped (`\u{1b}`), never sent raw.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi(c))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' | '\t' => c.to_string(),
                c if c.is_control() || is_bidi(c) => c.escape_unicode().to_string(),
                c => c.to_string(),
            })
            .collect(),
    )
}

/// JSON text with the characters serde_json leaves raw (DEL, C1, bidirectional overrides)
/// written as `\uXXXX` escapes: the same data, nothing a terminal acts on.
pub fn json_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' || is_bidi(c))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\n' => c.to_string(),
                c if c.is_control() || is_bidi(c) => format!("\\u{:04x}", c as u32),
                c => c.to_string(),
            })
            .collect(),
    )
}

pub fn visible(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_bidi(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Renders diagnostics for `file` (as the user named it) with its source, plain text.
pub fn render(file: &str, src: &str, diags: &[Diagnostic]) -> String {
    let mut sources = Sources::default();
    let id = sources.add(file, src);
    let placed: Vec<(usize, &Diagnostic)> = diags.iter().map(|d| (id, d)).collect();
    sources.render(&placed, file)
}

/// The files diagnostics point into (a topology; a profile, its templates and presets), as
/// the user named them: one renderer for a diagnostic in any of them.
#[derive(Default)]
pub struct Sources {
    files: Vec<(String, String)>,
}

impl Sources {
    /// Adds a file (its name as shown, its text); returns its id for [`Sources::render`].
    pub fn add(&mut self, name: &str, text: &str) -> usize {
        if let Some(id) = self.files.iter().position(|(n, _)| n == name) {
            return id;
        }
        self.files.push((name.to_string(), text.to_string()));
        self.files.len() - 1
    }

    /// Every diagnostic with the source and caret of its file, then a count of the errors
    /// naming `summary` (the file the user gave).
    pub fn render(&self, diags: &[(usize, &Diagnostic)], summary: &str) -> String {
        let mut files = SimpleFiles::new();
        for (id, (name, text)) in self.files.iter().enumerate() {
            let of_file: Vec<&Diagnostic> = (diags.iter())
                .filter(|(f, _)| *f == id)
                .map(|(_, d)| *d)
                .collect();
            files.add(visible(name), redacted(&visible_source(text), &of_file));
        }
        let config = Config::default();
        let mut out = String::new();
        for (id, d) in diags {
            let len = self.files.get(*id).map_or(0, |(_, t)| t.len());
            match term::emit_into_string(&config, &files, &to_codespan(*id, d, len)) {
                Ok(s) => out.push_str(&s),
                Err(e) => out.push_str(&format!(
                    "error[{}]: {} (could not show the source: {e})\n",
                    d.code_name(),
                    visible(&d.message)
                )),
            }
        }
        let errors = (diags.iter())
            .filter(|(_, d)| d.severity == Severity::Error)
            .count();
        if errors > 0 {
            out.push_str(&format!(
                "error: `{}` has {errors} problem{}\n",
                visible(summary),
                if errors == 1 { "" } else { "s" }
            ));
        }
        out
    }
}

/// A diagnostic of file `id` (of `len` bytes) as the renderer's, every text made visible.
fn to_codespan(id: usize, d: &Diagnostic, len: usize) -> CsDiagnostic<usize> {
    CsDiagnostic::new(match d.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
    })
    .with_code(d.code_name())
    .with_message(visible(&d.message))
    .with_labels(
        d.labels
            .iter()
            .map(|l| {
                let span = clamp(l.span.clone(), len);
                if l.primary {
                    CsLabel::primary(id, span).with_message(visible(&l.message))
                } else {
                    CsLabel::secondary(id, span).with_message(visible(&l.message))
                }
            })
            .collect(),
    )
    .with_notes(
        d.notes
            .iter()
            .map(|n| format!("help: {}", visible(n)))
            .collect(),
    )
}

/// The source with every byte a diagnostic redacts shown as `*` (a multi-byte character as
/// as many `*`, so spans stay right).
fn redacted(src: &str, diags: &[&Diagnostic]) -> String {
    let spans: Vec<_> = diags.iter().flat_map(|d| d.redact.iter()).collect();
    if spans.is_empty() {
        return src.to_string();
    }
    src.char_indices()
        .map(|(i, c)| {
            if spans.iter().any(|s| s.contains(&i)) && c != '\n' {
                "*".repeat(c.len_utf8())
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn clamp(r: std::ops::Range<usize>, len: usize) -> std::ops::Range<usize> {
    r.start.min(len)..r.end.min(len).max(r.start.min(len))
}
