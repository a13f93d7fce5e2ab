//! The simulator's event loop.
//!
//! A [`Sim`] owns the processes, the network, the clocks and a priority queue of pending events
//! (deliveries, timers, faults). [`Sim::step`] pops the earliest event, advances virtual time to
//! it, hands it to the process it concerns, turns the effects the process returns into new
//! events, and then checks every invariant. Nothing happens between events, so a run that
//! covers an hour of virtual time can take milliseconds of real time.
//!
//! Determinism: events at the same instant are ordered by a sequence number assigned when they
//! were scheduled, every random choice comes from a stream derived from the one seed, and no
//! iteration depends on hash-map order. The same seed therefore gives the same run, which the
//! trace hash (see `trace.rs`) lets tests check.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::clock::Clock;
use super::faults::{Fault, FaultSchedule};
use super::metrics::Metrics;
use super::network::{DropReason, Fate, LinkConfig, Network};
use super::process::{Ctx, Effect, NodeId, Process, TimerId};
use super::rng::{SimRng, rng_stream};
use super::time::Time;
use super::trace::{Recorder, TraceEvent, TraceKind, TraceLevel};

/// An invariant: a named check of the whole system, run after every event.
type Invariant<P> = (String, Box<dyn Fn(&Sim<P>) -> Result<(), String>>);

/// Builds a fresh process for a restarted node from what it had on disk.
type Restarter<P> = Box<dyn FnMut(NodeId, <P as Process>::Durable) -> P>;

/// What the event loop does next.
enum EventKind<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: M,
    },
    Timer {
        node: NodeId,
        timer: TimerId,
    },
    /// Boxed: faults are rare and large (a partition holds two lists of nodes), and every
    /// entry of the queue is as large as its largest kind. Small entries make the heap's sift
    /// operations, the hot path of every run, move fewer bytes.
    Fault(Box<Fault>),
}

/// A scheduled event. Ordered by time, then by the order in which it was scheduled.
struct Entry<M> {
    at: Time,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed, so that std's max-heap pops the earliest event first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Handling events.
    Up,
    /// Frozen: events wait until it resumes.
    Paused,
    /// Stopped: volatile state lost, deliveries dropped, until restarted.
    Crashed,
}

struct Node<P: Process> {
    /// Invariant: `Some` unless the node is crashed.
    process: Option<P>,
    state: NodeState,
    /// What the node had on disk when it last crashed.
    disk: Option<P::Durable>,
    rng: SimRng,
    clock: Clock,
    /// For each timer id, the sequence number of its pending event (0 = none). A timer event
    /// whose sequence number no longer matches was reset or cancelled, and is ignored.
    timers: Vec<u64>,
    /// Events that arrived while the node was paused, in arrival order.
    deferred: Vec<Entry<P::Msg>>,
    /// Whether `on_start` has run (at its start event, or at a restart that came first).
    /// Invariant: `on_start` runs once per incarnation, never on a crashed or paused node.
    started: bool,
}

/// Counts of what the network did to messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    pub blocked: u64,
    pub to_crashed: u64,
}

/// A broken invariant, with what is needed to replay the run that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    pub name: String,
    pub message: String,
    pub at: Time,
    pub event: u64,
    pub seed: u64,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` broken at {} (event {}) with seed {}: {}",
            self.name, self.at, self.event, self.seed, self.message
        )
    }
}

impl std::error::Error for InvariantViolation {}

// ANCHOR: sim
/// A deterministic discrete-event simulation of processes of type `P`.
pub struct Sim<P: Process> {
    seed: u64,
    now: Time,
    /// The next sequence number; also breaks ties between events at one instant.
    seq: u64,
    queue: BinaryHeap<Entry<P::Msg>>,
    nodes: Vec<Node<P>>,
    network: Network,
    net_rng: SimRng,
    stats: NetStats,
    metrics: Metrics,
    /// Reused for every handler call, so the hot path does not allocate.
    effects: Vec<Effect<P::Msg>>,
    invariants: Vec<Invariant<P>>,
    restarter: Option<Restarter<P>>,
    recorder: Recorder,
    events: u64,
}
// ANCHOR_END: sim

impl<P: Process> Sim<P> {
    /// A run of `processes` (node `i` is `processes[i]`) on a network whose links all behave as
    /// `link`. Every node starts at time zero. Everything random derives from `seed`.
    pub fn new(seed: u64, link: LinkConfig, processes: Vec<P>) -> Sim<P> {
        if let Err(e) = link.validate() {
            panic!("invalid link configuration: {e}");
        }
        let mut sim = Sim {
            seed,
            now: Time::ZERO,
            seq: 1,
            queue: BinaryHeap::new(),
            nodes: Vec::with_capacity(processes.len()),
            network: Network::new(link),
            net_rng: rng_stream(seed, 0),
            stats: NetStats::default(),
            metrics: Metrics::default(),
            effects: Vec::new(),
            invariants: Vec::new(),
            restarter: None,
            recorder: Recorder::new(TraceLevel::Hash),
            events: 0,
        };
        for (i, process) in processes.into_iter().enumerate() {
            sim.nodes.push(Node {
                process: Some(process),
                state: NodeState::Up,
                disk: None,
                rng: rng_stream(seed, i as u64 + 1),
                clock: Clock::default(),
                timers: Vec::new(),
                deferred: Vec::new(),
                started: false,
            });
            sim.push(Time::ZERO, EventKind::Start(NodeId(i)));
        }
        sim
    }

    /// Sets how much of the run is recorded (default: the hash only).
    pub fn set_trace(&mut self, level: TraceLevel) {
        self.recorder.level = level;
    }

    /// Gives node `id` a drifting or offset clock.
    pub fn set_clock(&mut self, id: NodeId, clock: Clock) {
        self.nodes[id.0].clock = clock;
    }

    /// Gives the directed link `from -> to` its own behaviour.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        if let Err(e) = link.validate() {
            panic!("invalid configuration for link {from} -> {to}: {e}");
        }
        self.network.set_link(from, to, link);
    }

    // ANCHOR: callbacks
    /// How a crashed node comes back: `f(id, disk)` builds its fresh process.
    pub fn on_restart(&mut self, f: impl FnMut(NodeId, P::Durable) -> P + 'static) {
        self.restarter = Some(Box::new(f));
    }

    /// Adds an invariant, checked after every event from now on.
    pub fn add_invariant(
        &mut self,
        name: &str,
        check: impl Fn(&Sim<P>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.to_string(), Box::new(check)));
    }
    // ANCHOR_END: callbacks

    /// Schedules `fault` to happen at `at`.
    pub fn schedule_fault(&mut self, at: Time, fault: Fault) {
        self.check_fault(&fault);
        self.push(at.max(self.now), EventKind::Fault(Box::new(fault)));
    }

    /// Schedules every fault of `schedule`.
    pub fn schedule(&mut self, schedule: &FaultSchedule) {
        for (at, fault) in &schedule.faults {
            self.schedule_fault(*at, fault.clone());
        }
    }

    /// Delivers `msg` to `to` at `at` as if `from` had sent it, bypassing the network.
    pub fn inject(&mut self, at: Time, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(to.0 < self.nodes.len(), "inject to unknown node {to}");
        self.push(at.max(self.now), EventKind::Deliver { from, to, msg });
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.check_fault(&fault);
        self.apply_fault(fault);
    }

    /// Runs every event up to and including `until`; virtual time then stands at `until`.
    pub fn run_until(&mut self, until: Time) -> Result<(), InvariantViolation> {
        while self.queue.peek().is_some_and(|e| e.at <= until) {
            self.step()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs for `d` of virtual time from now.
    pub fn run_for(&mut self, d: Duration) -> Result<(), InvariantViolation> {
        self.run_until(self.now + d)
    }

    // ANCHOR: step
    /// Processes the earliest pending event. Returns `Ok(false)` if there was none.
    pub fn step(&mut self) -> Result<bool, InvariantViolation> {
        let Some(entry) = self.queue.pop() else {
            return Ok(false);
        };
        debug_assert!(entry.at >= self.now, "time went backwards");
        self.now = entry.at;
        self.events += 1;
        match entry.kind {
            EventKind::Start(id) => match self.nodes[id.0].state {
                // A fault applied before the start event (`apply` at time zero): a restart
                // has already started the node, a crashed node starts when it restarts, and a
                // paused one starts when it resumes.
                NodeState::Up if !self.nodes[id.0].started => self.start(id),
                NodeState::Paused => {
                    let kind = EventKind::Start(id);
                    self.defer(id, entry.at, entry.seq, kind);
                }
                NodeState::Up | NodeState::Crashed => {
                    self.events -= 1;
                    return Ok(true);
                }
            },
            EventKind::Fault(fault) => self.apply_fault(*fault),
            EventKind::Deliver { from, to, msg } => match self.nodes[to.0].state {
                NodeState::Up => self.deliver(from, to, msg),
                NodeState::Paused => {
                    let kind = EventKind::Deliver { from, to, msg };
                    self.defer(to, entry.at, entry.seq, kind);
                }
                NodeState::Crashed => self.drop_message(from, to, DropReason::Crashed, &msg),
            },
            EventKind::Timer { node, timer } => {
                let index = timer.0 as usize;
                if self.nodes[node.0].timers.get(index) != Some(&entry.seq) {
                    // Reset, cancelled or lost in a crash since it was set: not an event.
                    self.events -= 1;
                    return Ok(true);
                }
                match self.nodes[node.0].state {
                    NodeState::Up => {
                        self.nodes[node.0].timers[index] = 0;
                        self.fire(node, timer);
                    }
                    NodeState::Paused => {
                        let kind = EventKind::Timer { node, timer };
                        self.defer(node, entry.at, entry.seq, kind);
                    }
                    NodeState::Crashed => unreachable!("a crash clears the node's timers"),
                }
            }
        }
        self.check_invariants()?;
        Ok(true)
    }
    // ANCHOR_END: step

    fn push(&mut self, at: Time, kind: EventKind<P::Msg>) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Entry { at, seq, kind });
        seq
    }

    fn start(&mut self, id: NodeId) {
        self.nodes[id.0].started = true;
        if self.recorder.level > TraceLevel::Off {
            self.recorder
                .record(self.now, TraceKind::Start { node: id.0 });
        }
        self.dispatch(id, |p, ctx| p.on_start(ctx));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.stats.delivered += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Deliver {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        self.dispatch(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    fn fire(&mut self, node: NodeId, timer: TimerId) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Timer {
                    node: node.0,
                    timer: timer.0,
                },
            );
        }
        self.dispatch(node, |p, ctx| p.on_timer(ctx, timer));
    }

    /// Runs one handler of node `id` and turns its effects into events.
    fn dispatch(&mut self, id: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>)) {
        let mut effects = std::mem::take(&mut self.effects);
        let node = &mut self.nodes[id.0];
        // A default clock reads true time: skip its 128-bit arithmetic on the hot path.
        let local_now = if node.clock == Clock::default() {
            self.now
        } else {
            node.clock.local(self.now)
        };
        let process = node.process.as_mut().expect("dispatch to a crashed node");
        let mut ctx = Ctx::new(
            id,
            local_now,
            &mut node.rng,
            &mut effects,
            &mut self.metrics,
        );
        handler(process, &mut ctx);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(id, to, msg),
                Effect::SetTimer { timer, after } => self.set_timer(id, timer, after),
                Effect::CancelTimer { timer } => {
                    if let Some(slot) = self.nodes[id.0].timers.get_mut(timer.0 as usize) {
                        *slot = 0;
                    }
                }
            }
        }
        self.effects = effects;
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(
            to.0 < self.nodes.len(),
            "{from} sent to unknown node {to}: {msg:?}"
        );
        self.stats.sent += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Send {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        let size = P::message_size(&msg);
        match self
            .network
            .transmit(from, to, size, self.now, &mut self.net_rng)
        {
            Fate::Arrives(first, second) => {
                if let Some(again) = second {
                    self.stats.duplicated += 1;
                    self.push(
                        again,
                        EventKind::Deliver {
                            from,
                            to,
                            msg: msg.clone(),
                        },
                    );
                }
                self.push(first, EventKind::Deliver { from, to, msg });
            }
            Fate::Dropped(reason) => self.drop_message(from, to, reason, &msg),
        }
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, reason: DropReason, msg: &P::Msg) {
        match reason {
            DropReason::Loss => self.stats.lost += 1,
            DropReason::Partition => self.stats.blocked += 1,
            DropReason::Crashed => self.stats.to_crashed += 1,
        }
        if self.recorder.level > TraceLevel::Off {
            let kind = TraceKind::Drop {
                from: from.0,
                to: to.0,
                reason: format!("{reason:?}"),
                msg: format!("{msg:?}"),
            };
            self.recorder.record(self.now, kind);
        }
    }

    fn set_timer(&mut self, id: NodeId, timer: TimerId, after: Duration) {
        let real = self.nodes[id.0].clock.real_duration(after);
        let seq = self.push(self.now + real, EventKind::Timer { node: id, timer });
        let timers = &mut self.nodes[id.0].timers;
        let index = timer.0 as usize;
        if timers.len() <= index {
            timers.resize(index + 1, 0);
        }
        timers[index] = seq;
    }

    /// Holds an event for a paused node until it resumes.
    fn defer(&mut self, id: NodeId, at: Time, seq: u64, kind: EventKind<P::Msg>) {
        self.nodes[id.0].deferred.push(Entry { at, seq, kind });
    }

    fn check_fault(&self, fault: &Fault) {
        let n = self.nodes.len();
        let ok = |id: &NodeId| id.0 < n;
        let valid = match fault {
            Fault::Crash(id) | Fault::Restart(id) | Fault::Pause(id) | Fault::Resume(id) => ok(id),
            Fault::Partition(a, b) | Fault::OneWay(a, b) => a.iter().chain(b).all(ok),
            Fault::Heal => true,
        };
        assert!(valid, "fault `{fault}` names a node outside 0..{n}");
        if matches!(fault, Fault::Restart(_)) {
            assert!(
                self.restarter.is_some(),
                "restart scheduled but no `on_restart` given"
            );
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Fault {
                    fault: fault.to_string(),
                },
            );
        }
        self.metrics.count("faults", 1);
        match fault {
            Fault::Crash(id) => {
                let node = &mut self.nodes[id.0];
                if let Some(process) = node.process.take() {
                    node.disk = Some(process.durable());
                    node.state = NodeState::Crashed;
                    node.timers.clear();
                    node.deferred.clear();
                }
            }
            Fault::Restart(id) => {
                if self.nodes[id.0].state == NodeState::Crashed {
                    let disk = self.nodes[id.0]
                        .disk
                        .take()
                        .expect("a crashed node has a disk");
                    let restart = self.restarter.as_mut().expect("checked when scheduled");
                    let process = restart(id, disk);
                    let node = &mut self.nodes[id.0];
                    node.process = Some(process);
                    node.state = NodeState::Up;
                    self.start(id);
                }
            }
            Fault::Pause(id) => {
                if self.nodes[id.0].state == NodeState::Up {
                    self.nodes[id.0].state = NodeState::Paused;
                }
            }
            Fault::Resume(id) => {
                if self.nodes[id.0].state == NodeState::Paused {
                    self.nodes[id.0].state = NodeState::Up;
                    // Everything that waited is handled now, in the order it arrived.
                    let deferred = std::mem::take(&mut self.nodes[id.0].deferred);
                    for entry in deferred {
                        let timer = match entry.kind {
                            EventKind::Timer { timer, .. } => Some(timer),
                            _ => None,
                        };
                        let seq = self.push(self.now, entry.kind);
                        if let Some(t) = timer {
                            let slot = &mut self.nodes[id.0].timers[t.0 as usize];
                            if *slot == entry.seq {
                                *slot = seq;
                            }
                        }
                    }
                }
            }
            Fault::Partition(a, b) => self.network.partition(&a, &b),
            Fault::OneWay(from, to) => self.network.block(&from, &to),
            Fault::Heal => self.network.heal(),
        }
    }

    fn check_invariants(&mut self) -> Result<(), InvariantViolation> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let invariants = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for (name, check) in &invariants {
            if let Err(message) = check(self) {
                result = Err(InvariantViolation {
                    name: name.clone(),
                    message,
                    at: self.now,
                    event: self.events,
                    seed: self.seed,
                });
                break;
            }
        }
        self.invariants = invariants;
        result
    }

    /// The seed this run was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time (true time, not any node's clock).
    pub fn now(&self) -> Time {
        self.now
    }

    /// How many nodes the run has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `id`'s process, unless it is crashed.
    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.nodes[id.0].process.as_ref()
    }

    /// Node `id`'s process for inspection or reconfiguration by a test, unless it is crashed.
    pub fn process_mut(&mut self, id: NodeId) -> Option<&mut P> {
        self.nodes[id.0].process.as_mut()
    }

    /// Whether node `id` is up, paused or crashed.
    pub fn state(&self, id: NodeId) -> NodeState {
        self.nodes[id.0].state
    }

    /// What node `id`'s clock reads now.
    pub fn local_time(&self, id: NodeId) -> Time {
        self.nodes[id.0].clock.local(self.now)
    }

    /// Whether a partition currently blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.network.is_blocked(from, to)
    }

    /// The metrics processes recorded.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for percentile queries (which sort samples in place).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// What the network did to messages so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// How many events were processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The fingerprint of everything that happened so far (zero-effort determinism check).
    pub fn trace_hash(&self) -> u64 {
        self.recorder.hash.0
    }

    /// The recorded events (empty unless the trace level is `Full`).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.recorder.events
    }

    /// A one-paragraph account of the run, for error messages and logs.
    pub fn summary(&self) -> String {
        let s = self.stats;
        let mut out = String::new();
        let _ = write!(
            out,
            "seed {} at {}: {} events; messages sent {}, delivered {}, lost {}, blocked {}, \
             to crashed nodes {}, duplicated {}",
            self.seed,
            self.now,
            self.events,
            s.sent,
            s.delivered,
            s.lost,
            s.blocked,
            s.to_crashed,
            s.duplicated
        );
        out
    }
}
