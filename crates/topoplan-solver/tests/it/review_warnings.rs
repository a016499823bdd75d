//! The review warnings an architect relies on: each fires on the situation it names and
//! stays silent otherwise.

use std::collections::BTreeMap;
use topoplan_model::Profile;
use topoplan_solver::Plan;

const PROFILE_110: &str = include_str!("../../../../templates/appm-1.1.0/profile.toml");

fn plan_with(profile_src: &str, topology: &str) -> Plan {
    let profile = Profile::parse(profile_src).expect("profile parses");
    let mut profiles = BTreeMap::new();
    profiles.insert("appm-1.1.0".to_string(), profile.clone());
    let topo = topoplan_model::parse(topology, &profiles).expect("topology is valid");
    topoplan_solver::solve(&topo, &profile).expect("topology solves")
}

fn topology(km_host: &str, reserved: &str) -> String {
    format!(
        r#"
[deployment]
name = "t"
product = "appm-1.1.0"

[[host]]
name = "dmz"
address = "10.0.0.1"
reserved_ports = [{reserved}]

[[host]]
name = "core"
address = "10.0.0.2"

[[node]]
name = "gw"
roles = ["gateway"]
host = "dmz"

[[node]]
name = "km"
roles = ["key-manager"]
host = "{km_host}"
"#
    )
}

fn matching<'a>(plan: &'a Plan, needle: &str) -> Vec<&'a String> {
    plan.warnings
        .iter()
        .filter(|w| w.message.contains(needle))
        .map(|w| &w.message)
        .collect()
}

#[test]
fn thrift_across_hosts_names_the_port_to_open() {
    let plan = plan_with(PROFILE_110, &topology("core", ""));
    let w = matching(&plan, "validates keys over Thrift");
    assert_eq!(w.len(), 1, "{:?}", plan.warnings);
    assert!(
        w[0].contains("open TCP 10.0.0.2:10397 on `core`"),
        "{}",
        w[0]
    );
    assert!(w[0].contains("from `dmz`"), "{}", w[0]);
}

#[test]
fn thrift_on_the_same_host_needs_no_opening() {
    let plan = plan_with(PROFILE_110, &topology("dmz", ""));
    assert!(
        matching(&plan, "validates keys over Thrift").is_empty(),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn single_key_manager_is_a_single_point_of_failure() {
    let plan = plan_with(PROFILE_110, &topology("core", ""));
    assert_eq!(matching(&plan, "single point of failure").len(), 1);
}

#[test]
fn reserved_port_next_to_a_used_one_is_reported_once_per_node() {
    // 9445 is two above gw's 9443 (offset 0 on dmz): near. 9500 is far.
    let plan = plan_with(PROFILE_110, &topology("core", "9445, 9500"));
    let w = matching(&plan, "reserved port(s)");
    assert_eq!(w.len(), 1, "{:?}", plan.warnings);
    assert!(w[0].starts_with("`gw` listens within 2"), "{}", w[0]);
    assert!(
        w[0].contains("9445 (its servlet-https is 9443)"),
        "{}",
        w[0]
    );
    assert!(!w[0].contains("9500"), "{}", w[0]);

    let far = plan_with(PROFILE_110, &topology("core", "9500"));
    assert!(
        matching(&far, "reserved port(s)").is_empty(),
        "{:?}",
        far.warnings
    );
}

#[test]
fn ports_below_1024_are_reported() {
    // The default port range keeps every port at 1024 or above (the offset moves it up); a
    // site profile that allows privileged ports and moves the HTTP servlet port to 80 gets
    // the warning.
    let profile = PROFILE_110
        .replacen("base = 9763", "base = 80", 1)
        .replacen("[product]\n", "[product]\nport_range = [1, 65535]\n", 1);
    assert_ne!(
        profile, PROFILE_110,
        "the profile still defines servlet-http at 9763"
    );
    let plan = plan_with(&profile, &topology("core", ""));
    let w = matching(&plan, "below 1024");
    assert_eq!(w.len(), 2, "one per node: {:?}", plan.warnings);
    assert!(w
        .iter()
        .any(|w| w.starts_with("`gw` listens on servlet-http port 80")));

    let standard = plan_with(PROFILE_110, &topology("core", ""));
    assert!(matching(&standard, "below 1024").is_empty());
}
