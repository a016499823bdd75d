//! `topoplan apply`: patch a product home with one node's overlays, all or nothing.
//!
//! The transaction is the patch layer's ([`topoplan_patch::apply`]: lock, recover, prepare,
//! stage, record the intent, rename). This command adds what belongs to a bundle: the bundle
//! is a node bundle of the home's product and release (`node.json` `home`), and the bundle must
//! be the same folder after everything was read as before (a `topoplan bundle` swapping it in
//! between would mix two plans); then it prints what happened.

use crate::status::{ExitStatus, Reported, ReportedIo};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use topoplan_model::HomeIdentity;
use topoplan_patch::apply::{ApplyError, Home, Recovery, BACKUP_DIR};

#[derive(clap::Args)]
pub struct Args {
    /// The node's bundle folder (`out/<node>`).
    bundle: PathBuf,
    /// The product home on this host (holds `repository/`).
    #[arg(long, value_name = "DIR")]
    home: PathBuf,
    /// Print a unified diff of what would change and write nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> Result<ExitStatus> {
    apply(&args.bundle, &args.home, args.dry_run)?;
    Ok(ExitStatus::Success)
}

fn apply(bundle: &Path, home: &Path, dry_run: bool) -> Result<()> {
    let overlay = bundle.join("overlay");
    anyhow::ensure!(
        overlay.is_dir(),
        "`{}` is not a node bundle: it has no `overlay/` folder",
        bundle.display()
    );
    anyhow::ensure!(
        home.is_dir(),
        "`{}` is not a folder (give the product home with --home)",
        home.display()
    );
    let held = Home::lock(home).map_err(|e| failed(e, home))?;
    let recovery = held.recover(dry_run).map_err(|e| failed(e, home))?;
    report_recovery(&recovery, dry_run);
    let bundle_id = folder_id(bundle)?;
    if let Err(m) = check_home(bundle, home) {
        return Err(failed(ApplyError::Refused(vec![m]), home));
    }
    let prepared = held
        .prepare(&overlay, &mut crate::patch::env_secret)
        .map_err(|e| failed(e, home))?;
    if folder_id(bundle)? != bundle_id {
        return Err(failed(ApplyError::Refused(vec![format!(
            "the bundle `{}` was replaced while apply read it (a `topoplan bundle` ran meanwhile), so its files may come from two plans; run apply again",
            bundle.display()
        )]), home));
    }
    let (changed, kept) = (prepared.changed().len(), prepared.kept());
    if dry_run {
        let diff = prepared.diff();
        return crate::output::out(&format!(
            "{diff}{changed} file(s) would change, {kept} already up to date\n"
        ));
    }
    let removed = held.sweep_litter(&prepared);
    if removed > 0 {
        eprintln!("note: removed {removed} temporary file(s) an interrupted run left behind");
    }
    held.write(&prepared).map_err(|e| failed(e, home))?;
    crate::output::out(&format!(
        "{changed} file(s) changed, {kept} already up to date; originals in `{}`\n",
        home.join(BACKUP_DIR).display()
    ))
}

/// What an interrupted apply left, and what was done about it.
fn report_recovery(r: &Recovery, dry_run: bool) {
    for path in &r.changed_since {
        eprintln!(
            "warning: `{}` changed since an interrupted apply replaced it; left as it is",
            crate::diagnostics::visible(&path.display().to_string())
        );
    }
    if r.interrupted == 0 {
        return;
    }
    if dry_run {
        eprintln!(
            "note: an apply was interrupted while replacing {} file(s); the next apply puts them back first",
            r.interrupted
        );
    } else {
        eprintln!(
            "note: an apply was interrupted while replacing {} file(s); {} put back as it found them",
            r.interrupted, r.restored
        );
    }
}

/// A failed apply of `home`, printed: problems found before anything was written (exit 1), files that
/// could not be staged (an I/O error, exit 2, and still nothing written), a rename that failed
/// half way (what was put back), or a system error for the caller to print.
fn failed(e: ApplyError, home: &Path) -> anyhow::Error {
    match e {
        ApplyError::Fs(e) => e.into(),
        ApplyError::Refused(problems) => {
            print_unchanged(&problems);
            Reported.into()
        }
        ApplyError::NotStaged(problems) => {
            print_unchanged(&problems);
            ReportedIo.into()
        }
        ApplyError::Interrupted {
            error,
            replaced,
            restore_failed,
        } => {
            eprintln!("error: {}", crate::diagnostics::visible(&error));
            if restore_failed.is_empty() {
                eprintln!(
                    "error: the {replaced} file(s) already replaced were restored; the product home is unchanged"
                );
            } else {
                for r in restore_failed {
                    eprintln!(
                        "error: could not restore: {}",
                        crate::diagnostics::visible(&r)
                    );
                }
                eprintln!(
                    "error: restore the originals from `{}`",
                    home.join(BACKUP_DIR).display()
                );
            }
            Reported.into()
        }
    }
}

fn print_unchanged(problems: &[String]) {
    for m in problems {
        let lines: Vec<String> = m.lines().map(crate::diagnostics::visible).collect();
        eprintln!("error: {}", lines.join("\n"));
    }
    eprintln!(
        "error: nothing was written; the product home is unchanged ({} problem{})",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}

#[derive(serde::Deserialize)]
struct NodeRecord {
    product: String,
    home: HomeIdentity,
}

/// The home is the product and release the bundle was planned for.
fn check_home(bundle: &Path, home: &Path) -> Result<(), String> {
    let record = bundle.join("node.json");
    let text = topoplan_safefs::read_regular(&record).map_err(|e| {
        format!("{e}; a node bundle records its product there (re-run `topoplan bundle`)")
    })?;
    let r: NodeRecord = serde_json::from_str(&text).map_err(|e| {
        format!(
            "`{}`: not a node record of this topoplan ({e}); re-run `topoplan bundle`",
            record.display()
        )
    })?;
    topoplan_patch::apply::home_is(home, &r.home, &r.product)
}

/// Which folder `path` is (device and inode): a bundle swapped in by `topoplan bundle` is a
/// new folder.
fn folder_id(path: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).with_context(|| format!("reading `{}`", path.display()))?;
    Ok((m.dev(), m.ino()))
}
