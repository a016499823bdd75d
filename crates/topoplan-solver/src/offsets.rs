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
/// The offsets of one host's nodes and the largest of them.
pub struct HostSolution {
    /// Each node's offset, in the problem's order.
    pub offsets: Vec<u32>,
    /// The largest offset.
    pub span: u32,
    /// Whether no smaller span exists (proven by the lower bound or the exact search).
    pub minimal: bool,
    /// A span no assignment can beat; equal to `span` when `minimal`.
    pub lower_bound: u32,
}

/// Hosts with at most this many nodes to place get the exact search when the bound alone does
/// not prove the greedy span minimal.
pub const EXACT_UP_TO: usize = 44;

/// Search nodes the exact search may visit per host before it gives up (the greedy span is
/// kept and the gap to the lower bound reported).
const BUDGET: u64 = 2_000_000;

/// A set of offsets `lo..=lo + len - 1`, one bit each.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(len: usize) -> Bits {
        Bits(vec![0; len.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        if i / 64 < self.0.len() {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
    fn get(&self, i: usize) -> bool {
        i / 64 < self.0.len() && self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    fn first(&self) -> Option<usize> {
        self.0
            .iter()
            .enumerate()
            .find(|(_, w)| **w != 0)
            .map(|(k, w)| k * 64 + w.trailing_zeros() as usize)
    }
}

impl HostProblem<'_> {
    /// Positive differences between two bases: two offsets this far apart share a port.
    fn diffs(&self) -> Vec<u32> {
        let mut d: Vec<u32> = Vec::new();
        for a in self.bases {
            for b in self.bases {
                if a > b {
                    d.push(a - b);
                }
            }
        }
        d.sort_unstable();
        d.dedup();
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

    /// Solves the host: the smallest span (largest offset) with pins kept, unpinned nodes in
    /// increasing offsets (they are interchangeable). `None` when no assignment exists within
    /// the port range.
    ///
    /// 1. Greedy, over a bit set of forbidden offsets: each node takes the smallest offset no
    ///    pin, reserved port or earlier node rules out. Linear in the span times the number of
    ///    base differences, so a host of thousands of nodes takes milliseconds.
    /// 2. A lower bound: the smallest span whose usable offsets can hold every node. For each
    ///    difference d, the usable offsets split into chains `x, x+d, x+2d, …`; two neighbours
    ///    on a chain conflict, so a run of m usable offsets holds at most ⌈m/2⌉ nodes. The
    ///    smallest over all d bounds the nodes a span can hold.
    /// 3. When the greedy span exceeds the bound and at most [`EXACT_UP_TO`] nodes are to be
    ///    placed: branch and bound over bit sets, each span from the bound up, pruned by the
    ///    same chain bound on the offsets still open.
    pub fn solve(&self) -> Option<HostSolution> {
        let diffs = self.diffs();
        let (lo, hi) = self.bounds();
        if lo > hi {
            return None;
        }
        let clique = (
            self.bases.len(),
            (self.bases.iter().max().unwrap_or(&0) - self.bases.iter().min().unwrap_or(&0))
                as usize,
        );
        let fixed: Vec<u32> = self.pins.iter().flatten().copied().collect();
        let free: Vec<usize> = (0..self.pins.len())
            .filter(|&i| self.pins[i].is_none())
            .collect();
        let max_pin = fixed.iter().copied().max().unwrap_or(0);
        let near_pins = near_pins(&fixed, &diffs);
        // 1. Greedy, over the offsets a free node may take: fits, and clear of every pin.
        let (usable, greedy) = self.greedy(lo, hi, free.len(), &near_pins, &diffs)?;
        let greedy_span = greedy.iter().copied().max().unwrap_or(0).max(max_pin);
        // 2. Lower bound on the free nodes' largest offset.
        let n = free.len();
        let lower = if n == 0 {
            max_pin
        } else {
            let top = greedy.iter().copied().max().unwrap_or(lo);
            lower_bound(&usable, lo, top, n, &diffs, clique).max(max_pin)
        };
        // 3. Exact search between the bound and the greedy span.
        let mut best = greedy;
        let mut minimal = greedy_span <= lower;
        let mut proven_lower = lower;
        if !minimal && n <= EXACT_UP_TO {
            let exact = Exact {
                usable: &usable,
                lo,
                n,
                diffs: &diffs,
                clique,
            };
            (minimal, proven_lower) = exact.run(lower, greedy_span, max_pin, &mut best);
        } else if minimal {
            proven_lower = greedy_span;
        }
        let mut offsets: Vec<u32> = self.pins.iter().map(|p| p.unwrap_or(0)).collect();
        for (k, &i) in free.iter().enumerate() {
            offsets[i] = best[k];
        }
        let span = offsets.iter().copied().max().unwrap_or(0);
        Some(HostSolution {
            span,
            offsets,
            minimal,
            lower_bound: if minimal {
                span
            } else {
                proven_lower.min(span)
            },
        })
    }

    /// The offsets free nodes may take (a window from `lo`), and a greedy choice of `free` of
    /// them. The window grows until the greedy places every node, so a host costs what its
    /// span needs, not the whole port range; `None` when even the whole range does not do.
    fn greedy(
        &self,
        lo: u32,
        hi: u32,
        free: usize,
        near_pins: &BTreeSet<u32>,
        diffs: &[u32],
    ) -> Option<(Bits, Vec<u32>)> {
        let width = (hi - lo + 1) as usize;
        let mut window = (64 + 16 * self.pins.len()).min(width);
        loop {
            let mut usable = Bits::new(window);
            for k in 0..window {
                let o = lo + k as u32;
                if !near_pins.contains(&o) && self.fits(o) {
                    usable.set(k);
                }
            }
            let mut open = usable.clone();
            let mut greedy = Vec::with_capacity(free);
            let mut from = 0usize;
            for _ in 0..free {
                let Some(k) = (from..window).find(|&k| open.get(k)) else {
                    break;
                };
                greedy.push(lo + k as u32);
                take(&mut open, k, diffs);
                from = k + 1;
            }
            if greedy.len() == free {
                return Some((usable, greedy));
            }
            if window == width {
                return None;
            }
            window = (window * 2).min(width);
        }
    }
}

/// Offsets a pin rules out for everyone else: the pins, and every offset a difference away.
fn near_pins(fixed: &[u32], diffs: &[u32]) -> BTreeSet<u32> {
    let mut near: BTreeSet<u32> = fixed.iter().copied().collect();
    for &p in fixed {
        for d in diffs {
            near.insert(p + d);
            if let Some(x) = p.checked_sub(*d) {
                near.insert(x);
            }
        }
    }
    near
}

/// The smallest largest offset that may hold `n` nodes among the `usable` offsets (a binary
/// search on the capacity bound, below `top`, which the greedy reached).
fn lower_bound(
    usable: &Bits,
    lo: u32,
    top: u32,
    n: usize,
    diffs: &[u32],
    clique: (usize, usize),
) -> u32 {
    let holds = |span: u32| capacity(usable, (span - lo) as usize + 1, diffs, clique) >= n;
    let (mut a, mut b) = (lo, top);
    while a < b {
        let mid = a + (b - a) / 2;
        if holds(mid) {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    a
}

/// The exact search for a smaller span than the greedy's.
struct Exact<'a> {
    usable: &'a Bits,
    lo: u32,
    n: usize,
    diffs: &'a [u32],
    clique: (usize, usize),
}

impl Exact<'_> {
    /// Tries each span from `lower` up to the greedy's; the first that holds `n` nodes replaces
    /// `best`. Returns whether the result is proven minimal (the search may give up) and the
    /// proven lower bound.
    fn run(&self, lower: u32, greedy_span: u32, max_pin: u32, best: &mut Vec<u32>) -> (bool, u32) {
        let mut steps = 0u64;
        let mut proven_lower = lower;
        for span in lower..greedy_span {
            let len = (span - self.lo) as usize + 1;
            let mut avail = Bits::new(len);
            for k in 0..len {
                if self.usable.get(k) {
                    avail.set(k);
                }
            }
            let mut chosen = Vec::new();
            match search(
                &avail,
                len,
                self.n,
                self.diffs,
                self.clique,
                &mut chosen,
                &mut steps,
            ) {
                Some(true) => {
                    *best = chosen.iter().map(|&k| self.lo + k as u32).collect();
                    return (true, span.max(max_pin).min(greedy_span));
                }
                Some(false) => proven_lower = span + 1,
                None => return (false, proven_lower),
            }
        }
        (true, proven_lower.min(greedy_span))
    }
}

/// Takes offset `k`: it and every offset a difference away are no longer open.
fn take(open: &mut Bits, k: usize, diffs: &[u32]) {
    open.clear(k);
    for &d in diffs {
        open.clear(k + d as usize);
        if let Some(x) = k.checked_sub(d as usize) {
            open.clear(x);
        }
    }
}

/// An upper bound on how many pairwise compatible offsets the open ones among the first `len`
/// hold: their count; for each difference d the chain bound (a run of m open offsets
/// `x, x+d, …` holds at most ⌈m/2⌉); and the clique bound. The offsets `max(B) - b` for the
/// bases b are pairwise a difference apart (a clique of |B|), so every window of
/// `max(B) - min(B) + 1` offsets holds at most one node per translate. Counting each node in
/// the |B| translates of the clique that contain it, `len` offsets hold at most
/// `(len + max(B) - min(B)) / |B|` nodes.
fn capacity(open: &Bits, len: usize, diffs: &[u32], clique: (usize, usize)) -> usize {
    let mut best = (0..len).filter(|&k| open.get(k)).count();
    let (size, spread) = clique;
    if size > 1 {
        best = best.min((len + spread) / size);
    }
    for &d in diffs.iter().filter(|&&d| (d as usize) < len) {
        let d = d as usize;
        let mut total = 0;
        for r in 0..d {
            let mut run = 0usize;
            let mut k = r;
            while k < len {
                if open.get(k) {
                    run += 1;
                } else {
                    total += run.div_ceil(2);
                    run = 0;
                }
                k += d;
            }
            total += run.div_ceil(2);
            if total >= best {
                break;
            }
        }
        best = best.min(total);
    }
    best
}

/// Branch and bound: `need` pairwise compatible offsets among `open` (first `len`).
/// `Some(found)`, or `None` when the step budget ran out.
fn search(
    open: &Bits,
    len: usize,
    need: usize,
    diffs: &[u32],
    clique: (usize, usize),
    chosen: &mut Vec<usize>,
    steps: &mut u64,
) -> Option<bool> {
    if need == 0 {
        return Some(true);
    }
    *steps += 1;
    if *steps > BUDGET {
        return None;
    }
    if open.count() < need || capacity(open, len, diffs, clique) < need {
        return Some(false);
    }
    let Some(k) = open.first() else {
        return Some(false);
    };
    // Take the lowest open offset, or leave it out.
    let mut with = open.clone();
    take(&mut with, k, diffs);
    chosen.push(k);
    if search(&with, len, need - 1, diffs, clique, chosen, steps)? {
        return Some(true);
    }
    chosen.pop();
    let mut without = open.clone();
    without.clear(k);
    search(&without, len, need, diffs, clique, chosen, steps)
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
