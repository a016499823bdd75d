//! Shared databases end to end, against a real MariaDB server this test starts on a private
//! datadir, socket and loopback port: bundle a split deployment with a `[[database]]`, apply
//! every node to a copy of the real product files with the password in its variable, run the
//! bundle's `setup.sh` twice, then connect with the URL, user and password each node's applied
//! `master-datasources.xml` holds and find the product's tables in every shared datasource.

use crate::common::{copy_tree, fixtures, tool, topoplan};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A MariaDB server of this test's own, stopped (and its files removed) when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) socket: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The MariaDB programs, or `None` (with the reason printed) when they are not installed; in
/// CI (`CI=true`, where `.ci/run` installs them) their absence is a failure.
pub(crate) fn mariadb_tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let found = (
        tool("MARIADBD", &["mariadbd", "/usr/sbin/mariadbd"]),
        tool("MARIADB_INSTALL_DB", &["mariadb-install-db"]),
        tool("MYSQL", &["mysql", "mariadb"]),
    );
    match found {
        (Some(d), Some(i), Some(c)) => Some((d, i, c)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but mariadb-server is not installed (.ci/run installs it)"
            );
            println!("skipped: mariadbd, mariadb-install-db or mysql not installed");
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn start(mariadbd: &Path, install_db: &Path, client: &Path) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let (data, socket) = (dir.path().join("data"), dir.path().join("mysqld.sock"));
    std::fs::create_dir(&data).unwrap();
    // The server runs as the `mysql` account, which must own its folder.
    let chown = Command::new("chown")
        .args(["-R", "mysql:mysql"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(chown.success());
    let installed = Command::new(install_db)
        .args(["--no-defaults", "--user=mysql", "--skip-test-db"])
        .arg(format!("--datadir={}", data.display()))
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let port = free_port();
    let child = Command::new(mariadbd)
        .arg("--no-defaults")
        .arg("--user=mysql")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        .arg(format!(
            "--pid-file={}",
            dir.path().join("mysqld.pid").display()
        ))
        .arg(format!(
            "--log-error={}",
            dir.path().join("error.log").display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        socket,
        port,
        _dir: dir,
    };
    // Up when the root account answers on the socket; bounded, never a timing assertion.
    for _ in 0..300 {
        let up = Command::new(client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", server.socket.display()))
            .args(["-uroot", "-e", "SELECT 1"])
            .output()
            .is_ok_and(|o| o.status.success());
        if up {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("mariadbd did not come up");
}

/// One datasource as a node's applied datasources file holds it.
struct Applied {
    name: String,
    url: String,
    user: String,
    password: String,
}

fn datasources(home: &Path) -> Vec<Applied> {
    let text =
        std::fs::read_to_string(home.join("repository/conf/datasources/master-datasources.xml"))
            .unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let child = |n: roxmltree::Node, tag: &str| -> String {
        n.descendants()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("datasource"))
        .map(|d| Applied {
            name: child(d, "name"),
            url: child(d, "url"),
            user: child(d, "username"),
            password: child(d, "password"),
        })
        .collect()
}

/// `jdbc:mysql://host:port/database?…` → (port, database).
fn port_and_database(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("jdbc:mysql://127.0.0.1:").unwrap();
    let (port, rest) = rest.split_once('/').unwrap();
    let db = rest.split('?').next().unwrap();
    (port.parse().unwrap(), db.to_string())
}

fn topology(port: u16) -> String {
    format!(
        "[deployment]\nname = \"dbtest\"\nproduct = \"appm-1.2.0\"\n\n\
         [[host]]\nname = \"app\"\naddress = \"127.0.0.1\"\n\n\
         [[node]]\nname = \"gw\"\nroles = [\"gateway\"]\nhost = \"app\"\n\n\
         [[node]]\nname = \"km\"\nroles = [\"key-manager\"]\nhost = \"app\"\n\n\
         [[node]]\nname = \"sp\"\nroles = [\"store\", \"publisher\"]\nhost = \"app\"\n\n\
         [[database]]\nname = \"appm-db\"\naddress = \"127.0.0.1\"\nport = {port}\nuser = \"appm\"\n\
         password_env = \"DBTEST_PASSWORD\"\n"
    )
}

/// The tables a datasource must hold once `setup.sh` ran, by its name in the datasources file.
fn expected_tables(datasource: &str) -> &'static [&'static str] {
    match datasource {
        "WSO2AM_DB" => &["APM_SUBSCRIBER", "IDN_BASE_TABLE", "APM_API_CONSUMER_APPS"],
        "WSO2UM_DB" => &["UM_USER"],
        "WSO2REG_DB" => &["REG_PATH"],
        "JAGH2" => &["resource"],
        "WSO2_SOCIAL_DB" => &["SOCIAL_COMMENTS"],
        other => panic!("unexpected shared datasource {other}"),
    }
}

fn setup(script: &Path, home: &Path, server: &Server, password: &str) -> std::process::Output {
    Command::new("sh")
        .arg(script)
        .arg(home)
        .arg("--no-defaults")
        .arg(format!("--socket={}", server.socket.display()))
        .arg("-uroot")
        .env("DBTEST_PASSWORD", password)
        .output()
        .unwrap()
}

#[test]
fn setup_sh_builds_every_shared_datasource_and_every_node_reaches_it() {
    let Some(fx) = fixtures() else { return };
    let Some((mariadbd, install_db, client)) = mariadb_tools() else {
        return;
    };
    let server = start(&mariadbd, &install_db, &client);
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("site.toml");
    std::fs::write(&topo, topology(server.port)).unwrap();
    let out = dir.path().join("out");
    let o = crate::common::bundle_to(&topo, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A password with every character SQL and XML quote: it must arrive intact everywhere.
    let password = r#"pw'x"y\z<&>-"#;
    let product = fx.join("appm-1.2.0");
    let script = out.join("databases/appm-db/setup.sh");
    let first = setup(&script, &product, &server, password);
    assert!(
        first.status.success(),
        "setup.sh: {}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    let again = setup(&script, &product, &server, password);
    let said = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(again.status.success(), "second setup.sh: {said}");
    assert_eq!(said.matches("already, left alone").count(), 5, "{said}");
    assert!(!said.contains("loading"), "{said}");

    let mut checked = 0;
    for node in ["gw", "km", "sp"] {
        let home = dir.path().join("homes").join(node);
        copy_tree(&product, &home);
        let applied = topoplan()
            .arg("apply")
            .arg(out.join(node))
            .arg("--home")
            .arg(&home)
            .env("DBTEST_PASSWORD", password)
            .output()
            .unwrap();
        assert!(
            applied.status.success(),
            "{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        for ds in datasources(&home)
            .iter()
            .filter(|d| d.url.starts_with("jdbc:mysql:"))
        {
            assert_eq!(ds.password, password, "{node}: {}", ds.name);
            let (port, database) = port_and_database(&ds.url);
            let tables = Command::new(&client)
                .args([
                    "--no-defaults",
                    "--protocol=TCP",
                    "-h",
                    "127.0.0.1",
                    "--batch",
                ])
                .arg(format!("-P{port}"))
                .arg(format!("-u{}", ds.user))
                .arg(&database)
                .args(["-e", "SHOW TABLES"])
                .env("MYSQL_PWD", &ds.password)
                .output()
                .unwrap();
            let listed = String::from_utf8_lossy(&tables.stdout).into_owned();
            assert!(
                tables.status.success(),
                "{node}: {} as {}: {}",
                ds.url,
                ds.user,
                String::from_utf8_lossy(&tables.stderr)
            );
            for t in expected_tables(&ds.name) {
                assert!(
                    listed.lines().any(|l| l.eq_ignore_ascii_case(t)),
                    "{node}: {} lacks table {t}: {listed}",
                    ds.name
                );
            }
            checked += 1;
        }
    }
    // gw: apps, users, registry; km: apps, users; sp: all five.
    assert_eq!(checked, 3 + 2 + 5);
    // The bundle never holds the password, nor any file under it.
    for (path, bytes) in crate::common::tree(&out) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(password),
            "{} holds the password",
            path.display()
        );
    }
}

#[test]
fn apply_refuses_without_the_password_variable_and_names_it() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("site.toml");
    std::fs::write(&topo, topology(3306)).unwrap();
    let out = dir.path().join("out");
    assert!(crate::common::bundle_to(&topo, &out).status.success());
    let home = dir.path().join("home");
    copy_tree(&fx.join("appm-1.2.0"), &home);
    let before = crate::common::tree(&home);
    let o = topoplan()
        .arg("apply")
        .arg(out.join("sp"))
        .arg("--home")
        .arg(&home)
        .env_remove("DBTEST_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`DBTEST_PASSWORD`"), "{stderr}");
    assert_eq!(crate::common::tree(&home), before, "nothing written");
    // A password XML cannot carry (a control character) is refused, not altered.
    let o = topoplan()
        .arg("apply")
        .arg(out.join("sp"))
        .arg("--home")
        .arg(&home)
        .env("DBTEST_PASSWORD", "s3cret\u{1}value")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`DBTEST_PASSWORD`") && stderr.contains("control character"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert_eq!(crate::common::tree(&home), before, "nothing written");
    // With it, the dry run shows what changes, the password masked.
    let o = topoplan()
        .arg("apply")
        .arg(out.join("sp"))
        .arg("--home")
        .arg(&home)
        .arg("--dry-run")
        .env("DBTEST_PASSWORD", "s3cret-value")
        .output()
        .unwrap();
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(diff.contains("<password>********</password>"), "{diff}");
    assert!(!diff.contains("s3cret-value"), "{diff}");
}
