//! Chapter 1, Introduction: a tour of what goes wrong between two computers.
//!
//! [`tour`] is a client/server service on the simulator in which each of the classic fallacies
//! of distributed computing (Deutsch and Gosling, Sun Microsystems, 1994-1997) is a knob you can
//! turn: latency, loss, bandwidth, an attacker on the path, a changing topology, a second
//! administrator, the cost of moving bytes, and a network that is not the same for everyone.

pub mod exercise;
pub mod tour;
