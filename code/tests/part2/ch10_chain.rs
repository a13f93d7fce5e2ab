//! Chapter 10's claims about chain replication and CRAQ, checked on the simulator.
//!
//! Every run below also checks, after every simulated event, that all replicas apply the same
//! writes in the same order and that no replica marks a write clean before the tail has applied
//! it (the invariants registered by `chain_replication::build`).

use std::time::Duration;

use uds::coordination::chain_replication::{
    ChainMsg, ChainNode, ChainSetup, Failures, KvInput, ReadMode, Workload, build,
    check_stale_reads, run,
};
use uds::sim::{Campaign, Latency, LinkConfig, NodeId, Time, TraceKind, TraceLevel};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

fn campaign(name: &str, seeds: u64) -> Campaign {
    Campaign::for_test(module_path!(), name, seeds)
}

/// A busy deployment whose shape varies with the seed: 1 to 5 replicas, jittery links that
/// reorder messages, few keys so that reads and writes of one key overlap, and a processor that
/// is sometimes instantaneous and sometimes queues.
fn varied_setup(seed: u64, read_mode: ReadMode) -> ChainSetup {
    ChainSetup {
        chain_length: 1 + (seed % 5) as usize,
        clients: 6 + (seed % 7) as usize,
        read_mode,
        workload: Workload {
            read_fraction: [0.5, 0.8, 0.95][(seed % 3) as usize],
            keys: 1 + seed % 4,
            think_time_mean: ms(1),
        },
        link: LinkConfig::constant(ms(1)).with_latency(Latency::Uniform {
            min: us(100),
            max: ms(3),
        }),
        service_time: if seed.is_multiple_of(2) {
            Duration::ZERO
        } else {
            us(50)
        },
        duration: ms(400),
        read_rule: None,
        failures: None,
    }
}

/// Runs `mode` over a campaign and returns the total of stale reads, failing on any divergence.
fn stale_campaign(name: &str, seeds: u64, mode: ReadMode, allow_stale: bool) -> u64 {
    let total = std::sync::atomic::AtomicU64::new(0);
    let report = campaign(name, seeds).run(|seed| {
        let outcome = run(&varied_setup(seed, mode), seed)?;
        let first = outcome.applied[0];
        if outcome.applied.iter().any(|&a| a != first) {
            return Err(format!(
                "replicas ended with different writes: {:?}",
                outcome.applied
            ));
        }
        let report = check_stale_reads(&outcome.history).map_err(|e| e.to_string())?;
        if report.divergent > 0 {
            return Err(format!("divergent reads: {:?}", report.first));
        }
        if report.reads == 0 {
            return Err("no reads completed".to_string());
        }
        if !allow_stale && report.stale > 0 {
            return Err(format!(
                "{} of {} reads stale: {}",
                report.stale,
                report.reads,
                report.first.unwrap_or_default()
            ));
        }
        if report.behind_write > 0 {
            // Even naive reads in a chain are never *behind* an acknowledged write: every
            // replica has applied a write before the tail acknowledges it (§3).
            return Err(format!(
                "read behind an acknowledged write: {:?}",
                report.first
            ));
        }
        total.fetch_add(report.stale, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    });
    report.assert_passed();
    total.into_inner()
}

/// van Renesse and Schneider 2004, §3: reads at the tail see exactly the committed writes.
#[test]
fn tail_reads_are_never_stale() {
    stale_campaign("tail_reads_are_never_stale", 300, ReadMode::Tail, false);
}

/// Terrace and Freedman 2009, §2.3: with the dirty-read rule, any replica may answer a read.
#[test]
fn craq_reads_from_any_replica_are_never_stale() {
    stale_campaign(
        "craq_reads_from_any_replica_are_never_stale",
        300,
        ReadMode::Craq,
        false,
    );
}

/// Reading a replica's newest version without CRAQ's check returns uncommitted writes, and a
/// later read at a replica further down the chain can then miss them: time goes backwards.
/// Such reads are never behind an *acknowledged* write, though (checked in the campaign).
#[test]
fn naive_reads_from_any_replica_are_sometimes_stale() {
    let stale = stale_campaign(
        "naive_reads_from_any_replica_are_sometimes_stale",
        300,
        ReadMode::Naive,
        true,
    );
    assert!(stale > 0, "naive reads were never stale in 300 seeds");
}

/// §3 (update propagation): replicas apply the same writes in the same order, even on links
/// that reorder and duplicate messages, and end with the same writes.
#[test]
fn every_replica_applies_the_same_writes_in_the_same_order() {
    let report = campaign(
        "every_replica_applies_the_same_writes_in_the_same_order",
        200,
    )
    .run(|seed| {
        let mut setup = varied_setup(seed, ReadMode::Craq);
        setup.chain_length = 2 + (seed % 4) as usize;
        setup.link = setup.link.with_duplicate(0.1).with_reorder(0.2, ms(5));
        // `run` checks the order invariant after every event and fails on a violation.
        let outcome = run(&setup, seed)?;
        let writes = outcome
            .history
            .iter()
            .filter(|o| o.input.is_write())
            .count() as u64;
        if outcome.applied.iter().any(|&a| a != writes) {
            return Err(format!("{writes} writes, applied {:?}", outcome.applied));
        }
        Ok(())
    });
    report.assert_passed();
}

/// Determinism: the same seed gives the same run, a different seed a different one.
#[test]
fn the_same_seed_gives_the_same_trace() {
    for mode in ReadMode::ALL {
        let a = run(&varied_setup(3, mode), 3).unwrap();
        let b = run(&varied_setup(3, mode), 3).unwrap();
        let c = run(&varied_setup(3, mode), 4).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash, "{mode:?}");
        assert_eq!(a.history, b.history, "{mode:?}");
        assert_ne!(a.trace_hash, c.trace_hash, "{mode:?}");
    }
}

/// A write costs one hop to the head, one per link of the chain, and one back from the tail;
/// a classic read costs one round trip to the tail, whatever the chain's length (§3).
#[test]
fn write_latency_grows_with_the_chain_and_tail_read_latency_does_not() {
    for n in 1..=5 {
        for (read_fraction, expected_ms) in [(0.0, n as f64 + 1.0), (1.0, 2.0)] {
            let setup = ChainSetup {
                chain_length: n,
                clients: 3,
                read_mode: ReadMode::Tail,
                workload: Workload {
                    read_fraction,
                    keys: 2,
                    think_time_mean: ms(1),
                },
                link: LinkConfig::constant(ms(1)),
                service_time: Duration::ZERO,
                duration: ms(100),
                read_rule: None,
                failures: None,
            };
            let outcome = run(&setup, 1).unwrap();
            assert!(!outcome.history.is_empty());
            for op in &outcome.history {
                let latency_ms = (op.return_ns - op.call_ns) as f64 / 1e6;
                assert_eq!(latency_ms, expected_ms, "chain of {n}: {op:?}");
            }
        }
    }
}

/// Bad input gets an error, not a panic.
#[test]
fn bad_setups_are_errors() {
    let good = varied_setup(0, ReadMode::Craq);
    let mut empty = good.clone();
    empty.chain_length = 0;
    assert!(run(&empty, 0).unwrap_err().contains("at least one replica"));
    let mut no_clients = good.clone();
    no_clients.clients = 0;
    assert!(run(&no_clients, 0).is_err());
    let mut bad_fraction = good.clone();
    bad_fraction.workload.read_fraction = 1.5;
    assert!(run(&bad_fraction, 0).unwrap_err().contains("read fraction"));
    let mut no_keys = good;
    no_keys.workload.keys = 0;
    assert!(run(&no_keys, 0).is_err());
}

/// The responses delivered to `client` in a fully traced run: (time in ms, message text).
fn responses(sim: &uds::sim::Sim<ChainNode>, client: usize) -> Vec<(f64, String)> {
    sim.trace()
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Deliver { to, msg, .. } if *to == client => {
                Some((e.at_ns as f64 / 1e6, msg.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A transcript of CRAQ §2.3 on a chain of three with 1 ms links: a read at the head while
/// the head's version is dirty asks the tail, and returns what the tail had committed; a naive
/// read at the same moment returns the uncommitted write.
#[test]
fn craq_dirty_read_asks_the_tail_and_returns_the_committed_version() {
    for (mode, expected) in [
        // The version query reaches the tail at 1.5 ms, before the write (tail at 2 ms):
        // the answer is the old value, sent back via the head, arriving at 3.5 ms.
        (ReadMode::Craq, (3.5, "Value(None)")),
        // The naive read answers from the head's dirty version at once, arriving at 1.5 ms.
        (ReadMode::Naive, (1.5, "Value(Some(\"a;\"))")),
    ] {
        let setup = ChainSetup {
            chain_length: 3,
            clients: 1,
            read_mode: mode,
            workload: Workload {
                read_fraction: 0.0,
                keys: 1,
                think_time_mean: ms(1),
            },
            link: LinkConfig::constant(ms(1)),
            service_time: Duration::ZERO,
            // The client never sends on its own: the test injects its requests.
            duration: Duration::ZERO,
            read_rule: None,
            failures: None,
        };
        let mut sim = build(&setup, 0).unwrap();
        sim.set_trace(TraceLevel::Full);
        let (head, client) = (NodeId(0), NodeId(3));
        let append = KvInput::Append {
            key: "k0".into(),
            value: "a;".into(),
        };
        // Injected messages arrive at once: the head orders the write at 0 ms.
        sim.inject(
            Time::ZERO,
            client,
            head,
            ChainMsg::Request {
                id: 1,
                input: append,
            },
        );
        let get = KvInput::Get { key: "k0".into() };
        sim.inject(
            Time(500_000),
            client,
            head,
            ChainMsg::Request { id: 2, input: get },
        );
        sim.run_until(Time::from_millis(10)).unwrap();
        let got = responses(&sim, client.0);
        // The write: head (0 ms) -> middle (1 ms) -> tail (2 ms) -> client (3 ms).
        assert!(
            got.contains(&(3.0, "Response { id: 1, output: Ok }".to_string())),
            "{got:?}"
        );
        let read = format!("Response {{ id: 2, output: {} }}", expected.1);
        assert!(got.contains(&(expected.0, read)), "{mode:?}: {got:?}");
    }
}

/// The crashes of one seed: one replica, or two in some seeds of longer chains, at times
/// spread over the run. Returns (crash time, replica) pairs and the chain length (2 to 5).
fn crashes(seed: u64) -> (Vec<(Duration, usize)>, usize) {
    let n = 2 + (seed % 4) as usize;
    let first = (ms(20 + (seed * 37) % 300), (seed / 4 % n as u64) as usize);
    let mut crashes = vec![first];
    if n >= 3 && seed.is_multiple_of(3) {
        let other = (first.1 + 1 + (seed / 16 % (n as u64 - 1)) as usize) % n;
        crashes.push((ms(20 + (seed * 53) % 300), other));
    }
    (crashes, n)
}

/// van Renesse and Schneider 2004, §3: when the master removes a failed head, middle or tail,
/// the chain keeps its guarantees. Over many seeds with one or two crashes: the master removes
/// exactly the crashed replicas, every request is eventually answered (clients retry), the
/// surviving replicas end with the same writes in the same order, and no tail or CRAQ read is
/// stale.
#[test]
fn the_chain_survives_replica_crashes_without_stale_reads() {
    let name = "the_chain_survives_replica_crashes_without_stale_reads";
    let report = campaign(name, 400).run(|seed| {
        let mode = if seed.is_multiple_of(2) {
            ReadMode::Tail
        } else {
            ReadMode::Craq
        };
        let (crashes, n) = crashes(seed);
        let mut setup = varied_setup(seed, mode);
        setup.chain_length = n;
        setup.failures = Some(Failures {
            crashes: crashes.clone(),
            ping_period: ms(5),
            timeout: ms(20),
            retry_after: ms(30),
        });
        let outcome = run(&setup, seed)?;
        let mut crashed: Vec<usize> = crashes.iter().map(|c| c.1).collect();
        let mut removed = outcome.removed.clone();
        crashed.sort_unstable();
        crashed.dedup();
        removed.sort_unstable();
        if removed != crashed {
            return Err(format!("crashed {crashed:?} but removed {removed:?}"));
        }
        // Served after the last removal: calls after it were answered.
        let last_crash = crashes.iter().map(|c| c.0).max().unwrap_or_default();
        let reconfigured = (last_crash + ms(30)).as_nanos() as u64;
        if !outcome.history.iter().any(|op| op.call_ns > reconfigured) {
            return Err("no operation after the last reconfiguration".to_string());
        }
        if let Some(op) = outcome.history.iter().find(|op| op.output.is_none()) {
            return Err(format!("never answered: {op:?}"));
        }
        let first = outcome.applied[0];
        if outcome.applied.iter().any(|&a| a != first) {
            return Err(format!("survivors differ: {:?}", outcome.applied));
        }
        let report = check_stale_reads(&outcome.history).map_err(|e| e.to_string())?;
        if report.stale > 0 || report.divergent > 0 {
            return Err(format!("{report:?}"));
        }
        Ok(())
    });
    report.assert_passed();
}
