//! A client of the lock: a would-be leader that acquires the lease, renews it, and writes to
//! the storage service while it believes it holds the lease.
//!
//! **Believing it leads.** The client counts its lease on its own clock, conservatively (see
//! [`local_lease_expiry`]): from when it *sent* the request that was granted, minus a safety
//! margin. It is leader while `ctx.now()` is before that expiry and it holds a token. It renews
//! every `renew_every` (well inside the TTL, so that one lost renewal is not fatal), steps down
//! when the service denies a renewal or the storage refuses its token, and, when it is not
//! leader, asks for the lock every `retry`.
//!
//! **Check, then act.** A write takes two steps, as it does in every real program: the client
//! first checks that it leads and decides to write (the `WORK` timer), then, `work` later, sends
//! the write with the token it checked (the `COMMIT` timer). The `work` window stands for
//! whatever lies between a lease check and the write reaching the storage: computing the value,
//! a system call, a network delay, a garbage-collection pause. The client does not check again
//! before sending, but checking again would not help: the second check would have its own
//! window. Kleppmann ("How to do distributed locking", 2016) makes this point with HBase's
//! account of a GC pause that outlasted a ZooKeeper session; here the simulator's
//! `Fault::Pause` freezes the client inside the window, and when it resumes, its deferred
//! `COMMIT` timer fires first, before it has heard that its lease is gone.
//!
//! Invariants: `token` only grows (a grant with a smaller token is an old, duplicated answer
//! and is ignored); a pending write carries the token under which it was decided.

use std::time::Duration;

use super::fencing::{FencingToken, local_lease_expiry};
use super::messages::LeaseMsg;
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// Ask for the lock (when not leader) or renew it (when leader).
const LEASE: TimerId = TimerId(0);
/// Decide the next write, if leader.
const WORK: TimerId = TimerId(1);
/// Send the write decided under the lease.
const COMMIT: TimerId = TimerId(2);

/// How a client behaves: which lock, where the services are, and its timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// The name of the lock that makes its holder the leader.
    pub lock: String,
    /// The lock service.
    pub service: NodeId,
    /// The storage service the leader writes to.
    pub storage: NodeId,
    /// Time between two attempts to acquire the lock, while not leader.
    pub retry: Duration,
    /// Time between two renewals, while leader. Should be well below the TTL.
    pub renew_every: Duration,
    /// Time between two writes, while leader.
    pub write_every: Duration,
    /// Time between deciding a write (lease checked) and sending it.
    pub work: Duration,
    /// Subtracted from the TTL when the client counts its lease: drift and the work window.
    pub margin: Duration,
}

/// Something the client did or learned, on its own clock, for transcripts and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// Became leader with `token`, valid (locally) until `until`.
    Leader { token: FencingToken, until: Time },
    /// Checked the lease and decided to write value `seq` under `token`.
    Decided { token: FencingToken, seq: u64 },
    /// Sent the write `seq` under `token`.
    Sent { token: FencingToken, seq: u64 },
    /// Stopped being leader: the lease ran out on the local clock.
    Expired { token: FencingToken },
    /// Stopped being leader: the service denied a renewal.
    Deposed { token: FencingToken },
    /// Stopped being leader: the storage refused the token.
    Fenced { token: FencingToken },
}

// ANCHOR: client
/// A would-be leader.
#[derive(Clone, Debug)]
pub struct Client {
    /// How it behaves.
    pub config: ClientConfig,
    /// The token of the lease it believes it holds. Invariant: never decreases while `Some`.
    pub token: Option<FencingToken>,
    /// The largest token it ever held, so that an old duplicated grant is recognised.
    pub highest_token: Option<FencingToken>,
    /// Until when, on its clock, it may act on `token`. Meaningless when `token` is `None`.
    pub lease_until: Time,
    /// A write decided under the lease and not yet sent: (token, seq).
    pub pending: Option<(FencingToken, u64)>,
    /// The number of the next value it writes; values are `(client, seq)` pairs.
    pub next_seq: u64,
    /// What it did, with its local time.
    pub notes: Vec<(Time, Note)>,
}
// ANCHOR_END: client

impl Client {
    /// A client that is not leader yet.
    pub fn new(config: ClientConfig) -> Client {
        Client {
            config,
            token: None,
            highest_token: None,
            lease_until: Time::ZERO,
            pending: None,
            next_seq: 0,
            notes: Vec::new(),
        }
    }

    // ANCHOR: is_leader
    /// Whether the client believes it leads at local time `now`.
    pub fn is_leader(&self, now: Time) -> bool {
        self.token.is_some() && now < self.lease_until
    }
    // ANCHOR_END: is_leader

    /// Starts the lease and write loops; the first acquire goes out at once.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        self.on_lease_timer(ctx);
        ctx.set_timer(WORK, self.config.write_every);
    }

    /// Handles one of the client's timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        match timer {
            LEASE => self.on_lease_timer(ctx),
            WORK => self.on_work_timer(ctx),
            COMMIT => self.on_commit_timer(ctx),
            _ => unreachable!("the client sets no timer {timer:?}"),
        }
    }

    /// Renews if leader, asks for the lock otherwise.
    fn on_lease_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        let now = ctx.now();
        self.expire_if_due(now);
        let lock = self.config.lock.clone();
        let (msg, next) = match self.token {
            Some(token) => {
                let renew = LeaseMsg::Renew {
                    lock,
                    token,
                    sent_at: now,
                };
                (renew, self.config.renew_every)
            }
            None => (LeaseMsg::Acquire { lock, sent_at: now }, self.config.retry),
        };
        ctx.send(self.config.service, msg);
        ctx.set_timer(LEASE, next);
    }

    // ANCHOR: work
    /// The check: if the lease is valid now, decide the next write and send it `work` later.
    fn on_work_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        let now = ctx.now();
        self.expire_if_due(now);
        if let Some(token) = self.token
            && self.is_leader(now)
            && self.pending.is_none()
        {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pending = Some((token, seq));
            self.notes.push((now, Note::Decided { token, seq }));
            ctx.set_timer(COMMIT, self.config.work);
        }
        ctx.set_timer(WORK, self.config.write_every);
    }

    /// The act: send the write decided under the lease. No second check (see the module essay).
    fn on_commit_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        if let Some((token, seq)) = self.pending.take() {
            self.notes.push((ctx.now(), Note::Sent { token, seq }));
            ctx.count("writes_sent");
            ctx.send(self.config.storage, LeaseMsg::Write { token, seq });
        }
    }
    // ANCHOR_END: work

    /// Handles an answer from the lock service or the storage.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, msg: LeaseMsg) {
        let now = ctx.now();
        match msg {
            LeaseMsg::Granted {
                token,
                ttl,
                sent_at,
                ..
            } => self.on_granted(
                ctx,
                token,
                local_lease_expiry(sent_at, ttl, self.config.margin),
            ),
            LeaseMsg::Denied { token: Some(t), .. } if self.token == Some(t) => {
                self.step_down(ctx, now, Note::Deposed { token: t });
            }
            LeaseMsg::Refused { token, .. } if self.token == Some(token) => {
                self.step_down(ctx, now, Note::Fenced { token });
            }
            // A denied acquire, an answer about an older lease, an acknowledgement: nothing to do.
            _ => {}
        }
    }

    // ANCHOR: on_granted
    /// A grant (new lease or renewal) that the client may act on until local time `until`.
    fn on_granted(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, token: FencingToken, until: Time) {
        let now = ctx.now();
        if self.highest_token.is_some_and(|h| token < h) || until <= now {
            // An old answer, duplicated or delayed: its lease is superseded or already over.
            return;
        }
        if self.token == Some(token) {
            self.lease_until = self.lease_until.max(until);
            return;
        }
        // A new grant: a new period of leadership, under a new token.
        self.token = Some(token);
        self.highest_token = Some(token);
        self.lease_until = until;
        self.notes.push((now, Note::Leader { token, until }));
        ctx.set_timer(LEASE, self.config.renew_every);
    }
    // ANCHOR_END: on_granted

    /// Steps down if the lease has run out on the local clock.
    fn expire_if_due(&mut self, now: Time) {
        if let Some(token) = self.token
            && now >= self.lease_until
        {
            self.token = None;
            self.notes.push((now, Note::Expired { token }));
        }
    }

    /// Stops being leader now, forgetting any write not yet sent.
    fn step_down(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, now: Time, why: Note) {
        self.token = None;
        self.pending = None;
        ctx.cancel_timer(COMMIT);
        self.notes.push((now, why));
    }
}
