//! A participant of two-phase commit: a resource manager that does its part of a transaction,
//! votes, and then does what the coordinator decides.
//!
//! **The promise.** Voting yes is a promise to commit if told to, even after a crash. So the
//! participant logs PREPARED (with, in a real system, the transaction's writes and locks) before
//! it sends the vote, and from then on it may neither commit nor abort on its own: it is *in
//! doubt* until it learns the decision, holding the transaction's locks the whole time. That is
//! the blocking problem of two-phase commit (Gray 1978; Bernstein, Hadzilacos and Goodman 1987,
//! ch. 7).
//!
//! **The rules** ([`Participant::on_prepare`], [`Participant::on_decision`]):
//! - Before voting, the participant may abort alone: when it cannot take the lock (no-wait
//!   locking: a conflicting transaction is refused rather than queued, so there is no deadlock),
//!   when it decides to vote no, or when no PREPARE arrives within `work_timeout` (the
//!   coordinator may be gone). A later PREPARE for that transaction gets a no.
//! - After voting yes, only a DECISION ends the transaction. An in-doubt participant asks the
//!   coordinator every `query_interval`, and does so at once after a restart.
//! - On restart it rebuilds its state from its log: prepared transactions get their lock back;
//!   work that was not prepared is forgotten, which is an abort, since it never voted.
//!
//! Invariant (asserted): a participant never receives COMMIT for a transaction it did not vote
//! yes on. The campaign in `tests/part2/ch12_atomic_commit.rs` checks the global one: no
//! transaction commits on one participant and aborts on another.

use std::collections::BTreeMap;

use rand::RngExt;

use super::super::wal::TxnId;
use super::message::{Config, Msg, ParticipantRecord};
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// Where one transaction stands at this participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnState {
    /// Work done, lock held, not yet voted (volatile: a crash forgets it).
    Working,
    /// Voted yes, PREPARED logged, lock held: in doubt until a decision arrives.
    Prepared,
    Committed,
    Aborted,
}

/// A participant.
#[derive(Clone, Debug)]
pub struct Participant {
    pub config: Config,
    pub coordinator: NodeId,
    /// The participant's disk. Invariant: a txn has at most one PREPARED and one outcome.
    pub log: Vec<ParticipantRecord>,
    /// Every transaction this participant knows of (rebuilt from `log` on restart).
    pub txns: BTreeMap<TxnId, TxnState>,
    /// The transaction holding this participant's lock. Invariant: it is Working or Prepared.
    pub lock: Option<TxnId>,
    /// Local time the lock was taken (meaningful while `lock` is `Some`).
    pub locked_at: Time,
}

/// Timer ids: two per transaction.
fn work_timer(txn: TxnId) -> TimerId {
    TimerId(2 * txn as u32)
}
fn query_timer(txn: TxnId) -> TimerId {
    TimerId(2 * txn as u32 + 1)
}

impl Participant {
    /// A participant restarted from `log` (empty for a fresh one).
    pub fn new(config: Config, coordinator: NodeId, log: Vec<ParticipantRecord>) -> Participant {
        let txns = BTreeMap::new();
        let (lock, locked_at) = (None, Time::ZERO);
        let mut p = Participant {
            config,
            coordinator,
            log,
            txns,
            lock,
            locked_at,
        };
        for record in p.log.clone() {
            p.replay(record);
        }
        p
    }

    /// Applies one log record to the volatile state.
    fn replay(&mut self, record: ParticipantRecord) {
        let txn = record.txn();
        let state = match record {
            ParticipantRecord::Prepared { .. } => TxnState::Prepared,
            ParticipantRecord::Committed { .. } => TxnState::Committed,
            ParticipantRecord::Aborted { .. } => TxnState::Aborted,
        };
        self.txns.insert(txn, state);
        if state == TxnState::Prepared {
            if self.lock != Some(txn) {
                // A prepared transaction gets its lock back after a crash.
                self.lock = Some(txn);
                if let ParticipantRecord::Prepared { at, .. } = record {
                    self.locked_at = at;
                }
            }
        } else if self.lock == Some(txn) {
            self.lock = None;
        }
    }

    /// Logs `record` (durable from now on) and applies it; records how long a released lock
    /// was held, for the blocking-window experiment.
    fn write(&mut self, ctx: &mut Ctx<'_, Msg>, record: ParticipantRecord) {
        let held = self.lock;
        self.log.push(record);
        self.replay(record);
        if held.is_some() && self.lock.is_none() {
            let ms = ctx.now().since(self.locked_at).as_secs_f64() * 1e3;
            ctx.observe("2pc.lock_held_ms", ms);
        }
    }

    /// At start and after a restart: ask about every transaction left in doubt.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let in_doubt: Vec<TxnId> = self.in_doubt().collect();
        for txn in in_doubt {
            ctx.send(self.coordinator, Msg::QueryDecision { txn });
            ctx.set_timer(query_timer(txn), self.config.query_interval);
        }
    }

    /// Transactions prepared here whose outcome this participant does not know.
    pub fn in_doubt(&self) -> impl Iterator<Item = TxnId> + '_ {
        self.txns
            .iter()
            .filter(|(_, s)| **s == TxnState::Prepared)
            .map(|(t, _)| *t)
    }

    fn abort(&mut self, ctx: &mut Ctx<'_, Msg>, txn: TxnId) {
        let at = ctx.now();
        self.write(ctx, ParticipantRecord::Aborted { txn, at });
    }

    /// WORK: take the lock and do the work, or refuse at once.
    pub fn on_work(&mut self, ctx: &mut Ctx<'_, Msg>, txn: TxnId) {
        match self.txns.get(&txn) {
            None if self.lock.is_none() => {
                self.lock = Some(txn);
                self.locked_at = ctx.now();
                self.txns.insert(txn, TxnState::Working);
                ctx.set_timer(work_timer(txn), self.config.work_timeout);
                ctx.send(self.coordinator, Msg::WorkDone { txn });
            }
            None => {
                // Blocked by the lock's holder: count whether it is in doubt or still working.
                let holder = self.lock.and_then(|t| self.txns.get(&t).copied());
                if holder == Some(TxnState::Prepared) {
                    ctx.count("2pc.refused_in_doubt");
                } else {
                    ctx.count("2pc.refused_working");
                }
                self.abort(ctx, txn);
                ctx.send(self.coordinator, Msg::Vote { txn, yes: false });
            }
            Some(TxnState::Working) => ctx.send(self.coordinator, Msg::WorkDone { txn }),
            Some(TxnState::Aborted) => ctx.send(self.coordinator, Msg::Vote { txn, yes: false }),
            Some(TxnState::Prepared | TxnState::Committed) => {}
        }
    }

    // ANCHOR: on_prepare
    /// PREPARE: vote. A yes is logged before it is sent; a no aborts here at once.
    pub fn on_prepare(&mut self, ctx: &mut Ctx<'_, Msg>, txn: TxnId) {
        let yes = match self.txns.get(&txn) {
            Some(TxnState::Working) => {
                let no_probability = self.config.no_vote_probability;
                if ctx.rng().random_bool(no_probability) {
                    self.abort(ctx, txn);
                    false
                } else {
                    let at = ctx.now();
                    self.write(ctx, ParticipantRecord::Prepared { txn, at });
                    ctx.set_timer(query_timer(txn), self.config.query_interval);
                    true
                }
            }
            Some(TxnState::Prepared | TxnState::Committed) => true, // a resent PREPARE
            Some(TxnState::Aborted) => false,
            None => {
                // The work was lost in a crash (or never arrived): this participant cannot
                // promise anything about it.
                self.abort(ctx, txn);
                false
            }
        };
        ctx.send(self.coordinator, Msg::Vote { txn, yes });
    }
    // ANCHOR_END: on_prepare

    // ANCHOR: on_decision
    /// DECISION: apply it (once) and acknowledge it (every time).
    pub fn on_decision(&mut self, ctx: &mut Ctx<'_, Msg>, txn: TxnId, commit: bool) {
        let state = self.txns.get(&txn).copied();
        match state {
            Some(TxnState::Prepared) if commit => {
                let at = ctx.now();
                self.write(ctx, ParticipantRecord::Committed { txn, at });
            }
            Some(TxnState::Prepared | TxnState::Working) | None => {
                assert!(
                    !commit,
                    "COMMIT of txn {txn} reached {} in state {state:?}",
                    ctx.id()
                );
                self.abort(ctx, txn);
            }
            Some(TxnState::Committed) => assert!(commit, "txn {txn} committed, then ABORT"),
            Some(TxnState::Aborted) => assert!(!commit, "txn {txn} aborted, then COMMIT"),
        }
        ctx.cancel_timer(query_timer(txn));
        ctx.send(self.coordinator, Msg::Ack { txn });
    }
    // ANCHOR_END: on_decision

    /// A timer: give up on work that was never prepared, or ask again about an in-doubt txn.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        let txn = TxnId::from(timer.0 / 2);
        let state = self.txns.get(&txn).copied();
        if timer == work_timer(txn) && state == Some(TxnState::Working) {
            ctx.count("2pc.unilateral_abort");
            self.abort(ctx, txn);
        } else if timer == query_timer(txn) && state == Some(TxnState::Prepared) {
            ctx.send(self.coordinator, Msg::QueryDecision { txn });
            ctx.set_timer(query_timer(txn), self.config.query_interval);
        }
    }
}
