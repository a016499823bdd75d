//! The windows between a check and the write that relies on it, and crashes in the middle of
//! a write: each driven deterministically (a kill or a pause at a chosen system call with
//! `strace`) or by a loop with a bound, and each failed on the code before it was closed.

use crate::common::{copy_tree, fixtures, tool, topoplan, tree};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn apply_cmd(bundle: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_topoplan"));
    c.arg("apply").arg(bundle).arg("--home").arg(home);
    c.env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD);
    c
}

/// `strace` running topoplan `args` (the password in its environment, as apply needs it).
fn traced(strace: &Path, options: &[&std::ffi::OsStr], args: &[&std::ffi::OsStr]) -> Command {
    let mut c = Command::new(strace);
    c.args(["-f", "-qq"]).args(options).arg("--");
    c.arg(env!("CARGO_BIN_EXE_topoplan")).args(args);
    c.env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD);
    c
}

fn bundle(topology: &Path, out: &Path) {
    let o = topoplan()
        .arg("bundle")
        .arg(topology)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A 1.1.0 gateway bundle of the cross-host example and a pristine home for it.
fn gateway_case(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let fx = fixtures()?.join("appm-1.1.0");
    let out = dir.join("out");
    bundle(
        &crate::common::root().join("topologies/thrift-cross-host.toml"),
        &out,
    );
    let home = dir.join("home");
    copy_tree(&fx, &home);
    Some((out.join("gw-edge-1"), home, fx))
}

/// The home's owner swaps `repository/conf` for a link out of the home, over and over, while
/// root applies: no file outside the home is ever written or created (the folder is opened
/// once and everything in it goes through that descriptor). Before, the path was walked
/// again for the read, the temporary file and the rename, and root patched the files behind
/// the link within a few tries.
#[test]
fn a_folder_swapped_for_a_link_during_apply_never_leads_out() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home, fx)) = gateway_case(d.path()) else {
        return;
    };
    let outside = d.path().join("outside");
    copy_tree(&fx.join("repository/conf"), &outside);
    let outside_before = tree(&outside);
    let conf = home.join("repository/conf");
    let parked = home.join("repository/conf.real");
    for _ in 0..60 {
        // A pristine home each round, so every apply has files to replace.
        std::fs::remove_dir_all(&home).unwrap();
        copy_tree(&fx, &home);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, conf, parked, outside) =
                (stop.clone(), conf.clone(), parked.clone(), outside.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // A link now and then, briefly: apply's checks mostly see the real folder,
                    // and its writes, which come after, meet the link.
                    if std::fs::rename(&conf, &parked).is_ok() {
                        let _ = std::os::unix::fs::symlink(&outside, &conf);
                        std::thread::sleep(std::time::Duration::from_micros(100));
                        let _ = std::fs::remove_file(&conf);
                        let _ = std::fs::rename(&parked, &conf);
                    }
                    std::thread::sleep(std::time::Duration::from_micros(3000));
                }
            })
        };
        let _ = apply_cmd(&gw, &home).output().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        swapper.join().unwrap();
        assert_eq!(
            tree(&outside),
            outside_before,
            "apply wrote through a folder swapped for a link"
        );
    }
}

/// `strace`, which kills or pauses a run at a chosen system call; `None` (skipped, except in
/// CI) when it is missing or not allowed to trace here.
fn strace() -> Option<PathBuf> {
    let s = tool("STRACE", &["strace"])?;
    let works = Command::new(&s)
        .args(["-f", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|st| st.success());
    assert!(
        works || std::env::var("CI").as_deref() != Ok("true"),
        "strace cannot trace here"
    );
    works.then_some(s)
}

/// The numbers (1-based, among every rename of the run) of the renames that put product
/// files in place, from an `strace` log of a whole apply on a copy. Apply renames the copies
/// of the files as they are (`.topoplan/pending/0`, `1`, …), the intent, the first backups,
/// then the product files: as many as there are copies, last.
fn product_renames(strace: &Path, gw: &Path, home: &Path, dir: &Path) -> Vec<usize> {
    let log = dir.join("renames.log");
    let args = apply_cmd(gw, home);
    let o = traced(
        strace,
        &[
            "-e".as_ref(),
            "trace=rename,renameat,renameat2".as_ref(),
            "-o".as_ref(),
            log.as_os_str(),
        ],
        &args.get_args().collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let log = std::fs::read_to_string(&log).unwrap();
    let renames: Vec<&str> = log.lines().filter(|l| l.contains("rename")).collect();
    let copies = renames
        .iter()
        .filter(|l| {
            l.trim_end_matches(|c: char| c != '"')
                .trim_end_matches('"')
                .rsplit('"')
                .next()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .count();
    (renames.len() - copies + 1..=renames.len()).collect()
}

/// A kill in the middle of apply's renames (after the first product file is replaced, before
/// the second) leaves a home half patched; the next `apply` first puts back what the killed
/// run replaced, then applies: the home ends exactly as one uninterrupted apply leaves it,
/// with the pristine originals as backups. Before, the next run just applied on top, and a
/// home left alone stayed half patched with nothing saying so.
#[test]
fn a_killed_apply_is_put_back_by_the_next() {
    let Some(strace) = strace() else { return };
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home, fx)) = gateway_case(d.path()) else {
        return;
    };
    // What one uninterrupted apply makes, and the rename numbers of the product files.
    let reference = d.path().join("reference");
    copy_tree(&fx, &reference);
    let renames = product_renames(&strace, &gw, &reference, d.path());
    assert!(renames.len() >= 2, "the gateway changes several files");
    let kill = format!(
        "inject=rename,renameat,renameat2:signal=KILL:when={}",
        renames[1]
    );
    let args = apply_cmd(&gw, &home);
    let o = traced(
        &strace,
        &[
            "-o".as_ref(),
            "/dev/null".as_ref(),
            "-e".as_ref(),
            kill.as_ref(),
        ],
        &args.get_args().collect::<Vec<_>>(),
    )
    .output()
    .unwrap();
    assert!(!o.status.success(), "the run was killed");
    // Half patched now, and the intent says so.
    assert!(home.join(".topoplan/pending/intent").is_file());
    let dry = apply_cmd(&gw, &home).arg("--dry-run").output().unwrap();
    assert!(
        stderr(&dry).contains("interrupted"),
        "a dry run says so: {}",
        stderr(&dry)
    );
    let o = apply_cmd(&gw, &home).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 put back"),
        "the replaced file was put back first: {}",
        stderr(&o)
    );
    assert!(!home.join(".topoplan/pending").exists());
    let product = |t: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        t.into_iter()
            .filter(|(p, _)| !p.starts_with(".topoplan/pending"))
            .collect()
    };
    assert_eq!(product(tree(&home)), product(tree(&reference)));
}

/// `topoplan bundle` swaps the bundle while apply reads it (apply paused for a moment right
/// after opening one patch): apply refuses, writing nothing, instead of applying carbon.xml's
/// patch from one plan and the others from another.
#[test]
fn apply_refuses_a_bundle_replaced_while_it_reads() {
    let Some(strace) = strace() else { return };
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home, _)) = gateway_case(d.path()) else {
        return;
    };
    let before = tree(&home);
    // Another plan for the same nodes: the gateway moves to another offset.
    let topo =
        std::fs::read_to_string(crate::common::root().join("topologies/thrift-cross-host.toml"))
            .unwrap();
    let other = d.path().join("other.toml");
    std::fs::write(&other, moved_gateway(&topo)).unwrap();
    let patch = gw.join("overlay/repository/conf/carbon.xml.patch.xml");
    assert!(patch.is_file());
    let args = apply_cmd(&gw, &home);
    let child = traced(
        &strace,
        &[
            "-o".as_ref(),
            "/dev/null".as_ref(),
            "-P".as_ref(),
            patch.as_os_str(),
            "-e".as_ref(),
            "inject=openat:delay_exit=3000000".as_ref(),
        ],
        &args.get_args().collect::<Vec<_>>(),
    )
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Apply has taken the home's lock (then it reads node.json and carbon.xml's patch, where it
    // waits for 3 s): the re-bundle lands while it reads.
    wait_for(|| home.join(".topoplan/lock").is_file());
    std::thread::sleep(std::time::Duration::from_millis(300));
    bundle(&other, &d.path().join("out"));
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("was replaced while apply read it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&home), before);
}

/// Waits (at most 30 s) until `ready` holds.
fn wait_for(ready: impl Fn() -> bool) {
    for _ in 0..600 {
        if ready() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the paused run never got there");
}

/// The cross-host example with the edge gateway's offset pinned elsewhere.
fn moved_gateway(topo: &str) -> String {
    let marker = "name = \"gw-edge-1\"";
    assert!(topo.contains(marker));
    topo.replacen(marker, &format!("{marker}\noffset = 7"), 1)
}

/// `node.json` is a file of the bundle: a marker or release file it names outside the home
/// (`..`, an absolute path) is refused before anything is read there.
#[test]
fn node_record_paths_stay_in_the_home() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home, _)) = gateway_case(d.path()) else {
        return;
    };
    let record = gw.join("node.json");
    let text = std::fs::read_to_string(&record).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (key, bad) in [("marker", "/etc"), ("file", "../../outside.xml")] {
        let mut w = v.clone();
        w["home"][key] = serde_json::Value::String(bad.into());
        std::fs::write(&record, w.to_string()).unwrap();
        let o = apply_cmd(&gw, &home).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{key}: {}", stderr(&o));
        assert!(stderr(&o).contains("not paths inside it"), "{}", stderr(&o));
    }
    v["home"]["marker"] = serde_json::Value::String("repository".into());
    std::fs::write(&record, v.to_string()).unwrap();
}

/// A file saved into a node folder after `bundle` checked the old bundle holds only its own
/// files, and before it swapped the new one in (bundle paused right before the swap), is not
/// deleted with the old bundle: the old one is kept beside the new, and the run says where.
#[test]
fn a_file_saved_into_the_bundle_during_the_swap_is_kept() {
    let Some(strace) = strace() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let root = crate::common::root();
    bundle(&root.join("topologies/thrift-cross-host.toml"), &out);
    let topo = std::fs::read_to_string(root.join("topologies/thrift-cross-host.toml")).unwrap();
    let other = d.path().join("other.toml");
    std::fs::write(&other, moved_gateway(&topo)).unwrap();
    let child = traced(
        &strace,
        &[
            "-o".as_ref(),
            "/dev/null".as_ref(),
            "-e".as_ref(),
            "inject=renameat2:delay_enter=3000000".as_ref(),
        ],
        &[
            "bundle".as_ref(),
            other.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    )
    .current_dir(&root)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // The new bundle is whole in its staging folder (its manifest is written last) once bundle
    // waits at the exchange: the check of the old bundle is behind it.
    wait_for(|| {
        std::fs::read_dir(d.path()).unwrap().flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".topoplan-bundle-out-")
                && e.path().join(".topoplan-bundle").is_file()
        })
    });
    std::fs::write(out.join("gw-edge-1/notes.txt"), "the operator's notes").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = d.path().join("out.previous-1/gw-edge-1/notes.txt");
    assert_eq!(
        std::fs::read_to_string(&kept).ok().as_deref(),
        Some("the operator's notes"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("kept the previous bundle"));
}
