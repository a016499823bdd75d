//! A deployment over time: lock a plan, add a node, preview the change; apply, then check
//! the installed homes for drift.

use crate::common::plan_json;
use crate::common::{copy_tree, fixtures, topoplan};
use std::path::Path;

fn code(args: &[&str], topology: &Path) -> i32 {
    topoplan()
        .args(args)
        .arg(topology)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

#[test]
fn adding_a_node_moves_nothing_locked_and_the_preview_shows_only_it() {
    let d = tempfile::tempdir().unwrap();
    let topo = crate::common::copy_example("dense-shared-host.toml", d.path(), "shared.toml");
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &topo),
        2,
        "no lock yet: everything is new"
    );
    topoplan().arg("lock").arg(&topo).assert().success();
    assert!(d.path().join("shared.lock").is_file());
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &topo),
        0,
        "nothing changed"
    );
    let before = plan_json(&topo);

    // A gateway whose name sorts before every other node, on the shared host.
    let mut text = std::fs::read_to_string(&topo).unwrap();
    text.push_str("\n[[node]]\nname = \"aa-late-gw\"\nroles = [\"gateway\"]\nhost = \"ci-box\"\n\n[[link]]\nfrom = \"aa-late-gw\"\nto = \"km-b\"\n");
    std::fs::write(&topo, text).unwrap();
    assert_eq!(code(&["plan", "--detailed-exitcode"], &topo), 2);
    let after = plan_json(&topo);
    for n in before["nodes"].as_array().unwrap() {
        let m = after["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == n["name"])
            .unwrap();
        assert_eq!(m["offset"], n["offset"], "{} moved", n["name"]);
        assert_eq!(m["thrift"], n["thrift"], "{} Thrift changed", n["name"]);
    }
    let changes = after["changes"].as_array().unwrap();
    assert!(changes.iter().all(|c| c["op"] == "+"), "{changes:#?}");
    assert!(changes
        .iter()
        .all(|c| c["subject"].as_str().unwrap().contains("aa-late-gw")));
    let text = topoplan().arg("plan").arg(&topo).output().unwrap().stdout;
    let text = String::from_utf8(text).unwrap();
    let preview = &text[text.find("changes against the lock").unwrap()..];
    let preview = &preview[..preview.find("\n\n").unwrap_or(preview.len())];
    insta::assert_snapshot!("lock-preview", preview);

    // A new pin that lands on a locked node's ports moves that node, and says why.
    let gw_b = before["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "gw-b")
        .unwrap()["offset"]
        .as_u64()
        .unwrap();
    let text = std::fs::read_to_string(&topo).unwrap().replace(
        "name = \"aa-late-gw\"\n",
        &format!("name = \"aa-late-gw\"\noffset = {gw_b}\n"),
    );
    std::fs::write(&topo, text).unwrap();
    let after = plan_json(&topo);
    let changed: Vec<_> = after["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] == "~")
        .collect();
    let moved: Vec<_> = changed.iter().filter(|c| c["kind"] == "offset").collect();
    assert_eq!(moved.len(), 1, "{moved:#?}");
    // Everything else that changed is a URL pointing at the moved node.
    assert!(changed
        .iter()
        .filter(|c| c["kind"] != "offset")
        .all(|c| c["kind"] == "link" && c["subject"].as_str().unwrap().contains("-> gw-b")));
    assert_eq!(moved[0]["subject"], "gw-b");
    assert!(
        moved[0]["why"].as_str().unwrap().contains("aa-late-gw"),
        "{moved:#?}"
    );
}

/// A gateway that leaves the topology leaves the publisher too: `check` reports the environment
/// an earlier apply added for it, the next apply removes it, and an environment the operator
/// wrote (no topoplan mark) is never touched.
#[test]
fn a_removed_gateway_leaves_the_publisher_environments() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let topo = crate::common::copy_example("two-gateways-two-hosts.toml", d.path(), "t.toml");
    let out = d.path().join("out");
    let home = d.path().join("home");
    copy_tree(&fx.join("appm-1.2.0"), &home);
    let conf = home.join("repository/conf/app-manager.xml");
    // The operator's own environment, added by hand before topoplan ran.
    let own = "<Environment type=\"hybrid\"><Name>dr-site</Name><ServerURL>https://dr:9443/services/</ServerURL><Username>admin</Username><Password>admin</Password><GatewayEndpoint>http://dr:8280,https://dr:8243</GatewayEndpoint></Environment>";
    let text = std::fs::read_to_string(&conf).unwrap();
    let text = text.replacen(
        "</Environments>",
        &format!("{own}\n        </Environments>"),
        1,
    );
    std::fs::write(&conf, text).unwrap();
    let apply = || {
        crate::common::apply_ok(&out.join("publisher"), &home);
    };
    assert!(crate::common::bundle_to(&topo, &out).status.success());
    apply();
    assert!(std::fs::read_to_string(&conf)
        .unwrap()
        .contains("<Name>gw-west</Name>"));
    let text = std::fs::read_to_string(&topo).unwrap();
    let text = text
        .replace(
            "[[node]]\nname = \"gw-west\"\nroles = [\"gateway\"]\nhost = \"west\"\n",
            "",
        )
        .replace("[[link]]\nfrom = \"store\"\nto = \"gw-west\"\n", "");
    std::fs::write(&topo, text).unwrap();
    assert!(crate::common::bundle_to(&topo, &out).status.success());
    let check = topoplan()
        .arg("check")
        .arg(&topo)
        .arg(format!("--home=publisher={}", home.display()))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{said}");
    assert!(
        said.contains("gw-west") && said.contains("(absent"),
        "{said}"
    );
    apply();
    let after = std::fs::read_to_string(&conf).unwrap();
    assert!(!after.contains("gw-west"), "{after}");
    assert!(
        after.contains(own),
        "the operator's environment was touched"
    );
    let again = topoplan()
        .arg("check")
        .arg(&topo)
        .arg(format!("--home=publisher={}", home.display()))
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

/// With `--detailed-exitcode`, 2 means "changed" and nothing else (as in terraform): a script
/// that applies on 2 must never apply on a typo, a missing file or a broken topology.
#[test]
fn detailed_exitcode_keeps_2_for_changes_alone() {
    let d = tempfile::tempdir().unwrap();
    let topo = crate::common::copy_example("guide-gateway-km.toml", d.path(), "site.toml");
    let missing = d.path().join("no-such.toml");
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &missing),
        1,
        "missing file"
    );
    assert_eq!(code(&["plan"], &missing), 2, "missing file, plain plan");
    assert_eq!(
        code(&["plan", "--detailed-exitcode", "--fromat", "json"], &topo),
        1,
        "usage error"
    );
    let broken = d.path().join("broken.toml");
    std::fs::write(&broken, "[deployment]\nname = \"x\"\nproduct = \"nope\"\n").unwrap();
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &broken),
        1,
        "problems"
    );
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &topo),
        2,
        "no lock yet"
    );
    topoplan().arg("lock").arg(&topo).assert().success();
    assert_eq!(
        code(&["plan", "--detailed-exitcode"], &topo),
        0,
        "unchanged"
    );
}

#[test]
fn a_lock_of_another_topology_is_a_located_error() {
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("t.toml");
    std::fs::copy(
        crate::common::root().join("topologies/all-in-one.toml"),
        &topo,
    )
    .unwrap();
    std::fs::write(
        d.path().join("t.lock"),
        "version = 1\ndeployment = \"other\"\nproduct = \"appm-1.1.0\"\n",
    )
    .unwrap();
    let out = topoplan().arg("plan").arg(&topo).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error[foreign-lock]") && err.contains("t.lock:2:"),
        "{err}"
    );
}

#[test]
fn check_finds_exactly_the_value_edited_by_hand() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let topo = crate::common::root().join("topologies/thrift-cross-host.toml");
    let out = d.path().join("out");
    topoplan()
        .args(["bundle"])
        .arg(&topo)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    let mut args = vec!["check".to_string(), topo.display().to_string()];
    for n in plan["nodes"].as_array().unwrap() {
        let name = n["name"].as_str().unwrap();
        let home = d.path().join(name);
        copy_tree(&fx.join("appm-1.1.0"), &home);
        crate::common::apply_ok(&out.join(name), &home);
        args.push("--home".into());
        args.push(format!("{name}={}", home.display()));
    }
    let run = |extra: &[&str]| {
        let o = topoplan().args(&args).args(extra).output().unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8(o.stdout).unwrap(),
        )
    };
    let (c, text) = run(&[]);
    assert_eq!(c, 0, "{text}");
    assert!(text.starts_with("no drift"), "{text}");
    // The same homes from a mapping file.
    let map = d.path().join("homes.txt");
    let lines: Vec<&str> = args
        .iter()
        .skip(2)
        .filter(|a| *a != "--home")
        .map(String::as_str)
        .collect();
    std::fs::write(&map, format!("# node=home\n{}\n", lines.join("\n"))).unwrap();
    let o = topoplan()
        .arg("check")
        .arg(&topo)
        .arg("--homes-file")
        .arg(&map)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout)
        .starts_with(&format!("no drift: {} node(s)", lines.len())));

    // One port edited by hand on the key manager, and a start script that passes another offset.
    let amx = d.path().join("km1/repository/conf/app-manager.xml");
    let t = std::fs::read_to_string(&amx).unwrap();
    assert!(t.contains("<ThriftServerPort>10397<"));
    std::fs::write(
        &amx,
        t.replace("<ThriftServerPort>10397<", "<ThriftServerPort>10400<"),
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("gw-edge-2/bin")).unwrap();
    std::fs::write(
        d.path().join("gw-edge-2/bin/wso2server.sh"),
        "#!/bin/sh\n# -DportOffset=9 in a comment does not count\nexec java -DportOffset=7 \"$@\"\n",
    )
    .unwrap();
    let before: Vec<_> = std::fs::read(&amx).unwrap();
    let (c, json) = run(&["--format", "json"]);
    assert_eq!(c, 1, "{json}");
    assert_eq!(std::fs::read(&amx).unwrap(), before, "check only reads");
    let drift: serde_json::Value = serde_json::from_str(&json).unwrap();
    let drift = drift.as_array().unwrap();
    assert_eq!(drift.len(), 2, "{json}");
    assert_eq!(drift[0]["node"], "gw-edge-2");
    assert_eq!(drift[0]["found"], "7");
    assert_eq!(drift[1]["node"], "km1");
    assert_eq!(drift[1]["file"], "repository/conf/app-manager.xml");
    assert_eq!(
        drift[1]["element"],
        "/APIManager/APIKeyManager/ThriftServerPort/text()"
    );
    assert_eq!(
        (drift[1]["expected"].as_str(), drift[1]["found"].as_str()),
        (Some("10397"), Some("10400"))
    );
    let (_, text) = run(&[]);
    insta::assert_snapshot!("drift-report", text);
}

/// Re-bundling an unchanged plan writes nothing (every mtime stays); a change rewrites only
/// the files whose content changed, and the rest keep their mtime.
#[test]
fn rebundling_writes_only_what_changed() {
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("t.toml");
    let src = std::fs::read_to_string(crate::common::root().join("topologies/multi-host-ha.toml"))
        .unwrap();
    std::fs::write(&topo, &src).unwrap();
    let out = d.path().join("out");
    let bundle = || {
        let o = crate::common::bundle_to(&topo, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let mtimes = || -> std::collections::BTreeMap<std::path::PathBuf, std::time::SystemTime> {
        crate::common::tree(&out)
            .into_iter()
            .map(|(p, _)| {
                let m = std::fs::metadata(out.join(&p)).unwrap().modified().unwrap();
                (p, m)
            })
            .collect()
    };
    bundle();
    let before = mtimes();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let said = bundle();
    assert!(said.contains("nothing written"), "{said}");
    assert_eq!(mtimes(), before, "an unchanged plan rewrote files");
    // Rename the deployment: every file that names it changes, the others are kept.
    std::fs::write(&topo, src.replacen("name = \"", "name = \"renamed-", 1)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let said = bundle();
    assert!(said.contains("kept"), "{said}");
    let after = mtimes();
    let kept = after
        .iter()
        .filter(|(p, m)| before.get(*p) == Some(m))
        .count();
    let changed: Vec<_> = after
        .iter()
        .filter(|(p, m)| before.get(*p) != Some(m))
        .map(|(p, _)| p.clone())
        .collect();
    assert!(
        kept > 0 && !changed.is_empty(),
        "kept {kept}, changed {changed:?}"
    );
    for p in &changed {
        let text = std::fs::read_to_string(out.join(p)).unwrap_or_default();
        assert!(
            text.contains("renamed-") || p.ends_with(".topoplan-bundle"),
            "{} was rewritten without a change",
            p.display()
        );
    }
}

/// Re-bundling an unchanged plan trusts the folder only while it is untouched: the manifest's
/// digest of the inputs and each file's stat. An edit that keeps the size, or a file dropped
/// in, sends the run down the full render and compare, which restores or refuses.
#[test]
fn an_unchanged_rebundle_trusts_only_an_untouched_folder() {
    let d = tempfile::tempdir().unwrap();
    let topo = crate::common::copy_example("thrift-cross-host.toml", d.path(), "t.toml");
    let out = d.path().join("out");
    let bundle = || crate::common::bundle_to(&topo, &out);
    let first = bundle();
    assert!(first.status.success());
    let o = bundle();
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("untouched: nothing written"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // Not planned again, yet the plan's warnings are printed as the first run printed them.
    assert!(String::from_utf8_lossy(&first.stderr).contains("warning[cross-host-link]"));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&first.stderr)
    );
    // A new lock is a changed input: the plan is made again (its JSON now previews changes
    // against the lock), then trusted again.
    let lock = d.path().join("t.lock");
    crate::common::topoplan()
        .args(["lock", topo.to_str().unwrap()])
        .assert()
        .success();
    assert!(lock.exists());
    let o = bundle();
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("untouched"));
    assert!(String::from_utf8_lossy(&bundle().stdout).contains("untouched"));
    // Same size, one byte different: the stat no longer matches, the compare finds it.
    let start = out.join("km1/bin/start.sh");
    let good = std::fs::read_to_string(&start).unwrap();
    let i = good.find("portOffset=").expect("the offset option") + "portOffset=".len();
    let mut bad = good.clone().into_bytes();
    bad[i] = if bad[i] == b'9' { b'8' } else { b'9' };
    std::fs::write(&start, &bad).unwrap();
    let o = bundle();
    assert!(o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("(1 file(s) new or changed"), "{said}");
    assert_eq!(std::fs::read_to_string(&start).unwrap(), good);
    // Trusted again after the repair; then a file the user drops in is refused, not skipped.
    assert!(String::from_utf8_lossy(&bundle().stdout).contains("untouched"));
    std::fs::write(out.join("km1/bin/notes.txt"), "mine").unwrap();
    let o = bundle();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("km1/bin/notes.txt"));
}

/// An estate whose publishers list every gateway keeps that list once (plan JSON `lists`, the
/// lock's `lists`), and adding a gateway is one change for all of them, not one per publisher;
/// the first environment of every publisher stays.
#[test]
fn a_shared_list_is_kept_once_and_a_new_gateway_is_one_change() {
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("estate.toml");
    let g = topoplan()
        .args(["generate", "--product", "appm-1.2.0", "--hosts", "30"])
        .args(["--per-host", "5", "--unscoped"])
        .output()
        .unwrap();
    assert!(g.status.success());
    std::fs::write(&topo, &g.stdout).unwrap();
    let before = plan_json(&topo);
    let count = |role: &str| {
        (before["nodes"].as_array().unwrap().iter())
            .filter(|n| n["roles"].as_array().unwrap().iter().any(|r| r == role))
            .count()
    };
    let (gateways, publishers) = (count("gateway"), count("publisher"));
    let lists = before["lists"].as_array().unwrap();
    let envs = lists
        .iter()
        .find(|l| l["reference"] == "gateway_env")
        .expect("one shared list of gateway environments");
    assert_eq!(envs["entries"].as_array().unwrap().len(), gateways);
    assert_eq!(envs["readers"].as_array().unwrap().len(), publishers);
    assert!(
        (before["links"].as_array().unwrap().iter()).all(|l| l["reference"] != "gateway_env"),
        "no environment is a link of its own"
    );
    // Read as docs/plan-json.md says: every publisher lists every gateway, its own host's first.
    let all = crate::common::every_link(&before);
    let first_env = |plan: &serde_json::Value, publisher: &str| -> Vec<String> {
        (crate::common::every_link(plan).iter())
            .filter(|l| l["from"] == publisher && l["reference"] == "gateway_env")
            .map(|l| l["to"].as_str().unwrap().to_string())
            .collect()
    };
    let envs_of_p = first_env(&before, "n7-3");
    assert_eq!(envs_of_p.len(), gateways);
    assert!(
        envs_of_p[0].starts_with("n7-"),
        "{envs_of_p:?}: own host first"
    );
    assert_eq!(
        all.iter()
            .filter(|l| l["reference"] == "gateway_env")
            .count(),
        gateways * publishers
    );

    topoplan().arg("lock").arg(&topo).assert().success();
    let lock = std::fs::read_to_string(d.path().join("estate.lock")).unwrap();
    assert!(lock.contains("version = 3") && lock.contains("[[lists]]"));
    assert_eq!(
        lock.matches("reference = \"gateway_env\"").count(),
        1,
        "kept once"
    );

    // A gateway on a new host, named to sort before every other node.
    let mut text = std::fs::read_to_string(&topo).unwrap();
    text.push_str("\n[[host]]\nname = \"hx\"\naddress = \"10.9.9.9\"\n\n[[node]]\nname = \"a-new-gw\"\nroles = [\"gateway\"]\nhost = \"hx\"\n\n[[link]]\nfrom = \"a-new-gw\"\nto = \"n0-1\"\n");
    std::fs::write(&topo, text).unwrap();
    let after = plan_json(&topo);
    let changes = after["changes"].as_array().unwrap();
    let env_changes: Vec<&str> = (changes.iter())
        .map(|c| c["subject"].as_str().unwrap())
        .filter(|s| s.ends_with("(gateway_env)"))
        .collect();
    assert_eq!(
        env_changes,
        [format!(
            "n0-3 and {} other readers -> a-new-gw (gateway_env)",
            publishers - 1
        )
        .as_str()],
        "{changes:#?}"
    );
    assert!(changes.len() < 20, "{} changes", changes.len());
    for p in 0..30 {
        let name = format!("n{p}-3");
        assert_eq!(
            first_env(&after, &name)[0],
            first_env(&before, &name)[0],
            "{name}"
        );
    }
}
