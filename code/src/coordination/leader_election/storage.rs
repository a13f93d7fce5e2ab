//! The storage service: the resource the lock protects, with or without a fencing check.
//!
//! It holds one register (the value the leader maintains) and a log of every write it
//! received. With `fencing` on, it remembers the largest token it has accepted and refuses any
//! write with a smaller one ([`admit`]); this is the check Kleppmann's "How to do distributed
//! locking" (2016) asks of the resource, and the one Chubby's servers make on sequencers
//! (Burrows, OSDI 2006, §2.4). With `fencing` off it accepts every write, as a storage system
//! that knows nothing of the lock would.
//!
//! Either way it *records* whether each write was stale, that is, carried a token below the
//! largest one already accepted. A stale write that is accepted is the corruption the chapter
//! is about: a newer leader's write has been overwritten by an older leader's, a lost update.
//! The invariant of fenced storage is that this never happens ([`Storage::stale_accepted`]
//! stays zero); without fencing the campaign counts how often it does.
//!
//! Simplification: one register, guarded by one lock. A store with many keys, each under its
//! own lock, keeps one highest token per key; that is the chapter's coding exercise
//! ([`exercise`](super::exercise)).

use super::fencing::{FencingToken, admit};
use super::messages::LeaseMsg;
use crate::sim::{Ctx, NodeId, Time};

/// One write as the storage saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRecord {
    /// When it arrived, on the storage's clock.
    pub at: Time,
    /// Who sent it.
    pub from: NodeId,
    /// The token it carried.
    pub token: FencingToken,
    /// The writer's sequence number: with `from`, names the value.
    pub seq: u64,
    /// Whether its token was below the largest token accepted before it.
    pub stale: bool,
    /// Whether the storage accepted it.
    pub accepted: bool,
}

// ANCHOR: storage
/// A one-register storage service that may check fencing tokens.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    /// Whether writes with a token below `highest` are refused.
    pub fencing: bool,
    /// The largest token of any accepted write. Invariant: never decreases.
    pub highest: Option<FencingToken>,
    /// The register: the last accepted value, as (writer, seq, token).
    pub value: Option<(NodeId, u64, FencingToken)>,
    /// Every write received, in arrival order.
    pub log: Vec<WriteRecord>,
    /// Accepted writes whose token was below `highest` at the time: lost updates.
    /// Invariant with `fencing`: zero.
    pub stale_accepted: u64,
}
// ANCHOR_END: storage

impl Storage {
    /// A storage service, fencing or not.
    pub fn new(fencing: bool) -> Storage {
        Storage {
            fencing,
            ..Storage::default()
        }
    }

    /// Handles one message; only writes concern the storage.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        if let LeaseMsg::Write { token, seq } = msg {
            self.write(ctx, from, token, seq);
        }
    }

    // ANCHOR: write
    /// Applies or refuses one write and answers the writer.
    fn write(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, token: FencingToken, seq: u64) {
        let stale = !admit(self.highest, token);
        let accepted = !(self.fencing && stale);
        self.log.push(WriteRecord {
            at: ctx.now(),
            from,
            token,
            seq,
            stale,
            accepted,
        });
        if !accepted {
            let highest = self
                .highest
                .expect("a stale token is below some accepted one");
            ctx.count("writes_refused");
            ctx.send(from, LeaseMsg::Refused { token, highest });
            return;
        }
        if stale {
            ctx.count("stale_writes_accepted");
            self.stale_accepted += 1;
        }
        self.highest = self.highest.max(Some(token));
        self.value = Some((from, seq, token));
        ctx.send(from, LeaseMsg::Written { token, seq });
    }
    // ANCHOR_END: write
}
