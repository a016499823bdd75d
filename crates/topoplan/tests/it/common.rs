//! Helpers shared by the binary's integration tests: paths, the command, fixtures and the
//! external tools (Graphviz, Chromium) that some checks need.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The password the shipped examples' `[[database]]` reads (`password_env`), as an operator's
/// environment holds it when applying; tests of the refusal remove it.
pub const EXAMPLE_DB_PASSWORD: &str = "example-db-password";

pub fn topoplan() -> Command {
    let mut c = Command::cargo_bin("topoplan").unwrap();
    c.current_dir(root());
    c.env("APPM_DB_PASSWORD", EXAMPLE_DB_PASSWORD);
    c
}

pub fn toml_files(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml")
                .then(|| format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    v.sort();
    v
}

pub fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Every shipped product (the folders of `templates/` with a `profile.toml`), by name.
pub fn shipped_products() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("templates"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            p.join("profile.toml")
                .is_file()
                .then(|| p.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    v.sort();
    assert!(v.len() >= 3, "the shipped profiles: {v:?}");
    v
}

/// The product fixtures, or `None` (with the reason printed) when they are absent outside CI.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("TOPOPLAN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/fixtures"));
    if dir.join("appm-1.2.0").is_dir() && dir.join("appm-1.1.0").is_dir() {
        return Some(dir);
    }
    absent(format!(
        "product fixtures not found at `{}` (set TOPOPLAN_FIXTURES)",
        dir.display()
    ))
}

/// Something a test needs is missing: skip with the reason printed, except in CI
/// (`CI=true`), where `.ci/run` provides it and its absence is a failure.
fn absent<T>(why: String) -> Option<T> {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

/// An external program the test needs: `$env_var` if set, else the first of `names` on PATH;
/// see [`absent`] when there is none.
pub fn tool(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env_var) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let candidate = dir.join(n);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    absent(format!("none of {names:?} on PATH (set {env_var})"))
}

/// Copies a folder tree (the product fixtures into a scratch home).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, sorted: compares homes before and after.
pub fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(d: &Path, base: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The product record a hand-made bundle needs for `apply` to accept a home of `product`.
pub fn node_record(bundle: &Path, product: &str) {
    let version = product.trim_start_matches("appm-");
    std::fs::create_dir_all(bundle).unwrap();
    std::fs::write(
        bundle.join("node.json"),
        format!(
            r#"{{"product": "{product}", "home": {{"marker": "repository", "file": "repository/conf/carbon.xml", "name": "WSO2 App Manager", "version": "{version}"}}}}"#
        ),
    )
    .unwrap();
}

/// A copy of the example `topologies/<example>` as `<dir>/<name>`, for tests that edit it or
/// write a lock beside it.
pub fn copy_example(example: &str, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(root().join("topologies").join(example), &to).unwrap();
    to
}

/// `topoplan plan --format json TOPOLOGY`, which must succeed, as JSON.
pub fn plan_json(topology: &Path) -> serde_json::Value {
    let out = topoplan()
        .args(["plan", "--format", "json"])
        .arg(topology)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `topoplan bundle TOPOLOGY -o OUT`, run to the end.
pub fn bundle_to(topology: &Path, out: &Path) -> std::process::Output {
    topoplan()
        .arg("bundle")
        .arg(topology)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap()
}

/// `topoplan apply BUNDLE --home HOME`, which must succeed.
pub fn apply_ok(bundle: &Path, home: &Path) {
    topoplan()
        .arg("apply")
        .arg(bundle)
        .arg("--home")
        .arg(home)
        .assert()
        .success();
}

/// Every link of a plan's JSON, one object per (reader, provider) as `links` holds them: the
/// `links`, then each shared list's entries for each of its readers, in the reader's order (its
/// `first` entries, then the rest in the list's order), as docs/plan-json.md says to read them.
pub fn every_link(plan: &serde_json::Value) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = plan["links"].as_array().unwrap().clone();
    for list in plan["lists"].as_array().into_iter().flatten() {
        let entries = list["entries"].as_array().unwrap();
        for reader in list["readers"].as_array().unwrap() {
            let first: Vec<&str> = reader["first"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f.as_str().unwrap())
                .collect();
            let at = |to: &str| entries.iter().find(|e| e["to"] == to).unwrap();
            let ordered = first.iter().map(|f| at(f)).chain(
                entries
                    .iter()
                    .filter(|e| !first.contains(&e["to"].as_str().unwrap())),
            );
            for e in ordered {
                let mut l = e.clone();
                for k in ["kind", "reference", "port_name", "file"] {
                    l[k] = list[k].clone();
                }
                l["from"] = reader["node"].clone();
                l["each"] = true.into();
                out.push(l);
            }
        }
    }
    out
}
