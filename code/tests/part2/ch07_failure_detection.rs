//! Chapter 7's claims: what the φ threshold means, completeness of both detectors, and the
//! reproducibility of the experiment's traces.

use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use uds::coordination::failure_detection::detector::{
    AnyDetector, Detector, FixedTimeout, PhiAccrual, PhiConfig,
};
use uds::coordination::failure_detection::evaluation::{
    book_traces, record_trace, record_trace_watching, replay,
};
use uds::coordination::failure_detection::gossip::{GossipConfig, GossipMember};
use uds::coordination::failure_detection::heartbeat::{HeartbeatNode, HeartbeatSender, Monitor};
use uds::sim::{
    Campaign, Fault, Latency, LinkConfig, NodeId, NodeState, Sim, SimRng, StandardNormal, Time,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Hayashibara et al. 2004: with threshold Φ, the detector accepts a false-suspicion
/// probability of 10^-Φ per heartbeat when inter-arrival times are normal.
///
/// How it is measured: 2,000,000 inter-arrival times drawn from N(100 ms, 10 ms) with a fixed
/// seed (after 1,000 to fill the window). Before each one is recorded, we ask whether φ would
/// exceed Φ before that heartbeat arrives, i.e. whether φ(interval) > Φ, since φ only rises
/// while the monitor waits. The count over all intervals, divided by 2,000,000, is the rate.
///
/// Tolerance: the count is binomial, so its standard deviation is about √count. We accept
/// ±15% for Φ = 1, 2, 3 (at Φ = 3, 2,000 expected events: 15% is over six standard
/// deviations) and ±40% for Φ = 4 (200 events: 40% is over five). The σ floor is set far below
/// the true 10 ms so that it does not bias the result. The seed is fixed: the test cannot flake.
#[test]
fn phi_threshold_gives_a_false_suspicion_rate_near_ten_to_the_minus_phi_on_normal_arrivals() {
    let samples = 2_000_000;
    for (threshold, tolerance) in [(1.0, 0.15), (2.0, 0.15), (3.0, 0.15), (4.0, 0.40)] {
        let config = PhiConfig {
            min_stddev: Duration::from_micros(1),
            ..PhiConfig::new(threshold, ms(100))
        };
        let mut detector = PhiAccrual::new(&config).expect("valid settings");
        let mut rng = SimRng::seed_from_u64(7);
        let mut draw =
            || Duration::from_secs_f64((100.0 + 10.0 * rng.sample(StandardNormal)).max(0.0) / 1e3);
        for _ in 0..1_000 {
            detector.record(draw());
        }
        let mut crossings = 0u64;
        for _ in 0..samples {
            let interval = draw();
            let crossed = detector.phi(interval) > threshold;
            // The closed-form deadline must agree with φ itself.
            assert_eq!(
                crossed,
                interval > detector.suspicion_delay(),
                "{interval:?}"
            );
            crossings += u64::from(crossed);
            detector.record(interval);
        }
        let rate = crossings as f64 / samples as f64;
        let expected = 10f64.powf(-threshold);
        eprintln!("threshold {threshold}: {crossings} crossings, rate {rate:.3e} ({expected:.0e})");
        assert!(
            (rate / expected - 1.0).abs() < tolerance,
            "threshold {threshold}: rate {rate:.3e}, expected {expected:.0e} ± {tolerance}"
        );
    }
}

/// One random run of the completeness campaign: 2 to 5 monitors with random detectors, a
/// lossy long-tailed link, the sender crashing at a random time, and maybe one monitor too.
fn completeness_run(seed: u64) -> Result<(), String> {
    let mut rng = SimRng::seed_from_u64(seed);
    let monitors: usize = rng.random_range(2..6);
    let mut nodes = vec![HeartbeatNode::Sender(HeartbeatSender {
        monitors: (1..=monitors).map(NodeId).collect(),
        interval: ms(rng.random_range(20..200)),
        next_seq: 0,
    })];
    for _ in 0..monitors {
        let detector = if rng.random_bool(0.5) {
            AnyDetector::Fixed(FixedTimeout {
                timeout: ms(rng.random_range(50..2_000)),
            })
        } else {
            let config = PhiConfig {
                window: rng.random_range(10..1_000),
                acceptable_pause: ms(rng.random_range(0..200)),
                ..PhiConfig::new(1.0 + 15.0 * rng.random::<f64>(), ms(100))
            };
            AnyDetector::Phi(PhiAccrual::new(&config).map_err(|e| e.to_string())?)
        };
        nodes.push(HeartbeatNode::Monitor(Monitor::new(detector, false)));
    }
    let link = LinkConfig::constant(Duration::ZERO)
        .with_latency(Latency::LogNormal {
            median: ms(rng.random_range(1..50)),
            sigma: 0.3 + 0.7 * rng.random::<f64>(),
        })
        .with_loss(0.1 * rng.random::<f64>())
        .with_duplicate(0.01)
        .with_reorder(0.05, ms(100));
    let mut sim = Sim::new(seed, link, nodes);
    let crash = Time::from_millis(rng.random_range(1_000..60_000));
    sim.schedule_fault(crash, Fault::Crash(NodeId(0)));
    if rng.random_bool(0.3) {
        let victim = NodeId(rng.random_range(1..=monitors));
        sim.schedule_fault(
            Time::from_millis(rng.random_range(0..60_000)),
            Fault::Crash(victim),
        );
    }
    sim.run_until(crash + Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    for id in (1..=monitors).map(NodeId) {
        if sim.state(id) != NodeState::Up {
            continue; // a crashed monitor is not bound by completeness
        }
        let Some(HeartbeatNode::Monitor(m)) = sim.process(id) else {
            unreachable!("monitors are nodes 1..")
        };
        let w = &m.watch;
        if !w.suspected {
            return Err(format!(
                "{id} trusts the sender 30 s after its crash at {crash}; last heartbeat at {}, \
                 suspicion delay {:?}",
                w.last_arrival,
                w.detector.suspicion_delay()
            ));
        }
        // The lasting suspicion began exactly when the deadline after the last heartbeat passed.
        let began = *w.suspicions.last().expect("suspected");
        if began != w.deadline() + Duration::from_nanos(1) {
            return Err(format!(
                "{id}: suspicion at {began}, deadline {}",
                w.deadline()
            ));
        }
    }
    Ok(())
}

/// Strong completeness (Chandra and Toueg 1996): a crashed sender is eventually
/// suspected, permanently, by every monitor that is up, whatever its detector and settings.
#[test]
fn a_crashed_sender_is_eventually_suspected_by_every_correct_monitor() {
    let started = Instant::now();
    let report = Campaign {
        name: "crashed_sender_suspected".to_string(),
        first_seed: 0,
        seeds: 300,
        threads: 0,
        replay: "cargo test -p uds --release --test part2 ch07_failure_detection \
                 a_crashed_sender_is_eventually_suspected (seed {seed})"
            .to_string(),
    }
    .run(completeness_run);
    report.assert_passed();
    eprintln!(
        "completeness campaign: {} seeds in {:?} ({:.0} seeds/s)",
        report.passed,
        started.elapsed(),
        report.seeds_per_sec()
    );
}

/// The experiment's replay is faithful: replaying a recorded trace through a detector gives
/// exactly the suspicions the live simulated monitor with that detector raised.
#[test]
fn replaying_a_trace_gives_the_same_suspicions_as_the_live_monitor() {
    let configs = book_traces(3, 2);
    let detectors = [
        AnyDetector::Fixed(FixedTimeout { timeout: ms(250) }),
        AnyDetector::Phi(PhiAccrual::new(&PhiConfig::new(3.0, ms(100))).expect("valid")),
        AnyDetector::Phi(
            PhiAccrual::new(&PhiConfig {
                acceptable_pause: ms(100),
                ..PhiConfig::new(8.0, ms(100))
            })
            .expect("valid"),
        ),
    ];
    let mut false_suspicions = 0;
    for config in &configs {
        for detector in &detectors {
            let (trace, live) = record_trace_watching(config, detector.clone());
            let replayed = replay(detector.clone(), &trace);
            assert!(!live.suspicions.is_empty());
            assert_eq!(replayed.suspicions, live.suspicions, "{detector:?}");
            false_suspicions += replayed.false_suspicions;
        }
    }
    // The comparison must cover mistakes too, not only the final, correct suspicion.
    assert!(false_suspicions > 0, "no false suspicion to compare");
}

/// Ten minutes of heartbeats every 100 ms over a link with delays between 1 and 20 ms, watched
/// by a fixed timeout; returns the suspicions it raised.
fn suspicions_on_a_bounded_link(timeout: Duration) -> Vec<Time> {
    let link = LinkConfig::constant(ms(5)).with_latency(Latency::Uniform {
        min: ms(1),
        max: ms(20),
    });
    let sender = HeartbeatNode::Sender(HeartbeatSender {
        monitors: vec![NodeId(1)],
        interval: ms(100),
        next_seq: 0,
    });
    let detector = AnyDetector::Fixed(FixedTimeout { timeout });
    let monitor = HeartbeatNode::Monitor(Monitor::new(detector, false));
    let mut sim = Sim::new(5, link, vec![sender, monitor]);
    sim.run_for(Duration::from_secs(600))
        .expect("no invariants");
    let Some(HeartbeatNode::Monitor(m)) = sim.process(NodeId(1)) else {
        unreachable!("node 1 is the monitor")
    };
    m.watch.suspicions.clone()
}

/// A heartbeat sender on a link that is never late is never suspected by a timeout above the
/// interval plus the delay: the synchronous case of chapter 6, for heartbeats.
#[test]
fn a_correct_sender_on_a_bounded_link_is_never_suspected_by_a_timeout_above_the_bound() {
    // The longest gap: one heartbeat 1 ms late, the next 20 ms late: 119 ms; the first 20 ms.
    let above = suspicions_on_a_bounded_link(ms(119));
    assert!(above.is_empty(), "{above:?}");
    // The same run with a timeout below the bound does make mistakes: the monitor is really
    // checking, and the bound is what keeps the 119 ms timeout quiet.
    let below = suspicions_on_a_bounded_link(ms(105));
    assert!(!below.is_empty(), "a 105 ms timeout never fired");
}

/// Determinism: the experiment's traces, recorded twice with the same seed, are identical and
/// have the same trace hash; another seed gives other hashes.
#[test]
fn experiment_traces_with_the_same_seed_have_the_same_trace_hash() {
    let record = |seed| {
        book_traces(seed, 2)
            .iter()
            .map(record_trace)
            .collect::<Vec<_>>()
    };
    let first = record(1);
    assert_eq!(first, record(1));
    for (a, b) in first.iter().zip(&record(2)) {
        assert_ne!(a.trace_hash, b.trace_hash);
    }
}

/// One random run of the gossip campaign: 4 to 16 members on a lossy, long-tailed network;
/// one or two of them crash; the run goes on long enough for suspicion and cleanup.
fn gossip_run(seed: u64) -> Result<(), String> {
    let mut rng = SimRng::seed_from_u64(seed);
    let n: usize = rng.random_range(4..17);
    let group: Vec<NodeId> = (0..n).map(NodeId).collect();
    let config = GossipConfig {
        gossip_interval: ms(100),
        t_fail: ms(3_000),
        t_cleanup: ms(6_000),
    };
    let members = (0..n)
        .map(|_| GossipMember::new(group.clone(), config))
        .collect();
    let link = LinkConfig::constant(Duration::ZERO)
        .with_latency(Latency::LogNormal {
            median: ms(rng.random_range(1..30)),
            sigma: 0.5,
        })
        .with_loss(0.05 * rng.random::<f64>());
    let mut sim = Sim::new(seed, link, members);
    let mut crashed = Vec::new();
    for _ in 0..rng.random_range(1..3) {
        let victim = NodeId(rng.random_range(0..n));
        if !crashed.contains(&victim) {
            crashed.push(victim);
            sim.schedule_fault(
                Time::from_millis(rng.random_range(5_000..20_000)),
                Fault::Crash(victim),
            );
        }
    }
    sim.run_until(Time::from_millis(40_000))
        .map_err(|e| e.to_string())?;
    let now = sim.now();
    for &m in &group {
        let Some(member) = sim.process(m) else {
            continue; // crashed: not bound by completeness
        };
        for &other in &group {
            let dead = crashed.contains(&other);
            if dead && !member.suspects(other, now) {
                return Err(format!("{m} still trusts {other}, which crashed"));
            }
            if dead && member.table.contains_key(&other) {
                return Err(format!("{m} never dropped {other}: cleanup failed"));
            }
            // With t_fail at 30 rounds, a live member is never suspected in these runs.
            if !dead && member.suspects(other, now) {
                return Err(format!("{m} suspects {other}, which is up"));
            }
        }
    }
    Ok(())
}

/// Van Renesse, Minsky and Hayden 1998: with gossip, every correct member eventually
/// suspects, then drops, a crashed member, and (with a generous `t_fail`) suspects no live one.
#[test]
fn gossip_membership_suspects_and_drops_crashed_members_at_every_correct_member() {
    let report = Campaign {
        name: "gossip_membership".to_string(),
        first_seed: 0,
        seeds: 100,
        threads: 0,
        replay: "cargo test -p uds --release --test part2 ch07_failure_detection \
                 gossip_membership (seed {seed})"
            .to_string(),
    }
    .run(gossip_run);
    report.assert_passed();
}
