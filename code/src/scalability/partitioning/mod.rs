//! Partitioning (chapter 16): which node holds a key, and how many keys move when the set of
//! nodes changes.
//!
//! A partitioned store splits its keys over nodes so that each node holds and serves a part.
//! Two questions decide how well that goes: is the load even (no node much busier than the
//! mean), and when a node joins or leaves, how many keys must move? This module answers them
//! for the classic schemes, each behind the small [`Partitioner`] trait that the chapter's
//! experiments drive:
//!
//! - [`range`]: contiguous key ranges that split when they grow too big or too busy (Bigtable's
//!   tablets, HBase's regions); keeps order, so range scans stay on few nodes.
//! - [`mod_n`]: `hash(key) mod n`, the scheme that moves almost every key when `n` changes.
//! - [`ring`]: consistent hashing with virtual nodes (Karger et al., STOC 1997).
//! - [`rendezvous`]: highest random weight (Thaler and Ravishankar, 1996).
//! - [`jump`]: jump consistent hash (Lamping and Veach, 2014), no table but numbered buckets.
//! - [`bounded`]: consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
//!   SODA 2018): no node takes more than `ceil((1 + eps) * mean)` keys.
//!
//! Keys are `u64` (hash a string key first); nodes are numbered `0..n`, because jump hash can
//! only name buckets that way. Everything is a pure function or a plain data structure: no
//! clock, no randomness beyond fixed hash functions, so every experiment is reproducible.

pub mod bounded;
pub mod jump;
pub mod measure;
pub mod mod_n;
pub mod range;
pub mod rendezvous;
pub mod ring;

pub use bounded::BoundedLoads;
pub use jump::jump_hash;
pub use mod_n::ModN;
pub use range::{RangePartitions, SplitPolicy};
pub use rendezvous::Rendezvous;
pub use ring::{Node, Ring};

// ANCHOR: partitioner
/// A way to map keys to the nodes `0..nodes()`.
pub trait Partitioner {
    /// The scheme's name, for tables and figures.
    fn name(&self) -> &'static str;
    /// How many nodes the keys are spread over.
    fn nodes(&self) -> usize;
    /// The node holding `key`.
    fn owner(&self, key: u64) -> Node;
    /// Adds node number `nodes()`, the next one.
    fn add_node(&mut self);
}
// ANCHOR_END: partitioner

/// Jump consistent hash as a [`Partitioner`]: node `i` is bucket `i`.
#[derive(Clone, Debug)]
pub struct Jump {
    /// The number of buckets. Invariant: at least one.
    pub buckets: u32,
}

impl Partitioner for Jump {
    fn name(&self) -> &'static str {
        "jump"
    }
    fn nodes(&self) -> usize {
        self.buckets as usize
    }
    fn owner(&self, key: u64) -> Node {
        jump_hash(key, self.buckets) as Node
    }
    fn add_node(&mut self) {
        self.buckets += 1;
    }
}

impl Partitioner for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }
    fn nodes(&self) -> usize {
        self.tokens().len() / self.vnodes()
    }
    fn owner(&self, key: u64) -> Node {
        Ring::owner(self, key).expect("a partitioner has at least one node")
    }
    fn add_node(&mut self) {
        let next = Partitioner::nodes(self);
        Ring::add_node(self, next);
    }
}
