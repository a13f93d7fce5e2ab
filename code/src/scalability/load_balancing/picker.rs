//! The balancing algorithms as one pure function of what the balancer knows.
//!
//! A balancer decides per request (an L7 balancer) or per connection (an L4 balancer) which
//! backend gets it. What distinguishes the algorithms is what they look at:
//! - **Round robin** looks at nothing but a counter: backend `i`, then `i + 1`, ...
//! - **Random** looks at nothing at all.
//! - **Least connections** looks at every backend's load (requests in flight) and takes the
//!   minimum. With exact, fresh loads it is the best of the six here; with loads that are
//!   stale (reported periodically, or seen by only one of many balancers) every decision in an
//!   interval goes to the same backend that *was* the least loaded: a herd.
//! - **Power of two choices** (P2C) draws two backends at random and takes the less loaded
//!   (Mitzenmacher, IEEE TPDS 2001). It needs two loads, not `n`, and because its choices are
//!   random, stale loads spread over many backends instead of piling onto one.
//! - **Consistent hashing** and **Maglev** look at the request's flow key only: the same flow
//!   always lands on the same backend (connection affinity, cache locality), whatever the load.
//!
//! Loads are passed in, so the caller decides how fresh they are; randomness is passed in, so a
//! seeded run is deterministic. Ejected backends (health checks, `health.rs`) are never picked;
//! `set_healthy` rebuilds the hash structures over the backends still in rotation.

use rand::{Rng, RngExt};

use super::maglev;
use crate::scalability::partitioning::Ring;

/// Table size of the Maglev balancer: the paper's smaller production size, 65,537 (prime).
pub const MAGLEV_TABLE_SIZE: usize = 65_537;
/// Virtual nodes per backend on the consistent-hash ring.
pub const RING_VNODES: usize = 100;

/// A balancing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    RoundRobin,
    Random,
    LeastConnections,
    PowerOfTwoChoices,
    ConsistentHash,
    Maglev,
}

impl Algorithm {
    /// Every algorithm, in the order the chapter's tables list them.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::RoundRobin,
        Algorithm::Random,
        Algorithm::LeastConnections,
        Algorithm::PowerOfTwoChoices,
        Algorithm::ConsistentHash,
        Algorithm::Maglev,
    ];

    /// A short name for tables and command lines.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RoundRobin => "round-robin",
            Algorithm::Random => "random",
            Algorithm::LeastConnections => "least-conn",
            Algorithm::PowerOfTwoChoices => "p2c",
            Algorithm::ConsistentHash => "ring",
            Algorithm::Maglev => "maglev",
        }
    }

    /// Parses a name printed by [`Algorithm::name`].
    pub fn parse(text: &str) -> Result<Algorithm, String> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "unknown algorithm {text:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The name a hash-based balancer knows backend `i` by.
pub fn backend_name(i: usize) -> String {
    format!("backend-{i}")
}

/// Picks backends for one balancer.
#[derive(Clone, Debug)]
pub struct Picker {
    algorithm: Algorithm,
    /// The backends in rotation, ascending. Invariant: a subset of `0..backends`.
    healthy: Vec<usize>,
    /// Round robin's position in `healthy`.
    next: usize,
    /// Maglev's table over `healthy`: entry -> index in `healthy`.
    table: Vec<usize>,
    /// Helper ch16's ring over `healthy` (backend indexes as nodes), for consistent hashing.
    ring: Option<Ring>,
}

impl Picker {
    /// A picker over `backends` backends, all healthy.
    pub fn new(algorithm: Algorithm, backends: usize) -> Picker {
        let mut picker = Picker {
            algorithm,
            healthy: Vec::new(),
            next: 0,
            table: Vec::new(),
            ring: None,
        };
        picker.set_healthy(&vec![true; backends]);
        picker
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Puts exactly the backends `i` with `healthy[i]` in rotation, rebuilding hash structures.
    pub fn set_healthy(&mut self, healthy: &[bool]) {
        self.healthy = (0..healthy.len()).filter(|&i| healthy[i]).collect();
        self.next = 0;
        match self.algorithm {
            Algorithm::Maglev => {
                let names: Vec<String> = self.healthy.iter().map(|&i| backend_name(i)).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                self.table = maglev::populate(&refs, MAGLEV_TABLE_SIZE).unwrap_or_default();
            }
            Algorithm::ConsistentHash => {
                let mut ring = Ring::new(RING_VNODES);
                for &i in &self.healthy {
                    ring.add_node(i);
                }
                self.ring = Some(ring);
            }
            _ => {}
        }
    }

    // ANCHOR: pick
    /// The backend for a request of flow `flow`, given each backend's current `loads` as the
    /// caller knows them (indexed by backend); `None` if no backend is in rotation.
    pub fn pick<R: Rng>(&mut self, loads: &[u64], flow: u64, rng: &mut R) -> Option<usize> {
        let healthy = &self.healthy;
        if healthy.is_empty() {
            return None;
        }
        let chosen = match self.algorithm {
            Algorithm::RoundRobin => {
                let i = healthy[self.next % healthy.len()];
                self.next = (self.next + 1) % healthy.len();
                i
            }
            Algorithm::Random => healthy[rng.random_range(0..healthy.len())],
            Algorithm::LeastConnections => {
                // The first of the least loaded, so ties go to the lowest index.
                *healthy
                    .iter()
                    .min_by_key(|&&i| loads[i])
                    .expect("not empty")
            }
            Algorithm::PowerOfTwoChoices => {
                let a = healthy[rng.random_range(0..healthy.len())];
                let b = healthy[rng.random_range(0..healthy.len())];
                if loads[b] < loads[a] { b } else { a }
            }
            Algorithm::ConsistentHash => {
                let ring = self.ring.as_ref().expect("a ring over healthy backends");
                ring.owner(flow)
                    .expect("the ring holds the healthy backends")
            }
            Algorithm::Maglev => {
                let key = maglev::hash64(&flow.to_string(), 0x666c_6f77);
                healthy[self.table[(key % self.table.len() as u64) as usize]]
            }
        };
        Some(chosen)
    }
    // ANCHOR_END: pick
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Ok(a));
        }
        assert!(Algorithm::parse("fastest").unwrap_err().contains("p2c"));
    }

    #[test]
    fn ejected_backends_are_never_picked() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        for a in Algorithm::ALL {
            let mut picker = Picker::new(a, 4);
            picker.set_healthy(&[true, false, true, false]);
            for flow in 0..200 {
                let i = picker.pick(&[0, 0, 5, 0], flow, &mut rng).unwrap();
                assert!(i == 0 || i == 2, "{a:?} picked ejected backend {i}");
            }
            picker.set_healthy(&[false; 4]);
            assert_eq!(picker.pick(&[0; 4], 1, &mut rng), None);
        }
    }

    #[test]
    fn hash_balancers_keep_a_flow_on_one_backend() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        for a in [Algorithm::ConsistentHash, Algorithm::Maglev] {
            let mut picker = Picker::new(a, 5);
            let first = picker.pick(&[0; 5], 42, &mut rng);
            for _ in 0..10 {
                assert_eq!(picker.pick(&[9, 0, 3, 1, 7], 42, &mut rng), first);
            }
        }
    }
}
