//! A transactional key-value store on a write-ahead log: atomicity and durability, nothing else.
//!
//! **Guarantee.** After a crash at any instant, the store holds exactly the writes of the
//! transactions whose commit record reached the disk, applied in commit order; a commit that was
//! acknowledged (its `commit` call returned `Ok`) is among them; a transaction that aborted or
//! had not committed contributes nothing.
//!
//! **How.** Two rules, the write-ahead-logging rules of every database since System R:
//! 1. *Log before apply.* A write is appended to the log before it touches the table, and it
//!    touches the table only at commit (the table is what readers see).
//! 2. *Force at commit.* `commit` appends the commit record, syncs the log, and only then
//!    applies the writes and returns. The sync is the commit point: before it, a crash may lose
//!    the transaction; after it, nothing can.
//!
//! Recovery ([`KvStore::open`]) scans the log, truncates it at the first bad frame (a torn tail,
//! see `record.rs`), and *redoes* every transaction that has a commit record ([`redo`]).
//!
//! **Simplifications.** The table lives in memory and is rebuilt from the whole log at every
//! start, so the log *is* the database, no page is ever written before its transaction commits
//! ("no steal"), and recovery never has to undo anything: redo-only logging. Real engines write
//! dirty pages back before commit to free memory ("steal"), which forces them to log undo
//! information too, and they take checkpoints so that recovery reads only the log's tail: that
//! is ARIES (Mohan et al., TODS 1992). There is no concurrency control here (chapter 12's first
//! page adds locking and MVCC); concurrent transactions may interleave their writes, and the
//! last one to commit wins a key.

use std::collections::BTreeMap;
use std::io;

use super::record::{FrameError, Record, TxnId, encode, scan};
use super::storage::Storage;

/// What the store shows readers: committed key-value pairs.
pub type Table = BTreeMap<String, String>;

/// What [`KvStore::open`] found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// Records read before the first bad frame.
    pub records: usize,
    /// Transactions redone (they had a commit record).
    pub redone: usize,
    /// Transactions ignored (begun, but no commit record).
    pub ignored: usize,
    /// Bytes cut off the end of the log.
    pub truncated: usize,
    /// Why the scan stopped before the end, if it did.
    pub stopped: Option<FrameError>,
}

// ANCHOR: redo
/// The table after redoing, in log order, every transaction that has a commit record.
pub fn redo(records: &[Record]) -> Table {
    let mut pending: BTreeMap<TxnId, Vec<(&str, &str)>> = BTreeMap::new();
    let mut table = Table::new();
    for record in records {
        match record {
            Record::Begin { txn } => {
                pending.insert(*txn, Vec::new());
            }
            Record::Write { txn, key, value } => {
                pending.entry(*txn).or_default().push((key, value));
            }
            Record::Commit { txn } => {
                for (key, value) in pending.remove(txn).unwrap_or_default() {
                    table.insert(key.to_string(), value.to_string());
                }
            }
            Record::Abort { txn } => {
                pending.remove(txn);
            }
        }
    }
    table
}
// ANCHOR_END: redo

/// A key-value store whose transactions are atomic and durable.
#[derive(Debug)]
pub struct KvStore<S: Storage> {
    storage: S,
    /// Committed state. Invariant: equals `redo` of the log's records.
    table: Table,
    /// Writes of open transactions, not yet visible.
    open: BTreeMap<TxnId, Vec<(String, String)>>,
    /// The next transaction id; larger than every id in the log.
    next_txn: TxnId,
}

impl<S: Storage> KvStore<S> {
    // ANCHOR: open
    /// Recovers the store from `storage`: scan, truncate the torn tail, redo committed work.
    pub fn open(mut storage: S) -> io::Result<(KvStore<S>, Recovery)> {
        let bytes = storage.read_all()?;
        let scan = scan(&bytes);
        if scan.valid_len < bytes.len() {
            // Later appends must follow the last good frame, or the next scan would stop at
            // the garbage in between and lose them.
            storage.truncate(scan.valid_len as u64)?;
        }
        let table = redo(&scan.records);
        let mut begun = BTreeMap::new();
        for record in &scan.records {
            let done = matches!(record, Record::Commit { .. });
            *begun.entry(record.txn()).or_insert(false) |= done;
        }
        let redone = begun.values().filter(|&&committed| committed).count();
        let recovery = Recovery {
            records: scan.records.len(),
            redone,
            ignored: begun.len() - redone,
            truncated: bytes.len() - scan.valid_len,
            stopped: scan.stopped,
        };
        let next_txn = begun.keys().next_back().map_or(1, |last| last + 1);
        let store = KvStore {
            storage,
            table,
            open: BTreeMap::new(),
            next_txn,
        };
        Ok((store, recovery))
    }
    // ANCHOR_END: open

    /// Starts a transaction.
    pub fn begin(&mut self) -> io::Result<TxnId> {
        let txn = self.next_txn;
        self.storage.append(&encode(&Record::Begin { txn }))?;
        self.next_txn += 1;
        self.open.insert(txn, Vec::new());
        Ok(txn)
    }

    /// Sets `key` to `value` in `txn`, invisible to readers until `txn` commits.
    pub fn put(&mut self, txn: TxnId, key: &str, value: &str) -> io::Result<()> {
        if !self.open.contains_key(&txn) {
            return Err(not_open(txn));
        }
        let record = Record::Write {
            txn,
            key: key.to_string(),
            value: value.to_string(),
        };
        self.storage.append(&encode(&record))?; // log before apply
        let writes = self.open.get_mut(&txn).expect("checked above");
        writes.push((key.to_string(), value.to_string()));
        Ok(())
    }

    // ANCHOR: commit
    /// Commits `txn`. `Ok` is the acknowledgement: from then on the writes survive any crash.
    pub fn commit(&mut self, txn: TxnId) -> io::Result<()> {
        if !self.open.contains_key(&txn) {
            return Err(not_open(txn));
        }
        self.storage.append(&encode(&Record::Commit { txn }))?;
        self.storage.sync()?; // the commit point: force the log
        for (key, value) in self.open.remove(&txn).expect("checked above") {
            self.table.insert(key, value);
        }
        Ok(())
    }
    // ANCHOR_END: commit

    /// Aborts `txn`. No sync: a lost abort record reads as "never committed", the same thing.
    pub fn abort(&mut self, txn: TxnId) -> io::Result<()> {
        if self.open.remove(&txn).is_none() {
            return Err(not_open(txn));
        }
        self.storage.append(&encode(&Record::Abort { txn }))
    }

    /// The committed value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.table.get(key).map(String::as_str)
    }

    /// Every committed key-value pair.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The storage under the log.
    pub fn storage(&self) -> &S {
        &self.storage
    }
}

fn not_open(txn: TxnId) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("transaction {txn} is not open"),
    )
}

#[cfg(test)]
mod tests {
    use super::super::storage::MemDisk;
    use super::*;

    #[test]
    fn committed_writes_survive_a_restart_and_uncommitted_ones_do_not() {
        let (mut store, _) = KvStore::open(MemDisk::new()).unwrap();
        let t1 = store.begin().unwrap();
        store.put(t1, "x", "1").unwrap();
        let t2 = store.begin().unwrap();
        store.put(t2, "y", "2").unwrap();
        store.commit(t1).unwrap();
        let t3 = store.begin().unwrap();
        store.put(t3, "z", "3").unwrap();
        store.abort(t3).unwrap();
        assert_eq!(store.get("y"), None, "t2 is not committed");
        let disk = store.storage().crash(usize::MAX);
        let (store, recovery) = KvStore::open(disk).unwrap();
        assert_eq!(store.get("x"), Some("1"));
        assert_eq!((store.get("y"), store.get("z")), (None, None));
        assert_eq!((recovery.redone, recovery.ignored), (1, 2));
    }

    #[test]
    fn writes_to_a_transaction_that_is_not_open_are_refused() {
        let (mut store, _) = KvStore::open(MemDisk::new()).unwrap();
        assert!(store.put(7, "x", "1").is_err());
        assert!(store.commit(7).is_err());
        assert!(store.abort(7).is_err());
    }
}
