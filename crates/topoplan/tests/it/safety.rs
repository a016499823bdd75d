//! topoplan runs as root on production hosts. These are the ways a hostile or clumsy operator
//! (or another process on the host) could make it destroy data or write where it should not;
//! each test failed on the code before `topoplan-safefs`. Cases where permissions matter run
//! topoplan as `nobody` through `setpriv`, since root ignores file modes.

use crate::common::{copy_tree, fixtures, topoplan, tree};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOBODY: u32 = 65534;

fn bundle(topology: &str, out: &Path) -> std::process::Output {
    topoplan()
        .args(["bundle", topology, "-o"])
        .arg(out)
        .output()
        .unwrap()
}

fn apply(bundle: &Path, home: &Path) -> std::process::Output {
    topoplan()
        .arg("apply")
        .arg(bundle)
        .arg("--home")
        .arg(home)
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Root, for the tests that hand files to another user; skipped with the reason otherwise.
fn is_root() -> bool {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    if uid.trim() == "0" {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI runs as root; these checks need it"
    );
    eprintln!("skipped: not root, cannot hand files to another user");
    false
}

fn chown_r(path: &Path, uid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{uid}"))
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A scratch folder `nobody` can traverse (test temp folders are 0700 root).
fn open_tempdir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Runs topoplan as `nobody` (root ignores file modes). The checkout may sit in a folder
/// `nobody` cannot enter, so a copy of the binary in the open folder `dir` is run.
fn as_nobody(dir: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    let exe = dir.join("topoplan");
    std::fs::copy(env!("CARGO_BIN_EXE_topoplan"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(&exe)
        .args(args)
        .output()
        .unwrap()
}

/// A 1.1.0 gateway bundle and a pristine home for it.
fn gateway_case(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let fx = fixtures()?;
    let out = dir.join("out");
    assert!(bundle("topologies/thrift-cross-host.toml", &out)
        .status
        .success());
    let home = dir.join("home");
    copy_tree(&fx.join("appm-1.1.0"), &home);
    Some((out.join("gw-edge-1"), home))
}

#[test]
fn bundle_never_replaces_a_folder_it_did_not_write() {
    let d = tempfile::tempdir().unwrap();
    // A user's folder that happens to hold a folder named like a node.
    let out = d.path().join("Documents");
    std::fs::create_dir_all(out.join("appm")).unwrap();
    std::fs::write(out.join("appm/thesis.txt"), "years of work").unwrap();
    let before = tree(&out);
    let o = bundle("topologies/all-in-one.toml", &out);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("refusing to replace"), "{}", stderr(&o));
    assert_eq!(tree(&out), before);

    // A bundle folder the user added a file to is not replaced either.
    let ours = d.path().join("ours");
    assert!(bundle("topologies/all-in-one.toml", &ours).status.success());
    std::fs::write(ours.join("appm/notes.txt"), "mine").unwrap();
    let o = bundle("topologies/all-in-one.toml", &ours);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("appm/notes.txt"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(ours.join("appm/notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn rebundling_swaps_the_whole_folder_and_reports_removed_nodes() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    assert!(bundle("topologies/multi-host-ha.toml", &out)
        .status
        .success());
    assert!(out.join("gw2").is_dir());
    let o = bundle("topologies/guide-gateway-km.toml", &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("removed") && said.contains("gw2"), "{said}");
    assert!(!out.join("gw2").exists(), "a stale node bundle stays");
    assert!(out.join("gateway/node.json").is_file());
    // Nothing but the bundle is left beside it: no staging or old copies.
    let siblings: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(siblings, vec!["out".to_string()]);
}

#[test]
fn output_files_refuse_special_files_and_planted_temp_symlinks() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let o = topoplan()
        .args([
            "graph",
            "topologies/all-in-one.toml",
            "--format",
            "dot",
            "-o",
        ])
        .arg(&fifo)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo_like());

    // A symlink planted at the temporary name the old code used must not be written through.
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, d.path().join(".review.md.topoplan-tmp")).unwrap();
    let o = topoplan()
        .args(["review", "topologies/all-in-one.toml", "-o"])
        .arg(d.path().join("review.md"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}
impl FifoLike for std::fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}

#[test]
fn apply_never_writes_through_symlinks_out_of_the_home() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let outside = d.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();

    // 1. A symlink planted at the old predictable temporary name.
    std::fs::write(outside.join("shadow"), "root:x:0:0").unwrap();
    std::os::unix::fs::symlink(
        outside.join("shadow"),
        home.join("repository/conf/.app-manager.xml.topoplan-tmp"),
    )
    .unwrap();
    assert!(apply(&gw, &home).status.success());
    assert_eq!(
        std::fs::read_to_string(outside.join("shadow")).unwrap(),
        "root:x:0:0"
    );

    // 2. A product file that is a symlink out of the home: refused, nothing written.
    let d2 = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d2.path()) else {
        return;
    };
    let carbon = home.join("repository/conf/carbon.xml");
    std::fs::rename(&carbon, outside.join("carbon.xml")).unwrap();
    std::os::unix::fs::symlink(outside.join("carbon.xml"), &carbon).unwrap();
    let (home_before, out_before) = (
        tree(&home),
        std::fs::read(outside.join("carbon.xml")).unwrap(),
    );
    let o = apply(&gw, &home);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("outside"), "{}", stderr(&o));
    assert_eq!(tree(&home), home_before);
    assert_eq!(
        std::fs::read(outside.join("carbon.xml")).unwrap(),
        out_before
    );
    assert!(std::fs::symlink_metadata(&carbon)
        .unwrap()
        .file_type()
        .is_symlink());

    // 3. A folder on the way that is a symlink out of the home.
    let d3 = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d3.path()) else {
        return;
    };
    let api = home.join("repository/deployment/server/synapse-configs/default/api");
    let moved = outside.join("api");
    std::fs::rename(&api, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &api).unwrap();
    let before = tree(&moved);
    let o = apply(&gw, &home);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(tree(&moved), before);
}

#[test]
fn apply_refuses_a_home_of_another_release() {
    let d = tempfile::tempdir().unwrap();
    let Some(fx) = fixtures() else { return };
    let out = d.path().join("out");
    assert!(bundle("topologies/multi-host-ha.toml", &out)
        .status
        .success());
    let home = d.path().join("home");
    copy_tree(&fx.join("appm-1.1.0"), &home);
    let before = tree(&home);
    let o = apply(&out.join("gw1"), &home);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("1.1.0") && stderr(&o).contains("1.2.0"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&home), before);
}

/// As root: a gateway case in an open folder, its home handed to `nobody`.
fn service_account_case() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if !is_root() {
        return None;
    }
    let d = open_tempdir();
    let (gw, home) = gateway_case(d.path())?;
    chown_r(&home, NOBODY);
    Some((d, gw, home))
}

#[test]
fn a_failed_apply_leaves_the_home_byte_identical() {
    let Some((d, gw, home)) = service_account_case() else {
        return;
    };
    chown_r(&gw, NOBODY);
    // The gateway patches repository/conf first, then synapse-configs: make the last folder
    // unwritable, so the failure comes after other files were ready.
    let api = home.join("repository/deployment/server/synapse-configs/default/api");
    std::fs::set_permissions(&api, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = tree(&home);
    let o = as_nobody(
        d.path(),
        &[
            "apply".as_ref(),
            gw.as_os_str(),
            "--home".as_ref(),
            home.as_os_str(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(
        tree(&home),
        before,
        "the home changed although apply failed"
    );
}

#[test]
fn apply_as_root_keeps_owner_and_mode_and_hides_backups() {
    let Some((_d, gw, home)) = service_account_case() else {
        return;
    };
    let amx = home.join("repository/conf/app-manager.xml");
    std::fs::set_permissions(&amx, std::fs::Permissions::from_mode(0o640)).unwrap();
    let o = apply(&gw, &home);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata(&amx).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (NOBODY, NOBODY, 0o640)
    );
    let backup = home.join(".topoplan/backup/repository/conf/app-manager.xml");
    let b = std::fs::metadata(&backup).unwrap();
    assert_eq!(
        b.mode() & 0o7777,
        0o640,
        "the backup keeps the original's mode"
    );
    for dir in [home.join(".topoplan"), home.join(".topoplan/backup")] {
        assert_eq!(
            std::fs::metadata(&dir).unwrap().mode() & 0o777,
            0o700,
            "{} holds copies of files with passwords",
            dir.display()
        );
    }
}

#[test]
fn apply_holds_a_lock_on_the_home() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    // Another run holds the home's lock file (in root's own `.topoplan/`).
    std::fs::create_dir_all(home.join(".topoplan")).unwrap();
    let held = std::fs::File::create(home.join(".topoplan/lock")).unwrap();
    held.lock().unwrap();
    let before = tree(&home);
    let o = apply(&gw, &home);
    assert!(!o.status.success());
    let pid = std::process::id().to_string();
    assert!(
        stderr(&o).contains(&format!("held by another topoplan run (process {pid})")),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&home), before);
    held.unlock().unwrap();
    drop(held);
    // A lock on the home folder itself, which anyone who can open it could take, stops
    // nothing; the run leaves no lock file behind.
    let folder = std::fs::File::open(&home).unwrap();
    folder.lock().unwrap();
    assert!(apply(&gw, &home).status.success());
    assert!(!home.join(".topoplan/lock").exists());
}

#[test]
fn names_the_docs_allow_stay_appliable() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("t.toml");
    std::fs::write(
        &topo,
        "[deployment]\nname = \"a--b\"\nproduct = \"appm-1.1.0\"\n\n[[host]]\nname = \"h--1\"\naddress = \"xn--bcher-kva.example\"\n\n\
         [[node]]\nname = \"gw--1\"\nroles = [\"gateway\"]\nhost = \"h--1\"\n\n[[node]]\nname = \"km--1\"\nroles = [\"key-manager\", \"store\", \"publisher\"]\nhost = \"h--1\"\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = bundle(topo.to_str().unwrap(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    for node in ["gw--1", "km--1"] {
        let home = d.path().join(node);
        copy_tree(&fx.join("appm-1.1.0"), &home);
        let o = apply(&out.join(node), &home);
        assert!(o.status.success(), "{node}: {}", stderr(&o));
        let carbon = std::fs::read_to_string(home.join("repository/conf/carbon.xml")).unwrap();
        assert!(carbon.contains("<HostName>xn--bcher-kva.example</HostName>"));
    }
}

#[test]
fn an_empty_thrift_server_host_is_filled_once() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let amx = home.join("repository/conf/app-manager.xml");
    let text = std::fs::read_to_string(&amx).unwrap().replacen(
        "<ThriftClientPort>",
        "<ThriftServerHost/>\n        <ThriftClientPort>",
        1,
    );
    std::fs::write(&amx, text).unwrap();
    assert!(apply(&gw, &home).status.success());
    assert!(apply(&gw, &home).status.success());
    let after = std::fs::read_to_string(&amx).unwrap();
    let live = after
        .lines()
        .filter(|l| l.contains("<ThriftServerHost") && !l.contains("<!--"))
        .count();
    assert_eq!(live, 1, "{after}");
}

#[test]
fn two_bundle_runs_never_interleave() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    assert!(bundle("topologies/all-in-one.toml", &out).status.success());
    let before = tree(&out);
    // Another run holds the lock file beside the output.
    let held = std::fs::File::create(d.path().join(".out.topoplan-lock")).unwrap();
    held.lock().unwrap();
    let o = bundle("topologies/guide-gateway-km.toml", &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("held by another topoplan run"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&out), before);
    drop(held);
    // Only the run's own lock file counts: a lock on the shared folder stops nothing.
    let folder = std::fs::File::open(d.path()).unwrap();
    folder.lock().unwrap();
    assert!(bundle("topologies/guide-gateway-km.toml", &out)
        .status
        .success());
    assert!(!d.path().join(".out.topoplan-lock").exists());
}

#[test]
fn a_failed_bundle_leaves_the_old_one_whole() {
    if !is_root() {
        return;
    }
    let d = open_tempdir();
    let parent = d.path().join("bundles");
    std::fs::create_dir(&parent).unwrap();
    let out = parent.join("out");
    assert!(bundle("topologies/multi-host-ha.toml", &out)
        .status
        .success());
    chown_r(&parent, NOBODY);
    // The operator may write the bundle but not create folders beside it: staging fails.
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before = tree(&out);
    let topology = crate::common::root().join("topologies/guide-gateway-km.toml");
    let o = as_nobody(
        d.path(),
        &[
            "bundle".as_ref(),
            topology.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
    );
    assert!(!o.status.success());
    assert_eq!(tree(&out), before, "the old bundle must stay whole");
    let left: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 1, "nothing half-written beside it: {left:?}");
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("t.toml");
    std::fs::write(
        &topo,
        // Escape sequences as TOML escapes (valid TOML: they reach the messages) ...
        "[deployment]\nname = \"x\"\nproduct = \"appm-1.2.0\"\n[[host]]\nname = \"h\"\n[[node]]\nname = \"a\"\nroles = [\"\\u001b[2J\\u001b]0;owned\\u0007\"]\nhost = \"h\\u001b[31m\"\n",
    )
    .unwrap();
    let o = topoplan().arg("plan").arg(&topo).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("\\u{1b}"), "shown escaped: {err}");
    // ... and raw in the file (invalid TOML: they reach the quoted source line).
    std::fs::write(&topo, "[deployment]\nname = \"x\u{1b}[2J\"\n").unwrap();
    let o = topoplan().arg("plan").arg(&topo).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains('\u{1b}'), "{:?}", stderr(&o));
}

/// `-o .` (or a mount point): an empty one is filled in place (the folder cannot be renamed,
/// and need not be); one that holds a bundle cannot be swapped for a new one in one step: the
/// error says so once, with what to do, exits 2 (an I/O error, not a problem of the
/// topology) and leaves the bundle there as it was.
#[test]
fn bundling_into_the_current_folder_fills_it_or_says_what_to_do_instead() {
    let d = tempfile::tempdir().unwrap();
    let run = |example: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_topoplan"))
            .arg("bundle")
            .arg(crate::common::root().join("topologies").join(example))
            .args(["-o", "."])
            .current_dir(d.path())
            .output()
            .unwrap()
    };
    let o = run("all-in-one.toml");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.path().join("appm/node.json").is_file());
    let before = tree(d.path());
    let o = run("thrift-cross-host.toml");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("os error").count(), 1, "{stderr}");
    assert!(stderr.contains("give a folder inside it"), "{stderr}");
    assert_eq!(tree(d.path()), before, "left something behind");
}

/// An empty output folder the operator made (a shared group, the setgid bit, a default ACL)
/// is filled in place and keeps all of that, less write access for group and others; an
/// output file another account made, even `0666`, is replaced by one of root's that only root
/// can write (root reads its lock and playbook back).
#[test]
fn an_operators_empty_folder_keeps_its_identity_and_foreign_files_become_roots() {
    if !is_root() {
        return;
    }
    let d = open_tempdir();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    assert!(Command::new("chgrp")
        .arg("nogroup")
        .arg(&out)
        .status()
        .unwrap()
        .success());
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let acl = Command::new("setfacl")
        .args(["-d", "-m", "u:nobody:rx"])
        .arg(&out)
        .status();
    let has_acl = acl.is_ok_and(|s| s.success());
    let o = bundle("topologies/all-in-one.toml", &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata(&out).unwrap();
    assert_eq!(
        m.mode() & 0o7777,
        0o2755,
        "setgid kept, group write dropped"
    );
    assert_eq!(m.gid(), NOBODY, "the group is kept");
    if has_acl {
        let got = Command::new("getfacl")
            .arg("-d")
            .arg(&out)
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&got.stdout).contains("user:nobody:r-x"));
    }
    // An output file of another account's, writable by everyone.
    let review = d.path().join("review.md");
    std::fs::write(&review, "theirs").unwrap();
    chown_r(&review, NOBODY);
    std::fs::set_permissions(&review, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = topoplan()
        .args(["review", "topologies/all-in-one.toml", "-o"])
        .arg(&review)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m = std::fs::metadata(&review).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o644));
}

/// A bundle that targets topoplan's own folder (the pristine backups) is refused: after a
/// first apply, a patch planted under `overlay/.topoplan/backup/…` rewrites nothing.
#[test]
fn a_bundle_never_patches_the_backups() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    assert!(apply(&gw, &home).status.success());
    let backup = home.join(".topoplan/backup/repository/conf/carbon.xml");
    assert!(backup.is_file());
    let planted = gw.join("overlay/.topoplan/backup/repository/conf/carbon.xml.patch.xml");
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::copy(
        gw.join("overlay/repository/conf/carbon.xml.patch.xml"),
        &planted,
    )
    .unwrap();
    let before = tree(&home);
    let o = apply(&gw, &home);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("`.topoplan/`"), "{}", stderr(&o));
    assert_eq!(tree(&home), before, "nothing written");
}

/// The home's owner cannot steer root's backups: `.topoplan` (or a folder under it) as a
/// symlink out of the home, or as a folder another user made, is refused before anything is
/// written, and the folder it points at keeps its mode and gets no file.
#[test]
fn backups_never_go_through_a_link_or_into_a_folder_of_another_user() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, home.join(".topoplan")).unwrap();
    let before = tree(&home);
    let o = apply(&gw, &home);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("symlink"), "{}", stderr(&o));
    assert_eq!(tree(&home), before, "nothing written");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755, "the linked folder was chmodded");

    // A real `.topoplan` that another account made: refused too (only as root can the test
    // give it another owner).
    if running_as_root() {
        std::fs::remove_file(home.join(".topoplan")).unwrap();
        std::fs::create_dir(home.join(".topoplan")).unwrap();
        std::os::unix::fs::chown(home.join(".topoplan"), Some(65534), Some(65534)).unwrap();
        let o = apply(&gw, &home);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("belongs to user id 65534"),
            "{}",
            stderr(&o)
        );
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // The owner of a file this process just made is its effective user.
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::metadata(f.path()).unwrap().uid() == 0
}

/// A FIFO where a product file should be is refused at once by `apply` and `check`, never
/// read (which would block the run, holding the home's lock). The wait is bounded so that a
/// regression fails here instead of hanging the suite.
#[test]
fn a_fifo_in_place_of_a_product_file_is_refused_not_read() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let carbon = home.join("repository/conf/carbon.xml");
    std::fs::remove_file(&carbon).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&carbon)
        .status()
        .unwrap();
    assert!(made.success());
    let topology = crate::common::root().join("topologies/thrift-cross-host.toml");
    let runs: [Vec<std::ffi::OsString>; 2] = [
        vec![
            "apply".into(),
            gw.clone().into(),
            "--home".into(),
            home.clone().into(),
        ],
        vec![
            "check".into(),
            topology.into(),
            format!("--home=gw-edge-1={}", home.display()).into(),
        ],
    ];
    for args in runs {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_topoplan"))
            .args(&args)
            .current_dir(crate::common::root())
            .env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut status = None;
        for _ in 0..300 {
            if let Some(s) = child.try_wait().unwrap() {
                status = Some(s);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if status.is_none() {
            let _ = child.kill();
            panic!("{args:?} blocked on the FIFO");
        }
        let out = child.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains("not a regular file"), "{args:?}: {said}");
    }
}

/// Profile strings that reach the Ansible export never carry Jinja to the controller:
/// `profile check` refuses them at their line, and the export tags any it is given `!unsafe`.
#[test]
fn jinja_in_a_profile_never_reaches_ansible_as_a_template() {
    let d = tempfile::tempdir().unwrap();
    let templates = d.path().join("templates");
    crate::common::copy_tree(&crate::common::root().join("templates"), &templates);
    let profile = templates.join("appm-1.2.0/profile.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    let text = text
        .replace(
            "home_base = \"/opt/wso2\"",
            "home_base = \"/opt/{{ lookup('pipe', 'touch /tmp/pwned') }}\"",
        )
        .replace(
            "suffix = \"/services/\"",
            "suffix = \"/services/{% raw %}\"",
        );
    std::fs::write(&profile, &text).unwrap();
    let o = topoplan()
        .args(["profile", "check"])
        .arg(templates.join("appm-1.2.0"))
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!("profile.toml:{}:", line("home_base ="))) && err.contains("Jinja"),
        "{err}"
    );
    assert!(
        err.contains(&format!("profile.toml:{}:", line("suffix ="))),
        "{err}"
    );
    // `plan` and `export` load the same checked profile: refused before anything is written.
    let out = d.path().join("deploy");
    let e = topoplan()
        .args(["export", "ansible"])
        .arg(crate::common::root().join("topologies/multi-host-ha.toml"))
        .arg("--templates")
        .arg(&templates)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!e.status.success());
    assert!(stderr(&e).contains("Jinja"), "{}", stderr(&e));
    assert!(!out.join("site.yml").exists() && !out.join("inventory.yml").exists());
}

/// Under umask 000 a bundle's folders and files are still writable by root alone, and `export
/// ansible` never replaces an inventory or playbook it did not write.
#[test]
fn bundles_ignore_a_permissive_umask_and_exports_keep_the_operators_files() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let topo = crate::common::root().join("topologies/multi-host-ha.toml");
    let bin = env!("CARGO_BIN_EXE_topoplan");
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" bundle \"$1\" -o \"$2\"")
        .arg(bin)
        .arg(&topo)
        .arg(&out)
        .env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut seen = 0;
    for (rel, _) in crate::common::tree(&out) {
        let path = out.join(rel);
        for p in path
            .ancestors()
            .take_while(|p| p.starts_with(&out) && *p != out)
        {
            let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o022, 0, "{} is {:o}", p.display(), mode & 0o7777);
            seen += 1;
        }
    }
    assert!(seen > 50, "{seen}");
    // The operator's own Ansible project in the export folder.
    let deploy = d.path().join("deploy");
    std::fs::create_dir(&deploy).unwrap();
    std::fs::write(deploy.join("site.yml"), "- hosts: all\n  roles: [mine]\n").unwrap();
    let e = topoplan()
        .args(["export", "ansible"])
        .arg(&topo)
        .arg("-o")
        .arg(&deploy)
        .output()
        .unwrap();
    assert!(!e.status.success());
    assert!(stderr(&e).contains("did not write it"), "{}", stderr(&e));
    assert_eq!(
        std::fs::read_to_string(deploy.join("site.yml")).unwrap(),
        "- hosts: all\n  roles: [mine]\n"
    );
    // What an export wrote, it replaces.
    std::fs::remove_file(deploy.join("site.yml")).unwrap();
    for _ in 0..2 {
        let e = topoplan()
            .args(["export", "ansible"])
            .arg(&topo)
            .arg("-o")
            .arg(&deploy)
            .output()
            .unwrap();
        assert!(e.status.success(), "{}", stderr(&e));
    }
}

/// A `--templates` folder is read as files of its own: a link out of it, a FIFO and a device
/// are refused (quickly, never read), and no template reads root's environment.
#[test]
fn a_templates_folder_is_read_only_as_its_own_regular_files() {
    let d = tempfile::tempdir().unwrap();
    let fresh = |name: &str| {
        let t = d.path().join(name);
        crate::common::copy_tree(&crate::common::root().join("templates"), &t);
        t
    };
    let topo = crate::common::root().join("topologies/three-host-split.toml");
    let plan = |templates: &Path| {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_topoplan"))
            .arg("--templates")
            .arg(templates)
            .arg("bundle")
            .arg(&topo)
            .arg("-o")
            .arg(d.path().join(format!(
                "out-{}",
                templates.file_name().unwrap().to_string_lossy()
            )))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        bounded(child, &templates.display().to_string())
    };
    let overlay = "appm-1.1.0/overlay/repository/conf/carbon.xml.patch.xml.tera";
    // A link to a file outside the folder (here: a secret of root's).
    let secret = d.path().join("secret.txt");
    std::fs::write(&secret, "root-only secret").unwrap();
    let linked = fresh("linked");
    std::fs::remove_file(linked.join(overlay)).unwrap();
    std::os::unix::fs::symlink(&secret, linked.join(overlay)).unwrap();
    let o = plan(&linked);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("outside the templates folder"),
        "{}",
        stderr(&o)
    );
    // A FIFO in place of a template.
    let fifo = fresh("fifo");
    std::fs::remove_file(fifo.join(overlay)).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(fifo.join(overlay))
        .status()
        .unwrap()
        .success());
    let o = plan(&fifo);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    // A template that reads the environment.
    let env = fresh("env");
    let start = env.join("appm-1.1.0/start.sh.tera");
    let text = std::fs::read_to_string(&start).unwrap();
    std::fs::write(
        &start,
        format!("{text}\n# {{{{ get_env(name=\"HOME\") }}}}\n"),
    )
    .unwrap();
    let o = plan(&env);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("get_env"), "{}", stderr(&o));
    // A link that stays inside the folder is followed.
    let inside = fresh("inside");
    let target = inside.join("appm-1.1.0/carbon-copy.tera");
    std::fs::rename(inside.join(overlay), &target).unwrap();
    std::os::unix::fs::symlink(&target, inside.join(overlay)).unwrap();
    let o = plan(&inside);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A punycode host name (`xn--…`) and a node name with `--` are written as they are: the first
/// apply is final, a second changes nothing and `check` finds no drift.
#[test]
fn double_dashes_in_names_and_addresses_apply_once() {
    let Some(fx) = crate::common::fixtures() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let topo = d.path().join("t.toml");
    std::fs::write(
        &topo,
        "[deployment]\nname = \"dash\"\nproduct = \"appm-1.1.0\"\n\n[[host]]\nname = \"edge\"\naddress = \"10.0.0.2\"\n\n[[host]]\nname = \"core\"\naddress = \"xn--bcher-kva.example\"\n\n[[node]]\nname = \"gw--1\"\nroles = [\"gateway\"]\nhost = \"edge\"\n\n[[node]]\nname = \"km\"\nroles = [\"key-manager\", \"store\", \"publisher\"]\nhost = \"core\"\n",
    )
    .unwrap();
    let out = d.path().join("out");
    let o = bundle(topo.to_str().unwrap(), &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut homes = Vec::new();
    for n in ["gw--1", "km"] {
        let home = d.path().join(n);
        crate::common::copy_tree(&fx.join("appm-1.1.0"), &home);
        crate::common::apply_ok(&out.join(n), &home);
        let once = crate::common::tree(&home);
        crate::common::apply_ok(&out.join(n), &home);
        assert!(
            crate::common::tree(&home) == once,
            "{n}: the first apply was not final"
        );
        homes.push(format!("{n}={}", home.display()));
    }
    // The gateway's Thrift client names the key manager's host (an `<add>`).
    let amx =
        std::fs::read_to_string(d.path().join("gw--1/repository/conf/app-manager.xml")).unwrap();
    assert!(
        amx.contains("<ThriftServerHost>xn--bcher-kva.example</ThriftServerHost>"),
        "{amx}"
    );
    let mut check = topoplan();
    check.arg("check").arg(&topo);
    for h in &homes {
        check.arg("--home").arg(h);
    }
    let c = check.output().unwrap();
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stdout));
}

/// A file that cannot be staged (here: a folder that refuses new files, as a full disk would)
/// is an I/O error, exit 2, and leaves the home as it was: no backup folders, no temporary
/// files, no `.topoplan/`.
#[test]
fn an_apply_that_cannot_stage_exits_2_and_leaves_nothing() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let conf = home.join("repository/conf");
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&conf)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+i") {
        eprintln!("skipped: chattr +i is not available on this file system");
        return;
    }
    let before = tree(&home);
    let o = apply(&gw, &home);
    chattr("-i");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
    assert_eq!(tree(&home), before);
    assert!(!home.join(".topoplan").exists(), "left .topoplan/ behind");
    assert!(apply(&gw, &home).status.success());
}

/// A bundle folder (or a file in one) that another account owns is never adopted: that user
/// could edit a patch in place, which root's `apply` would then write. Refused, named, and
/// left as it is.
#[test]
fn bundle_never_adopts_a_folder_or_file_another_user_owns() {
    if !is_root() {
        return;
    }
    let d = open_tempdir();
    let topo = crate::common::root().join("topologies/all-in-one.toml");
    std::fs::copy(&topo, d.path().join("t.toml")).unwrap();
    // `nobody` bundles into a folder of its own, which root is then pointed at.
    let theirs = d.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    chown_r(&theirs, NOBODY);
    let shared = theirs.join("shared");
    let o = as_nobody(
        d.path(),
        &[
            "bundle".as_ref(),
            d.path().join("t.toml").as_os_str(),
            "-o".as_ref(),
            shared.as_os_str(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let before = tree(&shared);
    let o = bundle("topologies/all-in-one.toml", &shared);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("user id {NOBODY}")),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&shared), before);
    // Root's own bundle in which another user has replaced one file.
    let out = d.path().join("out");
    assert!(bundle("topologies/all-in-one.toml", &out).status.success());
    let patch = out.join("appm/overlay/repository/conf/carbon.xml.patch.xml");
    chown_r(&patch, NOBODY);
    let o = bundle("topologies/all-in-one.toml", &out);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("carbon.xml.patch.xml (owned by user id"),
        "{}",
        stderr(&o)
    );
    assert!(patch.exists(), "a file of another user was deleted");
}

/// What killed runs leave (temporary copies of product files, which hold passwords, beside
/// the files and among the backups; staging folders and a cut-short manifest rewrite beside
/// and in a bundle) is removed by the next run, and nothing else is.
#[test]
fn the_next_run_sweeps_what_a_killed_run_left() {
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    assert!(apply(&gw, &home).status.success());
    let conf = home.join("repository/conf");
    let backup = home.join(".topoplan/backup/repository/conf");
    let litter = [
        conf.join(".topoplan-AbC123.tmp"),
        backup.join(".topoplan-XyZ789.tmp"),
    ];
    for l in &litter {
        std::fs::write(l, "<Password>secret</Password>").unwrap();
    }
    let operators = conf.join(".topoplan-notes.txt");
    std::fs::write(&operators, "mine").unwrap();
    let o = apply(&gw, &home);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("removed 2 temporary file(s)"),
        "{}",
        stderr(&o)
    );
    for l in &litter {
        assert!(!l.exists(), "{} left", l.display());
    }
    assert!(operators.exists());
    // A bundle: a staging folder a killed run left beside it, a temporary file in its root.
    let out = d.path().join("out");
    let stale = d.path().join(".topoplan-bundle-out-Q1w2E3");
    std::fs::create_dir_all(stale.join("gw-edge-1")).unwrap();
    std::fs::write(out.join(".topoplan-Zz9Yy8.tmp"), "half a manifest").unwrap();
    let other = d.path().join(".topoplan-bundle-elsewhere-Q1w2E3");
    std::fs::create_dir(&other).unwrap();
    let o = bundle("topologies/thrift-cross-host.toml", &out);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists() && !out.join(".topoplan-Zz9Yy8.tmp").exists());
    assert!(
        other.exists(),
        "the staging folder of another bundle was removed"
    );
}

/// A product file read through a POSIX ACL (a service account that is neither owner nor
/// group) keeps that ACL when `apply` replaces it.
#[test]
fn apply_keeps_the_acl_of_a_product_file() {
    let Some(setfacl) = crate::common::tool("SETFACL", &["setfacl"]) else {
        return;
    };
    let Some(getfacl) = crate::common::tool("GETFACL", &["getfacl"]) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let Some((gw, home)) = gateway_case(d.path()) else {
        return;
    };
    let carbon = home.join("repository/conf/carbon.xml");
    let set = Command::new(&setfacl)
        .args(["-m", &format!("u:{NOBODY}:r")])
        .arg(&carbon)
        .status()
        .unwrap();
    if !set.success() {
        eprintln!("skipped: this file system takes no ACLs");
        return;
    }
    let acl = || {
        String::from_utf8(
            Command::new(&getfacl)
                .arg("-cn")
                .arg(&carbon)
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
    };
    let before = acl();
    assert!(before.contains(&format!("user:{NOBODY}:r--")), "{before}");
    let o = apply(&gw, &home);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&carbon)
            .unwrap()
            .contains("<Offset>"),
        "patched"
    );
    assert_eq!(acl(), before);
}

/// Terminal escapes and bidirectional overrides read from a product file (a JSON value the
/// product decodes to raw ESC and U+202E) reach the terminal escaped, from `apply --dry-run`
/// and from `check`, as text and as JSON.
#[test]
fn escapes_in_product_values_never_reach_the_terminal_raw() {
    let Some(fx) = crate::common::fixtures() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    assert!(bundle("topologies/thrift-cross-host.toml", &out)
        .status
        .success());
    let home = d.path().join("home");
    copy_tree(&fx.join("appm-1.1.0"), &home);
    let store = home.join("repository/deployment/server/jaggeryapps/store/config/store.json");
    let text = std::fs::read_to_string(&store).unwrap();
    let hostile = text.replacen(
        "\"identityProviderURL\"",
        "\"identityProviderURL\": \"\\u001b]0;owned\\u0007\u{202e}lmx\u{9b}31m\",\n        \"ignored\"",
        1,
    );
    assert_ne!(hostile, text);
    std::fs::write(&store, &hostile).unwrap();
    let raw = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        s.contains('\u{1b}')
            || s.contains('\u{7}')
            || s.contains('\u{202e}')
            || s.contains('\u{9b}')
    };
    let o = topoplan()
        .arg("apply")
        .arg(out.join("store-pub"))
        .arg("--home")
        .arg(&home)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\\u{202e}"),
        "the value is shown, escaped"
    );
    assert!(!raw(&o.stdout) && !raw(&o.stderr));
    for format in ["text", "json"] {
        let c = topoplan()
            .arg("check")
            .arg(crate::common::root().join("topologies/thrift-cross-host.toml"))
            .arg("--home")
            .arg(format!("store-pub={}", home.display()))
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(!raw(&c.stdout) && !raw(&c.stderr), "{format}");
        if format == "json" {
            let v: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
            assert!(v.to_string().contains("owned"), "the JSON keeps the value");
        }
    }
}

/// `check` says when it cannot read the start script (absent, or a FIFO it will not wait on)
/// instead of skipping it in silence, and never hangs on it.
#[test]
fn check_names_a_start_script_it_cannot_read() {
    let Some(fx) = crate::common::fixtures() else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    copy_tree(&fx.join("appm-1.1.0"), &home);
    let topo = crate::common::root().join("topologies/guide-gateway-km.toml");
    let run = || {
        let child = Command::new(env!("CARGO_BIN_EXE_topoplan"))
            .arg("check")
            .arg(&topo)
            .arg("--home")
            .arg(format!("gateway={}", home.display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        bounded(child, "check")
    };
    let o = run();
    assert!(
        stderr(&o).contains("bin/wso2server.sh") && stderr(&o).contains("not checked"),
        "{}",
        stderr(&o)
    );
    std::fs::create_dir(home.join("bin")).unwrap();
    assert!(Command::new("mkfifo")
        .arg(home.join("bin/wso2server.sh"))
        .status()
        .unwrap()
        .success());
    let o = run();
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

/// The output of a run that must end by itself: a FIFO opened for reading would block it
/// forever, so it gets ten seconds, then it is killed and the test fails naming `what`.
fn bounded(mut child: std::process::Child, what: &str) -> std::process::Output {
    for _ in 0..200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("topoplan hung on {what}");
}

/// Re-bundling trusts the stamps in a bundle's manifest only where nobody but this run's user
/// could have written them: a bundle another account owns (it edited a patch in place and
/// rewrote the patch's stamp to match) is never "untouched", so root does not keep the edit.
#[test]
fn rebundling_never_trusts_stamps_another_account_could_rewrite() {
    if !is_root() {
        return;
    }
    let d = open_tempdir();
    let out = d.path().join("out");
    assert!(bundle("topologies/thrift-cross-host.toml", &out)
        .status
        .success());
    chown_r(&out, NOBODY);
    // The edit, then every stamp in the manifest rewritten to match (handing the folder over
    // changed them all).
    let rel = "gw-edge-1/overlay/repository/conf/carbon.xml.patch.xml";
    let patch = out.join(rel);
    let text = std::fs::read_to_string(&patch)
        .unwrap()
        .replace("<Offset>", "<Offset>6");
    std::fs::write(&patch, &text).unwrap();
    let stamp = |p: &Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        format!(
            "{} {}.{} {}.{} {} {:o}",
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.ino(),
            m.mode()
        )
    };
    let manifest = out.join(".topoplan-bundle");
    let rewritten: String = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| match l.split_once('\t') {
            Some((p, _)) => format!("{p}\t{}\n", stamp(&out.join(p))),
            _ => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&manifest, rewritten).unwrap();
    let o = bundle("topologies/thrift-cross-host.toml", &out);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("untouched"),
        "the edited bundle was taken as current"
    );
    // Refused as a folder topoplan did not write (another user owns it), or rewritten.
    assert!(
        !o.status.success() || std::fs::read_to_string(&patch).unwrap() != text,
        "{}",
        stderr(&o)
    );
}
