//! `topoplan apply`: patch a product home with one node's overlays, all or nothing.
//!
//! Order of work, each step only if every earlier one succeeded for every file:
//! 1. lock the home (two applies never interleave) and check it is the bundle's product and
//!    release (`node.json` `home`: the marker folder and carbon.xml `<Name>`/`<Version>`);
//! 2. resolve every target inside the home, refusing symlinks (of files or of folders on the
//!    way) that lead out of it, and anything that is not a regular file;
//! 3. apply every patch in memory (the patchers re-parse their result);
//! 4. stage each changed file, and the first backup of it, as random temporary files beside
//!    their targets, with the original's owner, group and mode (backups in a `0700` folder);
//! 5. record the intent: what each file is now, in `.topoplan/pending/`, then the list of
//!    files about to be replaced;
//! 6. rename the backups, then the files, into place. If a rename fails, the files already
//!    replaced are put back from memory, so the home ends as it began; then the intent goes.
//!
//! A failure before step 6 writes nothing: staged files are removed when dropped. A run killed
//! during step 6 leaves the intent: the next `apply` (under the same lock) first puts every
//! file it lists back as it was, then applies as usual ([`recover`]).
//!
//! Every product file is read and replaced through a descriptor of its folder
//! ([`topoplan_safefs::Dir`]), so the home's owner swapping a folder for a link after the
//! checks cannot redirect a read or a write; and the bundle must be the same folder after
//! everything was read as before (a `topoplan bundle` swapping it in between would mix two
//! plans).

use crate::status::{ExitStatus, Reported, ReportedIo};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use topoplan_model::HomeIdentity;
use topoplan_patch::Patch;
use topoplan_render::PatchFormat;
use topoplan_safefs::{private_dirs, Dir, Staged};

/// Backups of the original product files, under the product home.
pub const BACKUP_DIR: &str = ".topoplan/backup";
/// What an apply is about to replace, while it replaces it (see the module's step 5).
const PENDING_DIR: &str = ".topoplan/pending";
const INTENT: &str = "intent";

struct Change {
    rel: String,
    /// The real file's folder (symlinks inside the home resolved), held open, and its name.
    dir: Dir,
    name: std::ffi::OsString,
    meta: std::fs::Metadata,
    before: String,
    after: String,
    /// The secrets the patch filled in (database passwords), masked wherever printed.
    secrets: Vec<String>,
}

fn fail(problems: &[String]) -> anyhow::Error {
    print_unchanged(problems);
    Reported.into()
}

/// Files that could not be staged (a full disk, a folder that refuses new files): an I/O
/// error, exit 2, and still nothing written.
fn fail_io(problems: &[String]) -> anyhow::Error {
    print_unchanged(problems);
    ReportedIo.into()
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
    home_is(home, &r.home, &r.product)
}

/// The home is a home of `product` at the release `id` names (its marker folder, and its
/// release file's root `<Name>`/`<Version>`); the message says what it is instead.
pub fn home_is(home: &Path, id: &HomeIdentity, product: &str) -> Result<(), String> {
    let r = NodeRecord {
        product: product.to_string(),
        home: id.clone(),
    };
    // `node.json` is a file of the bundle, and a bundle can be edited: its paths must stay in
    // the home like any patch's.
    let descends = |p: &str| {
        !p.is_empty()
            && Path::new(p)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if !descends(&id.marker) || !descends(&id.file) {
        return Err(format!(
            "the bundle's `node.json` names `{}` and `{}` in the home: not paths inside it; re-run `topoplan bundle`",
            id.marker, id.file
        ));
    }
    if !home.join(&id.marker).is_dir() {
        return Err(format!(
            "`{}` is not a {} home: it has no `{}/` folder",
            home.display(),
            r.product,
            id.marker
        ));
    }
    let (dir, name) = Dir::of_file_inside(home, Path::new(&id.file)).map_err(|e| e.to_string())?;
    let file = dir.path().join(&name);
    let src = match dir.read_regular(&name).map_err(|e| e.to_string())? {
        Some((text, _)) => text,
        None => return Err(format!("`{}`: no such file", file.display())),
    };
    let doc = roxmltree::Document::parse(&src)
        .map_err(|e| format!("`{}`: not well-formed XML: {e}", file.display()))?;
    let child = |name: &str| {
        doc.root_element()
            .children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    let (name, version) = (child("Name"), child("Version"));
    if name != id.name || version != id.version {
        return Err(format!(
            "`{}` says this home is {name:?} {version:?}, but the bundle is for {} {} (`{}`); \
             apply the bundle of the matching product, or re-plan with `product = \"...\"`",
            file.display(),
            id.name,
            id.version,
            r.product
        ));
    }
    Ok(())
}

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
    let result = apply(&args.bundle, &args.home, args.dry_run);
    // The lock made `.topoplan/` if there was none: a run that wrote no backup leaves none (a
    // folder with anything in it, or not a folder, stays).
    let _ = std::fs::remove_dir(args.home.join(".topoplan"));
    result?;
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
    // In topoplan's own folder of the home (root's, 0700): the home's owner cannot hold it. A
    // `.topoplan` the home's owner planted (a link, a folder of theirs) is a problem of the home.
    let _lock =
        match private_dirs(home, Path::new(".topoplan")).and_then(|d| d.lock("lock".as_ref())) {
            Ok(lock) => lock,
            Err(e @ topoplan_safefs::SafeFsError::Locked(..)) => return Err(e.into()),
            Err(e @ topoplan_safefs::SafeFsError::Io { .. }) => return Err(e.into()),
            Err(e) => return Err(fail(&[e.to_string()])),
        };
    recover(home, dry_run)?;
    let bundle_id = folder_id(bundle)?;
    if let Err(m) = check_home(bundle, home) {
        return Err(fail(&[m]));
    }
    let (changes, problems) = read_patches(home, &overlay)?;
    if folder_id(bundle)? != bundle_id {
        return Err(fail(&[format!(
            "the bundle `{}` was replaced while apply read it (a `topoplan bundle` ran meanwhile), so its files may come from two plans; run apply again",
            bundle.display()
        )]));
    }
    if !problems.is_empty() {
        return Err(fail(&problems));
    }
    if !dry_run {
        sweep_litter(home, &changes);
    }
    let changed: Vec<&Change> = changes.iter().filter(|c| c.before != c.after).collect();
    let kept = changes.len() - changed.len();
    if dry_run {
        return crate::output::out(&dry_run_diff(&changed, kept));
    }
    write_all(home, &changed)?;
    crate::output::out(&format!(
        "{} file(s) changed, {kept} already up to date; originals in `{}`\n",
        changed.len(),
        home.join(BACKUP_DIR).display()
    ))
}

/// Which folder `path` is (device and inode): a bundle swapped in by `topoplan bundle` is a
/// new folder.
fn folder_id(path: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).with_context(|| format!("reading `{}`", path.display()))?;
    Ok((m.dev(), m.ino()))
}

/// Steps 2 and 3 for every patch of the bundle: the changes, and the problems (one message
/// each, every one found).
fn read_patches(home: &Path, overlay: &Path) -> Result<(Vec<Change>, Vec<String>)> {
    let mut patches = Vec::new();
    topoplan_render::walk_files(overlay, &mut patches)
        .with_context(|| format!("reading `{}`", overlay.display()))?;
    patches.sort();
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for p in patches {
        let rel = p
            .strip_prefix(overlay)
            .expect("walked under overlay")
            .to_string_lossy()
            .replace('\\', "/");
        let Some((rel, format)) = PatchFormat::of_bundle_path(&rel) else {
            continue;
        };
        let patch_text = topoplan_safefs::read_regular(&p)?;
        match patched(home, rel, format, &p, &patch_text) {
            Ok(change) => changes.push(change),
            Err(problem) => problems.push(problem),
        }
    }
    Ok((changes, problems))
}

/// Temporary copies a killed run left beside the product files it patches and among the
/// backups (they may hold passwords): removed, as this run holds the home's lock.
fn sweep_litter(home: &Path, changes: &[Change]) {
    let mut dirs: std::collections::BTreeSet<PathBuf> =
        changes.iter().map(|c| c.dir.path().to_path_buf()).collect();
    let backup = home.join(BACKUP_DIR);
    if std::fs::symlink_metadata(&backup).is_ok_and(|m| m.is_dir()) {
        let _ = topoplan_safefs::walk(&backup, &mut |p, e| {
            if e == topoplan_safefs::Entry::Dir {
                dirs.insert(p.to_path_buf());
            }
            e == topoplan_safefs::Entry::Dir
        });
        dirs.insert(backup);
    }
    let removed: usize = dirs
        .iter()
        .map(|d| topoplan_safefs::sweep_temp_files(d))
        .sum();
    if removed > 0 {
        eprintln!("note: removed {removed} temporary file(s) an interrupted run left behind");
    }
}

/// Step 2 and 3 for one patch: the product file `rel` inside the home, read, and patched in
/// memory; a problem is a message naming the file.
fn patched(
    home: &Path,
    rel: &str,
    format: PatchFormat,
    patch_path: &Path,
    patch_text: &str,
) -> Result<Change, String> {
    // topoplan's own folder (the pristine backups) is never a patch target.
    if Path::new(rel)
        .components()
        .next()
        .is_some_and(|c| c.as_os_str() == ".topoplan")
    {
        return Err(format!(
            "`{rel}`: a bundle never patches topoplan's own folder `.topoplan/` (it holds the originals apply keeps)"
        ));
    }
    let (dir, name) = Dir::of_file_inside(home, Path::new(rel)).map_err(|e| e.to_string())?;
    let (before, meta) = match dir.read_regular(&name) {
        Ok(Some(read)) => read,
        Ok(None) => {
            return Err(format!(
                "`{}`: the product file does not exist",
                home.join(rel).display()
            ))
        }
        Err(e) => return Err(format!("cannot read the product file: {e}")),
    };
    let (patch_text, secrets) =
        crate::patch::fill_secrets(format, patch_text).map_err(|e| match e {
            topoplan_patch::SecretError::Unset(var) => format!(
                "`{}` needs a database password: set the environment variable `{var}` (the `password_env` of its [[database]]); topoplan never stores it",
                home.join(rel).display()
            ),
            topoplan_patch::SecretError::NotWritable(var) => format!(
                "`{}`: the value of `{var}` holds a control character, which an XML file cannot carry: choose a password without one",
                home.join(rel).display()
            ),
        })?;
    let patch = Patch::parse(format, &patch_text)
        .map_err(|e| format!("`{}`: {e}", patch_path.display()))?;
    let after = patch
        .apply(&before)
        .map_err(|e| format!("`{}`: {e}", home.join(rel).display()))?;
    Ok(Change {
        rel: rel.to_string(),
        dir,
        name,
        meta,
        before,
        after,
        secrets,
    })
}

/// `--dry-run`: a unified diff of every file that would change, and a count.
fn dry_run_diff(changed: &[&Change], kept: usize) -> String {
    let mut out = String::new();
    for c in changed {
        out.push_str(
            &similar::TextDiff::from_lines(&c.before, &c.after)
                .unified_diff()
                .context_radius(2)
                .header(&format!("a/{}", c.rel), &format!("b/{}", c.rel))
                .to_string(),
        );
        // The passwords apply writes never reach the terminal.
        out = topoplan_patch::mask(&out, &c.secrets);
    }
    out.push_str(&format!(
        "{} file(s) would change, {kept} already up to date\n",
        changed.len()
    ));
    out
}

/// The first backup of a changed file, staged in root's own folders under `.topoplan/backup/`
/// (every folder on the way a real one of root's, created `0700` if missing, and held open:
/// the home's owner cannot link it elsewhere); `None` when a backup exists already (the first
/// original is kept). The folders it creates are added to `created`.
fn stage_backup(
    home: &Path,
    c: &Change,
    created: &mut Vec<PathBuf>,
) -> Result<Option<Staged>, topoplan_safefs::SafeFsError> {
    let rel = Path::new(BACKUP_DIR).join(&c.rel);
    let parent = rel.parent().expect("backup path has a folder");
    let mut at = home.to_path_buf();
    for part in parent.components() {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_err() {
            created.push(at.clone());
        }
    }
    let folder = private_dirs(home, parent)?;
    let name = rel.file_name().expect("backup path has a name");
    if folder.has_regular(name)? {
        return Ok(None);
    }
    Staged::at(&folder, name, c.before.as_bytes(), Some(&c.meta), 0o600).map(Some)
}

/// Step 5: each changed file as it is now (`0`, `1`, … in `.topoplan/pending/`), then the
/// intent listing them (`number<TAB>digest of the new text<TAB>path`), each made durable
/// before the next.
/// If a copy cannot be written, the ones already written (they may hold passwords) and the
/// folder go again.
fn record_intent(home: &Path, changed: &[&Change]) -> Result<Dir, topoplan_safefs::SafeFsError> {
    let pending = private_dirs(home, Path::new(PENDING_DIR))?;
    let write = || {
        let mut intent = String::new();
        for (i, c) in changed.iter().enumerate() {
            let name = i.to_string();
            Staged::at(&pending, name.as_ref(), c.before.as_bytes(), None, 0o600)?.commit()?;
            intent.push_str(&format!("{i}\t{}\t{}\n", digest(&c.after), c.rel));
        }
        Staged::at(&pending, INTENT.as_ref(), intent.as_bytes(), None, 0o600)?.commit()
    };
    match write() {
        Ok(()) => Ok(pending),
        Err(e) => {
            clear_intent(home, &pending, changed.len());
            Err(e)
        }
    }
}

fn digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The intent goes first (from then on there is nothing to recover), then the copies, then
/// the folder (through root's own `.topoplan`, never a path the home's owner could relink).
fn clear_intent(home: &Path, pending: &Dir, count: usize) {
    let _ = pending.remove_file(INTENT.as_ref());
    for i in 0..count {
        let _ = pending.remove_file(i.to_string().as_ref());
    }
    if let Ok(own) = private_dirs(home, Path::new(".topoplan")) {
        let _ = own.remove_dir("pending".as_ref());
    }
}

/// An apply killed while it replaced files left its intent: every file it lists that holds
/// what that run wrote is put back as that run found it (a file it had not reached yet is
/// left alone, and so is one changed since, with a warning), so the home is whole again
/// before this run applies. `--dry-run` only says so.
fn recover(home: &Path, dry_run: bool) -> Result<()> {
    let path = home.join(PENDING_DIR);
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let problem = |e: topoplan_safefs::SafeFsError| fail(&[e.to_string()]);
    let pending = private_dirs(home, Path::new(PENDING_DIR)).map_err(problem)?;
    // Killed before the intent was whole: nothing had been replaced yet.
    let intent = pending
        .read_regular(INTENT.as_ref())
        .map_err(problem)?
        .map_or_else(String::new, |(text, _)| text);
    let entries: Vec<Vec<&str>> = intent
        .lines()
        .map(|l| l.splitn(3, '\t').collect::<Vec<_>>())
        .filter(|f| f.len() == 3)
        .collect();
    if dry_run {
        if !entries.is_empty() {
            eprintln!(
                "note: an apply was interrupted while replacing {} file(s); the next apply puts them back first",
                entries.len()
            );
        }
        return Ok(());
    }
    let mut restored = 0;
    for f in &entries {
        let (i, wrote, rel) = (f[0], f[1], f[2]);
        let (dir, name) = Dir::of_file_inside(home, Path::new(rel)).map_err(problem)?;
        let before = pending.read_regular(i.as_ref()).map_err(problem)?;
        let now = dir.read_regular(&name).map_err(problem)?;
        let (Some((before, _)), Some((now, meta))) = (before, now) else {
            continue;
        };
        if digest(&now) == wrote {
            Staged::at(&dir, &name, before.as_bytes(), Some(&meta), 0o644)?.commit()?;
            restored += 1;
        } else if now != before {
            eprintln!(
                "warning: `{}` changed since an interrupted apply replaced it; left as it is",
                crate::diagnostics::visible(&home.join(rel).display().to_string())
            );
        }
    }
    topoplan_safefs::sweep_temp_files(&path);
    let files = std::fs::read_dir(&path).map(|d| d.count()).unwrap_or(0);
    clear_intent(home, &pending, files);
    if !entries.is_empty() {
        eprintln!(
            "note: an apply was interrupted while replacing {} file(s); {restored} put back as it found them",
            entries.len()
        );
    }
    Ok(())
}

/// Steps 4 to 6: stage everything, record the intent, then rename; on a failed rename,
/// restore.
fn write_all(home: &Path, changed: &[&Change]) -> Result<()> {
    let mut problems = Vec::new();
    let mut io_problems = false;
    let mut backups = Vec::new();
    let mut files = Vec::new();
    // The backup folders this run creates, to remove again if nothing is written.
    let mut created: Vec<PathBuf> = Vec::new();
    let is_io =
        |e: &topoplan_safefs::SafeFsError| matches!(e, topoplan_safefs::SafeFsError::Io { .. });
    for c in changed {
        match stage_backup(home, c, &mut created) {
            Ok(b) => backups.extend(b),
            Err(e) => {
                io_problems |= is_io(&e);
                problems.push(e.to_string());
            }
        }
        match Staged::at(&c.dir, &c.name, c.after.as_bytes(), Some(&c.meta), 0o644) {
            Ok(s) => files.push((s, *c)),
            Err(e) => {
                io_problems |= is_io(&e);
                problems.push(e.to_string());
            }
        }
    }
    let pending = if problems.is_empty() {
        record_intent(home, changed).map_err(|e| {
            io_problems |= is_io(&e);
            problems.push(e.to_string());
        })
    } else {
        Err(())
    };
    let Ok(pending) = pending else {
        // Dropping the staged files removes them; then the folders made for their backups.
        drop(backups);
        drop(files);
        for dir in created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(if io_problems {
            fail_io(&problems)
        } else {
            fail(&problems)
        });
    };
    for b in backups {
        b.commit()?;
    }
    let result = rename_all(home, files);
    clear_intent(home, &pending, changed.len());
    result
}

/// Step 6 for the product files; if one cannot be renamed, the ones already replaced are put
/// back from memory.
fn rename_all(home: &Path, files: Vec<(Staged, &Change)>) -> Result<()> {
    let mut done: Vec<&Change> = Vec::new();
    for (staged, c) in files {
        if let Err(e) = staged.commit() {
            let mut restore_failed = Vec::new();
            for d in &done {
                if let Err(r) =
                    Staged::at(&d.dir, &d.name, d.before.as_bytes(), Some(&d.meta), 0o644)
                        .and_then(Staged::commit)
                {
                    restore_failed.push(r.to_string());
                }
            }
            eprintln!("error: {}", crate::diagnostics::visible(&e.to_string()));
            if restore_failed.is_empty() {
                eprintln!(
                    "error: the {} file(s) already replaced were restored; the product home is unchanged",
                    done.len()
                );
            } else {
                for r in restore_failed {
                    eprintln!("error: could not restore: {r}");
                }
                eprintln!(
                    "error: restore the originals from `{}`",
                    home.join(BACKUP_DIR).display()
                );
            }
            return Err(Reported.into());
        }
        done.push(c);
    }
    Ok(())
}
