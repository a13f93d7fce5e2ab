//! Chapter 9: leader election with leases, and why a lease needs a fencing token.
//!
//! Many systems need exactly one process to do something at a time: one writer of a file, one
//! primary of a replicated database, one scheduler of a cron job. The usual way to choose it is
//! a *lock with a time limit*, a **lease**, held in a strongly consistent store such as etcd,
//! ZooKeeper, Consul or Chubby: whoever holds the lease leads, and if the leader dies its
//! lease runs out and another process takes over, with nobody having to detect the death
//! (Gray and Cheriton, "Leases", SOSP 1989). This module builds that pattern on the simulator
//! and then breaks it, the way Kleppmann's "How to do distributed locking" (2016) does in
//! prose:
//!
//! - [`lock_service`]: a single process standing in for the consistent store. It grants a
//!   lease on a named lock for a TTL measured on *its* clock, and attaches to every grant a
//!   **fencing token** larger than every earlier one (Chubby's sequencer: Burrows, OSDI 2006,
//!   §2.4). It guarantees that at most one client holds a live lease at any instant *of its
//!   own clock*.
//! - [`client`]: a would-be leader. It acquires the lease, renews it before it runs out, and
//!   believes it leads while *its* clock says the lease is valid, minus a safety margin. While
//!   it leads it writes to the storage, attaching its token.
//! - [`storage`]: the resource the lock protects. With fencing on, it refuses any write whose
//!   token is below the largest it has accepted ([`fencing::admit`]); with fencing off, it
//!   accepts everything.
//!
//! **The claim the chapter proves:** a lease alone does not give mutual exclusion to the
//! *clients*, only to the lock service's view of them. Between a client's check of its lease
//! and the moment its write reaches the storage there is always a window, and a process pause
//! (garbage collection, a stopped VM) or a slow clock can stretch that window past the lease's
//! end, while a new leader has already been chosen and written. The ex-leader wakes up, still
//! believing it leads, and overwrites the new leader's work: a lost update. The fencing token
//! moves the decision to where the writes land: the storage has seen the new leader's larger
//! token, so it refuses the old one. [`scenario`] stages both failures (the paused ex-leader
//! and the slow-clocked ex-leader) and runs random pauses over many seeds; the tests in
//! `code/tests/part2/ch09_leader_election.rs` state the claims and check them.
//!
//! **Invariants.** Lock service: at most one live lease per lock on its clock; tokens of new
//! grants strictly increase; an expired lease is never renewed (both asserted). Storage with
//! fencing: the token of every accepted write is at least the token of every write accepted
//! before it (a campaign checks it after every event). Client: its token never decreases.
//!
//! **Simplifications.** The lock service is one process that never fails: the replication that
//! makes a real one fault-tolerant is chapter 10's subject (Raft). No `Release` message and no
//! wait queue: leaders let leases lapse, others poll. One lock, one register in the storage
//! (the coding exercise, [`exercise`], fences a store of many keys). Clients never crash: a
//! crash is the case a lease handles well, a pause is the case it does not.
//!
//! Everything here uses only std and `rand` (as does [`crate::sim`]), so the chapter's
//! runnable listing built from it runs on the Rust playground.

pub mod client;
pub mod exercise;
pub mod fencing;
pub mod lock_service;
pub mod messages;
pub mod node;
pub mod scenario;
pub mod storage;
