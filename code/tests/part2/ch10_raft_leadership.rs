//! Chapter 10, Raft in practice: CheckQuorum and PreVote scenarios and campaigns (issue 9).
//!
//! Each scenario test runs a situation of `raft::leadership::scenarios` with the mechanism on
//! (the default) and shows the failure with it off, so that removing the mechanism fails the
//! test. The campaign is chapter 10's chaos with one-way cuts among the partitions.
//!
//! `cargo test --release -p uds --test part2 ch10_raft_leadership -- --nocapture` runs them;
//! `UDS_SEEDS=100000` runs a bigger campaign, `UDS_SEED=n ... replay_one_way_seed` one seed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uds::coordination::raft::chaos::{Chaos, run_chaos};
use uds::coordination::raft::leadership::scenarios::{HORIZON, Mechanisms, Scenario, run};
use uds::sim::Campaign;

use crate::support::env;

const NEITHER: Mechanisms = Mechanisms::new(false, false);
const CHECK_QUORUM: Mechanisms = Mechanisms::new(true, false);
const PRE_VOTE: Mechanisms = Mechanisms::new(false, true);
const BOTH: Mechanisms = Mechanisms::new(true, true);
const SEEDS: std::ops::Range<u64> = 0..5;

/// Three followers of five crash, leaving the leader with one partner: with CheckQuorum the
/// leader steps down within two of its longest election timeouts and stops appending every
/// client retry; without it, it leads to the end and appends a copy of each.
#[test]
fn check_quorum_deposes_a_leader_that_lost_its_majority() {
    for seed in SEEDS {
        let with = run(Scenario::LostMajority, BOTH, seed).unwrap();
        assert!(
            with.old_leader_reign <= Duration::from_millis(600),
            "seed {seed}: {with:?}"
        );
        assert!(with.old_leader_appends <= 5, "seed {seed}: {with:?}");
        assert_eq!(
            with.elections, 0,
            "seed {seed}: PreVote keeps terms: {with:?}"
        );
        let without = run(Scenario::LostMajority, PRE_VOTE, seed).unwrap();
        assert_eq!(
            without.old_leader_reign, HORIZON,
            "seed {seed}: {without:?}"
        );
        assert!(
            without.old_leader_appends > with.old_leader_appends,
            "seed {seed}: {without:?}"
        );
    }
}

/// The followers' messages to the leader are dropped, the leader's still arrive: without
/// CheckQuorum the leader's heartbeats keep every follower from campaigning and the cluster
/// serves no one for good. CheckQuorum alone recovers but the cut-off old leader keeps
/// campaigning and deposing its successors; with PreVote too, about one election settles it.
#[test]
fn one_way_cut_stalls_without_check_quorum_and_settles_with_both() {
    for seed in SEEDS {
        let stalled = run(Scenario::OneWay, PRE_VOTE, seed).unwrap();
        assert!(!stalled.served_at_end, "seed {seed}: {stalled:?}");
        assert!(
            stalled.longest_outage >= Duration::from_millis(2_900),
            "seed {seed}: {stalled:?}"
        );
        let churn = run(Scenario::OneWay, CHECK_QUORUM, seed).unwrap();
        assert!(churn.served_at_end, "seed {seed}: {churn:?}");
        assert!(churn.elections >= 5, "seed {seed}: {churn:?}");
        let settled = run(Scenario::OneWay, BOTH, seed).unwrap();
        assert!(settled.served_at_end, "seed {seed}: {settled:?}");
        assert!(settled.elections <= 3, "seed {seed}: {settled:?}");
    }
}

/// A follower cut off for two seconds rejoins: without PreVote its inflated term deposes the
/// healthy leader; with PreVote its term never moved and the leader stays.
#[test]
fn pre_vote_keeps_a_rejoining_server_from_deposing_the_leader() {
    for seed in SEEDS {
        let with = run(Scenario::Rejoin, BOTH, seed).unwrap();
        assert_eq!(with.old_leader_reign, HORIZON, "seed {seed}: {with:?}");
        assert_eq!((with.elections, with.term_jump), (0, 0), "seed {seed}");
        let without = run(Scenario::Rejoin, CHECK_QUORUM, seed).unwrap();
        assert!(
            without.old_leader_reign < HORIZON,
            "seed {seed}: {without:?}"
        );
        assert!(without.term_jump >= 3, "seed {seed}: {without:?}");
    }
}

/// PreVote costs an ordinary election (a leader crash) little: every run elects again.
#[test]
fn a_crashed_leader_is_still_replaced_with_both() {
    for seed in SEEDS {
        let o = run(Scenario::LeaderCrash, BOTH, seed).unwrap();
        assert!(o.served_at_end && o.elections >= 1, "seed {seed}: {o:?}");
        let basic = run(Scenario::LeaderCrash, NEITHER, seed).unwrap();
        assert!(basic.served_at_end, "seed {seed}: {basic:?}");
    }
}

// ANCHOR: one_way_campaign
/// Chapter 10's campaign with about half of the partitions one-way, CheckQuorum and PreVote on
/// (the defaults): safety after every event, liveness after the repair, linearizability.
#[test]
fn raft_survives_one_way_partitions_with_check_quorum_and_pre_vote() {
    let chaos = Chaos::with_one_way_partitions();
    assert!(chaos.cluster.config.check_quorum && chaos.cluster.config.pre_vote);
    let campaign = Campaign {
        name: "raft one-way".into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 1_000),
        threads: 0,
        replay: "UDS_SEED={seed} cargo test --release -p uds --test part2 \
                 ch10_raft_leadership::replay_one_way_seed -- --nocapture"
            .into(),
    };
    let [operations, unknown] = [(); 2].map(|_| AtomicU64::new(0));
    let report = campaign.run(|seed| {
        let outcome = run_chaos(seed, &chaos)?;
        operations.fetch_add(outcome.operations as u64, Ordering::Relaxed);
        unknown.fetch_add(outcome.unknown as u64, Ordering::Relaxed);
        Ok(())
    });
    println!(
        "{} seeds in {:.1} s; {} client operations ({} with unknown outcome) checked",
        report.passed + report.failures.len() as u64,
        report.elapsed.as_secs_f64(),
        operations.load(Ordering::Relaxed),
        unknown.load(Ordering::Relaxed),
    );
    report.assert_passed();
}
// ANCHOR_END: one_way_campaign

/// Replays the seed in `UDS_SEED` (default 0) of the one-way campaign.
#[test]
fn replay_one_way_seed() {
    let seed = env("UDS_SEED", 0);
    match run_chaos(seed, &Chaos::with_one_way_partitions()) {
        Ok(outcome) => println!("seed {seed}: {outcome:?}"),
        Err(why) => panic!("seed {seed}: {why}"),
    }
}
