//! Getting replicas back in step: hinted handoff and Merkle-tree anti-entropy.
//!
//! **Hinted handoff** (Dynamo §4.6). A stand-in that took a write for an unreachable owner
//! keeps it apart, as a hint naming the owner, and offers it to the owner every
//! `hint_retry_every`. The owner merges it into its store and acknowledges with the digest of
//! what it got; the stand-in drops the hint if it has not changed since.
//!
//! **Anti-entropy** (Dynamo §4.7). Every `anti_entropy_every`, a server takes the next of the
//! ranges it replicates, picks another replica of that range at random, and compares Merkle
//! trees with it, top-down, one level per message: `AeCompare` carries hashes of some nodes at
//! one level; the receiver compares them with its own tree and answers with the hashes of the
//! children of the nodes that differ (one level down), so the two servers take turns until
//! they reach the leaves. Then `AeLeaves` carries the keys of the differing leaves one way, and
//! the receiver sends its own keys of those leaves back. Both ends merge what they get, so one
//! exchange repairs both. The counters `ae_hashes` and `ae_keys` count what crossed the wire.
//!
//! Simplification: a server rebuilds a range's tree from its store for every message, where
//! Dynamo maintains trees incrementally; that costs computation, not network traffic, which is
//! what the counters measure. A tree may change between two messages of one exchange (a write
//! arrives); the exchange then sends a few keys too many or misses one, which a later exchange
//! repairs.

use super::merkle::{MerkleTree, leaf_of};
use super::message::StoreMsg;
use super::node::{ANTI_ENTROPY, HINTS, Server};
use super::ring::Key;
use super::version::Siblings;
use crate::sim::{Ctx, NodeId};
use rand::seq::IndexedRandom;

// ANCHOR: handoff
impl Server {
    /// Offers every hint to its owner; re-arms the timer.
    pub(super) fn offer_hints(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        for ((owner, key), siblings) in &self.disk.hints {
            let (key, siblings) = (*key, siblings.clone());
            ctx.send(NodeId(*owner), StoreMsg::Handoff { key, siblings });
        }
        ctx.set_timer(HINTS, self.config.hint_retry_every);
    }

    /// The owner's side: keep the versions, acknowledge what was received.
    pub(super) fn on_handoff(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        from: NodeId,
        key: Key,
        siblings: Siblings,
    ) {
        if !self.owners(key).contains(&self.id) {
            return; // not ours: never accept data for a key we do not replicate
        }
        ctx.count("handoffs");
        self.disk.store.entry(key).or_default().merge(&siblings);
        let digest = siblings.digest();
        ctx.send(from, StoreMsg::HandoffAck { key, digest });
    }

    /// The stand-in's side: drop the hint if the owner got exactly what it holds.
    pub(super) fn on_handoff_ack(&mut self, from: NodeId, key: Key, digest: u64) {
        let slot = (from.0, key);
        if self
            .disk
            .hints
            .get(&slot)
            .is_some_and(|s| s.digest() == digest)
        {
            self.disk.hints.remove(&slot);
        }
    }
}
// ANCHOR_END: handoff

impl Server {
    /// The ranges this server replicates.
    fn my_ranges(&self) -> Vec<usize> {
        (0..self.ring.ranges())
            .filter(|&r| self.replicas(r).contains(&self.id))
            .collect()
    }

    fn replicas(&self, range: usize) -> Vec<usize> {
        self.ring.range_preference(range, self.config.quorum.n)
    }

    /// The keys of `range` this server stores, in key order.
    fn range_items(&self, range: usize) -> impl Iterator<Item = (&Key, &Siblings)> {
        let ring = &self.ring;
        self.disk
            .store
            .iter()
            .filter(move |(key, _)| ring.range_of(**key) == range)
    }

    fn tree(&self, range: usize) -> MerkleTree {
        let items = self.range_items(range).map(|(k, s)| (*k, s.digest()));
        MerkleTree::of_range(items, self.config.merkle_leaves)
    }

    /// This server's keys of `range` in the given leaves.
    fn leaf_items(&self, range: usize, leaves: &[usize]) -> Vec<(Key, Siblings)> {
        let n = self.config.merkle_leaves;
        self.range_items(range)
            .filter(|(k, _)| leaves.contains(&leaf_of(**k, n)))
            .map(|(k, s)| (*k, s.clone()))
            .collect()
    }
}

// ANCHOR: anti_entropy
impl Server {
    /// Starts an exchange: send the root of the next range's tree to another replica of it.
    pub(super) fn start_anti_entropy(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        let ranges = self.my_ranges();
        if !ranges.is_empty() {
            let range = ranges[self.ae_cursor % ranges.len()];
            self.ae_cursor += 1;
            let peers: Vec<usize> = self
                .replicas(range)
                .into_iter()
                .filter(|&s| s != self.id)
                .collect();
            if let Some(&peer) = peers.choose(ctx.rng()) {
                let hashes = vec![(0, self.tree(range).root())];
                ctx.add("ae_hashes", 1);
                ctx.send(
                    NodeId(peer),
                    StoreMsg::AeCompare {
                        range,
                        level: 0,
                        hashes,
                    },
                );
            }
        }
        if let Some(every) = self.config.anti_entropy_every {
            ctx.set_timer(ANTI_ENTROPY, every);
        }
    }

    /// The peer's hashes at `level`: answer with the children of the nodes that differ, or,
    /// at the leaves, with the keys of the leaves that differ.
    pub(super) fn on_ae_compare(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        from: NodeId,
        range: usize,
        level: usize,
        hashes: &[(usize, u64)],
    ) {
        if range >= self.ring.ranges() || !self.replicas(range).contains(&self.id) {
            return;
        }
        let tree = self.tree(range);
        if level > tree.depth() || hashes.iter().any(|&(i, _)| i >= 1 << level) {
            ctx.count("ae_malformed");
            return;
        }
        let differing: Vec<usize> = hashes
            .iter()
            .filter(|&&(i, h)| tree.hash(level, i) != h)
            .map(|&(i, _)| i)
            .collect();
        if differing.is_empty() {
            return; // in sync below these nodes
        }
        if level == tree.depth() {
            let items = self.leaf_items(range, &differing);
            ctx.add("ae_keys", items.len() as u64);
            let leaves = differing;
            ctx.send(
                from,
                StoreMsg::AeLeaves {
                    range,
                    leaves,
                    items,
                    reply: true,
                },
            );
        } else {
            let hashes: Vec<(usize, u64)> = differing
                .iter()
                .flat_map(|&i| [2 * i, 2 * i + 1])
                .map(|c| (c, tree.hash(level + 1, c)))
                .collect();
            ctx.add("ae_hashes", hashes.len() as u64);
            let level = level + 1;
            ctx.send(
                from,
                StoreMsg::AeCompare {
                    range,
                    level,
                    hashes,
                },
            );
        }
    }

    /// The peer's keys of some leaves: merge them, and send ours back if asked.
    pub(super) fn on_ae_leaves(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        from: NodeId,
        range: usize,
        leaves: &[usize],
        items: Vec<(Key, Siblings)>,
        reply: bool,
    ) {
        if range >= self.ring.ranges() || !self.replicas(range).contains(&self.id) {
            return;
        }
        let mine = reply.then(|| self.leaf_items(range, leaves));
        for (key, siblings) in items {
            if self.ring.range_of(key) == range {
                self.disk.store.entry(key).or_default().merge(&siblings);
            }
        }
        if let Some(items) = mine {
            ctx.add("ae_keys", items.len() as u64);
            let leaves = leaves.to_vec();
            ctx.send(
                from,
                StoreMsg::AeLeaves {
                    range,
                    leaves,
                    items,
                    reply: false,
                },
            );
        }
    }
}
// ANCHOR_END: anti_entropy
