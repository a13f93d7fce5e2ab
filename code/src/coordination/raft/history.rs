//! What the clients saw, in the shape the linearizability checker reads.
//!
//! The types are the checker's own ([`crate::coordination::linearizability`]): a client's
//! input and output are [`KvInput`] and [`KvOutput`], and each operation it issued is an
//! [`Operation`] with its call and return instants. The store applies the same `KvInput`s, so
//! what a client asked for, what the log holds and what the checker replays are one type.

pub use crate::coordination::linearizability::{KvInput, KvOutput, Operation};
