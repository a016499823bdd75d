//! Writes the seed corpora: `fuzz/corpus/plan_render` and `export_ansible` from the example
//! topologies, and `fuzz/corpus/apply_patch` from every example overlay joined with the real
//! product file
//! (`TOPOPLAN_FIXTURES`, default `../shared/fixtures` beside the checkout). The corpora are
//! not committed: the fixtures are the product's files, read where they are.
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let fixtures = std::env::var_os("TOPOPLAN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../shared/fixtures"));
    for (target, seeds) in [
        ("plan_render", topoplan_fuzzing::topology_seeds()),
        ("export_ansible", topoplan_fuzzing::topology_seeds()),
        ("apply_patch", topoplan_fuzzing::apply_seeds(&fixtures)),
    ] {
        let dir = root.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:04}")), s).unwrap();
        }
        println!("{target}: {} seeds in {}", seeds.len(), dir.display());
    }
}
