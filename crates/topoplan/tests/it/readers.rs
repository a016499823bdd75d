//! Driven by the shipped profiles: for every reference and every role that reads it, a node with
//! only that role is bundled and applied to the real product files, and the reference's file
//! must then hold the provider's address and port. A reference whose reader role gets no
//! template, a template that skips a role, or a selector that misses the real file fails here.

use crate::common::{copy_tree, fixtures, root, topoplan};
use serde_json::Value;
use std::collections::BTreeMap;
use topoplan_model::Profile;

fn profiles() -> BTreeMap<String, Profile> {
    let mut m = BTreeMap::new();
    for e in std::fs::read_dir(root().join("templates")).unwrap() {
        let p = e.unwrap().path().join("profile.toml");
        if let Ok(src) = std::fs::read_to_string(&p) {
            let profile = Profile::parse(&src).unwrap();
            m.insert(profile.product.name.clone(), profile);
        }
    }
    assert!(m.len() >= 2, "both shipped profiles load");
    m
}

/// The reader alone on an IPv4 host; one node per other role on an IPv6 host, so that every
/// value must cross hosts and carry brackets (an IPv4 host when the mode has a value the
/// profile says breaks with an IPv6 literal: that plan is the error `ipv6-unsupported`).
fn topology(product: &str, profile: &Profile, reader: &str) -> String {
    let mode = profile.mode_names().remove(0);
    let v6 = !profile
        .reference
        .iter()
        .any(|r| r.ipv6.is_some() && r.in_mode(&mode));
    let b = if v6 { "fd00::b" } else { "10.1.0.2" };
    let mut s = format!(
        "[deployment]\nname = \"readers\"\nproduct = \"{product}\"\n\n\
         [[host]]\nname = \"a\"\naddress = \"10.1.0.1\"\n\n\
         [[host]]\nname = \"b\"\naddress = \"{b}\"\n\n\
         [[node]]\nname = \"r\"\nroles = [\"{reader}\"]\nhost = \"a\"\n"
    );
    for role in profile.role_names().iter().filter(|r| *r != reader) {
        s += &format!("\n[[node]]\nname = \"p-{role}\"\nroles = [\"{role}\"]\nhost = \"b\"\n");
    }
    s
}

fn url_host(a: &str) -> String {
    if a.contains(':') {
        format!("[{a}]")
    } else {
        a.to_string()
    }
}

#[test]
fn every_reader_role_gets_every_value_it_reads_in_the_real_files() {
    let Some(fx) = fixtures() else { return };
    let mut checked = 0;
    for (product, profile) in profiles() {
        for reader in &profile.role_names() {
            let dir = tempfile::tempdir().unwrap();
            let topo = dir.path().join("t.toml");
            std::fs::write(&topo, topology(&product, &profile, reader)).unwrap();
            let t = topo.to_str().unwrap();
            let out = topoplan()
                .args(["plan", t, "--format", "json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{product} {reader}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
            let bundle = dir.path().join("out");
            topoplan()
                .args(["bundle", t, "-o", bundle.to_str().unwrap()])
                .assert()
                .success();
            let home = dir.path().join("home");
            copy_tree(&fx.join(&product), &home);
            topoplan()
                .args(["apply"])
                .arg(bundle.join("r"))
                .arg("--home")
                .arg(&home)
                .assert()
                .success();
            let address = |node: &str| -> String {
                plan["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["name"] == node)
                    .unwrap()["address"]
                    .as_str()
                    .unwrap()
                    .to_string()
            };
            let kv = plan["key_validation"].as_str().unwrap();
            for r in &profile.reference {
                if !r.readers.contains(reader) || !r.in_mode(kv) {
                    continue;
                }
                let all = crate::common::every_link(&plan);
                let links: Vec<&Value> = all
                    .iter()
                    .filter(|l| l["from"] == "r" && l["reference"] == r.name.as_str())
                    .collect();
                assert!(
                    !links.is_empty(),
                    "{product}: role {reader} reads `{}` but the plan wires nothing",
                    r.name
                );
                // A value the product derives from another element: that element holds the
                // address, and the derived file is left as shipped.
                let file = match &r.derived_from {
                    Some(src) => {
                        assert_eq!(
                            std::fs::read(home.join(&r.file)).unwrap(),
                            std::fs::read(fx.join(&product).join(&r.file)).unwrap(),
                            "{product}: `{}` is derived, but apply wrote {}",
                            r.name,
                            r.file
                        );
                        let source = profile.reference.iter().find(|x| &x.name == src).unwrap();
                        &source.file
                    }
                    None => &r.file,
                };
                let text = std::fs::read_to_string(home.join(file)).unwrap();
                for l in links {
                    let to = l["to"].as_str().unwrap();
                    let port = l["port"].as_u64().unwrap();
                    let want = if l["url"].is_string() {
                        format!("{}:{port}", url_host(&address(to)))
                    } else {
                        format!(">{port}<")
                    };
                    assert!(
                        text.contains(&want),
                        "{product}: role {reader} reads `{}` in {file}, which lacks {want} of `{to}` after apply",
                        r.name
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 40, "only {checked} values checked");
}

/// With several environments the product takes the one typed `production` for every app's SAML
/// service provider and access URL and fails without one (carbon-appmgt v1.2.2
/// `AppManagerUtil.java` L1494-1515, v1.0.1 L987-1008). Every node that reads the environment list,
/// in every shipped example, ends with exactly one, the first.
#[test]
fn every_environment_list_has_exactly_one_production_environment_first() {
    let Some(fx) = fixtures() else { return };
    let mut lists = 0;
    for t in crate::common::toml_files("topologies") {
        let dir = tempfile::tempdir().unwrap();
        let topo =
            crate::common::copy_example(t.trim_start_matches("topologies/"), dir.path(), "t.toml");
        let out = dir.path().join("out");
        assert!(
            crate::common::bundle_to(&topo, &out).status.success(),
            "{t}: bundle"
        );
        let plan: Value =
            serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
        let product = plan["product"].as_str().unwrap().to_string();
        if !product.starts_with("appm-") {
            // An App Manager rule: API Manager types an environment by the keys it serves.
            continue;
        }
        for node in plan["nodes"].as_array().unwrap() {
            let name = node["name"].as_str().unwrap();
            let home = dir.path().join("home").join(name);
            copy_tree(&fx.join(&product), &home);
            crate::common::apply_ok(&out.join(name), &home);
            let text =
                std::fs::read_to_string(home.join("repository/conf/app-manager.xml")).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let types: Vec<&str> = doc
                .descendants()
                .filter(|n| n.has_tag_name("Environment"))
                .map(|n| n.attribute("type").unwrap_or(""))
                .collect();
            if types.len() < 2 {
                continue;
            }
            lists += 1;
            let production = types.iter().filter(|t| **t == "production").count();
            assert_eq!(production, 1, "{t}: {name} has environments {types:?}");
            assert_eq!(
                types[0], "production",
                "{t}: {name}: the first is not production"
            );
        }
    }
    // The clustered examples list one environment per gateway cluster: the standalone
    // two-gateway examples hold the lists of several.
    assert!(
        lists >= 2,
        "only {lists} environment lists of several gateways checked"
    );
}

/// The store's social widget hard-codes two addresses of the store in code (`social.js`: the
/// origin it trusts and the proxy page on the HTTP port) and the mobile-app theme a third
/// (`asset.js`): every store's README names the three, on both versions, with its own values.
#[test]
fn every_store_readme_names_the_social_widget_sites_with_its_own_values() {
    let d = tempfile::tempdir().unwrap();
    for (topology, store) in [
        ("thrift-cross-host.toml", "store-pub"),
        ("three-host-split.toml", "store"),
        ("two-gateways-two-hosts.toml", "store"),
    ] {
        let out = d.path().join(topology);
        let o = crate::common::bundle_to(
            &crate::common::root().join("topologies").join(topology),
            &out,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let plan: Value =
            serde_json::from_slice(&std::fs::read(out.join("plan.json")).unwrap()).unwrap();
        let Some(node) = plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == store)
        else {
            panic!("{topology}: no node {store}");
        };
        let port = |name: &str| {
            node["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .unwrap()["effective"]
                .clone()
        };
        let address = node["address"].as_str().unwrap();
        let readme = std::fs::read_to_string(out.join(store).join("README.md")).unwrap();
        for (site, value) in [
            (
                "social_js_guest_domain",
                format!("https://{address}:{}", port("servlet-https")),
            ),
            (
                "social_js_proxy",
                format!("http://{address}:{}", port("servlet-http")),
            ),
            (
                "asset_js_social",
                format!("https://{address}:{}", port("servlet-https")),
            ),
        ] {
            let line = readme
                .lines()
                .find(|l| l.contains(&format!("**{site}**")))
                .unwrap_or_else(|| panic!("{topology}: {store}'s README lacks {site}:\n{readme}"));
            assert!(
                line.contains(&value),
                "{topology}: {site} should say {value}: {line}"
            );
        }
    }
}

/// A `[[link]]` with `kinds` decides only values of those kinds: linking a store + publisher
/// node to one gateway for its access URLs leaves its publisher's environment list whole.
#[test]
fn a_link_scoped_to_one_kind_leaves_the_other_lists_alone() {
    let d = tempfile::tempdir().unwrap();
    let base = "[deployment]\nname = \"k\"\nproduct = \"appm-1.2.0\"\n\n[[host]]\nname = \"h\"\naddress = \"10.0.0.1\"\n\n[[node]]\nname = \"gw1\"\nroles = [\"gateway\"]\nhost = \"h\"\n\n[[node]]\nname = \"gw2\"\nroles = [\"gateway\"]\nhost = \"h\"\n\n[[node]]\nname = \"km\"\nroles = [\"key-manager\"]\nhost = \"h\"\n\n[[node]]\nname = \"apps\"\nroles = [\"store\", \"publisher\"]\nhost = \"h\"\n\n[[link]]\nfrom = \"apps\"\nto = \"gw2\"\n";
    let providers = |extra: &str| {
        let t = d.path().join("t.toml");
        std::fs::write(&t, format!("{base}{extra}")).unwrap();
        let o = crate::common::topoplan()
            .arg("plan")
            .arg(&t)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
        let of = |reference: &str| -> Vec<String> {
            crate::common::every_link(&plan)
                .iter()
                .filter(|l| l["from"] == "apps" && l["reference"] == reference)
                .map(|l| l["to"].as_str().unwrap().to_string())
                .collect()
        };
        (of("store_gateway"), of("gateway_env"))
    };
    // Unscoped, the link names the publisher's list too: gw1 never receives an app.
    assert_eq!(
        providers(""),
        (vec!["gw2".to_string()], vec!["gw2".to_string()])
    );
    // Scoped to the store's access URLs: the publisher still serves both gateways.
    let (store, envs) = providers("kinds = [\"access-url\"]\n");
    assert_eq!(store, vec!["gw2".to_string()]);
    // Both, the store's first: the store shows the first environment's access URLs.
    assert_eq!(envs, vec!["gw2".to_string(), "gw1".to_string()]);
}
