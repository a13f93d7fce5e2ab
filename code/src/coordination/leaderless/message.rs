//! What clients, coordinators and replicas of the store send each other.

use super::ring::Key;
use super::version::{Siblings, Value};
use crate::coordination::time::vector::VectorClock;

/// A message of the leaderless store. `req` numbers a client's requests; `op` numbers a
/// coordinator's requests to replicas.
#[derive(Clone, Debug, PartialEq)]
pub enum StoreMsg {
    /// Client to any server: read `key`.
    Get {
        req: u64,
        key: Key,
    },
    /// Client to any server: write `value`, descending from the versions of `context`.
    Put {
        req: u64,
        key: Key,
        value: Value,
        context: VectorClock,
    },
    /// Coordinator to client: the siblings a read quorum returned.
    GetOk {
        req: u64,
        siblings: Siblings,
    },
    /// Coordinator to client: `w` replicas hold the new version, stamped `clock`.
    PutOk {
        req: u64,
        clock: VectorClock,
    },
    /// Coordinator to client: no quorum answered in time (a put may still have landed).
    Failed {
        req: u64,
    },
    /// Coordinator to replica: store these versions; `hint` names the owner this replica stands
    /// in for (sloppy quorum), `None` when it is an owner itself.
    Write {
        op: u64,
        key: Key,
        siblings: Siblings,
        hint: Option<usize>,
    },
    WriteAck {
        op: u64,
    },
    /// Coordinator to replica: what do you hold for `key`?
    Read {
        op: u64,
        key: Key,
    },
    ReadReply {
        op: u64,
        siblings: Siblings,
    },
    /// Coordinator to a replica whose reply was missing versions: read repair.
    Repair {
        key: Key,
        siblings: Siblings,
    },
    /// Stand-in to owner: the versions held for you while you were unreachable.
    Handoff {
        key: Key,
        siblings: Siblings,
    },
    /// Owner to stand-in: stored; drop your hint if it still has this digest.
    HandoffAck {
        key: Key,
        digest: u64,
    },
    /// Anti-entropy: my hashes of these nodes (index, hash) at `level` of range `range`'s tree.
    AeCompare {
        range: usize,
        level: usize,
        hashes: Vec<(usize, u64)>,
    },
    /// Anti-entropy: my keys in these leaves; `reply` asks for yours in return.
    AeLeaves {
        range: usize,
        leaves: Vec<usize>,
        items: Vec<(Key, Siblings)>,
        reply: bool,
    },
}
