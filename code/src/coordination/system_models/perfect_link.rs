//! A perfect link built on a fair-loss link: sequence numbers, retransmission, de-duplication.
//!
//! Cachin, Guerraoui and Rodrigues (*Introduction to Reliable and Secure Distributed
//! Programming*, 2011, §2.4) define a ladder of link abstractions, each built on the one below:
//!
//! 1. **Fair-loss link** (§2.4.2): a message may be lost, but one sent infinitely often is
//!    delivered infinitely often; the link creates no message and duplicates only finitely
//!    often. The simulator's [`LinkConfig`](crate::sim::LinkConfig) with `loss < 1` is one.
//! 2. **Stubborn link** (§2.4.3): every message sent is delivered infinitely often. Built by
//!    retransmitting forever. Ours retransmits only until the message is acknowledged, which is
//!    the practical variant: once the receiver has it, repeating it is waste.
//! 3. **Perfect link** (§2.4.4): every message sent by a correct process to a correct process is
//!    delivered exactly once, and no message is invented. Built from a stubborn link by giving
//!    every message a sequence number and delivering each number only the first time.
//!
//! How it works: the [`Sender`] numbers its messages `0, 1, 2, ...`, sends them all, and on
//! every tick of its retransmission timer sends again each one not yet acknowledged. The
//! [`Receiver`] acknowledges every copy it receives (the first acknowledgement may have been
//! lost, so a duplicate must be acknowledged again) and delivers a message only if its number is
//! new. Delivery order is arrival order, not sending order: a perfect link promises exactly
//! once, not FIFO (chapter 2's transport adds ordering).
//!
//! Simplifications, honestly: the receiver remembers every number it delivered, so its memory
//! grows with the stream (the chapter's exercise bounds it); the sender has no window, so it
//! puts its whole backlog on the wire at once; and the retransmission timer is fixed, not
//! adapted to the measured round trip (RFC 6298, chapter 2).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::sim::{Ctx, NodeId, Process, TimerId};

/// The sender's retransmission timer.
const RETRANSMIT: TimerId = TimerId(0);

/// What the two ends of a link send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkMsg {
    /// Message number `seq` with its payload.
    Data { seq: u64, payload: u64 },
    /// "I have received message `seq`."
    Ack { seq: u64 },
}

// ANCHOR: sender
/// The sending end: numbers messages and retransmits each until it is acknowledged.
#[derive(Clone, Debug)]
pub struct Sender {
    /// Where the messages go.
    pub peer: NodeId,
    /// How long to wait for acknowledgements before sending the unacknowledged again.
    pub retransmit_every: Duration,
    /// Messages sent but not acknowledged, by sequence number.
    /// Invariant: every key is below `next_seq`.
    pub unacked: BTreeMap<u64, u64>,
    /// The number the next message gets.
    pub next_seq: u64,
    /// How many transmissions went on the wire, first sends and retransmissions together.
    pub transmissions: u64,
}

impl Sender {
    /// A sender that will send `payloads` to `peer`, in order, as soon as it starts.
    pub fn new(peer: NodeId, retransmit_every: Duration, payloads: &[u64]) -> Sender {
        let unacked = payloads.iter().enumerate().map(|(i, p)| (i as u64, *p));
        Sender {
            peer,
            retransmit_every,
            unacked: unacked.collect(),
            next_seq: payloads.len() as u64,
            transmissions: 0,
        }
    }

    /// Puts every unacknowledged message on the wire and re-arms the timer while any is left.
    fn send_unacked(&mut self, ctx: &mut Ctx<'_, LinkMsg>) {
        for (&seq, &payload) in &self.unacked {
            ctx.send(self.peer, LinkMsg::Data { seq, payload });
            self.transmissions += 1;
        }
        if !self.unacked.is_empty() {
            ctx.set_timer(RETRANSMIT, self.retransmit_every);
        }
    }

    fn on_ack(&mut self, ctx: &mut Ctx<'_, LinkMsg>, seq: u64) {
        assert!(seq < self.next_seq, "ack for message {seq}, never sent");
        // A duplicate or late ack finds nothing to remove: an ordinary event, not an error.
        self.unacked.remove(&seq);
        if self.unacked.is_empty() {
            ctx.cancel_timer(RETRANSMIT);
        }
    }
}
// ANCHOR_END: sender

// ANCHOR: receiver
/// The receiving end: acknowledges every copy, delivers each sequence number once.
#[derive(Clone, Debug, Default)]
pub struct Receiver {
    /// With `false`, the receiver delivers every copy: the stubborn link, at-least-once.
    pub dedup: bool,
    /// Sequence numbers delivered so far. Grows without bound (see the chapter's exercise).
    pub seen: BTreeSet<u64>,
    /// Payloads handed to the application, in delivery order.
    pub delivered: Vec<u64>,
}

impl Receiver {
    fn on_data(&mut self, ctx: &mut Ctx<'_, LinkMsg>, from: NodeId, seq: u64, payload: u64) {
        // Always acknowledge: if our first ack was lost, the sender is still waiting for one.
        ctx.send(from, LinkMsg::Ack { seq });
        let first_copy = self.seen.insert(seq);
        if first_copy || !self.dedup {
            self.delivered.push(payload);
        }
    }
}
// ANCHOR_END: receiver

/// One end of a link, as a simulator process.
#[derive(Clone, Debug)]
pub enum LinkEnd {
    Sender(Sender),
    Receiver(Receiver),
}

impl Process for LinkEnd {
    type Msg = LinkMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, LinkMsg>) {
        if let LinkEnd::Sender(s) = self {
            s.send_unacked(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LinkMsg>, from: NodeId, msg: LinkMsg) {
        match (self, msg) {
            (LinkEnd::Sender(s), LinkMsg::Ack { seq }) => s.on_ack(ctx, seq),
            (LinkEnd::Receiver(r), LinkMsg::Data { seq, payload }) => {
                r.on_data(ctx, from, seq, payload);
            }
            (_, msg) => panic!("{msg:?} reached the wrong end of the link"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LinkMsg>, _timer: TimerId) {
        if let LinkEnd::Sender(s) = self {
            s.send_unacked(ctx);
        }
    }

    fn durable(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{LinkConfig, Sim};

    #[test]
    fn a_lossless_link_needs_no_retransmission() {
        let sender = Sender::new(NodeId(1), Duration::from_millis(50), &[7, 8, 9]);
        let receiver = Receiver {
            dedup: true,
            ..Receiver::default()
        };
        let ends = vec![LinkEnd::Sender(sender), LinkEnd::Receiver(receiver)];
        let mut sim = Sim::new(1, LinkConfig::constant(Duration::from_millis(5)), ends);
        sim.run_for(Duration::from_secs(1)).unwrap();
        let Some(LinkEnd::Receiver(r)) = sim.process(NodeId(1)) else {
            unreachable!("node 1 is the receiver")
        };
        assert_eq!(r.delivered, vec![7, 8, 9]);
        let Some(LinkEnd::Sender(s)) = sim.process(NodeId(0)) else {
            unreachable!("node 0 is the sender")
        };
        assert_eq!(s.transmissions, 3);
        assert!(s.unacked.is_empty());
    }
}
