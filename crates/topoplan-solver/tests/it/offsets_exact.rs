//! The offset search against an independent exhaustive search: on generated hosts it must find
//! the optimum span, say so, and never claim a lower bound above the optimum.

use proptest::prelude::*;
use std::collections::BTreeSet;
use topoplan_solver::offsets::{HostProblem, EXACT_UP_TO};

/// The smallest span, by trying every span from 0 up and every increasing choice of offsets:
/// no bounds, no bit sets, nothing shared with the solver.
fn brute_force(bases: &[u32], reserved: &BTreeSet<u32>, pins: &[u32], free: usize) -> Option<u32> {
    let clash = |a: u32, b: u32| bases.iter().any(|x| bases.iter().any(|y| x + a == y + b));
    let usable = |o: u32| {
        bases.iter().all(|b| !reserved.contains(&(b + o))) && pins.iter().all(|&p| !clash(o, p))
    };
    fn pick(
        from: u32,
        span: u32,
        left: usize,
        chosen: &mut Vec<u32>,
        ok: &dyn Fn(u32, &[u32]) -> bool,
    ) -> bool {
        if left == 0 {
            return true;
        }
        for o in from..=span {
            if ok(o, chosen) {
                chosen.push(o);
                if pick(o + 1, span, left - 1, chosen, ok) {
                    return true;
                }
                chosen.pop();
            }
        }
        false
    }
    let ok = |o: u32, chosen: &[u32]| usable(o) && chosen.iter().all(|&c| !clash(o, c));
    let floor = pins.iter().copied().max().unwrap_or(0);
    (0..400).find(|&span| span >= floor && pick(0, span, free, &mut Vec::new(), &ok))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn small_hosts_get_the_optimum_span_and_say_so(
        gaps in proptest::collection::vec(1u32..12, 1..4),
        reserved_at in proptest::collection::vec(0u32..40, 0..4),
        pins in proptest::collection::vec(0u32..20, 0..2),
        free in 1usize..8,
    ) {
        let mut bases = vec![2000u32];
        for g in &gaps {
            bases.push(bases.last().unwrap() + g);
        }
        let reserved: BTreeSet<u32> = reserved_at.iter().map(|r| 2000 + r).collect();
        // Pins that collide with each other are the topology's error, not the search's.
        let clash = |a: u32, b: u32| bases.iter().any(|x| bases.iter().any(|y| x + a == y + b));
        let mut fixed: Vec<u32> = Vec::new();
        for p in pins {
            if fixed.iter().all(|&f| !clash(f, p)) && bases.iter().all(|b| !reserved.contains(&(b + p))) {
                fixed.push(p);
            }
        }
        let mut slots: Vec<Option<u32>> = fixed.iter().map(|&p| Some(p)).collect();
        slots.extend(std::iter::repeat_n(None, free));
        let problem = HostProblem { bases: &bases, reserved: &reserved, range: (1024, 65535), pins: &slots };
        let sol = problem.solve().expect("room enough");
        let best = brute_force(&bases, &reserved, &fixed, free).expect("brute force finds one");
        prop_assert!(sol.minimal, "not proven for {free} nodes, bases {bases:?}");
        prop_assert_eq!(sol.span, best, "bases {:?} reserved {:?} pins {:?}", bases, reserved, fixed);
        prop_assert!(sol.lower_bound <= best);
        // The assignment is valid.
        let offs = &sol.offsets;
        for (i, a) in offs.iter().enumerate() {
            for b in &offs[i + 1..] {
                prop_assert!(!clash(*a, *b), "{a} and {b} share a port");
            }
            prop_assert!(bases.iter().all(|b| !reserved.contains(&(b + a))));
        }
    }
}

/// The App Manager ports (1.1.0, Thrift mode): hosts up to the exact-search limit are proven
/// minimal, with reserved ports in the way.
#[test]
fn app_manager_hosts_up_to_the_limit_are_proven_minimal() {
    let bases = [8243, 8280, 9443, 9763, 9999, 10500, 11111];
    for (n, reserved) in [
        (30, vec![]),
        (37, vec![9460, 8290]),
        (38, vec![9450]),
        (44, vec![]),
        (44, vec![9443, 9500, 11140]),
    ] {
        let reserved: BTreeSet<u32> = reserved.into_iter().collect();
        let pins = vec![None; n];
        let sol = HostProblem {
            bases: &bases,
            reserved: &reserved,
            range: (1024, 65535),
            pins: &pins,
        }
        .solve()
        .unwrap();
        assert!(n <= EXACT_UP_TO);
        assert!(
            sol.minimal,
            "{n} nodes, reserved {reserved:?}: span {} lower bound {}",
            sol.span, sol.lower_bound
        );
        assert_eq!(sol.lower_bound, sol.span);
    }
}
