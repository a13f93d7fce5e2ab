// GENERATED from code/examples/ch09_fencing_demo.rs and the `uds` modules sim, coordination::leader_election by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 9 listing: the paused ex-leader, without and then with fencing tokens.
//!
//! playground-bundle: sim coordination::leader_election
//!
//! Run: `cargo run -p uds --example ch09_fencing_demo`
use crate::coordination::leader_election::scenario::{
    Detail, name, paused_ex_leader, storage, transcript,
};
use crate::sim::Time;

// ANCHOR: main
fn main() {
    for fencing in [false, true] {
        let check = if fencing { "checks" } else { "ignores" };
        println!("== the storage {check} fencing tokens ==");
        // A holds the lease (token 1); paused from 510 ms to 2,510 ms, between deciding a
        // write and sending it. B takes the lease over (token 2) at 1,401 ms and writes.
        let mut sim = paused_ex_leader(fencing);
        sim.run_until(Time::from_millis(2_515))
            .expect("no invariants");
        for line in transcript(&sim, Detail::Story) {
            println!("{line}");
        }
        let s = storage(&sim);
        let (writer, seq, token) = s.value.expect("someone wrote");
        let writer = name(writer);
        println!("the register holds {writer}'s write seq {seq} ({token})");
        println!("stale writes accepted: {}\n", s.stale_accepted);
    }
}
// ANCHOR_END: main

mod coordination {

pub mod leader_election {
//! Chapter 9: leader election with leases, and why a lease needs a fencing token.
//!
//! Many systems need exactly one process to do something at a time: one writer of a file, one
//! primary of a replicated database, one scheduler of a cron job. The usual way to choose it is
//! a *lock with a time limit*, a **lease**, held in a strongly consistent store such as etcd,
//! ZooKeeper, Consul or Chubby: whoever holds the lease leads, and if the leader dies its
//! lease runs out and another process takes over, with nobody having to detect the death
//! (Gray and Cheriton, "Leases", SOSP 1989). This module builds that pattern on the simulator
//! and then breaks it, the way Kleppmann's "How to do distributed locking" (2016) does in
//! prose:
//!
//! - [`lock_service`]: a single process standing in for the consistent store. It grants a
//!   lease on a named lock for a TTL measured on *its* clock, and attaches to every grant a
//!   **fencing token** larger than every earlier one (Chubby's sequencer: Burrows, OSDI 2006,
//!   §2.4). It guarantees that at most one client holds a live lease at any instant *of its
//!   own clock*.
//! - [`client`]: a would-be leader. It acquires the lease, renews it before it runs out, and
//!   believes it leads while *its* clock says the lease is valid, minus a safety margin. While
//!   it leads it writes to the storage, attaching its token.
//! - [`storage`]: the resource the lock protects. With fencing on, it refuses any write whose
//!   token is below the largest it has accepted ([`fencing::admit`]); with fencing off, it
//!   accepts everything.
//!
//! **The claim the chapter proves:** a lease alone does not give mutual exclusion to the
//! *clients*, only to the lock service's view of them. Between a client's check of its lease
//! and the moment its write reaches the storage there is always a window, and a process pause
//! (garbage collection, a stopped VM) or a slow clock can stretch that window past the lease's
//! end, while a new leader has already been chosen and written. The ex-leader wakes up, still
//! believing it leads, and overwrites the new leader's work: a lost update. The fencing token
//! moves the decision to where the writes land: the storage has seen the new leader's larger
//! token, so it refuses the old one. [`scenario`] stages both failures (the paused ex-leader
//! and the slow-clocked ex-leader) and runs random pauses over many seeds; the tests in
//! `code/tests/part2/ch09_leader_election.rs` state the claims and check them.
//!
//! **Invariants.** Lock service: at most one live lease per lock on its clock; tokens of new
//! grants strictly increase; an expired lease is never renewed (both asserted). Storage with
//! fencing: the token of every accepted write is at least the token of every write accepted
//! before it (a campaign checks it after every event). Client: its token never decreases.
//!
//! **Simplifications.** The lock service is one process that never fails: the replication that
//! makes a real one fault-tolerant is chapter 10's subject (Raft). No `Release` message and no
//! wait queue: leaders let leases lapse, others poll. One lock, one register in the storage
//! (the coding exercise, [`exercise`], fences a store of many keys). Clients never crash: a
//! crash is the case a lease handles well, a pause is the case it does not.
//!
//! Everything here uses only std and `rand` (as does [`crate::sim`]), so the chapter's
//! runnable listing built from it runs on the Rust playground.

pub mod client {
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
}
pub mod exercise {
//! Exercise: a fenced key-value store, one lock (and one token sequence) per key.
//!
//! The chapter's [`Storage`](super::storage::Storage) guards one register with one lock. Real
//! systems guard many resources, each with its own lock: a leader per shard, a writer per file.
//! Each lock's service numbers its own grants, so tokens of different keys are unrelated: token
//! 7 for key `"a"` says nothing about token 3 for key `"b"`. The store must therefore keep the
//! largest accepted token *per key*.
//!
//! Implement [`starter::FencedStore::write`]: accept the write if its token is at least the
//! largest token accepted so far *for that key* (equal tokens come from the same grant, so the
//! same holder writing again), store the value and remember the token; otherwise leave the
//! store unchanged and return [`StaleWrite`] with both tokens. Then make
//! [`starter::FencedStore::read`] return the value. The claims to make true are in this file's
//! tests; run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_fenced_store -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use super::fencing::FencingToken;

/// A write refused because its key has already seen a larger token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleWrite {
    /// The token the write carried.
    pub token: FencingToken,
    /// The largest token accepted for the key.
    pub highest: FencingToken,
}

/// What a fenced key-value store must do, whatever its layout.
pub trait Fenced: Default {
    /// Stores `value` under `key` if `token` is not below the largest token accepted for `key`.
    fn write(&mut self, key: &str, token: FencingToken, value: u64) -> Result<(), StaleWrite>;
    /// The last value accepted for `key`.
    fn read(&self, key: &str) -> Option<u64>;
}

/// Your version.
pub mod starter {
    use std::collections::BTreeMap;

    use super::{Fenced, FencingToken, StaleWrite};

    /// A key-value store that checks fencing tokens per key.
    #[derive(Clone, Debug, Default)]
    pub struct FencedStore {
        /// For each key: the largest token accepted and the value of the last accepted write.
        pub entries: BTreeMap<String, (FencingToken, u64)>,
    }

    impl Fenced for FencedStore {
        fn write(
            &mut self,
            _key: &str,
            _token: FencingToken,
            _value: u64,
        ) -> Result<(), StaleWrite> {
            todo!("refuse a token below the key's highest; otherwise store the value and token")
        }

        fn read(&self, _key: &str) -> Option<u64> {
            todo!("the value of the key's last accepted write")
        }
    }
}

/// One answer.
pub mod solution {
    use std::collections::BTreeMap;

    use super::{Fenced, FencingToken, StaleWrite};
    use crate::coordination::leader_election::fencing::admit;

    // ANCHOR: fenced_store
    /// A key-value store that checks fencing tokens per key.
    #[derive(Clone, Debug, Default)]
    pub struct FencedStore {
        /// For each key: the largest token accepted and the value of the last accepted write.
        pub entries: BTreeMap<String, (FencingToken, u64)>,
    }

    impl Fenced for FencedStore {
        fn write(&mut self, key: &str, token: FencingToken, value: u64) -> Result<(), StaleWrite> {
            let highest = self.entries.get(key).map(|(t, _)| *t);
            if !admit(highest, token) {
                let highest = highest.expect("only a seen key refuses");
                return Err(StaleWrite { token, highest });
            }
            self.entries.insert(key.to_string(), (token, value));
            Ok(())
        }

        fn read(&self, key: &str) -> Option<u64> {
            self.entries.get(key).map(|(_, v)| *v)
        }
    }
    // ANCHOR_END: fenced_store
}

}
pub mod fencing {
//! Fencing tokens and the client's conservative view of its lease: the two pure rules of the
//! lease-based lock, small enough to test exhaustively.
//!
//! **Leases** (Gray and Cheriton, "Leases: an efficient fault-tolerant mechanism for distributed
//! file cache consistency", SOSP 1989, §2) are locks with a time limit: the lock service grants
//! a lease for a *time-to-live* (TTL), and if the holder neither renews nor releases it, the
//! lease simply runs out and the service may grant it to someone else. That is what makes a
//! lease tolerate a crashed holder: nobody has to detect the crash, the clock does it. The price
//! is that two clocks are involved, the service's (which decides when the lease *has* expired)
//! and the holder's (which decides when the holder *stops acting*), and they are different
//! machines. [`local_lease_expiry`] is the holder's side: it counts the TTL from the moment it
//! *sent* its request, which is before the service received it, and subtracts a safety margin
//! meant to cover clock drift and the time a write spends between the check and the storage.
//! Chubby's client library keeps the same conservative estimate (Burrows, "The Chubby lock
//! service for loosely-coupled distributed systems", OSDI 2006, §2.8).
//!
//! A conservative estimate is still an estimate. It assumes the holder's clock runs at about
//! the service's rate (bounded drift, Gray and Cheriton §2) and that nothing freezes the holder
//! between checking the lease and acting on it. A garbage-collection pause, a stopped VM, a
//! swapped-out page or a slow network breaks the second assumption, and no margin helps, because
//! the pause can be longer than any margin.
//!
//! **Fencing tokens** close that gap from the other side (Kleppmann, "How to do distributed
//! locking", 2016; Chubby's *sequencers*, Burrows §2.4). Every grant of the lock carries a
//! number larger than every earlier grant's. The holder attaches it to every write, and the
//! resource being protected (here, the storage service) remembers the largest token it has
//! accepted and refuses any write that carries a smaller one: [`admit`]. A deposed holder that
//! wakes up from a pause still believes it leads, but its token is old, and the storage, which
//! has seen the new holder's larger token, turns it away. Safety no longer depends on anybody's
//! clock: only on the tokens being monotonic (the lock service's job) and the check being made
//! at the resource (the storage's job).
//!
//! What fencing does *not* give: a deposed holder may still write if its successor has not
//! written yet (its token is then still the largest the storage has seen), so the storage's
//! history is ordered by token, not free of writes by ex-leaders. And the resource must take
//! part: a storage system that cannot compare tokens cannot be fenced this way.

use std::fmt;
use std::time::Duration;

use crate::sim::Time;

// ANCHOR: token
/// A fencing token: the number the lock service attaches to one grant of a lock.
///
/// Invariant (kept by the lock service): every grant of a lock carries a larger token than
/// every earlier grant of the same lock. Chubby calls it a sequencer (§2.4); etcd uses the
/// revision of the lock key; ZooKeeper the zxid or the znode's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);
// ANCHOR_END: token

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}", self.0)
    }
}

// ANCHOR: admit
/// Whether a resource that has accepted writes up to token `highest` (`None`: no write yet)
/// may accept a write carrying `token`. Equal tokens are admitted: they come from the same
/// grant, so the same holder writing again.
pub fn admit(highest: Option<FencingToken>, token: FencingToken) -> bool {
    match highest {
        None => true,
        Some(highest) => token >= highest,
    }
}
// ANCHOR_END: admit

// ANCHOR: local_lease_expiry
/// Until when, on its own clock, a client may act on a lease it asked for at local time
/// `sent_at` and was granted for `ttl`: the TTL counted from the request (which the service
/// received later, so the service's lease outlasts this one), minus `margin`.
///
/// The client acts while `now < local_lease_expiry(..)`. The margin has to cover the drift
/// between the two clocks over one TTL, plus the time a write may take from the client's check
/// to the storage. It cannot cover a pause of unknown length; that is what fencing is for.
pub fn local_lease_expiry(sent_at: Time, ttl: Duration, margin: Duration) -> Time {
    sent_at + ttl.saturating_sub(margin)
}
// ANCHOR_END: local_lease_expiry

}
pub mod lock_service {
//! The lock service: grants leases on named locks, each grant with a larger fencing token.
//!
//! **An honest stand-in.** In production this role is played by a strongly consistent,
//! replicated store: etcd (leases and the revision of the lock key), ZooKeeper (ephemeral
//! znodes and session timeouts), Consul or Chubby. Their replication (Raft, Zab, Paxos) is what
//! makes the lock itself survive crashes and partitions; chapter 10 builds that. Here the
//! service is a *single process* that never fails, so that this module can isolate the
//! question the chapter asks: given a correct lock service, is the lock safe for the clients
//! that use it? (It is not, without fencing.)
//!
//! **What it guarantees**, measured on its own clock (the only clock it reads):
//!
//! 1. *Mutual exclusion of leases.* At any instant of the service's clock, a lock has at most
//!    one holder whose lease has not expired. A lease granted at service time `t` expires at
//!    `t + ttl`; until then every other client's `Acquire` is `Denied`.
//! 2. *Monotonic tokens.* Every new grant of a lock carries a token larger than all earlier
//!    grants of that lock. A renewal keeps the token: the same lease, extended.
//! 3. *No resurrection.* A lease that has expired cannot be renewed, even if nobody took it
//!    meanwhile: the client must `Acquire` again and gets a new token. So a token names one
//!    uninterrupted period of holding the lock, which is what the storage's check relies on.
//!
//! The service asserts (1) and (2) after every grant. What it cannot guarantee is anything
//! about what the *clients* believe: a lease that has expired here may still look valid to a
//! paused or slow-clocked holder. That gap is the subject of [`scenario`](super::scenario).
//!
//! Simplifications: no `Release` (a leader steps down by letting its lease run out), no
//! waiting queue (a client that is denied polls again), no persistence (the service never
//! crashes in this chapter's runs).

use std::collections::BTreeMap;
use std::time::Duration;

use super::fencing::FencingToken;
use super::messages::LeaseMsg;
use crate::sim::{Ctx, NodeId, Time};

/// The current lease on one lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it.
    pub holder: NodeId,
    /// The token of the grant this lease extends.
    pub token: FencingToken,
    /// When it expires, on the service's clock. Invariant: at most `ttl` after now.
    pub expires_at: Time,
}

/// One lock's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockState {
    /// The last lease granted, expired or not. `None` until the first grant.
    pub lease: Option<Lease>,
    /// The token of the last grant; 0 before the first (tokens start at 1).
    /// Invariant: never decreases; equals `lease.token` whenever `lease` is `Some`.
    pub last_token: u64,
}

/// One grant of a lock, for the record (the scenario judges writes against it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// When, on the service's clock.
    pub at: Time,
    /// Which lock.
    pub lock: String,
    /// To whom.
    pub holder: NodeId,
    /// With which token.
    pub token: FencingToken,
}

// ANCHOR: lock_service
/// A single-process lock service granting leases of `ttl` with fencing tokens.
#[derive(Clone, Debug)]
pub struct LockService {
    /// How long a lease lasts after the service receives the request that granted or renewed
    /// it, on the service's clock.
    pub ttl: Duration,
    /// Every lock ever asked for, by name.
    pub locks: BTreeMap<String, LockState>,
    /// Every new grant (not renewals), in order. Invariant: tokens of one lock increase.
    pub grants: Vec<Grant>,
}
// ANCHOR_END: lock_service

impl LockService {
    /// A service granting leases of `ttl`.
    pub fn new(ttl: Duration) -> LockService {
        LockService {
            ttl,
            locks: BTreeMap::new(),
            grants: Vec::new(),
        }
    }

    /// The lease on `lock` that has not expired at service time `now`, if any.
    pub fn live_lease(&self, lock: &str, now: Time) -> Option<Lease> {
        let lease = self.locks.get(lock)?.lease?;
        (now < lease.expires_at).then_some(lease)
    }

    /// Handles one message from a client.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match msg {
            LeaseMsg::Acquire { lock, sent_at } => self.acquire(ctx, from, lock, sent_at),
            LeaseMsg::Renew {
                lock,
                token,
                sent_at,
            } => self.renew(ctx, from, lock, token, sent_at),
            // Answers are for clients; a service that receives one ignores it.
            _ => ctx.count("lock_service_ignored"),
        }
    }

    // ANCHOR: acquire
    /// Grants `lock` to `from` if nobody else holds a live lease on it: a new lease with a new,
    /// larger token, or (if `from` already holds it) the same lease extended.
    fn acquire(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, lock: String, sent_at: Time) {
        let now = ctx.now();
        let state = self.locks.entry(lock.clone()).or_default();
        let token = match state.lease {
            Some(lease) if now < lease.expires_at && lease.holder != from => {
                ctx.send(from, LeaseMsg::Denied { lock, token: None });
                return;
            }
            Some(lease) if now < lease.expires_at => lease.token,
            // Free, or the last lease ran out: a new grant with the next token.
            _ => {
                state.last_token += 1;
                let token = FencingToken(state.last_token);
                let grant = Grant {
                    at: now,
                    lock: lock.clone(),
                    holder: from,
                    token,
                };
                self.grants.push(grant);
                ctx.count("lock_grants");
                token
            }
        };
        self.extend(ctx, from, lock, token, sent_at);
    }
    // ANCHOR_END: acquire

    // ANCHOR: renew
    /// Extends `from`'s lease on `lock` if it is still live and still the one granted with
    /// `token`; otherwise denies, and the client must acquire again (guarantee 3).
    fn renew(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        from: NodeId,
        lock: String,
        token: FencingToken,
        sent_at: Time,
    ) {
        let live = self.live_lease(&lock, ctx.now());
        if live.is_some_and(|l| l.holder == from && l.token == token) {
            self.extend(ctx, from, lock, token, sent_at);
        } else {
            ctx.count("lock_renewals_denied");
            let token = Some(token);
            ctx.send(from, LeaseMsg::Denied { lock, token });
        }
    }
    // ANCHOR_END: renew

    /// Sets `from`'s lease on `lock` to expire `ttl` from now and tells it so.
    fn extend(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        from: NodeId,
        lock: String,
        token: FencingToken,
        sent_at: Time,
    ) {
        let now = ctx.now();
        let state = self.locks.get_mut(&lock).expect("the caller created it");
        if let Some(old) = state.lease {
            // Guarantee 1: a live lease is only ever extended for its own holder and token.
            assert!(
                now >= old.expires_at || (old.holder == from && old.token == token),
                "lock {lock}: {from} granted {token} while {} holds {} until {}",
                old.holder,
                old.token,
                old.expires_at
            );
        }
        // Guarantee 2: the lease carries the newest token.
        assert_eq!(
            token.0, state.last_token,
            "lock {lock}: stale token granted"
        );
        state.lease = Some(Lease {
            holder: from,
            token,
            expires_at: now + self.ttl,
        });
        let ttl = self.ttl;
        ctx.send(
            from,
            LeaseMsg::Granted {
                lock,
                token,
                ttl,
                sent_at,
            },
        );
    }
}

}
pub mod messages {
//! What the lock service, the clients and the storage service say to each other.
//!
//! Three conversations, each a request and its answers:
//!
//! - client and lock service: `Acquire` or `Renew`, answered by `Granted` or `Denied`;
//! - client and storage: `Write`, answered by `Written` or `Refused`.
//!
//! Requests to the lock service carry the client's clock reading when it sent them
//! (`sent_at`), and the answer echoes it back. The client needs that reading to count its lease
//! from the request (see [`local_lease_expiry`](super::fencing::local_lease_expiry)); echoing it
//! keeps the client free of a table of outstanding requests, and makes a late or duplicated
//! answer harmless: it computes an expiry that has already passed. The service never
//! interprets `sent_at`, which is on a clock it does not share.

use std::fmt;
use std::time::Duration;

use super::fencing::FencingToken;
use crate::sim::Time;

// ANCHOR: lease_msg
/// A message of the lease-based lock protocol.
#[derive(Clone, PartialEq, Eq)]
pub enum LeaseMsg {
    /// Client to lock service: grant me `lock` (or extend it, if I already hold it).
    Acquire { lock: String, sent_at: Time },
    /// Client to lock service: extend my lease on `lock`, granted with `token`.
    Renew {
        lock: String,
        token: FencingToken,
        sent_at: Time,
    },
    /// Lock service to client: you hold `lock` with `token` for `ttl` from when I got your
    /// request (sent at your `sent_at`).
    Granted {
        lock: String,
        token: FencingToken,
        ttl: Duration,
        sent_at: Time,
    },
    /// Lock service to client: no. `token` is the lease a renewal asked for (now expired or
    /// taken); `None` answers an `Acquire` while someone else holds the lock.
    Denied {
        lock: String,
        token: Option<FencingToken>,
    },
    /// Client to storage: write the client's `seq`-th value, under the lease with `token`.
    Write { token: FencingToken, seq: u64 },
    /// Storage to client: the write with `token` and `seq` was accepted.
    Written { token: FencingToken, seq: u64 },
    /// Storage to client: the write with `token` was refused, because the storage has
    /// already accepted a write with the larger token `highest`.
    Refused {
        token: FencingToken,
        highest: FencingToken,
    },
}
// ANCHOR_END: lease_msg

/// Compact on purpose: traces and transcripts print messages with `{:?}`, and a reader should
/// see `Write(token 1, seq 5)`, not every field's name and the echoed timestamps.
impl fmt::Debug for LeaseMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseMsg::Acquire { lock, .. } => write!(f, "Acquire({lock})"),
            LeaseMsg::Renew { lock, token, .. } => write!(f, "Renew({lock}, {token})"),
            LeaseMsg::Granted {
                lock, token, ttl, ..
            } => write!(f, "Granted({lock}, {token}, ttl {} ms)", ttl.as_millis()),
            LeaseMsg::Denied { lock, token: None } => write!(f, "Denied({lock}, held by another)"),
            LeaseMsg::Denied {
                lock,
                token: Some(t),
            } => write!(f, "Denied({lock}, {t} expired)"),
            LeaseMsg::Write { token, seq } => write!(f, "Write({token}, seq {seq})"),
            LeaseMsg::Written { token, seq } => write!(f, "Written({token}, seq {seq})"),
            LeaseMsg::Refused { token, highest } => {
                write!(f, "Refused({token} < highest {})", highest.0)
            }
        }
    }
}
}
pub mod node {
//! The three roles as one simulator process type.
//!
//! The simulator runs processes of a single type, so the lock service, the storage and the
//! clients are the variants of [`LeaseNode`], which forwards each input to its role. No role
//! keeps durable state: the service and the storage never crash in this chapter's runs, and a
//! crashed client would simply lose its lease, which is the case a lease already handles.

use super::client::Client;
use super::lock_service::LockService;
use super::messages::LeaseMsg;
use super::storage::Storage;
use crate::sim::{Ctx, NodeId, Process, TimerId};

/// A node of a lease-lock run.
#[derive(Clone, Debug)]
pub enum LeaseNode {
    /// The lock service (a stand-in for etcd, ZooKeeper or Chubby).
    Service(LockService),
    /// The storage service the leader writes to.
    Storage(Storage),
    /// A would-be leader.
    Client(Client),
}

impl Process for LeaseNode {
    type Msg = LeaseMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, LeaseMsg>) {
        if let LeaseNode::Client(c) = self {
            c.on_start(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match self {
            LeaseNode::Service(s) => s.on_message(ctx, from, msg),
            LeaseNode::Storage(s) => s.on_message(ctx, from, msg),
            LeaseNode::Client(c) => c.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, timer: TimerId) {
        match self {
            LeaseNode::Client(c) => c.on_timer(ctx, timer),
            _ => unreachable!("only clients set timers"),
        }
    }

    fn durable(&self) {}
}

impl LeaseNode {
    /// The client, if this node is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            LeaseNode::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The storage, if this node is it.
    pub fn as_storage(&self) -> Option<&Storage> {
        match self {
            LeaseNode::Storage(s) => Some(s),
            _ => None,
        }
    }

    /// The lock service, if this node is it.
    pub fn as_service(&self) -> Option<&LockService> {
        match self {
            LeaseNode::Service(s) => Some(s),
            _ => None,
        }
    }
}
}
pub mod scenario {
//! Runs of the lease-based lock: the cluster, the faults, and what came of them.
//!
//! Every run has the same shape: node 0 is the lock service ([`SERVICE`]), node 1 the storage
//! ([`STORAGE`]), and nodes 2, 3, ... are clients competing for one lock ([`client`]), all on
//! the same links. [`Setup`] fixes the timings; [`Setup::build`] makes the simulation, to
//! which a test or an experiment adds faults; [`Outcome::of`] judges the finished run.
//!
//! Two kinds of fault make a lease unsafe, and both are here:
//!
//! - a **pause** of a client between its lease check and its write ([`Fault::Pause`]), longer
//!   than what is left of its lease at the service: [`pause_schedule`] draws pauses of one
//!   fixed length, so that the experiment can vary the length relative to the TTL;
//! - a **slow clock** on a client cut off from the service ([`Clock`] with negative drift), so
//!   that its lease looks valid for longer than it is.
//!
//! [`transcript`] turns a run recorded at [`TraceLevel::Full`] into the lines a reader follows
//! (who sent what to whom, with which token), which is what the runnable listing prints and
//! what the chapter's sequence diagram draws.

use std::fmt::Write as _;
use std::time::Duration;

use super::client::{Client, ClientConfig};
use super::lock_service::LockService;
use super::node::LeaseNode;
use super::storage::Storage;
use crate::sim::{
    Clock, Exponential, Fault, FaultSchedule, LinkConfig, NodeId, Sim, Time, TraceKind, TraceLevel,
    rng_stream,
};
use rand::{Rng, RngExt};

/// The lock service, in every run of this module.
pub const SERVICE: NodeId = NodeId(0);
/// The storage service.
pub const STORAGE: NodeId = NodeId(1);
/// The name of the lock whose holder leads.
pub const LOCK: &str = "leader";

/// Client `i` (from 0): client 0 is "A" in the chapter, client 1 is "B".
pub fn client(i: usize) -> NodeId {
    NodeId(2 + i)
}

// ANCHOR: setup
/// Everything about a run except its seed and its faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// How many clients compete for the lock.
    pub clients: usize,
    /// Whether the storage checks fencing tokens.
    pub fencing: bool,
    /// The lease's time-to-live, on the service's clock.
    pub ttl: Duration,
    /// What clients subtract from the TTL when they count their lease.
    pub margin: Duration,
    /// Time between renewals by the leader.
    pub renew_every: Duration,
    /// Time between attempts to acquire, by the others.
    pub retry: Duration,
    /// Time between a leader's writes.
    pub write_every: Duration,
    /// Time between a leader's lease check and its write.
    pub work: Duration,
    /// How every link behaves.
    pub link: LinkConfig,
}
// ANCHOR_END: setup

impl Setup {
    /// The chapter's setting: two clients, a 1 s TTL with a 100 ms margin, renewals every
    /// 300 ms, a write every 250 ms that takes 20 ms from check to send, 1 ms links.
    pub fn book(fencing: bool) -> Setup {
        let ms = Duration::from_millis;
        Setup {
            clients: 2,
            fencing,
            ttl: ms(1_000),
            margin: ms(100),
            renew_every: ms(300),
            retry: ms(100),
            write_every: ms(250),
            work: ms(20),
            link: LinkConfig::constant(ms(1)),
        }
    }

    /// Checks the timings make sense, so that a bad experiment flag is an error, not a panic.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("a run needs at least one client".into());
        }
        if self.margin >= self.ttl {
            return Err(format!(
                "the margin ({:?}) must be below the TTL ({:?})",
                self.margin, self.ttl
            ));
        }
        if self.renew_every >= self.ttl.saturating_sub(self.margin) {
            return Err(format!(
                "renewals every {:?} cannot keep a {:?} lease (margin {:?}) alive",
                self.renew_every, self.ttl, self.margin
            ));
        }
        let zero = [self.retry, self.write_every, self.work];
        if zero.contains(&Duration::ZERO) {
            return Err("retry, write and work intervals must be positive".into());
        }
        self.link.validate()
    }

    /// The configuration every client gets.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            lock: LOCK.to_string(),
            service: SERVICE,
            storage: STORAGE,
            retry: self.retry,
            renew_every: self.renew_every,
            write_every: self.write_every,
            work: self.work,
            margin: self.margin,
        }
    }

    // ANCHOR: build
    /// A simulation of this setup from `seed`, without faults yet. Panics on an invalid setup
    /// (call [`Setup::validate`] first on user input).
    pub fn build(&self, seed: u64) -> Sim<LeaseNode> {
        if let Err(e) = self.validate() {
            panic!("invalid setup: {e}");
        }
        let mut nodes = vec![
            LeaseNode::Service(LockService::new(self.ttl)),
            LeaseNode::Storage(Storage::new(self.fencing)),
        ];
        for _ in 0..self.clients {
            nodes.push(LeaseNode::Client(Client::new(self.client_config())));
        }
        Sim::new(seed, self.link.clone(), nodes)
    }
    // ANCHOR_END: build
}

/// The storage of a run.
pub fn storage(sim: &Sim<LeaseNode>) -> &Storage {
    sim.process(STORAGE)
        .and_then(LeaseNode::as_storage)
        .expect("node 1 is the storage and never crashes")
}

/// The lock service of a run.
pub fn service(sim: &Sim<LeaseNode>) -> &LockService {
    sim.process(SERVICE)
        .and_then(LeaseNode::as_service)
        .expect("node 0 is the lock service and never crashes")
}

/// Client `i` of a run.
pub fn client_state(sim: &Sim<LeaseNode>, i: usize) -> &Client {
    sim.process(client(i))
        .and_then(LeaseNode::as_client)
        .expect("clients are paused, never crashed")
}

// ANCHOR: paused_ex_leader
/// The chapter's story, on [`Setup::book`]: client A (client 0) wins the lock with token 1;
/// at 510 ms, between deciding a write (500 ms) and sending it (520 ms), it is paused for
/// 2 s, a stop-the-world garbage collection; its lease runs out at the service at 1,303 ms;
/// B (client 1) acquires the lock with token 2 at 1,401 ms and writes; A resumes at 2,510 ms
/// and sends the write it decided before the pause, with token 1.
pub fn paused_ex_leader(fencing: bool) -> Sim<LeaseNode> {
    paused_ex_leader_for(fencing, Duration::from_secs(2))
}
// ANCHOR_END: paused_ex_leader

/// The same story with a pause of `pause` starting at 510 ms.
pub fn paused_ex_leader_for(fencing: bool, pause: Duration) -> Sim<LeaseNode> {
    let mut sim = Setup::book(fencing).build(1);
    sim.set_trace(TraceLevel::Full);
    let start = Time::from_millis(510);
    sim.schedule_fault(start, Fault::Pause(client(0)));
    sim.schedule_fault(start + pause, Fault::Resume(client(0)));
    sim
}

// ANCHOR: slow_clock_ex_leader
/// The same story without a pause: A's clock runs at half speed (drift -500,000 ppm, wildly
/// exaggerated so that one TTL shows it), and at 250 ms a partition cuts A off from the lock
/// service, though not from the storage. A's renewals are lost, its lease runs out at the
/// service at 1,001 ms, B acquires it at 1,101 ms; but A's clock says only about 500 ms have
/// passed, so A keeps writing with token 1 until its clock reaches 900 ms (1,800 ms true time).
pub fn slow_clock_ex_leader(fencing: bool) -> Sim<LeaseNode> {
    let mut sim = Setup::book(fencing).build(1);
    sim.set_trace(TraceLevel::Full);
    let half_speed = Clock {
        offset_ns: 0,
        drift_ppm: -500_000,
    };
    sim.set_clock(client(0), half_speed);
    let cut = Fault::Partition(vec![client(0)], vec![SERVICE]);
    sim.schedule_fault(Time::from_millis(250), cut);
    sim
}
// ANCHOR_END: slow_clock_ex_leader

// ANCHOR: pause_schedule
/// Pauses of exactly `pause` that hit a random client, starting as a Poisson process with
/// `mean_interval` between starts, from `start` to `end`. A client is never paused twice at
/// once, and every pause ends by `end`.
pub fn pause_schedule(
    rng: &mut impl Rng,
    clients: usize,
    mean_interval: Duration,
    pause: Duration,
    start: Time,
    end: Time,
) -> FaultSchedule {
    let interval = Exponential {
        mean: mean_interval.as_secs_f64(),
    };
    let mut schedule = FaultSchedule::default();
    let mut paused_until = vec![Time::ZERO; clients];
    let mut t = start;
    loop {
        t = t + Duration::from_secs_f64(rng.sample(interval));
        if t >= end || clients == 0 {
            break;
        }
        let i = rng.random_range(0..clients);
        if paused_until[i] > t {
            continue;
        }
        let resume = (t + pause).min(end);
        paused_until[i] = resume;
        schedule.add(t, Fault::Pause(client(i)));
        schedule.add(resume, Fault::Resume(client(i)));
    }
    schedule
}
// ANCHOR_END: pause_schedule

// ANCHOR: outcome
/// What a run did to the storage, judged afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// New grants of the lock: each is a change of leader (or a leader re-elected after its
    /// lease ran out), with a new token.
    pub leadership_changes: u64,
    /// Writes the storage accepted.
    pub writes_accepted: u64,
    /// Writes the storage refused (only with fencing).
    pub writes_refused: u64,
    /// Accepted writes with a token below one accepted earlier: lost updates.
    pub stale_accepted: u64,
    /// Accepted writes whose token had already been superseded by a newer grant at the lock
    /// service when they arrived: writes by an ex-leader that fencing lets through because the
    /// new leader had not written yet. Harmless to the order of the storage's history.
    pub superseded_accepted: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

impl Outcome {
    /// Judges a finished run. Assumes the service's and the storage's clocks agree (neither
    /// drifts in this module's runs), so their timestamps can be compared.
    pub fn of(sim: &Sim<LeaseNode>) -> Outcome {
        let storage = storage(sim);
        let grants = &service(sim).grants;
        let accepted = storage.log.iter().filter(|w| w.accepted);
        let superseded = accepted
            .clone()
            .filter(|w| grants.iter().any(|g| g.at <= w.at && g.token > w.token))
            .count();
        Outcome {
            leadership_changes: grants.len() as u64,
            writes_accepted: accepted.count() as u64,
            writes_refused: storage.log.iter().filter(|w| !w.accepted).count() as u64,
            stale_accepted: storage.stale_accepted,
            superseded_accepted: superseded as u64,
            trace_hash: sim.trace_hash(),
        }
    }

    /// Adds another run's counts to these (the trace hashes are combined).
    pub fn add(&mut self, other: &Outcome) {
        self.leadership_changes += other.leadership_changes;
        self.writes_accepted += other.writes_accepted;
        self.writes_refused += other.writes_refused;
        self.stale_accepted += other.stale_accepted;
        self.superseded_accepted += other.superseded_accepted;
        let mut hash = crate::sim::Fnv64(self.trace_hash);
        hash.u64(other.trace_hash);
        self.trace_hash = hash.0;
    }
}
// ANCHOR_END: outcome

// ANCHOR: run_with_pauses
/// One run of `setup` from `seed` for `duration`, with pauses of `pause` every
/// `mean_interval` on average. The pause schedule is drawn from its own stream of the seed,
/// so a run with fencing and one without face the same pauses.
pub fn run_with_pauses(
    setup: &Setup,
    seed: u64,
    pause: Duration,
    mean_interval: Duration,
    duration: Duration,
) -> Outcome {
    let mut sim = setup.build(seed);
    let mut rng = rng_stream(seed, u64::MAX);
    let end = Time::ZERO + duration;
    let start = Time::from_millis(500);
    let schedule = pause_schedule(&mut rng, setup.clients, mean_interval, pause, start, end);
    sim.schedule(&schedule);
    sim.run_until(end).expect("this run checks no invariants");
    Outcome::of(&sim)
}
// ANCHOR_END: run_with_pauses

/// A node's name in transcripts: "lock", "storage", then "A", "B", ... for the clients.
pub fn name(id: NodeId) -> String {
    match id {
        SERVICE => "lock".to_string(),
        STORAGE => "storage".to_string(),
        NodeId(n) => char::from(b'A' + (n - 2) as u8).to_string(),
    }
}

/// Which messages a transcript shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every delivered message and fault.
    All,
    /// First grants of each token, denied renewals, writes, refusals and faults; not the
    /// polls of clients waiting for the lock, nor renewals that succeeded, nor acknowledgements.
    Story,
}

// ANCHOR: transcript
/// The lines of a run recorded at [`TraceLevel::Full`]: each delivered message as
/// `time  from -> to  message`, each fault as `time  ** fault`, in true (simulated) time.
pub fn transcript(sim: &Sim<LeaseNode>, detail: Detail) -> Vec<String> {
    let mut lines = Vec::new();
    // The first grant of each token; repeats of it are renewals.
    let mut grants_seen = std::collections::BTreeSet::new();
    for event in sim.trace() {
        let ms = event.at_ns as f64 / 1e6;
        let mut line = String::new();
        match &event.kind {
            TraceKind::Deliver { from, to, msg } => {
                let renewal = msg.starts_with("Granted") && !grants_seen.insert(msg.clone());
                if detail == Detail::Story && (renewal || !in_story(msg)) {
                    continue;
                }
                let (from, to) = (name(NodeId(*from)), name(NodeId(*to)));
                let _ = write!(line, "{ms:>8.0} ms  {from:>7} -> {to:<7}  {msg}");
            }
            TraceKind::Fault { fault } => {
                let fault = fault_text(fault);
                let _ = write!(line, "{ms:>8.0} ms  ** {fault}");
            }
            _ => continue,
        }
        lines.push(line);
    }
    lines
}
// ANCHOR_END: transcript

/// Whether a message belongs in the short version of the story.
fn in_story(msg: &str) -> bool {
    let chatter = ["Acquire", "Renew", "Written", "Denied(leader, held"];
    !chatter.iter().any(|c| msg.starts_with(c))
}

/// A fault as the simulator prints it (`pause 2`), with node names instead of numbers.
fn fault_text(fault: &str) -> String {
    let words: Vec<String> = fault
        .split_whitespace()
        .map(|w| match w.trim_end_matches(',').parse::<usize>() {
            Ok(n) => name(NodeId(n)),
            Err(_) => w.to_string(),
        })
        .collect();
    words.join(" ")
}

}
pub mod storage {
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
}
}
}

mod sim {
//! A deterministic discrete-event simulator for distributed protocols.
//!
//! The simulator runs protocols written as sans-I/O state machines (see [`Process`]) on a
//! simulated network and simulated clocks, under faults you script or draw at random. It is the
//! Rust counterpart of the SimPy models a reader may know, with three differences that matter for
//! distributed systems:
//!
//! - **Determinism.** One seed fixes the whole run. Same seed, same trace, byte for byte
//!   ([`Sim::trace_hash`]). A failing run is a seed; a seed is a bug report.
//! - **Faults as first-class input.** Message loss, duplication, reordering, latency tails,
//!   bandwidth, partitions (both ways or one way), crashes with durable state, pauses and clock
//!   drift are all configuration ([`LinkConfig`], [`Fault`], [`Clock`], [`Nemesis`]).
//! - **Invariants after every event.** A check registered with [`Sim::add_invariant`] sees the
//!   whole system between any two events, which no test of a real deployment can.
//!
//! Layout: `rng` (seeded randomness), `time` (virtual time), `process` (the protocol contract),
//! `network` (links and partitions), `clock` (drift), `faults` (schedules and the nemesis),
//! `world` (the event loop), `metrics`, `trace`, `campaign` (many seeds on many cores).

mod campaign {
//! Campaigns: the same simulation over many seeds, on every core.
//!
//! One seed explores one interleaving of messages, timers and faults. Bugs in distributed
//! protocols hide in rare interleavings, so we run thousands of seeds. A campaign hands seeds to
//! worker threads, shows a progress line when a person is watching (nothing when standard error
//! is not a terminal, as in CI), and reports every failing seed together with the exact command
//! that replays it: replaying one seed gives the identical run, under a debugger if need be.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which seeds to run and how to tell a person to replay one.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// A short name for the progress bar and the report.
    pub name: String,
    /// The first seed.
    pub first_seed: u64,
    /// How many consecutive seeds to run.
    pub seeds: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The replay command, with `{seed}` where the seed goes.
    pub replay: String,
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    pub name: String,
    pub passed: u64,
    /// Failing seeds and what went wrong, sorted by seed.
    pub failures: Vec<(u64, String)>,
    pub elapsed: Duration,
    /// The replay command template.
    pub replay: String,
}

impl CampaignReport {
    /// Seeds run per wall-clock second.
    pub fn seeds_per_sec(&self) -> f64 {
        (self.passed + self.failures.len() as u64) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The command that replays `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        self.replay.replace("{seed}", &seed.to_string())
    }

    /// Panics with every failure and its replay command, if there was any failure. For tests.
    pub fn assert_passed(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = format!(
            "campaign `{}`: {} of {} seeds failed\n",
            self.name,
            self.failures.len(),
            self.passed + self.failures.len() as u64
        );
        for (seed, why) in self.failures.iter().take(10) {
            text += &format!(
                "  seed {seed}: {why}\n    replay: {}\n",
                self.replay_command(*seed)
            );
        }
        panic!("{text}");
    }
}

impl Campaign {
    /// A campaign over seeds `0..seeds` on every core, for the test `name` of the integration
    /// test module `module` (pass `module_path!()`: `part2::ch10_chain` is the module
    /// `ch10_chain` of the test binary `code/tests/part2/main.rs`): a failure names the command
    /// that reruns that test.
    pub fn for_test(module: &str, name: &str, seeds: u64) -> Campaign {
        let (binary, filter) = match module.split_once("::") {
            Some((binary, path)) => (binary, format!("{path}::{name}")),
            None => (module, name.to_string()),
        };
        Campaign {
            name: name.to_string(),
            first_seed: 0,
            seeds,
            threads: 0,
            replay: format!("cargo test -p uds --release --test {binary} {filter} (seed {{seed}})"),
        }
    }

    /// Runs `check(seed)` for every seed. `check` returns `Err(explanation)` on failure; a panic
    /// inside it is caught and reported as a failure of that seed too.
    pub fn run<F>(&self, check: F) -> CampaignReport
    where
        F: Fn(u64) -> Result<(), String> + Sync,
    {
        let started = Instant::now();
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let bar = Progress::new(&self.name, self.seeds);
        let next = AtomicU64::new(0);
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.seeds {
                            break;
                        }
                        let seed = self.first_seed + i;
                        let run = std::panic::AssertUnwindSafe(|| check(seed));
                        let outcome = std::panic::catch_unwind(run)
                            .unwrap_or_else(|panic| Err(panic_message(&panic)));
                        if let Err(why) = outcome {
                            bar.println(format!(
                                "seed {seed} failed: {why}\n  replay: {}",
                                self.replay.replace("{seed}", &seed.to_string())
                            ));
                            failures
                                .lock()
                                .expect("no worker panics holding it")
                                .push((seed, why));
                        }
                        bar.inc(1);
                    }
                });
            }
        });
        bar.finish();
        let mut failures = failures.into_inner().expect("workers are done");
        failures.sort();
        CampaignReport {
            name: self.name.clone(),
            passed: self.seeds - failures.len() as u64,
            failures,
            elapsed: started.elapsed(),
            replay: self.replay.clone(),
        }
    }
}

/// A progress line on standard error, drawn only when it is a terminal. Hand-rolled with std
/// (rather than `indicatif`, which the Rust playground does not offer) so that the simulator
/// runs in the playground.
struct Progress {
    name: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
    visible: bool,
}

impl Progress {
    fn new(name: &str, total: u64) -> Progress {
        let visible = std::io::stderr().is_terminal();
        Progress {
            name: name.to_string(),
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            visible,
        }
    }

    fn inc(&self, by: u64) {
        let done = self.done.fetch_add(by, Ordering::Relaxed) + by;
        // Redraw about a hundred times per campaign, not once per seed.
        if self.visible && (done == self.total || done.is_multiple_of((self.total / 100).max(1))) {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: {done}/{} seeds ({rate:.0} seeds/s)",
                self.name, self.total
            );
            let _ = err.flush();
        }
    }

    fn println(&self, line: String) {
        let mut err = std::io::stderr().lock();
        let clear = if self.visible { "\r\x1b[2K" } else { "" };
        let _ = writeln!(err, "{clear}{line}");
    }

    fn finish(&self) {
        if self.visible {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

}
mod clock {
//! Per-node clocks that drift and start offset from true time.
//!
//! A real quartz clock runs a little fast or slow (tens of parts per million is typical, and
//! the rate wanders with temperature), and two machines' clocks disagree by whatever offset
//! their last synchronisation left. The simulator keeps true time; each node reads its own
//! clock, `local = offset + true * (1 + drift)`, and its timers run on that clock: a node whose
//! clock runs fast sees its timeouts expire early in true time.

use std::time::Duration;

use super::time::{Time, nanos};

// ANCHOR: clock
/// How one node's clock relates to true (simulated) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// What the clock reads at true time zero, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// How fast the clock runs, in parts per million: +50 gains 50 µs per true second.
    /// Invariant: greater than -1,000,000 (a clock cannot run backwards or stand still).
    pub drift_ppm: i64,
}

impl Clock {
    /// The clock's reading at true time `t`, clamped at zero.
    pub fn local(&self, t: Time) -> Time {
        let t = i128::from(t.0);
        let drift = t * i128::from(self.drift_ppm) / 1_000_000;
        let reading = t + drift + i128::from(self.offset_ns);
        Time(reading.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn real_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return local;
        }
        assert!(
            self.drift_ppm > -1_000_000,
            "clock drift {} ppm",
            self.drift_ppm
        );
        let ns = u128::from(nanos(local)) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}
// ANCHOR_END: clock

}
mod faults {
//! Faults: what can go wrong, when, scripted by hand or drawn at random.
//!
//! A [`FaultSchedule`] is a list of timed [`Fault`]s. It can be written as text, one fault per
//! line, so that a scenario reads like a transcript:
//!
//! ```text
//! # partition the leader away, then heal
//! at 5s    partition 0 | 1,2
//! at 7.5s  heal
//! at 8s    crash 2
//! at 9s    restart 2
//! at 10s   pause 1
//! at 12s   resume 1
//! at 13s   oneway 0 -> 2
//! ```
//!
//! A [`Nemesis`] (the name Jepsen gave its fault injector) draws such a schedule at random from
//! the run's seed, so a campaign over many seeds explores many different fault patterns.

use std::fmt;
use std::time::Duration;

use super::process::NodeId;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt};

use super::rng::Exponential;
use super::time::{Time, parse_duration};

/// One thing that goes wrong (or is repaired).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node stops; its volatile state is lost, its durable state is kept.
    Crash(NodeId),
    /// A crashed node starts again from its durable state.
    Restart(NodeId),
    /// The node freezes (a long GC pause, a stopped VM): it keeps its state but handles nothing.
    Pause(NodeId),
    /// A paused node continues, handling everything that arrived meanwhile.
    Resume(NodeId),
    /// No message crosses between the two sides, in either direction.
    Partition(Vec<NodeId>, Vec<NodeId>),
    /// No message goes from the first side to the second; the other direction still works.
    OneWay(Vec<NodeId>, Vec<NodeId>),
    /// Every partition is removed.
    Heal,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Fault::Crash(n) => write!(f, "crash {}", n.0),
            Fault::Restart(n) => write!(f, "restart {}", n.0),
            Fault::Pause(n) => write!(f, "pause {}", n.0),
            Fault::Resume(n) => write!(f, "resume {}", n.0),
            Fault::Partition(a, b) => write!(f, "partition {} | {}", list(a), list(b)),
            Fault::OneWay(a, b) => write!(f, "oneway {} -> {}", list(a), list(b)),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

/// Timed faults, in the order they happen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSchedule {
    /// Invariant: sorted by time (stable, so faults at one instant keep their written order).
    pub faults: Vec<(Time, Fault)>,
}

/// A line of a fault script that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScheduleError {}

impl FaultSchedule {
    /// Adds a fault at `at`, keeping the schedule sorted.
    pub fn add(&mut self, at: Time, fault: Fault) {
        let pos = self.faults.partition_point(|(t, _)| *t <= at);
        self.faults.insert(pos, (at, fault));
    }

    /// Parses a script (see the module docs). `nodes` is the number of nodes in the run, so
    /// that a node that does not exist is an error here rather than a panic later.
    pub fn parse(script: &str, nodes: usize) -> Result<FaultSchedule, ScheduleError> {
        let mut schedule = FaultSchedule::default();
        for (i, raw) in script.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| ScheduleError {
                line: i + 1,
                message,
            };
            let (at, fault) = parse_line(line, nodes).map_err(err)?;
            schedule.add(at, fault);
        }
        Ok(schedule)
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, fault) in &self.faults {
            writeln!(f, "at {}ms {fault}", at.0 / 1_000_000)?;
        }
        Ok(())
    }
}

fn parse_line(line: &str, nodes: usize) -> Result<(Time, Fault), String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("at") {
        return Err(format!("`{line}` should start with `at <time>`"));
    }
    let when = words.next().ok_or("missing time after `at`")?;
    let at = Time::ZERO + parse_duration(when)?;
    let verb = words.next().ok_or("missing fault after the time")?;
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    let one = |rest: &str| parse_node(rest.trim(), nodes);
    let fault = match verb {
        "crash" => Fault::Crash(one(&rest)?),
        "restart" => Fault::Restart(one(&rest)?),
        "pause" => Fault::Pause(one(&rest)?),
        "resume" => Fault::Resume(one(&rest)?),
        "heal" if rest.is_empty() => Fault::Heal,
        "heal" => return Err(format!("`heal` takes no arguments, got `{rest}`")),
        "partition" => {
            let (a, b) = rest
                .split_once('|')
                .ok_or("partition needs two sides: `a,b | c`")?;
            Fault::Partition(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        "oneway" => {
            let (a, b) = rest
                .split_once("->")
                .ok_or("oneway needs a direction: `a -> b,c`")?;
            Fault::OneWay(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        other => {
            return Err(format!(
                "unknown fault `{other}` (crash, restart, pause, resume, partition, oneway, heal)"
            ));
        }
    };
    Ok((at, fault))
}

fn parse_side(text: &str, nodes: usize) -> Result<Vec<NodeId>, String> {
    let side = text
        .split(',')
        .map(|n| parse_node(n.trim(), nodes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(side)
}

fn parse_node(text: &str, nodes: usize) -> Result<NodeId, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a node number"))?;
    if n >= nodes {
        return Err(format!(
            "node {n} does not exist (the run has nodes 0..{nodes})"
        ));
    }
    Ok(NodeId(n))
}

// ANCHOR: nemesis
/// A random fault injector: draws a fault schedule from a seed.
#[derive(Clone, Debug)]
pub struct Nemesis {
    /// Mean time between the starts of two faults (exponentially distributed).
    pub mean_interval: Duration,
    /// Mean time a fault lasts before it is repaired (exponentially distributed).
    pub mean_duration: Duration,
    /// Which kinds of fault to draw from.
    pub crash: bool,
    pub pause: bool,
    pub partition: bool,
    /// At most this many nodes are crashed or paused at once (e.g. a minority).
    pub max_down: usize,
}

impl Nemesis {
    /// The schedule of faults between `start` and `end` for nodes `0..nodes`. Every fault is
    /// repaired by `end`, so a run can check that the system recovers afterwards.
    pub fn schedule(
        &self,
        rng: &mut impl Rng,
        nodes: usize,
        start: Time,
        end: Time,
    ) -> FaultSchedule {
        let mut schedule = FaultSchedule::default();
        let mut kinds = Vec::new();
        kinds.extend(self.crash.then_some(0));
        kinds.extend(self.pause.then_some(1));
        kinds.extend(self.partition.then_some(2));
        if kinds.is_empty() || nodes == 0 {
            return schedule;
        }
        let interval = Exponential {
            mean: self.mean_interval.as_secs_f64(),
        };
        let duration = Exponential {
            mean: self.mean_duration.as_secs_f64(),
        };
        // When each node becomes healthy again; a node is not faulted twice at once.
        let mut down_until = vec![Time::ZERO; nodes];
        let mut t = start;
        loop {
            t = t + Duration::from_secs_f64(rng.sample(interval));
            if t >= end {
                break;
            }
            let repair = (t + Duration::from_secs_f64(rng.sample(duration))).min(end);
            match *kinds.choose(rng).expect("kinds is not empty") {
                2 => {
                    let cut = rng.random_range(1..nodes.max(2));
                    let mut ids: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                    ids.shuffle(rng);
                    let (a, b) = ids.split_at(cut.min(nodes));
                    if !b.is_empty() {
                        schedule.add(t, Fault::Partition(a.to_vec(), b.to_vec()));
                        schedule.add(repair, Fault::Heal);
                    }
                }
                kind => {
                    let down = down_until.iter().filter(|u| **u > t).count();
                    let node = rng.random_range(0..nodes);
                    if down >= self.max_down || down_until[node] > t {
                        continue;
                    }
                    down_until[node] = repair;
                    let id = NodeId(node);
                    let (fail, fix) = if kind == 0 {
                        (Fault::Crash(id), Fault::Restart(id))
                    } else {
                        (Fault::Pause(id), Fault::Resume(id))
                    };
                    schedule.add(t, fail);
                    schedule.add(repair, fix);
                }
            }
        }
        schedule
    }
}
// ANCHOR_END: nemesis

}
mod metrics {
//! Counters and histograms that processes and the simulator fill during a run.
//!
//! Histograms keep every sample and compute exact percentiles by the nearest-rank method
//! (the smallest sample with at least p% of samples at or below it). Our runs record at most a
//! few million samples, so exactness is cheaper than explaining a sketch's error here; chapter
//! 31 builds a mergeable sketch for when it is not.

use std::collections::BTreeMap;

// ANCHOR: metrics
/// Named counters and histograms. Names are sorted, so reports list them in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: BTreeMap<&'static str, u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    /// Adds `by` to counter `name` (created at zero).
    pub fn count(&mut self, name: &'static str, by: u64) {
        *self.counters.entry(name).or_insert(0) += by;
    }

    /// Records one sample in histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.histograms.entry(name).or_default().record(value);
    }

    /// The value of counter `name` (zero if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The histogram `name`, if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<&Histogram> {
        self.histograms.get(name)
    }

    /// All counters, by name.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counters.iter().map(|(k, v)| (*k, *v))
    }
}
// ANCHOR_END: metrics

/// Every sample of one quantity, for exact percentiles.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    samples: Vec<f64>,
    /// Invariant: if true, `samples` is sorted ascending.
    sorted: bool,
}

impl Histogram {
    /// Adds a sample. NaN is refused, since it has no place in an order.
    pub fn record(&mut self, value: f64) {
        assert!(!value.is_nan(), "NaN recorded in a histogram");
        self.samples.push(value);
        self.sorted = false;
    }

    /// How many samples were recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The arithmetic mean, or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().sum::<f64>() / self.samples.len() as f64)
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100), or `None` if empty.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        assert!((0.0..=100.0).contains(&p), "percentile {p} outside 0..=100");
        if self.samples.is_empty() {
            return None;
        }
        self.sort();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }

    /// The samples in ascending order (for CDF plots).
    pub fn sorted_samples(&mut self) -> &[f64] {
        self.sort();
        &self.samples
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_by(f64::total_cmp);
            self.sorted = true;
        }
    }
}

}
mod network {
//! The simulated network: what can happen to a message between two nodes.
//!
//! Each directed link `from -> to` has a [`LinkConfig`]: a latency distribution, a probability
//! of losing a message, of duplicating it, of holding it back long enough to reorder it, and an
//! optional bandwidth. Partitions block links, in one direction or both, until healed. A message
//! is judged once, when it is sent: if the link is blocked or the message is lost it never
//! arrives; otherwise it arrives once (or twice, if duplicated) after its sampled delay.
//!
//! Simplification: a partition that starts while a message is in flight does not stop it,
//! just as packets already on the wire still arrive when a cable is pulled at one end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::process::NodeId;
use rand::distr::{Distribution, OpenClosed01};
use rand::{Rng, RngExt};

use super::rng::{Exponential, StandardNormal};
use super::time::{Time, nanos};

// ANCHOR: latency
/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// `min` plus an exponential delay with mean `mean`: memoryless queueing delay.
    Exponential { min: Duration, mean: Duration },
    /// Log-normal with median `median` and shape `sigma`: a long tail, as measured in
    /// datacenters, where the p99 is many times the median.
    LogNormal { median: Duration, sigma: f64 },
    /// Pareto with minimum `scale` and tail index `shape`: the heaviest tail; for
    /// `shape <= 1` even the mean is infinite.
    Pareto { scale: Duration, shape: f64 },
}

/// Drawing one delay: a latency model is a distribution in rand's sense.
impl Distribution<Duration> for Latency {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Latency::Constant(d) => return *d,
            Latency::Uniform { min, max } => {
                secs(min) + rng.random::<f64>() * (secs(max) - secs(min))
            }
            Latency::Exponential { min, mean } => {
                secs(min) + rng.sample(Exponential { mean: secs(mean) })
            }
            Latency::LogNormal { median, sigma } => {
                secs(median) * (sigma * rng.sample(StandardNormal)).exp()
            }
            Latency::Pareto { scale, shape } => {
                let u: f64 = rng.sample(OpenClosed01);
                secs(scale) / u.powf(1.0 / shape)
            }
        };
        // Cap at a day so that a pathological tail cannot overflow the clock.
        Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
    }
}

impl Latency {
    /// The largest delay this distribution can produce, if it is bounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match self {
            Latency::Constant(d) => Some(*d),
            Latency::Uniform { max, .. } => Some(*max),
            _ => None,
        }
    }
}
// ANCHOR_END: latency

// ANCHOR: link_config
/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The delay of a message that is not lost.
    pub latency: Latency,
    /// Probability that a message is silently dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_window` extra.
    pub reorder: f64,
    /// The extra delay of a held-back message is uniform in `[0, reorder_window]`.
    pub reorder_window: Duration,
    /// Bytes per second, or `None` for unlimited. A limited link sends one message at a time,
    /// so a large message delays the ones behind it.
    pub bandwidth: Option<u64>,
}
// ANCHOR_END: link_config

impl LinkConfig {
    /// A perfect link with a constant delay: no loss, duplication or reordering.
    pub fn constant(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency: Latency::Constant(latency),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// This link with a different latency distribution.
    pub fn with_latency(mut self, latency: Latency) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> LinkConfig {
        self.loss = loss;
        self
    }

    /// This link with duplication probability `duplicate`.
    pub fn with_duplicate(mut self, duplicate: f64) -> LinkConfig {
        self.duplicate = duplicate;
        self
    }

    /// This link, holding back a fraction `reorder` of messages by up to `window`.
    pub fn with_reorder(mut self, reorder: f64, window: Duration) -> LinkConfig {
        self.reorder = reorder;
        self.reorder_window = window;
        self
    }

    /// This link with a bandwidth of `bytes_per_sec`.
    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> LinkConfig {
        self.bandwidth = Some(bytes_per_sec);
        self
    }

    /// Checks that every probability is a probability and the bandwidth is not zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".to_string());
        }
        if let Latency::LogNormal { sigma: s, .. } | Latency::Pareto { shape: s, .. } = self.latency
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("latency shape {s} must be positive"));
        }
        Ok(())
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition blocked the link.
    Partition,
    /// The receiver was crashed when it arrived.
    Crashed,
}

/// The fate of one sent message: when its copies arrive, or why none does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Delivered at the first instant, and again at the second if duplicated.
    Arrives(Time, Option<Time>),
    /// Never delivered.
    Dropped(DropReason),
}

/// All links of a run: a default configuration, per-link overrides, and the partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Directed links that a partition currently blocks.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// For bandwidth-limited links: when the link finishes sending what it already has.
    busy_until: BTreeMap<(NodeId, NodeId), Time>,
}

impl Network {
    /// A network in which every link behaves as `default`.
    pub fn new(default: LinkConfig) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            blocked: BTreeSet::new(),
            busy_until: BTreeMap::new(),
        }
    }

    /// Gives the directed link `from -> to` its own configuration.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config);
    }

    /// The configuration of link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        if self.overrides.is_empty() {
            return &self.default;
        }
        self.overrides.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Blocks every link from a node of `from` to a node of `to` (one direction only).
    pub fn block(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks both directions between the two sides.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// True if a partition blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Decides the fate of a message of `size` bytes sent at `now` on `from -> to`.
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        size: usize,
        now: Time,
        rng: &mut impl Rng,
    ) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        // Cloning is cheap: a link configuration holds no heap data.
        let link = self.link(from, to).clone();
        if rng.random_bool(link.loss) {
            return Fate::Dropped(DropReason::Loss);
        }
        // A bandwidth-limited link serialises messages: this one starts when the link is free.
        let mut departs = now;
        if let Some(bytes_per_sec) = link.bandwidth {
            let busy = self.busy_until.entry((from, to)).or_insert(Time::ZERO);
            let start = departs.max(*busy);
            let transmit_ns = (size as u128 * 1_000_000_000).div_ceil(bytes_per_sec as u128);
            departs = Time(start.0.saturating_add(transmit_ns as u64));
            *busy = departs;
        }
        let first = departs + delay(&link, rng);
        let second = rng
            .random_bool(link.duplicate)
            .then(|| departs + delay(&link, rng));
        Fate::Arrives(first, second)
    }
}

/// One message's delay on `link`: its latency, plus a hold-back if it is chosen for reordering.
fn delay(link: &LinkConfig, rng: &mut impl Rng) -> Duration {
    let mut d = link.latency.sample(rng);
    if rng.random_bool(link.reorder) {
        d += Duration::from_nanos(rng.random_range(0..=nanos(link.reorder_window)));
    }
    d
}

}
mod process {
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
}
mod rng {
//! Seeded randomness for simulations, through the `rand` crate's traits.
//!
//! Every random choice in a run (a link's latency, a lost packet, a node's election timeout)
//! comes from a generator derived from the run's single seed. That is what makes a run
//! replayable: the same seed gives the same choices in the same order.
//!
//! Protocol code draws with the API a Rust programmer already knows: `ctx.rng()` is a
//! [`SimRng`], which implements `rand::Rng` and `rand::SeedableRng`, so a handler writes
//! `ctx.rng().random_range(150..=300)`, `random_bool(p)`, `items.choose(ctx.rng())` or
//! `ctx.rng().sample(distribution)` with `rand::RngExt` and `rand::seq::IndexedRandom` in scope.
//!
//! Reproducibility is a promise about two things, the generator and the algorithms that turn
//! its bits into values, and we lean on the `rand` project's written policy for both (The Rust
//! Rand Book, "Reproducibility"). The generator is `rand::rngs::Xoshiro256PlusPlus` (Blackman
//! and Vigna, ACM TOMS 2021; seeded through SplitMix64, Steele, Lea and Flood, OOPSLA 2014), one of
//! rand's *named portable* generators, not `StdRng` or `SmallRng`, which rand documents as free
//! to change algorithm in any release. For portable items rand promises the same values on every
//! platform and across patch releases; a minor release (0.10 to 0.11) may change values and
//! must say so in its changelog. So `code/Cargo.toml` asks for rand 0.10 (patch releases only),
//! and `value_stability` below pins a few draws of every kind we use: an upgrade that changes
//! them fails that test, and then every checked-in output must be regenerated on purpose.
//!
//! Indexes are portable too: rand samples a `usize` range, and chooses and shuffles, through
//! 32-bit draws, so a 32-bit and a 64-bit machine make the same choices. One caveat remains:
//! our floating-point transforms ([`Exponential`], [`StandardNormal`], log-normal and Pareto
//! latencies) call std's `ln`, `cos`, `exp` and `powf`, whose last bit may differ between
//! platforms' maths libraries. The checked-in outputs come from x86-64 Linux.
//!
//! The exponential, normal and Zipf distributions live in `rand_distr`, which the Rust
//! playground does not offer, so the three we need are small types here implementing
//! `rand::distr::Distribution`.

use std::f64::consts::TAU;

use rand::distr::{Distribution, OpenClosed01};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

// ANCHOR: rng
/// The simulator's generator: rand's portable xoshiro256++, seeded through SplitMix64.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream of sub-component `stream` (a node, the network, a fault schedule) of the run
/// `seed`. Different streams of one seed are unrelated, so a random choice added to one node's
/// code does not shift the draws of any other node.
pub fn rng_stream(seed: u64, stream: u64) -> SimRng {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    SimRng::seed_from_u64(splitmix64(&mut state))
}

/// One step of SplitMix64: it mixes `seed ^ stream` so that nearby inputs seed unrelated
/// generators.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: rng

// ANCHOR: distributions
/// The exponential distribution with mean `mean` (memoryless waiting times: think times,
/// arrivals of a Poisson process, queueing delay), sampled by inverting its CDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    pub mean: f64,
}

impl Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // A uniform draw in (0, 1], so that the logarithm is finite.
        let u: f64 = rng.sample(OpenClosed01);
        -self.mean * u.ln()
    }
}

/// The standard normal distribution (mean 0, standard deviation 1), by the Box-Muller
/// transform. Named as in `rand_distr`, so that code moving there changes only an import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardNormal;

impl Distribution<f64> for StandardNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = rng.sample(OpenClosed01);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
// ANCHOR_END: distributions

// ANCHOR: zipf
/// The Zipf distribution over ranks `0..n` (rank 0 the most popular): rank `k` is drawn with
/// probability proportional to `1 / (k + 1)^s`. It is the usual model of popularity skew in
/// caching and partitioning experiments: a few keys get most requests. With `s = 0` every rank is
/// equally likely; around `s = 1` (web objects, Breslau et al., INFOCOM 1999) the head dominates.
/// Sampled by inverting the cumulative weights with a binary search, so building it costs `O(n)`
/// memory once and each draw `O(log n)`. Named as in `rand_distr`, whose `Zipf` yields a float
/// rank starting at 1; this one yields a `usize` index starting at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cumulative[k]` is the total weight of ranks `0..=k`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with exponent `s`. `None` if `n` is 0 or `s` is negative or not finite.
    pub fn new(n: usize, s: f64) -> Option<Zipf> {
        if n == 0 || !s.is_finite() || s < 0.0 {
            return None;
        }
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Some(Zipf { cumulative })
    }

    /// How many ranks there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a `Zipf` has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of rank `k` (0 if `k` is out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        match k {
            0 => self.cumulative[0] / total,
            k if k < self.cumulative.len() => (self.cumulative[k] - self.cumulative[k - 1]) / total,
            _ => 0.0,
        }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u: f64 = rng.random::<f64>() * total;
        // The first rank whose cumulative weight exceeds u.
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}
// ANCHOR_END: zipf

}
mod time {
//! Virtual time.
//!
//! Simulated time is an integer count of nanoseconds since the start of the run. Integers,
//! not floats, so that adding the same delays in the same order always lands on the same
//! instant, and so that two events scheduled for the same instant really compare equal (the
//! event queue then breaks the tie by insertion order, see `world.rs`).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant of virtual time: nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// Later than any event a run can schedule.
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `secs` seconds after the start (fractions allowed).
    pub fn from_secs_f64(secs: f64) -> Time {
        Time((secs * 1e9).round() as u64)
    }

    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    /// Seconds since the start, as a float (for reports and figures).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds since the start, as a float (for reports and figures).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(d)))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

/// A duration as whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Parses a duration written as a number and a unit: `250ms`, `1.5s`, `20us`, `7ns`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (use ns, us, ms or s)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ns, us, ms or s)"
            ));
        }
    };
    let ns = value * scale;
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

}
mod trace {
//! What happened in a run: a fingerprint always, a full record on request.
//!
//! The fingerprint (`trace hash`) is a 64-bit FNV-1a hash of every event the simulator
//! processed, message contents included (through their `Debug` text). Two runs with the same seed
//! must have the same fingerprint; a test checks this for every experiment, so any hidden source
//! of non-determinism (a `HashMap` iteration, a wall-clock read) shows up as a failing test.
//!
//! The full record ([`TraceEvent`]s, serialisable with serde when the `serde` feature is on) feeds figures such as space-time
//! diagrams, and can be written as JSON for replay elsewhere.

use super::time::Time;

/// How much of a run the simulator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for benchmarks.
    Off,
    /// The fingerprint only.
    Hash,
    /// The fingerprint and every event.
    Full,
}

/// One recorded event. Node numbers are plain integers so the JSON stays simple.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of recorded event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum TraceKind {
    /// A node started (or restarted).
    Start { node: usize },
    /// A node handed a message to the network.
    Send { from: usize, to: usize, msg: String },
    /// A message reached its destination and was handled.
    Deliver { from: usize, to: usize, msg: String },
    /// A message was lost, blocked by a partition, or reached a crashed node.
    Drop {
        from: usize,
        to: usize,
        reason: String,
        msg: String,
    },
    /// A timer fired.
    Timer { node: usize, timer: u32 },
    /// A fault was injected or repaired.
    Fault { fault: String },
}

/// A 64-bit FNV-1a hash, fed field by field. Its output is fixed by its definition, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xCBF2_9CE4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    /// Mixes a number into the hash.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// The recorder the simulator owns.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    pub(crate) level: TraceLevel,
    pub(crate) hash: Fnv64,
    pub(crate) events: Vec<TraceEvent>,
}

impl Recorder {
    pub(crate) fn new(level: TraceLevel) -> Recorder {
        Recorder {
            level,
            hash: Fnv64::default(),
            events: Vec::new(),
        }
    }

    /// Records `kind` at `at`: hashes it, and keeps it if the level is `Full`.
    pub(crate) fn record(&mut self, at: Time, kind: TraceKind) {
        self.hash.u64(at.0);
        match &kind {
            TraceKind::Start { node } => {
                self.hash.u64(1);
                self.hash.u64(*node as u64);
            }
            TraceKind::Send { from, to, msg } | TraceKind::Deliver { from, to, msg } => {
                self.hash.u64(if matches!(kind, TraceKind::Send { .. }) {
                    2
                } else {
                    3
                });
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Drop {
                from,
                to,
                reason,
                msg,
            } => {
                self.hash.u64(4);
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(reason.as_bytes());
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Timer { node, timer } => {
                self.hash.u64(5);
                self.hash.u64(*node as u64);
                self.hash.u64(u64::from(*timer));
            }
            TraceKind::Fault { fault } => {
                self.hash.u64(6);
                self.hash.bytes(fault.as_bytes());
            }
        }
        if self.level == TraceLevel::Full {
            self.events.push(TraceEvent { at_ns: at.0, kind });
        }
    }
}

}
mod world {
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
}

pub use campaign::{Campaign, CampaignReport};
pub use clock::Clock;
pub use faults::{Fault, FaultSchedule, Nemesis, ScheduleError};
pub use metrics::{Histogram, Metrics};
pub use network::{DropReason, Fate, Latency, LinkConfig, Network};
pub use process::{Ctx, Effect, NodeId, Process, TimerId};
pub use rng::{Exponential, SimRng, StandardNormal, Zipf, rng_stream};
pub use time::{Time, nanos, parse_duration};
pub use trace::{Fnv64, TraceEvent, TraceKind, TraceLevel};
pub use world::{InvariantViolation, NetStats, NodeState, Sim};
}
