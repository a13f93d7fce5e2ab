//! Rendezvous hashing, or highest random weight (Thaler and Ravishankar, "A Name-Based Mapping
//! Scheme for Rendezvous", University of Michigan technical report CSE-TR-316-96, 1996).
//!
//! Every node gives every key a pseudo-random weight `hash(key, node)`; the key belongs to the
//! node with the highest weight. No ring and no tokens: the state is the list of nodes.
//! Guarantees: each node wins `1/n` of the keys in expectation (the weights are independent),
//! and when a node joins, a key moves only if the newcomer's weight beats the old winner, so
//! only keys that move to the new node move; when a node leaves, only its keys move, each to
//! its second-highest node. The price is a lookup that costs one hash per node, `O(n)`,
//! against the ring's `O(log(vnodes * n))` binary search.
//!
//! This file uses only std (and chapter 11's mixer), so a runnable listing could bundle it.

use super::{Node, Partitioner};
use crate::coordination::leaderless::ring::hash64;

// ANCHOR: rendezvous
/// The weight node `node` gives `key`: a hash of both, the same everywhere.
pub fn weight(key: u64, node: Node) -> u64 {
    hash64(hash64(key) ^ hash64(node as u64).rotate_left(17))
}

/// The node of `nodes` with the highest weight for `key` (ties to the lower node number).
/// `None` if `nodes` is empty.
pub fn rendezvous_owner(key: u64, nodes: &[Node]) -> Option<Node> {
    nodes
        .iter()
        .copied()
        .max_by_key(|&node| (weight(key, node), std::cmp::Reverse(node)))
}
// ANCHOR_END: rendezvous

/// Rendezvous hashing over nodes `0..n` as a [`Partitioner`].
#[derive(Clone, Debug)]
pub struct Rendezvous {
    /// The nodes, `0..n`.
    pub nodes: Vec<Node>,
}

impl Rendezvous {
    /// Nodes `0..n`.
    pub fn with_nodes(n: usize) -> Rendezvous {
        Rendezvous {
            nodes: (0..n).collect(),
        }
    }
}

impl Partitioner for Rendezvous {
    fn name(&self) -> &'static str {
        "rendezvous"
    }
    fn nodes(&self) -> usize {
        self.nodes.len()
    }
    fn owner(&self, key: u64) -> Node {
        rendezvous_owner(key, &self.nodes).expect("a partitioner has at least one node")
    }
    fn add_node(&mut self) {
        self.nodes.push(self.nodes.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_a_node_moves_only_its_keys() {
        let all: Vec<Node> = (0..8).collect();
        let without_3: Vec<Node> = all.iter().copied().filter(|&n| n != 3).collect();
        for key in 0..5_000 {
            let before = rendezvous_owner(key, &all).unwrap();
            let after = rendezvous_owner(key, &without_3).unwrap();
            assert!(
                before == 3 || after == before,
                "key {key}: {before} -> {after}"
            );
        }
    }

    #[test]
    fn no_nodes_no_owner() {
        assert_eq!(rendezvous_owner(1, &[]), None);
    }
}
