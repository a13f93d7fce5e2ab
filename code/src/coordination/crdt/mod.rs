//! Chapter 11: state-based CRDTs (G-Counter, PN-Counter, LWW-Register, MV-Register, OR-Set) behind one trait.
//!
//! Work in progress (issue 8).
