//! `topoplan apply`: patch a product home with one node's overlays.
//!
//! All patches are applied in memory first; if any selector fails, nothing is written. Changed
//! files are backed up once (the first original is what `--home/.topoplan/backup/` keeps, so a
//! second apply never overwrites it with an already-patched file) and replaced through a
//! temporary file and a rename. Unchanged files are not touched, so applying twice is a no-op.

use crate::Reported;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Patch formats by bundle file suffix: RFC 5261 for XML files, RFC 6902 for JSON files.
const SUFFIXES: [&str; 2] = [".patch.xml", ".patch.json"];

/// Applies one patch document (by its suffix) to a product file's text.
fn apply_patch(suffix: &str, patch: &str, target: &str) -> Result<String, (bool, String)> {
    if suffix == ".patch.json" {
        let p = topoplan_jsonpatch::Patch::parse(patch).map_err(|e| (true, e.to_string()))?;
        p.apply(target).map_err(|e| (false, e.to_string()))
    } else {
        let p = topoplan_xmlpatch::Patch::parse(patch).map_err(|e| (true, e.to_string()))?;
        p.apply(target).map_err(|e| (false, e.to_string()))
    }
}

/// Backups of the original product files, under the product home.
pub const BACKUP_DIR: &str = ".topoplan/backup";

struct Change {
    rel: String,
    target: PathBuf,
    before: String,
    after: String,
}

pub fn run(bundle: &Path, home: &Path, dry_run: bool) -> Result<()> {
    let overlay = bundle.join("overlay");
    anyhow::ensure!(
        overlay.is_dir(),
        "`{}` is not a node bundle: it has no `overlay/` folder",
        bundle.display()
    );
    anyhow::ensure!(
        home.join("repository").is_dir(),
        "`{}` is not a product home: it has no `repository/` folder",
        home.display()
    );
    let mut patches = Vec::new();
    crate::walk(&overlay, &mut patches)
        .with_context(|| format!("reading `{}`", overlay.display()))?;
    patches.sort();
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for p in patches {
        let rel = p
            .strip_prefix(&overlay)
            .expect("walked under overlay")
            .to_string_lossy()
            .replace('\\', "/");
        let Some((rel, suffix)) = SUFFIXES
            .iter()
            .find_map(|s| rel.strip_suffix(s).map(|r| (r.to_string(), *s)))
        else {
            continue;
        };
        let patch_text =
            std::fs::read_to_string(&p).with_context(|| format!("reading `{}`", p.display()))?;
        let target = home.join(&rel);
        let before = match std::fs::read_to_string(&target) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!(
                    "`{}`: cannot read the product file: {e}",
                    target.display()
                ));
                continue;
            }
        };
        let result = apply_patch(suffix, &patch_text, &before).map_err(|(in_patch, e)| {
            if in_patch {
                format!("`{}`: {e}", p.display())
            } else {
                format!("`{}`: {e}", target.display())
            }
        });
        match result {
            Ok(after) => changes.push(Change {
                rel,
                target,
                before,
                after,
            }),
            Err(m) => problems.push(m),
        }
    }
    if !problems.is_empty() {
        for m in &problems {
            eprintln!("error: {m}");
        }
        eprintln!(
            "error: nothing was written ({} problem{})",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        return Err(Reported(1).into());
    }
    let changed: Vec<&Change> = changes.iter().filter(|c| c.before != c.after).collect();
    if dry_run {
        let mut out = String::new();
        for c in &changed {
            out.push_str(
                &similar::TextDiff::from_lines(&c.before, &c.after)
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("a/{}", c.rel), &format!("b/{}", c.rel))
                    .to_string(),
            );
        }
        out.push_str(&format!(
            "{} file(s) would change, {} already up to date\n",
            changed.len(),
            changes.len() - changed.len()
        ));
        return crate::out(&out);
    }
    for c in &changed {
        let backup = home.join(BACKUP_DIR).join(&c.rel);
        if !backup.exists() {
            write_atomic(&backup, &c.before)?;
        }
        write_atomic(&c.target, &c.after)?;
    }
    crate::out(&format!(
        "{} file(s) changed, {} already up to date; originals in `{}`\n",
        changed.len(),
        changes.len() - changed.len(),
        home.join(BACKUP_DIR).display()
    ))
}

/// Writes through a temporary file in the same folder and a rename, keeping permissions.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().context("path has a parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.topoplan-tmp",
        path.file_name()
            .context("path has a file name")?
            .to_string_lossy()
    ));
    std::fs::write(&tmp, text).with_context(|| format!("writing `{}`", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing `{}`", path.display()))?;
    Ok(())
}
