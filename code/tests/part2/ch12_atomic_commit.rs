//! Chapter 12, atomic commit and recovery: the write-ahead log's checksums, decoder and crash
//! recovery (in memory with a crash after every append and a tear at every byte, and on a real
//! file), and two-phase commit under message loss, crashes and restarts over many seeds.
//!
//! `cargo test -p uds --release --test part2 ch12_atomic_commit -- --nocapture` prints the
//! counts. `UDS_SEEDS=n` changes the size of the 2PC campaign (1,000 seeds by default) and of
//! the WAL crash test (8 workloads); `UDS_FIRST_SEED=n` starts elsewhere.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use uds::coordination::atomic_commit::crash::{CrashReport, Workload, check_every_crash_point};
use uds::coordination::atomic_commit::twopc::{
    Config, CrashPoint, Faults, blocking_run, campaign_run,
};
use uds::coordination::atomic_commit::wal::crc::crc32;
use uds::coordination::atomic_commit::wal::{
    FileDisk, KvStore, Record, Storage, decode, encode, redo, scan,
};
use uds::sim::Campaign;

use crate::support::env;

fn record() -> impl Strategy<Value = Record> {
    let txn = any::<u64>();
    prop_oneof![
        txn.prop_map(|txn| Record::Begin { txn }),
        (txn, ".{0,12}", ".{0,40}").prop_map(|(txn, key, value)| Record::Write { txn, key, value }),
        txn.prop_map(|txn| Record::Commit { txn }),
        txn.prop_map(|txn| Record::Abort { txn }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Our table-driven CRC-32 is the IEEE CRC-32 that `crc32fast` computes.
    #[test]
    fn our_crc32_equals_crc32fast(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert_eq!(crc32(&bytes), crc32fast::hash(&bytes));
    }

    /// The decoder and the scan are total: any bytes give a record or an error, never a panic,
    /// and the scan's valid prefix never runs past the input.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
        let scanned = scan(&bytes);
        prop_assert!(scanned.valid_len <= bytes.len());
    }

    /// Every record decodes back to itself, and a log of records scans back whole.
    #[test]
    fn records_round_trip(records in proptest::collection::vec(record(), 0..8)) {
        let log: Vec<u8> = records.iter().flat_map(encode).collect();
        let scanned = scan(&log);
        prop_assert_eq!(scanned.records, records);
        prop_assert_eq!(scanned.valid_len, log.len());
    }

    /// Flipping any one bit of a frame makes it fail to decode as the same record.
    #[test]
    fn a_flipped_bit_is_detected(r in record(), bit in any::<prop::sample::Index>()) {
        let mut frame = encode(&r);
        let i = bit.index(frame.len() * 8);
        frame[i / 8] ^= 1 << (i % 8);
        prop_assert!(decode(&frame).map(|(d, _)| d) != Ok(r));
    }
}

// ANCHOR: crash_test
/// A crash after every single WAL append, and a tear at every byte of what was not yet synced,
/// never loses an acknowledged commit and never exposes a write that did not commit.
#[test]
fn recovery_after_a_crash_at_every_point_keeps_exactly_the_committed_transactions() {
    let first = env("UDS_FIRST_SEED", 0);
    let workloads = env("UDS_SEEDS", 1_000).div_ceil(125); // 8 workloads by default
    let mut total = CrashReport::default();
    for seed in first..first + workloads {
        let workload = Workload::generate(seed, 30, 5);
        match check_every_crash_point(&workload, redo) {
            Ok(report) => total.add(&report),
            Err(why) => panic!(
                "workload {seed}: {why}\n  replay: UDS_FIRST_SEED={seed} UDS_SEEDS=1 cargo test -p \
                 uds --release --test part2 ch12_atomic_commit::recovery_after_a_crash"
            ),
        }
    }
    println!(
        "{workloads} workloads: {} crash points, {} disk images recovered ({} with a torn \
         record), {} acknowledged transactions checked",
        total.crash_points, total.images, total.torn, total.acked_checked
    );
    assert!(total.torn > 0 && total.in_flight_survived > 0, "{total:?}");
}
// ANCHOR_END: crash_test

/// The same log on a real file: sync with `sync_data`, tear the tail with `set_len`, recover,
/// and keep appending after the repaired tail.
#[test]
fn a_torn_tail_on_a_real_file_is_cut_off_and_the_log_stays_usable() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("wal.log");
    let (mut store, _) = KvStore::open(FileDisk::open(&path).unwrap()).unwrap();
    for (key, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
        let txn = store.begin().unwrap();
        store.put(txn, key, value).unwrap();
        store.commit(txn).unwrap();
    }
    drop(store);
    let len = std::fs::metadata(&path).unwrap().len();
    // A torn write: the last commit record lost its last 3 bytes.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let (mut store, recovery) = KvStore::open(FileDisk::open(&path).unwrap()).unwrap();
    assert_eq!(
        (store.get("a"), store.get("b"), store.get("c")),
        (Some("1"), Some("2"), None)
    );
    assert_eq!((recovery.redone, recovery.ignored), (2, 1));
    assert!(recovery.truncated > 0 && recovery.stopped.is_some());
    let txn = store.begin().unwrap();
    store.put(txn, "d", "4").unwrap();
    store.commit(txn).unwrap();
    drop(store);
    // Garbage after the end (a file extended with zeros) is cut off too.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&[0u8; 64]).unwrap();
    file.sync_data().unwrap();
    let mut disk = FileDisk::open(&path).unwrap();
    let bytes = disk.read_all().unwrap();
    assert_eq!(scan(&bytes).valid_len, bytes.len() - 64);
    let (store, recovery) = KvStore::open(disk).unwrap();
    assert_eq!((store.get("d"), recovery.truncated), (Some("4"), 64));
}

// ANCHOR: campaign
/// Two-phase commit under 5% message loss and random crashes and restarts of the coordinator
/// and the participants: no transaction commits at one participant and aborts at another
/// (checked after every event), and once every node is back, every participant decides.
#[test]
fn two_phase_commit_campaign() {
    let config = Config::default();
    let faults = Faults::default();
    let mut campaign = Campaign::for_test(module_path!(), "two_phase_commit_campaign", 0);
    campaign.first_seed = env("UDS_FIRST_SEED", 0);
    campaign.seeds = env("UDS_SEEDS", 1_000);
    campaign.replay = "UDS_FIRST_SEED={seed} UDS_SEEDS=1 cargo test -p uds --release --test part2 \
                       ch12_atomic_commit::two_phase_commit_campaign -- --nocapture"
        .into();
    let counts: [AtomicU64; 5] = Default::default();
    let report = campaign.run(|seed| {
        let run = campaign_run(seed, &config, &faults)?;
        let values = [
            run.committed,
            run.aborted,
            run.coordinator_crashes,
            run.participant_crashes,
            run.in_doubt,
        ];
        for (count, value) in counts.iter().zip(values) {
            count.fetch_add(value, Ordering::Relaxed);
        }
        Ok(())
    });
    let [committed, aborted, coordinator, participant, in_doubt] =
        counts.map(|c| c.load(Ordering::Relaxed));
    println!(
        "{} seeds in {:.1} s: {committed} transactions committed, {aborted} aborted; \
         {coordinator} coordinator and {participant} participant crashes; {in_doubt} \
         (transaction, participant) pairs prepared and then resolved",
        report.passed + report.failures.len() as u64,
        report.elapsed.as_secs_f64(),
    );
    report.assert_passed();
    assert!(
        committed > 0 && aborted > 0 && coordinator > 0,
        "the campaign exercised little"
    );
}
// ANCHOR_END: campaign

/// The blocking window, as a scenario: the coordinator dies after the participants voted yes.
/// They stay in doubt, holding their locks, for as long as it is down; when it comes back it
/// finds no decision in its log and aborts (presumed abort).
#[test]
fn participants_block_in_doubt_while_the_coordinator_is_down() {
    let config = Config::default();
    let latency = Duration::from_millis(5);
    let down = Duration::from_secs(2);
    let run = blocking_run(&config, latency, CrashPoint::AfterPrepare, down);
    assert!(!run.committed);
    assert!(run.in_doubt_max >= down, "{run:?}");
    assert!(
        run.in_doubt_max <= down + config.query_interval + latency * 4,
        "{run:?}"
    );
    // A crash before PREPARE blocks nobody: the participants have not promised anything.
    let early = blocking_run(&config, latency, CrashPoint::BeforePrepare, down);
    assert_eq!(
        (early.in_doubt_max, early.committed),
        (Duration::ZERO, false)
    );
    assert!(
        early.lock_held_max <= config.work_timeout + latency,
        "{early:?}"
    );
    // A crash after the decision went out blocks nobody either.
    let late = blocking_run(&config, latency, CrashPoint::AfterDecision, down);
    assert!(
        late.committed && late.in_doubt_max < Duration::from_millis(50),
        "{late:?}"
    );
}
