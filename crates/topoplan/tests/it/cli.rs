//! The binary as a user runs it: diagnostics of every invalid topology, plans of every example,
//! rendered overlays, and bundles applied to the real product files from `../shared/fixtures`.

use crate::common::{copy_tree, fixtures, node_record, stem, toml_files, topoplan, tree};

#[test]
fn every_invalid_topology_fails_with_a_located_diagnostic() {
    let files = toml_files("topologies/invalid");
    assert!(files.len() >= 8, "want a file per diagnostic kind");
    for f in files {
        let out = topoplan().args(["plan", &f]).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{f}: {stderr}");
        assert!(!stderr.contains("panicked"), "{f}: {stderr}");
        let located = regex_like_location(&stderr, &f);
        assert!(located, "{f}: no `{f}:line:col` in {stderr}");
        // The file is named after the code it demonstrates.
        let code = stem(&f);
        if code != "several-problems" {
            assert!(
                stderr.contains(&format!("error[{code}]")),
                "{f}: expected error[{code}] in {stderr}"
            );
        }
        // What the user sees is the trycmd case `tests/cmd/invalid/<code>.toml` (`cmd.rs`).
    }
}

fn regex_like_location(s: &str, file: &str) -> bool {
    s.match_indices(&format!("{file}:")).any(|(i, m)| {
        let rest = &s[i + m.len()..];
        let mut parts = rest.splitn(3, |c: char| !c.is_ascii_digit());
        let line = parts.next().unwrap_or("");
        !line.is_empty()
            && rest[line.len()..].starts_with(':')
            && rest[line.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
    })
}

#[test]
fn several_problems_are_reported_in_one_run() {
    let out = topoplan()
        .args(["plan", "topologies/invalid/several-problems.toml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    for code in ["invalid-port", "unknown-role", "duplicate-node"] {
        assert!(stderr.contains(&format!("error[{code}]")), "{stderr}");
    }
}

#[test]
fn example_plans_are_stable() {
    for f in toml_files("topologies") {
        let out = topoplan()
            .args(["plan", &f, "--format", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json = String::from_utf8(out.stdout).unwrap();
        let again = topoplan()
            .args(["plan", &f, "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(
            json.as_bytes(),
            &again.stdout[..],
            "{f}: plan is not deterministic"
        );
        insta::assert_snapshot!(format!("plan-{}", stem(&f)), json);
        let text = topoplan().args(["plan", &f]).output().unwrap();
        insta::assert_snapshot!(
            format!("plan-text-{}", stem(&f)),
            String::from_utf8(text.stdout).unwrap()
        );
    }
}

#[test]
fn guide_case_pairs_thrift_ports_without_offsets() {
    let out = topoplan()
        .args([
            "plan",
            "topologies/guide-gateway-km.toml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = |n: &str| {
        plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()
            .clone()
    };
    let (gw, km) = (node("gateway"), node("keymanager"));
    assert_eq!(
        (gw["offset"].as_u64(), km["offset"].as_u64()),
        (Some(2), Some(5))
    );
    // Not 10399 / 10402 as the guide suggests: the product never offsets Thrift.
    let port = |n: &serde_json::Value, name: &str| {
        n["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["effective"].clone())
    };
    assert_eq!(port(&km, "thrift-key-validation"), Some(10397.into()));
    assert_eq!(port(&gw, "thrift-key-validation"), None, "server off");
    let all = crate::common::every_link(&plan);
    let thrift = all
        .iter()
        .find(|l| l["from"] == "gateway" && l["reference"] == "thrift")
        .unwrap();
    assert_eq!(
        (thrift["to"].as_str(), thrift["port"].as_u64()),
        (Some("keymanager"), Some(10397))
    );
    assert_eq!(km["address"], "192.168.56.10");
}

#[test]
fn rendered_overlays_are_stable() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "topologies/guide-gateway-km.toml",
        "topologies/multi-host-ha.toml",
    ] {
        let out_dir = dir.path().join(stem(f));
        topoplan()
            .args(["bundle", f, "-o"])
            .arg(&out_dir)
            .assert()
            .success();
        let mut all = String::new();
        for (path, bytes) in tree(&out_dir) {
            if path.to_string_lossy().contains("/overlay/") {
                all.push_str(&format!(
                    "=== {}\n{}\n",
                    path.display(),
                    String::from_utf8(bytes).unwrap()
                ));
            }
        }
        insta::assert_snapshot!(format!("overlays-{}", stem(f)), all);
        let start = std::fs::read_to_string(out_dir.join("gw1").join("bin/start.sh"))
            .or_else(|_| std::fs::read_to_string(out_dir.join("gateway/bin/start.sh")))
            .unwrap();
        assert!(start.contains("-DportOffset="), "{start}");
    }
}

/// Bundles every example and applies each node's bundle to a copy of the real product files.
#[test]
fn bundles_apply_to_the_real_product_files_idempotently() {
    let Some(fixtures) = fixtures() else { return };
    for f in toml_files("topologies") {
        let tmp = tempfile::tempdir().unwrap();
        let out_dir = tmp.path().join("out");
        topoplan()
            .args(["bundle", &f, "-o"])
            .arg(&out_dir)
            .assert()
            .success();
        let plan: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("plan.json")).unwrap())
                .unwrap();
        let product = plan["product"].as_str().unwrap().to_string();
        for n in plan["nodes"].as_array().unwrap() {
            let name = n["name"].as_str().unwrap();
            let home = tmp.path().join("home").join(name);
            copy_tree(&fixtures.join(&product), &home);
            let pristine = tree(&home);
            // Dry run writes nothing and shows the offset change.
            let dry = topoplan()
                .args(["apply"])
                .arg(out_dir.join(name))
                .arg("--home")
                .arg(&home)
                .arg("--dry-run")
                .output()
                .unwrap();
            assert!(dry.status.success());
            assert_eq!(tree(&home), pristine, "{f}/{name}: --dry-run wrote files");
            let diff = String::from_utf8(dry.stdout).unwrap();
            if n["offset"] != 0 {
                assert!(
                    diff.contains(&format!("+        <Offset>{}</Offset>", n["offset"])),
                    "{f}/{name}: {diff}"
                );
            }
            let apply = || {
                crate::common::apply_ok(&out_dir.join(name), &home);
            };
            apply();
            let once = tree(&home);
            apply();
            assert_eq!(tree(&home), once, "{f}/{name}: second apply changed files");
            let carbon = std::fs::read_to_string(home.join("repository/conf/carbon.xml")).unwrap();
            assert!(
                carbon.contains(&format!("<Offset>{}</Offset>", n["offset"])),
                "{f}/{name}"
            );
            // The backup is the pristine original (only changed files are backed up).
            if n["offset"] == 0 {
                continue;
            }
            let backup =
                std::fs::read(home.join(".topoplan/backup/repository/conf/carbon.xml")).unwrap();
            assert_eq!(
                backup,
                std::fs::read(fixtures.join(&product).join("repository/conf/carbon.xml")).unwrap()
            );
        }
    }
}

#[test]
fn apply_refuses_a_selector_that_matches_nothing_and_writes_nothing() {
    let Some(fixtures) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    copy_tree(&fixtures.join("appm-1.2.0"), &home);
    let bundle = tmp.path().join("b");
    std::fs::create_dir_all(bundle.join("overlay/repository/conf")).unwrap();
    node_record(&bundle, "appm-1.2.0");
    std::fs::write(
        bundle.join("overlay/repository/conf/carbon.xml.patch.xml"),
        "<diff xmlns:c=\"http://wso2.org/projects/carbon/carbon.xml\"><replace sel=\"/c:Server/c:Ports/c:Offset/text()\">4</replace></diff>",
    )
    .unwrap();
    std::fs::write(
        bundle.join("overlay/repository/conf/app-manager.xml.patch.xml"),
        "<diff><replace sel=\"/AppManager/NoSuchElement/text()\">x</replace></diff>",
    )
    .unwrap();
    let before = tree(&home);
    let out = topoplan()
        .arg("apply")
        .arg(&bundle)
        .arg("--home")
        .arg(&home)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("app-manager.xml") && stderr.contains("/AppManager/NoSuchElement/text()"),
        "{stderr}"
    );
    assert_eq!(
        tree(&home),
        before,
        "a failed apply must write nothing, not even the valid carbon.xml change"
    );
}

#[test]
fn io_and_usage_errors_exit_2() {
    let out = topoplan()
        .args(["plan", "no/such/file.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.toml"));
    assert_eq!(
        topoplan().args(["plan"]).output().unwrap().status.code(),
        Some(2)
    );
}

/// JSON overlays on the real Jaggery configs: only the addressed value's bytes change, a second
/// apply changes nothing, the original is backed up, and a pointer that matches nothing (or a
/// failed `test`) is refused with the file and pointer named and nothing written.
#[test]
fn json_overlays_apply_to_the_real_jaggery_files() {
    let Some(fixtures) = fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    topoplan()
        .args(["bundle", "topologies/three-host-split.toml", "-o"])
        .arg(&out_dir)
        .assert()
        .success();
    let rel = "repository/deployment/server/jaggeryapps/store/config/store.json";
    let original = std::fs::read_to_string(fixtures.join("appm-1.1.0").join(rel)).unwrap();
    let home = tmp.path().join("home");
    copy_tree(&fixtures.join("appm-1.1.0"), &home);
    let apply = |bundle: &std::path::Path| {
        topoplan()
            .arg("apply")
            .arg(bundle)
            .arg("--home")
            .arg(&home)
            .output()
            .unwrap()
    };
    assert!(apply(&out_dir.join("store")).status.success());
    let once = std::fs::read_to_string(home.join(rel)).unwrap();
    // Byte for byte the original, with one value replaced: the key manager's /samlsso.
    assert_eq!(
        once,
        original.replace(
            "\"identityProviderURL\": \"%https.host%/samlsso\"",
            "\"identityProviderURL\": \"https://10.40.0.10:9443/samlsso\""
        )
    );
    assert_ne!(once, original);
    assert!(apply(&out_dir.join("store")).status.success());
    assert_eq!(std::fs::read_to_string(home.join(rel)).unwrap(), once);
    assert_eq!(
        std::fs::read_to_string(home.join(".topoplan/backup").join(rel)).unwrap(),
        original
    );

    // A pointer that matches nothing: refused, nothing written (not even the valid XML patch).
    let bad = tmp.path().join("bad");
    node_record(&bad, "appm-1.1.0");
    let put = |path: &str, text: &str| {
        let p = bad.join("overlay").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(
        "repository/conf/carbon.xml.patch.xml",
        "<diff xmlns:c=\"http://wso2.org/projects/carbon/carbon.xml\"><replace sel=\"/c:Server/c:Ports/c:Offset/text()\">9</replace></diff>",
    );
    put(
        &format!("{rel}.patch.json"),
        r#"[{"op": "replace", "path": "/ssoConfiguration/noSuchKey", "value": "x"}]"#,
    );
    let before = tree(&home);
    let out = apply(&bad);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("store.json") && stderr.contains("/ssoConfiguration/noSuchKey"),
        "{stderr}"
    );
    assert_eq!(tree(&home), before, "a refused apply writes nothing");

    // A `test` that fails (the patch was written for another app's file) is refused too.
    put(
        &format!("{rel}.patch.json"),
        r#"[{"op": "test", "path": "/ssoConfiguration/issuer", "value": "social"}, {"op": "replace", "path": "/ssoConfiguration/identityProviderURL", "value": "x"}]"#,
    );
    let out = apply(&bad);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/ssoConfiguration/issuer"), "{stderr}");
    assert_eq!(tree(&home), before);
}

/// The JSON overlays of every example, as the operator receives them.
#[test]
fn json_overlays_are_stable() {
    let mut all = String::new();
    for f in toml_files("topologies") {
        let tmp = tempfile::tempdir().unwrap();
        topoplan()
            .args(["bundle", &f, "-o"])
            .arg(tmp.path())
            .assert()
            .success();
        for (p, bytes) in tree(tmp.path()) {
            let p = p.to_string_lossy().replace('\\', "/");
            if p.ends_with(".patch.json") {
                all += &format!(
                    "=== {}: {p}\n{}\n",
                    stem(&f),
                    String::from_utf8(bytes).unwrap()
                );
            }
        }
    }
    assert!(all.contains("identityProviderURL"));
    insta::assert_snapshot!("json-overlays", all);
}

/// Mistakes the TOML parser describes badly get a message about the real mistake, at its
/// position: an unclosed array, `[host]` for `[[host]]`, a huge integer, bytes that are not
/// UTF-8, and misspelt keys and names ("did you mean").
#[test]
fn messages_point_at_the_real_mistake() {
    let head = "[deployment]\nname = \"x\"\nproduct = \"appm-1.2.0\"\n\n";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unclosed-array", format!("{head}[[host]]\nname = \"h\"\nreserved_ports = [3306, 3307\n\n[[node]]\nname = \"a\"\nroles = [\"all\"]\nhost = \"h\"\n").into_bytes()),
        ("single-table", format!("{head}[host]\nname = \"h\"\n").into_bytes()),
        ("huge-integer", format!("{head}[[host]]\nname = \"h\"\nreserved_ports = [99999999999999999999]\n").into_bytes()),
        ("not-utf8", b"[deployment]\nname = \"x\xff\"\nproduct = \"appm-1.2.0\"\n".to_vec()),
        ("misspelt-key", format!("{head}[[host]]\nname = \"h\"\n\n[[node]]\nname = \"a\"\nroles = [\"all\"]\nhots = \"h\"\n").into_bytes()),
        ("misspelt-names", format!("{head}[[host]]\nname = \"core\"\n\n[[node]]\nname = \"gw\"\nroles = [\"gatway\"]\nhost = \"cor\"\n\n[[node]]\nname = \"km\"\nroles = [\"key-manager\"]\nhost = \"core\"\n\n[[link]]\nfrom = \"gw\"\nto = \"kn\"\n").into_bytes()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut all = String::new();
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, bytes).unwrap();
        let out = topoplan()
            .current_dir(dir.path())
            .args(["plan", &format!("{name}.toml")])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("{name}.toml:")),
            "{name}: no position: {stderr}"
        );
        all += &format!("=== {name}\n{stderr}\n");
    }
    assert!(all.contains("did you mean `host`?"));
    assert!(all.contains("did you mean `gateway`?"));
    insta::assert_snapshot!("messages", all);
}

#[test]
fn allow_silences_a_warning_by_code_and_the_plan_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.toml");
    let body = "[[host]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[host]]\nname = \"b\"\naddress = \"10.0.0.2\"\n\
[[node]]\nname = \"gw\"\nroles = [\"gateway\"]\nhost = \"a\"\n\
[[node]]\nname = \"km\"\nroles = [\"key-manager\", \"store\", \"publisher\"]\nhost = \"b\"\n";
    let plan = |allow: &str| -> (serde_json::Value, String) {
        std::fs::write(
            &t,
            format!("[deployment]\nname = \"d\"\nproduct = \"appm-1.1.0\"\n{allow}{body}"),
        )
        .unwrap();
        let out = topoplan()
            .args(["plan", t.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (before, stderr) = plan("");
    let codes = |p: &serde_json::Value| -> Vec<String> {
        p["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        codes(&before),
        [
            "cross-host-link",
            "no-shared-database",
            "single-key-manager"
        ]
    );
    // Located on standard error, and naming its nodes in JSON.
    assert!(stderr.contains("warning[single-key-manager]: "), "{stderr}");
    let line = before["warnings"][2]["line"].as_u64().unwrap();
    let col = before["warnings"][2]["column"].as_u64().unwrap();
    let shown = format!("┌─ {}:{line}:{col}", t.display());
    assert!(stderr.contains(&shown), "{stderr}");
    assert_eq!(before["warnings"][2]["nodes"], serde_json::json!(["km"]));
    assert!(before["warnings"][2]["line"].as_u64().is_some());
    let (after, stderr) = plan("allow = [\"single-key-manager\"]\n");
    assert_eq!(codes(&after), ["cross-host-link", "no-shared-database"]);
    assert_eq!(after["silenced"], 1);
    assert!(!stderr.contains("single-key-manager"), "{stderr}");
}

/// Everything `bundle` writes for every example, byte for byte: a digest per file (the
/// manifest, which records inodes and times, aside). A refactoring must leave these unchanged;
/// a change that means to alter an output updates the snapshot in the same commit.
#[test]
fn every_bundle_of_every_example_is_byte_identical() {
    use sha2::{Digest, Sha256};
    for f in toml_files("topologies") {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let o = crate::common::bundle_to(&crate::common::root().join(&f), &out);
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut listing = String::new();
        for (path, bytes) in tree(&out) {
            if path.to_string_lossy() == topoplan_bundle::MANIFEST {
                continue;
            }
            let digest: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            listing.push_str(&format!(
                "{} {:>7} {}\n",
                &digest[..16],
                bytes.len(),
                path.display()
            ));
        }
        insta::assert_snapshot!(format!("bundle-{}", stem(&f)), listing);
    }
}

/// `generate` (the benchmarks' estates) writes topologies that plan, at any number of nodes
/// per host and for every product, plain or clustered (the clustered ones with clusters).
#[test]
fn generated_topologies_plan_at_any_size() {
    let d = tempfile::tempdir().unwrap();
    for product in &crate::common::shipped_products() {
        for per_host in 1..=12 {
            for clustered in [false, true] {
                let mut cmd = topoplan();
                cmd.args(["generate", "--product", product, "--hosts", "3"])
                    .arg(format!("--per-host={per_host}"));
                if clustered {
                    cmd.arg("--clustered");
                }
                let o = cmd.output().unwrap();
                assert!(o.status.success());
                let t = d
                    .path()
                    .join(format!("{product}-{per_host}-{clustered}.toml"));
                std::fs::write(&t, &o.stdout).unwrap();
                let plan = topoplan().arg("plan").arg(&t).output().unwrap();
                assert!(
                    plan.status.success(),
                    "{product} --per-host {per_host} clustered {clustered}: {}",
                    String::from_utf8_lossy(&plan.stderr)
                );
                let text = String::from_utf8_lossy(&plan.stdout);
                assert_eq!(
                    clustered && per_host >= 4,
                    text.contains("\nclusters:\n"),
                    "{product} --per-host {per_host} clustered {clustered}"
                );
            }
        }
    }
}

/// A node that provides a value to itself (an all-in-one node is its own key manager) still
/// gets the profile's Ansible variable for it.
#[test]
fn the_ansible_inventory_keeps_a_nodes_own_values() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("deploy");
    topoplan()
        .args(["export", "ansible", "topologies/all-in-one.toml", "-o"])
        .arg(&out)
        .assert()
        .success();
    let inventory = std::fs::read_to_string(out.join("inventory.yml")).unwrap();
    assert!(
        inventory.contains("key_manager_server_url: \"https://appm.sandbox.local:9444/services/\""),
        "{inventory}"
    );
}
