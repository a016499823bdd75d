#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! Bundles: everything one deployment needs, one folder per node.
//!
//! ```text
//! out/plan.json  out/review.md
//! out/<node>/overlay/<path under product home>.patch.xml (or .patch.json for JSON files)
//! out/<node>/bin/start.sh  out/<node>/node.json  out/<node>/README.md
//! ```
//! The bundle is rendered part by part (the deployment's files, then one part per node:
//! [`Rendering`]) straight into a sibling folder with a random name, on every core, and
//! swapped in with one rename (see [`write_bundle`]), so `out/` is all-old or all-new, a folder
//! topoplan did not write is never replaced, and memory holds a few nodes' files at a time,
//! never the whole bundle.
//!
//! This crate owns the bundle's layout (which file goes where), its `node.json` slices, the
//! manifest, the inputs digest and stamps that let an unchanged re-bundle write nothing, and the
//! atomic swap; `topoplan-render` renders the product files' texts, `topoplan-report` prints the
//! review and the node READMEs.

/// Why a bundle could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A template failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The output folder holds what topoplan did not write, and why it is not replaced.
    #[error("refusing to replace `{path}`: {why}; choose an empty or new folder for the bundle")]
    NotOurs {
        /// The folder.
        path: String,
        /// What is in it that topoplan did not write.
        why: String,
    },
    /// A write the safe file layer refused or could not do.
    #[error(transparent)]
    Safe(#[from] topoplan_safefs::SafeFsError),
    /// The OS error is part of the message, not a source (printed once).
    #[error("`{path}`: {error}{}", topoplan_safefs::busy_hint(error))]
    Io {
        /// The path.
        path: String,
        /// What the system said.
        error: std::io::Error,
    },
}

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use topoplan_render::files::{database_scripts, load_balancer_configs, StartScript};
use topoplan_render::{RenderError, TemplateSet};

use topoplan_solver::{NodePlan, Plan};

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Its text.
    pub text: String,
    /// Written with the execute bits (a start script, a database setup script).
    pub executable: bool,
}

/// Files by path relative to the bundle root.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// Every file, by its path relative to the bundle root (`/`-separated).
    pub files: BTreeMap<String, BundleFile>,
}

impl Bundle {
    /// Renders the whole bundle of a plan into memory (see [`Rendering`] to write it part by
    /// part instead). `reviews` are (file name, text) pairs written beside it (`review.md`,
    /// `review.html`); the printers live in another crate.
    pub fn build(
        set: &TemplateSet,
        plan: &Plan,
        reviews: Vec<(String, String)>,
    ) -> Result<Bundle, BundleError> {
        let rendering = Rendering::new(set, plan, reviews)?;
        let parts: Vec<usize> = (0..rendering.count()).collect();
        let per_part = parallel_map(&parts, |&i| {
            let mut files = Vec::new();
            rendering
                .each(i, &mut |rel, f| {
                    files.push((rel.to_string(), f.clone()));
                    Ok(())
                })
                .map(|()| files)
        });
        let mut b = Bundle::default();
        for files in per_part {
            b.files.extend(files?);
        }
        Ok(b)
    }
}

/// A bundle's files, part by part, so that a writer holds one part at a time in memory: a
/// bundle built in memory is one part; a plan's [`Rendering`] has one part for the deployment's
/// files and one per node.
pub trait Parts: Sync {
    /// How many parts.
    fn count(&self) -> usize;
    /// Every file of part `i` (its path relative to the bundle root, `/`-separated), given to
    /// `sink` in turn.
    fn each(
        &self,
        i: usize,
        sink: &mut dyn FnMut(&str, &BundleFile) -> Result<(), BundleError>,
    ) -> Result<(), BundleError>;
}

impl Parts for Bundle {
    fn count(&self) -> usize {
        1
    }

    fn each(
        &self,
        _: usize,
        sink: &mut dyn FnMut(&str, &BundleFile) -> Result<(), BundleError>,
    ) -> Result<(), BundleError> {
        self.files.iter().try_for_each(|(rel, f)| sink(rel, f))
    }
}

/// The bundle of a plan, rendered part by part as it is written: part 0 is the deployment's
/// files (`plan.json`, the reviews, database and load-balancer files), part `i` the folder of
/// the plan's node `i - 1` (overlays, start script, `node.json`, README). The templates are
/// parsed once, when it is made.
pub struct Rendering<'a> {
    set: &'a TemplateSet,
    plan: &'a Plan,
    reviews: Vec<(String, String)>,
    pointed: PointedAt<'a>,
    renderer: topoplan_render::Renderer,
    start_script: Option<StartScript>,
}

impl<'a> Rendering<'a> {
    /// The rendering of `plan`'s bundle with `set`'s templates; `reviews` are (file name,
    /// text) pairs written beside the node folders.
    pub fn new(
        set: &'a TemplateSet,
        plan: &'a Plan,
        reviews: Vec<(String, String)>,
    ) -> Result<Self, BundleError> {
        Ok(Rendering {
            set,
            plan,
            reviews,
            pointed: PointedAt::new(plan),
            renderer: topoplan_render::Renderer::new(set, &plan.product)?,
            start_script: StartScript::new(set, plan)?,
        })
    }

    /// The deployment's files, beside the node folders.
    fn deployment_files(&self) -> Result<Vec<(String, BundleFile)>, BundleError> {
        let mut files = vec![("plan.json".to_string(), plain(json(self.plan)))];
        for (name, text) in &self.reviews {
            files.push((name.clone(), plain(text.clone())));
        }
        for (path, text) in database_scripts(self.set, self.plan)? {
            files.push((
                path,
                BundleFile {
                    text,
                    executable: true,
                },
            ));
        }
        for (path, text) in load_balancer_configs(self.set, self.plan)? {
            files.push((path, plain(text)));
        }
        Ok(files)
    }

    /// One node's folder: its overlays, start script, `node.json` and README.
    fn node_files(&self, node: &NodePlan) -> Result<Vec<(String, BundleFile)>, RenderError> {
        let plan = self.plan;
        let mut files: Vec<(String, BundleFile)> = Vec::new();
        let ctx = topoplan_render::context(plan, node)?;
        let overlays = self.renderer.render_with(&ctx)?;
        for o in &overlays {
            files.push((
                format!("{}/{}", node.name, o.bundle_path()),
                plain(o.patch.clone()),
            ));
        }
        let start = (self.start_script.as_ref())
            .map(|s| s.render(&ctx))
            .transpose()?;
        let started = start.is_some();
        if let Some(text) = start {
            files.push((
                format!("{}/bin/start.sh", node.name),
                BundleFile {
                    text,
                    executable: true,
                },
            ));
        }
        files.push((
            format!("{}/node.json", node.name),
            plain(json(&self.pointed.node_slice(plan, node))),
        ));
        let paths: Vec<&str> = overlays.iter().map(|o| o.path.as_str()).collect();
        let readme = topoplan_report::node_readme(plan, node, &paths, started);
        files.push((format!("{}/README.md", node.name), plain(readme)));
        Ok(files)
    }
}

impl Parts for Rendering<'_> {
    fn count(&self) -> usize {
        self.plan.nodes.len() + 1
    }

    fn each(
        &self,
        i: usize,
        sink: &mut dyn FnMut(&str, &BundleFile) -> Result<(), BundleError>,
    ) -> Result<(), BundleError> {
        let files = match i.checked_sub(1) {
            None => self.deployment_files()?,
            Some(n) => self.node_files(&self.plan.nodes[n])?,
        };
        files.iter().try_for_each(|(rel, f)| sink(rel, f))
    }
}

/// A file written without the execute bits.
fn plain(text: String) -> BundleFile {
    BundleFile {
        text,
        executable: false,
    }
}

/// Who points at each node, indexed once: the links to it (the plan's links are sorted by
/// reader only) and the shared lists it is an entry of.
struct PointedAt<'a> {
    used_by: BTreeMap<&'a str, Vec<&'a topoplan_solver::LinkPlan>>,
    listed_by: BTreeMap<&'a str, Vec<&'a topoplan_solver::ListPlan>>,
}

impl<'a> PointedAt<'a> {
    fn new(plan: &'a Plan) -> Self {
        let mut used_by: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for l in plan.links.iter().filter(|l| l.from != l.to) {
            used_by.entry(l.to.as_str()).or_default().push(l);
        }
        let mut listed_by: BTreeMap<&str, Vec<_>> = BTreeMap::new();
        for list in &plan.lists {
            for e in &list.entries {
                listed_by.entry(e.to.as_str()).or_default().push(list);
            }
        }
        PointedAt { used_by, listed_by }
    }

    /// `node.json` of `node`.
    fn node_slice(&self, plan: &'a Plan, node: &'a NodePlan) -> NodeSlice<'a> {
        node_slice(
            plan,
            node,
            self.used_by
                .get(node.name.as_str())
                .cloned()
                .unwrap_or_default(),
            self.listed_by
                .get(node.name.as_str())
                .map_or(&[], Vec::as_slice),
        )
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    let mut s = serde_json::to_string_pretty(v).expect("plan types serialise");
    s.push('\n');
    s
}

#[derive(serde::Serialize)]
struct NodeSlice<'a> {
    deployment: &'a str,
    product: &'a str,
    /// `apply` checks the home against this before changing anything.
    home: &'a topoplan_model::HomeIdentity,
    #[serde(rename = "key_validation")]
    mode: &'a str,
    node: &'a NodePlan,
    /// Links the node holds one by one.
    uses: Vec<&'a topoplan_solver::LinkPlan>,
    /// Shared lists it reads, each with its providers in its order (their values are in
    /// `plan.json`'s `lists`, one per reference).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lists: Vec<ListSlice<'a>>,
    used_by: Vec<&'a topoplan_solver::LinkPlan>,
    /// Shared lists it is an entry of, with their readers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    listed_by: Vec<ListedBy<'a>>,
}

#[derive(serde::Serialize)]
struct ListSlice<'a> {
    reference: &'a str,
    kind: &'a str,
    file: &'a str,
    port_name: &'a str,
    to: Vec<&'a str>,
}

#[derive(serde::Serialize)]
struct ListedBy<'a> {
    reference: &'a str,
    readers: Vec<&'a str>,
}

fn node_slice<'a>(
    plan: &'a Plan,
    node: &'a NodePlan,
    used_by: Vec<&'a topoplan_solver::LinkPlan>,
    listed_by: &[&'a topoplan_solver::ListPlan],
) -> NodeSlice<'a> {
    NodeSlice {
        deployment: &plan.deployment,
        product: &plan.product,
        home: &plan.home,
        mode: &plan.mode,
        node,
        uses: (plan.links_from(&node.name).iter())
            .filter(|l| l.to != node.name)
            .collect(),
        lists: plan
            .lists_of(&node.name)
            .map(|(l, r)| ListSlice {
                reference: &l.reference,
                kind: &l.kind,
                file: &l.file,
                port_name: &l.port_name,
                to: l.ordered(r).map(|e| e.to.as_str()).collect(),
            })
            .collect(),
        used_by,
        listed_by: listed_by
            .iter()
            .map(|l| ListedBy {
                reference: &l.reference,
                readers: l.readers.iter().map(|r| r.node.as_str()).collect(),
            })
            .collect(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |error| BundleError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The mark of a folder topoplan wrote: the list of its files. A folder without it, or with
/// files it does not list, is never replaced.
pub const MANIFEST: &str = ".topoplan-bundle";

const MANIFEST_HEAD: &str =
    "# Written by `topoplan bundle`: the files of this bundle, one per line. `bundle -o` replaces\n\
# a folder only when this file lists everything in it. After a tab, what each file was when\n\
# written (size, mtime, ctime, inode, mode), and below, the digest of what the bundle was made\n\
# from: while both still hold, bundling the same inputs again has nothing to write.\n";

/// The manifest line that holds the digest of a bundle's inputs ([`inputs_digest`]).
const INPUTS: &str = "# inputs sha256:";
/// Manifest lines that carry what the caller wants back when the bundle is current (the
/// plan's warnings, to print them again without planning).
const NOTE: &str = "# note ";

/// What a bundle records of its inputs: their digest ([`inputs_digest`]) and notes, one line
/// each (the caller's; topoplan stores the plan's warnings as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    /// The digest of the inputs ([`inputs_digest`]).
    pub digest: String,
    /// The caller's notes, one line each.
    pub notes: Vec<String>,
}

/// The digest of everything a bundle is made from: the program that renders it (`program`,
/// which the caller makes unique per build), every template by name, and the texts the plan
/// was made from (`sources`: the topology and its lock; planning is a function of these and
/// the profile among the templates). Equal digests mean equal bundles, which is what lets
/// [`untouched`] skip the render; hashing the inputs rather than the plan keeps the check to
/// a few milliseconds.
pub fn inputs_digest(sources: &[&str], set: &TemplateSet, program: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    // Every piece length-prefixed, so no two different inputs run together the same way.
    let piece = |h: &mut sha2::Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    piece(&mut h, program.as_bytes());
    for (name, text) in &set.files {
        piece(&mut h, name.as_bytes());
        piece(&mut h, text.as_bytes());
    }
    h.update((sources.len() as u64).to_le_bytes());
    for s in sources {
        piece(&mut h, s.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What a file or folder of a bundle was when it was written: any edit, replacement, `chmod`
/// or new link changes one of these (ctime cannot be set back by user tools).
#[cfg(unix)]
fn stamp(st: &rustix::fs::Stat) -> String {
    format!(
        "{} {}.{} {}.{} {} {:o}",
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec,
        st.st_ctime,
        st.st_ctime_nsec,
        st.st_ino,
        st.st_mode
    )
}

/// Whether only this run's user can have written what `st` describes: it owns it, and neither
/// its group nor others may write it. The manifest's stamps are trusted only for such files
/// (in such folders): another account that could edit a patch could rewrite its stamp too.
#[cfg(unix)]
fn only_mine(st: &rustix::fs::Stat) -> bool {
    st.st_uid == rustix::process::geteuid().as_raw() && st.st_mode & 0o022 == 0
}

/// Whether every entry (`path`, or `folder/`, with its recorded [`stamp`]) of the bundle in
/// `out` is as recorded. Each node folder is opened once (never through a symlink) and the
/// entries below it are looked up from there, which spares most of the path walk of one
/// `lstat` per full path; node folders are checked on every core.
#[cfg(unix)]
fn stamps_hold(out: &Path, entries: &[(&str, &str)]) -> bool {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let open = |p: &Path| rustix::fs::open(p, flags, Mode::empty()).ok();
    let holds = |st: &rustix::fs::Stat, dir: bool, want: &str| {
        let t = FileType::from_raw_mode(st.st_mode);
        (if dir {
            t == FileType::Directory
        } else {
            t == FileType::RegularFile
        }) && only_mine(st)
            && stamp(st) == want
    };
    // Top-level entry -> the entries below it (relative to it), the top itself as "".
    let mut groups: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for &(rel, want) in entries {
        match rel.split_once('/') {
            Some((top, rest)) => groups.entry(top).or_default().push((rest, want)),
            None => groups.entry(rel).or_default().push(("", want)),
        }
    }
    let Some(root) = open(out) else {
        return false;
    };
    let groups: Vec<(&str, Vec<(&str, &str)>)> = groups.into_iter().collect();
    parallel_map(&groups, |(top, below)| {
        if below.iter().all(|(rest, _)| rest.is_empty()) {
            // A file at the root (plan.json, the reviews).
            return below.iter().all(|(_, want)| {
                rustix::fs::statat(&root, *top, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| holds(&st, false, want))
            });
        }
        let Some(fd) = open(&out.join(top)) else {
            return false;
        };
        below.iter().all(|(rest, want)| {
            let st = if rest.is_empty() {
                rustix::fs::fstat(&fd)
            } else {
                rustix::fs::statat(&fd, rest.trim_end_matches('/'), AtFlags::SYMLINK_NOFOLLOW)
            };
            st.is_ok_and(|st| holds(&st, rest.is_empty() || rest.ends_with('/'), want))
        })
    })
    .into_iter()
    .all(|ok| ok)
}

/// What the manifest of `out` records of the bundle's inputs, if `out` still holds that
/// bundle untouched: every file and folder it lists is what it recorded (type, size, times,
/// inode and mode), only this run's user can have written any of them (and the manifest, and
/// the folder), and the root holds nothing else. Reads only the manifest and one `stat` per
/// entry, so a caller whose inputs have the recorded digest knows the bundle is current
/// without planning or rendering it.
pub fn untouched(out: &Path) -> Option<Inputs> {
    #[cfg(unix)]
    {
        // The bundle's folder and its manifest too: only this run's user wrote them.
        let mine = |p: &Path| {
            rustix::fs::lstat(p).is_ok_and(|st| {
                only_mine(&st)
                    && rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() == (p == out)
            })
        };
        if !mine(out) || !mine(&out.join(MANIFEST)) {
            return None;
        }
        let text = topoplan_safefs::read_regular(&out.join(MANIFEST)).ok()?;
        let mut found = None;
        let mut notes = Vec::new();
        let mut entries = Vec::new();
        for line in text.lines() {
            if let Some(d) = line.strip_prefix(INPUTS) {
                found = Some(d.to_string());
            } else if let Some(n) = line.strip_prefix(NOTE) {
                notes.push(n.to_string());
            } else if !line.starts_with('#') && !line.is_empty() {
                entries.push(line.split_once('\t')?);
            }
        }
        if entries.is_empty() {
            return None;
        }
        let found = found?;
        // The root holds exactly the manifest and the top-level entries listed.
        let tops: std::collections::BTreeSet<&str> = entries
            .iter()
            .map(|(rel, _)| rel.split_once('/').map_or(*rel, |(top, _)| top))
            .collect();
        let mut seen = 0;
        for e in fs::read_dir(out).ok()? {
            let name = e.ok()?.file_name();
            let name = name.to_str()?;
            if name != MANIFEST && !tops.contains(name) {
                return None;
            }
            seen += 1;
        }
        let all = seen == tops.len() + 1 && stamps_hold(out, &entries);
        all.then_some(Inputs {
            digest: found,
            notes,
        })
    }
    #[cfg(not(unix))]
    {
        let _ = out;
        None
    }
}

/// Rewrites the manifest of the bundle in `out` with each file's [`stamp`] and the digest of
/// its inputs, once the bundle is in place (after the swap, so the times are final).
#[cfg(unix)]
fn record(out: &Path, files: &BTreeSet<String>, inputs: &Inputs) -> Result<(), BundleError> {
    // Files, then every folder below the root as `path/`: a folder's times change when an
    // entry is added to it, so a file the user drops into a bundle is noticed. (The root's
    // entries are listed instead: writing this manifest changes the root's times.)
    let mut entries: Vec<String> = files.iter().cloned().collect();
    entries.extend(
        sub_folders(files.iter())
            .into_iter()
            .map(|d| format!("{d}/")),
    );
    let stamps = parallel_map(&entries, |rel| {
        rustix::fs::lstat(out.join(rel)).map(|st| stamp(&st))
    });
    let mut manifest = String::from(MANIFEST_HEAD);
    for (rel, st) in entries.iter().zip(stamps) {
        let st = st.map_err(|e| io(&out.join(rel))(e.into()))?;
        manifest.push_str(rel);
        manifest.push('\t');
        manifest.push_str(&st);
        manifest.push('\n');
    }
    manifest.push_str(INPUTS);
    manifest.push_str(&inputs.digest);
    manifest.push('\n');
    for n in &inputs.notes {
        // One line each: a note never breaks the manifest's format.
        manifest.push_str(NOTE);
        manifest.push_str(&n.replace(['\n', '\r'], " "));
        manifest.push('\n');
    }
    topoplan_safefs::write_atomic(&out.join(MANIFEST), manifest.as_bytes())
        .map_err(BundleError::Safe)
}

/// What [`write_bundle`] did beyond writing the new bundle.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Node folders of the previous bundle that the new plan no longer has (removed).
    pub removed_nodes: Vec<String>,
    /// Files whose content (or mode) differs from the previous bundle, or are new.
    pub changed: usize,
    /// Files kept as they were (linked into the new bundle, so their mtime stays).
    pub unchanged: usize,
    /// Where the previous bundle was kept instead of removed, because paths topoplan did not
    /// write appeared in it while the new one was written (someone saved a file there).
    pub kept_old: Option<(PathBuf, Vec<String>)>,
}

/// Whether `path` is a regular file (not a symlink) holding exactly `f`.
/// The owner of `path` when it is not this run's user (Unix; `None` elsewhere or unreadable).
fn other_owner(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = fs::symlink_metadata(path).ok()?.uid();
        (uid != rustix::process::geteuid().as_raw()).then_some(uid)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn same_file(path: &Path, f: &BundleFile) -> bool {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != f.text.len() as u64 || other_owner(path).is_some() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if f.executable { 0o755 } else { 0o644 };
        if meta.permissions().mode() & 0o7777 != mode {
            return false;
        }
    }
    fs::read(path).is_ok_and(|b| b == f.text.as_bytes())
}

/// Writes one file of a new bundle with its mode, creating it exclusively.
fn create_file(path: &Path, f: &BundleFile) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(if f.executable { 0o755 } else { 0o644 });
    }
    let mut file = o.open(path)?;
    file.write_all(f.text.as_bytes())?;
    // The process umask may have narrowed the mode given at creation.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if f.executable { 0o755 } else { 0o644 };
        if file.metadata()?.permissions().mode() & 0o7777 != mode {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

fn manifest_files(dir: &Path) -> Option<std::collections::BTreeSet<String>> {
    let text = fs::read_to_string(dir.join(MANIFEST)).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split_once('\t').map_or(l, |(path, _)| path))
            // Folders (`path/`) are recorded for `untouched`; the bundle is its files.
            .filter(|path| !path.ends_with('/'))
            .map(str::to_string)
            .collect(),
    )
}

/// Paths under `dir` (files, and folders that hold no listed file) that `listed` lacks.
fn foreign(dir: &Path, listed: &std::collections::BTreeSet<String>) -> Vec<String> {
    // Every folder that holds a listed file, found once (not a scan of the list per folder).
    let dirs = sub_folders(listed.iter());
    let mut out = Vec::new();
    let walked = topoplan_safefs::walk(dir, &mut |p, e| {
        let rel = p
            .strip_prefix(dir)
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        // Whatever another account owns, topoplan did not write (it could have edited a patch
        // that root then applies): never adopted, linked or deleted.
        if e != topoplan_safefs::Entry::Unreadable {
            if let Some(uid) = other_owner(p) {
                out.push(format!("{rel} (owned by user id {uid})"));
                return false;
            }
        }
        match e {
            _ if rel == MANIFEST => false,
            topoplan_safefs::Entry::Dir if dirs.contains(&rel) => true,
            topoplan_safefs::Entry::Dir => {
                out.push(format!("{rel}/"));
                false
            }
            topoplan_safefs::Entry::Unreadable => {
                out.push(p.display().to_string());
                false
            }
            topoplan_safefs::Entry::Other if listed.contains(&rel) => false,
            topoplan_safefs::Entry::Other => {
                out.push(rel);
                false
            }
        }
    });
    if walked.is_err() {
        out.push(dir.display().to_string());
    }
    out.sort();
    out
}

/// Every folder below the root that holds one of `files` (relative paths), each once.
fn sub_folders<'a>(files: impl Iterator<Item = &'a String>) -> std::collections::BTreeSet<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let mut p = f.as_str();
        while let Some((d, _)) = p.rsplit_once('/') {
            if !dirs.insert(d.to_string()) {
                break;
            }
            p = d;
        }
    }
    dirs
}

/// `f` over `items` on every core, results in order (the one thread pool,
/// [`topoplan_model::parallel`]); fewer than 256 items are not worth the threads.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    topoplan_model::parallel::map_in_order(items, 256, f)
}

fn tops(files: &std::collections::BTreeSet<String>) -> std::collections::BTreeSet<String> {
    files
        .iter()
        .filter_map(|f| f.split_once('/').map(|(t, _)| t.to_string()))
        .collect()
}

/// Writes a bundle (its [`Parts`]: a [`Bundle`] in memory, or a plan's [`Rendering`]) as the
/// folder `out`, replacing an earlier bundle there.
///
/// - `out` is replaced only if it is empty or is a bundle topoplan wrote ([`MANIFEST`] lists
///   every file in it); anything else is refused, naming what is in the way.
/// - The new bundle is written completely in a sibling folder with a random name, part by part
///   on every core (one part's files in memory at a time: a large deployment's bundle is never
///   held whole), then swapped in with one rename (`RENAME_EXCHANGE`), so a reader sees
///   all-old or all-new; the old one is then removed, and node folders the new plan no longer
///   has are reported. A part that fails to render leaves `out` as it was.
/// - A file the previous bundle holds byte for byte and mode for mode is linked, not written,
///   so its mtime stays; when every file is, nothing is replaced at all.
/// - The parent folder is locked for the duration, so two runs never interleave.
///
/// With `inputs` (the digest of what the bundle was made from, [`inputs_digest`]), the
/// manifest records it and what each file is once in place, for [`untouched`].
pub fn write_bundle(
    out: &Path,
    bundle: &dyn Parts,
    inputs: Option<&Inputs>,
) -> Result<WriteReport, BundleError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let _lock = lock_beside(out, &parent)?;
    sweep(&parent, out);
    let mut report = WriteReport::default();
    let old_files = previous_bundle(out)?;
    let staged = stage(&parent, out, bundle, old_files.as_ref())?;
    report.unchanged = staged.kept.len();
    report.changed = staged.files.len() - staged.kept.len();
    if old_files.as_ref() == Some(&staged.files) && report.changed == 0 {
        // Nothing to do: every file is already what the plan writes, so every mtime stays.
        // Only the manifest learns the digest, so next time a `stat` is enough.
        drop(staged.dir);
        #[cfg(unix)]
        if let Some(d) = inputs {
            if untouched(out).as_ref() != Some(d) {
                record(out, &staged.files, d)?;
            }
        }
        return Ok(report);
    }
    finish_staging(out, &staged)?;
    let staging = staged.dir;
    match old_files {
        None => {
            let path = staging.keep();
            fs::rename(&path, out).map_err(io(out))?;
        }
        Some(old) if old.is_empty() && other_owner(out).is_none() => {
            fill_empty(out, staging)?;
        }
        Some(old) => {
            topoplan_safefs::swap_dirs(out, staging.path()).map_err(BundleError::Safe)?;
            // `staging` now holds the previous bundle, checked above to be all topoplan's; but
            // a file saved into it since that check would go with it: looked at again.
            let new_tops = tops(&staged.files);
            report.removed_nodes = tops(&old).difference(&new_tops).cloned().collect();
            let extra = foreign(staging.path(), &old);
            if extra.is_empty() {
                staging.close().map_err(io(out))?;
            } else {
                let kept = kept_name(&parent, out);
                fs::rename(staging.keep(), &kept).map_err(io(&kept))?;
                report.kept_old = Some((kept, extra));
            }
        }
    }
    #[cfg(unix)]
    if let Some(d) = inputs {
        record(out, &staged.files, d)?;
    }
    Ok(report)
}

/// A lock file of the run's own beside the bundle, not a lock on the folder: anyone who can
/// open a shared folder could hold that one. Named after the output's real path, so `-o .`
/// locks beside the folder, not inside it.
fn lock_beside(out: &Path, parent: &Path) -> Result<topoplan_safefs::DirLock, BundleError> {
    let real = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
    let (lock_dir, name) = match (real.parent(), real.file_name()) {
        (Some(p), Some(n)) if !p.as_os_str().is_empty() => {
            (p.to_path_buf(), n.to_string_lossy().into_owned())
        }
        _ => (parent.to_path_buf(), "out".to_string()),
    };
    topoplan_safefs::lock_file(&lock_dir.join(format!(".{name}.topoplan-lock")))
        .map_err(BundleError::Safe)
}

/// The new bundle moved into the empty folder `out` of this run's user, entry by entry, so
/// the folder the operator made keeps its group, setgid bit and ACLs (its mode loses group
/// and other write, as every bundle folder: nobody else may swap the patches root applies).
/// There is no previous bundle whose readers a one-step swap would protect; each node folder
/// still arrives whole.
fn fill_empty(out: &Path, staging: tempfile::TempDir) -> Result<(), BundleError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::symlink_metadata(out)
            .map_err(io(out))?
            .permissions()
            .mode();
        fs::set_permissions(out, fs::Permissions::from_mode(mode & 0o7755)).map_err(io(out))?;
    }
    let mut names: Vec<std::ffi::OsString> = fs::read_dir(staging.path())
        .map_err(io(staging.path()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(io(staging.path()))?;
    // The manifest last: a folder with a manifest holds the whole bundle.
    names.sort_by_key(|n| n == MANIFEST);
    for name in names {
        let to = out.join(&name);
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            staging.path().join(&name),
            rustix::fs::CWD,
            &to,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(|e| io(&to)(e.into()))?;
    }
    staging.close().map_err(io(out))
}

/// A new name beside `out` for a previous bundle that cannot be removed
/// (`<out>.previous-<n>`), one no sweep takes for a staging folder.
fn kept_name(parent: &Path, out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    (1..)
        .map(|n| parent.join(format!("{name}.previous-{n}")))
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("a free name")
}

/// The files of the bundle already at `out`: `None` when there is nothing there, an empty
/// set for an empty folder, the manifest's list for a bundle topoplan wrote. Anything else
/// is refused, naming what is in the way.
fn previous_bundle(out: &Path) -> Result<Option<std::collections::BTreeSet<String>>, BundleError> {
    let not_ours = |why: String| BundleError::NotOurs {
        path: out.display().to_string(),
        why,
    };
    match fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(not_ours("it is not a folder (or is a symlink)".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(out)(e)),
    }
    if fs::read_dir(out).map_err(io(out))?.next().is_none() {
        return Ok(Some(Default::default()));
    }
    if let Some(uid) = other_owner(out) {
        return Err(not_ours(format!(
            "it belongs to user id {uid}, not to this run's user, so topoplan did not write it"
        )));
    }
    let Some(listed) = manifest_files(out) else {
        return Err(not_ours(format!(
            "it is not empty and has no `{MANIFEST}`, so topoplan did not write it"
        )));
    };
    let extra = foreign(out, &listed);
    if !extra.is_empty() {
        let shown: Vec<_> = extra.iter().take(5).map(|e| format!("`{e}`")).collect();
        return Err(not_ours(format!(
            "it holds {} path(s) topoplan did not write: {}{}",
            extra.len(),
            shown.join(", "),
            if extra.len() > 5 { ", ..." } else { "" }
        )));
    }
    Ok(Some(listed))
}

/// The name every staging folder of the bundle at `out` starts with: a run holding `out`'s
/// lock knows that any other folder of that name was left by a killed run.
fn staging_prefix(out: &Path) -> String {
    let name = out
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    format!(".topoplan-bundle-{name}-")
}

/// Removes what killed runs of this bundle left: staging folders beside it (its own user's,
/// by their name) and temporary files in its root (a manifest rewrite cut short).
fn sweep(parent: &Path, out: &Path) {
    let prefix = staging_prefix(out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        for e in fs::read_dir(parent).into_iter().flatten().flatten() {
            let ours = e.file_name().to_string_lossy().starts_with(&prefix)
                && e.path()
                    .symlink_metadata()
                    .is_ok_and(|m| m.is_dir() && m.uid() == me);
            if ours {
                let _ = fs::remove_dir_all(e.path());
            }
        }
        topoplan_safefs::sweep_temp_files(out);
    }
}

/// A bundle written into its staging folder: the folder (removed when dropped), every file
/// of the bundle, and the files the previous bundle already holds as they are (not written:
/// linked by [`link_kept`] once something is to be replaced at all).
struct Staged {
    dir: tempfile::TempDir,
    files: BTreeSet<String>,
    kept: Vec<Kept>,
}

/// A file of the previous bundle that the new one holds unchanged: its path, and the digest
/// and mode of the text the plan renders there (to copy it instead, should linking fail).
struct Kept {
    rel: String,
    digest: [u8; 32],
    executable: bool,
}

/// Writes every part of `bundle` into a new sibling folder of `out`, on every core: each file
/// the previous bundle (`old`, its files) does not hold byte for byte and mode for mode is
/// created; the others are only listed.
fn stage(
    parent: &Path,
    out: &Path,
    bundle: &dyn Parts,
    old: Option<&BTreeSet<String>>,
) -> Result<Staged, BundleError> {
    let staging = tempfile::Builder::new()
        .prefix(&staging_prefix(out))
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let parts: Vec<usize> = (0..bundle.count()).collect();
    let results = parallel_map(&parts, |&i| {
        let mut part = PartWriter {
            folders: Folders::new(staging.path()),
            out,
            old,
            files: Vec::new(),
            kept: Vec::new(),
        };
        bundle
            .each(i, &mut |rel, f| part.write(rel, f))
            .map(|()| part)
    });
    let mut files = BTreeSet::new();
    let mut kept = Vec::new();
    for part in results {
        let part = part?;
        files.extend(part.files);
        kept.extend(part.kept);
    }
    Ok(Staged {
        dir: staging,
        files,
        kept,
    })
}

/// The files the new bundle keeps, linked from the previous one into the staging folder (so
/// their mtimes stay); then the staging folder's manifest (every file; no stamps yet).
fn finish_staging(out: &Path, staged: &Staged) -> Result<(), BundleError> {
    let root = staged.dir.path();
    let mut folders = Folders::new(root);
    for d in sub_folders(staged.kept.iter().map(|k| &k.rel)) {
        folders.make(&d)?;
    }
    for r in parallel_map(&staged.kept, |k| link_kept(root, out, k)) {
        r?;
    }
    let mut manifest = String::from(MANIFEST_HEAD);
    for rel in &staged.files {
        manifest.push_str(rel);
        manifest.push('\n');
    }
    let path = root.join(MANIFEST);
    create_file(&path, &plain(manifest)).map_err(io(&path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).map_err(io(root))?;
    }
    Ok(())
}

/// One kept file, linked from the previous bundle. Linked only if what got linked is a regular
/// file (the old folder could have changed since it was compared): never a symlink into a new
/// bundle. Where linking fails, the old file is copied if it still holds what the plan renders.
fn link_kept(root: &Path, out: &Path, k: &Kept) -> Result<(), BundleError> {
    let (from, path) = (out.join(&k.rel), root.join(&k.rel));
    if fs::hard_link(&from, &path).is_ok() {
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            return Ok(());
        }
        fs::remove_file(&path).map_err(io(&path))?;
    }
    let text = topoplan_safefs::read_regular(&from).ok();
    match text.filter(|t| digest(t) == k.digest) {
        Some(text) => {
            let f = BundleFile {
                text,
                executable: k.executable,
            };
            create_file(&path, &f).map_err(io(&path))
        }
        None => Err(io(&from)(std::io::Error::other(
            "changed while the new bundle was written; run `topoplan bundle` again",
        ))),
    }
}

fn digest(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// One part's files going into the staging folder.
struct PartWriter<'a> {
    folders: Folders<'a>,
    out: &'a Path,
    old: Option<&'a BTreeSet<String>>,
    files: Vec<String>,
    kept: Vec<Kept>,
}

impl PartWriter<'_> {
    fn write(&mut self, rel: &str, f: &BundleFile) -> Result<(), BundleError> {
        self.files.push(rel.to_string());
        if self.old.is_some_and(|o| o.contains(rel)) && same_file(&self.out.join(rel), f) {
            self.kept.push(Kept {
                rel: rel.to_string(),
                digest: digest(&f.text),
                executable: f.executable,
            });
            return Ok(());
        }
        if let Some((folder, _)) = rel.rsplit_once('/') {
            self.folders.make(folder)?;
        }
        let path = self.folders.root.join(rel);
        create_file(&path, f).map_err(io(&path))
    }
}

/// Folders of the staging folder, made where missing with mode 0755, forced, as file modes
/// are: under umask 000 a folder would otherwise be 0777, and any user could swap the patches
/// root applies.
struct Folders<'a> {
    root: &'a Path,
    /// The folders made or found (so each is looked at once).
    made: BTreeSet<String>,
}

impl<'a> Folders<'a> {
    fn new(root: &'a Path) -> Self {
        Folders {
            root,
            made: BTreeSet::new(),
        }
    }

    /// The folder `rel` and every one above it.
    fn make(&mut self, rel: &str) -> Result<(), BundleError> {
        if self.made.contains(rel) {
            return Ok(());
        }
        if let Some((up, _)) = rel.rsplit_once('/') {
            self.make(up)?;
        }
        let path = self.root.join(rel);
        match fs::create_dir(&path) {
            Ok(()) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                        .map_err(io(&path))?;
                }
            }
            // Made by another part, or by the files written before the kept ones are linked.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(io(&path)(e)),
        }
        self.made.insert(rel.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(rel: &str, text: &str) -> Kept {
        Kept {
            rel: rel.to_string(),
            digest: digest(text),
            executable: false,
        }
    }

    /// A kept file is linked only as the regular file it was compared as: a symlink put in its
    /// place since is refused, and so is a file whose text is no longer what the plan renders.
    #[test]
    fn a_kept_file_is_linked_only_as_it_was_compared() {
        let d = tempfile::tempdir().unwrap();
        let (out, root) = (d.path().join("out"), d.path().join("staging"));
        fs::create_dir_all(&out).unwrap();
        fs::create_dir_all(&root).unwrap();
        fs::write(out.join("a"), "same\n").unwrap();
        link_kept(&root, &out, &kept("a", "same\n")).unwrap();
        assert_eq!(fs::read_to_string(root.join("a")).unwrap(), "same\n");
        fs::write(d.path().join("elsewhere"), "same\n").unwrap();
        std::os::unix::fs::symlink(d.path().join("elsewhere"), out.join("b")).unwrap();
        let e = link_kept(&root, &out, &kept("b", "same\n")).unwrap_err();
        assert!(e.to_string().contains("run `topoplan bundle` again"), "{e}");
        assert!(
            fs::symlink_metadata(root.join("b")).is_err(),
            "no link left"
        );
        // Linking fails (the name is taken): copied only if the text is the plan's.
        fs::write(out.join("c"), "changed\n").unwrap();
        fs::create_dir(root.join("c")).unwrap();
        assert!(link_kept(&root, &out, &kept("c", "same\n")).is_err());
    }

    /// The deployment's files sit beside the node folders, so a node may not take their names:
    /// every top-level name part 0 writes for the shipped examples (databases, load balancers
    /// and reviews included) is one the model refuses as a node name.
    #[test]
    fn the_deployment_files_take_only_names_no_node_may_take() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut set = TemplateSet::default();
        set.add_dir(&root.join("templates")).unwrap();
        let profiles = set.profiles().unwrap();
        let mut tops = BTreeSet::new();
        for entry in fs::read_dir(root.join("topologies")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let topo = topoplan_model::parse(&fs::read_to_string(&path).unwrap(), &profiles)
                .unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
            let plan = topoplan_solver::solve(&topo, &profiles[&topo.product]).unwrap();
            let reviews = ["review.md", "review.html"].map(|n| (n.to_string(), String::new()));
            let rendering = Rendering::new(&set, &plan, reviews.to_vec()).unwrap();
            rendering
                .each(0, &mut |rel, _| {
                    tops.insert(rel.split('/').next().unwrap_or(rel).to_string());
                    Ok(())
                })
                .unwrap();
        }
        assert!(
            tops.contains("databases") && tops.contains("load-balancers"),
            "{tops:?}"
        );
        for top in &tops {
            assert!(
                topoplan_model::topology::RESERVED_NODE_NAMES.contains(&top.as_str()),
                "`{top}` is written beside the node folders but a node may be named so"
            );
        }
    }
}
