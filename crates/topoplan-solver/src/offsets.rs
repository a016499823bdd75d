//! Offset assignment on one host.
//!
//! Every node of a product runs the same distribution, so all nodes listen on the same set of
//! offset-following base ports B. Two nodes with offsets a and b collide exactly when |a - b|
//! is a difference of two bases (0 included). The search looks for the smallest span (largest
//! offset) for which an assignment exists, with pins fixed. Unpinned nodes are interchangeable,
//! so they are assigned in increasing order (name order), which removes symmetric branches.

use std::collections::BTreeSet;

/// One host's problem.
pub struct HostProblem<'a> {
    /// Offset-following base ports every node listens on.
    pub bases: &'a [u32],
    /// Ports other software holds on the host.
    pub reserved: &'a BTreeSet<u32>,
    /// Inclusive bounds for listening ports.
    pub range: (u32, u32),
    /// Per node (in name order): its pin, if any.
    pub pins: &'a [Option<u32>],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSolution {
    pub offsets: Vec<u32>,
    pub span: u32,
    pub minimal: bool,
}

/// Search steps before the exhaustive search gives up and keeps the greedy result.
const BUDGET: u64 = 200_000;

impl HostProblem<'_> {
    fn diffs(&self) -> BTreeSet<u32> {
        let mut d = BTreeSet::new();
        for a in self.bases {
            for b in self.bases {
                d.insert(a.abs_diff(*b));
            }
        }
        d
    }

    /// Smallest and largest offset that keep every base port within range.
    pub fn bounds(&self) -> (u32, u32) {
        let min_b = self.bases.iter().copied().min().unwrap_or(0);
        let max_b = self.bases.iter().copied().max().unwrap_or(0);
        (
            self.range.0.saturating_sub(min_b),
            self.range.1.saturating_sub(max_b),
        )
    }

    /// Whether offset `o` is usable alone (range and reserved ports).
    pub fn fits(&self, o: u32) -> bool {
        let (lo, hi) = self.bounds();
        (lo..=hi).contains(&o) && self.bases.iter().all(|b| !self.reserved.contains(&(b + o)))
    }

    /// The first port two nodes at offsets `a` and `b` would both listen on, if any.
    pub fn shared_port(&self, a: u32, b: u32) -> Option<u32> {
        self.bases
            .iter()
            .find_map(|x| self.bases.iter().find(|y| *x + a == *y + b).map(|_| x + a))
    }

    fn compatible(diffs: &BTreeSet<u32>, o: u32, taken: &[u32]) -> bool {
        taken.iter().all(|t| !diffs.contains(&o.abs_diff(*t)))
    }

    /// Solves the host. `None` when no assignment exists within the port range.
    pub fn solve(&self) -> Option<HostSolution> {
        let diffs = self.diffs();
        let (lo, hi) = self.bounds();
        let fixed: Vec<u32> = self.pins.iter().flatten().copied().collect();
        let free: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.pins[i].is_none())
            .collect();

        // Greedy: each free node takes the smallest offset that fits. Gives an upper bound.
        let mut taken = fixed.clone();
        let mut greedy = Vec::with_capacity(free.len());
        for _ in &free {
            let o = (lo..=hi).find(|&o| self.fits(o) && Self::compatible(&diffs, o, &taken))?;
            taken.push(o);
            greedy.push(o);
        }
        let span_of = |free_offs: &[u32]| fixed.iter().chain(free_offs).copied().max().unwrap_or(0);
        let greedy_span = span_of(&greedy);
        // The span can be no smaller than any pin, nor than n distinct offsets from `lo`.
        let lower = fixed
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(lo + self.pins.len().saturating_sub(1) as u32);
        let mut best = greedy;
        let mut minimal = true;
        let mut steps = 0u64;
        for bound in lower..greedy_span {
            let mut cur = Vec::new();
            match self.dfs(&diffs, &fixed, free.len(), lo, bound, &mut cur, &mut steps) {
                Some(true) => {
                    best = cur;
                    break;
                }
                Some(false) => continue,
                None => {
                    minimal = false;
                    break;
                }
            }
        }
        let mut offsets = vec![0; self.pins.len()];
        for (i, p) in self.pins.iter().enumerate() {
            if let Some(p) = p {
                offsets[i] = *p;
            }
        }
        for (k, &i) in free.iter().enumerate() {
            offsets[i] = best[k];
        }
        Some(HostSolution {
            span: offsets.iter().copied().max().unwrap_or(0),
            offsets,
            minimal,
        })
    }

    /// Depth-first search for free offsets, increasing, all within `bound`.
    /// `Some(found)`, or `None` when the step budget ran out.
    #[allow(clippy::too_many_arguments)]
    fn dfs(
        &self,
        diffs: &BTreeSet<u32>,
        fixed: &[u32],
        remaining: usize,
        from: u32,
        bound: u32,
        cur: &mut Vec<u32>,
        steps: &mut u64,
    ) -> Option<bool> {
        if remaining == 0 {
            return Some(true);
        }
        let mut o = from;
        while o <= bound {
            *steps += 1;
            if *steps > BUDGET {
                return None;
            }
            if self.fits(o) && Self::compatible(diffs, o, fixed) && Self::compatible(diffs, o, cur)
            {
                cur.push(o);
                if self.dfs(diffs, fixed, remaining - 1, o + 1, bound, cur, steps)? {
                    return Some(true);
                }
                cur.pop();
            }
            o += 1;
        }
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASES: &[u32] = &[8243, 8280, 9443, 9763, 9999, 11111];

    fn solve(pins: &[Option<u32>], reserved: &[u32]) -> Option<HostSolution> {
        let reserved: BTreeSet<u32> = reserved.iter().copied().collect();
        HostProblem {
            bases: BASES,
            reserved: &reserved,
            range: (1024, 65535),
            pins,
        }
        .solve()
    }

    #[test]
    fn dense_host_takes_consecutive_offsets() {
        let s = solve(&[None; 5], &[]).unwrap();
        assert_eq!(s.offsets, vec![0, 1, 2, 3, 4]);
        assert!(s.minimal);
    }

    #[test]
    fn pins_are_kept_and_others_avoid_them() {
        let s = solve(&[Some(0), None, Some(1)], &[]).unwrap();
        assert_eq!(s.offsets, vec![0, 2, 1]);
    }

    #[test]
    fn offset_37_apart_collides_pass_through_ports() {
        // 8243 + 37 = 8280: a node at 37 would take another node's HTTP pass-through port.
        let reserved: Vec<u32> = (9444..=9479).collect();
        let s = solve(&[Some(0), None], &reserved).unwrap();
        assert_eq!(s.offsets, vec![0, 38]);
    }

    #[test]
    fn reserved_ports_are_avoided() {
        let s = solve(&[None], &[9443]).unwrap();
        assert_eq!(s.offsets, vec![1]);
    }
}
