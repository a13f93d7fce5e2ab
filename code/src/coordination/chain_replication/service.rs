//! A server's processor: one message at a time, each taking a fixed service time.
//!
//! The simulator delivers a message and the process handles it in zero time, so on its own it
//! models servers of infinite capacity: throughput would then depend only on network latency, and
//! no replica could ever be a bottleneck. But the whole point of CRAQ is a bottleneck: with
//! classic chain replication every read lands on the tail, and its processor saturates while the
//! other replicas idle. So each replica puts incoming messages in a FIFO queue and handles them
//! one by one, each after `service_time` of local time (a single-server queue, M/D/1 when
//! arrivals are Poisson). A replica's capacity is then `1 / service_time` messages per second.
//!
//! The queue is generic over the message type so that other protocols (Raft, for the chapter's
//! comparison) can be measured under the same cost model: pass each incoming message through
//! [`ServiceQueue::arrive`], and handle what [`ServiceQueue::complete`] returns when the queue's
//! timer fires.
//!
//! Simplification: sending costs nothing, and every message costs the same, whatever its size.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sim::{Ctx, NodeId, TimerId};

// ANCHOR: service_queue
/// A single-server FIFO queue of messages waiting for a node's processor.
#[derive(Clone, Debug)]
pub struct ServiceQueue<M> {
    /// How long handling one message takes. Zero: messages are handled on arrival.
    pub service_time: Duration,
    /// The timer this queue uses to signal the end of a service.
    pub timer: TimerId,
    /// Messages waiting, oldest first; the first is in service when `busy`.
    /// Invariant: `busy == !waiting.is_empty()` (when `service_time` is non-zero).
    waiting: VecDeque<(NodeId, M)>,
    /// Whether the processor is serving the first waiting message.
    busy: bool,
    /// Messages served so far.
    pub served: u64,
}

impl<M> ServiceQueue<M> {
    /// An idle queue whose services take `service_time` and are timed with `timer`.
    pub fn new(service_time: Duration, timer: TimerId) -> ServiceQueue<M> {
        ServiceQueue {
            service_time,
            timer,
            waiting: VecDeque::new(),
            busy: false,
            served: 0,
        }
    }

    /// A message arrived. Returns it back if it can be handled right away (zero service time);
    /// otherwise queues it, starting its service if the processor is idle.
    pub fn arrive<N>(&mut self, ctx: &mut Ctx<'_, N>, from: NodeId, msg: M) -> Option<(NodeId, M)> {
        if self.service_time.is_zero() {
            self.served += 1;
            return Some((from, msg));
        }
        self.waiting.push_back((from, msg));
        if !self.busy {
            self.busy = true;
            ctx.set_timer(self.timer, self.service_time);
        }
        None
    }

    /// The service timer fired: returns the message whose service is complete, and starts
    /// serving the next one, if any.
    pub fn complete<N>(&mut self, ctx: &mut Ctx<'_, N>) -> (NodeId, M) {
        assert!(self.busy, "service completed on an idle processor");
        let done = self.waiting.pop_front().expect("busy implies a message");
        self.served += 1;
        self.busy = !self.waiting.is_empty();
        if self.busy {
            ctx.set_timer(self.timer, self.service_time);
        }
        done
    }

    /// Messages waiting, including the one in service.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}
// ANCHOR_END: service_queue
