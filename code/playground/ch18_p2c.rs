// GENERATED from code/examples/ch18_p2c.rs and the `uds` modules scalability::load_balancing::p2c by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 18 listing: the power of two choices on a toy fleet of counters.
//!
//! playground-bundle: scalability::load_balancing::p2c
//!
//! Run: `cargo run -p uds --example ch18_p2c`
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::scalability::load_balancing::p2c::max_load;

// ANCHOR: main
fn main() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(18);
    println!("n requests on n servers: the busiest server's load");
    println!("{:>7} {:>8} {:>8} {:>8}", "n", "d = 1", "d = 2", "d = 3");
    for n in [10, 100, 1_000, 10_000, 100_000] {
        let busiest: Vec<u64> = (1..=3)
            .map(|d| max_load(n, n as u64, d, &mut rng))
            .collect();
        println!(
            "{n:>7} {:>8} {:>8} {:>8}",
            busiest[0], busiest[1], busiest[2]
        );
    }
}
// ANCHOR_END: main

mod scalability {

pub mod load_balancing {

pub mod p2c {
//! The power of two choices on a toy fleet.
//!
//! Throw `n` requests at `n` servers. Placing each one on a server chosen uniformly at random
//! leaves the busiest server with about `ln n / ln ln n` requests (Gonnet, 1981); placing each on
//! the less loaded of *two* random servers drops that to about `ln ln n / ln 2`, an exponential
//! improvement, and a third choice adds only a constant factor more (Azar, Broder, Karlin and
//! Upfal, STOC 1994; Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", IEEE
//! TPDS 12(10), 2001, for the queueing version). This file shows the effect with nothing but
//! counters; chapter 18's simulator shows it with queues and latencies.
//!
//! It uses only std and `rand`, so the playground can run it.

use rand::{Rng, RngExt};

// ANCHOR: choose
/// Picks a server for the next request: the least loaded of `d` servers drawn uniformly at
/// random (with replacement; `d = 1` is plain random placement). Ties go to the first drawn.
pub fn least_loaded_of_d<R: Rng>(loads: &[u64], d: usize, rng: &mut R) -> usize {
    let mut best = rng.random_range(0..loads.len());
    for _ in 1..d {
        let other = rng.random_range(0..loads.len());
        if loads[other] < loads[best] {
            best = other;
        }
    }
    best
}
// ANCHOR_END: choose

// ANCHOR: throw
/// Places `requests` requests on `servers` servers with `d` choices each; returns the load of
/// the busiest server.
pub fn max_load<R: Rng>(servers: usize, requests: u64, d: usize, rng: &mut R) -> u64 {
    let mut loads = vec![0u64; servers];
    for _ in 0..requests {
        let server = least_loaded_of_d(&loads, d, rng);
        loads[server] += 1;
    }
    loads.into_iter().max().unwrap_or(0)
}
// ANCHOR_END: throw

}
}
}
