//! Best-effort and eager reliable broadcast.
//!
//! A sender does not put `n - 1` copies on the wire at once: it sends one copy every
//! `send_gap` (a NIC, a loop over sockets). That is what makes "the sender crashed after
//! sending to one process" a state a run can reach, and the test
//! `reliable_broadcast_survives_a_sender_crash_after_one_copy` reaches it.
//!
//! *Eager reliable broadcast* (Cachin, Guerraoui and Rodrigues 2011): when a process
//! first receives a message it delivers it and relays it to every other process. If a correct
//! process delivered, it relays to all, and being correct it finishes relaying, so every
//! correct process receives a copy: *agreement* holds whatever the original sender did.
//! Invariant: a message is delivered at most once per process (`delivered` is checked first).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use crate::sim::{Ctx, NodeId, Process, TimerId};

/// One broadcast message: `(origin, sequence number at the origin)`.
pub type MessageId = (usize, u64);

/// Which guarantee the process implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Send once to each process; no relay.
    BestEffort,
    /// Relay every message to everyone on first receipt.
    Reliable,
}

/// The wire message: a broadcast message's id (the payload does not matter here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// Which broadcast this is.
    pub id: MessageId,
}

/// The timer that paces sends.
const SEND: TimerId = TimerId(0);

// ANCHOR: broadcaster
/// A member of a broadcast group of `n` processes.
#[derive(Clone, Debug)]
pub struct Broadcaster {
    /// Best-effort or reliable.
    mode: Mode,
    /// The group's size; members are `0..n`.
    n: usize,
    /// How many messages this process broadcasts when it starts.
    to_broadcast: u64,
    /// Time between two sends of this process.
    send_gap: Duration,
    /// Copies waiting for their turn on the wire.
    outbox: VecDeque<(NodeId, Data)>,
    /// The messages delivered here, in delivery order. Invariant: no duplicates.
    pub delivered: Vec<MessageId>,
    /// The same, as a set, to drop copies already delivered.
    seen: BTreeSet<MessageId>,
    /// Copies this process put on the wire.
    pub sent: u64,
}

impl Broadcaster {
    /// A member that broadcasts `to_broadcast` messages at start.
    pub fn new(mode: Mode, n: usize, to_broadcast: u64, send_gap: Duration) -> Broadcaster {
        Broadcaster {
            mode,
            n,
            to_broadcast,
            send_gap,
            outbox: VecDeque::new(),
            delivered: Vec::new(),
            seen: BTreeSet::new(),
            sent: 0,
        }
    }

    // ANCHOR_END: broadcaster
    // ANCHOR: relay
    /// Delivers `id` if new; queues a copy for every process except `me` and `skip`.
    fn deliver_and_send(&mut self, ctx: &mut Ctx<'_, Data>, id: MessageId, skip: Option<NodeId>) {
        if !self.seen.insert(id) {
            return;
        }
        self.delivered.push(id);
        let was_idle = self.outbox.is_empty();
        for to in (0..self.n)
            .map(NodeId)
            .filter(|&to| to != ctx.id() && Some(to) != skip)
        {
            self.outbox.push_back((to, Data { id }));
        }
        if was_idle {
            self.send_next(ctx);
        }
    }

    // ANCHOR_END: relay
    /// Puts the next queued copy on the wire, and paces the rest.
    fn send_next(&mut self, ctx: &mut Ctx<'_, Data>) {
        if let Some((to, msg)) = self.outbox.pop_front() {
            ctx.send(to, msg);
            self.sent += 1;
        }
        if !self.outbox.is_empty() {
            ctx.set_timer(SEND, self.send_gap);
        }
    }
}

impl Process for Broadcaster {
    type Msg = Data;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Data>) {
        for seq in 1..=self.to_broadcast {
            self.deliver_and_send(ctx, (ctx.id().0, seq), None);
        }
    }

    // ANCHOR: on_message
    fn on_message(&mut self, ctx: &mut Ctx<'_, Data>, from: NodeId, msg: Data) {
        match self.mode {
            Mode::BestEffort => {
                if self.seen.insert(msg.id) {
                    self.delivered.push(msg.id);
                }
            }
            Mode::Reliable => self.deliver_and_send(ctx, msg.id, Some(from)),
        }
    }
    // ANCHOR_END: on_message

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Data>, _timer: TimerId) {
        self.send_next(ctx);
    }

    fn durable(&self) {}
}
