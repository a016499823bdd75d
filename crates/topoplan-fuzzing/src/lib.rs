#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]
//! Fuzz harnesses. Each takes arbitrary bytes and must never panic; the cargo-fuzz targets in
//! `fuzz/` (nightly, libFuzzer) and the stable smoke test in `tests/` call the same functions,
//! so what CI exercises is what the long runs exercise.
//!
//! - [`plan_and_render`]: topology text → validated model → plan → every output that is cheap
//!   (overlays and bundle files, text/Markdown/JSON, `explain` per node, DOT and Mermaid).
//! - [`apply_patch`]: `kind byte` + patch document + `NUL` + product file → apply; a result
//!   is accepted only if it parses again.
//! - [`export_ansible`]: topology text → plan → `inventory.yml` and `site.yml`; every value a
//!   topology can put there must stay one inert value (JSON-quoted, never a template).
//!
//! Seeds: [`topology_seeds`] (the shipped examples, valid and invalid) and [`apply_seeds`]
//! (every overlay of every example with the real product file it patches).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use topoplan_render::TemplateSet;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped templates and profiles, loaded once.
pub fn templates() -> &'static (
    TemplateSet,
    std::collections::BTreeMap<String, topoplan_model::Profile>,
) {
    static SET: OnceLock<(
        TemplateSet,
        std::collections::BTreeMap<String, topoplan_model::Profile>,
    )> = OnceLock::new();
    SET.get_or_init(|| {
        let mut set = TemplateSet::default();
        set.add_dir(&root().join("templates"))
            .expect("templates/ beside crates/");
        let profiles = set.profiles().expect("shipped profiles are valid");
        (set, profiles)
    })
}

/// The plan of topology text and its product's profile, when the text is a valid topology.
fn planned(data: &[u8]) -> Option<(topoplan_solver::Plan, &'static topoplan_model::Profile)> {
    let src = std::str::from_utf8(data).ok()?;
    let (_, profiles) = templates();
    let topo = topoplan_model::parse(src, profiles).ok()?;
    let profile = &profiles[&topo.product];
    let plan = topoplan_solver::solve(&topo, profile).ok()?;
    Some((plan, profile))
}

/// Topology text through everything `plan` and `bundle` compute.
pub fn plan_and_render(data: &[u8]) {
    let Some((plan, _)) = planned(data) else {
        return;
    };
    let (set, _) = templates();
    topoplan_bundle::Bundle::build(set, &plan, Vec::new()).expect("valid plans render");
    let _ = topoplan_report::text(&plan);
    let _ = topoplan_report::markdown(&plan);
    let _ = topoplan_report::json(&plan);
    for n in &plan.nodes {
        assert!(topoplan_report::explain(&plan, &n.name).is_some());
    }
    let d = topoplan_diagram::Diagram::from_plan(&plan);
    let _ = (d.dot(), d.mermaid());
}

/// Topology text through the Ansible export. What a topology names (deployment, hosts,
/// addresses, nodes, URLs) reaches the inventory; each must stay one value that YAML reads as
/// a string and Ansible never templates. So every line of the inventory is a comment, a fixed
/// key, or `key: value` where the value is JSON (flow YAML), with a Jinja marker only in an
/// `!unsafe` value; and the playbook's placeholders are all filled.
pub fn export_ansible(data: &[u8]) {
    let Some((plan, profile)) = planned(data) else {
        return;
    };
    let inventory = topoplan_render::ansible::inventory(&plan, profile, "topology.toml");
    for line in inventory.lines() {
        inert_line(line);
    }
    let site = topoplan_render::ansible::site(profile, &plan);
    assert!(!site.contains("@HOME_BASE@") && !site.contains("@DB_ENV@"));
}

/// One inventory line: a comment (no line break can end it early: it is one line), a key
/// alone (`hosts:`), or `key: value` with a JSON value; a quoted key is one JSON string.
fn inert_line(line: &str) {
    let body = line.trim_start();
    if body.starts_with('#') || body.is_empty() {
        return;
    }
    let body = body.strip_prefix("- ").unwrap_or(body);
    let (key, value) = if body.starts_with('"') {
        // A JSON-quoted key: the string, then `:`.
        let end = json_string_end(body).expect("a quoted key is one JSON string");
        (
            &body[..end],
            body[end..].strip_prefix(':').expect("`:` after a key"),
        )
    } else {
        body.split_once(':').expect("`key:` on every line")
    };
    assert!(
        key.starts_with('"') || key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "a bare key is a fixed name: {key:?}"
    );
    let value = value.trim();
    if value.is_empty() {
        return;
    }
    let json = value.strip_prefix("!unsafe ").unwrap_or(value);
    let parsed: serde_json::Value = serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{value:?} is not one JSON value: {e}"));
    let templated = |s: &str| ["{{", "{%", "{#"].iter().any(|m| s.contains(m));
    if !value.starts_with("!unsafe ") {
        assert!(
            !templated(&parsed.to_string()),
            "Jinja reaches Ansible: {value}"
        );
    }
}

/// The byte length of the JSON string at the start of `s`.
fn json_string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// First byte even: XML (RFC 5261); odd: JSON (RFC 6902). Then the patch, a NUL, the target.
pub fn apply_patch(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some(nul) = rest.iter().position(|&b| b == 0) else {
        return;
    };
    let (Ok(patch), Ok(target)) = (
        std::str::from_utf8(&rest[..nul]),
        std::str::from_utf8(&rest[nul + 1..]),
    ) else {
        return;
    };
    if kind % 2 == 0 {
        let Ok(p) = topoplan_xmlpatch::Patch::parse(patch) else {
            return;
        };
        if let Ok(out) = p.apply(target) {
            let opts = roxmltree::ParsingOptions {
                allow_dtd: true,
                ..Default::default()
            };
            assert!(
                roxmltree::Document::parse_with_options(&out, opts).is_ok(),
                "an applied XML patch gave a file that does not parse"
            );
        }
    } else {
        let Ok(p) = topoplan_jsonpatch::Patch::parse(patch) else {
            return;
        };
        if let Ok(out) = p.apply(target) {
            assert!(
                jsonc_parser::parse_to_ast(&out, &Default::default(), &Default::default()).is_ok(),
                "an applied JSON patch gave a file that does not parse"
            );
        }
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The shipped example topologies, valid and invalid.
pub fn topology_seeds() -> Vec<Vec<u8>> {
    let t = root().join("topologies");
    files_in(&t)
        .into_iter()
        .chain(files_in(&t.join("invalid")))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| std::fs::read(p).expect("readable example"))
        .collect()
}

/// Every overlay of every valid example, joined with the real product file it patches from
/// `fixtures` (`../shared/fixtures`); overlays whose file is missing there are skipped.
pub fn apply_seeds(fixtures: &Path) -> Vec<Vec<u8>> {
    let (set, profiles) = templates();
    let mut out = Vec::new();
    for p in files_in(&root().join("topologies")) {
        let Ok(src) = std::fs::read_to_string(&p) else {
            continue;
        };
        let Ok(topo) = topoplan_model::parse(&src, profiles) else {
            continue;
        };
        let Ok(plan) = topoplan_solver::solve(&topo, &profiles[&topo.product]) else {
            continue;
        };
        for n in &plan.nodes {
            for o in topoplan_render::render_node(set, &plan, &n.name).expect("renders") {
                let Ok(target) = std::fs::read(fixtures.join(&plan.product).join(&o.path)) else {
                    continue;
                };
                let kind = match o.format {
                    topoplan_render::PatchFormat::Xml => 0u8,
                    topoplan_render::PatchFormat::Json => 1u8,
                };
                let mut seed = vec![kind];
                seed.extend_from_slice(o.patch.as_bytes());
                seed.push(0);
                seed.extend_from_slice(&target);
                out.push(seed);
            }
        }
    }
    out
}
