//! One run of the ping protocol under a timing model and a target fault, judged afterwards.
//!
//! The monitor cannot tell a slow target from a dead one; the simulator can. A [`Scenario`]
//! fixes everything about a run (seed, timing model, what happens to the target, the monitor's
//! period and timeout, how long to run), and [`run`] returns an [`Outcome`] in which each of
//! the monitor's suspicions is judged against the truth: a suspicion is *false* when the
//! target was correct during the whole window of the ping that triggered it, from sending to
//! deadline. The chapter's experiment and tests are built from this one function.

use std::time::Duration;

use super::ping::{MONITOR, Monitor, PingNode, Suspicion, TARGET};
use super::process_models::TargetFault;
use super::timing::{TimingModel, run_until};
use crate::sim::{Sim, Time};

// ANCHOR: scenario
/// Everything that determines one run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// How long messages take.
    pub timing: TimingModel,
    /// What happens to the target.
    pub fault: TargetFault,
    /// Time between the monitor's pings.
    pub period: Duration,
    /// How long the monitor waits for a pong.
    pub timeout: Duration,
    /// How long the run lasts, in virtual time.
    pub duration: Duration,
}
// ANCHOR_END: scenario

/// What a run did, with each suspicion judged.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Every suspicion the monitor raised, in order.
    pub suspicions: Vec<Suspicion>,
    /// How many of them were false: the target was correct around the ping that triggered it.
    pub false_suspicions: usize,
    /// How many false suspicions were triggered by pings sent after the model's GST.
    pub false_after_gst: usize,
    /// Whether the monitor suspected the target when the run ended.
    pub suspected_at_end: bool,
    /// Pings sent.
    pub pings: u64,
    /// Pongs that arrived after their deadline.
    pub late_pongs: u64,
    /// Pongs for pings never sent.
    pub bogus_pongs: u64,
    /// The highest target incarnation the monitor saw.
    pub incarnation_seen: u64,
    /// The run's fingerprint: same scenario, same hash.
    pub trace_hash: u64,
}

// ANCHOR: run
/// Runs `s` and judges every suspicion the monitor raised.
pub fn run(s: &Scenario) -> Outcome {
    let nodes = vec![
        PingNode::Monitor(Monitor::new(TARGET, s.period, s.timeout)),
        PingNode::Target(s.fault.target()),
    ];
    let mut sim = Sim::new(s.seed, s.timing.initial_link(), nodes);
    s.fault.schedule(&mut sim);
    let end = Time::ZERO + s.duration;
    run_until(&s.timing, &mut sim, end).expect("this scenario checks no invariants");
    let Some(PingNode::Monitor(m)) = sim.process(MONITOR) else {
        unreachable!("the monitor never crashes")
    };
    let gst = s.timing.stabilisation().map(|(gst, _)| gst);
    let is_false = |x: &&Suspicion| {
        let deadline = x.ping_sent_at + s.timeout;
        !s.fault.faulty_during(x.ping_sent_at, deadline)
    };
    let false_ones: Vec<&Suspicion> = m.suspicions.iter().filter(is_false).collect();
    let after_gst = false_ones
        .iter()
        .filter(|x| gst.is_some_and(|g| x.ping_sent_at >= g))
        .count();
    Outcome {
        suspicions: m.suspicions.clone(),
        false_suspicions: false_ones.len(),
        false_after_gst: after_gst,
        suspected_at_end: m.suspected,
        pings: m.next_seq,
        late_pongs: m.late_pongs,
        bogus_pongs: m.bogus_pongs,
        incarnation_seen: m.incarnation_seen,
        trace_hash: sim.trace_hash(),
    }
}
// ANCHOR_END: run

// ANCHOR: sweep
/// One row of the chapter's experiment: a timing model, a timeout, and what came of it.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    pub model: &'static str,
    pub timeout: Duration,
    pub outcome: Outcome,
}

/// The chapter's experiment: the same protocol, seed, period and duration under each timing
/// model, for each timeout, with a correct target. Returns one row per (model, timeout).
pub fn sweep(
    seed: u64,
    models: &[TimingModel],
    timeouts: &[Duration],
    period: Duration,
    duration: Duration,
) -> Vec<SweepRow> {
    let mut rows = Vec::new();
    for timing in models {
        for &timeout in timeouts {
            let scenario = Scenario {
                seed,
                timing: *timing,
                fault: TargetFault::None,
                period,
                timeout,
                duration,
            };
            rows.push(SweepRow {
                model: timing.name(),
                timeout,
                outcome: run(&scenario),
            });
        }
    }
    rows
}
// ANCHOR_END: sweep
