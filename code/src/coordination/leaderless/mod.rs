//! Chapter 11 (second page): a Dynamo-style leaderless store, and how stale its reads are.
//!
//! **What it guarantees.** The store of DeCandia et al., "Dynamo: Amazon's Highly Available
//! Key-value Store" (SOSP 2007), stays writable while servers crash and the network splits, and
//! promises *eventual* consistency: once failures heal and repair has run, every replica of a
//! key holds the same versions, and no acknowledged write is lost (checked over many seeds in
//! `code/tests/part2/ch11_leaderless.rs`, see [`run::check_convergence`]). With strict quorums
//! (`r + w > n`, sloppy quorums off) a read also returns every write that completed before it
//! started, or a version descending from it ([`run::check_fresh_reads`]). That is *not*
//! linearizability: concurrent writes become siblings rather than being ordered, a write that
//! failed part-way may surface later, and with sloppy quorums on even the freshness check fails.
//!
//! **How.** A consistent-hash ring ([`ring`], Dynamo §4.2) gives each key a preference list of
//! `n` servers (§4.3). Any server coordinates a request ([`coordinator`]): a put is stamped with
//! a vector clock and returns after `w` acknowledgements, a get returns the merged siblings of
//! `r` replies ([`quorum`], §4.5). Versions whose clocks are concurrent are kept side by side
//! as siblings and surfaced to the client, which writes back with the context it read
//! ([`version`], §4.4). Owners that do not answer are replaced by stand-ins that keep *hints*
//! and hand them back when the owner returns (sloppy quorums and hinted handoff, §4.6). A read
//! repairs the replicas whose replies were behind (read repair, §5 of the paper), and replicas
//! of a range compare Merkle trees to find and copy what differs (anti-entropy, §4.7;
//! [`merkle`], [`repair`]).
//!
//! **Invariants.** A replica's sibling set never holds a version that another of its versions
//! descends from ([`version::Siblings`]); merging is commutative, associative and idempotent,
//! so replicas that have seen the same versions hold the same set whatever the order. A server
//! issues each value of its own clock entry once: its counter is on disk.
//!
//! **Simplifications, stated plainly.**
//! - Vector clocks have one entry per *server* that coordinated a write (Dynamo's choice), so
//!   two puts through the same server with the same context are ordered although the clients
//!   never saw each other: the first is silently replaced. Dotted version vectors (Preguiça et
//!   al., 2010) fix this; we keep the paper's scheme and say so where it shows.
//! - Membership is fixed: no server joins or leaves, so preference lists never change. Dynamo
//!   gossips membership and moves ranges (§4.8-4.9).
//! - Owners that are slow are treated like owners that are down: a coordinator asks stand-ins
//!   after `stand_in_after`, without a failure detector.
//! - Stores keep every key in memory and "disk" is the durable state the simulator keeps across
//!   a crash; Dynamo uses pluggable storage engines (§5).
//! - Merkle trees are rebuilt from the store for every anti-entropy message (see [`repair`]).
//!
//! **Files.** [`ring`] and [`quorum`] (pure helpers, std and `rand` only, bundled by the
//! runnable listing), [`version`] (siblings), [`merkle`] (hash trees and their comparison),
//! [`message`], [`node`] (a server: state and replica side), [`coordinator`], [`repair`]
//! (hinted handoff and anti-entropy), [`client`] (clients and the probe), [`run`] (a
//! deployment and its checks), [`pbs`] (the staleness experiment on the simulator), and
//! [`exercise`].

pub mod client;
pub mod coordinator;
pub mod exercise;
pub mod merkle;
pub mod message;
pub mod node;
pub mod pbs;
pub mod quorum;
pub mod repair;
pub mod ring;
pub mod run;
pub mod version;

pub use client::{Client, Op, Outcome, Probe, Workload};
pub use message::StoreMsg;
pub use node::{Disk, Server, StoreConfig};
pub use quorum::{Quorum, Wars};
pub use ring::{Key, Ring};
pub use run::{
    RunOutcome, StoreNode, StoreSetup, build, check_convergence, check_fresh_reads, run,
};
pub use version::{Siblings, Value, Version};
