//! Chapter 16's claims about partitioning, each a test: a join moves about `K/(N+1)` keys and
//! every moved key goes to the new node (ring, rendezvous, jump); mod-N moves almost all;
//! bounded loads never exceed `ceil((1 + eps) * m / n)`; our jump hash matches a faithful
//! transcription of the paper's C++ and the independent `jumpch` crate; splitting ranges
//! cool a busy stretch of keys but not sequential inserts, which hashing spreads.
//!
//! Run: `cargo test -p uds --release --test part3 ch16_partitioning`.

use proptest::prelude::*;
use uds::scalability::partitioning::exercise::{check_owner, solution, starter};
use uds::scalability::partitioning::hot_spots::{HotSpotSetup, Scheme, Workload, run};
use uds::scalability::partitioning::measure::{join_moves, random_keys};
use uds::scalability::partitioning::{
    BoundedLoads, Jump, ModN, Partitioner, Rendezvous, Ring, jump_hash,
};

/// Keys per join measurement.
const KEYS: usize = 20_000;

/// `(key, buckets, bucket)`: outputs of the paper's C++ `JumpConsistentHash` (Lamping and
/// Veach 2014), computed by an independent transcription into Python's integers and doubles
/// (64-bit wrapping multiply, `double` division, truncation toward zero), not by our code.
const JUMP_REFERENCE: [(u64, u32, u32); 15] = [
    (0x0, 1, 0),
    (0x0, 10, 0),
    (0x1, 10, 6),
    (0x2, 10, 6),
    (0x2a, 7, 2),
    (0x75bcd15, 100, 34),
    (0xdeadbeef, 1000, 285),
    (0xffffffffffffffff, 1, 0),
    (0xffffffffffffffff, 2, 1),
    (0xffffffffffffffff, 1000, 313),
    (0x9e3779b97f4a7c15, 64, 3),
    (0x8000000000000000, 12, 5),
    (0x7, 65536, 20139),
    (0x3e8, 3, 0),
    (0x7a69, 2147483647, 80115157),
];

#[test]
fn jump_hash_matches_the_papers_reference_outputs() {
    for (key, buckets, want) in JUMP_REFERENCE {
        assert_eq!(
            jump_hash(key, buckets),
            want,
            "key {key:#x}, {buckets} buckets"
        );
    }
}

#[test]
fn jump_hash_agrees_with_the_jumpch_crate_on_random_keys() {
    let keys = random_keys(7, 20_000);
    for (i, &key) in keys.iter().enumerate() {
        // Bucket counts from 1 to about a million, drawn from the next key.
        let buckets = (keys[(i + 1) % keys.len()] % 1_000_000) as u32 + 1;
        assert_eq!(
            jump_hash(key, buckets),
            jumpch::hash(key, buckets),
            "key {key:#x}"
        );
    }
}

/// The tolerance for a scheme whose moved keys are a binomial sample: five standard
/// deviations of `Binomial(K, 1/(N+1))` around `K/(N+1)` (a false alarm about once in 1.7
/// million checks).
fn binomial_tolerance(n: usize) -> f64 {
    let p = 1.0 / (n + 1) as f64;
    5.0 * (p * (1.0 - p) / KEYS as f64).sqrt()
}

#[test]
fn a_join_moves_about_k_over_n_plus_one_keys_all_to_the_new_node() {
    for seed in 1..=3 {
        let keys = random_keys(seed, KEYS);
        for n in 1..=30 {
            let ideal = 1.0 / (n + 1) as f64;
            let schemes: [(Box<dyn Partitioner>, f64); 3] = [
                // Rendezvous and jump: each key moves independently with probability 1/(N+1).
                (Box::new(Rendezvous::with_nodes(n)), binomial_tolerance(n)),
                (Box::new(Jump { buckets: n as u32 }), binomial_tolerance(n)),
                // The ring: the newcomer's share of the circle is itself random; with 100
                // virtual nodes it stays within half of the ideal either way.
                (Box::new(Ring::with_nodes(n, 100)), ideal / 2.0),
            ];
            for (mut scheme, tolerance) in schemes {
                let name = scheme.name();
                let moves = join_moves(scheme.as_mut(), &keys);
                assert!(
                    (moves.moved - ideal).abs() <= tolerance,
                    "{name}, seed {seed}, {n} -> {}: moved {:.4}, ideal {ideal:.4} +- {tolerance:.4}",
                    n + 1,
                    moves.moved
                );
                assert_eq!(
                    moves.to_new_node, 1.0,
                    "{name}, seed {seed}, N {n}: a key moved between old nodes"
                );
            }
        }
    }
}

#[test]
fn mod_n_moves_almost_every_key_on_a_join() {
    let keys = random_keys(1, KEYS);
    for n in 2..=30 {
        let moves = join_moves(&mut ModN { n }, &keys);
        let ideal_stay = 1.0 / (n + 1) as f64;
        assert!(
            (1.0 - moves.moved - ideal_stay).abs() <= binomial_tolerance(n),
            "mod-N {n} -> {}: moved {:.4}",
            n + 1,
            moves.moved
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Mirrokni, Thorup and Zadimoghaddam's bound, checked after every assignment.
    #[test]
    fn bounded_loads_never_exceed_the_cap(
        nodes in 1usize..20,
        vnodes in 1usize..40,
        eps in prop::sample::select(vec![0.05, 0.1, 0.25, 0.5, 1.0]),
        keys in 1usize..3_000,
        seed in any::<u64>(),
    ) {
        let mut bounded = BoundedLoads::new(Ring::with_nodes(nodes, vnodes), eps);
        for (m, key) in random_keys(seed, keys).into_iter().enumerate() {
            let node = bounded.assign(key);
            let cap = ((1.0 + eps) * (m + 1) as f64 / nodes as f64).ceil() as usize;
            prop_assert!(
                bounded.loads()[node] <= cap,
                "{} keys on node {node}, cap {cap} after {} keys", bounded.loads()[node], m + 1
            );
        }
    }
}

fn hot_spot_setup() -> HotSpotSetup {
    HotSpotSetup {
        nodes: 8,
        key_space: 100_000,
        requests: 100_000,
        window: 1_000,
        split_threshold: 2_000,
        seed: 1,
    }
}

#[test]
fn splitting_ranges_cool_a_busy_stretch_of_keys() {
    let setup = hot_spot_setup();
    let fixed = run(&setup, Workload::Zipf(1.0), Scheme::FixedRanges);
    let split = run(&setup, Workload::Zipf(1.0), Scheme::SplitRanges);
    assert!(
        split.imbalance < fixed.imbalance / 2.0,
        "fixed {fixed:?}, splitting {split:?}"
    );
    assert!(
        split.scan_nodes < 1.5,
        "ranges keep neighbours together: {split:?}"
    );
}

#[test]
fn sequential_inserts_stay_hot_under_ranges_and_hashing_spreads_them() {
    let setup = hot_spot_setup();
    let n = setup.nodes as f64;
    for scheme in [Scheme::FixedRanges, Scheme::SplitRanges] {
        let r = run(&setup, Workload::Sequential, scheme);
        // Fixed ranges send every window to one node; splitting moves the hot top range
        // around, which blurs the windows, but they still go mostly to one node.
        assert!(
            r.imbalance > n / 2.0,
            "{scheme:?}: one node takes the inserts: {r:?}"
        );
    }
    let hashed = run(&setup, Workload::Sequential, Scheme::Hashed);
    assert!(hashed.imbalance < 1.5, "{hashed:?}");
    assert!(
        hashed.scan_nodes > n - 0.5,
        "hashing scatters neighbours: {hashed:?}"
    );
}

#[test]
fn the_exercise_solution_meets_the_claims() {
    check_owner(solution::owner);
}

#[test]
#[ignore = "exercise: implement starter::owner (chapter 16, Exercises)"]
fn exercise_rendezvous() {
    uds::exercise::starter_or_solution(
        || check_owner(starter::owner),
        || check_owner(solution::owner),
    );
}
