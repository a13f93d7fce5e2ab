//! The write-ahead log and the store on it, in std alone (the chapter's runnable listing
//! bundles this whole module for the Rust playground).
//!
//! - [`crc`]: CRC-32 (IEEE), equal to `crc32fast`.
//! - [`record`]: records framed as length, checksum, payload; a total decoder; the scan.
//! - [`storage`]: an append-only device with an explicit sync, in memory with aimed crashes
//!   and torn tails, and on a real file.
//! - [`kv`]: a transactional key-value store: log before apply, force at commit, redo-only
//!   recovery.

pub mod crc;
pub mod kv;
pub mod record;
pub mod storage;

pub use kv::{KvStore, Recovery, Table, redo};
pub use record::{FrameError, Record, Scan, TxnId, decode, encode, scan};
pub use storage::{FileDisk, MemDisk, Storage};
