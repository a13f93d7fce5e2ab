//! Chapter 10, Raft in practice: persistence as an effect, snapshots and compaction (issue 9).
//!
//! Three campaigns over chapter 10's chaos (crashes, pauses, partitions, a lossy network), each
//! `UDS_SEEDS` seeds (default 1,000; `UDS_FIRST_SEED` starts elsewhere), plus desk tests:
//!
//! - crashes *between* a step's disk write and its sends, with the correct order (persist,
//!   then send): safe, live and linearizable;
//! - the same crashes with the planted bug (send, then persist): the campaign finds a seed that
//!   breaks a safety property;
//! - log compaction with a small threshold and a slow follower cut off for a while, so that the
//!   leader compacts past it and must catch it up by InstallSnapshot (§7).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt;
use uds::coordination::raft::chaos::{Chaos, ChaosOutcome, run_chaos_with};
use uds::coordination::raft::log::{Entry, Log};
use uds::coordination::raft::server::{Config, Durable, Server};
use uds::coordination::raft::storage::{MemStorage, PersistOp, PersistOrder, Storage};
use uds::sim::{Campaign, Fault, FaultSchedule, NodeId, Time, rng_stream};

use crate::support::env;

/// A shorter chaos run than chapter 10's, so that three campaigns of 1,000 seeds stay cheap.
fn chaos() -> Chaos {
    let mut chaos = Chaos::default();
    chaos.cluster.clients = 3;
    chaos.cluster.ops_per_client = 15;
    chaos.chaos = Duration::from_millis(2_500);
    chaos.calm = Duration::from_millis(2_500);
    chaos
}

/// The campaign `name` of this file, `UDS_SEEDS` seeds.
fn campaign(name: &str) -> Campaign {
    let mut campaign = Campaign::for_test(module_path!(), name, env("UDS_SEEDS", 1_000));
    campaign.first_seed = env("UDS_FIRST_SEED", 0);
    campaign
}

/// Sums of what passing seeds did.
#[derive(Default)]
struct Totals {
    seeds: AtomicU64,
    installed: AtomicU64,
    seeds_with_install: AtomicU64,
    crashes: AtomicU64,
}

impl Totals {
    fn add(&self, o: &ChaosOutcome) {
        self.seeds.fetch_add(1, Ordering::Relaxed);
        self.installed
            .fetch_add(o.snapshots_installed, Ordering::Relaxed);
        let installed = u64::from(o.snapshots_installed > 0);
        self.seeds_with_install
            .fetch_add(installed, Ordering::Relaxed);
        self.crashes
            .fetch_add(o.crashes_between_persist_and_send, Ordering::Relaxed);
    }
    fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }
}

// ANCHOR: crash_between_campaign
/// Crashes between persisting and sending lose messages, never promises: with the correct
/// order every seed is safe, live and linearizable.
#[test]
fn crashes_between_persist_and_send_are_safe_when_persisting_first() {
    let mut chaos = chaos();
    chaos.cluster.crash_between_persist_and_send = 0.002;
    let totals = Totals::default();
    let report =
        campaign("crashes_between_persist_and_send_are_safe_when_persisting_first").run(|seed| {
            totals.add(&run_chaos_with(seed, &chaos, &FaultSchedule::default())?);
            Ok(())
        });
    println!(
        "{} seeds passed, {} crashes between persist and send",
        report.passed,
        Totals::get(&totals.crashes)
    );
    report.assert_passed();
    assert!(
        Totals::get(&totals.crashes) >= report.passed,
        "too few crash points to mean much"
    );
}
// ANCHOR_END: crash_between_campaign

// ANCHOR: send_first_bug
/// The planted bug, sending before persisting, is caught: a crash in between makes a server
/// forget a vote or entries it already announced, and some seed breaks a safety property.
#[test]
fn sending_before_persisting_breaks_safety_and_the_campaign_finds_it() {
    let mut chaos = chaos();
    chaos.cluster.crash_between_persist_and_send = 0.05;
    chaos.cluster.persist_order = PersistOrder::SendFirst;
    let mut campaign = campaign("sending_before_persisting_breaks_safety");
    campaign.seeds = campaign.seeds.min(100);
    let report =
        campaign.run(|seed| run_chaos_with(seed, &chaos, &FaultSchedule::default()).map(|_| ()));
    let unsafe_seeds = report
        .failures
        .iter()
        .filter(|(_, why)| why.contains("§5") || why.contains("two leaders"))
        .count();
    println!(
        "send-first bug: {} of {} seeds broke a safety property; first: {:?}",
        unsafe_seeds,
        campaign.seeds,
        report.failures.first()
    );
    assert!(unsafe_seeds > 0, "no seed caught the planted bug");
}
// ANCHOR_END: send_first_bug

// ANCHOR: slow_follower_campaign
/// With a small compaction threshold, a follower cut off for 1.2 s falls behind the leader's
/// snapshot and is caught up by InstallSnapshot; every seed stays safe, live and linearizable.
#[test]
fn compaction_with_slow_followers_is_safe_and_uses_install_snapshot() {
    let mut chaos = chaos();
    chaos.cluster.config.log_compaction_threshold = Some(8);
    let servers = chaos.cluster.servers;
    let totals = Totals::default();
    let report =
        campaign("compaction_with_slow_followers_is_safe_and_uses_install_snapshot").run(|seed| {
            let slow = NodeId(rng_stream(seed, 7).random_range(0..servers));
            let others: Vec<NodeId> = (0..servers).map(NodeId).filter(|n| *n != slow).collect();
            let mut extra = FaultSchedule::default();
            extra.add(
                Time::from_secs_f64(0.5),
                Fault::Partition(vec![slow], others),
            );
            extra.add(Time::from_secs_f64(2.0), Fault::Heal);
            totals.add(&run_chaos_with(seed, &chaos, &extra)?);
            Ok(())
        });
    let (seeds, with) = (
        Totals::get(&totals.seeds),
        Totals::get(&totals.seeds_with_install),
    );
    println!(
        "{seeds} seeds passed; {with} used InstallSnapshot ({} installs in all)",
        Totals::get(&totals.installed)
    );
    report.assert_passed();
    assert!(
        with * 2 >= seeds,
        "only {with} of {seeds} seeds caught a follower up by snapshot"
    );
}
// ANCHOR_END: slow_follower_campaign

fn entry(term: u64) -> Entry {
    Entry {
        term,
        command: None,
    }
}

/// The disk the ops describe is the server's durable state: replaying a server's `Ready`s into
/// a `MemStorage` gives back exactly `Server::durable()`.
#[test]
fn memstorage_holds_what_the_server_persisted() {
    let mut disk = MemStorage::default();
    let mut memory = Durable::empty();
    memory.log.append(entry(1));
    memory.log.append(entry(1));
    memory.log.append(entry(2));
    let ops = [
        PersistOp::HardState {
            term: 2,
            voted_for: Some(NodeId(1)),
        },
        PersistOp::Append {
            from: 1,
            entries: vec![entry(1), entry(1), entry(3)],
        },
        PersistOp::Append {
            from: 3,
            entries: vec![entry(2)],
        },
    ];
    disk.persist(&ops).unwrap();
    let loaded = disk.load().unwrap();
    assert_eq!(
        (loaded.current_term, loaded.voted_for),
        (2, Some(NodeId(1)))
    );
    let terms: Vec<_> = (1..=3).map(|i| loaded.log.term_at(i).unwrap()).collect();
    assert_eq!(terms, [1, 1, 2]);
}

/// A log compacted to a snapshot keeps absolute indexes; installing a snapshot keeps a
/// matching suffix and replaces a conflicting log (§7).
#[test]
fn compacted_log_keeps_absolute_indexes_and_install_keeps_a_matching_suffix_7() {
    let mut log = Log::new();
    for t in [1, 1, 2, 2, 3] {
        log.append(entry(t));
    }
    log.compact_to(3);
    assert_eq!((log.offset(), log.last_index(), log.last_term()), (3, 5, 3));
    assert_eq!(
        (log.term_at(2), log.term_at(3), log.term_at(4)),
        (None, Some(2), Some(2))
    );
    let mut keep = log.clone();
    keep.install(4, 2);
    assert_eq!(
        (keep.offset(), keep.last_index()),
        (4, 5),
        "matching: the suffix stays"
    );
    let mut replace = log.clone();
    replace.install(4, 7);
    assert_eq!(
        (replace.offset(), replace.last_index(), replace.last_term()),
        (4, 4, 7)
    );
}

/// A server restarted from a disk with a snapshot starts with the snapshot's state applied.
#[test]
fn a_server_restarts_from_its_snapshot_and_log() {
    let config = Config::default();
    let mut disk = Durable::empty();
    for t in [1, 1, 1] {
        disk.log.append(entry(t));
    }
    let snapshot = uds::coordination::raft::snapshot::Snapshot {
        last_index: 2,
        last_term: 1,
        state: Default::default(),
    };
    let mut storage = MemStorage::new(disk);
    storage.persist(&[PersistOp::Snapshot(snapshot)]).unwrap();
    let server = Server::restart(NodeId(0), 3, config, storage.load().unwrap());
    assert_eq!((server.last_applied(), server.commit_index()), (2, 2));
    assert_eq!((server.log().offset(), server.log().last_index()), (2, 3));
}
