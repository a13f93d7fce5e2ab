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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn two_choices_beat_one_on_a_large_fleet() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let one = max_load(10_000, 10_000, 1, &mut rng);
        let two = max_load(10_000, 10_000, 2, &mut rng);
        assert!(two < one, "d=2 max {two} not below d=1 max {one}");
        assert!(two <= 4, "d=2 max load {two} on 10,000 servers");
    }
}
