//! A consistent hash ring with virtual nodes (Karger et al., "Consistent Hashing and Random
//! Trees", STOC 1997), with nodes that join and leave.
//!
//! Nodes and keys hash onto the same circle of `u64` positions. A key belongs to the first
//! node position (a *token*, or virtual node) at or clockwise after its own position. Each
//! node places `vnodes` tokens, so it owns `vnodes` arcs instead of one: with one token per
//! node, arc lengths vary a lot (the largest of `n` arcs is about `ln n` times the mean), and
//! more tokens per node average that out.
//!
//! Guarantees: when a node joins, only the keys on the arcs its new tokens cut off move, and
//! they all move to the new node; when a node leaves, only its own keys move, each to the
//! next token clockwise. In expectation that is `1/(n + 1)` of the keys for a join.
//!
//! Invariant: `tokens` is sorted by `(position, node)` and every node in it has exactly
//! `vnodes` tokens. Positions come from [`hash64`], a fixed mixer, so the same nodes give the
//! same ring in every run and on every machine.
//!
//! Chapter 11's [`Ring`](crate::coordination::leaderless::ring::Ring) is the static ring of
//! Dynamo's preference lists; this one is about membership changes, and shares its mixer.
//! This file uses only std (and that mixer), so the chapter's runnable listing bundles it.

use crate::coordination::leaderless::ring::hash64;

/// A node of a partitioned system, numbered by the caller.
pub type Node = usize;

// ANCHOR: ring
/// Nodes' virtual-node tokens on a circle of `u64` positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// Tokens per node.
    vnodes: usize,
    /// `(position, node)`, sorted. Invariant: each node present has `vnodes` entries.
    tokens: Vec<(u64, Node)>,
}

impl Ring {
    /// An empty ring whose nodes will each place `vnodes` tokens (at least one).
    pub fn new(vnodes: usize) -> Ring {
        assert!(vnodes > 0, "a node needs at least one token on the ring");
        Ring {
            vnodes,
            tokens: Vec::new(),
        }
    }

    /// The position of a node's `v`-th token.
    pub fn token_position(node: Node, v: usize) -> u64 {
        hash64(hash64(node as u64) ^ v as u64)
    }

    /// Where `key` sits on the ring.
    pub fn key_position(key: u64) -> u64 {
        hash64(key)
    }

    /// Adds `node`'s tokens. Returns false (and changes nothing) if it is already there.
    pub fn add_node(&mut self, node: Node) -> bool {
        if self.contains(node) {
            return false;
        }
        for v in 0..self.vnodes {
            self.tokens.push((Ring::token_position(node, v), node));
        }
        self.tokens.sort_unstable();
        true
    }

    /// Removes `node`'s tokens. Returns false if it was not there.
    pub fn remove_node(&mut self, node: Node) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|&(_, n)| n != node);
        self.tokens.len() != before
    }

    /// The node owning `key`: the first token at or clockwise after the key's position.
    /// `None` on an empty ring.
    pub fn owner(&self, key: u64) -> Option<Node> {
        let i = self.first_token_at(Ring::key_position(key))?;
        Some(self.tokens[i].1)
    }

    /// The index of the first token at or after `position`, wrapping past the top.
    fn first_token_at(&self, position: u64) -> Option<usize> {
        if self.tokens.is_empty() {
            return None;
        }
        let i = self.tokens.partition_point(|&(p, _)| p < position);
        Some(if i == self.tokens.len() { 0 } else { i })
    }
}
// ANCHOR_END: ring

impl Ring {
    /// A ring holding nodes `0..nodes`, each with `vnodes` tokens.
    pub fn with_nodes(nodes: usize, vnodes: usize) -> Ring {
        let mut ring = Ring::new(vnodes);
        for node in 0..nodes {
            ring.add_node(node);
        }
        ring
    }

    /// Whether `node` has tokens on the ring.
    pub fn contains(&self, node: Node) -> bool {
        self.tokens.iter().any(|&(_, n)| n == node)
    }

    /// The distinct nodes met walking clockwise from `key`'s position, owner first: the
    /// order in which to fall back when the owner is unavailable (or full, for bounded loads).
    pub fn successors(&self, key: u64) -> Vec<Node> {
        let mut out = Vec::new();
        for node in self.clockwise(key) {
            if !out.contains(&node) {
                out.push(node);
            }
        }
        out
    }

    /// The nodes of the tokens met walking clockwise from `key`'s position, one lap, owner
    /// first. A node appears once per token; [`Ring::successors`] removes the repeats.
    pub fn clockwise(&self, key: u64) -> impl Iterator<Item = Node> + '_ {
        let start = self.first_token_at(Ring::key_position(key)).unwrap_or(0);
        let len = self.tokens.len();
        (0..len).map(move |step| self.tokens[(start + step) % len].1)
    }

    /// The nodes on the ring, sorted.
    pub fn nodes(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = self.tokens.iter().map(|&(_, n)| n).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// Tokens per node.
    pub fn vnodes(&self) -> usize {
        self.vnodes
    }

    /// The tokens, sorted by position.
    pub fn tokens(&self) -> &[(u64, Node)] {
        &self.tokens
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_ring_owns_nothing() {
        assert_eq!(Ring::new(4).owner(7), None);
        assert!(Ring::new(4).successors(7).is_empty());
    }

    #[test]
    fn adding_then_removing_a_node_restores_the_ring() {
        let ring = Ring::with_nodes(5, 8);
        let mut changed = ring.clone();
        assert!(changed.add_node(9));
        assert!(!changed.add_node(9), "a second add is refused");
        assert!(changed.remove_node(9));
        assert!(!changed.remove_node(9));
        assert_eq!(changed, ring);
    }

    #[test]
    fn successors_start_with_the_owner_and_list_every_node_once() {
        let ring = Ring::with_nodes(6, 4);
        for key in 0..500 {
            let s = ring.successors(key);
            assert_eq!(Some(s[0]), ring.owner(key));
            let mut sorted = s.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, ring.nodes());
        }
    }

    #[test]
    fn a_position_past_the_last_token_wraps_to_the_first() {
        let ring = Ring::with_nodes(3, 2);
        let last = ring.tokens().last().unwrap().0;
        assert!(
            last < u64::MAX,
            "a token at the very top would make this test vacuous"
        );
        assert_eq!(ring.first_token_at(last + 1), Some(0));
        assert_eq!(ring.first_token_at(0), Some(0));
    }
}
