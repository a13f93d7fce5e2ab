//! The coordinator (transaction manager) of two-phase commit, with presumed abort.
//!
//! **Protocol** (Gray 1978; Bernstein, Hadzilacos and Goodman 1987, ch. 7). For each
//! transaction: log BEGIN, send WORK to every participant and wait until each has done it; then
//! phase 1, send PREPARE and collect votes; then phase 2, *force* the decision to the log (commit
//! if every vote was yes, abort otherwise), and only then send it. Resend whatever is
//! unanswered every `resend`; give up on votes (abort) after `vote_timeout`.
//!
//! **Why log the decision first.** Once one participant has heard COMMIT and applied it, the
//! decision can never change. If the coordinator sent COMMIT and then crashed before logging it,
//! its recovery would find no decision and abort, and the participants would disagree. The
//! decision record is the commit point of the whole distributed transaction.
//!
//! **Presumed abort** (Mohan, Lindsay and Obermarck 1986). A transaction with no decision record
//! is aborted: at recovery, every BEGIN without a decision gets an ABORT, and a query about a
//! transaction the coordinator has no decision for (and is not deciding right now) is answered
//! ABORT. Forcing takes `log_force` of simulated time; a crash during it loses the decision,
//! which is then presumed abort, correctly, since no participant has heard it.
//!
//! **What is durable** is exactly [`Coordinator::log`]; the simulator hands it back on restart.
//! The current round of votes and the set of unacknowledged participants are volatile.

use std::collections::{BTreeMap, BTreeSet};

use super::super::wal::TxnId;
use super::message::{Config, CoordinatorRecord, Msg};
use crate::sim::{Ctx, NodeId, Time, TimerId};

const RESEND: TimerId = TimerId(0);
const FORCE: TimerId = TimerId(1);

/// Where the transaction being run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// WORK sent; these participants have done it.
    Working(BTreeSet<NodeId>),
    /// PREPARE sent; these participants voted yes.
    Voting(BTreeSet<NodeId>),
    /// The decision is being forced to the log.
    Forcing { commit: bool },
}

/// The transaction being run.
#[derive(Clone, Debug)]
pub struct Round {
    pub txn: TxnId,
    pub phase: Phase,
    /// Local time the round started (for the vote timeout).
    pub started: Time,
}

/// The coordinator.
#[derive(Clone, Debug)]
pub struct Coordinator {
    pub config: Config,
    pub participants: Vec<NodeId>,
    /// The coordinator's disk.
    pub log: Vec<CoordinatorRecord>,
    /// The transaction being run, if any (volatile).
    pub round: Option<Round>,
    /// Decided transactions and the participants that have not acknowledged (volatile).
    pub unacked: BTreeMap<TxnId, BTreeSet<NodeId>>,
}

impl Coordinator {
    /// A coordinator restarted from `log` (empty for a fresh one).
    pub fn new(config: Config, log: Vec<CoordinatorRecord>) -> Coordinator {
        let participants = (1..=config.participants).map(NodeId).collect();
        Coordinator {
            config,
            participants,
            log,
            round: None,
            unacked: BTreeMap::new(),
        }
    }

    /// The decision logged for `txn`, if any.
    pub fn decision(&self, txn: TxnId) -> Option<bool> {
        self.log.iter().find_map(|r| match *r {
            CoordinatorRecord::Decision { txn: t, commit } if t == txn => Some(commit),
            _ => None,
        })
    }

    fn begun(&self) -> Vec<TxnId> {
        let begins = self.log.iter().filter_map(|r| match *r {
            CoordinatorRecord::Begin(txn) => Some(txn),
            _ => None,
        });
        begins.collect()
    }

    fn ended(&self, txn: TxnId) -> bool {
        self.log.contains(&CoordinatorRecord::End(txn))
    }

    // ANCHOR: recover
    /// At start and after a restart: presume abort for undecided transactions, finish phase 2
    /// of decided ones, then run the next transaction.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for txn in self.begun() {
            let commit = match self.decision(txn) {
                Some(commit) => commit,
                None => {
                    self.log
                        .push(CoordinatorRecord::Decision { txn, commit: false });
                    false
                }
            };
            if !self.ended(txn) {
                self.send_decision(ctx, txn, commit);
            }
        }
        ctx.set_timer(RESEND, self.config.resend);
        self.start_next(ctx);
    }
    // ANCHOR_END: recover

    fn start_next(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let txn = self.begun().len() as TxnId + 1;
        if self.round.is_some() || txn > self.config.txns {
            return;
        }
        self.log.push(CoordinatorRecord::Begin(txn));
        let phase = Phase::Working(BTreeSet::new());
        self.round = Some(Round {
            txn,
            phase,
            started: ctx.now(),
        });
        for &p in &self.participants {
            ctx.send(p, Msg::Work { txn });
        }
    }

    fn send_decision(&mut self, ctx: &mut Ctx<'_, Msg>, txn: TxnId, commit: bool) {
        self.unacked
            .insert(txn, self.participants.iter().copied().collect());
        for &p in &self.participants {
            ctx.send(p, Msg::Decision { txn, commit });
        }
    }

    /// Starts forcing the decision on the current round; it is sent when the force completes.
    fn decide(&mut self, ctx: &mut Ctx<'_, Msg>, commit: bool) {
        let round = self.round.as_mut().expect("deciding the current round");
        round.phase = Phase::Forcing { commit };
        ctx.set_timer(FORCE, self.config.log_force);
    }

    // ANCHOR: on_message
    /// Handles a participant's message.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let n = self.participants.len();
        let current = self.round.as_ref().map(|r| r.txn);
        match msg {
            Msg::WorkDone { txn } if current == Some(txn) => {
                let round = self.round.as_mut().expect("current round");
                if let Phase::Working(done) = &mut round.phase {
                    done.insert(from);
                    if done.len() == n {
                        round.phase = Phase::Voting(BTreeSet::new());
                        for &p in &self.participants {
                            ctx.send(p, Msg::Prepare { txn });
                        }
                    }
                }
            }
            Msg::Vote { txn, yes } if current == Some(txn) => {
                let round = self.round.as_mut().expect("current round");
                let decision = match &mut round.phase {
                    Phase::Voting(yeses) if yes => {
                        yeses.insert(from);
                        (yeses.len() == n).then_some(true)
                    }
                    Phase::Voting(_) | Phase::Working(_) if !yes => Some(false),
                    _ => None, // already deciding, or a yes before PREPARE (impossible)
                };
                if let Some(commit) = decision {
                    self.decide(ctx, commit);
                }
            }
            Msg::Ack { txn } => {
                let Some(waiting) = self.unacked.get_mut(&txn) else {
                    return;
                };
                waiting.remove(&from);
                if waiting.is_empty() {
                    self.unacked.remove(&txn);
                    self.log.push(CoordinatorRecord::End(txn));
                }
            }
            Msg::QueryDecision { txn } => match self.decision(txn) {
                Some(commit) => ctx.send(from, Msg::Decision { txn, commit }),
                None if current == Some(txn) => {} // still deciding: the answer comes later
                None => ctx.send(from, Msg::Decision { txn, commit: false }), // presumed abort
            },
            _ => {} // stale: about a round that is over
        }
    }
    // ANCHOR_END: on_message

    /// The force completes (the decision is durable and sent), or the resend timer fires.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if timer == FORCE {
            let round = self.round.take().expect("a round is being forced");
            let Phase::Forcing { commit } = round.phase else {
                unreachable!("the force timer is set only when forcing")
            };
            self.log.push(CoordinatorRecord::Decision {
                txn: round.txn,
                commit,
            });
            self.send_decision(ctx, round.txn, commit);
            self.start_next(ctx);
            return;
        }
        self.resend(ctx);
        ctx.set_timer(RESEND, self.config.resend);
    }

    fn resend(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for (&txn, waiting) in &self.unacked {
            let commit = self
                .decision(txn)
                .expect("unacked transactions are decided");
            for &p in waiting {
                ctx.send(p, Msg::Decision { txn, commit });
            }
        }
        let Some(round) = &self.round else { return };
        let txn = round.txn;
        if matches!(round.phase, Phase::Forcing { .. }) {
            return;
        }
        if ctx.now().since(round.started) >= self.config.vote_timeout {
            ctx.count("2pc.vote_timeout");
            return self.decide(ctx, false);
        }
        for &p in &self.participants {
            match &round.phase {
                Phase::Working(done) if !done.contains(&p) => ctx.send(p, Msg::Work { txn }),
                Phase::Voting(yeses) if !yeses.contains(&p) => ctx.send(p, Msg::Prepare { txn }),
                _ => {}
            }
        }
    }
}
