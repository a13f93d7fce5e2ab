//! The messages of chain replication and CRAQ.
//!
//! Clients speak [`ChainMsg::Request`] and hear [`ChainMsg::Response`]. Inside the chain, writes
//! travel down as [`ChainMsg::Propagate`] and their acknowledgements travel up as
//! [`ChainMsg::Ack`] (van Renesse and Schneider 2004, §3; CRAQ §2.3). CRAQ adds one round trip,
//! [`ChainMsg::VersionQuery`] / [`ChainMsg::VersionReply`], between a replica holding a dirty key
//! and the tail. [`ChainMsg::Ping`], [`ChainMsg::Pong`] and [`ChainMsg::NewChain`] belong to the
//! master, which removes failed replicas from the chain (see `master.rs`).

use super::history::{KvInput, KvOutput};
use crate::sim::NodeId;

/// A client's number for one of its requests. Invariant: increases with each request.
pub type RequestId = u64;

// ANCHOR: chain_msg
/// Everything nodes of a chain send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainMsg {
    /// Client to replica: writes go to the head, reads to the tail (or, with CRAQ, anywhere).
    Request { id: RequestId, input: KvInput },
    /// Replica to client: the answer to request `id`. Writes are answered by the tail.
    Response { id: RequestId, output: KvOutput },
    /// A non-head replica passing a write it received by mistake to the head.
    Forward {
        client: NodeId,
        id: RequestId,
        input: KvInput,
    },
    /// Replica to its successor: write number `seq` left `key` with `value`; the tail answers
    /// request `id` of `client` once it has applied it.
    Propagate {
        seq: u64,
        key: String,
        value: String,
        client: NodeId,
        id: RequestId,
    },
    /// Replica to its predecessor: the tail has committed write `seq`, which wrote `key`.
    Ack { seq: u64, key: String },
    /// CRAQ, replica to tail: which write of `key` have you committed? Asked on behalf of
    /// request `id` of `client`.
    VersionQuery {
        key: String,
        client: NodeId,
        id: RequestId,
    },
    /// CRAQ, tail to replica: the latest committed write of `key` is number `seq`.
    VersionReply {
        key: String,
        seq: u64,
        client: NodeId,
        id: RequestId,
    },
    /// Master to replica: are you alive? (Answered at once, outside the service queue.)
    Ping,
    /// Replica to master: yes.
    Pong,
    /// Master to replicas and clients: the chain is now `chain` (head first), configuration
    /// number `version`. Older configurations are ignored.
    NewChain { version: u64, chain: Vec<NodeId> },
}
// ANCHOR_END: chain_msg

impl ChainMsg {
    /// The answer to a write.
    pub fn write_done(id: RequestId) -> ChainMsg {
        ChainMsg::Response {
            id,
            output: KvOutput::Ok,
        }
    }
}
