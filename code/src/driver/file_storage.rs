//! A Raft server's disk as a real file: the [`Storage`] of chapter 10's `Ready` loop, on the
//! write-ahead file of [`super::wal`].
//!
//! **What it guarantees.** [`FileStorage::persist`] returns `Ok` only after the operations'
//! records are in the file and `fsync`ed ([`Wal::append`]), so the server's `Ready` loop
//! ([`ServerNode`](crate::coordination::raft::storage::ServerNode)) sends a vote or an
//! acknowledgement only once it would survive a power cut. [`FileStorage::open`] rebuilds the
//! [`Durable`] state (term, vote, log, snapshot) by replaying the records in order with
//! [`apply_op`], the very function that defines what a [`PersistOp`] means for the simulator's
//! in-memory disk: the file is a log of the same operations.
//!
//! **Torn writes.** A process killed in the middle of an append leaves part of a record at the
//! end of the file. The write-ahead file recognises it by its checksum, cuts it off and reports
//! it ([`Recovery::truncated`]); the server restarts from the prefix, which is exactly what it
//! had acknowledged, since the torn append never returned and so nothing it covered was sent.
//! Damage *before* intact records is not a crash's doing, and opening fails (see
//! Alagappan et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST 2018, for why
//! a consensus node must not silently treat such damage as a torn tail).
//!
//! **Compaction.** When a snapshot is persisted, the file is rewritten atomically to three
//! records (term and vote, the snapshot, the log after it), so its size follows the log's.
//!
//! Invariants: `self.disk` is always what replaying the file gives; a failed write leaves
//! `self.disk` unchanged (the operations are applied in memory only after the file has them).

use std::io;
use std::path::{Path, PathBuf};

use super::wal::{Recovery, Wal, WalError};
use crate::coordination::raft::server::Durable;
use crate::coordination::raft::storage::{PersistOp, Storage, apply_op};

/// The name of the write-ahead file inside a server's data directory.
pub const WAL_FILE: &str = "raft.wal";

// ANCHOR: file_storage
/// A server's durable state in a write-ahead file of [`PersistOp`] records.
#[derive(Debug)]
pub struct FileStorage {
    /// The file.
    wal: Wal<PersistOp>,
    /// What replaying the file gives. Invariant: equal to it after every `persist`.
    disk: Durable,
    /// What opening the file found.
    recovery: Recovery,
}
// ANCHOR_END: file_storage

impl FileStorage {
    // ANCHOR: open
    /// Opens (or creates) `dir/raft.wal` and replays it. A torn last record is cut off and
    /// reported in [`FileStorage::recovery`]; damage in the middle is an error.
    pub fn open(dir: &Path) -> Result<FileStorage, WalError> {
        let (wal, records, recovery) = Wal::open(Self::path(dir))?;
        let mut disk = Durable::empty();
        for op in &records {
            apply_op(&mut disk, op);
        }
        Ok(FileStorage {
            wal,
            disk,
            recovery,
        })
    }
    // ANCHOR_END: open

    /// The write-ahead file of the data directory `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(WAL_FILE)
    }

    /// What opening the file found (records read, a torn tail cut off).
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The durable state the file holds.
    pub fn contents(&self) -> &Durable {
        &self.disk
    }

    /// The file's size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.wal.len_bytes()
    }

    /// The records that rebuild `disk` from nothing: after a snapshot, all the file needs.
    fn compacted(disk: &Durable) -> Vec<PersistOp> {
        let mut ops = vec![PersistOp::HardState {
            term: disk.current_term,
            voted_for: disk.voted_for,
        }];
        if let Some(snapshot) = &disk.snapshot {
            ops.push(PersistOp::Snapshot(snapshot.clone()));
        }
        let from = disk.log.offset() + 1;
        let entries = disk.log.entries_from(from, usize::MAX).to_vec();
        if !entries.is_empty() {
            ops.push(PersistOp::Append { from, entries });
        }
        ops
    }
}

// ANCHOR: persist
impl Storage for FileStorage {
    /// Appends the operations and syncs; after a snapshot, rewrites the file compacted.
    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()> {
        let to_io = |e: WalError| io::Error::other(e.to_string());
        if ops.iter().any(|op| matches!(op, PersistOp::Snapshot(_))) {
            let mut next = self.disk.clone();
            for op in ops {
                apply_op(&mut next, op);
            }
            self.wal.rewrite(&Self::compacted(&next)).map_err(to_io)?;
            self.disk = next;
        } else {
            self.wal.append(ops).map_err(to_io)?;
            for op in ops {
                apply_op(&mut self.disk, op);
            }
        }
        Ok(())
    }

    fn load(&mut self) -> io::Result<Durable> {
        Ok(self.disk.clone())
    }
}
// ANCHOR_END: persist

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::raft::history::KvInput;
    use crate::coordination::raft::kv::{Command, KvStore};
    use crate::coordination::raft::log::Entry;
    use crate::coordination::raft::snapshot::Snapshot;
    use crate::sim::NodeId;

    fn entry(term: u64, seq: u64) -> Entry {
        let input = KvInput::Put {
            key: "x".into(),
            value: seq.to_string(),
        };
        Entry {
            term,
            command: Some(Command {
                client: 9,
                seq,
                input,
            }),
        }
    }

    /// What a restart depends on: term, vote, snapshot and the log's entries (not its counters).
    fn durable(d: &Durable) -> impl PartialEq + std::fmt::Debug {
        let entries = d.log.entries_from(d.log.offset() + 1, usize::MAX).to_vec();
        let log = (d.log.offset(), d.log.last_index(), entries);
        (d.current_term, d.voted_for, d.snapshot.clone(), log)
    }

    fn ops() -> Vec<Vec<PersistOp>> {
        vec![
            vec![PersistOp::HardState {
                term: 1,
                voted_for: Some(NodeId(0)),
            }],
            vec![PersistOp::Append {
                from: 1,
                entries: vec![entry(1, 1), entry(1, 2)],
            }],
            vec![PersistOp::Append {
                from: 2,
                entries: vec![entry(1, 3)],
            }],
        ]
    }

    #[test]
    fn what_was_persisted_is_what_a_restart_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        for batch in ops() {
            storage.persist(&batch).unwrap();
        }
        let written = storage.contents().clone();
        assert_eq!(written.log.last_index(), 2);
        drop(storage);
        let mut again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(durable(&again.load().unwrap()), durable(&written));
        assert!(again.recovery().truncated.is_none());
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_the_prefix_recovered() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        let batches = ops();
        for batch in &batches[..2] {
            storage.persist(batch).unwrap();
        }
        let prefix = storage.contents().clone();
        let before_last = storage.len_bytes();
        storage.persist(&batches[2]).unwrap();
        let full = storage.len_bytes();
        drop(storage);
        // Every cut inside the last record recovers exactly the state before it.
        for cut in before_last + 1..full {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(FileStorage::path(dir.path()))
                .unwrap();
            file.set_len(cut).unwrap();
            drop(file);
            let mut torn = FileStorage::open(dir.path()).unwrap();
            assert_eq!(
                durable(&torn.load().unwrap()),
                durable(&prefix),
                "cut at {cut}"
            );
            let truncated = torn.recovery().truncated.clone().expect("reported");
            assert_eq!(truncated.offset, before_last);
            // The next append lands after the prefix, as a whole record.
            torn.persist(&batches[2]).unwrap();
            assert_eq!(torn.len_bytes(), full);
        }
    }

    #[test]
    fn a_snapshot_rewrites_the_file_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = FileStorage::open(dir.path()).unwrap();
        for batch in ops() {
            storage.persist(&batch).unwrap();
        }
        let grown = storage.len_bytes();
        let snapshot = Snapshot {
            last_index: 2,
            last_term: 1,
            state: KvStore::default(),
        };
        storage.persist(&[PersistOp::Snapshot(snapshot)]).unwrap();
        assert!(
            storage.len_bytes() < grown + 200,
            "{} vs {grown}",
            storage.len_bytes()
        );
        let state = storage.contents().clone();
        assert_eq!(state.log.last_index(), 2);
        drop(storage);
        let mut again = FileStorage::open(dir.path()).unwrap();
        assert_eq!(durable(&again.load().unwrap()), durable(&state));
    }
}
