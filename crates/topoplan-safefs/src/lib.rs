#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! topoplan-safefs: every file topoplan writes goes through here.
//!
//! topoplan runs as root on production hosts, inside folders that other users can write to
//! (a product home owned by the service account, a shared output folder). So:
//! - temporary files get a random name and are created exclusively (`O_EXCL`) in the target's
//!   own folder, so a planted symlink at a predictable name cannot redirect a write;
//! - a target that exists must be a regular file: devices, FIFOs, sockets and folders are
//!   refused, and so is a symlink (the caller decides whether to resolve it first, see
//!   [`resolve_inside`]);
//! - a replaced file keeps its owner, group and mode;
//! - writes are staged first and renamed into place, so a reader sees the old or the new
//!   file, never a part;
//! - inside a folder another account can write to, a folder is opened once and everything in
//!   it goes through that descriptor ([`Dir`]), so no check is undone by a link planted
//!   between the check and the write.
//!
//! Linux (and other Unix systems with `openat`, `renameat` and `fchown`) only: topoplan is a
//! tool for the hosts Carbon products run on.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Why a read or write was refused or failed, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum SafeFsError {
    /// The OS error is part of the message, not a source: printers that walk the chain
    /// would print it twice.
    #[error("`{path}`: {error}{}", busy_hint(error))]
    Io {
        /// The path the operation was on.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// Not a regular file (a FIFO, device, socket or folder), and what it is.
    #[error("`{0}` is not a regular file ({1}); topoplan writes only regular files")]
    NotRegular(PathBuf, &'static str),
    /// Larger than [`MAX_READ`], with its size.
    #[error("`{0}` is {1} bytes, more than any file topoplan reads (64 MiB)")]
    TooLarge(PathBuf, u64),
    /// A link that leads out of the folder topoplan was given.
    #[error(
        "`{path}` is a symlink to `{to}`, outside `{root}`; topoplan does not write through it"
    )]
    Escapes {
        /// The link.
        path: PathBuf,
        /// Where it leads.
        to: PathBuf,
        /// The folder it leaves.
        root: PathBuf,
    },
    /// Another run holds the lock, with its process id when known.
    #[error("`{0}` is held by another topoplan run (process {1}); try again when it has finished")]
    Locked(PathBuf, String),
    /// A folder or file of another account where topoplan keeps its own, with the owner's id.
    #[error("`{0}` belongs to user id {1}, not to this run's user: topoplan keeps its own folders only where nobody else could have put them; move it aside and run again")]
    NotOurs(PathBuf, u32),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SafeFsError + '_ {
    move |error| SafeFsError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// What to do when a folder cannot be swapped: it is a mount point or the current folder.
pub fn busy_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::ResourceBusy {
        "; it is a mount point or the current folder, which cannot be replaced in one step: give a folder inside it (e.g. `-o ./bundle`)"
    } else {
        ""
    }
}

/// What a path is, for messages.
fn kind(m: &Metadata) -> &'static str {
    let t = m.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() || t.is_char_device() {
            return "a device";
        }
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a folder"
    } else if t.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

/// The metadata of `path` if it exists, refusing anything but a regular file (a symlink is
/// refused too: it is not followed).
fn existing_regular(path: &Path) -> Result<Option<Metadata>, SafeFsError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Ok(Some(m)),
        Ok(m) => Err(SafeFsError::NotRegular(path.to_path_buf(), kind(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// The text of a regular file, opened without following a final symlink and without
/// blocking (a FIFO or device put where a product file should be is refused at once instead
/// of hanging the run), its type checked on the open descriptor itself.
pub fn read_regular(path: &Path) -> Result<String, SafeFsError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let flags = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW;
        options.custom_flags(flags.bits() as i32);
    }
    let f = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(SafeFsError::NotRegular(path.to_path_buf(), "a symlink"))
        }
        Err(e) => return Err(io(path)(e)),
    };
    read_open(f, path).map(|(text, _)| text)
}

/// The text and metadata of the open file `f` (named `path` in messages): refused unless a
/// regular file of at most [`MAX_READ`] bytes, checked on the descriptor itself.
fn read_open(mut f: File, path: &Path) -> Result<(String, Metadata), SafeFsError> {
    use std::io::Read;
    let m = f.metadata().map_err(io(path))?;
    if !m.file_type().is_file() {
        return Err(SafeFsError::NotRegular(path.to_path_buf(), kind(&m)));
    }
    if m.len() > MAX_READ {
        return Err(SafeFsError::TooLarge(path.to_path_buf(), m.len()));
    }
    let mut text = String::new();
    // A file that grows while read is cut at the cap, and refused.
    (&mut f)
        .take(MAX_READ + 1)
        .read_to_string(&mut text)
        .map_err(io(path))?;
    if text.len() as u64 > MAX_READ {
        return Err(SafeFsError::TooLarge(path.to_path_buf(), text.len() as u64));
    }
    Ok((text, m))
}

/// The largest file [`read_regular`] reads: product configuration files and templates are
/// kilobytes; anything near this is not one (or is `/dev/zero` behind a name).
pub const MAX_READ: u64 = 64 * 1024 * 1024;

/// `root` made canonical, after checking that `rel` only descends (no `..`, not absolute).
fn canonical_root(root: &Path, rel: &Path) -> Result<PathBuf, SafeFsError> {
    let root_real = root.canonicalize().map_err(io(root))?;
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(SafeFsError::Escapes {
            path: rel.to_path_buf(),
            to: rel.to_path_buf(),
            root: root_real,
        });
    }
    Ok(root_real)
}

/// `root.join(rel)` resolved through any symlinks, refused when it leaves `root` (checked
/// component by component, so a symlinked folder on the way counts too), or when `rel`
/// itself climbs out (`..`, absolute). The result may not exist yet; its folder does.
pub fn resolve_inside(root: &Path, rel: &Path) -> Result<PathBuf, SafeFsError> {
    let root_real = canonical_root(root, rel)?;
    let mut at = root_real.clone();
    for c in rel.components() {
        let next = at.join(c);
        match std::fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = next.canonicalize().map_err(io(&next))?;
                if !to.starts_with(&root_real) {
                    return Err(SafeFsError::Escapes {
                        path: root.join(rel),
                        to,
                        root: root_real,
                    });
                }
                at = to;
            }
            Ok(_) => at = next,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => at = next,
            Err(e) => return Err(io(&next)(e)),
        }
    }
    Ok(at)
}

/// A folder held open by its descriptor: the files in it are looked up, read, created and
/// renamed relative to that descriptor, never by a path walked again. Once a folder inside a
/// product home is open, swapping a folder on its way for a link (the home's owner can, at any
/// moment) cannot redirect a read or a write: the descriptor stays on the folder that was
/// checked.
pub struct Dir {
    fd: rustix::fd::OwnedFd,
    path: PathBuf,
}

fn errno(p: &Path) -> impl Fn(rustix::io::Errno) -> SafeFsError + '_ {
    move |e| io(p)(std::io::Error::from(e))
}

const DIR_FLAGS: rustix::fs::OFlags = rustix::fs::OFlags::DIRECTORY
    .union(rustix::fs::OFlags::RDONLY)
    .union(rustix::fs::OFlags::CLOEXEC);

impl Dir {
    /// The folder at `path`, the operator's own path (links on the way followed).
    pub fn open(path: &Path) -> Result<Dir, SafeFsError> {
        let fd =
            rustix::fs::open(path, DIR_FLAGS, rustix::fs::Mode::empty()).map_err(errno(path))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The folder holding the file `rel` under `root`, and the file's name in it. The path is
    /// resolved as [`resolve_inside`] does (links that stay inside `root` followed, any other
    /// refused), then the resolved folders are opened one by one from `root`'s descriptor
    /// without following a link: a folder replaced by a link after the check fails the open
    /// instead of leading out of `root`.
    pub fn of_file_inside(root: &Path, rel: &Path) -> Result<(Dir, OsString), SafeFsError> {
        let real = resolve_inside(root, rel)?;
        let root_real = canonical_root(root, rel)?;
        let below = real
            .strip_prefix(&root_real)
            .expect("resolve_inside stays inside the root");
        let name = below
            .file_name()
            .ok_or_else(|| SafeFsError::NotRegular(real.clone(), "the home itself"))?
            .to_os_string();
        let mut dir = Dir::open(&root_real)?;
        for c in below.parent().into_iter().flat_map(Path::components) {
            dir = dir.sub(c.as_os_str())?;
        }
        Ok((dir, name))
    }

    /// The folder `name` in this one, opened without following a link.
    pub fn sub(&self, name: &OsStr) -> Result<Dir, SafeFsError> {
        let path = self.path.join(name);
        let flags = DIR_FLAGS | rustix::fs::OFlags::NOFOLLOW;
        match rustix::fs::openat(&self.fd, name, flags, rustix::fs::Mode::empty()) {
            Ok(fd) => Ok(Dir { fd, path }),
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                Err(SafeFsError::NotRegular(path, "a symlink or not a folder"))
            }
            Err(e) => Err(errno(&path)(e)),
        }
    }

    /// Where this folder was when it was opened (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text and metadata of the regular file `name` in this folder (`None` if there is
    /// none), read as [`read_regular`] reads.
    pub fn read_regular(&self, name: &OsStr) -> Result<Option<(String, Metadata)>, SafeFsError> {
        let path = self.path.join(name);
        let flags = rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, rustix::fs::Mode::empty()) {
            Ok(fd) => read_open(File::from(fd), &path).map(Some),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(None),
            Err(e) if e == rustix::io::Errno::LOOP => {
                Err(SafeFsError::NotRegular(path, "a symlink"))
            }
            Err(e) => Err(errno(&path)(e)),
        }
    }

    /// Whether `name` exists in this folder as a regular file; anything else (a link, a
    /// folder, a FIFO) is refused.
    pub fn has_regular(&self, name: &OsStr) -> Result<bool, SafeFsError> {
        use rustix::fs::{AtFlags, FileType};
        let path = self.path.join(name);
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => Ok(true),
            Ok(st) => Err(SafeFsError::NotRegular(
                path,
                kind_of(FileType::from_raw_mode(st.st_mode)),
            )),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(false),
            Err(e) => Err(errno(&path)(e)),
        }
    }

    /// Removes the file `name` from this folder (never a folder; absent is fine).
    pub fn remove_file(&self, name: &OsStr) -> Result<(), SafeFsError> {
        match rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::empty()) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(()),
            Err(e) => Err(errno(&self.path.join(name))(e)),
        }
    }

    /// Removes the empty folder `name` from this folder (absent or not empty is fine).
    pub fn remove_dir(&self, name: &OsStr) -> Result<(), SafeFsError> {
        match rustix::fs::unlinkat(&self.fd, name, rustix::fs::AtFlags::REMOVEDIR) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::NOENT || e == rustix::io::Errno::NOTEMPTY => Ok(()),
            Err(e) => Err(errno(&self.path.join(name))(e)),
        }
    }

    fn dup(&self) -> Result<Dir, SafeFsError> {
        Ok(Dir {
            fd: self.fd.try_clone().map_err(io(&self.path))?,
            path: self.path.clone(),
        })
    }
}

fn kind_of(t: rustix::fs::FileType) -> &'static str {
    use rustix::fs::FileType;
    match t {
        FileType::Directory => "a folder",
        FileType::Symlink => "a symlink",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::BlockDevice | FileType::CharacterDevice => "a device",
        _ => "a special file",
    }
}

/// A file written to a random, exclusively created temporary name in its target's folder (held
/// open, see [`Dir`]), not yet in place. Dropping it removes the temporary file.
pub struct Staged {
    dir: Dir,
    tmp: OsString,
    name: OsString,
    file: Option<File>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = self.dir.remove_file(&self.tmp);
        }
    }
}

impl Staged {
    /// Writes `bytes` to a new temporary file in `dir`, to become `name` there on
    /// [`commit`](Staged::commit), with the owner, group, mode and extended attributes (ACLs)
    /// of `like` (the file it replaces), or `mode` for a new file.
    pub fn at(
        dir: &Dir,
        name: &OsStr,
        bytes: &[u8],
        like: Option<&Metadata>,
        mode: u32,
    ) -> Result<Staged, SafeFsError> {
        use std::os::unix::fs::MetadataExt;
        let keep = match like {
            Some(m) => Keep {
                owner: Some((m.uid(), m.gid())),
                mode: m.mode() & 0o7777,
                xattrs: true,
            },
            None => Keep {
                owner: None,
                mode,
                xattrs: false,
            },
        };
        Staged::keeping(dir, name, bytes, keep)
    }

    fn keeping(dir: &Dir, name: &OsStr, bytes: &[u8], keep: Keep) -> Result<Staged, SafeFsError> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let (tmp, file) = create_temp(dir)?;
        let mut staged = Staged {
            dir: dir.dup()?,
            tmp,
            name: name.to_os_string(),
            file: Some(file),
        };
        let tmp_path = dir.path.join(&staged.tmp);
        let target = dir.path.join(name);
        let f = staged.file.as_mut().expect("just created");
        f.write_all(bytes).map_err(io(&tmp_path))?;
        if let Some((uid, gid)) = keep.owner {
            // Root keeps the service account's ownership; anyone else can only give a file
            // away to itself, which it already has.
            if let Err(e) = std::os::unix::fs::fchown(&*f, Some(uid), Some(gid)) {
                let me = f.metadata().map_err(io(&tmp_path))?;
                if me.uid() != uid || me.gid() != gid {
                    return Err(io(&target)(e));
                }
            }
        }
        f.set_permissions(std::fs::Permissions::from_mode(keep.mode))
            .map_err(io(&tmp_path))?;
        // Last, as a POSIX ACL sets the group bits of the mode: the replaced file's extended
        // attributes (ACLs, SELinux label, user attributes), so a service that reads it
        // through an ACL keeps its access.
        if keep.xattrs {
            copy_xattrs(dir, name, f).map_err(io(&target))?;
        }
        f.sync_all().map_err(io(&tmp_path))?;
        Ok(staged)
    }

    fn target(&self) -> PathBuf {
        self.dir.path.join(&self.name)
    }

    /// Renames the staged file over its target, in the folder it was staged in, and makes the
    /// rename durable (the folder is synced).
    pub fn commit(mut self) -> Result<(), SafeFsError> {
        let target = self.target();
        rustix::fs::renameat(&self.dir.fd, &self.tmp, &self.dir.fd, &self.name)
            .map_err(errno(&target))?;
        self.file = None;
        rustix::fs::fsync(&self.dir.fd).map_err(errno(&self.dir.path))?;
        Ok(())
    }
}

/// A new file with a random temporary name ([`is_temp_name`]) in `dir`, created exclusively
/// and never through a link, mode `0600` until its contents are in.
fn create_temp(dir: &Dir) -> Result<(OsString, File), SafeFsError> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut last = rustix::io::Errno::EXIST;
    for _ in 0..64 {
        let name = OsString::from(temp_name());
        match rustix::fs::openat(&dir.fd, &name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => return Ok((name, File::from(fd))),
            Err(e) if e == rustix::io::Errno::EXIST => last = e,
            Err(e) => return Err(errno(&dir.path)(e)),
        }
    }
    Err(errno(&dir.path)(last))
}

/// `.topoplan-XXXXXX.tmp` with six random letters and digits.
fn temp_name() -> String {
    let mid: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(6)
        .collect();
    format!(".topoplan-{mid}.tmp")
}

/// What a staged file takes over from the file it replaces.
struct Keep {
    owner: Option<(u32, u32)>,
    mode: u32,
    xattrs: bool,
}

/// Writes one of this run's own outputs (a lock, a review, a playbook) to `path` atomically:
/// refused if `path` is not a regular file (or absent). An existing file of this run's user
/// keeps its group, mode (less write for others) and ACLs; one another account owns is
/// replaced by a file of this run's user, `0644`, as a new one is: root reads some of these
/// back (the lock when planning, the playbook when deploying), so no other account keeps
/// write access to them.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SafeFsError> {
    use std::os::unix::fs::MetadataExt;
    let existing = existing_regular(path)?;
    let me = rustix::process::geteuid().as_raw();
    let keep = match existing {
        Some(m) if m.uid() == me => Keep {
            owner: Some((m.uid(), m.gid())),
            mode: m.mode() & 0o7775,
            xattrs: true,
        },
        _ => Keep {
            owner: None,
            mode: 0o644,
            xattrs: false,
        },
    };
    let (dir, name) = folder_and_name(path)?;
    Staged::keeping(&Dir::open(dir)?, name, bytes, keep)?.commit()
}

/// The folders `rel` under `root`, created where missing with mode 0700, each checked to be a
/// real folder (never a symlink) that this process's user owns, and set to 0700 through its
/// own descriptor (`fchmod`, never a path a link could redirect). Returns the last, open.
/// For topoplan's own folders inside a home another account owns (`.topoplan/backup/…`):
/// that account cannot steer where root writes, nor have root chmod a folder elsewhere.
pub fn private_dirs(root: &Path, rel: &Path) -> Result<Dir, SafeFsError> {
    use rustix::fs::{fchmod, fstat, mkdirat, Mode};
    let root_real = canonical_root(root, rel)?;
    let mut dir = Dir::open(&root_real)?;
    let me = rustix::process::geteuid();
    for c in rel.components() {
        let at = dir.path.join(c);
        match mkdirat(&dir.fd, c.as_os_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::EXIST => {}
            Err(e) => return Err(errno(&at)(e)),
        }
        let next = dir.sub(c.as_os_str())?;
        let st = fstat(&next.fd).map_err(errno(&at))?;
        if st.st_uid != me.as_raw() {
            return Err(SafeFsError::NotOurs(at, st.st_uid));
        }
        fchmod(&next.fd, Mode::from_raw_mode(0o700)).map_err(errno(&at))?;
        dir = next;
    }
    Ok(dir)
}

/// Copies every extended attribute of the regular file `name` in `dir` (opened without
/// following a link; absent: nothing to copy) onto `to`. A file system without extended
/// attributes has none to keep.
fn copy_xattrs(dir: &Dir, name: &OsStr, to: &File) -> std::io::Result<()> {
    use rustix::fs::{fgetxattr, flistxattr, fsetxattr, openat, Mode, OFlags, XattrFlags};
    let unsupported = |e: rustix::io::Errno| e == rustix::io::Errno::NOTSUP;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let src = match openat(&dir.fd, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut names = vec![0u8; 64 * 1024];
    let n = match flistxattr(&src, &mut names[..]) {
        Ok(n) => n,
        Err(e) if unsupported(e) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name);
        let mut value = vec![0u8; 64 * 1024];
        let len = fgetxattr(&src, name, &mut value[..])?;
        fsetxattr(to, name, &value[..len], XattrFlags::empty())?;
    }
    Ok(())
}

/// Whether `name` is one of topoplan's temporary files (`.topoplan-XXXXXX.tmp`, see [`Staged`]).
pub fn is_temp_name(name: &str) -> bool {
    name.strip_prefix(".topoplan-")
        .and_then(|r| r.strip_suffix(".tmp"))
        .is_some_and(|mid| !mid.is_empty() && mid.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// What [`walk`] found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A folder (not a link to one).
    Dir,
    /// Anything else: a file, a link (never followed), a FIFO, a device.
    Other,
    /// A folder that could not be listed.
    Unreadable,
}

/// The one folder walker: every entry below `dir`, depth first, each folder's entries in the
/// order the system lists them. Links are never followed (a link to a folder is
/// [`Entry::Other`]). `visit` says whether to go into a folder; it is called once more with
/// [`Entry::Unreadable`] for a folder that cannot be listed. Errors of `dir` itself are
/// returned.
pub fn walk(dir: &Path, visit: &mut dyn FnMut(&Path, Entry) -> bool) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir {
            visit(&path, Entry::Other);
        } else if visit(&path, Entry::Dir) && walk(&path, visit).is_err() {
            visit(&path, Entry::Unreadable);
        }
    }
    Ok(())
}

/// Every entry under `dir` that is not a folder, recursively. Links are never followed: a
/// link (to a file or a folder) is returned as itself, for the caller to refuse or resolve.
pub fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut failed = None;
    walk(dir, &mut |p, e| match e {
        Entry::Dir => true,
        Entry::Other => {
            out.push(p.to_path_buf());
            false
        }
        Entry::Unreadable => {
            failed.get_or_insert_with(|| p.to_path_buf());
            false
        }
    })?;
    match failed {
        Some(p) => Err(std::io::Error::other(format!(
            "`{}` cannot be listed",
            p.display()
        ))),
        None => Ok(()),
    }
}

/// Removes the temporary files a killed run left in `dir` (its own: regular files of this
/// process's user with a temporary name; they may hold copies of product files, passwords
/// included). Call only while holding the lock that keeps other runs out of `dir`. Returns
/// how many it removed.
pub fn sweep_temp_files(dir: &Path) -> usize {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        if !is_temp_name(&name.to_string_lossy()) {
            continue;
        }
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.file_type().is_file() && m.uid() == me && std::fs::remove_file(e.path()).is_ok() {
            n += 1;
        }
    }
    n
}

/// An exclusive advisory lock, held until the value is dropped (which removes the lock file).
/// Two topoplan runs on one output folder or product home never interleave.
pub struct DirLock {
    _file: File,
    dir: Dir,
    name: OsString,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while still held: a run that opened the old file finds it gone (below).
        let _ = self.dir.remove_file(&self.name);
    }
}

/// The folder of the file `path` (`.` for a bare name) and its name in it; a path with no
/// name (`/`, `..`) is a folder, not a file.
fn folder_and_name(path: &Path) -> Result<(&Path, &OsStr), SafeFsError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| SafeFsError::NotRegular(path.to_path_buf(), "a folder"))?;
    Ok((dir, name))
}

/// Locks the lock file at `path` (its folder opened by path; see [`Dir::lock`]).
pub fn lock_file(path: &Path) -> Result<DirLock, SafeFsError> {
    let (dir, name) = folder_and_name(path)?;
    Dir::open(dir)?.lock(name)
}

impl Dir {
    /// Locks the lock file `name` in this folder: a regular file this process's user owns
    /// (created `0600` if missing, never through a link), so that no other account can hold
    /// the lock and block root (a folder anyone can open can be locked by anyone). It holds
    /// nothing and is removed when the run ends; a second run names the holder's process id
    /// (from `/proc/locks`).
    pub fn lock(&self, name: &OsStr) -> Result<DirLock, SafeFsError> {
        use rustix::fs::{AtFlags, Mode, OFlags};
        use std::os::unix::fs::MetadataExt;
        let path = self.path.join(name);
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let file = match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(0o600)) {
            Ok(fd) => File::from(fd),
            Err(e) if e == rustix::io::Errno::LOOP => {
                return Err(SafeFsError::NotRegular(path, "a symlink"))
            }
            Err(e) => return Err(errno(&path)(e)),
        };
        let m = file.metadata().map_err(io(&path))?;
        if !m.file_type().is_file() {
            return Err(SafeFsError::NotRegular(path, kind(&m)));
        }
        if m.uid() != rustix::process::geteuid().as_raw() {
            return Err(SafeFsError::NotOurs(path, m.uid()));
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SafeFsError::Locked(path, holder(m.ino())));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        // The holder before us may have removed the file after we opened it: then the lock we
        // got is on a file nobody else will open, and another run may hold the new one.
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(now) if now.st_ino == m.ino() && now.st_dev == m.dev() => Ok(DirLock {
                _file: file,
                dir: self.dup()?,
                name: name.to_os_string(),
            }),
            _ => Err(SafeFsError::Locked(path, "unknown".into())),
        }
    }
}

/// The process holding a lock on the file with inode `ino`, from `/proc/locks` (Linux).
fn holder(ino: u64) -> String {
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    locks
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // `1: FLOCK  ADVISORY  WRITE 4242 fd:01:123456 0 EOF`
            let dev_ino = f.get(5)?;
            (dev_ino.rsplit(':').next()? == ino.to_string())
                .then(|| f.get(4).map(|p| p.to_string()))?
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Exchanges two folders in one step (`renameat2` `RENAME_EXCHANGE`), so a reader of `a` sees
/// all of the old or all of the new. On a file system without that (some network and FUSE
/// file systems), two renames through a new random name that no rename can replace
/// (`RENAME_NOREPLACE`): `a` is briefly absent then, and a reader fails rather than mixing the
/// two.
pub fn swap_dirs(a: &Path, b: &Path) -> Result<(), SafeFsError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => return Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
        Err(e) => return Err(errno(a)(e)),
    }
    let parent = a.parent().unwrap_or(Path::new("."));
    let parked = (0..64)
        .map(|_| parent.join(temp_name().replace(".tmp", ".swap")))
        .find_map(
            |p| match renameat_with(CWD, a, CWD, &p, RenameFlags::NOREPLACE) {
                Ok(()) => Some(Ok(p)),
                Err(e) if e == rustix::io::Errno::EXIST => None,
                Err(e) => Some(Err(errno(a)(e))),
            },
        )
        .unwrap_or_else(|| Err(errno(a)(rustix::io::Errno::EXIST)))?;
    std::fs::rename(b, a).map_err(io(b))?;
    std::fs::rename(&parked, b).map_err(io(&parked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_keep_mode_and_refuse_special_files_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.xml");
        std::fs::write(&f, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&f, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
                0o640
            );
            let link = d.path().join("link");
            std::os::unix::fs::symlink(&f, &link).unwrap();
            assert!(matches!(
                write_atomic(&link, b"x"),
                Err(SafeFsError::NotRegular(_, "a symlink"))
            ));
            assert!(matches!(
                write_atomic(Path::new("/dev/null"), b"x"),
                Err(SafeFsError::NotRegular(_, "a device"))
            ));
        }
        assert!(matches!(
            write_atomic(d.path(), b"x"),
            Err(SafeFsError::NotRegular(_, "a folder"))
        ));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names.iter().all(|n| !n.to_string_lossy().contains(".tmp")),
            "{names:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn resolve_inside_refuses_symlinks_that_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("conf")).unwrap();
        std::fs::write(root.path().join("conf/real.xml"), "x").unwrap();
        std::os::unix::fs::symlink(
            root.path().join("conf/real.xml"),
            root.path().join("conf/in.xml"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("f"), root.path().join("conf/esc.xml"))
            .unwrap();
        let r = resolve_inside(root.path(), Path::new("conf/in.xml")).unwrap();
        assert!(r.ends_with("conf/real.xml"));
        assert!(matches!(
            resolve_inside(root.path(), Path::new("out/x.xml")),
            Err(SafeFsError::Escapes { .. })
        ));
        std::fs::write(outside.path().join("f"), "y").unwrap();
        assert!(matches!(
            resolve_inside(root.path(), Path::new("conf/esc.xml")),
            Err(SafeFsError::Escapes { .. })
        ));
        assert!(resolve_inside(root.path(), Path::new("../x")).is_err());
    }

    #[test]
    fn a_held_lock_is_refused_and_names_its_holder() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("lock");
        let _held = lock_file(&path).unwrap();
        match lock_file(&path) {
            Err(SafeFsError::Locked(_, pid)) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("{:?}", other.err()),
        }
        std::os::unix::fs::symlink(&path, d.path().join("link")).unwrap();
        assert!(matches!(
            lock_file(&d.path().join("link")),
            Err(SafeFsError::NotRegular(..))
        ));
    }

    #[test]
    fn swap_exchanges_two_folders() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("old"), "").unwrap();
        std::fs::write(b.join("new"), "").unwrap();
        swap_dirs(&a, &b).unwrap();
        assert!(a.join("new").exists() && b.join("old").exists());
    }
}
