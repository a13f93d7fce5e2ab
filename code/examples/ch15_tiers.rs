//! Chapter 15 listing: how many requests reach the origin, with and without a shield, as a CDN
//! grows. No network here: every fetch is answered at once, so the only effect left is the one
//! that matters for origin load, that each edge caches on its own.
//!
//! playground-bundle: sim scalability::cdn::tier
//!
//! Run: `cargo run -p uds --example ch15_tiers`
use std::time::Duration;

use uds::scalability::cdn::tier::{Lookup, ObjectId, Tier};
use uds::sim::{Zipf, rng_stream};

/// Origin fetches when `edges` edges each get `per_edge` requests per second for `secs`
/// seconds, with or without a shield between them and the origin.
fn origin_fetches(edges: usize, shield: bool, secs: u64, per_edge: u64) -> u64 {
    let ttl = Duration::from_secs(60);
    let zipf = Zipf::new(2_000, 0.8).expect("valid parameters");
    let mut rng = rng_stream(7, edges as u64);
    let mut edge_tiers: Vec<Tier<()>> = (0..edges).map(|_| Tier::new(500, ttl)).collect();
    let mut shield_tier: Tier<()> = Tier::new(2_000, ttl);
    let mut origin = 0;
    for tick in 0..secs * per_edge {
        let now = Duration::from_millis(tick * 1_000 / per_edge);
        for edge in edge_tiers.iter_mut() {
            let obj = rand::RngExt::sample(&mut rng, &zipf) as ObjectId;
            if edge.request(obj, (), now) != Lookup::Fetch {
                continue; // an edge hit
            }
            let age = if shield {
                match shield_tier.request(obj, (), now) {
                    Lookup::Hit { age } => age,
                    _ => {
                        origin += 1; // the shield misses: one origin fetch, answered at once
                        shield_tier.fill(obj, Duration::ZERO, now);
                        Duration::ZERO
                    }
                }
            } else {
                origin += 1;
                Duration::ZERO
            };
            edge.fill(obj, age, now);
        }
    }
    origin
}

// ANCHOR: main
fn main() {
    println!("5 minutes, 20 requests/s per edge, 2,000 objects (Zipf 0.8), TTL 60 s");
    println!(
        "{:>6} {:>10} {:>12} {:>12}",
        "edges", "requests", "no shield", "shield"
    );
    for edges in [1, 2, 4, 8] {
        let requests = edges as u64 * 300 * 20;
        let without = origin_fetches(edges, false, 300, 20);
        let with = origin_fetches(edges, true, 300, 20);
        println!("{edges:>6} {requests:>10} {without:>12} {with:>12}");
    }
}
// ANCHOR_END: main
