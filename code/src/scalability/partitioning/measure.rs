//! What the chapter's experiments and tests measure: keys moved by a join, and load imbalance.
//!
//! Pure functions over a [`Partitioner`] and a list of keys, so the figures, the tests and the
//! exercises all compute the same quantities the same way.

use super::Partitioner;
use crate::coordination::leaderless::ring::hash64;

/// `count` pseudo-random 64-bit keys derived from `seed` (the same on every machine).
pub fn random_keys(seed: u64, count: usize) -> Vec<u64> {
    let base = hash64(seed);
    (0..count as u64).map(|i| hash64(base ^ i)).collect()
}

/// What one join did to a set of keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JoinMoves {
    /// The fraction of the keys whose owner changed.
    pub moved: f64,
    /// The fraction of the moved keys that went to the new node (1 when none moved).
    pub to_new_node: f64,
}

// ANCHOR: join_moves
/// Adds one node to `partitioner` and compares every key's owner before and after.
pub fn join_moves(partitioner: &mut dyn Partitioner, keys: &[u64]) -> JoinMoves {
    let before: Vec<usize> = keys.iter().map(|&k| partitioner.owner(k)).collect();
    let new_node = partitioner.nodes();
    partitioner.add_node();
    let (mut moved, mut to_new) = (0usize, 0usize);
    for (&key, &old) in keys.iter().zip(&before) {
        let now = partitioner.owner(key);
        if now != old {
            moved += 1;
            to_new += usize::from(now == new_node);
        }
    }
    JoinMoves {
        moved: moved as f64 / keys.len() as f64,
        to_new_node: if moved == 0 {
            1.0
        } else {
            to_new as f64 / moved as f64
        },
    }
}
// ANCHOR_END: join_moves

/// Keys per node, indexed by node number.
pub fn loads(partitioner: &dyn Partitioner, keys: &[u64]) -> Vec<u64> {
    let mut loads = vec![0; partitioner.nodes()];
    for &key in keys {
        loads[partitioner.owner(key)] += 1;
    }
    loads
}

/// The busiest node's load over the mean: 1 is perfect balance.
pub fn imbalance(loads: &[u64]) -> f64 {
    let total: u64 = loads.iter().sum();
    let max = loads.iter().copied().max().unwrap_or(0);
    if total == 0 {
        return 1.0;
    }
    max as f64 / (total as f64 / loads.len() as f64)
}
