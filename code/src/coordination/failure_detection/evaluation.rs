//! Judging detectors on recorded heartbeat traces: the chapter's experiment, as library code.
//!
//! To compare two detectors fairly they must see the *same* heartbeats. So we record a trace
//! once, on the simulator ([`record_trace`]): a sender heartbeats to one recording monitor over
//! a jittery, long-tailed, lossy link whose conditions change between calm and congested
//! periods, and crashes at a chosen instant. Then we replay the recorded arrivals through any
//! number of detectors ([`replay`]), using the same [`Watch`] the simulated monitor runs, and
//! judge each suspicion with what the simulator knows and a monitor cannot: when the sender
//! really crashed.
//!
//! The two measures are those of Chen, Toueg and Aguilera ("On the quality of service of
//! failure detectors", IEEE Trans. Computers 51(5), 2002):
//!
//! - **detection time**: from the crash to the start of the suspicion that lasts (zero if the
//!   sender was, by bad luck, already suspected when it crashed);
//! - **mistake rate**: false suspicions (suspicion began while the sender was up) per hour of
//!   the sender being up.
//!
//! Replaying is exact: the simulated monitor's timer fires one nanosecond past its deadline, and
//! the replay checks at that same instant, so both produce the same suspicions (a test checks).

use std::time::Duration;

use super::detector::{AnyDetector, Detector, FixedTimeout};
use super::heartbeat::{HeartbeatNode, HeartbeatSender, Monitor, Watch};
use crate::sim::{Fault, Latency, LinkConfig, NodeId, Sim, Time, rng_stream};
use rand::{Rng, RngExt};

/// The sender is node 0 in every run of this module.
pub const SENDER: NodeId = NodeId(0);
/// The recording monitor is node 1.
pub const RECORDER: NodeId = NodeId(1);

// ANCHOR: trace_config
/// Everything that determines one recorded trace.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceConfig {
    /// The seed every random choice derives from.
    pub seed: u64,
    /// Time between heartbeats.
    pub interval: Duration,
    /// The link most of the time.
    pub calm: LinkConfig,
    /// The link during congestion.
    pub congested: LinkConfig,
    /// How long each calm period lasts.
    pub calm_for: Duration,
    /// How long each congested period lasts.
    pub congested_for: Duration,
    /// When the sender crashes.
    pub crash_at: Time,
    /// How long the run goes on after the crash.
    pub after_crash: Duration,
}
// ANCHOR_END: trace_config

/// What the recording monitor saw.
#[derive(Clone, Debug, PartialEq)]
pub struct HeartbeatTrace {
    /// Every heartbeat arrival, `(seq, time)`, in arrival order.
    pub arrivals: Vec<(u64, Time)>,
    /// When the sender crashed.
    pub crash_at: Time,
    /// When the run ended.
    pub end: Time,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

/// Runs the sender and a recording monitor, switching the link between calm and congested.
pub fn record_trace(config: &TraceConfig) -> HeartbeatTrace {
    // The recorder's own detector plays no part in the trace; any will do.
    let any = AnyDetector::Fixed(FixedTimeout {
        timeout: Duration::from_secs(1),
    });
    record_trace_watching(config, any).0
}

/// Like [`record_trace`], with the recording monitor watching through `detector`; also returns
/// that monitor's watch, so tests can compare the live monitor with a replay.
pub fn record_trace_watching(
    config: &TraceConfig,
    detector: AnyDetector,
) -> (HeartbeatTrace, Watch<AnyDetector>) {
    let sender = HeartbeatSender {
        monitors: vec![RECORDER],
        interval: config.interval,
        next_seq: 0,
    };
    let nodes = vec![
        HeartbeatNode::Sender(sender),
        HeartbeatNode::Monitor(Monitor::new(detector, true)),
    ];
    let mut sim = Sim::new(config.seed, config.calm.clone(), nodes);
    sim.schedule_fault(config.crash_at, Fault::Crash(SENDER));
    let end = config.crash_at + config.after_crash;
    let mut congested = false;
    while sim.now() < end {
        let period = if congested {
            config.congested_for
        } else {
            config.calm_for
        };
        sim.run_until((sim.now() + period).min(end))
            .expect("no invariants are registered");
        congested = !congested;
        let link = if congested {
            &config.congested
        } else {
            &config.calm
        };
        sim.set_link(SENDER, RECORDER, link.clone());
    }
    let Some(HeartbeatNode::Monitor(m)) = sim.process(RECORDER) else {
        unreachable!("the recorder never crashes")
    };
    let trace = HeartbeatTrace {
        arrivals: m.arrivals.clone().expect("recording is on"),
        crash_at: config.crash_at,
        end,
        trace_hash: sim.trace_hash(),
    };
    (trace, m.watch.clone())
}

// ANCHOR: judged
/// One detector's behaviour on one trace, judged against the truth.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    /// When each suspicion began.
    pub suspicions: Vec<Time>,
    /// Suspicions that began while the sender was up.
    pub false_suspicions: usize,
    /// From the crash to the lasting suspicion; `None` if not suspected at the end.
    pub detection: Option<Duration>,
}
// ANCHOR_END: judged

// ANCHOR: replay
/// Replays `trace` through a watch using `detector`, exactly as a simulated monitor would.
pub fn replay<D: Detector>(detector: D, trace: &HeartbeatTrace) -> Judged {
    let mut watch = Watch::new(detector, Time::ZERO);
    let tick = Duration::from_nanos(1);
    for &(seq, at) in &trace.arrivals {
        // The monitor's timer fires just past the deadline, if that comes before this arrival.
        let fire_at = watch.deadline() + tick;
        if fire_at <= at {
            watch.check(fire_at);
        }
        watch.on_heartbeat(seq, at);
    }
    let fire_at = watch.deadline() + tick;
    if fire_at <= trace.end {
        watch.check(fire_at);
    }
    let false_suspicions = watch
        .suspicions
        .iter()
        .filter(|&&s| s < trace.crash_at)
        .count();
    let detection = watch.suspected.then(|| {
        watch
            .suspicions
            .last()
            .expect("suspected")
            .since(trace.crash_at)
    });
    Judged {
        suspicions: watch.suspicions,
        false_suspicions,
        detection,
    }
}
// ANCHOR_END: replay

// ANCHOR: book_traces
/// The chapter's heartbeat traces: a heartbeat every 100 ms over a lossy link with log-normal
/// one-way delay, congested one minute in five. The links differ between traces, as the links
/// of a real cluster do (same rack, other zone, other continent): trace `i` draws its calm
/// median delay log-uniformly between 2 and 50 ms (σ 0.5, 1% loss); congestion triples the
/// median and widens the tail (σ 0.8, 5% loss). Trace `i` crashes at a random instant between
/// 10 and 20 minutes and runs one more minute. Everything derives from `seed`.
pub fn book_traces(seed: u64, count: usize) -> Vec<TraceConfig> {
    let link = |median_ms: f64, sigma: f64, loss: f64| {
        LinkConfig::constant(Duration::ZERO)
            .with_latency(Latency::LogNormal {
                median: Duration::from_secs_f64(median_ms / 1e3),
                sigma,
            })
            .with_loss(loss)
    };
    (0..count as u64)
        .map(|i| {
            let mut rng = rng_stream(seed, 1_000 + i);
            let median_ms = 2.0 * 25f64.powf(rng.random::<f64>());
            let crash_ms = rng.random_range(10 * 60_000..20 * 60_000);
            TraceConfig {
                seed: rng_stream(seed, i).next_u64(),
                interval: Duration::from_millis(100),
                calm: link(median_ms, 0.5, 0.01),
                congested: link(3.0 * median_ms, 0.8, 0.05),
                calm_for: Duration::from_secs(4 * 60),
                congested_for: Duration::from_secs(60),
                crash_at: Time::from_millis(crash_ms),
                after_crash: Duration::from_secs(60),
            }
        })
        .collect()
}
// ANCHOR_END: book_traces

// ANCHOR: summary
/// One detector setting over many traces.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// False suspicions over all traces.
    pub false_suspicions: usize,
    /// Hours the sender was up, over all traces.
    pub alive_hours: f64,
    /// Mean detection time over all traces.
    pub mean_detection: Duration,
    /// Longest detection time.
    pub max_detection: Duration,
    /// Traces whose crash was not detected by the end of the run.
    pub undetected: usize,
}

impl Summary {
    /// False suspicions per hour of the sender being up.
    pub fn false_per_hour(&self) -> f64 {
        self.false_suspicions as f64 / self.alive_hours
    }
}

/// Replays every trace through a fresh detector from `make` and sums up.
pub fn evaluate<D: Detector>(make: impl Fn() -> D, traces: &[HeartbeatTrace]) -> Summary {
    let mut summary = Summary {
        false_suspicions: 0,
        alive_hours: 0.0,
        mean_detection: Duration::ZERO,
        max_detection: Duration::ZERO,
        undetected: 0,
    };
    let mut total = Duration::ZERO;
    let mut detected = 0u32;
    for trace in traces {
        let judged = replay(make(), trace);
        summary.false_suspicions += judged.false_suspicions;
        summary.alive_hours += trace.crash_at.as_secs_f64() / 3600.0;
        match judged.detection {
            Some(d) => {
                total += d;
                detected += 1;
                summary.max_detection = summary.max_detection.max(d);
            }
            None => summary.undetected += 1,
        }
    }
    if detected > 0 {
        summary.mean_detection = total / detected;
    }
    summary
}
// ANCHOR_END: summary

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn trace(arrivals: &[(u64, u64)], crash_ms: u64, end_ms: u64) -> HeartbeatTrace {
        HeartbeatTrace {
            arrivals: arrivals
                .iter()
                .map(|&(s, t)| (s, Time::from_millis(t)))
                .collect(),
            crash_at: Time::from_millis(crash_ms),
            end: Time::from_millis(end_ms),
            trace_hash: 0,
        }
    }

    #[test]
    fn replay_judges_false_suspicions_and_detection_time() {
        // Heartbeats every 100 ms; heartbeat 3 is 90 ms late; the sender crashes at 650 ms.
        let t = trace(
            &[
                (0, 10),
                (1, 110),
                (2, 210),
                (3, 400),
                (4, 410),
                (5, 510),
                (6, 610),
            ],
            650,
            2_000,
        );
        let judged = replay(FixedTimeout { timeout: ms(150) }, &t);
        // 210 + 150 = 360 < 400: one false suspicion; then 610 + 150 = 760: detected 110 ms late.
        assert_eq!(judged.false_suspicions, 1);
        assert_eq!(judged.suspicions.len(), 2);
        let detection = judged.detection.expect("suspected at the end");
        assert_eq!(detection, ms(110) + Duration::from_nanos(1));
        // A longer timeout makes no mistake and detects later.
        let judged = replay(FixedTimeout { timeout: ms(200) }, &t);
        assert_eq!(judged.false_suspicions, 0);
        assert_eq!(judged.detection, Some(ms(160) + Duration::from_nanos(1)));
    }
}
