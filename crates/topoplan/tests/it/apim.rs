//! API Manager 1.10.0 end to end, checked by reading the applied files, independent of the
//! profile: each `topologies/apim-*.toml` is planned, bundled and applied (twice) to copies of
//! the real files in `../shared/fixtures/apim-1.10.0`, then the files are read with their own
//! element paths and the product's own base ports, as the product would read them:
//! - every listening port of every node on a host is distinct (carbon.xml `Offset` over the base
//!   ports, the key manager's Thrift server on its exact `ThriftServerPort`);
//! - Thrift: `EnableThriftServer` only on key managers; each gateway's `ThriftClientPort` and
//!   `ThriftServerHost` are its key manager's; `KeyValidatorClientType` is the mode's;
//! - `APIKeyValidator/ServerURL` of every gateway, store and publisher, and `AuthManager/ServerURL`
//!   of the store and publisher, are the key manager's HTTPS URL;
//! - the gateway's /token, /authorize, /revoke and /userinfo targets, which the product derives
//!   from `APIKeyValidator/ServerURL` (host and port, `localhost` when it is the node's own
//!   address), reach the key manager, and the shipped derivation is untouched;
//! - the publisher has one environment per gateway (unique names), each with the gateway's
//!   admin URL and pass-through endpoints;
//! - the gateway's WorkflowCallbackService calls a store; the store revokes through a gateway;
//! - `check` finds no drift, and a hard-coded token API target is drift.

use crate::common::{copy_tree, fixtures, root, topoplan};
use roxmltree::{Document, Node};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

const SYNAPSE: &str = "http://ws.apache.org/ns/synapse";

struct Case {
    plan: Value,
    homes: BTreeMap<String, PathBuf>,
    _dir: tempfile::TempDir,
}

impl Case {
    fn nodes(&self) -> &Vec<Value> {
        self.plan["nodes"].as_array().unwrap()
    }
    fn node(&self, name: &str) -> &Value {
        self.nodes().iter().find(|n| n["name"] == name).unwrap()
    }
    fn with_role(&self, role: &str) -> Vec<String> {
        self.nodes()
            .iter()
            .filter(|n| n["roles"].as_array().unwrap().iter().any(|r| r == role))
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect()
    }
    fn read(&self, node: &str, rel: &str) -> String {
        std::fs::read_to_string(self.homes[node].join(rel)).unwrap()
    }
}

/// Plans, bundles and applies `topology` (twice: the second apply changes nothing).
fn case(topology: &str) -> Option<Case> {
    let fx = fixtures()?.join("apim-1.10.0");
    assert!(fx.is_dir(), "the API Manager fixtures are missing");
    let dir = tempfile::tempdir().unwrap();
    let t = root().join("topologies").join(topology);
    let plan = crate::common::plan_json(&t);
    let bundle = dir.path().join("out");
    assert!(crate::common::bundle_to(&t, &bundle).status.success());
    let mut homes = BTreeMap::new();
    for n in plan["nodes"].as_array().unwrap() {
        let name = n["name"].as_str().unwrap().to_string();
        let home = dir.path().join("homes").join(&name);
        copy_tree(&fx, &home);
        for round in 0..2 {
            let o = topoplan()
                .arg("apply")
                .arg(bundle.join(&name))
                .arg("--home")
                .arg(&home)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            if round == 1 {
                assert!(
                    String::from_utf8_lossy(&o.stdout).starts_with("0 file(s) changed"),
                    "{name}: a second apply changed files"
                );
            }
        }
        homes.insert(name, home);
    }
    Some(Case {
        plan,
        homes,
        _dir: dir,
    })
}

fn child<'a>(n: Node<'a, 'a>, name: &str) -> Option<Node<'a, 'a>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The text at a path of element names below the root.
fn text_at(doc: &Document, path: &[&str]) -> Option<String> {
    let mut n = doc.root_element();
    for p in path {
        n = child(n, p)?;
    }
    n.text().map(|t| t.trim().to_string())
}

fn api_manager(c: &Case, node: &str) -> String {
    c.read(node, "repository/conf/api-manager.xml")
}

/// (offset, HostName) of a node's carbon.xml.
fn carbon(c: &Case, node: &str) -> (u32, Option<String>) {
    let text = c.read(node, "repository/conf/carbon.xml");
    let doc = Document::parse(&text).unwrap();
    let offset = text_at(&doc, &["Ports", "Offset"])
        .unwrap()
        .parse()
        .unwrap();
    (offset, text_at(&doc, &["HostName"]))
}

/// host and port of a URL (`https://host:port/...`, IPv6 bracketed).
fn host_port(url: &str) -> (String, u32) {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap();
    let parsed = authority
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host.to_string(), port.parse().ok()?)));
    parsed.unwrap_or_else(|| panic!("`{url}` names no host and port (not rewired?)"))
}

fn key_manager_url(c: &Case) -> (String, u32) {
    endpoints(c, "key-manager", 9443).remove(0)
}

fn check_ports(c: &Case) {
    let mut per_host: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
    for n in c.nodes() {
        let name = n["name"].as_str().unwrap();
        let (offset, _) = carbon(c, name);
        assert_eq!(u64::from(offset), n["offset"].as_u64().unwrap(), "{name}");
        let host = n["host"].as_str().unwrap().to_string();
        let ports = per_host.entry(host).or_default();
        for base in [9443, 9763, 8243, 8280, 9999, 11111] {
            ports.push((base + offset, format!("{name}:{base}")));
        }
        let doc_text = api_manager(c, name);
        let doc = Document::parse(&doc_text).unwrap();
        if text_at(&doc, &["APIKeyValidator", "EnableThriftServer"]).as_deref() == Some("true") {
            let p = text_at(&doc, &["APIKeyValidator", "ThriftServerPort"]).unwrap();
            ports.push((p.parse().unwrap(), format!("{name}:thrift")));
        }
    }
    for (host, mut ports) in per_host {
        ports.sort();
        for w in ports.windows(2) {
            assert_ne!(
                w[0].0, w[1].0,
                "{host}: {} and {} share a port",
                w[0].1, w[1].1
            );
        }
    }
}

fn check_key_validation(c: &Case, mode_client: &str) {
    let (km_host, km_port) = key_manager_url(c);
    let km = &c.with_role("key-manager")[0];
    let km_doc_text = api_manager(c, km);
    let km_doc = Document::parse(&km_doc_text).unwrap();
    let thrift = mode_client == "ThriftClient";
    for n in c.nodes() {
        let name = n["name"].as_str().unwrap();
        let text = api_manager(c, name);
        let doc = Document::parse(&text).unwrap();
        let is_km = name == km;
        assert_eq!(
            text_at(&doc, &["APIKeyValidator", "KeyValidatorClientType"]).as_deref(),
            Some(mode_client),
            "{name}"
        );
        assert_eq!(
            text_at(&doc, &["APIKeyValidator", "EnableThriftServer"]).as_deref(),
            Some(if is_km && thrift { "true" } else { "false" }),
            "{name}: only key managers run the Thrift server (and none over ws)"
        );
        if is_km {
            continue;
        }
        let url = text_at(&doc, &["APIKeyValidator", "ServerURL"]).unwrap();
        assert_eq!(
            host_port(&url),
            (km_host.clone(), km_port),
            "{name}: APIKeyValidator/ServerURL"
        );
        let roles = n["roles"].as_array().unwrap();
        if roles.iter().any(|r| r == "store" || r == "publisher") {
            let url = text_at(&doc, &["AuthManager", "ServerURL"]).unwrap();
            assert_eq!(
                host_port(&url),
                (km_host.clone(), km_port),
                "{name}: AuthManager/ServerURL"
            );
        }
        if roles.iter().any(|r| r == "gateway") && thrift {
            assert_eq!(
                text_at(&doc, &["APIKeyValidator", "ThriftClientPort"]),
                text_at(&km_doc, &["APIKeyValidator", "ThriftServerPort"]),
                "{name}: the Thrift pair"
            );
            assert_eq!(
                text_at(&doc, &["APIKeyValidator", "ThriftServerHost"]).as_deref(),
                Some(km_host.as_str()),
                "{name}: ThriftServerHost"
            );
        }
    }
}

/// What the gateway's OAuth APIs reach: the product copies APIKeyValidator/ServerURL's host
/// (`localhost` when it is the node's own address) and port into keyManager.hostname and
/// keyManager.port, and each API's uri-template uses them.
fn check_derived_oauth_apis(c: &Case) {
    let (km_host, km_port) = key_manager_url(c);
    for gw in c.with_role("gateway") {
        let text = api_manager(c, &gw);
        let doc = Document::parse(&text).unwrap();
        let (host, port) = host_port(&text_at(&doc, &["APIKeyValidator", "ServerURL"]).unwrap());
        let own = c.node(&gw)["address"].as_str().unwrap();
        let host = if host == own {
            "localhost".to_string()
        } else {
            host
        };
        for (api, path) in [
            ("_TokenAPI_", "token"),
            ("_AuthorizeAPI_", "authorize"),
            ("_RevokeAPI_", "revoke"),
            ("_UserInfoAPI_", "userinfo"),
        ] {
            let rel = format!("repository/deployment/server/synapse-configs/default/api/{api}.xml");
            let file = c.read(&gw, &rel);
            let doc = Document::parse(&file).unwrap();
            let http = doc
                .descendants()
                .find(|n| n.has_tag_name((SYNAPSE, "http")))
                .unwrap();
            let template = http.attribute("uri-template").unwrap();
            assert_eq!(
                template,
                format!("https://{{uri.var.hostname}}:{{uri.var.portnum}}/oauth2/{path}"),
                "{gw}: {api} no longer derives its target"
            );
            let target = template
                .replace("{uri.var.hostname}", &host)
                .replace("{uri.var.portnum}", &port.to_string());
            let reached = host_port(&target);
            let km_name = if reached.0 == "localhost" {
                own.to_string()
            } else {
                reached.0.clone()
            };
            assert_eq!(
                (km_name, reached.1),
                (km_host.clone(), km_port),
                "{gw}: {api} reaches {target}"
            );
        }
    }
}

fn check_environments(c: &Case) {
    let gateways = c.with_role("gateway");
    for p in c.with_role("publisher") {
        let text = api_manager(c, &p);
        let doc = Document::parse(&text).unwrap();
        let envs: Vec<Node> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Environment"))
            .collect();
        assert_eq!(
            envs.len(),
            gateways.len(),
            "{p}: one environment per gateway"
        );
        let mut names: Vec<String> = envs
            .iter()
            .map(|e| {
                child(*e, "Name")
                    .unwrap()
                    .text()
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), envs.len(), "{p}: environment names are unique");
        let mut reached: Vec<String> = Vec::new();
        for e in envs {
            let server = child(e, "ServerURL").unwrap().text().unwrap();
            let (host, port) = host_port(server);
            let gw = gateways
                .iter()
                .find(|g| c.node(g)["address"] == host.as_str() && 9443 + carbon(c, g).0 == port)
                .unwrap_or_else(|| panic!("{p}: environment ServerURL {server} is no gateway"));
            let offset = carbon(c, gw).0;
            let endpoints = child(e, "GatewayEndpoint").unwrap().text().unwrap();
            let ports: Vec<u32> = endpoints.split(',').map(|u| host_port(u).1).collect();
            assert_eq!(
                ports,
                [8280 + offset, 8243 + offset],
                "{p}: {gw}'s endpoints"
            );
            reached.push(gw.clone());
        }
        reached.sort();
        let mut want = gateways.clone();
        want.sort();
        assert_eq!(reached, want, "{p}: every gateway gets the APIs");
    }
}

/// (address, `base` + offset) of every node with `role`.
fn endpoints(c: &Case, role: &str, base: u32) -> Vec<(String, u32)> {
    c.with_role(role)
        .iter()
        .map(|n| {
            let address = c.node(n)["address"].as_str().unwrap().to_string();
            (address, base + carbon(c, n).0)
        })
        .collect()
}

fn check_store_links(c: &Case) {
    let stores = endpoints(c, "store", 9443);
    for gw in c.with_role("gateway") {
        let text = c.read(
            &gw,
            "repository/deployment/server/synapse-configs/default/proxy-services/WorkflowCallbackService.xml",
        );
        let doc = Document::parse(&text).unwrap();
        let address = doc
            .descendants()
            .find(|n| n.has_tag_name((SYNAPSE, "address")))
            .unwrap();
        let target = host_port(address.attribute("uri").unwrap());
        assert!(
            stores.contains(&target),
            "{gw}: workflow callback reaches {target:?}"
        );
    }
    let gateways = endpoints(c, "gateway", 8243);
    for s in c.with_role("store") {
        let text = api_manager(c, &s);
        let doc = Document::parse(&text).unwrap();
        let url = text_at(&doc, &["APIKeyValidator", "RevokeAPIURL"]).unwrap();
        assert!(
            gateways.contains(&host_port(&url)),
            "{s}: RevokeAPIURL {url}"
        );
    }
}

/// `check` agrees with what apply wrote, and sees a token API someone hard-coded.
fn check_drift(c: &Case, topology: &str) {
    let t = root().join("topologies").join(topology);
    let mut cmd = topoplan();
    cmd.arg("check").arg(&t);
    for (n, h) in &c.homes {
        cmd.arg("--home").arg(format!("{n}={}", h.display()));
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let gw = &c.with_role("gateway")[0];
    let rel = "repository/deployment/server/synapse-configs/default/api/_TokenAPI_.xml";
    let path = c.homes[gw].join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "https://{uri.var.hostname}:{uri.var.portnum}/oauth2/token",
            "https://10.9.9.9:9443/oauth2/token",
        ),
    )
    .unwrap();
    let o = topoplan()
        .arg("check")
        .arg(&t)
        .arg("--home")
        .arg(format!("{gw}={}", c.homes[gw].display()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("_TokenAPI_.xml"));
    std::fs::write(&path, text).unwrap();
}

fn run(topology: &str, client: &str) {
    let Some(c) = case(topology) else { return };
    check_ports(&c);
    check_key_validation(&c, client);
    check_derived_oauth_apis(&c);
    check_environments(&c);
    check_store_links(&c);
    check_drift(&c, topology);
}

#[test]
fn one_host_with_four_nodes() {
    run("apim-one-host.toml", "ThriftClient");
}

#[test]
fn two_hosts_over_thrift() {
    run("apim-thrift-two-hosts.toml", "ThriftClient");
}

#[test]
fn two_hosts_over_https_key_validation() {
    run("apim-ws-two-hosts.toml", "WSClient");
}

/// The home identity `apply` checks is API Manager's: an App Manager bundle is refused on an
/// API Manager home, and the other way round.
#[test]
fn bundles_of_one_product_never_touch_the_other() {
    let Some(fx) = fixtures() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    topoplan()
        .args(["bundle", "topologies/apim-one-host.toml", "-o"])
        .arg(&out)
        .assert()
        .success();
    let home = d.path().join("appm");
    copy_tree(&fx.join("appm-1.2.0"), &home);
    let o = topoplan()
        .arg("apply")
        .arg(out.join("apim-gw"))
        .arg("--home")
        .arg(&home)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("WSO2 App Manager"));
}

/// The commands around a plan work on API Manager with the built-in profile: the review, the
/// firewall and picture outputs, `explain`, and the Ansible export, whose inventory gives the
/// gateway its key manager as WSO2's roles name it (`key_manager_server_url`).
#[test]
fn every_command_works_on_api_manager_topologies() {
    let d = tempfile::tempdir().unwrap();
    let t = root().join("topologies/apim-thrift-two-hosts.toml");
    for args in [
        vec!["review", "-o", "r.html"],
        vec!["graph", "--format", "svg"],
        vec!["explain"],
    ] {
        let mut cmd = topoplan();
        cmd.current_dir(d.path())
            .arg(args[0])
            .arg(&t)
            .args(&args[1..]);
        if args[0] == "explain" {
            cmd.arg("gateway");
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(std::fs::read_to_string(d.path().join("r.html"))
        .unwrap()
        .contains("apim-1.10.0"));
    let out = d.path().join("ansible");
    let o = topoplan()
        .args(["export", "ansible"])
        .arg(&t)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let inventory = std::fs::read_to_string(out.join("inventory.yml")).unwrap();
    let gateway = inventory.split("- name: \"gateway\"").nth(1).unwrap();
    assert!(
        gateway.contains("key_manager_server_url: \"https://192.168.60.10:9443/services/\""),
        "{inventory}"
    );
    assert!(out
        .join("bundles/gateway/overlay/repository/conf/api-manager.xml.patch.xml")
        .is_file());
}
