//! Chapter 12, second page: atomic commit and recovery.
//!
//! A transaction is *atomic* if either all its writes take effect or none do, and *durable* if
//! once it is reported committed, no crash undoes it. This module builds both, first on one
//! machine and then across several:
//!
//! - [`wal`]: the write-ahead log, in std alone: CRC-32 (IEEE, equal to `crc32fast`, so that
//!   the runnable listing works on the playground); records framed as length, checksum,
//!   payload, with a decoder that never panics and the scan that recovery starts with; an
//!   append-only device with an explicit sync, in memory with aimed crashes and torn tails
//!   ([`wal::MemDisk`]) and on a real file ([`wal::FileDisk`]); and a transactional key-value
//!   store on the log: log before apply, force at commit, redo-only recovery ([`wal::KvStore`]).
//! - [`crash`]: the crash test: a crash after every append and a tear at every byte.
//! - [`twopc`]: two-phase commit on the simulator, a coordinator that logs its decision before
//!   sending it (presumed abort), participants that log PREPARED before voting yes, timeouts,
//!   restarts, and the measurement of how long participants block when the coordinator dies.
//! - [`exercise`]: write recovery's redo pass yourself; the crash test checks it.
//!
//! The single-machine half follows the write-ahead logging of System R and ARIES (Mohan et al.,
//! ACM TODS 17(1), 1992), simplified to redo-only logging with no checkpoints (see `wal/kv.rs`).
//! The distributed half follows Gray's 1978 notes "Notes on Data Base Operating Systems" and
//! Bernstein, Hadzilacos and Goodman, *Concurrency Control and Recovery in Database Systems*
//! (1987), ch. 7. The module `wal` uses only std, so that the chapter's runnable listing can
//! bundle it.

pub mod crash;
pub mod exercise;
pub mod twopc;
pub mod wal;
