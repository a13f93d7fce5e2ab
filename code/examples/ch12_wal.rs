//! Chapter 12 listing: a write-ahead log, a crash in the middle of a commit, and recovery.
//!
//! Two transactions commit; a third is cut off by a crash while its commit record is being
//! written, so that record is torn. Recovery scans the log, cuts the torn tail, and redoes the
//! two acknowledged transactions only.
//!
//! playground-bundle: coordination::atomic_commit::wal
//!
//! Run: `cargo run -p uds --example ch12_wal`
use uds::coordination::atomic_commit::wal::KvStore;
use uds::coordination::atomic_commit::wal::scan;
use uds::coordination::atomic_commit::wal::{MemDisk, Storage};

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
