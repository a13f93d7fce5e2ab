//! The coordinator side of a server: quorum reads and writes, stand-ins, read repair.
//!
//! Any server coordinates any request (Dynamo §4.5 routes through a load balancer or a
//! partition-aware client; we let the client pick a server at random). For a put, the
//! coordinator stamps the new version ([`new_clock`]) and sends it to the key's `n` owners; it
//! answers the client after `w` acknowledgements. For a get it asks the `n` owners and answers
//! with the merged siblings of the first `r` replies. It keeps the request open until every
//! server asked has answered or the timeout passes, so that late replies still count for read
//! repair.
//!
//! With sloppy quorums on, owners that have not answered after `stand_in_after` are replaced by
//! the next servers of the key's extended preference list (Dynamo §4.6); a stand-in keeps a
//! write as a *hint* naming the owner, and hands it over later ([`super::repair`]).

use std::collections::BTreeSet;

use super::message::StoreMsg;
use super::node::{Server, TICK};
use super::ring::Key;
use super::version::{Siblings, Value, Version, new_clock};
use crate::coordination::time::vector::VectorClock;
use crate::sim::{Ctx, NodeId, Time};

/// What a request does.
#[derive(Clone, Debug)]
pub(super) enum Kind {
    Get,
    /// The new version, and its clock for the client's answer.
    Put(Siblings, VectorClock),
}

/// A request this server coordinates.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    /// Who asked, and its request number (echoed in the answer).
    client: NodeId,
    req: u64,
    /// The key read or written.
    key: Key,
    /// A get, or a put with the version it writes.
    kind: Kind,
    /// When this server received the request (deadlines count from here).
    started: Time,
    /// The key's owners.
    owners: Vec<usize>,
    /// Servers asked, owners first, then stand-ins.
    asked: Vec<usize>,
    /// Servers that answered. Invariant: a subset of `asked`.
    answered: BTreeSet<usize>,
    /// The replies of a get.
    replies: Vec<(usize, Siblings)>,
    /// Whether the client has its answer.
    done: bool,
    /// Whether stand-ins were asked already.
    stood_in: bool,
}

// ANCHOR: coordinate_put
impl Server {
    /// A client's put: stamp the version, send it to the owners.
    pub(super) fn coordinate_put(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        client: NodeId,
        req: u64,
        key: Key,
        value: Value,
        context: &VectorClock,
    ) {
        let clock = new_clock(context, self.id, &mut self.disk.counter);
        let version = Siblings::one(Version {
            clock: super::version::Clock(clock.clone()),
            value,
        });
        self.start(ctx, client, req, key, Kind::Put(version, clock));
    }

    /// A client's get: ask the owners.
    pub(super) fn coordinate_get(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        client: NodeId,
        req: u64,
        key: Key,
    ) {
        self.start(ctx, client, req, key, Kind::Get);
    }

    fn start(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        client: NodeId,
        req: u64,
        key: Key,
        kind: Kind,
    ) {
        let op = self.next_op;
        self.next_op += 1;
        let owners = self.owners(key);
        for &owner in &owners {
            ctx.send(NodeId(owner), request(op, key, &kind, None));
        }
        let pending = Pending {
            client,
            req,
            key,
            kind,
            started: ctx.now(),
            asked: owners.clone(),
            owners,
            answered: BTreeSet::new(),
            replies: Vec::new(),
            done: false,
            stood_in: false,
        };
        self.pending.insert(op, pending);
        if !self.ticking {
            self.ticking = true;
            ctx.set_timer(TICK, self.tick_period());
        }
    }
}
// ANCHOR_END: coordinate_put

/// The message that asks a replica (or a stand-in for `hint`) to take part in `op`.
fn request(op: u64, key: Key, kind: &Kind, hint: Option<usize>) -> StoreMsg {
    match kind {
        Kind::Get => StoreMsg::Read { op, key },
        Kind::Put(siblings, _) => StoreMsg::Write {
            op,
            key,
            siblings: siblings.clone(),
            hint,
        },
    }
}

// ANCHOR: quorum_replies
impl Server {
    /// An acknowledgement: answer the client at the `w`-th.
    pub(super) fn on_write_ack(&mut self, ctx: &mut Ctx<'_, StoreMsg>, from: NodeId, op: u64) {
        let w = self.config.quorum.w;
        let Some(p) = self.pending.get_mut(&op) else {
            return; // late: the request finished
        };
        if !p.asked.contains(&from.0) || !p.answered.insert(from.0) {
            return;
        }
        if !p.done && p.answered.len() >= w {
            p.done = true;
            if let Kind::Put(_, clock) = &p.kind {
                let clock = clock.clone();
                ctx.send(p.client, StoreMsg::PutOk { req: p.req, clock });
            }
        }
        if p.answered.len() == p.asked.len() {
            self.finish(ctx, op);
        }
    }

    /// A read reply: answer the client with the merge of the first `r`.
    pub(super) fn on_read_reply(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        from: NodeId,
        op: u64,
        siblings: Siblings,
    ) {
        let r = self.config.quorum.r;
        let Some(p) = self.pending.get_mut(&op) else {
            return;
        };
        if !p.asked.contains(&from.0) || !p.answered.insert(from.0) {
            return;
        }
        p.replies.push((from.0, siblings));
        if !p.done && p.replies.len() >= r {
            p.done = true;
            let mut merged = Siblings::default();
            for (_, s) in &p.replies {
                merged.merge(s);
            }
            let req = p.req;
            ctx.send(
                p.client,
                StoreMsg::GetOk {
                    req,
                    siblings: merged,
                },
            );
        }
        if p.answered.len() == p.asked.len() {
            self.finish(ctx, op);
        }
    }
}
// ANCHOR_END: quorum_replies

// ANCHOR: read_repair
impl Server {
    /// Ends request `op`: a client still waiting gets `Failed`; a get repairs the owners whose
    /// replies lacked versions that others had.
    fn finish(&mut self, ctx: &mut Ctx<'_, StoreMsg>, op: u64) {
        let Some(p) = self.pending.remove(&op) else {
            return;
        };
        if !p.done {
            ctx.send(p.client, StoreMsg::Failed { req: p.req });
        }
        if !matches!(p.kind, Kind::Get) || !self.config.read_repair || !p.done {
            return;
        }
        let mut newest = Siblings::default();
        for (_, s) in &p.replies {
            newest.merge(s);
        }
        for (server, s) in &p.replies {
            if p.owners.contains(server) && *s != newest {
                ctx.count("read_repairs_sent");
                let siblings = newest.clone();
                ctx.send(
                    NodeId(*server),
                    StoreMsg::Repair {
                        key: p.key,
                        siblings,
                    },
                );
            }
        }
    }
}
// ANCHOR_END: read_repair

// ANCHOR: stand_ins
impl Server {
    /// Deadlines: ask stand-ins for silent owners (sloppy quorums), fail requests that ran out
    /// of time.
    pub(super) fn tick(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        let now = ctx.now();
        let ops: Vec<u64> = self.pending.keys().copied().collect();
        for op in ops {
            let p = &self.pending[&op];
            let age = now.since(p.started);
            if age >= self.config.request_timeout {
                self.finish(ctx, op);
            } else if self.config.sloppy && !p.stood_in && age >= self.config.stand_in_after {
                self.ask_stand_ins(ctx, op);
            }
        }
        self.ticking = !self.pending.is_empty();
        if self.ticking {
            ctx.set_timer(TICK, self.tick_period());
        }
    }

    /// For each owner that has not answered, ask the next server of the extended preference
    /// list that was not asked yet; a write goes there as a hint for that owner.
    fn ask_stand_ins(&mut self, ctx: &mut Ctx<'_, StoreMsg>, op: u64) {
        let extended = self
            .ring
            .preference_list(self.pending[&op].key, self.servers);
        let p = self.pending.get_mut(&op).expect("op is pending");
        p.stood_in = true;
        let silent: Vec<usize> = p
            .owners
            .iter()
            .copied()
            .filter(|o| !p.answered.contains(o))
            .collect();
        let candidates: Vec<usize> = extended
            .into_iter()
            .filter(|s| !p.asked.contains(s))
            .collect();
        let mut candidates = candidates.into_iter();
        for owner in silent {
            let Some(stand_in) = candidates.next() else {
                break;
            };
            p.asked.push(stand_in);
            ctx.send(NodeId(stand_in), request(op, p.key, &p.kind, Some(owner)));
        }
    }
}
// ANCHOR_END: stand_ins

impl Server {
    /// How often deadlines are checked.
    fn tick_period(&self) -> std::time::Duration {
        (self.config.stand_in_after.min(self.config.request_timeout) / 2)
            .max(std::time::Duration::from_micros(1))
    }
}
