//! Chapter 7: failure detection, with a fixed timeout and with the φ accrual detector.
//!
//! A failure detector answers one question, "is that process still up?", with the only
//! evidence a process has about another: messages, and the time since the last one. Chandra and
//! Toueg ("Unreliable failure detectors for reliable distributed systems", JACM 43(2), 1996)
//! split what we want from the answer into two properties: *completeness* (a crashed process
//! is eventually suspected, forever, by every correct process) and *accuracy* (a correct
//! process is not suspected). In an asynchronous system no detector has both (chapter 6);
//! every practical detector guarantees completeness and trades accuracy against speed.
//!
//! This module builds two heartbeat detectors and measures that trade:
//!
//! - [`phi`]: the pure helpers of the accrual detector, the normal tail and φ itself
//!   (Hayashibara, Défago, Yared and Katayama, "The φ Accrual Failure Detector", SRDS 2004).
//! - [`window`]: a sliding window of inter-arrival times with exact running mean and variance.
//! - [`detector`]: the [`Detector`](detector::Detector) contract, a [`FixedTimeout`](
//!   detector::FixedTimeout) and the [`PhiAccrual`](detector::PhiAccrual) detector.
//! - [`heartbeat`]: the sender and the monitor as simulator processes, around a pure
//!   [`Watch`](heartbeat::Watch).
//! - [`evaluation`]: record a heartbeat trace once on the simulator, replay it through any
//!   detector, and judge detection time and false suspicions (the chapter's experiment).
//! - [`gossip`]: gossip-style heartbeat membership for a whole group (van Renesse, Minsky and
//!   Hayden, Middleware 1998).
//! - [`exercise`]: implement the sliding window yourself; [`exercise_gossip`]: measure how
//!   gossip's detection delay grows with the group.
//!
//! Model: crash-stop sender; fair-loss links with long-tailed delay; monitors that do not fail
//! while they watch (a crashed monitor detects nothing, which completeness allows: it only
//! binds *correct* processes). Everything here uses only std and `rand`, so that listings
//! built from it run on the Rust playground.

pub mod detector;
pub mod evaluation;
pub mod exercise;
pub mod exercise_gossip;
pub mod gossip;
pub mod heartbeat;
pub mod phi;
pub mod window;
