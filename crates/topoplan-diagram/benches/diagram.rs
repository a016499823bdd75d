//! `cargo bench -p topoplan-diagram`: wall time of each diagram format for the example
//! topologies and for generated ones, median of repeated runs, printed as the table that
//! docs/benchmarks.md records. The SVG column is the in-process layout, which dominates
//! `review` and `graph --format svg`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use topoplan_diagram::Diagram;
use topoplan_model::Profile;

fn median(mut f: impl FnMut()) -> (Duration, usize) {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < Duration::from_secs(3) && times.len() < 100) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], times.len())
}

fn generated(hosts: usize, per_host: usize) -> String {
    let mut s = String::from("[deployment]\nname = \"bench\"\nproduct = \"appm-1.1.0\"\n");
    for h in 0..hosts {
        s += &format!("[[host]]\nname = \"h{h}\"\naddress = \"10.0.0.{h}\"\n");
    }
    for h in 0..hosts {
        for k in 0..per_host {
            let role = ["key-manager", "gateway", "store", "publisher"][k % 4];
            s += &format!("[[node]]\nname = \"n{h}-{k}\"\nhost = \"h{h}\"\nroles = [\"{role}\"]\n");
            if role != "key-manager" {
                s += &format!("[[link]]\nfrom = \"n{h}-{k}\"\nto = \"n{h}-0\"\n");
            }
        }
    }
    s
}

fn main() {
    let mut profiles = BTreeMap::new();
    for (name, src) in [
        (
            "appm-1.1.0",
            include_str!("../../../templates/appm-1.1.0/profile.toml"),
        ),
        (
            "appm-1.2.0",
            include_str!("../../../templates/appm-1.2.0/profile.toml"),
        ),
    ] {
        profiles.insert(name.to_string(), Profile::parse(src).unwrap());
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../topologies");
    let mut cases: Vec<(String, String)> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
        })
        .collect();
    cases.sort();
    cases.push(("generated 3 hosts x 4".into(), generated(3, 4)));
    cases.push(("generated 6 hosts x 4".into(), generated(6, 4)));
    println!("| topology | nodes | edges | dot | mermaid | svg (layout) | svg runs |");
    println!("|---|---|---|---|---|---|---|");
    for (name, src) in cases {
        let topo = topoplan_model::parse(&src, &profiles).unwrap();
        let plan = topoplan_solver::solve(&topo, &profiles[&topo.product]).unwrap();
        let d = Diagram::from_plan(&plan);
        let (dot, _) = median(|| {
            std::hint::black_box(Diagram::from_plan(&plan).dot());
        });
        let (mermaid, _) = median(|| {
            std::hint::black_box(d.mermaid());
        });
        let (svg, runs) = median(|| {
            std::hint::black_box(d.svg());
        });
        println!(
            "| {name} | {} | {} | {:.3} ms | {:.3} ms | {:.1} ms | {runs} |",
            plan.nodes.len(),
            d.edges.len(),
            dot.as_secs_f64() * 1e3,
            mermaid.as_secs_f64() * 1e3,
            svg.as_secs_f64() * 1e3
        );
    }
}
