//! Drivers that run the crate's sans-I/O state machines outside the simulator.
//!
//! [`tcp`] runs the very same [`Process`](crate::sim::Process) implementations over real TCP
//! connections on loopback, with real time and tokio timers. Protocol modules never import
//! tokio: only this driver does. [`raft_cluster`] uses it to run chapter 10's Raft servers as a
//! live cluster that a person drives from a prompt, killing and restarting servers.
//!
//! The real-fault test of "Raft in practice" runs each server as an OS process instead:
//! [`process`] (the `raft-node` binary) keeps a server's disk in a write-ahead file
//! ([`wal`], through [`file_storage`]); [`proxy`] puts a fault-injecting proxy on every
//! directed link; [`workload`] is the clients that record a history; and [`jepsen`] starts the
//! processes, runs a nemesis drawn from one seed, and checks the history.

pub mod file_storage;
pub mod jepsen;
pub mod process;
pub mod proxy;
pub mod raft_cluster;
pub mod tcp;
pub mod validate;
pub mod wal;
pub mod workload;
