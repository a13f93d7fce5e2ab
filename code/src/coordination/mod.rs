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
//! - [`raft`] (chapters 9 and 10): Raft's leader election and log replication as a sans-I/O
//!   state machine, a replicated key-value store with exactly-once client commands, and Raft's
//!   safety properties checked after every simulated event.

pub mod linearizability;
pub mod raft;
pub mod system_models;
