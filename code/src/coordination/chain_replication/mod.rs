//! Chapter 10: chain replication and CRAQ.
//!
//! **What it guarantees.** Chain replication (van Renesse and Schneider, "Chain Replication for
//! Supporting High Throughput and Availability", OSDI 2004) replicates a key-value store on `n`
//! servers arranged in a line and makes it linearizable: every read and write appears to take
//! effect at one instant between its call and its return. CRAQ ("Object Storage on CRAQ", Terrace
//! and Freedman, USENIX ATC 2009) keeps that guarantee while letting *every* replica answer reads,
//! so that read throughput grows with the length of the chain instead of being capped by one
//! server.
//!
//! **How.** Writes enter at the **head**, which orders them, and travel down the chain; each
//! replica applies them in that order. The **tail** applies a write last, so when it has the
//! write, everyone has: the tail then answers the client, and the write is *committed* (§3 of
//! the paper). Classic reads go to the tail, whose state is exactly the committed writes. CRAQ
//! adds acknowledgements that travel back up the chain so each replica learns which of its
//! versions are committed ("clean"); a replica answers a read of a clean key itself, and for a
//! key with uncommitted ("dirty") versions asks the tail which version to return (CRAQ §2.3).
//!
//! ```text
//!  client --write--> head --> middle --> tail --ok--> client
//!                     ^--ack--  ^----ack----'
//!  classic read: client --> tail;   CRAQ read: client --> any replica (--> tail if dirty)
//! ```
//!
//! **Invariants** (checked after every simulated event, see [`run`]): every replica applies the
//! same writes in the same order, and each replica's writes are a prefix of its predecessor's
//! (the paper's update propagation invariant, §3); no replica marks a write clean before the tail
//! has applied it. Offline, on the clients' history: no read under tail or CRAQ reads is stale
//! (see [`history::check_stale_reads`]), with or without replica crashes.
//!
//! **Simplifications, stated plainly.**
//! - **Failures: removal only.** A master ([`master`]) detects crashed replicas by heartbeat
//!   and removes them from the chain (§3 of the paper); the chain then keeps serving with one
//!   replica fewer. There is no chain extension (adding a replacement at the tail), no restart,
//!   and the master itself never fails (the paper replicates it). The master's detector is
//!   accurate only because our links have bounded delays: chain replication assumes fail-stop
//!   servers, and a replica wrongly removed while alive could serve a stale read until it hears
//!   of its removal. The throughput and stale-read experiments run without failures.
//! - Links may reorder (latency jitter) where the paper assumes FIFO channels: replicas buffer
//!   writes that arrive early and apply them in sequence order (see [`replica`]).
//! - Each replica serves messages one at a time with a fixed service time ([`service`]), so
//!   that a saturated tail shows up in throughput; sending is free.
//! - Writes are `Put` and `Append`; the head executes them and forwards the resulting value, as
//!   the paper's head forwards state changes. CRAQ's multi-object and wide-area features (§3-4)
//!   are out of scope.
//!
//! **Files.** [`versions`] holds the per-key versions and the read rules (the heart of CRAQ,
//! pure functions); [`message`] the protocol's messages; [`replica`] the replica state machine;
//! [`master`] the configuration service that removes failed replicas;
//! [`service`] the processor model; [`client`] the closed-loop clients and workload; [`run`] a
//! whole deployment on the simulator; [`history`] histories and the stale-read checker;
//! [`exercise`] the chapter's coding exercise.
//!
//! Everything uses only std and `rand` (as does [`crate::sim`]), so a listing built from it
//! runs on the Rust playground.
//!
//! The history types in [`history`] stand in for those of `coordination::linearizability`
//! (same fields, same meaning); when both modules are merged, `history.rs` re-exports those
//! types instead of defining its own (`Operation` there is `Operation<KvInput, KvOutput>`).

pub mod client;
pub mod exercise;
pub mod history;
pub mod master;
pub mod message;
pub mod replica;
pub mod run;
pub mod service;
pub mod versions;

pub use client::{Client, ReadMode, Workload};
pub use history::{KvInput, KvOutput, Operation, StaleReadReport, check_stale_reads};
pub use message::ChainMsg;
pub use replica::Replica;
pub use run::{ChainNode, ChainSetup, Failures, RunOutcome, build, run};
pub use versions::{KeyVersions, ReadDecision, ReadRule, Version, craq_read, naive_read};
