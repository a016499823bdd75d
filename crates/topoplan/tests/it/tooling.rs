//! The operators' tools: the topology schema for taplo-based editors, shell completions and
//! the manual page, help with examples, and `init`.

use crate::common::{root, toml_files, tool, topoplan};
use std::process::Command;

fn stdout(args: &[&str]) -> String {
    let o = topoplan().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `docs/topology.schema.json` is what `topoplan schema` prints (`TOPOPLAN_BLESS=1` rewrites it).
#[test]
fn the_published_schema_is_the_generated_one() {
    let want = stdout(&["schema"]);
    let path = root().join("docs/topology.schema.json");
    if std::env::var_os("TOPOPLAN_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == want,
        "docs/topology.schema.json is stale: run `TOPOPLAN_BLESS=1 cargo test -p topoplan --test tooling`"
    );
    let schema: serde_json::Value = serde_json::from_str(&want).unwrap();
    for (table, keys) in [
        ("node", topoplan_model::topology::NODE_KEYS),
        ("host", topoplan_model::topology::HOST_KEYS),
        ("link", topoplan_model::topology::LINK_KEYS),
        ("database", topoplan_model::topology::DATABASE_KEYS),
    ] {
        let props = &schema["properties"][table]["items"]["properties"];
        for (k, _) in keys {
            assert!(props.get(*k).is_some(), "schema lacks {table}.{k}");
        }
        assert_eq!(props.as_object().unwrap().len(), keys.len());
    }
}

#[test]
fn taplo_validates_every_example_and_rejects_a_misspelt_key() {
    let Some(taplo) = tool("TAPLO", &["taplo"]) else {
        return;
    };
    let files = toml_files("topologies");
    for f in &files {
        let first = std::fs::read_to_string(root().join(f)).unwrap();
        assert!(
            first.starts_with("#:schema ../docs/topology.schema.json\n"),
            "{f} has no #:schema directive"
        );
    }
    let st = Command::new(&taplo)
        .arg("check")
        .args(&files)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let d = tempfile::tempdir_in(root().join("topologies")).unwrap();
    let bad = d.path().join("bad.toml");
    std::fs::write(
        &bad,
        "#:schema ../../docs/topology.schema.json\n[deployment]\nname = \"x\"\nproduct = \"appm-1.2.0\"\n[[host]]\nname = \"h\"\n[[node]]\nname = \"a\"\nroles = [\"all\"]\nhost = \"h\"\nofset = 2\n",
    )
    .unwrap();
    let st = Command::new(&taplo)
        .arg("check")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!st.status.success(), "taplo accepted a misspelt key");
    assert!(String::from_utf8_lossy(&st.stderr).contains("ofset"));
}

#[test]
fn completions_load_in_bash_and_the_man_page_renders() {
    let Some(bash) = tool("BASH", &["bash"]) else {
        return;
    };
    let script = stdout(&["completions", "bash"]);
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("c.bash"), script).unwrap();
    let o = Command::new(bash)
        .arg("-c")
        .arg("source ./c.bash && complete -p topoplan")
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("topoplan"));

    let Some(man) = tool("MAN", &["man"]) else {
        return;
    };
    std::fs::write(d.path().join("topoplan.1"), stdout(&["man"])).unwrap();
    let o = Command::new(man)
        .arg("./topoplan.1")
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .current_dir(d.path())
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for word in ["NAME", "topoplan", "SUBCOMMANDS", "plan", "apply", "check"] {
        assert!(page.contains(word), "man page lacks {word}: {page}");
    }
}

#[test]
fn every_subcommand_help_shows_examples() {
    let top = stdout(&["--help"]);
    let subs: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|s| s != "help")
        .collect();
    assert!(subs.len() >= 10, "{subs:?}");
    for s in subs {
        let h = stdout(&[&s, "--help"]);
        assert!(
            h.contains("Examples:\n  "),
            "`topoplan {s} --help` has no examples"
        );
    }
}

#[test]
fn init_writes_starters_that_plan_for_every_product_and_preset() {
    let d = tempfile::tempdir().unwrap();
    for product in ["appm-1.1.0", "appm-1.2.0"] {
        for preset in ["all-in-one", "distributed", "ha"] {
            let f = d.path().join(format!("{product}-{preset}.toml"));
            topoplan()
                .args(["init", "--product", product, "--preset", preset, "-o"])
                .arg(&f)
                .assert()
                .success();
            let o = topoplan().arg("plan").arg(&f).output().unwrap();
            assert!(
                o.status.success(),
                "{product} {preset}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            // init never overwrites.
            let again = topoplan()
                .args(["init", "--product", product, "--preset", preset, "-o"])
                .arg(&f)
                .output()
                .unwrap();
            assert!(!again.status.success());
        }
    }
}
