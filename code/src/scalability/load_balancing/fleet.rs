//! A balancer in front of a heterogeneous fleet, on the simulator.
//!
//! Three kinds of node: a *source* (node 0) that sends requests as a Poisson process
//! (exponential gaps), each tagged with a flow key drawn uniformly from `flows` keys (think
//! client connections); one *balancer* that forwards each request to a backend chosen by a
//! [`Picker`]; and `n` *servers*, each a single FIFO queue whose service times are exponential
//! with its own mean. Some servers are slow (a mean several times the others', like an older
//! machine or a noisy neighbour), so an algorithm that spreads requests evenly overloads them.
//! Links have no latency: a request's latency is its queueing plus its service time. Every node
//! draws from its own random stream, so with one seed every algorithm sees the same arrivals
//! and flow keys.
//!
//! What the balancer knows about load is a knob. With `view_refresh = None` it counts its own
//! requests in flight per server, exactly (one balancer, fresh information). With `Some(t)` it
//! decides on a snapshot of those counts taken every `t`, the way a balancer that learns loads
//! from periodic reports does: the stale-information case of Mitzenmacher ("How Useful Is Old
//! Information?", IEEE TPDS 11(1), 2000), where least connections herds.
//!
//! Health checks (optional): every `probe_interval` the balancer counts each server's last probe
//! as failed if it was not answered, feeds the outcome to that server's [`HealthCheck`], and
//! sends the next probe; servers answer probes at once (a liveness probe, not through the
//! queue). A crashed server answers nothing and loses its queue; the requests it held, and the
//! ones sent to it before ejection, never complete and count as failed. The balancer does not
//! retry: the chapter's real balancer does.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use rand::RngExt;

use super::health::{Health, HealthCheck};
use super::picker::{Algorithm, Picker};
use crate::sim::{Ctx, Exponential, Fault, LinkConfig, NodeId, Process, Sim, Time, TimerId};

const BALANCER: NodeId = NodeId(1);
/// Server `i` is node `FIRST_SERVER + i`.
const FIRST_SERVER: usize = 2;
const NEXT: TimerId = TimerId(0);
const REFRESH: TimerId = TimerId(1);
const PROBE: TimerId = TimerId(2);

/// What the nodes send each other.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Msg {
    /// A client request: its number, its flow key, when the source sent it.
    Request {
        id: u64,
        flow: u64,
        sent_at: Time,
    },
    /// A server's answer to request `id`.
    Response {
        id: u64,
        sent_at: Time,
    },
    /// A health probe, and its answer.
    Probe,
    ProbeOk,
}

/// Active health checking of the balancer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Probing {
    /// Time between probes of one server (also the probe timeout).
    pub interval: Duration,
    /// Failed probes in a row that eject (`k`).
    pub eject_after: u32,
    /// Successful probes in a row that re-admit (`m`).
    pub readmit_after: u32,
}

/// One run's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetConfig {
    pub algorithm: Algorithm,
    /// Mean service time of each server, in ms (the fleet's size is its length).
    pub service_ms: Vec<f64>,
    /// Offered load as a fraction of the fleet's total capacity (sum of service rates).
    pub utilisation: f64,
    /// Requests the source sends.
    pub requests: u64,
    /// Distinct flow keys.
    pub flows: u64,
    /// `None`: the balancer sees exact loads; `Some(t)`: a snapshot refreshed every `t`.
    pub view_refresh: Option<Duration>,
    pub probing: Option<Probing>,
    /// Scripted crashes and restarts: (time, server index, `true` = crash / `false` = restart).
    pub faults: Vec<(Time, usize, bool)>,
    pub seed: u64,
}

impl FleetConfig {
    /// The chapter's fleet: ten servers with a 10 ms mean service time, two of which are twice
    /// as slow (20 ms), at `utilisation`, with 20,000 requests over 1,000 flows.
    pub fn chapter(algorithm: Algorithm, utilisation: f64, seed: u64) -> FleetConfig {
        let mut service_ms = vec![10.0; 10];
        service_ms[8] = 20.0;
        service_ms[9] = 20.0;
        FleetConfig {
            algorithm,
            service_ms,
            utilisation,
            requests: 20_000,
            flows: 1_000,
            view_refresh: None,
            probing: None,
            faults: Vec::new(),
            seed,
        }
    }

    /// Requests per second the fleet can serve at most.
    pub fn capacity_per_s(&self) -> f64 {
        self.service_ms.iter().map(|ms| 1_000.0 / ms).sum()
    }
}

/// The source of requests.
#[derive(Clone, Debug)]
pub struct Source {
    mean_gap_s: f64,
    flows: u64,
    target: u64,
    sent: u64,
}

/// The balancer.
#[derive(Clone, Debug)]
pub struct Balancer {
    picker: Picker,
    /// Requests in flight per server, as this balancer counts them.
    outstanding: Vec<u64>,
    /// What `pick` sees: `outstanding`, or a snapshot of it when the view is stale.
    view: Vec<u64>,
    view_refresh: Option<Duration>,
    probing: Option<Probing>,
    checks: Vec<HealthCheck>,
    /// Whether each server answered its last probe.
    answered: Vec<bool>,
    /// Requests forwarded and not answered: id -> (server, sent_at).
    in_flight: BTreeMap<u64, (usize, Time)>,
    /// Latency of every answered request, ms, in completion order.
    pub latencies_ms: Vec<f64>,
    /// Send times of requests no backend was in rotation for.
    pub unroutable: Vec<Time>,
    /// Requests forwarded to each server.
    pub forwarded: Vec<u64>,
    /// Health transitions: (time, server, new state).
    pub transitions: Vec<(Time, usize, Health)>,
}

/// A server: one FIFO queue.
#[derive(Clone, Debug)]
pub struct Server {
    mean_service_s: f64,
    /// The request in service, if any: (id, sent_at).
    in_service: Option<(u64, Time)>,
    waiting: VecDeque<(u64, Time)>,
}

/// A node of the model.
#[derive(Clone, Debug)]
pub enum Node {
    Source(Source),
    Balancer(Box<Balancer>),
    Server(Server),
}

impl Process for Node {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self {
            Node::Source(s) if s.target > 0 => {
                let gap = ctx.rng().sample(Exponential { mean: s.mean_gap_s });
                ctx.set_timer(NEXT, Duration::from_secs_f64(gap));
            }
            Node::Balancer(b) => {
                if let Some(t) = b.view_refresh {
                    ctx.set_timer(REFRESH, t);
                }
                if let Some(p) = b.probing {
                    b.send_probes(ctx);
                    ctx.set_timer(PROBE, p.interval);
                }
            }
            _ => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match (self, msg) {
            (Node::Balancer(b), Msg::Request { id, flow, sent_at }) => {
                b.route(ctx, id, flow, sent_at)
            }
            (Node::Balancer(b), Msg::Response { id, sent_at }) => {
                if let Some((server, _)) = b.in_flight.remove(&id) {
                    b.outstanding[server] -= 1;
                    b.latencies_ms
                        .push(ctx.now().since(sent_at).as_secs_f64() * 1e3);
                }
            }
            (Node::Balancer(b), Msg::ProbeOk) => b.answered[from.0 - FIRST_SERVER] = true,
            (Node::Server(_), Msg::Probe) => ctx.send(BALANCER, Msg::ProbeOk),
            (Node::Server(s), Msg::Request { id, sent_at, .. }) => {
                if s.in_service.is_none() {
                    s.start(ctx, id, sent_at);
                } else {
                    s.waiting.push_back((id, sent_at));
                }
            }
            (_, msg) => unreachable!("unexpected {msg:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        match self {
            Node::Source(s) => {
                let flow = ctx.rng().random_range(0..s.flows);
                let sent_at = ctx.now();
                ctx.send(
                    BALANCER,
                    Msg::Request {
                        id: s.sent,
                        flow,
                        sent_at,
                    },
                );
                s.sent += 1;
                if s.sent < s.target {
                    let gap = ctx.rng().sample(Exponential { mean: s.mean_gap_s });
                    ctx.set_timer(NEXT, Duration::from_secs_f64(gap));
                }
            }
            Node::Balancer(b) if timer == REFRESH => {
                b.view.clone_from(&b.outstanding);
                ctx.set_timer(REFRESH, b.view_refresh.expect("refresh timer set"));
            }
            Node::Balancer(b) => {
                b.judge_probes(ctx.now());
                b.send_probes(ctx);
                ctx.set_timer(PROBE, b.probing.expect("probe timer set").interval);
            }
            Node::Server(s) => {
                let (id, sent_at) = s.in_service.take().expect("a departure needs a request");
                ctx.send(BALANCER, Msg::Response { id, sent_at });
                if let Some((id, sent_at)) = s.waiting.pop_front() {
                    s.start(ctx, id, sent_at);
                }
            }
        }
    }

    fn durable(&self) {}
}

impl Server {
    fn start(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, sent_at: Time) {
        self.in_service = Some((id, sent_at));
        let service = ctx.rng().sample(Exponential {
            mean: self.mean_service_s,
        });
        ctx.set_timer(NEXT, Duration::from_secs_f64(service));
    }
}

// ANCHOR: route
impl Balancer {
    /// Forwards one request to the backend the picker chooses.
    fn route(&mut self, ctx: &mut Ctx<'_, Msg>, id: u64, flow: u64, sent_at: Time) {
        let loads = if self.view_refresh.is_some() {
            &self.view
        } else {
            &self.outstanding
        };
        match self.picker.pick(loads, flow, ctx.rng()) {
            Some(server) => {
                self.outstanding[server] += 1;
                self.forwarded[server] += 1;
                self.in_flight.insert(id, (server, sent_at));
                let to = NodeId(FIRST_SERVER + server);
                ctx.send(to, Msg::Request { id, flow, sent_at });
            }
            None => self.unroutable.push(sent_at),
        }
    }

    /// Scores the last round of probes: unanswered ones failed.
    fn judge_probes(&mut self, now: Time) {
        let mut changed = false;
        for (server, check) in self.checks.iter_mut().enumerate() {
            if let Some(state) = check.observe(self.answered[server]) {
                self.transitions.push((now, server, state));
                changed = true;
            }
        }
        if changed {
            let healthy: Vec<bool> = self.checks.iter().map(HealthCheck::is_healthy).collect();
            self.picker.set_healthy(&healthy);
        }
    }
    // ANCHOR_END: route

    fn send_probes(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for server in 0..self.answered.len() {
            self.answered[server] = false;
            ctx.send(NodeId(FIRST_SERVER + server), Msg::Probe);
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct FleetReport {
    /// Latencies of answered requests, ms, sorted ascending.
    pub latencies_ms: Vec<f64>,
    /// Send times of requests that never completed (lost in a crash) or found no backend.
    pub failed_at: Vec<Time>,
    pub forwarded: Vec<u64>,
    pub transitions: Vec<(Time, usize, Health)>,
}

impl FleetReport {
    /// The nearest-rank `p`-th percentile of latency, ms (0 if nothing was answered).
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies_ms.len() as f64).ceil() as usize;
        self.latencies_ms[rank.clamp(1, self.latencies_ms.len()) - 1]
    }
}

/// Runs one configuration to the end (the last request answered or lost).
pub fn run(config: &FleetConfig) -> FleetReport {
    assert!(
        config.utilisation > 0.0 && config.utilisation < 1.0,
        "utilisation must be in (0, 1), got {}",
        config.utilisation
    );
    let n = config.service_ms.len();
    let rate = config.utilisation * config.capacity_per_s();
    let mut nodes = vec![
        Node::Source(Source {
            mean_gap_s: 1.0 / rate,
            flows: config.flows.max(1),
            target: config.requests,
            sent: 0,
        }),
        Node::Balancer(Box::new(Balancer {
            picker: Picker::new(config.algorithm, n),
            outstanding: vec![0; n],
            view: vec![0; n],
            view_refresh: config.view_refresh,
            probing: config.probing,
            checks: config
                .probing
                .map(|p| vec![HealthCheck::new(p.eject_after, p.readmit_after); n])
                .unwrap_or_default(),
            answered: vec![true; n],
            in_flight: BTreeMap::new(),
            latencies_ms: Vec::with_capacity(config.requests as usize),
            unroutable: Vec::new(),
            forwarded: vec![0; n],
            transitions: Vec::new(),
        })),
    ];
    let server = |ms: f64| Server {
        mean_service_s: ms / 1e3,
        in_service: None,
        waiting: VecDeque::new(),
    };
    nodes.extend(config.service_ms.iter().map(|&ms| Node::Server(server(ms))));
    let means = config.service_ms.clone();
    let mut sim = Sim::new(config.seed, LinkConfig::constant(Duration::ZERO), nodes);
    sim.on_restart(move |id, ()| Node::Server(server(means[id.0 - FIRST_SERVER])));
    for &(at, i, crash) in &config.faults {
        let node = NodeId(FIRST_SERVER + i);
        sim.schedule_fault(
            at,
            if crash {
                Fault::Crash(node)
            } else {
                Fault::Restart(node)
            },
        );
    }
    // Past the last arrival (mean gap times count, plus slack), every queue has drained: an
    // overloaded queue can hold many minutes of work (two servers 50 times slower than the rest
    // at utilisation 0.5 need about 16), and a request still queued at the horizon would drop
    // out of the percentiles unseen. Probe timers never stop, so runs with health checks
    // (short, and not overloaded in the chapter's uses) get less slack.
    let slack_s = if config.probing.is_some() {
        5.0
    } else {
        3_600.0
    };
    let horizon = Time::from_secs_f64(config.requests as f64 / rate * 1.5 + slack_s);
    sim.run_until(horizon)
        .expect("the model has no invariants to violate");
    let Some(Node::Balancer(b)) = sim.process_mut(BALANCER) else {
        unreachable!("node 1 is the balancer")
    };
    let mut failed_at: Vec<Time> = b.in_flight.values().map(|&(_, t)| t).collect();
    failed_at.extend(b.unroutable.iter().copied());
    failed_at.sort();
    let mut latencies_ms = std::mem::take(&mut b.latencies_ms);
    latencies_ms.sort_by(f64::total_cmp);
    FleetReport {
        latencies_ms,
        failed_at,
        forwarded: b.forwarded.clone(),
        transitions: b.transitions.clone(),
    }
}
