//! The contract between a protocol and whatever runs it.
//!
//! A protocol is written as a *sans-I/O* state machine: it never reads a clock, opens a socket or
//! touches a global random generator. The runtime calls it with one input at a time (the start
//! of the run, a message, a timer) and a [`Ctx`] that carries the node's clock reading and random
//! stream in, and collects the node's effects out: messages to send and timers to set. The same
//! state machine can therefore run on the simulator (virtual time, injected faults) and on the
//! tokio driver (real sockets, real time) without a line changing. This is the shape of
//! etcd-io/raft's `Ready` and of stateright's `Out`.

use std::fmt::{self, Debug};
use std::time::Duration;

use super::metrics::Metrics;
use super::rng::SimRng;
use super::time::Time;

// ANCHOR: node_id
/// The name of a node in a run: its index, from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeId(pub usize);
// ANCHOR_END: node_id

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer of one node. Each node numbers its own timers (e.g. `0` = election, `1` = heartbeat);
/// setting a timer again replaces the pending one, like resetting an alarm clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TimerId(pub u32);

// ANCHOR: process
/// A protocol participant as a deterministic state machine.
pub trait Process {
    /// What nodes of this protocol send each other.
    type Msg: Clone + Debug;
    /// What survives a crash: the node's disk. `()` for a process with no durable state.
    type Durable: Clone + Debug;

    /// Called once when the node starts, and again after each restart.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message from `from` is delivered to this node.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer this node set fires (and was not reset or cancelled since).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId);

    /// The state to keep when the node crashes; it is handed to the restarted node.
    fn durable(&self) -> Self::Durable;

    /// The size of a message on the wire, in bytes (only bandwidth-limited links use it).
    fn message_size(_msg: &Self::Msg) -> usize {
        0
    }
}
// ANCHOR_END: process

// ANCHOR: effect
/// What a process asks its runtime to do: effects are data, not calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<M> {
    /// Send `msg` to node `to`. The network may delay, lose, duplicate or reorder it.
    Send { to: NodeId, msg: M },
    /// Fire `timer` after `after` of this node's local time, replacing a pending one.
    SetTimer { timer: TimerId, after: Duration },
    /// Forget `timer` if it is pending.
    CancelTimer { timer: TimerId },
}
// ANCHOR_END: effect

// ANCHOR: ctx
// ANCHOR: ctx_struct
/// What a process sees of the world while it handles one input.
pub struct Ctx<'a, M> {
    id: NodeId,
    now: Time,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<M>>,
    metrics: &'a mut Metrics,
}
// ANCHOR_END: ctx_struct

impl<'a, M> Ctx<'a, M> {
    /// Assembles a context; runtimes (the simulator, the tokio driver) call this.
    pub fn new(
        id: NodeId,
        now: Time,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<M>>,
        metrics: &'a mut Metrics,
    ) -> Self {
        Ctx {
            id,
            now,
            rng,
            effects,
            metrics,
        }
    }

    /// This node's name.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's *local* clock: it may run fast or slow and be offset from true time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// This node's random stream, derived from the run's seed. It implements `rand::Rng`:
    /// draw with `rand::RngExt` (`random_range`, `random_bool`, `sample`) and
    /// `rand::seq::IndexedRandom` (`choose`).
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sets (or resets) `timer` to fire after `after` of local time.
    pub fn set_timer(&mut self, timer: TimerId, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Cancels `timer` if it is pending.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Adds one to the counter `name`.
    pub fn count(&mut self, name: &'static str) {
        self.metrics.count(name, 1);
    }

    /// Adds `by` to the counter `name`.
    pub fn add(&mut self, name: &'static str, by: u64) {
        self.metrics.count(name, by);
    }

    /// Records `value` in the histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.metrics.observe(name, value);
    }
}
// ANCHOR_END: ctx
