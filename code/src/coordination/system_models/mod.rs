//! Chapter 6: system models, as code that runs under each of them.
//!
//! A *system model* is the contract between an algorithm and the world it runs in: what the
//! network may do to a message, how a process may fail, and what can be assumed about delays
//! and clocks. An algorithm is correct *in* a model; move it to a weaker model and its proof no
//! longer applies. The classic catalogue is Cachin, Guerraoui and Rodrigues, *Introduction to
//! Reliable and Secure Distributed Programming* (Springer, 2nd ed. 2011), ch. 2, which this
//! module follows for links and processes; the timing models are those of Dwork, Lynch and
//! Stockmeyer, "Consensus in the presence of partial synchrony" (JACM 35(2), 1988).
//!
//! The simulator in [`crate::sim`] gives every model a concrete meaning:
//!
//! - **Links.** A simulated link is *fair-loss*: it may lose, duplicate and reorder, but a
//!   message sent again and again eventually gets through. [`perfect_link`] builds a *stubborn*
//!   link (retransmit until acknowledged) and then a *perfect* link (deliver exactly once) on
//!   top of it. The simulator always tells a receiver the true sender, so links are also
//!   *authenticated*: it cannot model a forged sender address.
//! - **Processes.** [`process_models`] maps crash-stop to `Fault::Crash`, crash-recovery to
//!   `Fault::Crash` then `Fault::Restart` with durable state, and Byzantine behaviour to a
//!   target process that lies in its answers.
//! - **Timing.** [`timing`] maps synchronous, asynchronous and partially synchronous timing to
//!   latency distributions ([`crate::sim::Latency`]), switching the links at the global
//!   stabilisation time for partial synchrony.
//!
//! One protocol runs under all of them: [`ping`], a monitor that pings a target and suspects it
//! when a pong is late. [`scenario`] runs it under a chosen timing model and fault, and judges
//! each suspicion true or false, which is what the chapter's experiment measures.
//!
//! Everything here uses only std and `rand` (as does [`crate::sim`]), so that a listing built
//! from it runs on the Rust playground.

pub mod exercise;
pub mod perfect_link;
pub mod ping;
pub mod process_models;
pub mod scenario;
pub mod timing;
