//! Chapter 11: best-effort, reliable and gossip broadcast on the simulator.
//!
//! Work in progress (issue 8).
