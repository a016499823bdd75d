//! The pipeline every planning command shares: read the topology and its lock once, load the
//! one profile the topology names, parse, validate, solve, and locate the plan's warnings.
//! Problems are printed here, with their source, and become [`Reported`].

use crate::diagnostics;
use crate::embedded;
use crate::status::Reported;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use topoplan_model::{Code, Profile, Topology};
use topoplan_render::TemplateSet;
use topoplan_solver::Plan;

/// What a plan of a topology is made from, read once: its text and its lock's. The bundle
/// digests exactly these texts, then plans from them.
pub struct Sources {
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

/// Built-in templates, overridden file by file from `dir`.
pub fn load_templates(dir: Option<&Path>) -> Result<TemplateSet> {
    let mut set = TemplateSet::default();
    for (path, text) in embedded::EMBEDDED {
        set.files.insert((*path).to_string(), (*text).to_string());
    }
    if let Some(dir) = dir {
        set.add_dir(dir)
            .with_context(|| format!("reading templates folder `{}`", dir.display()))?;
    }
    Ok(set)
}

/// Every profile of the set (for the schema and `init`); a broken one names its file.
pub fn profiles(set: &TemplateSet) -> Result<BTreeMap<String, Profile>> {
    set.profiles().map_err(|e| profile_error(&e))
}

/// One profile of the set; a broken one names its file.
pub fn profile(set: &TemplateSet, product: &str) -> Result<Profile> {
    set.profile(product).map_err(|e| profile_error(&e))
}

fn profile_error(problems: &[String]) -> anyhow::Error {
    anyhow::anyhow!(
        "the product profile is broken (`topoplan profile check` lists every problem):\n{}",
        problems.join("\n")
    )
}

/// The lock file of a topology: `x.toml` -> `x.lock`, beside it.
pub fn lock_path(topology: &Path) -> PathBuf {
    topology.with_extension("lock")
}

/// Writes the plan's lock beside its topology, atomically.
pub fn write_lock_file(topology: &Path, plan: &Plan) -> Result<PathBuf> {
    let path = lock_path(topology);
    let text = topoplan_solver::lock_of(plan).to_toml();
    topoplan_safefs::write_atomic(&path, text.as_bytes())?;
    Ok(path)
}

/// A plan with the topology it came from, for messages that show the source.
pub struct Planned {
    pub plan: Plan,
    pub path: PathBuf,
    pub source: String,
}

impl Planned {
    /// The plan's warnings on standard error, each with its place in the topology.
    pub fn print_warnings(&self) {
        crate::output::print_warnings(&self.path, &self.source, &self.plan.warnings);
    }
}

/// Reads, validates and solves a topology; problems are printed and become [`Reported`].
pub fn plan_file(path: &Path, templates: &TemplateSet) -> Result<Planned> {
    let sources = read_sources(path)?;
    let plan = plan_texts(path, &sources, templates)?;
    Ok(Planned {
        plan,
        path: path.to_path_buf(),
        source: sources.topology,
    })
}

/// Reads the topology (a non-UTF-8 file is a located error) and its lock, if any.
pub fn read_sources(path: &Path) -> Result<Sources> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading topology `{}`", path.display()))?;
    let src = match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => return Err(not_utf8(path, &e)),
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
fn not_utf8(path: &Path, e: &std::string::FromUtf8Error) -> anyhow::Error {
    let at = e.utf8_error().valid_up_to();
    let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
    let end = shown[at..].chars().next().map_or(at, |c| at + c.len_utf8());
    let d = topoplan_model::Diagnostic::new(Code::TomlSyntax, "the file is not UTF-8")
        .at(at..end, "this byte does not start a UTF-8 character")
        .note("TOML files are UTF-8; re-save the file as UTF-8");
    let name = path.display().to_string();
    eprint!("{}", diagnostics::render(&name, &shown, &[d]));
    Reported.into()
}

/// Plans `path` from its texts, read by [`read_sources`].
pub fn plan_texts(path: &Path, sources: &Sources, templates: &TemplateSet) -> Result<Plan> {
    let name = path.display().to_string();
    let src = &sources.topology;
    let mut profiles = BTreeMap::new();
    if let Some(product) = product_of(src).filter(|p| templates.products().contains(p)) {
        let p = profile(templates, &product)?;
        profiles.insert(product, p);
    }
    let topo: Topology = match topoplan_model::parse_with(src, &templates.products(), &profiles) {
        Ok(t) => t,
        Err(diags) => {
            eprint!("{}", diagnostics::render(&name, src, &diags));
            return Err(Reported.into());
        }
    };
    let profile = &profiles[&topo.product];
    let lock = read_lock(path, sources, &topo)?;
    let mut plan =
        topoplan_solver::solve_locked(&topo, profile, lock.as_ref()).map_err(|diags| {
            eprint!("{}", diagnostics::render(&name, src, &diags));
            anyhow::Error::from(Reported)
        })?;
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
) -> Result<Option<topoplan_model::Lock>> {
    let lock_file = lock_path(path);
    match &sources.lock {
        Ok(Some(text)) => match topoplan_model::Lock::parse(text, &topo.name, &topo.product) {
            Ok(l) => Ok(Some(l)),
            Err(diags) => {
                let name = lock_file.display().to_string();
                eprint!("{}", diagnostics::render(&name, text, &diags));
                Err(Reported.into())
            }
        },
        Ok(None) => Ok(None),
        Err(e) => Err(std::io::Error::new(e.kind(), e.to_string()))
            .with_context(|| format!("reading `{}`", lock_file.display())),
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
