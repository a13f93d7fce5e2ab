//! Mod-N hashing: `hash(key) mod n`, the baseline that consistent hashing improves on.
//!
//! Even and cheap, but when `n` becomes `n + 1` a key stays put only if `hash mod n` equals
//! `hash mod (n + 1)`, which holds for about `1/(n + 1)` of the keys: nearly all of them move.

use super::{Node, Partitioner};
use crate::coordination::leaderless::ring::hash64;

// ANCHOR: mod_n
/// The node of `key` among `n` nodes (`n` at least one).
pub fn mod_n_owner(key: u64, n: usize) -> Node {
    assert!(n > 0, "mod-N needs at least one node");
    (hash64(key) % n as u64) as Node
}
// ANCHOR_END: mod_n

/// Mod-N hashing as a [`Partitioner`].
#[derive(Clone, Debug)]
pub struct ModN {
    /// The number of nodes. Invariant: at least one.
    pub n: usize,
}

impl Partitioner for ModN {
    fn name(&self) -> &'static str {
        "mod-N"
    }
    fn nodes(&self) -> usize {
        self.n
    }
    fn owner(&self, key: u64) -> Node {
        mod_n_owner(key, self.n)
    }
    fn add_node(&mut self) {
        self.n += 1;
    }
}
