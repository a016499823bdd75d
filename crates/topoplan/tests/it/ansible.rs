//! `topoplan export ansible` as an operator runs it: ansible-playbook (local connection) applies
//! every node's bundle to a copy of the real product files, lays the load balancers' nginx
//! configurations (checked by a real `nginx -t`) and runs the database setup against a real
//! MariaDB server; the independent acceptance checker passes; a second run changes nothing;
//! `--check` writes nothing.

use crate::common::{copy_tree, fixtures, root, tool, topoplan, tree};
use std::process::Command;

#[test]
fn the_exported_playbook_deploys_and_is_idempotent() {
    let Some(fx) = fixtures() else { return };
    let Some(playbook) = tool("ANSIBLE_PLAYBOOK", &["ansible-playbook"]) else {
        return;
    };
    let Some(python) = tool("PYTHON3", &["python3"]) else {
        return;
    };
    let Some(nginx) = tool("NGINX", &["nginx", "/usr/sbin/nginx"]) else {
        return;
    };
    let Some(openssl) = tool("OPENSSL", &["openssl"]) else {
        return;
    };
    let Some((mariadbd, install_db, client)) = crate::databases::mariadb_tools() else {
        return;
    };
    let server = crate::databases::start(&mariadbd, &install_db, &client);
    let topology = root().join("topologies/multi-host-ha.toml");
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("deploy");
    topoplan()
        .args(["export", "ansible"])
        .arg(&topology)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let inventory = std::fs::read_to_string(out.join("inventory.yml")).unwrap();
    for needle in [
        "ansible_host: \"10.0.1.11\"",
        "ports_offset:",
        "key_manager_server_url:",
    ] {
        assert!(
            inventory.contains(needle),
            "inventory lacks {needle}:\n{inventory}"
        );
    }
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("bundles/plan.json")).unwrap())
            .unwrap();
    // nginx checks the configurations Ansible lays, with the front ends' certificates (made
    // here) in a private prefix; the reload is a no-op (no nginx runs here).
    let lb = d.path().join("lb");
    crate::clusters::nginx_t(&nginx, &openssl, &out.join("bundles"), &lb);
    let conf_d = d.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    let prefix = lb.join("nginx");
    std::fs::write(
        prefix.join("nginx.conf"),
        format!(
            "pid nginx.pid;\nerror_log error.log;\nevents {{}}\nhttp {{\n    include {}/*.conf;\n}}\n",
            conf_d.display()
        ),
    )
    .unwrap();
    let extra = serde_json::json!({
        "topoplan_nginx_conf_dir": conf_d,
        "topoplan_nginx_test": [nginx, "-t", "-p", prefix, "-c", prefix.join("nginx.conf"), "-e", prefix.join("error.log")],
        "topoplan_nginx_reload": ["true"],
        "topoplan_mysql_options": ["--no-defaults", format!("--socket={}", server.socket.display()), "-uroot"],
    })
    .to_string();
    let homes = d.path().join("homes");
    for n in plan["nodes"].as_array().unwrap() {
        copy_tree(
            &fx.join("appm-1.2.0"),
            &homes.join(n["name"].as_str().unwrap()),
        );
    }
    let run = |args: &[&str]| {
        let o = Command::new(&playbook)
            .args([
                "-i",
                "inventory.yml",
                "site.yml",
                "-e",
                "ansible_connection=local",
            ])
            .arg("-e")
            .arg(format!("topoplan_home_base={}", homes.display()))
            .arg("-e")
            .arg(format!("topoplan_bin={}", env!("CARGO_BIN_EXE_topoplan")))
            .arg("-e")
            .arg(&extra)
            .args(args)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD)
            .env("ANSIBLE_LOCAL_TEMP", d.path().join("ansible-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", d.path().join("ansible-tmp"))
            .current_dir(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            o.status.success(),
            "{text}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        text
    };
    // The product homes only (the bundles are copied beside them, into .topoplan-bundles).
    let product_homes = || -> Vec<_> {
        plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| tree(&homes.join(n["name"].as_str().unwrap())))
            .collect()
    };
    let pristine = product_homes();
    let check = run(&["--check", "--diff"]);
    assert!(check.contains("would change"), "{check}");
    assert!(
        product_homes() == pristine,
        "--check changed a product home"
    );
    let first = run(&[]);
    assert!(
        first
            .lines()
            .filter(|l| l.contains("ok="))
            .all(|l| !l.contains("changed=0")),
        "the first run applied nothing: {first}"
    );
    // The load balancers' configurations are in place, and the shared databases have tables.
    for c in ["gateways", "apps"] {
        assert!(
            conf_d
                .join(format!("topoplan-acme-appm-{c}.conf"))
                .is_file(),
            "{c}"
        );
    }
    let tables = Command::new(&client)
        .arg("--no-defaults")
        .arg(format!("--socket={}", server.socket.display()))
        .args(["-uroot", "--batch", "--skip-column-names", "-e"])
        .arg("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema LIKE 'appm%'")
        .output()
        .unwrap();
    let count: u32 = String::from_utf8_lossy(&tables.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(count > 50, "setup.sh made {count} tables");
    let second = run(&[]);
    let recap: Vec<&str> = second.lines().filter(|l| l.contains("ok=")).collect();
    assert!(
        !recap.is_empty() && recap.iter().all(|l| l.contains("changed=0")),
        "{second}"
    );
    let verify = root().join("../shared/acceptance/verify.py");
    let verify = if verify.exists() {
        verify
    } else {
        fx.join("../acceptance/verify.py")
    };
    let v = Command::new(python)
        .arg(&verify)
        .arg(&topology)
        .arg(out.join("bundles/plan.json"))
        .arg(&homes)
        .env("APPM_DB_PASSWORD", crate::common::EXAMPLE_DB_PASSWORD)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success(), "{report}");
    assert!(report.trim_end().ends_with(", 0 failed"), "{report}");
}
