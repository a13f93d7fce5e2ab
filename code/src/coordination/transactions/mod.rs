//! Chapter 12: a transactional key-value engine with read committed, snapshot isolation and serializable (strict 2PL) modes, and the isolation-anomaly scenarios.
//!
//! Work in progress (issue 8).
