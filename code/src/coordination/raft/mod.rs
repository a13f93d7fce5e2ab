//! Chapters 9 and 10: Raft, leader election and a replicated key-value store on top of it.
//!
//! Raft (Diego Ongaro and John Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", USENIX ATC 2014) keeps a log replicated on a cluster of servers so that every
//! server applies the same commands in the same order, while a minority of servers may crash,
//! restart, pause or be cut off, and messages may be lost, duplicated, delayed and reordered.
//! Its guarantee is *state machine safety* (§5.4.3): if a server has applied the entry at some
//! index, no server ever applies a different entry at that index. It is live only while a
//! majority can talk to each other with delays well below the election timeout (§5.6).
//!
//! The algorithm splits into three parts, and so does this module:
//!
//! - **Leader election** (§5.2, [`election`]): one leader per term, chosen by a majority vote,
//!   with randomised timeouts against split votes and the election restriction (§5.4.1) so that
//!   only a server holding every committed entry can win. Chapter 9 reads this part alone.
//! - **Log replication** (§5.3, [`replication`]): the leader appends commands and brings every
//!   follower's log in line with its own; an entry of the leader's term stored on a majority is
//!   committed (§5.4.2).
//! - **Safety** (§5.4, [`invariants`]): the properties of the paper's Figure 3, checked by the
//!   simulator after every event of every test and campaign run.
//!
//! On top sits a key-value store ([`kv`]) with sessions that apply a client's retried command
//! once (§8), and clients ([`client`]) that find the leader, retry on timeouts, and record a
//! history for the linearizability checker of chapter 10.
//!
//! Layout: [`log`] (terms, indexes, entries), [`rules`] (the pure counting rules: `majority`,
//! `commit_index`, `is_log_up_to_date`), [`message`], [`server`] (state, roles, timers,
//! persistence), [`election`], [`replication`], [`kv`], [`client`], [`cluster`] (servers and
//! clients as one simulator process, and a run builder), [`invariants`], [`history`], and
//! [`chaos`] (one seed of the campaign: nemesis, hostile network, liveness and linearizability),
//! [`time_to_elect`] (one trial of the chapter 9 experiment), [`witness`] (each command at its
//! first commit, a linearization the checker verifies where its search gives up).
//!
//! Like every protocol in this book the server is a sans-I/O state machine: time comes from
//! `ctx.now()`, randomness from `ctx.rng()`, and effects are messages and timers.
//!
//! Beyond the paper's core, as production Raft implementations do (chapter 10's "Raft in
//! practice" page): durable state as an explicit effect written before any message that
//! depends on it is sent ([`storage`]), snapshots and log compaction with `InstallSnapshot`
//! (§7, [`snapshot`]), CheckQuorum and PreVote (Ongaro's thesis §6.2 and §9.6, [`leadership`]),
//! ReadIndex and lease reads and proposal batching (thesis §6.4, [`reads`]), and a witness of
//! linearizability built from the commit log ([`witness`]). Simplification: a fixed membership
//! (no §6 reconfiguration). Everything uses only std and `rand`, so that the runnable listings
//! can be bundled for the Rust playground.

pub mod chaos;
pub mod client;
pub mod cluster;
pub mod election;
pub mod exercise;
pub mod history;
pub mod invariants;
pub mod kv;
pub mod leadership;
pub mod log;
pub mod message;
pub mod pre_vote_exercise;
pub mod reads;
pub mod replication;
pub mod rules;
pub mod server;
pub mod snapshot;
pub mod storage;
pub mod time_to_elect;
pub mod witness;

pub use cluster::{Cluster, KvNode};
pub use log::{Entry, LogIndex, Term};
pub use message::{
    AppendEntries, AppendEntriesResponse, Message, RequestVote, RequestVoteResponse,
};
pub use rules::{commit_index, is_log_up_to_date, majority};
pub use server::{Config, ConfigError, Durable, Role, Server};
