// GENERATED from code/examples/ch16_jump_ring.rs and the `uds` modules coordination::leaderless::ring, scalability::partitioning::jump, scalability::partitioning::ring by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 16's runnable listing: jump consistent hash and the hash ring, side by side. Both
//! spread keys over nodes; when a node joins, count how many keys move, and where to.
//!
//! playground-bundle: coordination::leaderless::ring scalability::partitioning::jump scalability::partitioning::ring
//!
//! Run: `cargo run --release -p uds --example ch16_jump_ring`
use crate::coordination::leaderless::ring::hash64;
use crate::scalability::partitioning::jump::jump_hash;
use crate::scalability::partitioning::ring::Ring;

// ANCHOR: main
fn main() {
    // 100,000 keys: jump hash wants well-mixed 64-bit keys, so hash the key numbers.
    let keys: Vec<u64> = (0..100_000u64).map(hash64).collect();

    // Jump hash: 10 buckets, then 11.
    let mut per_bucket = [0u32; 11];
    let mut moved = 0;
    for &key in &keys {
        let (before, after) = (jump_hash(key, 10), jump_hash(key, 11));
        per_bucket[after as usize] += 1;
        if before != after {
            assert_eq!(after, 10, "a key moved between old buckets");
            moved += 1;
        }
    }
    println!("jump, 11 buckets: keys per bucket {per_bucket:?}");
    println!("jump, 10 -> 11: {moved} keys moved, all to bucket 10 (ideal 1/11: 9,091)");

    // The ring: 10 nodes with 100 virtual nodes each, then node 10 joins.
    for vnodes in [1, 100] {
        let mut ring = Ring::with_nodes(10, vnodes);
        let before: Vec<usize> = keys.iter().map(|&k| ring.owner(k).unwrap()).collect();
        ring.add_node(10);
        let mut per_node = [0u32; 11];
        let mut moved = 0;
        for (&key, &old) in keys.iter().zip(&before) {
            let now = ring.owner(key).unwrap();
            per_node[now] += 1;
            if now != old {
                assert_eq!(now, 10, "a key moved between old nodes");
                moved += 1;
            }
        }
        println!("ring, {vnodes} vnodes: keys per node {per_node:?}");
        println!("ring, {vnodes} vnodes, 10 -> 11: {moved} keys moved, all to node 10");
    }
}
// ANCHOR_END: main

mod coordination {

pub mod leaderless {

pub mod ring {
//! The consistent-hash ring: which servers hold a key.
//!
//! Dynamo (DeCandia et al., SOSP 2007, §4.2) places servers on a circle of hash values. Each
//! server owns several *tokens* (virtual nodes) at pseudo-random positions; a key hashes to a
//! position, and the first token clockwise from it names the key's *coordinator*. Walking on
//! clockwise and skipping servers already chosen gives the key's **preference list**: the `n`
//! distinct servers that store it (§4.3). Every key between two consecutive tokens has the same
//! preference list, so those keys form a *range*, the unit that anti-entropy compares.
//!
//! Walking past the first `n` gives the *extended* preference list: the servers that stand in,
//! in that order, when one of the first `n` is unreachable and sloppy quorums are on (§4.6).
//!
//! This file uses only std, so the runnable listing of the chapter bundles it.

/// A key of the store (a client names keys by number).
pub type Key = u64;

/// A 64-bit mixer (SplitMix64's finaliser): spreads keys and tokens evenly over the ring.
/// Deterministic, unlike std's randomly keyed `HashMap` hasher.
pub fn hash64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ANCHOR: ring
/// Servers' tokens on a circle of `u64` positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// `(position, server)`, sorted by position. Invariant: positions are distinct.
    tokens: Vec<(u64, usize)>,
}

impl Ring {
    /// `servers` servers with `vnodes` tokens each, at hashed positions.
    pub fn new(servers: usize, vnodes: usize) -> Ring {
        let mut tokens = Vec::new();
        for server in 0..servers {
            for v in 0..vnodes {
                tokens.push((hash64(((server as u64) << 32) | v as u64), server));
            }
        }
        Ring::from_tokens(tokens)
    }

    /// A ring with the given tokens (for tests and drawings). Duplicate positions keep the first.
    pub fn from_tokens(mut tokens: Vec<(u64, usize)>) -> Ring {
        tokens.sort_by_key(|&(position, _)| position);
        tokens.dedup_by_key(|&mut (position, _)| position);
        Ring { tokens }
    }

    /// Where `key` sits on the ring.
    pub fn position(key: Key) -> u64 {
        hash64(key)
    }

    /// The index of the first token at or clockwise after `position`: the key's *range*.
    pub fn range_at(&self, position: u64) -> usize {
        assert!(
            !self.tokens.is_empty(),
            "a ring without tokens owns nothing"
        );
        let i = self.tokens.partition_point(|&(p, _)| p < position);
        if i == self.tokens.len() { 0 } else { i }
    }

    /// The first `n` distinct servers met walking clockwise from token `range`.
    pub fn range_preference(&self, range: usize, n: usize) -> Vec<usize> {
        let mut list = Vec::with_capacity(n.min(self.tokens.len()));
        for step in 0..self.tokens.len() {
            let (_, server) = self.tokens[(range + step) % self.tokens.len()];
            if list.len() == n {
                break;
            }
            if !list.contains(&server) {
                list.push(server);
            }
        }
        list
    }
}
// ANCHOR_END: ring

impl Ring {
    /// The range (token index) that holds `key`.
    pub fn range_of(&self, key: Key) -> usize {
        self.range_at(Ring::position(key))
    }

    /// The key's coordinator: the owner of the first token clockwise.
    pub fn owner(&self, key: Key) -> usize {
        self.tokens[self.range_of(key)].1
    }

    /// The key's preference list: the first `n` distinct servers clockwise (fewer if the ring
    /// has fewer servers). Pass the number of servers for the extended list of stand-ins.
    pub fn preference_list(&self, key: Key, n: usize) -> Vec<usize> {
        self.range_preference(self.range_of(key), n)
    }

    /// How many ranges (tokens) the ring has.
    pub fn ranges(&self) -> usize {
        self.tokens.len()
    }

    /// The tokens, sorted by position.
    pub fn tokens(&self) -> &[(u64, usize)] {
        &self.tokens
    }
}

}
}
}

mod scalability {

pub mod partitioning {

pub mod jump {
//! Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm", 2014, arXiv:1406.2294).
//!
//! `jump_hash(key, n)` maps a 64-bit key to a bucket in `0..n` with no table at all: it
//! simulates the key's walk through `n` buckets, where bucket `b + 1` would steal the key from
//! the buckets before it with probability `1 / (b + 1)`, and jumps straight to the next bucket
//! that does, using one step of a linear congruential generator seeded by the key. Guarantees:
//! every bucket receives `1/n` of the keys in expectation, and going from `n` to `n + 1`
//! buckets moves only the keys that land in the new bucket, `1/(n + 1)` of them.
//!
//! The price: buckets are numbered `0..n`, and only the last one can be removed. A service
//! that loses server 3 of 10 cannot say so to jump hash; it must map bucket numbers to
//! servers itself (and renumber, moving keys) or keep bucket 3 alive with a replica.
//!
//! This file uses only std, so the chapter's runnable listing bundles it.

// ANCHOR: jump
/// The bucket in `0..buckets` of `key`: a line-by-line transcription of the paper's C++
/// function `JumpConsistentHash` (Lamping and Veach 2014).
///
/// Panics if `buckets` is 0 (the C++ version returns -1, which is no bucket either).
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    assert!(buckets > 0, "jump_hash needs at least one bucket");
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}
// ANCHOR_END: jump

}

pub mod ring {
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

}
}
}
