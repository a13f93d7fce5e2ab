//! A process that stamps every event with all three logical clocks, and a driver that records a
//! run of such processes with the truth beside each event.
//!
//! Each [`ClockNode`] wakes at random moments (exponential gaps on its own clock) and either
//! does something local or sends a message to a random peer; it also handles every message it
//! receives. Every one of those events gets a Lamport timestamp, a vector timestamp and a
//! hybrid logical timestamp, and is appended to the node's [`ClockNode::log`]. Messages carry
//! the three sender timestamps and a [`MsgId`] naming the send event, so that a recorder can
//! rebuild the run's happened-before relation from the messages alone.
//!
//! [`run_recorded`] steps the simulator and collects each node's new events right after the
//! step that produced them, adding what no process can know: the true time of the event and
//! the reading of the fastest clock in the system at that instant (for the HLC bound). The
//! result is a [`Recording`], which computes the ground-truth happened-before relation.
//!
//! Clock rules, per event of node `i` (one place, `ClockNode::stamp`): Lamport IR1/IR2, vector
//! merge-then-increment, HLC tick/receive with the node's physical clock `ctx.now()`.

use std::time::Duration;

use super::happened_before::{EventKind, MsgId, Recording, Stamps};
use super::hlc::{Hlc, HlcTimestamp};
use super::lamport::LamportClock;
use super::vector::VectorClock;
use rand::RngExt;

use crate::sim::{Ctx, Exponential, NodeId, Process, Sim, TimerId};

/// The node's wake-up timer.
const WAKE: TimerId = TimerId(0);

/// A message: an id naming its send event, and the sender's three timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampedMsg {
    /// Which send event this is.
    pub id: MsgId,
    /// The send event's Lamport timestamp.
    pub lamport: u64,
    /// The send event's vector timestamp.
    pub vector: VectorClock,
    /// The send event's hybrid logical timestamp.
    pub hlc: HlcTimestamp,
}

// ANCHOR: clock_node
/// A process that stamps all its events with three clocks.
#[derive(Clone, Debug)]
pub struct ClockNode {
    /// How many processes the run has (the vector clock's width).
    pub n: usize,
    /// Mean time between two wake-ups, on this node's clock.
    pub mean_gap: Duration,
    /// Probability that a wake-up sends a message rather than doing something local.
    pub send_probability: f64,
    /// No wake-ups after this many of them (received messages are still handled).
    pub max_wakeups: u64,
    /// Wake-ups so far. Invariant: at most `max_wakeups`.
    pub wakeups: u64,
    /// This node's Lamport clock.
    pub lamport: LamportClock,
    /// This node's vector clock. Invariant: entry `self` counts this node's events.
    pub vector: VectorClock,
    /// This node's hybrid logical clock.
    pub hlc: Hlc,
    /// Messages sent so far (the next send's sequence number).
    pub sent: u64,
    /// Events not yet collected by the recorder, oldest first.
    pub log: Vec<(EventKind, Stamps)>,
}
// ANCHOR_END: clock_node

impl ClockNode {
    /// A node in a run of `n`, waking every `mean_gap` on average, `max_wakeups` times.
    pub fn new(n: usize, mean_gap: Duration, send_probability: f64, max_wakeups: u64) -> Self {
        ClockNode {
            n,
            mean_gap,
            send_probability,
            max_wakeups,
            wakeups: 0,
            lamport: LamportClock::default(),
            vector: VectorClock::new(n),
            hlc: Hlc::default(),
            sent: 0,
            log: Vec::new(),
        }
    }

    // ANCHOR: stamp
    /// Advances the three clocks for one event of this node and logs it. `received` is the
    /// message for a receive event, `None` for a local or send event.
    fn stamp(&mut self, ctx: &Ctx<'_, StampedMsg>, kind: EventKind, received: Option<&StampedMsg>) {
        let me = ctx.id().0;
        let pt = ctx.now().0;
        let (lamport, hlc) = match received {
            Some(m) => {
                self.vector.merge(&m.vector);
                (self.lamport.receive(m.lamport), self.hlc.receive(pt, m.hlc))
            }
            None => (self.lamport.tick(), self.hlc.tick(pt)),
        };
        self.vector.increment(me);
        let stamps = Stamps {
            lamport,
            vector: self.vector.clone(),
            hlc,
            pt,
        };
        self.log.push((kind, stamps));
    }
    // ANCHOR_END: stamp

    fn schedule_wakeup(&mut self, ctx: &mut Ctx<'_, StampedMsg>) {
        if self.wakeups < self.max_wakeups {
            let gap = ctx.rng().sample(Exponential {
                mean: self.mean_gap.as_secs_f64(),
            });
            ctx.set_timer(WAKE, Duration::from_secs_f64(gap));
        }
    }
}

impl Process for ClockNode {
    type Msg = StampedMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, StampedMsg>) {
        self.schedule_wakeup(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, StampedMsg>, from: NodeId, msg: StampedMsg) {
        let kind = EventKind::Receive {
            from: from.0,
            msg: msg.id,
        };
        self.stamp(ctx, kind, Some(&msg));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, StampedMsg>, _timer: TimerId) {
        self.wakeups += 1;
        let me = ctx.id().0;
        if self.n > 1 && ctx.rng().random_bool(self.send_probability) {
            // A peer other than me, uniformly.
            let mut to = ctx.rng().random_range(0..self.n - 1);
            if to >= me {
                to += 1;
            }
            let id = MsgId {
                sender: me,
                seq: self.sent,
            };
            self.sent += 1;
            self.stamp(ctx, EventKind::Send { to, msg: id }, None);
            let stamps = &self.log.last().expect("just logged").1;
            let msg = StampedMsg {
                id,
                lamport: stamps.lamport,
                vector: stamps.vector.clone(),
                hlc: stamps.hlc,
            };
            ctx.send(NodeId(to), msg);
        } else {
            self.stamp(ctx, EventKind::Local, None);
        }
        self.schedule_wakeup(ctx);
    }

    fn durable(&self) {}
}

// ANCHOR: run_recorded
/// Runs `sim` until nothing is left to do (every node stops after its `max_wakeups`) and
/// records every event of every node, in the order the simulator processed them, with its true
/// time and the reading of the fastest clock at that instant.
pub fn run_recorded(sim: &mut Sim<ClockNode>) -> Recording {
    let mut recording = Recording::default();
    let nodes: Vec<NodeId> = (0..sim.node_count()).map(NodeId).collect();
    while sim.step().expect("no invariants registered") {
        let fastest = nodes.iter().map(|&id| sim.local_time(id).0).max();
        let now = sim.now();
        for &id in &nodes {
            let Some(node) = sim.process_mut(id) else {
                continue;
            };
            for (kind, stamps) in node.log.drain(..) {
                let max_pt = fastest.expect("at least one node");
                recording.push(id.0, now, kind, stamps, max_pt);
            }
        }
    }
    recording
}
// ANCHOR_END: run_recorded
