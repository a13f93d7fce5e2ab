//! Chapter 8: time, physical and logical.
//!
//! Two questions hide behind "what time is it?" in a distributed system. The first is physical:
//! how far apart are the clocks of two machines, and how well can one learn the other's reading
//! over a network whose delays it cannot see? [`ntp`] answers it the way Cristian (1989) and
//! NTP (RFC 5905) do, with an estimate and a bound on its error, and runs it on the simulator's
//! drifting, offset clocks ([`crate::sim::Clock`]) over links with different delays each way.
//!
//! The second is logical: which events could have influenced which? Lamport (1978) showed that
//! the answer, the *happened-before* relation, needs no physical clock at all. [`lamport`],
//! [`vector`] and [`hlc`] are three clocks that capture it to different degrees:
//!
//! | clock | timestamp | `a -> b` implies | and conversely |
//! |---|---|---|---|
//! | Lamport | one counter | `L(a) < L(b)` | no |
//! | vector (Fidge, Mattern 1988/89) | one counter per process | `V(a) < V(b)` | yes: exact |
//! | hybrid logical (Kulkarni et al. 2014) | physical time + counter | `H(a) < H(b)` | no, but `H` stays near physical time |
//!
//! [`stamped`] runs processes that stamp every event with all three, and [`happened_before`]
//! records such a run and computes the ground truth by graph reachability, against which the
//! chapter's tests judge each clock. [`exercise`] is the chapter's coding exercise.
//!
//! Everything here uses only std and `rand` (as does [`crate::sim`]), so that the chapter's
//! runnable listing, built from these files, runs on the Rust playground.

pub mod exercise;
pub mod happened_before;
pub mod hlc;
pub mod lamport;
pub mod ntp;
pub mod stamped;
pub mod vector;
