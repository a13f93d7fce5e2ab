//! Estimating a clock's offset from a server's over a network whose delays are unknown.
//!
//! Cristian ("Probabilistic clock synchronization", Distributed Computing 3(3), 1989) asks a
//! time server for its clock and assumes the answer was read halfway through the round trip:
//! `offset = server - (request + response) / 2`. If every message takes at least `min`, the
//! server read its clock no earlier than `min` after the request left and no later than `min`
//! before the answer arrived, so the midpoint is wrong by at most `rtt / 2 - min`, plus what
//! the clocks drift apart during the exchange ([`Sample::error_bound_given_min_ns`]). NTP
//! (RFC 5905, §8) generalises this with four timestamps, so that the server's own processing
//! time does not count as network delay:
//!
//! - `t1`: the client's clock when the request leaves (*origin*),
//! - `t2`: the server's clock when the request arrives (*receive*),
//! - `t3`: the server's clock when the response leaves (*transmit*),
//! - `t4`: the client's clock when the response arrives (*destination*).
//!
//! Then `offset = ((t2 - t1) + (t3 - t4)) / 2` and `delay = (t4 - t1) - (t3 - t2)`. If the
//! request took `d_out` and the response `d_back`, the estimate is wrong by exactly
//! `(d_out - d_back) / 2`: the method silently assumes a symmetric path. Since both delays are
//! non-negative and sum to `delay`, the error is at most `delay / 2` whatever the asymmetry,
//! which gives a bound the client can compute knowing nothing of the path
//! ([`Sample::error_bound_ns`]): Cristian's bound with `min = 0`. Strictly, the
//! bound holds for the offset at the instant the server read its clock; with drifting clocks
//! the offset moves by the drift difference times the round trip during an exchange, a few
//! microseconds here (our server answers in the same instant it receives, so `t2 == t3`).
//!
//! [`NtpClient`] polls [`NtpServer`] periodically and keeps every sample; [`best_sample`] is
//! the core of NTP's clock filter (RFC 5905 §10): of the recent samples, trust the one with the
//! smallest delay, because its error bound is the smallest. [`measure`] runs an exchange on the
//! simulator with drifting, offset clocks and asymmetric links, and pairs each sample with the
//! true offset, which only the simulator knows.
//!
//! Simplifications: no stratum, no poll-interval adaptation, no clock discipline (the client
//! estimates but never corrects its clock), no authentication.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::sim::{Clock, Ctx, Latency, LinkConfig, NodeId, Process, Sim, Time, TimerId};

// ANCHOR: sample
/// The four timestamps of one exchange, in nanoseconds of the clock that took each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Client clock, request sent.
    pub t1: i64,
    /// Server clock, request received.
    pub t2: i64,
    /// Server clock, response sent.
    pub t3: i64,
    /// Client clock, response received.
    pub t4: i64,
}

impl Sample {
    /// How far the server's clock is ahead of the client's (RFC 5905 §8).
    pub fn offset_ns(&self) -> i64 {
        ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2
    }

    /// The round trip, minus the server's processing time (RFC 5905 §8).
    pub fn delay_ns(&self) -> i64 {
        (self.t4 - self.t1) - (self.t3 - self.t2)
    }

    /// The most the offset can be wrong by, whatever the split of the delay: `delay / 2`.
    pub fn error_bound_ns(&self) -> i64 {
        self.delay_ns() / 2
    }

    /// Cristian's bound when no message takes less than `min_one_way_ns`: `delay / 2 - min`.
    /// It ignores the drift of the client's clock over the exchange, which can add up to
    /// `drift × min` when that clock runs slow.
    pub fn error_bound_given_min_ns(&self, min_one_way_ns: i64) -> i64 {
        self.error_bound_ns() - min_one_way_ns
    }
}
// ANCHOR_END: sample

/// The sample with the smallest delay among the last `window` (NTP's clock filter, RFC 5905
/// §10, without its jitter estimate). `None` if there are no samples or `window` is zero.
pub fn best_sample(samples: &[Sample], window: usize) -> Option<Sample> {
    let recent = &samples[samples.len().saturating_sub(window)..];
    recent.iter().copied().min_by_key(Sample::delay_ns)
}

/// The client's poll timer.
const POLL: TimerId = TimerId(0);

/// The two messages of the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NtpMsg {
    /// "What time is it?", numbered by the client, with its clock reading `t1`.
    Request { seq: u64, t1: i64 },
    /// The answer to request `seq`: the echoed `t1`, and the server's `t2` and `t3`.
    Response { seq: u64, t1: i64, t2: i64, t3: i64 },
}

/// A clock reading as signed nanoseconds (readings fit: they are at most 292 years).
fn ns(t: Time) -> i64 {
    i64::try_from(t.0).expect("clock reading beyond 292 years")
}

// ANCHOR: server
/// Answers every request at once with its clock readings.
#[derive(Clone, Debug, Default)]
pub struct NtpServer {
    /// Requests answered.
    pub served: u64,
    /// The number of the request answered last.
    pub last_served: Option<u64>,
}

impl NtpServer {
    fn on_request(&mut self, ctx: &mut Ctx<'_, NtpMsg>, from: NodeId, seq: u64, t1: i64) {
        let t2 = ns(ctx.now());
        // A real server reads its clock again just before sending; ours answers in no time.
        let t3 = ns(ctx.now());
        ctx.send(from, NtpMsg::Response { seq, t1, t2, t3 });
        self.served += 1;
        self.last_served = Some(seq);
    }
}
// ANCHOR_END: server

// ANCHOR: client
/// Polls a server every `period` and keeps each completed exchange as a [`Sample`].
#[derive(Clone, Debug)]
pub struct NtpClient {
    /// The time server.
    pub server: NodeId,
    /// Time between two requests, on the client's clock.
    pub period: Duration,
    /// How many requests to send in all.
    pub polls: u64,
    /// The number of the next request. Invariant: every request sent has a smaller number.
    pub next_seq: u64,
    /// Requests sent and not yet answered: number to `t1`.
    pub outstanding: BTreeMap<u64, i64>,
    /// Completed exchanges, as (request number, sample), in the order they completed.
    pub samples: Vec<(u64, Sample)>,
    /// Responses that matched no outstanding request (duplicates, forgeries): ignored.
    pub bogus: u64,
}

impl NtpClient {
    /// A client of `server` that sends `polls` requests, one every `period`.
    pub fn new(server: NodeId, period: Duration, polls: u64) -> NtpClient {
        NtpClient {
            server,
            period,
            polls,
            next_seq: 0,
            outstanding: BTreeMap::new(),
            samples: Vec::new(),
            bogus: 0,
        }
    }

    fn poll(&mut self, ctx: &mut Ctx<'_, NtpMsg>) {
        if self.next_seq >= self.polls {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let t1 = ns(ctx.now());
        self.outstanding.insert(seq, t1);
        ctx.send(self.server, NtpMsg::Request { seq, t1 });
        ctx.set_timer(POLL, self.period);
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_, NtpMsg>, seq: u64, echoed: i64, t2: i64, t3: i64) {
        // RFC 5905 §8 discards a response whose origin timestamp does not match the request
        // ("bogus") and one it has already processed ("duplicate"); removing the request
        // from `outstanding` on first match does both.
        match self.outstanding.get(&seq) {
            Some(&t1) if t1 == echoed => {
                self.outstanding.remove(&seq);
                let t4 = ns(ctx.now());
                self.samples.push((seq, Sample { t1, t2, t3, t4 }));
            }
            _ => self.bogus += 1,
        }
    }
}
// ANCHOR_END: client

/// A node of the exchange: the client or the server.
#[derive(Clone, Debug)]
pub enum NtpNode {
    Client(NtpClient),
    Server(NtpServer),
}

impl Process for NtpNode {
    type Msg = NtpMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, NtpMsg>) {
        if let NtpNode::Client(c) = self {
            c.poll(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, NtpMsg>, from: NodeId, msg: NtpMsg) {
        match (self, msg) {
            (NtpNode::Server(s), NtpMsg::Request { seq, t1 }) => s.on_request(ctx, from, seq, t1),
            (NtpNode::Client(c), NtpMsg::Response { seq, t1, t2, t3 }) => {
                c.on_response(ctx, seq, t1, t2, t3);
            }
            (NtpNode::Client(c), NtpMsg::Request { .. }) => c.bogus += 1,
            (NtpNode::Server(_), NtpMsg::Response { .. }) => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, NtpMsg>, timer: TimerId) {
        if let (NtpNode::Client(c), POLL) = (self, timer) {
            c.poll(ctx);
        }
    }

    fn durable(&self) {}
}

/// The client is node 0 in [`measure`]'s runs.
pub const CLIENT: NodeId = NodeId(0);
/// The server is node 1.
pub const SERVER: NodeId = NodeId(1);

// ANCHOR: offset_run
/// One simulated run of the exchange.
#[derive(Clone, Debug)]
pub struct OffsetRun {
    /// The seed of the run.
    pub seed: u64,
    /// The link client -> server (requests).
    pub out: LinkConfig,
    /// The link server -> client (responses).
    pub back: LinkConfig,
    /// The client's clock.
    pub client_clock: Clock,
    /// The server's clock.
    pub server_clock: Clock,
    /// Time between polls, on the client's clock.
    pub period: Duration,
    /// How many requests the client sends.
    pub polls: u64,
}
// ANCHOR_END: offset_run

impl OffsetRun {
    /// The least time a message can take in either direction: the `min` of Cristian's bound,
    /// which a client might know from the length of the cable but never learns from samples.
    pub fn min_one_way_ns(&self) -> i64 {
        let least = |link: &LinkConfig| match link.latency {
            Latency::Constant(d) => d,
            Latency::Uniform { min, .. } | Latency::Exponential { min, .. } => min,
            Latency::Pareto { scale, .. } => scale,
            Latency::LogNormal { .. } => Duration::ZERO,
        };
        let min = least(&self.out).min(least(&self.back));
        i64::try_from(min.as_nanos()).expect("a minimum delay below 292 years")
    }
}

/// One sample with the truth beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    /// What the client measured.
    pub sample: Sample,
    /// The true offset (server clock minus client clock, ns) when the server read its clock.
    pub true_offset_ns: i64,
}

impl Measured {
    /// Estimate minus truth, in nanoseconds.
    pub fn error_ns(&self) -> i64 {
        self.sample.offset_ns() - self.true_offset_ns
    }
}

/// What [`measure`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetOutcome {
    /// Every completed exchange, in the order it completed.
    pub measured: Vec<Measured>,
    /// Responses the client rejected.
    pub bogus: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

// ANCHOR: measure
/// Runs `run` to completion, recording the true offset at each instant the server answers.
pub fn measure(run: &OffsetRun) -> OffsetOutcome {
    let client = NtpClient::new(SERVER, run.period, run.polls);
    let nodes = vec![
        NtpNode::Client(client),
        NtpNode::Server(NtpServer::default()),
    ];
    let mut sim = Sim::new(run.seed, run.out.clone(), nodes);
    sim.set_link(CLIENT, SERVER, run.out.clone());
    sim.set_link(SERVER, CLIENT, run.back.clone());
    sim.set_clock(CLIENT, run.client_clock);
    sim.set_clock(SERVER, run.server_clock);
    // The truth is outside any process: the simulator knows both clocks at every instant.
    let mut truth: BTreeMap<u64, i64> = BTreeMap::new();
    let mut served = 0;
    while sim.step().expect("no invariants registered") {
        let Some(NtpNode::Server(s)) = sim.process(SERVER) else {
            unreachable!("node 1 is the server")
        };
        if s.served != served {
            served = s.served;
            let seq = s.last_served.expect("served at least one");
            let offset = ns(sim.local_time(SERVER)) - ns(sim.local_time(CLIENT));
            truth.insert(seq, offset);
        }
    }
    let Some(NtpNode::Client(c)) = sim.process(CLIENT) else {
        unreachable!("node 0 is the client")
    };
    let measured = c
        .samples
        .iter()
        .map(|(seq, sample)| Measured {
            sample: *sample,
            true_offset_ns: truth[seq],
        })
        .collect();
    OffsetOutcome {
        measured,
        bogus: c.bogus,
        trace_hash: sim.trace_hash(),
    }
}
// ANCHOR_END: measure

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_delays_give_the_exact_offset() {
        // Server 100 ahead; 10 each way; server holds the request 5.
        let s = Sample {
            t1: 1_000,
            t2: 1_110,
            t3: 1_115,
            t4: 1_025,
        };
        assert_eq!(s.offset_ns(), 100);
        assert_eq!(s.delay_ns(), 20);
        assert_eq!(s.error_bound_ns(), 10);
    }

    #[test]
    fn asymmetric_delays_err_by_half_the_difference() {
        // Server 100 ahead; 18 out, 2 back: the estimate is (18 - 2) / 2 = 8 too high.
        let s = Sample {
            t1: 1_000,
            t2: 1_118,
            t3: 1_118,
            t4: 1_020,
        };
        assert_eq!(s.offset_ns() - 100, 8);
        assert!(8 <= s.error_bound_ns());
        // Knowing that no message takes under 2, Cristian's bound is 10 - 2 = 8: tight here.
        assert_eq!(s.error_bound_given_min_ns(2), 8);
    }

    #[test]
    fn the_clock_filter_picks_the_smallest_delay_among_recent_samples() {
        let s = |t4| Sample {
            t1: 0,
            t2: 5,
            t3: 5,
            t4,
        };
        let samples = [s(4), s(30), s(12), s(20)];
        assert_eq!(best_sample(&samples, 3), Some(s(12)));
        assert_eq!(best_sample(&samples, 10), Some(s(4)));
        assert_eq!(best_sample(&samples, 0), None);
        assert_eq!(best_sample(&[], 8), None);
    }
}
