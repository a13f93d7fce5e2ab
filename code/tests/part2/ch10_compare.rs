//! Chapter 10's claims about Raft under the chain's workload (`src/coordination/chain_vs_raft.rs`):
//! reads through the leader's log are linearizable, reads from any server's applied state are
//! not, and the runs are deterministic.
//!
//! Every run also checks, once it has drained, that all servers applied the same commands to
//! the same state (`run_raft` returns an error otherwise).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uds::coordination::chain_replication::{Workload, check_stale_reads};
use uds::coordination::linearizability::{CheckResult, KvModel, check};
use uds::coordination::raft::Config;
use uds::sim::{Campaign, Latency, LinkConfig};

use uds::coordination::chain_vs_raft::{RaftReadMode, RaftSetup, run_raft};

fn campaign(name: &str, seeds: u64) -> Campaign {
    Campaign::for_test(module_path!(), name, seeds)
}

/// A busy cluster whose shape varies with the seed: 1 to 5 servers, links with jitter that
/// reorders messages, few keys so that reads and appends of one key overlap, and the chain
/// experiment's processor model (200 us per message received).
fn varied_setup(seed: u64, read_mode: RaftReadMode) -> RaftSetup {
    RaftSetup {
        servers: 1 + (seed % 5) as usize,
        clients: 4 + (seed % 5) as usize,
        read_mode,
        workload: Workload {
            read_fraction: [0.5, 0.8, 0.95][(seed % 3) as usize],
            keys: 2 + seed % 3,
            think_time_mean: Duration::from_millis(1),
        },
        link: LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
            min: Duration::from_micros(200),
            max: Duration::from_micros(1_000),
        }),
        service_time: Duration::from_micros(200),
        duration: Duration::from_millis(150),
        config: Config::default(),
    }
}

/// What a campaign of one read mode found, summed over its seeds.
#[derive(Default)]
struct Totals {
    /// Reads that were stale.
    stale: AtomicU64,
    /// Seeds whose history the linearizability checker rejected.
    illegal: AtomicU64,
}

/// Runs `mode` over `seeds` seeds. Fails a seed on divergence, on a history the checker
/// cannot decide, and, unless `allow_anomalies`, on any stale read or non-linearizable history.
fn compare_campaign(name: &str, seeds: u64, mode: RaftReadMode, allow_anomalies: bool) -> Totals {
    let totals = Totals::default();
    let report = campaign(name, seeds).run(|seed| {
        let outcome = run_raft(&varied_setup(seed, mode), seed)?;
        if outcome.elections != 1 {
            return Err(format!("{} elections, expected one", outcome.elections));
        }
        let stale = check_stale_reads(&outcome.history).map_err(|e| e.to_string())?;
        if stale.divergent > 0 {
            return Err(format!("divergent reads: {:?}", stale.first));
        }
        if stale.reads == 0 {
            return Err("no reads completed".to_string());
        }
        let verdict = check(&KvModel, &outcome.history);
        let illegal = match verdict {
            CheckResult::Ok => false,
            CheckResult::Illegal(_) => true,
            CheckResult::Unknown => return Err("the checker ran out of steps".to_string()),
        };
        if !allow_anomalies && (stale.stale > 0 || illegal) {
            return Err(format!(
                "{} of {} reads stale ({}); checker: {verdict}",
                stale.stale,
                stale.reads,
                stale.first.unwrap_or_default()
            ));
        }
        totals.stale.fetch_add(stale.stale, Ordering::Relaxed);
        totals
            .illegal
            .fetch_add(u64::from(illegal), Ordering::Relaxed);
        Ok(())
    });
    report.assert_passed();
    totals
}

/// Ongaro and Ousterhout 2014, §8: a read that goes through the log like a write is
/// linearizable; in the chain's workload no leader read is ever stale.
#[test]
fn raft_leader_reads_are_never_stale_and_are_linearizable() {
    compare_campaign(
        "raft_leader_reads_are_never_stale_and_are_linearizable",
        300,
        RaftReadMode::Leader,
        false,
    );
}

/// A follower learns that an entry is committed only from the leader's next AppendEntries, so
/// a read from its applied state can miss an append already acknowledged: stale reads appear in
/// some seeds, and the checker rejects those histories.
#[test]
fn raft_follower_reads_are_sometimes_stale_and_not_linearizable() {
    let totals = compare_campaign(
        "raft_follower_reads_are_sometimes_stale_and_not_linearizable",
        300,
        RaftReadMode::Follower,
        true,
    );
    let (stale, illegal) = (totals.stale.into_inner(), totals.illegal.into_inner());
    assert!(stale > 0, "no follower read was ever stale");
    assert!(
        illegal > 0,
        "the checker accepted every follower-read history"
    );
}

/// The simulator's promise (appendix): a run is a function of its seed.
#[test]
fn raft_runs_under_the_chain_workload_are_deterministic() {
    for mode in [RaftReadMode::Leader, RaftReadMode::Follower] {
        let setup = varied_setup(3, mode);
        let a = run_raft(&setup, 3).expect("valid setup");
        let b = run_raft(&setup, 3).expect("valid setup");
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(a.history, b.history);
        assert_eq!(a.handled, b.handled);
        let c = run_raft(&setup, 4).expect("valid setup");
        assert_ne!(a.trace_hash, c.trace_hash, "another seed, another run");
    }
}

/// Bad input is an error, not a panic.
#[test]
fn a_raft_setup_without_servers_or_clients_is_rejected() {
    let mut setup = varied_setup(0, RaftReadMode::Leader);
    setup.servers = 0;
    assert!(run_raft(&setup, 0).unwrap_err().contains("server"));
    let mut setup = varied_setup(0, RaftReadMode::Leader);
    setup.clients = 0;
    assert!(run_raft(&setup, 0).unwrap_err().contains("client"));
    let mut setup = varied_setup(0, RaftReadMode::Leader);
    setup.workload.read_fraction = 1.5;
    assert!(run_raft(&setup, 0).is_err());
}
