//! Part II of the book: coordination.
//!
//! Communication (part I) gives processes a way to exchange bytes. Coordination is what they do
//! with that channel when they must agree on something: who is alive, what time it is, who
//! leads, what the replicated state is, whether a transaction committed. Every one of those
//! problems is only well posed once we say what can go wrong, so the part opens with system
//! models (chapter 6): what links may do to messages, how processes may fail, and what we may
//! assume about time. Later chapters name the model they assume in their own essays, and their
//! tests run them under the faults that model allows, on the simulator of [`crate::sim`].
//!
//! - [`system_models`] (chapter 6): link, process and timing models as simulator settings, a
//!   perfect link built from a fair-loss one, and a ping/timeout failure detector run under each
//!   timing model.
//! - [`failure_detection`] (chapter 7): fixed-timeout and phi accrual failure detectors judged
//!   on the same heartbeat traces, and gossip-style heartbeat membership.
//! - [`time`] (chapter 8): NTP-style offset estimation over drifting clocks, and Lamport, vector
//!   and hybrid logical clocks judged against the happened-before relation of recorded runs.
//! - [`leader_election`] (chapter 9): a lease-based lock with fencing tokens, and why a lease
//!   alone is unsafe when its holder pauses.
//! - [`raft`] (chapters 9 and 10): Raft's leader election and log replication as a sans-I/O
//!   state machine, a replicated key-value store with exactly-once client commands, and Raft's
//!   safety properties checked after every simulated event.
//! - [`linearizability`] (chapter 10): a Wing-Gong/Lowe linearizability checker with per-key
//!   partitioning, used on every client history of the Raft campaigns.
//! - [`chain_replication`] (chapter 10): chain replication and CRAQ, with a configuration
//!   service that removes crashed replicas.
//! - [`chain_vs_raft`] (chapter 10): Raft run under chain replication's workload and cost
//!   model, for the comparison of throughput, latency and stale reads.

pub mod async_transactions;
pub mod atomic_commit;
pub mod broadcast;
pub mod chain_replication;
pub mod chain_vs_raft;
pub mod crdt;
pub mod failure_detection;
pub mod leader_election;
pub mod leaderless;
pub mod linearizability;
pub mod raft;
pub mod raft_exercise;
pub mod system_models;
pub mod time;
pub mod transactions;
