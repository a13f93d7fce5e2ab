//! Drivers that run the crate's sans-I/O state machines outside the simulator.
//!
//! [`tcp`] runs the very same [`Process`](crate::sim::Process) implementations over real TCP
//! connections on loopback, with real time and tokio timers. Protocol modules never import
//! tokio: only this driver does. [`raft_cluster`] uses it to run chapter 10's Raft servers as a
//! live cluster that a person drives from a prompt, killing and restarting servers.

pub mod process;
pub mod proxy;
pub mod raft_cluster;
pub mod tcp;
pub mod validate;
pub mod wal;
