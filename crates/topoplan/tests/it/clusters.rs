//! Clusters as an operator deploys them: every generated load-balancer configuration passes a
//! real `nginx -t` (with the certificates it names, made by openssl), and a gateway cluster and
//! a store/publisher cluster applied to the real product files read as DESIGN.md promises; a
//! node that leaves its cluster is drift until applied again.

use crate::common::{apply_ok, bundle_to, copy_example, copy_tree, fixtures, root, tool, topoplan};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A cluster of gateways and one of stores on IPv6 addresses behind one IPv6 front end host.
const IPV6_CLUSTERS: &str = r#"
[deployment]
name = "v6"
product = "appm-1.2.0"

[[host]]
name = "a"
address = "fd00::1"

[[host]]
name = "b"
address = "fd00::2"

[[node]]
name = "gw-a"
roles = ["gateway"]
host = "a"

[[node]]
name = "gw-b"
roles = ["gateway"]
host = "b"

[[node]]
name = "km"
roles = ["key-manager"]
host = "a"

[[node]]
name = "apps-a"
roles = ["store", "publisher"]
host = "a"

[[node]]
name = "apps-b"
roles = ["store", "publisher"]
host = "b"

[[cluster]]
name = "gw"
nodes = ["gw-a", "gw-b"]
manager = "gw-a"
frontend = "fd00::80"
http_port = 8080
https_port = 8443

[[cluster]]
name = "apps"
nodes = ["apps-a", "apps-b"]
frontend = "apps.v6.example"

[[database]]
name = "db"
address = "fd00::9"
"#;

/// `(address, port)` of every `server` line of an nginx configuration.
fn upstream_servers(conf: &str) -> Vec<(String, String)> {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .filter_map(|rest| {
            let target = rest.split(';').next()?.trim();
            let (host, port) = target.rsplit_once(':')?;
            Some((host.trim_matches(['[', ']']).to_string(), port.to_string()))
        })
        .collect()
}

/// Runs `nginx -t` on every `load-balancers/*.nginx.conf` of a bundle at once (clusters that
/// share a load-balancer host share one nginx), with a self-signed certificate per front end.
pub(crate) fn nginx_t(nginx: &Path, openssl: &Path, bundle: &Path, work: &Path) -> Vec<PathBuf> {
    let prefix = work.join("nginx");
    std::fs::create_dir_all(prefix.join("conf.d")).unwrap();
    std::fs::create_dir_all(prefix.join("ssl")).unwrap();
    let mut confs = Vec::new();
    for e in std::fs::read_dir(bundle.join("load-balancers")).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        for line in text.lines() {
            let Some(cert) = line.trim().strip_prefix("ssl_certificate ") else {
                continue;
            };
            let crt = prefix.join(cert.trim_end_matches(';'));
            let key = crt.with_extension("key");
            let o = Command::new(openssl)
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "1",
                    "-subj",
                    "/CN=topoplan-test",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&crt)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        std::fs::copy(&p, prefix.join("conf.d").join(p.file_name().unwrap())).unwrap();
        confs.push(p);
    }
    std::fs::write(
        prefix.join("nginx.conf"),
        "pid nginx.pid;\nerror_log error.log;\nevents {}\nhttp {\n    access_log off;\n    include conf.d/*.conf;\n}\n",
    )
    .unwrap();
    let o = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(&prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .arg("-e")
        .arg(prefix.join("error.log"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "nginx -t refused {confs:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    confs
}

#[test]
fn every_load_balancer_config_passes_nginx_t_and_names_every_served_member() {
    let Some(nginx) = tool("NGINX", &["nginx", "/usr/sbin/nginx"]) else {
        return;
    };
    let Some(openssl) = tool("OPENSSL", &["openssl"]) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let v6 = d.path().join("v6.toml");
    std::fs::write(&v6, IPV6_CLUSTERS).unwrap();
    let mut topologies: Vec<PathBuf> = crate::common::toml_files("topologies")
        .into_iter()
        .map(|f| root().join(f))
        .collect();
    topologies.push(v6);
    let mut checked = 0;
    for (i, t) in topologies.iter().enumerate() {
        let out = d.path().join(format!("out{i}"));
        let o = bundle_to(t, &out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        if !out.join("load-balancers").exists() {
            continue;
        }
        let confs = nginx_t(&nginx, &openssl, &out, &d.path().join(format!("w{i}")));
        let plan: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
        for c in plan["clusters"].as_array().unwrap() {
            let name = c["name"].as_str().unwrap();
            let conf = out
                .join("load-balancers")
                .join(format!("{name}.nginx.conf"));
            assert!(confs.contains(&conf), "{t:?}: no config for {name}");
            let servers = upstream_servers(&std::fs::read_to_string(&conf).unwrap());
            for m in c["members"].as_array().unwrap() {
                let Some(b) = m["backends"].as_object() else {
                    continue;
                };
                for port in b.values() {
                    let want = (m["address"].as_str().unwrap().to_string(), port.to_string());
                    assert!(
                        servers.contains(&want),
                        "{t:?}: {name} lacks {want:?}: {servers:?}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} load-balancer configs checked");
}

/// The text of a product file under a node's home.
fn read(home: &Path, rel: &str) -> String {
    std::fs::read_to_string(home.join(rel)).unwrap()
}

/// The `<clustering>` block of an applied axis2.xml: enabled, localMemberPort, members.
fn hazelcast(home: &Path) -> (bool, String, Vec<String>) {
    let text = read(home, "repository/conf/axis2/axis2.xml");
    let doc = roxmltree::Document::parse(&text).unwrap();
    let c = doc
        .descendants()
        .find(|n| n.has_tag_name("clustering"))
        .unwrap();
    let param = |name: &str| {
        c.children()
            .find(|n| n.has_tag_name("parameter") && n.attribute("name") == Some(name))
            .and_then(|n| n.text())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let members = c
        .descendants()
        .filter(|n| n.has_tag_name("member"))
        .map(|m| {
            let t = |tag: &str| {
                m.children()
                    .find(|x| x.has_tag_name(tag))
                    .and_then(|x| x.text())
                    .unwrap_or("")
                    .trim()
                    .to_string()
            };
            format!("{}:{}", t("hostName"), t("port"))
        })
        .collect();
    (
        c.attribute("enable") == Some("true"),
        param("localMemberPort"),
        members,
    )
}

#[test]
fn a_gateway_cluster_and_an_apps_cluster_apply_as_the_product_needs() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let topo = copy_example("multi-host-ha.toml", d.path(), "ha.toml");
    let out = d.path().join("out");
    assert!(bundle_to(&topo, &out).status.success());
    let home = |n: &str| d.path().join("homes").join(n);
    for n in ["gw-mgr", "gw1", "gw2", "km", "apps1", "apps2"] {
        copy_tree(&fx.join("appm-1.2.0"), &home(n));
        apply_ok(&out.join(n), &home(n));
    }
    // A second apply changes nothing; the first kept every comment of the files it touched.
    for n in ["gw-mgr", "gw1", "apps1"] {
        let before = crate::common::tree(&home(n));
        apply_ok(&out.join(n), &home(n));
        assert!(
            crate::common::tree(&home(n)) == before,
            "{n}: a second apply changed the home"
        );
        for rel in [
            "repository/conf/axis2/axis2.xml",
            "repository/conf/tomcat/catalina-server.xml",
            "repository/conf/carbon.xml",
        ] {
            let original = std::fs::read_to_string(fx.join("appm-1.2.0").join(rel)).unwrap();
            let applied = read(&home(n), rel);
            assert_eq!(
                original.matches("<!--").count(),
                applied.matches("<!--").count(),
                "{n}: {rel} lost a comment"
            );
            // Values change in place; the member list grows by one `<member>` (4 lines) for
            // each member beyond the one the file ships.
            let members = match (rel.ends_with("axis2.xml"), n) {
                (false, _) => 1,
                (true, "apps1") => 2,
                (true, _) => 3,
            };
            assert_eq!(
                original.lines().count() + 4 * (members - 1),
                applied.lines().count(),
                "{n}: {rel} changed its line count"
            );
        }
    }
    // Workers: -DworkerNode=true with the default profile (kernel 4.4.7 Main.java L74-87), a
    // read-only registry mount; the manager neither.
    for (n, worker) in [
        ("gw-mgr", false),
        ("gw1", true),
        ("gw2", true),
        ("apps1", false),
    ] {
        let start = read(&out.join(n), "bin/start.sh");
        assert_eq!(
            start.contains("-DworkerNode=true -Dprofile=default"),
            worker,
            "{n}: {start}"
        );
        let reg = read(&home(n), "repository/conf/registry.xml");
        assert_eq!(reg.contains("<readOnly>true</readOnly>"), worker, "{n}");
    }
    // Hazelcast: both members on dmz1 have ports of their own; every member lists all three.
    let (on_mgr, port_mgr, members) = hazelcast(&home("gw-mgr"));
    let (on_gw1, port_gw1, _) = hazelcast(&home("gw1"));
    assert!(on_mgr && on_gw1);
    assert_ne!(port_mgr, port_gw1, "two members on one host");
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(
        members.contains(&format!("10.0.1.11:{port_mgr}"))
            && members.contains(&format!("10.0.1.11:{port_gw1}"))
    );
    assert!(
        !hazelcast(&home("km")).0,
        "the key manager is in no cluster"
    );
    // The publishers list the gateway cluster once, through its manager, its front end for browsers.
    let amx = read(&home("apps2"), "repository/conf/app-manager.xml");
    let doc = roxmltree::Document::parse(&amx).unwrap();
    let envs: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("Environment"))
        .collect();
    assert_eq!(envs.len(), 1);
    let text = |e: &roxmltree::Node, tag: &str| {
        e.children()
            .find(|c| c.has_tag_name(tag))
            .and_then(|c| c.text())
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(envs[0].attribute("type"), Some("production"));
    assert_eq!(
        text(&envs[0], "ServerURL"),
        "https://10.0.1.11:9443/services/"
    );
    assert_eq!(
        text(&envs[0], "GatewayEndpoint"),
        "http://gw.acme.example:80,https://gw.acme.example:443"
    );
    // Behind the apps front end: HostName and Tomcat's proxyPort; the manager keeps its name.
    assert!(read(&home("apps1"), "repository/conf/carbon.xml")
        .contains("<HostName>apps.acme.example</HostName>"));
    assert!(read(&home("gw-mgr"), "repository/conf/carbon.xml")
        .contains("<HostName>10.0.1.11</HostName>"));
    assert!(read(&home("gw2"), "repository/conf/carbon.xml")
        .contains("<HostName>gw.acme.example</HostName>"));
    let cat = read(&home("apps1"), "repository/conf/tomcat/catalina-server.xml");
    assert!(
        cat.contains("<Connector proxyPort=\"80\"") && cat.contains("<Connector proxyPort=\"443\""),
        "{cat}"
    );
    // The identity provider returns logins to the apps front end.
    let sso = read(&home("km"), "repository/conf/identity/sso-idp-config.xml");
    assert!(
        sso.contains("https://apps.acme.example:443/store/acs"),
        "{sso}"
    );
}

#[test]
fn a_node_that_leaves_its_cluster_is_drift_until_applied() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let topo = copy_example("multi-host-ha.toml", d.path(), "ha.toml");
    let out = d.path().join("out");
    assert!(bundle_to(&topo, &out).status.success());
    let home = d.path().join("gw2");
    copy_tree(&fx.join("appm-1.2.0"), &home);
    apply_ok(&out.join("gw2"), &home);
    assert!(hazelcast(&home).0);
    // The gateway cluster goes: gw2 becomes a standalone gateway.
    let text = std::fs::read_to_string(&topo).unwrap();
    let start = text.find("[[cluster]]\nname = \"gateways\"").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    std::fs::write(&topo, format!("{}{}", &text[..start], &text[end..])).unwrap();
    assert!(bundle_to(&topo, &out).status.success());
    let check = || {
        topoplan()
            .arg("check")
            .arg(&topo)
            .arg("--home")
            .arg(format!("gw2={}", home.display()))
            .output()
            .unwrap()
    };
    let o = check();
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{report}");
    assert!(report.contains("clustering/@enable"), "{report}");
    apply_ok(&out.join("gw2"), &home);
    assert!(!hazelcast(&home).0);
    assert!(check().status.success());
}
