//! Bundles: everything one deployment needs, one folder per node.
//!
//! ```text
//! out/plan.json  out/review.md
//! out/<node>/overlay/<path under product home>.patch.xml (or .patch.json for JSON files)
//! out/<node>/bin/start.sh  out/<node>/node.json  out/<node>/README.md
//! ```
//! The whole bundle is built in memory, written to a sibling folder with a random name and
//! swapped in with one rename (see [`write_bundle`]), so `out/` is all-old or all-new, and a
//! folder topoplan did not write is never replaced.

use crate::{render_node, RenderError, TemplateSet};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use topoplan_solver::{NodePlan, Plan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub text: String,
    pub executable: bool,
}

/// Files by path relative to the bundle root.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub files: BTreeMap<String, BundleFile>,
}

impl Bundle {
    fn add(&mut self, path: String, text: String) {
        self.files.insert(
            path,
            BundleFile {
                text,
                executable: false,
            },
        );
    }

    /// Renders the bundle of a plan. `reviews` are (file name, text) pairs written beside it
    /// (`review.md`, `review.html`); the printers live in another crate.
    pub fn build(
        set: &TemplateSet,
        plan: &Plan,
        reviews: Vec<(String, String)>,
    ) -> Result<Bundle, RenderError> {
        let mut b = Bundle::default();
        b.add("plan.json".into(), json(plan));
        for (name, text) in reviews {
            b.add(name, text);
        }
        for node in &plan.nodes {
            let overlays = render_node(set, plan, &node.name)?;
            for o in &overlays {
                b.add(
                    format!("{}/{}", node.name, o.bundle_path()),
                    o.patch.clone(),
                );
            }
            let start = start_sh(set, plan, node)?;
            if let Some(text) = &start {
                b.files.insert(
                    format!("{}/bin/start.sh", node.name),
                    BundleFile {
                        text: text.clone(),
                        executable: true,
                    },
                );
            }
            b.add(
                format!("{}/node.json", node.name),
                json(&node_slice(plan, node)),
            );
            let files: Vec<&str> = overlays.iter().map(|o| o.path.as_str()).collect();
            b.add(
                format!("{}/README.md", node.name),
                node_readme(plan, node, &files, start.is_some()),
            );
        }
        Ok(b)
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
    key_validation: &'a str,
    node: &'a NodePlan,
    uses: Vec<&'a topoplan_solver::LinkPlan>,
    used_by: Vec<&'a topoplan_solver::LinkPlan>,
}

fn node_slice<'a>(plan: &'a Plan, node: &'a NodePlan) -> NodeSlice<'a> {
    NodeSlice {
        deployment: &plan.deployment,
        product: &plan.product,
        home: &plan.home,
        key_validation: &plan.key_validation,
        node,
        uses: plan.uses(&node.name).collect(),
        used_by: plan.used_by(&node.name).collect(),
    }
}

/// The profile's start script template (`<product>/start.sh.tera`), if it has one.
pub const START_TEMPLATE: &str = "start.sh.tera";

/// The start script, rendered from the profile's template with the node's view. Every value a
/// template prints passes [`shell_safe`], so no name can add shell syntax, whatever the
/// template does with it (names are validated before, this is the second wall).
fn start_sh(
    set: &TemplateSet,
    plan: &Plan,
    node: &NodePlan,
) -> Result<Option<String>, RenderError> {
    let name = format!("{}/{START_TEMPLATE}", plan.product);
    let Some(src) = set.files.get(&name) else {
        return Ok(None);
    };
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![".tera"]);
    tera.set_escape_fn(shell_safe);
    tera.add_raw_template(&name, src)
        .map_err(|e| crate::template_error(&name, &e))?;
    let ctx = tera::Context::from_serialize(crate::view(plan, node))
        .map_err(|e| crate::template_error(&name, &e))?;
    tera.render(&name, &ctx)
        .map(Some)
        .map_err(|e| crate::template_error(&name, &e))
}

/// A value for a shell script: letters, digits and `._,:@/+=-` and spaces pass; anything the
/// shell could read as syntax (quotes, `$`, backticks, `;`, `&`, `|`, redirections, globs,
/// line breaks) becomes `_`.
pub fn shell_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._,:@/+=- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Text for a comment line (shell, YAML): no line breaks or other control characters,
/// whatever the caller validated before.
pub fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn node_readme(plan: &Plan, node: &NodePlan, files: &[&str], start_script: bool) -> String {
    let mut s = format!(
        "# Node `{}` of `{}`\n\nRoles: {}. Host: `{}` ({}). Port offset: **{}** ({}).\n\n",
        node.name,
        plan.deployment,
        node.roles.join(", "),
        node.host,
        node.address,
        node.offset,
        node.offset_reason
    );
    s.push_str("## On the host\n\n```sh\n");
    s.push_str(
        "topoplan apply . --home /path/to/product/home --dry-run   # review the change\n\
topoplan apply . --home /path/to/product/home             # originals go to <home>/.topoplan/backup/\n",
    );
    if start_script {
        s.push_str(&format!(
            "./bin/start.sh                                           # starts {} with offset {} (see its header)\n",
            plan.product, node.offset
        ));
    }
    s.push_str("```\n\n");
    s.push_str("## Files changed\n\n");
    for f in files {
        s.push_str(&format!("- `{f}`\n"));
    }
    s.push_str(
        "\n## Listening ports\n\n| port | name | base | follows offset |\n|---|---|---|---|\n",
    );
    for p in &node.ports {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            p.effective,
            p.name,
            p.base,
            if p.follows_offset { "yes" } else { "no" }
        ));
    }
    let manual: Vec<_> = plan.manual_for(&node.name).collect();
    if !manual.is_empty() {
        s.push_str("\n## Manual steps\n\nSites topoplan does not rewrite on this node, and the value each should take.\n\n");
        for m in manual {
            s.push_str(&m.markdown(Some(&node.name)));
            s.push('\n');
        }
    }
    let uses: Vec<_> = plan.uses(&node.name).collect();
    if !uses.is_empty() {
        s.push_str("\n## Uses\n\n| reference | node | port |\n|---|---|---|\n");
        for l in uses {
            s.push_str(&format!(
                "| {} ({}) | `{}` | {} |\n",
                l.reference, l.kind, l.to, l.port
            ));
        }
    }
    s
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RenderError + '_ {
    move |source| RenderError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The mark of a folder topoplan wrote: the list of its files. A folder without it, or with
/// files it does not list, is never replaced.
pub const MANIFEST: &str = ".topoplan-bundle";

const MANIFEST_HEAD: &str =
    "# Written by `topoplan bundle`: the files of this bundle, one per line. `bundle -o` replaces\n\
# a folder only when this file lists everything in it.\n";

/// What [`write_bundle`] did beyond writing the new bundle.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// Node folders of the previous bundle that the new plan no longer has (removed).
    pub removed_nodes: Vec<String>,
}

fn manifest_files(dir: &Path) -> Option<std::collections::BTreeSet<String>> {
    let text = fs::read_to_string(dir.join(MANIFEST)).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_string)
            .collect(),
    )
}

/// Paths under `dir` (files, and folders that hold no listed file) that `listed` lacks.
fn foreign(dir: &Path, listed: &std::collections::BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(
        base: &Path,
        d: &Path,
        listed: &std::collections::BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        let Ok(entries) = fs::read_dir(d) else {
            out.push(d.display().to_string());
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .replace('\\', "/");
            if rel == MANIFEST {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => {
                    let prefix = format!("{rel}/");
                    if listed.iter().any(|f| f.starts_with(&prefix)) {
                        walk(base, &p, listed, out);
                    } else {
                        out.push(format!("{rel}/"));
                    }
                }
                _ if listed.contains(&rel) => {}
                _ => out.push(rel),
            }
        }
    }
    walk(dir, dir, listed, &mut out);
    out.sort();
    out
}

fn tops(files: &std::collections::BTreeSet<String>) -> std::collections::BTreeSet<String> {
    files
        .iter()
        .filter_map(|f| f.split_once('/').map(|(t, _)| t.to_string()))
        .collect()
}

/// Writes `bundle` as the folder `out`, replacing an earlier bundle there.
///
/// - `out` is replaced only if it is empty or is a bundle topoplan wrote ([`MANIFEST`] lists
///   every file in it); anything else is refused, naming what is in the way.
/// - The new bundle is written completely in a sibling folder with a random name, then swapped
///   in with one rename (`RENAME_EXCHANGE`), so a reader sees all-old or all-new; the old one
///   is then removed, and node folders the new plan no longer has are reported.
/// - The parent folder is locked for the duration, so two runs never interleave.
pub fn write_bundle(out: &Path, bundle: &Bundle) -> Result<WriteReport, RenderError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let _lock = topoplan_safefs::lock_dir(&parent).map_err(RenderError::Safe)?;
    let mut report = WriteReport::default();
    let old_files = match fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => {
            let empty = fs::read_dir(out).map_err(io(out))?.next().is_none();
            if empty {
                Some(Default::default())
            } else {
                let Some(listed) = manifest_files(out) else {
                    return Err(RenderError::NotOurs {
                        path: out.display().to_string(),
                        why: format!(
                            "it is not empty and has no `{MANIFEST}`, so topoplan did not write it"
                        ),
                    });
                };
                let extra = foreign(out, &listed);
                if !extra.is_empty() {
                    let shown: Vec<_> = extra.iter().take(5).map(|e| format!("`{e}`")).collect();
                    return Err(RenderError::NotOurs {
                        path: out.display().to_string(),
                        why: format!(
                            "it holds {} path(s) topoplan did not write: {}{}",
                            extra.len(),
                            shown.join(", "),
                            if extra.len() > 5 { ", ..." } else { "" }
                        ),
                    });
                }
                Some(listed)
            }
        }
        Ok(_) => {
            return Err(RenderError::NotOurs {
                path: out.display().to_string(),
                why: "it is not a folder (or is a symlink)".into(),
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(out)(e)),
    };
    let staging = tempfile::Builder::new()
        .prefix(".topoplan-bundle-")
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let mut manifest = String::from(MANIFEST_HEAD);
    for (rel, f) in &bundle.files {
        let path = staging.path().join(rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io(dir))?;
        }
        fs::write(&path, &f.text).map_err(io(&path))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = if f.executable { 0o755 } else { 0o644 };
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(io(&path))?;
        }
        manifest.push_str(rel);
        manifest.push('\n');
    }
    fs::write(staging.path().join(MANIFEST), manifest).map_err(io(staging.path()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
            .map_err(io(staging.path()))?;
    }
    match old_files {
        None => {
            let path = staging.keep();
            fs::rename(&path, out).map_err(io(out))?;
        }
        Some(old) => {
            topoplan_safefs::swap_dirs(out, staging.path()).map_err(RenderError::Safe)?;
            // `staging` now holds the previous bundle, checked above to be all topoplan's;
            // dropping it removes it.
            let new_tops = tops(&bundle.files.keys().cloned().collect());
            report.removed_nodes = tops(&old).difference(&new_tops).cloned().collect();
            staging.close().map_err(io(out))?;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        let profiles: BTreeMap<String, topoplan_model::Profile> = [(
            "appm-1.2.0".to_string(),
            topoplan_model::Profile::parse(include_str!(
                "../../../templates/appm-1.2.0/profile.toml"
            ))
            .unwrap(),
        )]
        .into();
        let topo = topoplan_model::parse(
            "[deployment]\nname = \"d\"\nproduct = \"appm-1.2.0\"\n[[host]]\nname = \"h\"\n[[node]]\nname = \"n\"\nroles = [\"all\"]\nhost = \"h\"\noffset = 3\n",
            &profiles,
        )
        .unwrap();
        topoplan_solver::solve(&topo, &profiles["appm-1.2.0"]).unwrap()
    }

    #[test]
    fn start_script_gives_the_shell_only_the_offset() {
        let mut p = plan();
        // Even a name that slipped past validation stays inside its comment line.
        p.deployment = "x\nrm -rf / #$(reboot)".into();
        let node = p.nodes[0].clone();
        let mut set = TemplateSet::default();
        set.add_dir(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../templates"
        )))
        .unwrap();
        let script = start_sh(&set, &p, &node).unwrap().unwrap();
        let code: Vec<&str> = script.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            code,
            [
                "set -eu",
                ": \"${CARBON_HOME:?set CARBON_HOME to the product home on this host}\"",
                "exec \"$CARBON_HOME/bin/wso2server.sh\" -DportOffset=3 \"$@\"",
            ]
        );
    }
}
