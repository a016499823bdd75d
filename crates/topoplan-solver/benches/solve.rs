//! `cargo bench -p topoplan-solver`: wall time of parse + solve for growing topologies.
//! A plain bench binary (no harness dependency): median of repeated runs, printed as a table
//! that docs/benchmarks.md records.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use topoplan_model::Profile;

fn topology(hosts: usize, per_host: usize, reserved: bool) -> String {
    let mut s = String::from("[deployment]\nname = \"bench\"\nproduct = \"appm-1.1.0\"\n");
    for h in 0..hosts {
        s += &format!(
            "[[host]]\nname = \"h{h}\"\naddress = \"10.0.{}.{}\"\n",
            h / 250,
            h % 250
        );
        if reserved {
            s += "reserved_ports = [9443, 9444, 9763, 8280, 8243, 9999, 11111, 10397, 3306]\n";
        }
    }
    for h in 0..hosts {
        for k in 0..per_host {
            let role = ["key-manager", "gateway", "store", "publisher"][k % 4];
            s += &format!("[[node]]\nname = \"n{h}-{k}\"\nhost = \"h{h}\"\nroles = [\"{role}\"]\n");
            if role == "gateway" {
                s += &format!("[[link]]\nfrom = \"n{h}-{k}\"\nto = \"n{h}-0\"\n");
            }
        }
    }
    s
}

fn main() {
    let mut profiles = BTreeMap::new();
    profiles.insert(
        "appm-1.1.0".to_string(),
        Profile::parse(include_str!("../../../templates/appm-1.1.0/profile.toml")).unwrap(),
    );
    println!("| hosts | nodes/host | reserved | nodes | median parse+solve | runs |");
    println!("|---|---|---|---|---|---|");
    for (hosts, per_host, reserved) in [
        (1, 4, false),
        (1, 12, true),
        (1, 36, true),
        (10, 8, true),
        (50, 8, false),
        (1, 60, true),
    ] {
        let src = topology(hosts, per_host, reserved);
        let mut times = Vec::new();
        let start = Instant::now();
        while times.len() < 5 || (start.elapsed() < Duration::from_secs(2) && times.len() < 200) {
            let t = Instant::now();
            let topo = topoplan_model::parse(&src, &profiles).unwrap();
            let plan = topoplan_solver::solve(&topo, &profiles["appm-1.1.0"]).unwrap();
            std::hint::black_box(plan);
            times.push(t.elapsed());
        }
        times.sort();
        let median = times[times.len() / 2];
        println!(
            "| {hosts} | {per_host} | {reserved} | {} | {:.3} ms | {} |",
            hosts * per_host,
            median.as_secs_f64() * 1e3,
            times.len()
        );
    }
}
