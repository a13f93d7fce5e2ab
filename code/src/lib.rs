//! Reference implementations for *Understanding Distributed Systems, in runnable Rust*.
//!
//! Every listing in the book is included from this crate, every number and figure in the book
//! is produced by one of its experiments (`examples/`), and its tests check the guarantees the
//! chapters claim. Modules follow the book: [`sim`] is the simulator (appendix), [`intro`] is
//! chapter 1, [`coordination`] holds part II, [`scalability`] part III. [`exercise`] is how
//! coding exercises are tested.

pub mod appendix;
pub mod communication;
pub mod coordination;
#[cfg(feature = "serde")]
pub mod driver;
pub mod exercise;
pub mod experiment;
pub mod intro;
pub mod plot;
pub mod scalability;
pub mod servers;
pub mod sim;
/// Reference models (timeouts, ping-pong, M/M/1) that measure the simulator against SimPy.
pub mod sim_models;
