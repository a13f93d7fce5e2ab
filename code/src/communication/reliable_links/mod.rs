//! Chapter 2: a reliable byte stream over a link that loses, duplicates and reorders.
//!
//! The network underneath (the simulator's links) promises nothing: a segment may vanish,
//! arrive twice, or overtake the one sent before it. This module builds, as a sans-I/O state
//! machine, what TCP builds on top of IP, and states what it guarantees: **every byte the
//! application wrote is delivered exactly once and in order, or the connection does not close
//! cleanly.** How:
//!
//! - **Sequence numbers and cumulative ACKs** ([`segment`]): every byte has a number; the
//!   receiver acknowledges the first byte it is missing, reassembles out-of-order segments and
//!   drops duplicates ([`receiver`]).
//! - **Retransmission** ([`sender`], [`rto`]): a timer set from the measured round-trip time
//!   (RFC 6298, with Karn's rule and exponential back-off), and fast retransmit after three
//!   duplicate ACKs (RFC 5681 §3.2).
//! - **Flow control**: the receiver advertises how much buffer it has left; the sender never
//!   sends past it, and probes a shut window so that a lost window update cannot deadlock.
//! - **Congestion control** ([`congestion`]): slow start, congestion avoidance and
//!   multiplicative decrease (RFC 5681 §3.1), the sawtooth of the chapter's figure.
//! - **Connection life cycle** ([`state`]): a three-way handshake and a FIN exchange.
//!
//! The transport files (`segment`, `rto`, `congestion`, `state`, `sender`, `receiver`) use only
//! std and never read a clock: time comes in as an argument, segments go out as return values.
//! [`link`] runs them as processes of the simulator, [`experiment`] measures them, and [`tcp`]
//! meets the real thing: the kernel's TCP on loopback, and what `ss` reports about it.
//!
//! Simplifications, each admitted where it is made: data flows one way (client to server),
//! sequence numbers start at zero and never wrap, there is no SACK, no timestamps, no window
//! scaling, no delayed ACK, and the receiver acknowledges every segment.

pub mod congestion;
pub mod exercise;
pub mod experiment;
pub mod link;
pub mod receiver;
pub mod rto;
pub mod segment;
pub mod sender;
pub mod state;
pub mod tcp;
