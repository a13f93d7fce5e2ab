// GENERATED from code/examples/ch12_wal.rs and the `uds` modules coordination::atomic_commit::wal by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 12 listing: a write-ahead log, a crash in the middle of a commit, and recovery.
//!
//! Two transactions commit; a third is cut off by a crash while its commit record is being
//! written, so that record is torn. Recovery scans the log, cuts the torn tail, and redoes the
//! two acknowledged transactions only.
//!
//! playground-bundle: coordination::atomic_commit::wal
//!
//! Run: `cargo run -p uds --example ch12_wal`
use crate::coordination::atomic_commit::wal::KvStore;
use crate::coordination::atomic_commit::wal::scan;
use crate::coordination::atomic_commit::wal::{MemDisk, Storage};

// ANCHOR: main
fn main() -> std::io::Result<()> {
    // The machine dies right after the 11th append to the log.
    let (mut store, _) = KvStore::open(MemDisk::crashing_after(11))?;
    for (alice, bob) in [("100", "50"), ("70", "80")] {
        let txn = store.begin()?; // 1 append
        store.put(txn, "alice", alice)?; // 1 append
        store.put(txn, "bob", bob)?; // 1 append
        store.commit(txn)?; // 1 append, then sync: acknowledged
        println!("txn {txn} committed: alice={alice} bob={bob}");
    }
    let txn = store.begin()?;
    store.put(txn, "carol", "10")?;
    match store.commit(txn) {
        Ok(()) => println!("txn {txn} committed"),
        Err(e) => println!("txn {txn}: commit failed, not acknowledged ({e})"),
    }

    // The reboot finds the synced log plus all but the last 3 unsynced bytes: a torn record.
    let keep = store.storage().unsynced_len() - 3;
    let mut disk = store.storage().crash(keep);
    let bytes = disk.read_all()?;
    let scanned = scan(&bytes);
    println!("\nafter the crash: {} bytes on disk", bytes.len());
    for record in &scanned.records {
        println!("  {record:?}");
    }
    println!(
        "  then {} bytes that do not decode: {:?}",
        bytes.len() - scanned.valid_len,
        scanned.stopped
    );

    let (store, recovery) = KvStore::open(disk)?;
    println!("\nrecovery: {recovery:?}");
    println!("table: {:?}", store.table());
    assert_eq!(store.get("alice"), Some("70"));
    assert_eq!(
        store.get("carol"),
        None,
        "an unacknowledged, torn commit is not redone"
    );
    Ok(())
}
// ANCHOR_END: main

mod coordination {

pub mod atomic_commit {

pub mod wal {
//! The write-ahead log and the store on it, in std alone (the chapter's runnable listing
//! bundles this whole module for the Rust playground).
//!
//! - [`crc`]: CRC-32 (IEEE), equal to `crc32fast`.
//! - [`record`]: records framed as length, checksum, payload; a total decoder; the scan.
//! - [`storage`]: an append-only device with an explicit sync, in memory with aimed crashes
//!   and torn tails, and on a real file.
//! - [`kv`]: a transactional key-value store: log before apply, force at commit, redo-only
//!   recovery.

pub mod crc {
//! CRC-32 (IEEE 802.3, the polynomial of zlib, PNG and Ethernet), table-driven, in std alone.
//!
//! A write-ahead log frames every record with a checksum of its payload, so that recovery can
//! tell a whole record from a torn or garbled one. The crate `crc32fast` computes the same
//! function with SIMD; this copy exists so that the chapter's runnable listing works on the
//! Rust playground, which does not offer `crc32fast`. A test checks the two agree on random
//! inputs.
//!
//! The algorithm is the reflected CRC: bits are processed least-significant first, with the
//! reversed polynomial `0xEDB88320`, an initial value of all ones and a final complement. A
//! table of 256 entries, computed at compile time, handles one byte per step (Sarwate 1988).
//! A CRC detects every burst error up to 32 bits long and misses a random corruption with
//! probability about 2^-32; it is not a defence against an adversary (use a MAC for that,
//! chapter 3).

/// The reversed IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// `TABLE[b]` is the CRC register after shifting byte `b` through an empty register.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

// ANCHOR: crc32
/// The CRC-32 (IEEE) of `bytes`: equal to `crc32fast::hash(bytes)`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}
// ANCHOR_END: crc32

}
pub mod kv {
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

}
pub mod record {
//! Log records and their frames: the bytes a write-ahead log appends, and how recovery reads
//! them back.
//!
//! A frame is `length (u32, little-endian) | checksum (u32, CRC-32 of the payload) | payload`.
//! The payload is a tag byte, the transaction id (u64) and, for a write, the key and the value,
//! each prefixed by its length. Decoding is total: any byte string is either a record followed by
//! the rest, or a [`FrameError`] saying why not, never a panic (a property test feeds it random
//! bytes). The distinction recovery needs is between a frame that is *incomplete* (the log ends
//! inside it: a torn write at the tail) and one that is *corrupt* (its bytes are all there but
//! the checksum or the payload is wrong). Both end the scan: nothing after the first bad frame
//! can be trusted, because the writer appends frames in order and syncs prefixes.
//!
//! Two details matter. A payload may not be empty: a tail of zeros (a file whose length was
//! extended before its data reached the disk) would otherwise read as an endless run of valid
//! empty frames, because the CRC-32 of no bytes is 0. And a length above [`MAX_PAYLOAD`] is
//! corrupt rather than incomplete, so a garbled length cannot make recovery wait for (or
//! allocate) gigabytes.

use super::crc::crc32;

/// A transaction's number, unique within one log.
pub type TxnId = u64;

/// The largest payload a frame may carry, in bytes.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Bytes of the frame header: length and checksum.
pub const HEADER: usize = 8;

// ANCHOR: record
/// One entry of the write-ahead log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// Transaction `txn` started.
    Begin { txn: TxnId },
    /// Transaction `txn` sets `key` to `value` (not yet visible to anyone else).
    Write {
        txn: TxnId,
        key: String,
        value: String,
    },
    /// Transaction `txn` committed: once this record is on disk, its writes must survive.
    Commit { txn: TxnId },
    /// Transaction `txn` gave up: its writes must never become visible.
    Abort { txn: TxnId },
}
// ANCHOR_END: record

impl Record {
    /// The transaction this record belongs to.
    pub fn txn(&self) -> TxnId {
        match self {
            Record::Begin { txn }
            | Record::Write { txn, .. }
            | Record::Commit { txn }
            | Record::Abort { txn } => *txn,
        }
    }
}

/// Why the bytes at some offset are not a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end inside the frame: a torn (partial) write at the tail of the log.
    Incomplete { have: usize, need: usize },
    /// The length field is zero or larger than [`MAX_PAYLOAD`].
    BadLength(u32),
    /// The payload's CRC-32 differs from the checksum in the header.
    BadChecksum { stored: u32, computed: u32 },
    /// The checksum matches but the payload does not parse (unknown tag, bad lengths, not UTF-8).
    BadPayload(&'static str),
}

const BEGIN: u8 = 1;
const WRITE: u8 = 2;
const COMMIT: u8 = 3;
const ABORT: u8 = 4;

// ANCHOR: encode
/// The frame of `record`: length, CRC-32 of the payload, payload.
pub fn encode(record: &Record) -> Vec<u8> {
    let mut payload = Vec::new();
    let (tag, txn) = match record {
        Record::Begin { txn } => (BEGIN, txn),
        Record::Write { txn, .. } => (WRITE, txn),
        Record::Commit { txn } => (COMMIT, txn),
        Record::Abort { txn } => (ABORT, txn),
    };
    payload.push(tag);
    payload.extend_from_slice(&txn.to_le_bytes());
    if let Record::Write { key, value, .. } = record {
        for field in [key, value] {
            payload.extend_from_slice(&(field.len() as u32).to_le_bytes());
            payload.extend_from_slice(field.as_bytes());
        }
    }
    assert!(payload.len() <= MAX_PAYLOAD, "record too large to log");
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}
// ANCHOR_END: encode

// ANCHOR: decode
/// The record framed at the start of `bytes`, and the frame's length.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), FrameError> {
    if bytes.len() < HEADER {
        let need = HEADER;
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need,
        });
    }
    let length = u32_at(bytes, 0);
    if length == 0 || length as usize > MAX_PAYLOAD {
        return Err(FrameError::BadLength(length));
    }
    let need = HEADER + length as usize;
    if bytes.len() < need {
        return Err(FrameError::Incomplete {
            have: bytes.len(),
            need,
        });
    }
    let stored = u32_at(bytes, 4);
    let payload = &bytes[HEADER..need];
    let computed = crc32(payload);
    if stored != computed {
        return Err(FrameError::BadChecksum { stored, computed });
    }
    Ok((parse_payload(payload)?, need))
}
// ANCHOR_END: decode

/// The record in a payload whose checksum matched.
fn parse_payload(payload: &[u8]) -> Result<Record, FrameError> {
    let mut reader = Reader { rest: payload };
    let tag = reader.take(1)?[0];
    let txn = u64::from_le_bytes(reader.take(8)?.try_into().expect("took 8 bytes"));
    let record = match tag {
        BEGIN => Record::Begin { txn },
        COMMIT => Record::Commit { txn },
        ABORT => Record::Abort { txn },
        WRITE => {
            let key = reader.string()?;
            let value = reader.string()?;
            Record::Write { txn, key, value }
        }
        _ => return Err(FrameError::BadPayload("unknown record tag")),
    };
    if !reader.rest.is_empty() {
        return Err(FrameError::BadPayload("bytes after the record"));
    }
    Ok(record)
}

/// Reads fields off the front of a payload, failing (not panicking) when it runs short.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.rest.len() < n {
            return Err(FrameError::BadPayload("payload shorter than its fields"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn string(&mut self) -> Result<String, FrameError> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("took 4 bytes"));
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| FrameError::BadPayload("not UTF-8"))
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

// ANCHOR: scan
/// What recovery found in a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Every record before the first bad frame, in log order.
    pub records: Vec<Record>,
    /// How many bytes those records take: the log is truncated to this length.
    pub valid_len: usize,
    /// Why the scan stopped early, if it did (`None`: the log ended on a frame boundary).
    pub stopped: Option<FrameError>,
}

/// Reads frames from the start of `log` until the end or the first bad frame.
pub fn scan(log: &[u8]) -> Scan {
    let mut records = Vec::new();
    let mut at = 0;
    while at < log.len() {
        match decode(&log[at..]) {
            Ok((record, len)) => {
                records.push(record);
                at += len;
            }
            Err(e) => {
                return Scan {
                    records,
                    valid_len: at,
                    stopped: Some(e),
                };
            }
        }
    }
    Scan {
        records,
        valid_len: at,
        stopped: None,
    }
}
// ANCHOR_END: scan

}
pub mod storage {
//! Where a log lives: an append-only byte store with an explicit sync.
//!
//! The contract is the one an operating system gives a file. `append` hands bytes to the store
//! and returns; they may sit in a cache. `sync` returns only once everything appended so far is
//! on stable storage (`fsync`/`fdatasync` on Linux, `File::sync_data` in Rust). After a crash,
//! everything synced is still there; of what was appended since the last sync, any prefix may
//! have survived, and the last surviving frame may be cut in the middle: a *torn* write.
//!
//! [`MemDisk`] is that contract in memory, with a crash you can aim: it stops accepting writes
//! after a chosen number of appends, and [`MemDisk::crash`] returns the disk as a reboot would
//! find it, keeping any chosen prefix of the unsynced bytes. [`FileDisk`] is the same contract
//! on a real file.
//!
//! Simplification: a real disk may also lose or reorder unsynced *pages* (not just cut a suffix),
//! and a file system may persist a file's new length before its data, leaving zeros or garbage
//! at the tail. The prefix model covers the torn tail that a write-ahead log must survive; the
//! checksum in every frame (see `record.rs`) is what also catches garbage and zeros, and the
//! record tests feed the decoder both.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

// ANCHOR: storage
/// An append-only log device with explicit durability.
pub trait Storage {
    /// Appends `bytes`; they are not durable until [`Storage::sync`] returns.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// The whole log as stored now.
    fn read_all(&mut self) -> io::Result<Vec<u8>>;
    /// Cuts the log to `len` bytes, durably (recovery drops a torn tail this way).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}
// ANCHOR_END: storage

/// The error a crashed [`MemDisk`] returns: the machine is off.
fn power_off() -> io::Error {
    io::Error::other("the machine crashed: the disk accepts no more writes")
}

// ANCHOR: mem_disk
/// A disk in memory that can crash after a chosen number of appends.
#[derive(Clone, Debug, Default)]
pub struct MemDisk {
    /// Bytes that survive any crash.
    synced: Vec<u8>,
    /// Bytes appended since the last sync: a crash keeps some prefix of them.
    unsynced: Vec<u8>,
    /// Appends so far.
    writes: usize,
    /// If set, the machine crashes right after this many appends.
    crash_after: Option<usize>,
    /// Invariant: once true, every append and sync fails.
    crashed: bool,
}
// ANCHOR_END: mem_disk

impl MemDisk {
    /// An empty disk that never crashes by itself.
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    /// An empty disk whose machine crashes right after the `n`-th append.
    pub fn crashing_after(n: usize) -> MemDisk {
        MemDisk {
            crash_after: Some(n),
            ..MemDisk::default()
        }
    }

    /// A disk holding `bytes`, all durable.
    pub fn with_bytes(bytes: Vec<u8>) -> MemDisk {
        MemDisk {
            synced: bytes,
            ..MemDisk::default()
        }
    }

    /// Appends so far.
    pub fn writes(&self) -> usize {
        self.writes
    }

    /// Whether the machine has crashed.
    pub fn has_crashed(&self) -> bool {
        self.crashed
    }

    /// Bytes appended but not yet synced.
    pub fn unsynced_len(&self) -> usize {
        self.unsynced.len()
    }

    // ANCHOR: crash
    /// The disk as a reboot finds it if the first `keep` unsynced bytes reached the platter
    /// (`keep` is capped at what was unsynced).
    pub fn crash(&self, keep: usize) -> MemDisk {
        let mut bytes = self.synced.clone();
        bytes.extend_from_slice(&self.unsynced[..keep.min(self.unsynced.len())]);
        MemDisk::with_bytes(bytes)
    }
    // ANCHOR_END: crash
}

impl Storage for MemDisk {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.crashed {
            return Err(power_off());
        }
        self.unsynced.extend_from_slice(bytes);
        self.writes += 1;
        if self.crash_after == Some(self.writes) {
            self.crashed = true;
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(power_off());
        }
        self.synced.append(&mut self.unsynced);
        Ok(())
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = self.synced.clone();
        bytes.extend_from_slice(&self.unsynced);
        Ok(bytes)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.sync()?;
        self.synced.truncate(len as usize);
        Ok(())
    }
}

/// A log in a real file: `sync` is `File::sync_data` (`fdatasync` on Linux).
#[derive(Debug)]
pub struct FileDisk {
    path: PathBuf,
    file: File,
}

impl FileDisk {
    /// Opens (or creates) the log file at `path`, appending at its end.
    pub fn open(path: &Path) -> io::Result<FileDisk> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileDisk {
            path: path.to_path_buf(),
            file,
        })
    }
}

impl Storage for FileDisk {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        std::fs::read(&self.path)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.file.sync_all()
    }
}

}

pub use kv::{KvStore, Recovery, Table, redo};
pub use record::{FrameError, Record, Scan, TxnId, decode, encode, scan};
pub use storage::{FileDisk, MemDisk, Storage};
}
}
}
