//! The generic port and provider rules, on a small made-up product: nothing here is App
//! Manager, so the engine is shown to work from the profile alone.

use std::collections::BTreeMap;
use topoplan_model::Profile;
use topoplan_solver::Plan;

const PROFILE: &str = r##"
[product]
name = "mini"
title = "Mini"
[product.home]
marker = "conf"
file = "conf/server.xml"
name = "Mini"
version = "1"

[[role]]
name = "web"
description = "front"

[[role]]
name = "db"
description = "back"
single = "every web node loses its data with it"

[[kind]]
name = "rpc"
legend = "web calls db"
colour = "#112233"

[[port]]
name = "https"
base = 9443
protocol = "https"
purpose = "p"
file = "conf/server.xml"
element = "e"
listens = true
follows_offset = true
evidence = "ev"

[[port]]
name = "admin"
base = 9500
protocol = "tcp"
purpose = "p"
file = "conf/server.xml"
element = "e"
listens = true
follows_offset = false
roles = ["db"]
evidence = "ev"

[[port]]
name = "rpc"
base = 7000
protocol = "tcp"
purpose = "p"
file = "conf/server.xml"
element = "e"
listens = true
follows_offset = false
rule = "per-node"
roles = ["db"]
column = "rpc"
evidence = "ev"

[[reference]]
name = "db_rpc"
kind = "rpc"
readers = ["web"]
readers_evidence = "ev"
provider = "db"
required_for = ["web"]
cross_host = "calls its database"
port = "rpc"
file = "conf/server.xml"
element = "e"
default = "7000"
evidence = "ev"
"##;

fn plan(topology: &str) -> Result<Plan, Vec<String>> {
    let profile = Profile::parse(PROFILE).expect("profile parses");
    let profiles = BTreeMap::from([("mini".to_string(), profile.clone())]);
    let src = format!("[deployment]\nname = \"t\"\nproduct = \"mini\"\n{topology}");
    let topo = topoplan_model::parse(&src, &profiles)
        .map_err(|d| d.iter().map(|d| d.code.to_string()).collect::<Vec<_>>())?;
    topoplan_solver::solve(&topo, &profile)
        .map_err(|d| d.iter().map(|d| d.code.to_string()).collect())
}

fn node(name: &str, role: &str, host: &str) -> String {
    format!("[[node]]\nname = \"{name}\"\nroles = [\"{role}\"]\nhost = \"{host}\"\n")
}

const HOSTS: &str = "[[host]]\nname = \"a\"\naddress = \"10.0.0.1\"\n[[host]]\nname = \"b\"\naddress = \"10.0.0.2\"\n";

#[test]
fn a_fixed_port_two_nodes_open_on_one_host_is_a_collision() {
    let link = "[[link]]\nfrom = \"w\"\nto = \"db1\"\n";
    let t = format!(
        "{HOSTS}{}{}{}{link}",
        node("db1", "db", "a"),
        node("db2", "db", "a"),
        node("w", "web", "b")
    );
    assert_eq!(plan(&t).unwrap_err(), ["fixed-port-collision"]);
    // On separate hosts each opens it; a web node, which does not open it, never lists it.
    let t = format!(
        "{HOSTS}{}{}{}{link}",
        node("db1", "db", "a"),
        node("db2", "db", "b"),
        node("w", "web", "b")
    );
    let p = plan(&t).unwrap();
    assert_eq!(p.node("db1").unwrap().port("admin"), Some(9500));
    assert_eq!(p.node("w").unwrap().port("admin"), None);
}

#[test]
fn per_node_ports_are_unique_on_a_host_and_readers_carry_the_providers_value() {
    let t = format!(
        "{HOSTS}{}{}{}{}[[link]]\nfrom = \"w\"\nto = \"db2\"\n",
        node("db1", "db", "a"),
        node("db2", "db", "b"),
        node("db3", "db", "b"),
        node("w", "web", "a")
    );
    // db2 and db3 share host b, so both cannot keep their fixed admin port.
    assert_eq!(plan(&t).unwrap_err(), ["fixed-port-collision"]);
    let mini = PROFILE.replace("name = \"admin\"", "name = \"admin\"\nmodes = [\"none\"]");
    assert!(
        Profile::parse(&mini).is_err(),
        "an unknown mode is a profile error"
    );
    let without_admin = PROFILE.replace(
        "listens = true\nfollows_offset = false\nroles = [\"db\"]\nevidence",
        "listens = false\nfollows_offset = false\nroles = [\"db\"]\nevidence",
    );
    let profile = Profile::parse(&without_admin).unwrap();
    let profiles = BTreeMap::from([("mini".to_string(), profile.clone())]);
    let src = format!("[deployment]\nname = \"t\"\nproduct = \"mini\"\n{t}");
    let topo = topoplan_model::parse(&src, &profiles).unwrap();
    let p = topoplan_solver::solve(&topo, &profile).unwrap();
    let (d2, d3) = (p.node("db2").unwrap(), p.node("db3").unwrap());
    assert_eq!((d2.port("rpc"), d3.port("rpc")), (Some(7000), Some(7001)));
    assert_eq!(p.node("w").unwrap().port("rpc"), None, "only db opens rpc");
    let l = p.links.iter().find(|l| l.from == "w").unwrap();
    assert_eq!((l.to.as_str(), l.port), ("db2", 7000));
    // The lock keeps per-node ports by name.
    let lock = topoplan_solver::lock_of(&p);
    assert_eq!(lock.nodes["db3"].ports["rpc"], 7001);
    // The profile's cross_host text makes a located, coded warning naming both nodes.
    let w = p
        .warnings
        .iter()
        .find(|w| w.code == "cross-host-link")
        .unwrap();
    assert_eq!(w.nodes, ["w", "db2"]);
    assert!(
        w.message.contains("`w` calls its database at `db2`"),
        "{}",
        w.message
    );
    assert!(w.span.is_some());
}

#[test]
fn required_providers_are_errors_and_single_roles_warn_with_their_code() {
    let t = format!("{HOSTS}{}", node("w", "web", "a"));
    assert_eq!(plan(&t).unwrap_err(), ["missing-provider"]);
    let t = format!(
        "{HOSTS}{}{}{}",
        node("w", "web", "a"),
        node("d1", "db", "a"),
        node("d2", "db", "b")
    );
    assert_eq!(plan(&t).unwrap_err(), ["ambiguous-provider"]);
    let t = format!("{HOSTS}{}{}", node("w", "web", "a"), node("d1", "db", "b"));
    let p = plan(&t).unwrap();
    let w = p.warnings.iter().find(|w| w.code == "single-db").unwrap();
    assert_eq!(w.nodes, ["d1"]);
    assert!(w.message.ends_with("every web node loses its data with it"));
}

/// A list value derived from another list (`derived_from` on an `each` reference): every web
/// node shares one list per reference, the derived one holding the same providers, in each
/// reader's same order, and saying why.
#[test]
fn a_list_derived_from_a_shared_list_is_shared_in_the_same_order() {
    let list = |name: &str, derived: &str| {
        format!("[[reference]]\nname = \"{name}\"\nkind = \"bulk\"\nreaders = [\"web\"]\nreaders_evidence = \"ev\"\nprovider = \"db\"\nproviders = \"each\"\nport = \"https\"\nfile = \"conf/server.xml\"\nelement = \"e\"\ndefault = \"d\"\n{derived}evidence = \"ev\"\n")
    };
    let extra = format!(
        "[[kind]]\nname = \"bulk\"\nlegend = \"web lists every db\"\ncolour = \"#445566\"\n{}{}",
        list("all_https", ""),
        list("all_https_copy", "derived_from = \"all_https\"\n")
    );
    let profile = Profile::parse(&format!("{PROFILE}{extra}")).expect("profile parses");
    let profiles = BTreeMap::from([("mini".to_string(), profile.clone())]);
    let mut topology = format!("[deployment]\nname = \"t\"\nproduct = \"mini\"\n{HOSTS}");
    for (n, role, host) in [
        ("w1", "web", "a"),
        ("w2", "web", "b"),
        ("d1", "db", "a"),
        ("d2", "db", "b"),
    ] {
        topology.push_str(&node(n, role, host));
    }
    // Each web node's database by link, for the single value only: the lists stay whole.
    topology.push_str("[[link]]\nfrom = \"w1\"\nto = \"d1\"\nkinds = [\"rpc\"]\n[[link]]\nfrom = \"w2\"\nto = \"d2\"\nkinds = [\"rpc\"]\n");
    let topo = topoplan_model::parse(&topology, &profiles).unwrap();
    let p = topoplan_solver::solve(&topo, &profile).unwrap();
    let list = |r: &str| p.lists.iter().find(|l| l.reference == r).expect(r);
    let (src, copy) = (list("all_https"), list("all_https_copy"));
    assert_eq!(
        src.readers, copy.readers,
        "the same readers, each with the same head"
    );
    let to = |l: &topoplan_solver::ListPlan| {
        l.entries
            .iter()
            .map(|e| e.to.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(to(src), ["d1", "d2"]);
    assert_eq!(to(src), to(copy));
    assert!(copy
        .entries
        .iter()
        .all(|e| e.why.contains("derived by the product from `all_https`")));
    for (r, own) in [("w1", "d1"), ("w2", "d2")] {
        let of = |reference: &str| -> Vec<String> {
            (p.links_of(r).iter())
                .filter(|l| l.reference == reference)
                .map(|l| l.to.to_string())
                .collect()
        };
        assert_eq!(of("all_https"), of("all_https_copy"), "{r}");
        assert_eq!(of("all_https").len(), 2);
        assert_eq!(of("all_https")[0], own, "{r}: its own host first");
    }
}
