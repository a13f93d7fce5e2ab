//! Chapter 10's campaign: Raft under crashes, restarts, pauses, partitions, loss, duplication
//! and reordering, over many seeds, with the safety invariants checked after every event and
//! every client history checked for linearizability.
//!
//! `cargo test --release -p uds --test part2 ch10_raft_campaign -- --nocapture` runs 1,000 seeds;
//! `UDS_SEEDS=100000` runs more, `UDS_FIRST_SEED=n` starts elsewhere, and
//! `UDS_SEED=n ... replay_one_seed` replays one seed and prints what it did.

use std::sync::atomic::{AtomicU64, Ordering};

use uds::coordination::raft::chaos::{Chaos, run_chaos};
use uds::sim::Campaign;

use crate::support::env;

// ANCHOR: campaign
/// Raft's safety properties (Figure 3) hold, every client finishes once faults are repaired
/// (§5.6), and what the clients saw is linearizable (§8), for every seed.
#[test]
fn raft_is_safe_live_and_linearizable_under_a_nemesis() {
    let chaos = Chaos::default();
    let campaign = Campaign {
        name: "raft nemesis".into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 1_000),
        threads: 0,
        replay: "UDS_SEED={seed} cargo test --release -p uds --test part2 ch10_raft_campaign \
                 replay_one_seed -- --nocapture"
            .into(),
    };
    let [events, faults, operations, unknown] = [(); 4].map(|_| AtomicU64::new(0));
    let report = campaign.run(|seed| {
        let outcome = run_chaos(seed, &chaos)?;
        events.fetch_add(outcome.events, Ordering::Relaxed);
        faults.fetch_add(outcome.faults as u64, Ordering::Relaxed);
        operations.fetch_add(outcome.operations as u64, Ordering::Relaxed);
        unknown.fetch_add(outcome.unknown as u64, Ordering::Relaxed);
        Ok(())
    });
    let total = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "{} seeds in {:.1} s: {:.0} seeds per second; {} events, {} faults, {} client \
         operations ({} with unknown outcome) checked",
        report.passed + report.failures.len() as u64,
        report.elapsed.as_secs_f64(),
        report.seeds_per_sec(),
        total(&events),
        total(&faults),
        total(&operations),
        total(&unknown)
    );
    report.assert_passed();
}
// ANCHOR_END: campaign

/// Replays the seed in `UDS_SEED` (default 0) and prints what it did.
#[test]
fn replay_one_seed() {
    let seed = env("UDS_SEED", 0);
    match run_chaos(seed, &Chaos::default()) {
        Ok(outcome) => println!("seed {seed}: {outcome:?}"),
        Err(why) => panic!("seed {seed}: {why}"),
    }
}
