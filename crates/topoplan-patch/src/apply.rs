//! The apply transaction: a node's patches written into a product home, all or nothing.
//!
//! Order of work, each step only if every earlier one succeeded for every file:
//! 1. lock the home (two applies never interleave: [`Home::lock`]) and put back what an
//!    interrupted apply left half done ([`Home::recover`]); the caller checks the home is the
//!    bundle's product and release ([`home_is`]);
//! 2. resolve every target inside the home, refusing symlinks (of files or of folders on the
//!    way) that lead out of it, and anything that is not a regular file;
//! 3. apply every patch in memory (the patchers re-parse their result): [`Home::prepare`];
//! 4. stage each changed file, and the first backup of it, as random temporary files beside
//!    their targets, with the original's owner, group and mode (backups in a `0700` folder);
//! 5. record the intent: what each file is now, in `.topoplan/pending/`, then the list of
//!    files about to be replaced (`number<TAB>digest of the new text<TAB>path`);
//! 6. rename the backups, then the files, into place. If a rename fails, the files already
//!    replaced are put back from memory, so the home ends as it began; then the intent goes.
//!
//! Steps 4 to 6 are [`Home::write`]. A failure before step 6 writes nothing: staged files are
//! removed when dropped. A run killed during step 6 leaves the intent: the next one (under the
//! same lock) first puts every file it lists back as it was ([`Home::recover`]).
//!
//! Every product file is read and replaced through a descriptor of its folder
//! ([`topoplan_safefs::Dir`]), so the home's owner swapping a folder for a link after the
//! checks cannot redirect a read or a write.

use crate::{Patch, PatchFormat, SecretError};
use std::path::{Path, PathBuf};
use topoplan_model::HomeIdentity;
use topoplan_safefs::{private_dirs, Dir, DirLock, SafeFsError, Staged};

/// Backups of the original product files, under the product home.
pub const BACKUP_DIR: &str = ".topoplan/backup";
/// topoplan's own folder in a product home (root's, `0700`): the lock, backups, the intent.
const OWN_DIR: &str = ".topoplan";
/// What an apply is about to replace, while it replaces it (see the module's step 5).
const PENDING_DIR: &str = ".topoplan/pending";
const INTENT: &str = "intent";

/// Why an apply wrote nothing, or stopped half way and put the home back.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The home cannot be locked (another apply holds it) or read: nothing was written.
    #[error(transparent)]
    Fs(#[from] SafeFsError),
    /// Problems of the bundle or the home found before anything was written, one message each
    /// (a selector that matches nothing, an unset password, a link out of the home).
    #[error("{}", .0.join("\n"))]
    Refused(Vec<String>),
    /// Files could not be staged (a full disk, a folder that refuses new files): nothing was
    /// written.
    #[error("{}", .0.join("\n"))]
    NotStaged(Vec<String>),
    /// A rename failed after `replaced` files were renamed into place: those were put back
    /// from memory, except the ones `restore_failed` names (their originals are in
    /// [`BACKUP_DIR`]).
    #[error("{error}")]
    Interrupted {
        /// The failed rename.
        error: String,
        /// How many files had been replaced.
        replaced: usize,
        /// The files that could not be put back, one message each.
        restore_failed: Vec<String>,
    },
}

/// A product home, locked for one apply. Dropping it releases the lock and removes
/// `.topoplan/` again if the run left nothing in it.
pub struct Home {
    path: PathBuf,
    lock: Option<DirLock>,
}

impl Drop for Home {
    fn drop(&mut self) {
        drop(self.lock.take());
        // The lock made `.topoplan/` if there was none: a run that wrote no backup leaves none
        // (a folder with anything in it, or not a folder, stays).
        let _ = std::fs::remove_dir(self.path.join(OWN_DIR));
    }
}

/// One product file a bundle patches: as it is, and as the patch makes it.
pub struct Change {
    /// Its path in the home.
    pub rel: String,
    /// The real file's folder (symlinks inside the home resolved), held open, and its name.
    dir: Dir,
    name: std::ffi::OsString,
    meta: std::fs::Metadata,
    /// The file as it is.
    pub before: String,
    /// The file as the patch makes it.
    pub after: String,
    /// The secrets the patch filled in (database passwords), masked wherever printed.
    secrets: Vec<String>,
}

/// Every patch of a bundle applied in memory ([`Home::prepare`]), ready to write.
pub struct Prepared {
    changes: Vec<Change>,
}

impl Prepared {
    /// The files the patches change.
    pub fn changed(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.before != c.after)
            .collect()
    }

    /// How many patched files are already as the patches make them.
    pub fn kept(&self) -> usize {
        self.changes.len() - self.changed().len()
    }

    /// A unified diff of every file that would change, with every secret masked.
    pub fn diff(&self) -> String {
        let mut out = String::new();
        let mut secrets = Vec::new();
        for c in self.changed() {
            out.push_str(
                &similar::TextDiff::from_lines(&c.before, &c.after)
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("a/{}", c.rel), &format!("b/{}", c.rel))
                    .to_string(),
            );
            secrets.extend(c.secrets.iter().cloned());
        }
        // The passwords apply writes never reach the terminal, whichever file shows them.
        crate::mask(&out, &secrets)
    }
}

/// What [`Home::recover`] found of an interrupted apply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// How many files the interrupted apply was replacing (0: none was interrupted).
    pub interrupted: usize,
    /// How many of them were put back as it found them.
    pub restored: usize,
    /// Files changed since the interrupted apply replaced them: left as they are.
    pub changed_since: Vec<PathBuf>,
}

impl Home {
    /// Locks the home for one apply, in topoplan's own folder of it (root's, `0700`: the
    /// home's owner cannot hold it). A `.topoplan` the home's owner planted (a link, a folder
    /// of theirs) is refused.
    pub fn lock(path: &Path) -> Result<Home, ApplyError> {
        let lock =
            match private_dirs(path, Path::new(OWN_DIR)).and_then(|d| d.lock("lock".as_ref())) {
                Ok(lock) => lock,
                Err(e @ (SafeFsError::Locked(..) | SafeFsError::Io { .. })) => return Err(e.into()),
                Err(e) => return Err(ApplyError::Refused(vec![e.to_string()])),
            };
        Ok(Home {
            path: path.to_path_buf(),
            lock: Some(lock),
        })
    }

    /// The home's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An apply killed while it replaced files left its intent: every file it lists that
    /// holds what that run wrote is put back as that run found it (a file it had not reached
    /// yet is left alone, and so is one changed since), so the home is whole again before
    /// this run applies. With `dry_run`, only counted.
    pub fn recover(&self, dry_run: bool) -> Result<Recovery, ApplyError> {
        let path = self.path.join(PENDING_DIR);
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            return Ok(Recovery::default());
        }
        let refused = |e: SafeFsError| ApplyError::Refused(vec![e.to_string()]);
        let pending = private_dirs(&self.path, Path::new(PENDING_DIR)).map_err(refused)?;
        // Killed before the intent was whole: nothing had been replaced yet.
        let intent = (pending.read_regular(INTENT.as_ref()).map_err(refused)?)
            .map_or_else(String::new, |(text, _)| text);
        let entries: Vec<Vec<&str>> = (intent.lines())
            .map(|l| l.splitn(3, '\t').collect::<Vec<_>>())
            .filter(|f| f.len() == 3)
            .collect();
        let mut found = Recovery {
            interrupted: entries.len(),
            ..Recovery::default()
        };
        if dry_run {
            return Ok(found);
        }
        for f in &entries {
            let (i, wrote, rel) = (f[0], f[1], f[2]);
            let (dir, name) = Dir::of_file_inside(&self.path, Path::new(rel)).map_err(refused)?;
            let before = pending.read_regular(i.as_ref()).map_err(refused)?;
            let now = dir.read_regular(&name).map_err(refused)?;
            let (Some((before, _)), Some((now, meta))) = (before, now) else {
                continue;
            };
            if digest(&now) == wrote {
                Staged::at(&dir, &name, before.as_bytes(), Some(&meta), 0o644)?.commit()?;
                found.restored += 1;
            } else if now != before {
                found.changed_since.push(self.path.join(rel));
            }
        }
        topoplan_safefs::sweep_temp_files(&path);
        let files = std::fs::read_dir(&path).map(|d| d.count()).unwrap_or(0);
        self.clear_intent(&pending, files);
        Ok(found)
    }

    /// Steps 2 and 3 for every patch under `overlay` (`<product file>.patch.xml` or
    /// `.patch.json`): each product file read and patched in memory, its secrets filled from
    /// `secret`. Every problem is found before any is reported ([`ApplyError::Refused`]).
    pub fn prepare(
        &self,
        overlay: &Path,
        secret: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Result<Prepared, ApplyError> {
        let mut patches = Vec::new();
        topoplan_safefs::walk_files(overlay, &mut patches).map_err(|e| {
            ApplyError::Fs(SafeFsError::Io {
                path: overlay.to_path_buf(),
                error: e,
            })
        })?;
        patches.sort();
        let mut changes = Vec::new();
        let mut problems = Vec::new();
        for p in patches {
            let rel = (p.strip_prefix(overlay).expect("walked under overlay"))
                .to_string_lossy()
                .replace('\\', "/");
            let Some((rel, format)) = PatchFormat::of_bundle_path(&rel) else {
                continue;
            };
            let patch_text = topoplan_safefs::read_regular(&p)?;
            match self.patched(rel, format, &p, &patch_text, secret) {
                Ok(change) => changes.push(change),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(ApplyError::Refused(problems));
        }
        Ok(Prepared { changes })
    }

    /// Steps 2 and 3 for one patch: the product file `rel` inside the home, read, and patched
    /// in memory; a problem is a message naming the file.
    fn patched(
        &self,
        rel: &str,
        format: PatchFormat,
        patch_path: &Path,
        patch_text: &str,
        secret: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Result<Change, String> {
        let home = &self.path;
        // topoplan's own folder (the pristine backups) is never a patch target.
        if (Path::new(rel).components().next()).is_some_and(|c| c.as_os_str() == OWN_DIR) {
            return Err(format!(
                "`{rel}`: a bundle never patches topoplan's own folder `.topoplan/` (it holds the originals apply keeps)"
            ));
        }
        let (dir, name) = Dir::of_file_inside(home, Path::new(rel)).map_err(|e| e.to_string())?;
        let shown = home.join(rel).display().to_string();
        let (before, meta) = match dir.read_regular(&name) {
            Ok(Some(read)) => read,
            Ok(None) => return Err(format!("`{shown}`: the product file does not exist")),
            Err(e) => return Err(format!("cannot read the product file: {e}")),
        };
        let (patch_text, secrets) =
            crate::fill_secrets(patch_text, format, secret).map_err(|e| match e {
                SecretError::Unset(var) => format!(
                    "`{shown}` needs a database password: set the environment variable `{var}` (the `password_env` of its [[database]]); topoplan never stores it"
                ),
                SecretError::NotWritable(var) => format!(
                    "`{shown}`: the value of `{var}` holds a control character, which an XML file cannot carry: choose a password without one"
                ),
            })?;
        let patch = Patch::parse(format, &patch_text)
            .map_err(|e| format!("`{}`: {e}", patch_path.display()))?;
        let after = patch
            .apply(&before)
            .map_err(|e| format!("`{shown}`: {e}"))?;
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

    /// Temporary copies a killed run left beside the product files `prepared` patches and
    /// among the backups (they may hold passwords): removed, as this run holds the home's
    /// lock. Returns how many.
    pub fn sweep_litter(&self, prepared: &Prepared) -> usize {
        let mut dirs: std::collections::BTreeSet<PathBuf> = (prepared.changes.iter())
            .map(|c| c.dir.path().to_path_buf())
            .collect();
        let backup = self.path.join(BACKUP_DIR);
        if std::fs::symlink_metadata(&backup).is_ok_and(|m| m.is_dir()) {
            let _ = topoplan_safefs::walk(&backup, &mut |p, e| {
                if e == topoplan_safefs::Entry::Dir {
                    dirs.insert(p.to_path_buf());
                }
                e == topoplan_safefs::Entry::Dir
            });
            dirs.insert(backup);
        }
        dirs.iter()
            .map(|d| topoplan_safefs::sweep_temp_files(d))
            .sum()
    }

    /// Steps 4 to 6: stage everything, record the intent, then rename; on a failed rename,
    /// restore. Returns how many files were replaced.
    pub fn write(&self, prepared: &Prepared) -> Result<usize, ApplyError> {
        let changed = prepared.changed();
        let mut staging = Staging::default();
        for c in &changed {
            match self.stage_backup(c, &mut staging.created) {
                Ok(b) => staging.backups.extend(b),
                Err(e) => staging.failed(e),
            }
            match Staged::at(&c.dir, &c.name, c.after.as_bytes(), Some(&c.meta), 0o644) {
                Ok(s) => staging.files.push((s, *c)),
                Err(e) => staging.failed(e),
            }
        }
        let pending = if staging.problems.is_empty() {
            self.record_intent(&changed)
                .map_err(|e| staging.failed(e))
                .ok()
        } else {
            None
        };
        let Some(pending) = pending else {
            return Err(staging.undo());
        };
        for b in staging.backups {
            b.commit()?;
        }
        let result = rename_all(staging.files);
        self.clear_intent(&pending, changed.len());
        result.map(|()| changed.len())
    }

    /// The first backup of a changed file, staged in root's own folders under
    /// `.topoplan/backup/` (every folder on the way a real one of root's, created `0700` if
    /// missing, and held open: the home's owner cannot link it elsewhere); `None` when a
    /// backup exists already (the first original is kept). The folders it creates are added
    /// to `created`.
    fn stage_backup(
        &self,
        c: &Change,
        created: &mut Vec<PathBuf>,
    ) -> Result<Option<Staged>, SafeFsError> {
        let rel = Path::new(BACKUP_DIR).join(&c.rel);
        let parent = rel.parent().expect("backup path has a folder");
        let mut at = self.path.clone();
        for part in parent.components() {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_err() {
                created.push(at.clone());
            }
        }
        let folder = private_dirs(&self.path, parent)?;
        let name = rel.file_name().expect("backup path has a name");
        if folder.has_regular(name)? {
            return Ok(None);
        }
        Staged::at(&folder, name, c.before.as_bytes(), Some(&c.meta), 0o600).map(Some)
    }

    /// Step 5: each changed file as it is now (`0`, `1`, … in `.topoplan/pending/`), then the
    /// intent listing them, each made durable before the next. If a copy cannot be written,
    /// the ones already written (they may hold passwords) and the folder go again.
    fn record_intent(&self, changed: &[&Change]) -> Result<Dir, SafeFsError> {
        let pending = private_dirs(&self.path, Path::new(PENDING_DIR))?;
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
                self.clear_intent(&pending, changed.len());
                Err(e)
            }
        }
    }

    /// The intent goes first (from then on there is nothing to recover), then the copies, then
    /// the folder (through root's own `.topoplan`, never a path the home's owner could relink).
    fn clear_intent(&self, pending: &Dir, count: usize) {
        let _ = pending.remove_file(INTENT.as_ref());
        for i in 0..count {
            let _ = pending.remove_file(i.to_string().as_ref());
        }
        if let Ok(own) = private_dirs(&self.path, Path::new(OWN_DIR)) {
            let _ = own.remove_dir("pending".as_ref());
        }
    }
}

/// Step 4 in progress: what is staged, the folders made for backups, and what failed.
#[derive(Default)]
struct Staging<'a> {
    backups: Vec<Staged>,
    files: Vec<(Staged, &'a Change)>,
    /// The backup folders this run creates, to remove again if nothing is written.
    created: Vec<PathBuf>,
    problems: Vec<String>,
    /// Whether a problem is the system's (an I/O error) rather than the home's.
    io: bool,
}

impl Staging<'_> {
    fn failed(&mut self, e: SafeFsError) {
        self.io |= matches!(e, SafeFsError::Io { .. });
        self.problems.push(e.to_string());
    }

    /// Nothing is written: dropping the staged files removes them; then the folders made for
    /// their backups go.
    fn undo(self) -> ApplyError {
        drop(self.backups);
        drop(self.files);
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        if self.io {
            ApplyError::NotStaged(self.problems)
        } else {
            ApplyError::Refused(self.problems)
        }
    }
}

/// Step 6 for the product files; if one cannot be renamed, the ones already replaced are put
/// back from memory.
fn rename_all(files: Vec<(Staged, &Change)>) -> Result<(), ApplyError> {
    let mut done: Vec<&Change> = Vec::new();
    for (staged, c) in files {
        if let Err(e) = staged.commit() {
            let restore_failed = (done.iter())
                .filter_map(|d| {
                    Staged::at(&d.dir, &d.name, d.before.as_bytes(), Some(&d.meta), 0o644)
                        .and_then(Staged::commit)
                        .err()
                        .map(|r| r.to_string())
                })
                .collect();
            return Err(ApplyError::Interrupted {
                error: e.to_string(),
                replaced: done.len(),
                restore_failed,
            });
        }
        done.push(c);
    }
    Ok(())
}

fn digest(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The home is a home of `product` at the release `id` names (its marker folder, and its
/// release file's root `<Name>`/`<Version>`); the message says what it is instead.
pub fn home_is(home: &Path, id: &HomeIdentity, product: &str) -> Result<(), String> {
    // `node.json` is a file of the bundle, and a bundle can be edited: its paths must stay in
    // the home like any patch's.
    let descends = |p: &str| {
        !p.is_empty()
            && (Path::new(p).components()).all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if !descends(&id.marker) || !descends(&id.file) {
        return Err(format!(
            "the bundle's `node.json` names `{}` and `{}` in the home: not paths inside it; re-run `topoplan bundle`",
            id.marker, id.file
        ));
    }
    if !home.join(&id.marker).is_dir() {
        return Err(format!(
            "`{}` is not a {product} home: it has no `{}/` folder",
            home.display(),
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
        (doc.root_element().children())
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
            .unwrap_or_default()
    };
    let (name, version) = (child("Name"), child("Version"));
    if name != id.name || version != id.version {
        return Err(format!(
            "`{}` says this home is {name:?} {version:?}, but the bundle is for {} {} (`{product}`); \
             apply the bundle of the matching product, or re-plan with `product = \"...\"`",
            file.display(),
            id.name,
            id.version,
        ));
    }
    Ok(())
}
