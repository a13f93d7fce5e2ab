//! The tour: one server, a few clients, and every fallacy of distributed computing as a knob.
//!
//! Clients run a closed loop: think, send a request, wait for the reply or a timeout, retry a
//! bounded number of times, record how long the request took from first send to answer. The
//! server answers requests in arrival order, one at a time, taking a fixed time per request
//! plus a cost per byte of the reply. Around them, [`TourConfig`] turns the eight fallacies
//! (Peter Deutsch's seven, 1994, and James Gosling's eighth, 1997) into simulator settings:
//!
//! | fallacy                           | knob                                            |
//! |-----------------------------------|-------------------------------------------------|
//! | the network is reliable           | `loss`                                          |
//! | latency is zero                   | `latency`                                       |
//! | bandwidth is infinite             | `bandwidth`, `reply_bytes`                      |
//! | the network is secure             | `tapped`, `authenticate`                        |
//! | topology doesn't change           | `partition` (the server becomes unreachable)    |
//! | there is one administrator        | `firewall` (replies blocked in one direction)   |
//! | transport cost is zero            | `serialize_ns_per_byte`                         |
//! | the network is homogeneous        | `slow_clients` (a fraction on a poor link)      |
//!
//! Simplifications: the simulator has no wiretap, so an on-path attacker is modelled by the
//! network copying a fraction `tapped` of requests to an attacker node, which races a forged reply
//! back. The reply's "MAC" is a keyed FNV hash, a stand-in for a real one (chapter 3 builds the
//! real thing): enough to show why clients must authenticate, not a security mechanism.

mod client;
mod server;

use std::fmt;
use std::time::Duration;

use crate::sim::{Fault, Histogram, Latency, LinkConfig, NodeId, Process, Sim, Time, TimerId};

pub use client::Client;
pub use server::{Attacker, Server, reply_tag};

/// Node 0 is always the server.
pub const SERVER: NodeId = NodeId(0);

// ANCHOR: config
/// The knobs of the tour. Each field says which fallacy it undoes.
#[derive(Clone, Debug, PartialEq)]
pub struct TourConfig {
    /// How many clients run at once.
    pub clients: usize,
    /// How many requests each client makes before it stops.
    pub requests_per_client: u32,
    /// Mean pause between a client's answer and its next request (exponential).
    pub think_time: Duration,
    /// *Latency is zero*: the mean one-way delay of a message (exponential, with a floor of a
    /// fifth of the mean).
    pub latency: Duration,
    /// *The network is reliable*: the probability that a message is lost.
    pub loss: f64,
    /// *Bandwidth is infinite*: the link's bytes per second, if limited.
    pub bandwidth: Option<u64>,
    /// The size of a reply in bytes (requests are 100 bytes).
    pub reply_bytes: usize,
    /// *Transport cost is zero*: the server's time to serialise a reply, per byte.
    pub serialize_ns_per_byte: u64,
    /// The server's time to handle a request, without serialisation.
    pub service_time: Duration,
    /// *The network is secure*: the fraction of requests an on-path attacker sees.
    pub tapped: f64,
    /// Whether clients check the reply's tag (and so reject forgeries).
    pub authenticate: bool,
    /// *Topology doesn't change*: the server is cut off from everyone during
    /// `[start, start + length)`.
    pub partition: Option<(Duration, Duration)>,
    /// *There is one administrator*: someone else's firewall drops the server's replies to the
    /// first half of the clients during `[start, start + length)`; requests still get through.
    pub firewall: Option<(Duration, Duration)>,
    /// *The network is homogeneous*: the fraction of clients on a link ten times slower with
    /// 5% loss.
    pub slow_clients: f64,
    /// How long a client waits for a reply before it retries.
    pub timeout: Duration,
    /// How many times a client sends one request before giving up.
    pub max_attempts: u32,
}
// ANCHOR_END: config

impl Default for TourConfig {
    /// A well-behaved network: 5 ms latency, nothing lost, nothing hostile.
    fn default() -> Self {
        TourConfig {
            clients: 4,
            requests_per_client: 250,
            think_time: Duration::from_millis(20),
            latency: Duration::from_millis(5),
            loss: 0.0,
            bandwidth: None,
            reply_bytes: 1_000,
            serialize_ns_per_byte: 0,
            service_time: Duration::from_micros(500),
            tapped: 0.0,
            authenticate: false,
            partition: None,
            firewall: None,
            slow_clients: 0.0,
            timeout: Duration::from_millis(100),
            max_attempts: 3,
        }
    }
}

impl TourConfig {
    /// Checks the knobs, so that a bad value is an error message and not a panic later.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("tapped", self.tapped),
            ("slow_clients", self.slow_clients),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be a probability in [0, 1], got {p}"));
            }
        }
        if self.clients == 0 {
            return Err("there must be at least one client".into());
        }
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".into());
        }
        if self.timeout.is_zero() {
            return Err("timeout must be positive".into());
        }
        Ok(())
    }
}

/// What travels between the nodes of the tour.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum TourMsg {
    /// A client asks for the answer to request `id` (its `attempt`-th try).
    Request { id: u64, attempt: u32 },
    /// The answer to request `id`, with a tag that proves the server made it, and the size
    /// of the reply's payload in bytes (what a bandwidth-limited link must carry).
    Reply {
        id: u64,
        answer: u64,
        tag: u64,
        bytes: usize,
    },
    /// The attacker's copy of a tapped request, and which client sent it.
    Tapped { client: NodeId, id: u64 },
}

/// The three roles, as one process type for the simulator.
#[derive(Clone, Debug)]
pub enum TourNode {
    Server(Server),
    Client(Client),
    Attacker(Attacker),
}

impl Process for TourNode {
    type Msg = TourMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut crate::sim::Ctx<'_, TourMsg>) {
        match self {
            TourNode::Client(c) => c.on_start(ctx),
            TourNode::Server(_) | TourNode::Attacker(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut crate::sim::Ctx<'_, TourMsg>, from: NodeId, msg: TourMsg) {
        match self {
            TourNode::Server(s) => s.on_message(ctx, from, msg),
            TourNode::Client(c) => c.on_message(ctx, msg),
            TourNode::Attacker(a) => a.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut crate::sim::Ctx<'_, TourMsg>, timer: TimerId) {
        match self {
            TourNode::Server(s) => s.on_timer(ctx),
            TourNode::Client(c) => c.on_timer(ctx, timer),
            TourNode::Attacker(_) => {}
        }
    }

    fn durable(&self) {}

    fn message_size(msg: &TourMsg) -> usize {
        match msg {
            TourMsg::Request { .. } | TourMsg::Tapped { .. } => 100,
            TourMsg::Reply { bytes, .. } => *bytes,
        }
    }
}

/// The tour's processes: the server (node 0), the clients (1..=clients), the attacker (last).
pub fn nodes(config: &TourConfig) -> Vec<TourNode> {
    let attacker = NodeId(config.clients + 1);
    let mut nodes = vec![TourNode::Server(Server::new(config))];
    for _ in 0..config.clients {
        nodes.push(TourNode::Client(Client::new(config, attacker)));
    }
    nodes.push(TourNode::Attacker(Attacker));
    nodes
}

// ANCHOR: build
/// Builds the simulation of `config` with `seed`, without running it.
pub fn build(config: &TourConfig, seed: u64) -> Result<Sim<TourNode>, String> {
    config.validate()?;
    let latency = Latency::Exponential {
        min: config.latency / 5,
        mean: config.latency * 4 / 5,
    };
    let mut link = LinkConfig::constant(Duration::ZERO)
        .with_latency(latency)
        .with_loss(config.loss);
    link.bandwidth = config.bandwidth;
    let attacker = NodeId(config.clients + 1);
    let mut sim = Sim::new(seed, link.clone(), nodes(config));
    // The attacker sits next to the clients: its forgeries arrive before the real replies.
    for c in 1..=config.clients {
        sim.set_link(
            attacker,
            NodeId(c),
            LinkConfig::constant(config.latency / 10),
        );
        sim.set_link(NodeId(c), attacker, LinkConfig::constant(Duration::ZERO));
    }
    // The last `slow_clients` of the clients sit behind a slow, lossy link.
    let slow = (config.slow_clients * config.clients as f64).round() as usize;
    for c in (config.clients - slow + 1)..=config.clients {
        let poor = Latency::Exponential {
            min: config.latency * 2,
            mean: config.latency * 8,
        };
        let poor = link
            .clone()
            .with_latency(poor)
            .with_loss((config.loss + 0.05).min(1.0));
        sim.set_link(SERVER, NodeId(c), poor.clone());
        sim.set_link(NodeId(c), SERVER, poor);
    }
    let clients: Vec<NodeId> = (1..=config.clients).map(NodeId).collect();
    if let Some((start, length)) = config.partition {
        sim.schedule_fault(
            Time::ZERO + start,
            Fault::Partition(vec![SERVER], clients.clone()),
        );
        sim.schedule_fault(Time::ZERO + start + length, Fault::Heal);
    }
    if let Some((start, length)) = config.firewall {
        let half = clients[..clients.len().div_ceil(2)].to_vec();
        sim.schedule_fault(Time::ZERO + start, Fault::OneWay(vec![SERVER], half));
        sim.schedule_fault(Time::ZERO + start + length, Fault::Heal);
    }
    Ok(sim)
}
// ANCHOR_END: build

/// What a run of the tour measured.
#[derive(Clone, Debug, PartialEq)]
pub struct TourReport {
    /// Requests answered (correctly or not).
    pub completed: u64,
    /// Requests given up after `max_attempts` timeouts.
    pub failed: u64,
    /// Retransmissions after a timeout.
    pub retries: u64,
    /// Forged replies a client accepted as the answer.
    pub wrong_answers: u64,
    /// Forged replies a client rejected because the tag did not verify.
    pub forgeries_rejected: u64,
    /// Latency percentiles of completed requests in milliseconds: p50, p90, p99, p99.9, max.
    pub latency_ms: [f64; 5],
    /// Bytes the network carried (requests and replies, including retries).
    pub bytes: u64,
    /// Virtual time when the last client finished.
    pub elapsed: Time,
    /// The fingerprint of the run.
    pub trace_hash: u64,
}

impl fmt::Display for TourReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [p50, p90, p99, p999, max] = self.latency_ms;
        writeln!(
            f,
            "completed {}, failed {}, retries {}",
            self.completed, self.failed, self.retries
        )?;
        writeln!(
            f,
            "wrong answers accepted {}, forgeries rejected {}",
            self.wrong_answers, self.forgeries_rejected
        )?;
        writeln!(
            f,
            "latency ms: p50 {p50:.1}, p90 {p90:.1}, p99 {p99:.1}, p99.9 {p999:.1}, max {max:.1}"
        )?;
        write!(
            f,
            "{} bytes on the wire in {:.1} s of virtual time; trace hash {:016x}",
            self.bytes,
            self.elapsed.as_secs_f64(),
            self.trace_hash
        )
    }
}

// ANCHOR: run
/// Runs the tour to completion (every client done) and reports what it measured.
pub fn run(config: &TourConfig, seed: u64) -> Result<(TourReport, Histogram), String> {
    let mut sim = build(config, seed)?;
    let horizon = Time::from_secs_f64(3_600.0);
    while sim.step().map_err(|e| e.to_string())? {
        if sim.now() > horizon {
            return Err(format!(
                "the tour did not finish within an hour of virtual time (seed {seed})"
            ));
        }
        let m = sim.metrics();
        if m.counter("completed") + m.counter("failed") == total_requests(config) {
            break;
        }
    }
    let m = sim.metrics_mut();
    let mut latency = m.histogram("latency_ms").cloned().unwrap_or_default();
    let mut pct = |p: f64| latency.percentile(p).unwrap_or(f64::NAN);
    let latency_ms = [pct(50.0), pct(90.0), pct(99.0), pct(99.9), pct(100.0)];
    let m = sim.metrics();
    let report = TourReport {
        completed: m.counter("completed"),
        failed: m.counter("failed"),
        retries: m.counter("retries"),
        wrong_answers: m.counter("wrong_answers"),
        forgeries_rejected: m.counter("forgeries_rejected"),
        latency_ms,
        bytes: m.counter("bytes"),
        elapsed: sim.now(),
        trace_hash: sim.trace_hash(),
    };
    Ok((report, latency))
}
// ANCHOR_END: run

/// How many requests the clients make in all.
pub fn total_requests(config: &TourConfig) -> u64 {
    config.clients as u64 * u64::from(config.requests_per_client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_network_answers_every_request_once() {
        let config = TourConfig::default();
        let (report, _) = run(&config, 1).unwrap();
        assert_eq!(report.completed, total_requests(&config));
        assert_eq!(
            (report.failed, report.retries, report.wrong_answers),
            (0, 0, 0)
        );
    }

    #[test]
    fn loss_causes_retries_and_a_long_tail() {
        let config = TourConfig {
            loss: 0.05,
            ..TourConfig::default()
        };
        let (report, _) = run(&config, 1).unwrap();
        assert!(report.retries > 0);
        // A retried request waited at least one timeout.
        assert!(report.latency_ms[4] >= config.timeout.as_secs_f64() * 1e3);
    }

    #[test]
    fn unauthenticated_clients_accept_forgeries_and_authenticated_ones_do_not() {
        let open = TourConfig {
            tapped: 0.2,
            ..TourConfig::default()
        };
        let (report, _) = run(&open, 1).unwrap();
        assert!(report.wrong_answers > 0);
        let checked = TourConfig {
            authenticate: true,
            ..open
        };
        let (report, _) = run(&checked, 1).unwrap();
        assert_eq!(report.wrong_answers, 0);
        assert!(report.forgeries_rejected > 0);
    }

    #[test]
    fn a_partition_longer_than_all_retries_fails_requests() {
        let config = TourConfig {
            partition: Some((Duration::from_secs(1), Duration::from_secs(2))),
            ..TourConfig::default()
        };
        let (report, _) = run(&config, 1).unwrap();
        assert!(report.failed > 0);
        assert_eq!(report.completed + report.failed, total_requests(&config));
    }

    #[test]
    fn a_one_way_firewall_wastes_requests_that_did_arrive() {
        let config = TourConfig {
            firewall: Some((Duration::from_secs(1), Duration::from_secs(2))),
            ..TourConfig::default()
        };
        let mut sim = build(&config, 1).unwrap();
        sim.run_until(Time::from_secs_f64(2.5)).unwrap();
        assert!(sim.stats().blocked > 0);
        // The server kept answering: requests reached it while its replies were dropped.
        assert!(sim.metrics().counter("served") > sim.metrics().counter("completed"));
    }

    #[test]
    fn bad_knobs_are_errors() {
        for bad in [
            TourConfig {
                loss: 1.5,
                ..TourConfig::default()
            },
            TourConfig {
                clients: 0,
                ..TourConfig::default()
            },
            TourConfig {
                max_attempts: 0,
                ..TourConfig::default()
            },
            TourConfig {
                bandwidth: Some(0),
                ..TourConfig::default()
            },
        ] {
            assert!(build(&bad, 1).is_err());
        }
    }

    #[test]
    fn same_seed_same_trace() {
        let config = TourConfig {
            loss: 0.02,
            tapped: 0.1,
            ..TourConfig::default()
        };
        let (a, _) = run(&config, 42).unwrap();
        let (b, _) = run(&config, 42).unwrap();
        let (c, _) = run(&config, 43).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_ne!(a.trace_hash, c.trace_hash);
    }
}
