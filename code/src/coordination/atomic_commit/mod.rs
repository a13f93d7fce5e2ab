//! Chapter 12: a checksummed write-ahead log with crash recovery, and two-phase commit on the simulator.
//!
//! Work in progress (issue 8).
