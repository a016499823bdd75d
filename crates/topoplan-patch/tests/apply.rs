//! The apply transaction as a library: a home, an overlay folder of patches, and what a user
//! of `topoplan apply` relies on (all or nothing, the first original kept, owners and modes
//! kept, secrets filled but never shown, an interrupted run put back, links out refused).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use topoplan_patch::apply::{ApplyError, Home, BACKUP_DIR};

const CARBON: &str = "<Server><Ports><Offset>0</Offset></Ports></Server>\n";
const STORAGE: &str = "{\"port\": 5432, \"host\": \"localhost\"}\n";

/// A home with two product files and an overlay folder beside it.
struct Site {
    _dir: tempfile::TempDir,
    home: PathBuf,
    overlay: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let overlay = dir.path().join("bundle/overlay");
        write(&home.join("repository/conf/carbon.xml"), CARBON);
        write(&home.join("repository/conf/storage.json"), STORAGE);
        std::fs::set_permissions(
            home.join("repository/conf/carbon.xml"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::create_dir_all(&overlay).unwrap();
        Site {
            _dir: dir,
            home,
            overlay,
        }
    }

    /// A site with a patch of each format: the offset 2 in `carbon.xml`, and `storage_op` (one
    /// RFC 6902 operation) on `storage.json`.
    fn with_both(storage_op: &str) -> Site {
        let site = Site::new();
        site.patch("repository/conf/carbon.xml.patch.xml", &offset(2));
        site.patch(
            "repository/conf/storage.json.patch.json",
            &format!("[{storage_op}]"),
        );
        site
    }

    fn patch(&self, rel: &str, text: &str) {
        write(&self.overlay.join(rel), text);
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.home.join(rel)).unwrap()
    }

    /// One apply with no secrets set: how many files it replaced.
    fn apply(&self) -> Result<usize, ApplyError> {
        let home = Home::lock(&self.home)?;
        home.recover(false)?;
        let prepared = home.prepare(&self.overlay, &mut |_| None)?;
        home.write(&prepared)
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn offset(n: u16) -> String {
    format!("<diff><replace sel=\"/Server/Ports/Offset/text()\">{n}</replace></diff>")
}

#[test]
fn every_file_is_written_keeping_its_mode_and_the_first_original() {
    let site = Site::with_both(r#"{"op": "replace", "path": "/port", "value": 3306}"#);
    let home = Home::lock(&site.home).unwrap();
    let prepared = home.prepare(&site.overlay, &mut |_| None).unwrap();
    assert_eq!((prepared.changed().len(), prepared.kept()), (2, 0));
    let diff = prepared.diff();
    assert!(
        diff.contains("-<Server><Ports><Offset>0</Offset>"),
        "{diff}"
    );
    assert!(
        diff.contains("+<Server><Ports><Offset>2</Offset>"),
        "{diff}"
    );
    // Nothing is written before `write`.
    assert_eq!(site.read("repository/conf/carbon.xml"), CARBON);
    assert_eq!(home.write(&prepared).unwrap(), 2);
    drop(home);
    assert!(site
        .read("repository/conf/carbon.xml")
        .contains("<Offset>2</Offset>"));
    assert!(site.read("repository/conf/storage.json").contains("3306"));
    let mode = std::fs::metadata(site.home.join("repository/conf/carbon.xml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    let backup = format!("{BACKUP_DIR}/repository/conf/carbon.xml");
    assert_eq!(site.read(&backup), CARBON);

    // Again: nothing to change. Then another offset: the backup stays the first original.
    let home = Home::lock(&site.home).unwrap();
    let prepared = home.prepare(&site.overlay, &mut |_| None).unwrap();
    assert_eq!((prepared.changed().len(), prepared.kept()), (0, 2));
    drop(home);
    site.patch("repository/conf/carbon.xml.patch.xml", &offset(3));
    assert_eq!(site.apply().unwrap(), 1);
    assert!(site
        .read("repository/conf/carbon.xml")
        .contains("<Offset>3</Offset>"));
    assert_eq!(site.read(&backup), CARBON);
    // The pending intent is gone once the files are in place.
    assert!(!site.home.join(".topoplan/pending").exists());
}

#[test]
fn one_bad_patch_writes_nothing_and_names_every_problem() {
    let site = Site::with_both(r#"{"op": "replace", "path": "/nope", "value": 1}"#);
    site.patch("repository/conf/missing.xml.patch.xml", &offset(1));
    let Err(ApplyError::Refused(problems)) = site.apply() else {
        panic!("a patch that does not match must refuse the apply");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.contains("storage.json")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("missing.xml") && p.contains("does not exist")),
        "{problems:?}"
    );
    assert_eq!(site.read("repository/conf/carbon.xml"), CARBON);
    // A run that wrote nothing leaves no folder of its own.
    assert!(!site.home.join(".topoplan").exists());
}

#[test]
fn a_password_is_filled_escaped_and_never_shown() {
    let site = Site::new();
    let marker = topoplan_patch::secret_marker("DB_PASSWORD");
    site.patch(
        "repository/conf/carbon.xml.patch.xml",
        &format!("<diff><replace sel=\"/Server/Ports/Offset/text()\">{marker}</replace></diff>"),
    );
    let home = Home::lock(&site.home).unwrap();
    let Err(ApplyError::Refused(problems)) = home.prepare(&site.overlay, &mut |_| None) else {
        panic!("an unset password must refuse the apply");
    };
    assert!(problems[0].contains("`DB_PASSWORD`"), "{problems:?}");
    let mut secret = |var: &str| (var == "DB_PASSWORD").then(|| "s3<cr&t".to_string());
    let prepared = home.prepare(&site.overlay, &mut secret).unwrap();
    let diff = prepared.diff();
    assert!(!diff.contains("s3") && diff.contains("********"), "{diff}");
    home.write(&prepared).unwrap();
    assert!(site
        .read("repository/conf/carbon.xml")
        .contains("<Offset>s3&lt;cr&amp;t</Offset>"));
}

#[test]
fn a_link_out_of_the_home_is_refused() {
    let site = Site::new();
    let outside = site.home.parent().unwrap().join("elsewhere");
    write(&outside.join("carbon.xml"), CARBON);
    std::os::unix::fs::symlink(&outside, site.home.join("repository/linked")).unwrap();
    site.patch("repository/linked/carbon.xml.patch.xml", &offset(2));
    let Err(ApplyError::Refused(problems)) = site.apply() else {
        panic!("a link out of the home must be refused");
    };
    assert!(problems[0].contains("outside"), "{problems:?}");
    assert_eq!(
        std::fs::read_to_string(outside.join("carbon.xml")).unwrap(),
        CARBON
    );
}

#[test]
fn two_applies_never_interleave() {
    let site = Site::new();
    let _first = Home::lock(&site.home).unwrap();
    match Home::lock(&site.home) {
        Err(ApplyError::Fs(topoplan_safefs::SafeFsError::Locked(..))) => {}
        other => panic!("a second lock must be refused, got {:?}", other.err()),
    }
}

/// A run killed while renaming left its intent (the format the module documents): the next
/// one puts back the file that holds what the killed run wrote, and leaves alone one changed
/// since.
#[test]
fn an_interrupted_apply_is_put_back_first() {
    use sha2::Digest;
    let site = Site::new();
    site.patch("repository/conf/carbon.xml.patch.xml", &offset(2));
    site.apply().unwrap();
    let written = site.read("repository/conf/carbon.xml");
    let hex = |t: &str| -> String {
        (sha2::Sha256::digest(t.as_bytes()).iter())
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let pending = site.home.join(".topoplan/pending");
    std::fs::create_dir_all(&pending).unwrap();
    std::fs::set_permissions(&pending, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(pending.join("0"), CARBON).unwrap();
    std::fs::write(pending.join("1"), STORAGE).unwrap();
    std::fs::write(
        pending.join("intent"),
        format!(
            "0\t{}\trepository/conf/carbon.xml\n1\t{}\trepository/conf/storage.json\n",
            hex(&written),
            hex("what the killed run wrote")
        ),
    )
    .unwrap();
    // The operator edited storage.json since: it is not what the killed run wrote.
    write(&site.home.join("repository/conf/storage.json"), "{}\n");
    let home = Home::lock(&site.home).unwrap();
    let dry = home.recover(true).unwrap();
    assert_eq!((dry.interrupted, dry.restored), (2, 0));
    assert_eq!(site.read("repository/conf/carbon.xml"), written);
    let found = home.recover(false).unwrap();
    assert_eq!((found.interrupted, found.restored), (2, 1));
    assert_eq!(
        found.changed_since,
        vec![site.home.join("repository/conf/storage.json")]
    );
    assert_eq!(site.read("repository/conf/carbon.xml"), CARBON);
    assert_eq!(site.read("repository/conf/storage.json"), "{}\n");
    assert!(!pending.exists());
}
