//! Chapter 11 (leaderless replication) listing: a ring's preference lists, quorum arithmetic,
//! and the PBS model's stale-read probability, with delays uniform between 0 and 2 ms.
//!
//! playground-bundle: coordination::leaderless::ring coordination::leaderless::quorum
//!
//! Run: `cargo run -p uds --example ch11_quorum`
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use uds::coordination::leaderless::quorum::{Quorum, UniformMs, Wars, stale_probability};
use uds::coordination::leaderless::ring::Ring;

// ANCHOR: main
fn main() {
    // Five servers with two tokens each; every key lives on three of them.
    let ring = Ring::new(5, 2);
    for key in 0..4 {
        let owners = ring.preference_list(key, 3);
        let stand_ins = &ring.preference_list(key, 5)[3..];
        println!("key {key}: owners {owners:?}, stand-ins in order {stand_ins:?}");
    }

    // Which (R, W) overlap, and how stale do the others read?
    let wars = Wars::iid(UniformMs {
        min_ms: 0.0,
        max_ms: 2.0,
    });
    let since_ms = [0.0, 0.5, 1.0, 2.0];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    println!("\nN R W  overlap  P(stale) at {since_ms:?} ms after the write");
    for (r, w) in [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3)] {
        let q = Quorum { n: 3, r, w };
        let p = stale_probability(q, &wars, &since_ms, 20_000, &mut rng);
        let p: Vec<String> = p.iter().map(|x| format!("{x:.3}")).collect();
        println!("3 {r} {w}  {:<7}  {}", q.overlapping(), p.join("  "));
    }
}
// ANCHOR_END: main
