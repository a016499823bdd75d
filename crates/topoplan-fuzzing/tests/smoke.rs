//! The fuzz smoke run that CI does on stable Rust: every seed as is, then seeded random
//! mutations of the seeds (flips, inserts, deletions, truncations, splices), through the same
//! harnesses as the long cargo-fuzz runs in `fuzz/` (docs/fuzzing.md). A panic fails the test
//! and proptest prints the smallest input.

use proptest::prelude::*;
use std::path::PathBuf;

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("TOPOPLAN_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    if dir.join("appm-1.1.0").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "product fixtures not found at `{}`",
        dir.display()
    );
    eprintln!(
        "skipped: product fixtures not found at `{}` (set TOPOPLAN_FIXTURES)",
        dir.display()
    );
    None
}

/// Seeds are computed once per test binary (the apply seeds render every example).
fn topology_seeds() -> &'static Vec<Vec<u8>> {
    static S: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    S.get_or_init(topoplan_fuzzing::topology_seeds)
}

fn apply_seeds() -> Option<&'static Vec<Vec<u8>>> {
    static S: std::sync::OnceLock<Option<Vec<Vec<u8>>>> = std::sync::OnceLock::new();
    S.get_or_init(|| fixtures().map(|fx| topoplan_fuzzing::apply_seeds(&fx)))
        .as_ref()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
    /// Copy a run of the input over another place (duplicates tables, tags, brackets).
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting: Vec<Vec<u8>> = [
        "[",
        "]",
        "[[",
        "\"",
        "<",
        ">",
        "<!--",
        "-->",
        "&",
        "\u{1b}[31m",
        "\n",
        "\0",
        "{",
        "}",
        ",",
        "\"op\"",
        "/",
        "~",
        "99999999999999999999",
        "-1",
        "::",
        "%",
        "\u{ff}",
        "a]b",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), prop::sample::select(interesting))
            .prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn mutate(mut data: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let len = data.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !data.is_empty() {
                    data[i % len] ^= b | 1;
                }
            }
            Mutation::Insert(i, s) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, s.iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Mutation::Truncate(i) => data.truncate(i % len),
            Mutation::Splice(a, b, n) => {
                if !data.is_empty() {
                    let from = a % data.len();
                    let run: Vec<u8> = data[from..(from + n).min(data.len())].to_vec();
                    let at = b % (data.len() + 1);
                    data.splice(at..at, run);
                }
            }
        }
    }
    data
}

#[test]
fn every_seed_passes_through_every_harness() {
    let seeds = topology_seeds();
    assert!(
        seeds.len() >= 20,
        "examples and invalid examples are the seeds"
    );
    for s in seeds {
        topoplan_fuzzing::plan_and_render(s);
        topoplan_fuzzing::export_ansible(s);
    }
    if let Some(seeds) = apply_seeds() {
        assert!(seeds.len() >= 50, "only {} apply seeds", seeds.len());
        for s in seeds {
            topoplan_fuzzing::apply_patch(s);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_topologies_never_panic(i in any::<prop::sample::Index>(), ms in prop::collection::vec(mutation(), 1..6)) {
        topoplan_fuzzing::plan_and_render(&mutate(i.get(topology_seeds()).clone(), &ms));
    }

    #[test]
    fn mutated_topologies_export_inert_ansible(i in any::<prop::sample::Index>(), ms in prop::collection::vec(mutation(), 1..6)) {
        topoplan_fuzzing::export_ansible(&mutate(i.get(topology_seeds()).clone(), &ms));
    }

    #[test]
    fn mutated_patches_and_product_files_never_panic(i in any::<prop::sample::Index>(), ms in prop::collection::vec(mutation(), 1..6)) {
        let Some(seeds) = apply_seeds() else { return Ok(()) };
        topoplan_fuzzing::apply_patch(&mutate(i.get(seeds).clone(), &ms));
    }
}
