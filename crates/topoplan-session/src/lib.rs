#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! The pipeline every planning command shares: read the topology and its lock once, load the
//! one profile the topology names, parse, validate, solve, and locate the plan's warnings.
//!
//! Nothing here prints: a file with problems (the topology, its lock, a product profile) comes
//! back as [`FileProblems`] (each diagnostic with its place, for the one renderer), and a file
//! that cannot be read or written as the error naming it ([`SessionError`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use topoplan_model::{Code, Diagnostic, FileProblems, Profile, Topology};
use topoplan_render::TemplateSet;
use topoplan_solver::Plan;

/// Why a topology could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Files with problems (the topology, its lock, a product profile), each diagnostic at its
    /// place.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<FileProblems>),
    /// The topology cannot be read.
    #[error("reading topology `{}`: {error}", path.display())]
    ReadTopology {
        /// The topology.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The topology's lock exists but cannot be read.
    #[error("reading `{}`: {error}", path.display())]
    ReadLock {
        /// The lock.
        path: PathBuf,
        /// What the system said.
        error: std::io::Error,
    },
    /// The lock cannot be written.
    #[error(transparent)]
    Write(#[from] topoplan_safefs::SafeFsError),
}

impl From<FileProblems> for SessionError {
    fn from(p: FileProblems) -> Self {
        SessionError::Problems(vec![p])
    }
}

/// What a plan of a topology is made from, read once: its text and its lock's. The bundle
/// digests exactly these texts, then plans from them.
pub struct Sources {
    /// The topology's text.
    pub topology: String,
    /// The lock's text, `None` without a lock; a read error is reported where the lock is
    /// used, after the topology's own problems.
    pub lock: std::io::Result<Option<String>>,
}

impl Sources {
    /// The texts, for a digest; `None` when the lock could not be read.
    pub fn texts(&self) -> Option<Vec<&str>> {
        let lock = self.lock.as_ref().ok()?;
        Some(
            std::iter::once(self.topology.as_str())
                .chain(lock.as_deref())
                .collect(),
        )
    }
}

/// Every profile of the set (for the schema and `init`); each broken one with its problems.
pub fn profiles(set: &TemplateSet) -> Result<BTreeMap<String, Profile>, SessionError> {
    set.profiles().map_err(SessionError::Problems)
}

/// One profile of the set, with its problems when it is broken.
pub fn profile(set: &TemplateSet, product: &str) -> Result<Profile, SessionError> {
    Ok(set.profile(product)?)
}

/// The lock file of a topology: `x.toml` -> `x.lock`, beside it.
pub fn lock_path(topology: &Path) -> PathBuf {
    topology.with_extension("lock")
}

/// Writes the plan's lock beside its topology, atomically.
pub fn write_lock_file(topology: &Path, plan: &Plan) -> Result<PathBuf, SessionError> {
    let path = lock_path(topology);
    let text = topoplan_solver::lock_of(plan).to_toml();
    topoplan_safefs::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A plan with the topology it came from, for messages that show the source.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// The topology, as the user named it.
    pub path: PathBuf,
    /// Its text.
    pub source: String,
}

/// Reads, validates and solves a topology.
pub fn plan_file(path: &Path, templates: &TemplateSet) -> Result<Planned, SessionError> {
    let sources = read_sources(path)?;
    let plan = plan_texts(path, &sources, templates)?;
    Ok(Planned {
        plan,
        path: path.to_path_buf(),
        source: sources.topology,
    })
}

/// Reads the topology (a non-UTF-8 file is a located problem) and its lock, if any.
pub fn read_sources(path: &Path) -> Result<Sources, SessionError> {
    let bytes = std::fs::read(path).map_err(|error| SessionError::ReadTopology {
        path: path.to_path_buf(),
        error,
    })?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => return Err(not_utf8(path, &e).into()),
    };
    let lock = match std::fs::read_to_string(lock_path(path)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    Ok(Sources {
        topology: src,
        lock,
    })
}

/// A topology that is not UTF-8, shown where: everything before the first bad byte is intact
/// in the lossy text.
fn not_utf8(path: &Path, e: &std::string::FromUtf8Error) -> FileProblems {
    let at = e.utf8_error().valid_up_to();
    let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
    let end = shown[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    let d = Diagnostic::new(Code::TomlSyntax, "the file is not UTF-8")
        .at(at..end, "this byte does not start a UTF-8 character")
        .note("TOML files are UTF-8; re-save the file as UTF-8");
    problems(path, &shown, vec![d])
}

fn problems(path: &Path, source: &str, diagnostics: Vec<Diagnostic>) -> FileProblems {
    FileProblems {
        file: path.display().to_string(),
        source: source.to_string(),
        diagnostics,
    }
}

/// Plans `path` from its texts, read by [`read_sources`]; the plan's warnings carry their line
/// and column in the topology.
pub fn plan_texts(
    path: &Path,
    sources: &Sources,
    templates: &TemplateSet,
) -> Result<Plan, SessionError> {
    let src = &sources.topology;
    let products = templates.products();
    let mut profiles = BTreeMap::new();
    if let Some(product) = product_of(src).filter(|p| products.contains(p)) {
        let p = profile(templates, &product)?;
        profiles.insert(product, p);
    }
    let topo: Topology = topoplan_model::parse_with(src, &products, &profiles)
        .map_err(|d| problems(path, src, d))?;
    let profile = &profiles[&topo.product];
    let lock = read_lock(path, sources, &topo)?;
    let mut plan = topoplan_solver::solve_locked(&topo, profile, lock.as_ref())
        .map_err(|d| problems(path, src, d))?;
    let lines = topoplan_model::LineIndex::new(src);
    for w in &mut plan.warnings {
        if let Some(span) = &w.span {
            let (line, col) = lines.line_col(span.start);
            w.line = Some(line);
            w.column = Some(col);
        }
    }
    Ok(plan)
}

/// The topology's lock, parsed against it; `None` without one.
fn read_lock(
    path: &Path,
    sources: &Sources,
    topo: &Topology,
) -> Result<Option<topoplan_model::Lock>, SessionError> {
    let lock_file = lock_path(path);
    match &sources.lock {
        Ok(Some(text)) => match topoplan_model::Lock::parse(text, &topo.name, &topo.product) {
            Ok(l) => Ok(Some(l)),
            Err(d) => Err(problems(&lock_file, text, d).into()),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(SessionError::ReadLock {
            path: lock_file,
            error: std::io::Error::new(e.kind(), e.to_string()),
        }),
    }
}

/// The product a topology names, read leniently: only so that `plan` loads that one profile
/// (a broken profile of another product never stops it). The full parse reports any error.
pub fn product_of(src: &str) -> Option<String> {
    product_by_line(src).or_else(|| {
        let t: toml::Table = toml::from_str(src).ok()?;
        Some(t.get("deployment")?.get("product")?.as_str()?.to_string())
    })
}

/// The usual layout, found without parsing the whole file (a large topology is megabytes):
/// `product = "…"` (or `'…'`) in the `[deployment]` table. Anything else is `None`, and the
/// caller parses the file.
fn product_by_line(src: &str) -> Option<String> {
    let mut in_deployment = false;
    for line in src.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deployment = line == "[deployment]";
        } else if in_deployment {
            let Some(v) = line.strip_prefix("product") else {
                continue;
            };
            let v = v.trim_start().strip_prefix('=')?.trim();
            let v = v.split('#').next()?.trim();
            let name = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))?;
            return (!name.contains(['\\', '"', '\''])).then(|| name.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::product_of;

    #[test]
    fn the_product_is_found_in_any_string_form() {
        let basic = "[deployment]\nname = \"x\"\nproduct = \"appm-1.2.0\"\n";
        let literal = "[deployment]\nname = \"x\"\nproduct = 'appm-1.2.0'\n";
        let inline = "deployment = { name = \"x\", product = \"appm-1.2.0\" }\n";
        let escaped = "[deployment]\nproduct = \"appm\\u002d1.2.0\"\n";
        for src in [basic, literal, inline, escaped] {
            assert_eq!(product_of(src).as_deref(), Some("appm-1.2.0"), "{src}");
        }
        assert_eq!(product_of("[deployment]\nname = \"x\"\n"), None);
    }
}
