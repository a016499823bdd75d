//! Lock formats: a version 2 lock, which held every list entry as a link, reads as the same
//! plan as the version 3 lock of it (shared lists), with nothing to change.

use std::collections::BTreeMap;
use topoplan_model::{Lock, LockedLink, Profile};

const PROFILE_120: &str = include_str!("../../../../templates/appm-1.2.0/profile.toml");
const TOPOLOGY: &str = include_str!("../../../../topologies/two-gateways-two-hosts.toml");

#[test]
fn a_version_2_lock_of_per_pair_links_reads_as_its_shared_lists() {
    let profile = Profile::parse(PROFILE_120).unwrap();
    let profiles = BTreeMap::from([("appm-1.2.0".to_string(), profile.clone())]);
    let topo = topoplan_model::parse(TOPOLOGY, &profiles).unwrap();
    let plan = topoplan_solver::solve(&topo, &profile).unwrap();
    assert!(!plan.lists.is_empty(), "the example shares lists");
    let v3 = topoplan_solver::lock_of(&plan);
    // The same lock as version 2 wrote it: every list entry a link of its reader.
    let mut v2 = v3.clone();
    v2.version = 2;
    v2.lists.clear();
    v2.links = plan
        .all_links()
        .map(|l| LockedLink {
            from: l.from.to_string(),
            reference: l.reference.to_string(),
            to: l.to.to_string(),
            port: l.port,
            url: l.url.as_ref().map(|u| u.to_string()),
        })
        .collect();
    v2.links.sort();
    let text = v2.to_toml().replace("version = 3", "version = 2");
    let read = Lock::parse(&text, &plan.deployment, &plan.product).unwrap();
    for lock in [&v3, &read] {
        let again = topoplan_solver::solve_locked(&topo, &profile, Some(lock)).unwrap();
        assert_eq!(again.changes.as_deref(), Some(&[][..]), "nothing changed");
        assert_eq!(again.lists, plan.lists);
        assert_eq!(again.links, plan.links);
    }
    // A lock of another format version is refused, naming the versions read.
    let d = Lock::parse(
        &text.replace("version = 2", "version = 4"),
        "x",
        "appm-1.2.0",
    );
    assert!(d.is_err());
}
