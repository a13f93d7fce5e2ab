//! The ground truth: which event of a recorded run happened before which.
//!
//! Lamport's happened-before relation (CACM 1978, §2) is defined on the events of a run, not on
//! timestamps: `a -> b` if `a` comes before `b` on one process, or `a` sends a message that `b`
//! receives, or a chain of such steps leads from `a` to `b`. A [`Recording`] holds every event
//! of a run and the messages that link them, builds exactly those edges, and answers
//! `happened_before(a, b)` by graph reachability. It never looks at a clock, which is what makes
//! it a fair judge of the clocks: the chapter's tests check Lamport clocks, vector clocks and
//! hybrid logical clocks against it.
//!
//! How: events arrive in the order the simulator processed them, which is a topological order
//! of the graph (a receive is always processed after its send, and a process's events in the
//! order they happened). So one pass suffices: the set of events that reach event `e` is the
//! union, over `e`'s direct predecessors `p`, of `p` and the set that reaches `p`. Sets are
//! bitsets, so a run of `E` events costs `E^2 / 64` words, fine for the thousands of events a
//! test uses.

use std::collections::BTreeMap;

use super::hlc::HlcTimestamp;
use super::vector::VectorClock;
use crate::sim::Time;

// ANCHOR: events
/// Names a message by its send event: the sender and the sender's count of sends before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgId {
    /// The sending process.
    pub sender: usize,
    /// How many messages the sender had sent before this one.
    pub seq: u64,
}

/// What an event was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Something only this process saw.
    Local,
    /// The sending of message `msg` to process `to`.
    Send { to: usize, msg: MsgId },
    /// The receipt of message `msg` from process `from`.
    Receive { from: usize, msg: MsgId },
}

/// The three timestamps of an event, and the physical clock reading they were taken at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamps {
    /// Lamport timestamp.
    pub lamport: u64,
    /// Vector timestamp.
    pub vector: VectorClock,
    /// Hybrid logical timestamp.
    pub hlc: HlcTimestamp,
    /// The process's own physical clock at the event, in ns.
    pub pt: u64,
}
// ANCHOR_END: events

// ANCHOR: recorded_event
/// One event of a recorded run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The process it happened on.
    pub node: usize,
    /// True (simulated) time of the event.
    pub at: Time,
    /// What happened.
    pub kind: EventKind,
    /// Its timestamps.
    pub stamps: Stamps,
    /// The largest physical clock reading of any process at that instant, in ns.
    pub max_pt: u64,
}
// ANCHOR_END: recorded_event

/// A recorded run and its happened-before relation.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// Every event, in processing order (a topological order of happened-before).
    pub events: Vec<RecordedEvent>,
    /// `reached_by[e]`: a bitset of the events that happened before event `e`.
    reached_by: Vec<Vec<u64>>,
    /// The latest event of each process so far.
    last_on_node: BTreeMap<usize, usize>,
    /// The send event of each message.
    send_of: BTreeMap<MsgId, usize>,
}

// ANCHOR: recording
impl Recording {
    /// Appends an event; it must come after all events that happened before it.
    pub fn push(&mut self, node: usize, at: Time, kind: EventKind, stamps: Stamps, max_pt: u64) {
        let e = self.events.len();
        let mut predecessors = Vec::new();
        if let Some(&previous) = self.last_on_node.get(&node) {
            predecessors.push(previous);
        }
        match kind {
            EventKind::Send { msg, .. } => {
                let first = self.send_of.insert(msg, e).is_none();
                assert!(first, "message {msg:?} sent twice");
            }
            EventKind::Receive { msg, .. } => {
                let send = self.send_of.get(&msg);
                let send = *send.unwrap_or_else(|| panic!("{msg:?} received before it was sent"));
                predecessors.push(send);
            }
            EventKind::Local => {}
        }
        let mut reach = vec![0u64; e / 64 + 1];
        for p in predecessors {
            for (word, theirs) in reach.iter_mut().zip(&self.reached_by[p]) {
                *word |= theirs;
            }
            reach[p / 64] |= 1 << (p % 64);
        }
        self.reached_by.push(reach);
        self.last_on_node.insert(node, e);
        self.events.push(RecordedEvent {
            node,
            at,
            kind,
            stamps,
            max_pt,
        });
    }

    /// Whether event `a` happened before event `b` (indices into [`Recording::events`]).
    pub fn happened_before(&self, a: usize, b: usize) -> bool {
        self.reached_by[b]
            .get(a / 64)
            .is_some_and(|word| word & (1 << (a % 64)) != 0)
    }

    /// Whether neither event happened before the other (and they are distinct).
    pub fn concurrent(&self, a: usize, b: usize) -> bool {
        a != b && !self.happened_before(a, b) && !self.happened_before(b, a)
    }
}
// ANCHOR_END: recording

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps() -> Stamps {
        Stamps {
            lamport: 0,
            vector: VectorClock::default(),
            hlc: HlcTimestamp::default(),
            pt: 0,
        }
    }

    #[test]
    fn happened_before_follows_program_order_messages_and_transitivity() {
        let m = MsgId { sender: 0, seq: 0 };
        let mut r = Recording::default();
        let t = Time::ZERO;
        r.push(0, t, EventKind::Local, stamps(), 0); // 0: a1
        r.push(1, t, EventKind::Local, stamps(), 0); // 1: b1
        r.push(0, t, EventKind::Send { to: 1, msg: m }, stamps(), 0); // 2: a2
        r.push(2, t, EventKind::Local, stamps(), 0); // 3: c1
        r.push(1, t, EventKind::Receive { from: 0, msg: m }, stamps(), 0); // 4: b2
        assert!(r.happened_before(0, 2), "program order");
        assert!(r.happened_before(2, 4), "message");
        assert!(r.happened_before(0, 4), "transitivity");
        assert!(r.happened_before(1, 4));
        assert!(r.concurrent(0, 1));
        assert!(r.concurrent(3, 4));
        assert!(!r.happened_before(4, 0));
        assert!(!r.happened_before(2, 2), "irreflexive");
    }
}
