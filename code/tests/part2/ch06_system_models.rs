//! Chapter 6's claims, checked on the simulator over many seeds.

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use uds::coordination::system_models::perfect_link::{LinkEnd, Receiver, Sender};
use uds::coordination::system_models::ping::{MONITOR, Monitor, PingNode, TARGET, Target};
use uds::coordination::system_models::process_models::Conduct;
use uds::coordination::system_models::process_models::TargetFault;
use uds::coordination::system_models::scenario::{Scenario, run, sweep};
use uds::coordination::system_models::timing::{BOOK_BOUNDED, Bounded, TimingModel};
use uds::sim::{Campaign, Latency, LinkConfig, NodeId, Sim, SimRng};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn campaign(name: &str, seeds: u64) -> Campaign {
    Campaign::for_test(module_path!(), name, seeds)
}

/// A fair-loss link at its worst: it loses, duplicates and reorders.
fn hostile_link() -> LinkConfig {
    LinkConfig::constant(ms(1))
        .with_latency(Latency::Uniform {
            min: ms(1),
            max: ms(10),
        })
        .with_loss(0.3)
        .with_duplicate(0.2)
        .with_reorder(0.3, ms(30))
}

/// Sends 40 numbered payloads over `hostile_link` for 20 s; returns what was delivered, and
/// how many messages the sender still waits on.
fn transfer(seed: u64, dedup: bool) -> (Vec<u64>, usize) {
    let payloads: Vec<u64> = (100..140).collect();
    let sender = Sender::new(NodeId(1), ms(25), &payloads);
    let receiver = Receiver {
        dedup,
        ..Receiver::default()
    };
    let ends = vec![LinkEnd::Sender(sender), LinkEnd::Receiver(receiver)];
    let mut sim = Sim::new(seed, hostile_link(), ends);
    sim.run_for(Duration::from_secs(20)).expect("no invariants");
    let Some(LinkEnd::Receiver(r)) = sim.process(NodeId(1)) else {
        unreachable!("node 1 is the receiver")
    };
    let Some(LinkEnd::Sender(s)) = sim.process(NodeId(0)) else {
        unreachable!("node 0 is the sender")
    };
    (r.delivered.clone(), s.unacked.len())
}

/// Cachin, Guerraoui and Rodrigues 2011, §2.4.4: reliable delivery and no duplication.
#[test]
fn perfect_link_delivers_every_message_exactly_once_despite_loss_duplication_reordering() {
    let report = campaign("perfect_link_exactly_once", 300).run(|seed| {
        let (mut delivered, unacked) = transfer(seed, true);
        delivered.sort_unstable();
        let expected: Vec<u64> = (100..140).collect();
        if delivered != expected {
            return Err(format!("delivered {delivered:?}"));
        }
        if unacked != 0 {
            return Err(format!("{unacked} messages never acknowledged"));
        }
        Ok(())
    });
    report.assert_passed();
}

/// §2.4.3: a stubborn link delivers every message, but some more than once.
#[test]
fn stubborn_link_without_dedup_delivers_everything_and_some_messages_twice() {
    let mut duplicates = 0;
    for seed in 0..20 {
        let (delivered, _) = transfer(seed, false);
        let mut unique = delivered.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique, (100..140).collect::<Vec<u64>>(), "seed {seed}");
        duplicates += delivered.len() - unique.len();
    }
    assert!(duplicates > 0, "retransmission should duplicate something");
}

/// The chapter's central check: in the synchronous model, a timeout no shorter than the
/// round-trip bound (plus processing time, zero here) never suspects a correct process.
/// Each seed also draws its own bound and period.
#[test]
fn synchronous_model_with_a_correct_timeout_never_suspects_a_correct_target() {
    let started = Instant::now();
    let report = campaign("synchronous_no_false_suspicion", 400).run(|seed| {
        let mut rng = SimRng::seed_from_u64(seed);
        let min = ms(rng.random_range(0..5));
        let max = min + ms(rng.random_range(1..20));
        let timing = TimingModel::Synchronous(Bounded { min, max });
        let bound = timing.round_trip_bound().expect("synchronous");
        let scenario = Scenario {
            seed,
            timing,
            fault: TargetFault::None,
            period: ms(rng.random_range(10..200)),
            timeout: bound,
            duration: Duration::from_secs(60),
        };
        let outcome = run(&scenario);
        if !outcome.suspicions.is_empty() || outcome.late_pongs > 0 {
            return Err(format!(
                "{} suspicions, {} late pongs with timeout {bound:?} = bound: {scenario:?}",
                outcome.suspicions.len(),
                outcome.late_pongs
            ));
        }
        Ok(())
    });
    report.assert_passed();
    eprintln!(
        "synchronous campaign: {} seeds in {:?}",
        report.passed,
        started.elapsed()
    );
}

/// The converse, so that the campaign above is not vacuous: with the timeout at 95% of the
/// round-trip bound, every seed's bounds and period produce at least one false suspicion.
#[test]
fn synchronous_model_with_a_timeout_below_the_bound_does_suspect_a_correct_target() {
    let report = campaign("synchronous_timeout_below_bound", 200).run(|seed| {
        let mut rng = SimRng::seed_from_u64(seed);
        let min = ms(rng.random_range(0..5));
        let max = min + ms(rng.random_range(1..20));
        let timing = TimingModel::Synchronous(Bounded { min, max });
        let bound = timing.round_trip_bound().expect("synchronous");
        let scenario = Scenario {
            seed,
            timing,
            fault: TargetFault::None,
            period: ms(rng.random_range(10..50)),
            timeout: bound.mul_f64(0.95),
            duration: Duration::from_secs(300),
        };
        let outcome = run(&scenario);
        if outcome.false_suspicions == 0 {
            return Err(format!("no false suspicion below the bound: {scenario:?}"));
        }
        Ok(())
    });
    report.assert_passed();
}

/// The edge of the claim: with every delay exactly the bound, each round trip takes exactly the
/// timeout, and an inclusive deadline must count every pong as on time. A monitor that used
/// `>=` in `pong_is_late` would suspect the target on the first ping.
#[test]
fn a_pong_arriving_exactly_at_the_deadline_is_on_time() {
    let one_way = ms(10);
    let timing = TimingModel::Synchronous(Bounded {
        min: one_way,
        max: one_way,
    });
    let scenario = Scenario {
        seed: 5,
        timing,
        fault: TargetFault::None,
        period: ms(100),
        timeout: timing.round_trip_bound().expect("synchronous"),
        duration: Duration::from_secs(60),
    };
    let outcome = run(&scenario);
    assert!(outcome.pings > 500, "{outcome:?}");
    assert!(outcome.suspicions.is_empty(), "{outcome:?}");
    assert_eq!(outcome.late_pongs, 0);
}

/// The synchronous promise also needs reliable links. Over a fair-loss link that drops 1% of
/// messages, a timeout at the round-trip bound falsely suspects a correct target: a lost pong
/// looks exactly like a dead one.
#[test]
fn a_lossy_link_makes_false_suspicions_even_in_the_synchronous_model() {
    let timing = TimingModel::Synchronous(BOOK_BOUNDED);
    let timeout = timing.round_trip_bound().expect("synchronous");
    let monitor = Monitor::new(TARGET, ms(100), timeout);
    let nodes = vec![
        PingNode::Monitor(monitor),
        PingNode::Target(Target::new(Conduct::Honest)),
    ];
    let lossy = timing.initial_link().with_loss(0.01);
    let mut sim = Sim::new(6, lossy, nodes);
    sim.run_for(Duration::from_secs(60)).expect("no invariants");
    let Some(PingNode::Monitor(m)) = sim.process(MONITOR) else {
        unreachable!("the monitor never crashes")
    };
    // The target never fails, so every suspicion is false; no pong was late, only lost.
    assert!(m.suspicions.len() > 5, "{} suspicions", m.suspicions.len());
    assert_eq!(m.late_pongs, 0);
}

/// Completeness (Chandra and Toueg 1996): a crashed process is eventually suspected, and stays
/// suspected, whatever the timing model.
#[test]
fn a_crashed_target_is_eventually_suspected_under_every_timing_model() {
    for timing in TimingModel::book_models(Duration::from_secs(10)) {
        for seed in 0..30 {
            let crash = Duration::from_secs(20);
            let scenario = Scenario {
                seed,
                timing,
                fault: TargetFault::CrashStop { at: crash },
                period: ms(100),
                timeout: ms(200),
                duration: Duration::from_secs(40),
            };
            let outcome = run(&scenario);
            let name = timing.name();
            assert!(
                outcome.suspected_at_end,
                "{name}, seed {seed}: not suspected"
            );
            let last = outcome.suspicions.last().expect("at least one suspicion");
            assert!(
                last.at.since(uds::sim::Time::ZERO) >= crash,
                "{name}, seed {seed}"
            );
        }
    }
}

/// Crash-recovery: the target is suspected while down, trusted again after it restarts, and
/// its pongs carry the incarnation it kept on disk, plus one.
#[test]
fn a_recovered_target_is_trusted_again_with_a_new_incarnation() {
    let scenario = Scenario {
        seed: 3,
        timing: TimingModel::Synchronous(BOOK_BOUNDED),
        fault: TargetFault::CrashRecovery {
            at: Duration::from_secs(10),
            down_for: Duration::from_secs(5),
        },
        period: ms(100),
        timeout: ms(20),
        duration: Duration::from_secs(30),
    };
    let outcome = run(&scenario);
    assert_eq!(outcome.suspicions.len(), 1, "{outcome:?}");
    assert_eq!(outcome.false_suspicions, 0);
    assert!(!outcome.suspected_at_end);
    assert_eq!(outcome.incarnation_seen, 1);
}

/// A Byzantine target that forges sequence numbers, answering ping `k` with pong `k + 1`. When
/// pings are sent less often than a round trip takes (here every 100 ms, round trips at most
/// 20 ms), pong `k + 1` always arrives before ping `k + 1` exists: validation rejects every
/// forged pong (all but the last ping's, still in flight when the run ends) and the target,
/// never validly answering, is suspected for good. (A cleverer liar, answering honestly while
/// failing at its real job, would never be caught by pings; see the chapter.)
#[test]
fn a_target_forging_pongs_is_caught_by_validation_when_the_period_exceeds_the_round_trip() {
    let scenario = Scenario {
        seed: 4,
        timing: TimingModel::Synchronous(BOOK_BOUNDED),
        fault: TargetFault::Byzantine,
        period: ms(100),
        timeout: ms(20),
        duration: Duration::from_secs(10),
    };
    let outcome = run(&scenario);
    assert!(outcome.pings > 90, "{outcome:?}");
    assert!(outcome.bogus_pongs + 1 >= outcome.pings, "{outcome:?}");
    assert_eq!(outcome.late_pongs, 0, "no forged pong was accepted late");
    assert!(outcome.suspected_at_end);
    assert_eq!(outcome.suspicions.len(), 1, "never trusted again");
}

/// The same liar with pings every 5 ms: pong `k + 1` usually arrives after ping `k + 1` was sent,
/// so it passes validation as an answer to it, and most forged pongs are accepted. The check
/// above is only as good as the condition it relies on.
#[test]
fn a_forged_pong_passes_validation_when_pings_are_sent_faster_than_a_round_trip() {
    let scenario = Scenario {
        seed: 4,
        timing: TimingModel::Synchronous(BOOK_BOUNDED),
        fault: TargetFault::Byzantine,
        period: ms(5),
        timeout: ms(20),
        duration: Duration::from_secs(10),
    };
    let outcome = run(&scenario);
    assert!(
        outcome.bogus_pongs * 4 < outcome.pings,
        "{} of {} forged pongs rejected",
        outcome.bogus_pongs,
        outcome.pings
    );
}

/// Dwork, Lynch and Stockmeyer 1988: after GST the bound holds, so a timeout at the bound makes
/// no false suspicion for pings sent after GST, though it may make many before.
#[test]
fn partial_synchrony_with_a_bound_timeout_never_falsely_suspects_after_gst() {
    let report = campaign("partial_synchrony_after_gst", 100).run(|seed| {
        let [_, _, timing] = TimingModel::book_models(Duration::from_secs(20));
        let scenario = Scenario {
            seed,
            timing,
            fault: TargetFault::None,
            period: ms(50),
            timeout: BOOK_BOUNDED.max * 2,
            duration: Duration::from_secs(40),
        };
        let outcome = run(&scenario);
        if outcome.false_after_gst > 0 {
            return Err(format!("{} after GST", outcome.false_after_gst));
        }
        Ok(())
    });
    report.assert_passed();
}

/// Determinism: the experiment's runs, repeated with the same seed, give the same outcomes and
/// trace hashes; another seed gives other hashes.
#[test]
fn experiment_runs_with_the_same_seed_have_the_same_trace_hash() {
    let models = TimingModel::book_models(Duration::from_secs(60));
    let timeouts = [ms(10), ms(20), ms(200)];
    let runs = |seed| sweep(seed, &models, &timeouts, ms(100), Duration::from_secs(120));
    let first = runs(1);
    assert_eq!(first, runs(1));
    let other = runs(2);
    for (a, b) in first.iter().zip(&other) {
        assert_ne!(a.outcome.trace_hash, b.outcome.trace_hash);
    }
}
