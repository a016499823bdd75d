//! How a run ends. Every exit status of `topoplan` is decided here, once:
//!
//! | status | code | when |
//! |---|---|---|
//! | [`ExitStatus::Success`] | 0 | done; with `plan --detailed-exitcode`, nothing changed against the lock |
//! | [`ExitStatus::Problems`] | 1 | the topology, lock, profile or plan has problems; `apply` found a selector that does not match; `check` found drift |
//! | [`ExitStatus::Error`] | 2 | a usage or I/O error (1 under `plan --detailed-exitcode`, as in terraform) |
//! | [`ExitStatus::Changed`] | 2 | `plan --detailed-exitcode` only: the plan differs from the lock, or there is none |

use std::process::ExitCode;

/// The outcome of a command, mapped to a process exit code by [`ExitStatus::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (and, with `--detailed-exitcode`, unchanged).
    Success,
    /// The input, plan or installed files have problems; they have been printed.
    Problems,
    /// A usage or I/O error; it has been printed.
    Error,
    /// `plan --detailed-exitcode`: something changed against the lock.
    Changed,
}

impl ExitStatus {
    /// The process exit code. `detailed` is `plan --detailed-exitcode`, where 2 means "changed"
    /// and nothing else, so a script that applies on 2 never applies on a typo.
    pub fn code(self, detailed: bool) -> ExitCode {
        ExitCode::from(match self {
            ExitStatus::Success => 0,
            ExitStatus::Problems => 1,
            ExitStatus::Error if detailed => 1,
            ExitStatus::Error => 2,
            ExitStatus::Changed => 2,
        })
    }
}

/// Problems that a step has already printed (diagnostics with their source, drift, a selector
/// that matches nothing): the run ends with [`ExitStatus::Problems`] and prints nothing more.
#[derive(Debug)]
pub struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("problems reported above")
    }
}

impl std::error::Error for Reported {}

/// An I/O error a step has already printed (a file it could not stage, with what was and was
/// not written): the run ends with [`ExitStatus::Error`] and prints nothing more.
#[derive(Debug)]
pub struct ReportedIo;

impl std::fmt::Display for ReportedIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("I/O errors reported above")
    }
}

impl std::error::Error for ReportedIo {}

/// The status of a failed run: [`Reported`] problems, a closed pipe (the reader has all it
/// wanted: success), or an error printed here.
pub fn of_error(e: &anyhow::Error) -> ExitStatus {
    if e.downcast_ref::<Reported>().is_some() {
        return ExitStatus::Problems;
    }
    if e.downcast_ref::<ReportedIo>().is_some() {
        return ExitStatus::Error;
    }
    if let Some(topoplan_session::SessionError::Problems(files)) = e.downcast_ref() {
        for f in files {
            eprint!(
                "{}",
                crate::diagnostics::render(&f.file, &f.source, &f.diagnostics)
            );
        }
        return ExitStatus::Problems;
    }
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitStatus::Success;
    }
    // Line by line, so that a message of several lines keeps them, and a control character
    // quoted from a file (an ESC sequence in a name) is shown escaped, never sent to the terminal.
    let text = format!("{e:#}");
    let lines: Vec<String> = text.lines().map(crate::diagnostics::visible).collect();
    eprintln!("error: {}", lines.join("\n"));
    ExitStatus::Error
}
