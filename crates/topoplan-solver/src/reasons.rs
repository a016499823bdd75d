//! Why each node's offset is what it is, in words, for the review and `explain`.

use topoplan_model::Topology;

/// Why node `i` has its offset. `at` maps each offset on the node's host to its node (offsets
/// are distinct on a host), so each smaller offset's reason is a lookup per pair of bases.
pub(crate) fn offset_reason(
    topo: &Topology,
    bases: &[u32],
    offsets: &[u32],
    i: usize,
    at: &std::collections::HashMap<u32, usize>,
) -> String {
    let node = &topo.nodes[i];
    if node.pin.is_some() {
        return format!("pinned to {} in the topology", offsets[i]);
    }
    let host = &topo.hosts[node.host];
    let why = |k: u32| -> String {
        // The first node (in file order), then base, whose port offset `k` would take.
        let mut best: Option<(usize, usize)> = None;
        for (ai, a) in bases.iter().enumerate() {
            for b in bases {
                let Some(o) = (k + a).checked_sub(*b) else {
                    continue;
                };
                if let Some(&j) = at.get(&o).filter(|&&j| j != i) {
                    if best.is_none_or(|x| (j, ai) < x) {
                        best = Some((j, ai));
                    }
                }
            }
        }
        if let Some((j, ai)) = best {
            return format!("{k} (port {} of `{}`)", bases[ai] + k, topo.nodes[j].name);
        }
        bases
            .iter()
            .find(|b| host.reserved_ports.iter().any(|r| r.0 == *b + k))
            .map(|b| format!("{k} (reserved port {})", b + k))
            .unwrap_or_else(|| format!("{k} (kept for a node earlier in name order)"))
    };
    let o = offsets[i];
    if o == 0 {
        "the smallest offset; nothing on the host rules it out".into()
    } else if o <= 6 {
        let ruled: Vec<String> = (0..o).map(why).collect();
        format!(
            "the smallest free offset on `{}`; ruled out: {}",
            host.name,
            ruled.join(", ")
        )
    } else {
        let ruled: Vec<String> = (0..3).map(why).collect();
        format!(
            "the smallest free offset on `{}`; {o} smaller offsets ruled out, e.g. {}",
            host.name,
            ruled.join(", ")
        )
    }
}
