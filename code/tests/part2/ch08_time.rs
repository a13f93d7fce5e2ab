//! Chapter 8's claims: each logical clock against the ground truth of recorded runs, the HLC's
//! skew bound, and the NTP error bound, over many seeds.

use std::time::Duration;

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use uds::coordination::time::happened_before::Recording;
use uds::coordination::time::ntp::{OffsetRun, measure};
use uds::coordination::time::stamped::{ClockNode, run_recorded};
use uds::sim::{Campaign, Clock, Latency, LinkConfig, NodeId, Sim, SimRng};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn campaign(name: &str, seeds: u64) -> Campaign {
    Campaign::for_test(module_path!(), name, seeds)
}

/// The shape of one random run of clock-stamping processes.
#[derive(Clone, Copy, Debug)]
struct RunShape {
    seed: u64,
    nodes: usize,
    wakeups: u64,
    send_probability: f64,
    loss: f64,
    duplicate: f64,
    reorder: f64,
}

/// Runs `shape` with random clock offsets (0 to 100 ms) and drifts (-200 to +200 ppm), and
/// returns the recording and the run's trace hash.
fn record(shape: RunShape) -> (Recording, u64) {
    let processes = (0..shape.nodes)
        .map(|_| ClockNode::new(shape.nodes, ms(5), shape.send_probability, shape.wakeups))
        .collect();
    let link = LinkConfig::constant(ms(1))
        .with_latency(Latency::Uniform {
            min: ms(1),
            max: ms(20),
        })
        .with_loss(shape.loss)
        .with_duplicate(shape.duplicate)
        .with_reorder(shape.reorder, ms(30));
    let mut sim = Sim::new(shape.seed, link, processes);
    let mut rng = SimRng::seed_from_u64(shape.seed ^ 0xC10C);
    for i in 0..shape.nodes {
        let clock = Clock {
            offset_ns: rng.random_range(0..100_000_000) as i64,
            drift_ppm: rng.random_range(0..401) as i64 - 200,
        };
        sim.set_clock(NodeId(i), clock);
    }
    let recording = run_recorded(&mut sim);
    (recording, sim.trace_hash())
}

/// A run shape drawn from a seed: 2 to 6 nodes, some loss, duplication and reordering.
fn shape_from_seed(seed: u64) -> RunShape {
    let mut rng = SimRng::seed_from_u64(seed);
    RunShape {
        seed,
        nodes: rng.random_range(2..7),
        wakeups: rng.random_range(5..25),
        send_probability: 0.3 + 0.6 * rng.random::<f64>(),
        loss: 0.1 * rng.random::<f64>(),
        duplicate: 0.1 * rng.random::<f64>(),
        reorder: 0.3 * rng.random::<f64>(),
    }
}

/// Lamport 1978, §3, the Clock Condition: `a -> b` implies `C(a) < C(b)`.
#[test]
fn lamport_clocks_respect_happened_before() {
    let report = campaign("lamport_respects_happened_before", 1_000).run(|seed| {
        let (r, _) = record(shape_from_seed(seed));
        let n = r.events.len();
        for a in 0..n {
            for b in 0..n {
                let (la, lb) = (r.events[a].stamps.lamport, r.events[b].stamps.lamport);
                if r.happened_before(a, b) && la >= lb {
                    return Err(format!("event {a} -> {b} but Lamport {la} >= {lb}"));
                }
            }
        }
        Ok(())
    });
    report.assert_passed();
}

/// The converse of the Clock Condition fails: some concurrent pair has ordered Lamport
/// timestamps (which is why vector clocks exist).
#[test]
fn lamport_order_does_not_imply_happened_before() {
    let (r, _) = record(shape_from_seed(3));
    let n = r.events.len();
    let misleading = (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .any(|(a, b)| {
            r.concurrent(a, b) && r.events[a].stamps.lamport < r.events[b].stamps.lamport
        });
    assert!(misleading, "expected a concurrent pair with L(a) < L(b)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Mattern 1989 (vector time): for distinct events, `a -> b` if and only if `V(a) < V(b)`; hence
    /// `a || b` iff the vectors are incomparable. Checked for every pair of events of random
    /// runs with loss, duplication and reordering, against reachability in the recorded run.
    #[test]
    fn vector_clocks_characterise_happened_before_exactly(
        seed in any::<u64>(),
        nodes in 2usize..7,
        wakeups in 1u64..25,
        send_probability in 0.0f64..1.0,
        loss in 0.0f64..0.3,
        duplicate in 0.0f64..0.3,
        reorder in 0.0f64..0.5,
    ) {
        let shape = RunShape { seed, nodes, wakeups, send_probability, loss, duplicate, reorder };
        let (r, _) = record(shape);
        let n = r.events.len();
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let (va, vb) = (&r.events[a].stamps.vector, &r.events[b].stamps.vector);
                prop_assert_eq!(
                    r.happened_before(a, b),
                    va.happened_before(vb),
                    "events {} {} and {} {}: {:?}", a, va, b, vb, shape
                );
            }
        }
    }
}

/// Kulkarni et al. 2014, Theorem 1: `a -> b` implies `hlc(a) < hlc(b)`; Theorem 2 and its
/// corollary `|l - pt| <= epsilon`: `pt <= l <= pt + (how far the fastest clock is ahead of
/// this one)` at every event.
#[test]
fn hlc_respects_happened_before_and_stays_within_the_skew_bound() {
    let report = campaign("hlc_skew_bound", 1_000).run(|seed| {
        let (r, _) = record(shape_from_seed(seed));
        let n = r.events.len();
        for (e, event) in r.events.iter().enumerate() {
            let (l, pt) = (event.stamps.hlc.l, event.stamps.pt);
            let skew = event.max_pt - pt;
            if l < pt || l - pt > skew {
                return Err(format!(
                    "event {e}: l = {l}, pt = {pt}, skew bound {skew} ns: l - pt out of [0, skew]"
                ));
            }
            // Offsets are at most 100 ms plus drift: the bound itself is bounded.
            if skew > 101_000_000 {
                return Err(format!(
                    "event {e}: skew {skew} ns exceeds the clocks' spread"
                ));
            }
        }
        for a in 0..n {
            for b in 0..n {
                let (ha, hb) = (r.events[a].stamps.hlc, r.events[b].stamps.hlc);
                if r.happened_before(a, b) && ha >= hb {
                    return Err(format!("event {a} -> {b} but HLC {ha} >= {hb}"));
                }
            }
        }
        Ok(())
    });
    report.assert_passed();
}

/// RFC 5905 §8 and Cristian 1989: whatever the split of the round trip between the two
/// directions, the offset estimate is within `delay / 2` of the true offset, and within
/// `delay / 2 - min` when no message takes less than `min` (up to the client clock's drift over
/// `min`). Random asymmetric links (0 to 50 ms each way, with jitter), clock offsets up to
/// +-1 s, drifts up to 500 ppm.
#[test]
fn ntp_offset_estimate_is_within_half_the_delay_of_the_truth() {
    let report = campaign("ntp_error_bound", 1_000).run(|seed| {
        let mut rng = SimRng::seed_from_u64(seed);
        let link = |rng: &mut SimRng| {
            let min = Duration::from_micros(rng.random_range(0..50_000));
            let mean = Duration::from_micros(rng.random_range(1..5_000));
            LinkConfig::constant(min).with_latency(Latency::Exponential { min, mean })
        };
        let clock = |rng: &mut SimRng| Clock {
            offset_ns: 1_000_000_000 + rng.random_range(0..1_000_000_000) as i64 - 500_000_000,
            drift_ppm: rng.random_range(0..1_001) as i64 - 500,
        };
        let run = OffsetRun {
            seed,
            out: link(&mut rng),
            back: link(&mut rng),
            client_clock: clock(&mut rng),
            server_clock: clock(&mut rng),
            period: ms(rng.random_range(10..1_000)),
            polls: 50,
        };
        let outcome = measure(&run);
        if outcome.measured.len() != 50 || outcome.bogus != 0 {
            return Err(format!(
                "{} samples, {} bogus",
                outcome.measured.len(),
                outcome.bogus
            ));
        }
        for m in &outcome.measured {
            // One nanosecond of slack for the integer halving of offset and bound.
            if m.error_ns().abs() > m.sample.error_bound_ns() + 1 {
                return Err(format!(
                    "error {} ns exceeds the bound {} ns: {m:?}",
                    m.error_ns(),
                    m.sample.error_bound_ns()
                ));
            }
            // Cristian's bound; a slow client clock under-measures the delay by drift × min.
            let min = run.min_one_way_ns();
            let slack = min * run.client_clock.drift_ppm.abs() / 1_000_000 + 2;
            if m.error_ns().abs() > m.sample.error_bound_given_min_ns(min) + slack {
                return Err(format!(
                    "error {} ns exceeds Cristian's bound {} ns (min {min} ns): {m:?}",
                    m.error_ns(),
                    m.sample.error_bound_given_min_ns(min)
                ));
            }
        }
        Ok(())
    });
    report.assert_passed();
}

/// With a symmetric constant link the estimate is exact, and the error grows as the link
/// becomes asymmetric: it is `(out - back) / 2`.
#[test]
fn ntp_error_is_half_the_asymmetry() {
    for (out_ms, back_ms) in [(10, 10), (15, 5), (2, 18)] {
        let run = OffsetRun {
            seed: 1,
            out: LinkConfig::constant(ms(out_ms)),
            back: LinkConfig::constant(ms(back_ms)),
            client_clock: Clock {
                offset_ns: 5_000_000,
                drift_ppm: 0,
            },
            server_clock: Clock {
                offset_ns: 42_000_000,
                drift_ppm: 0,
            },
            period: ms(100),
            polls: 5,
        };
        let expected = (out_ms as i64 - back_ms as i64) * 1_000_000 / 2;
        for m in measure(&run).measured {
            assert_eq!(m.error_ns(), expected, "{out_ms} ms out, {back_ms} ms back");
            assert_eq!(m.true_offset_ns, 37_000_000);
        }
    }
}

/// Determinism: the same seed gives the same run, bit for bit; another seed does not.
#[test]
fn recorded_runs_with_the_same_seed_have_the_same_trace_hash() {
    let shape = shape_from_seed(11);
    let (a, hash_a) = record(shape);
    let (b, hash_b) = record(shape);
    assert_eq!(hash_a, hash_b);
    assert_eq!(a.events, b.events);
    let (_, other) = record(RunShape { seed: 12, ..shape });
    assert_ne!(hash_a, other);
}

/// The checks above are not vacuous: the random runs have messages crossing between
/// processes, causal chains across them, and concurrent events.
#[test]
fn recorded_runs_contain_causal_chains_and_concurrency_across_processes() {
    let (mut across, mut concurrent) = (0, 0);
    for seed in 0..20 {
        let (r, _) = record(shape_from_seed(seed));
        let n = r.events.len();
        for a in 0..n {
            for b in 0..n {
                if r.events[a].node != r.events[b].node {
                    across += usize::from(r.happened_before(a, b));
                    concurrent += usize::from(r.concurrent(a, b));
                }
            }
        }
    }
    assert!(
        across > 1_000,
        "only {across} cross-process happened-before pairs"
    );
    assert!(concurrent > 1_000, "only {concurrent} concurrent pairs");
}
