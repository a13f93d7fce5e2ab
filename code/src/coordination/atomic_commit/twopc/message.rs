//! What the coordinator and the participants of two-phase commit say to each other, what each
//! writes to its own disk, and the settings they share.

use std::time::Duration;

use super::super::wal::TxnId;
use crate::sim::Time;

// ANCHOR: msg
/// A message of two-phase commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Coordinator to participant: execute your part of `txn` (take its locks, do its writes).
    Work { txn: TxnId },
    /// Participant to coordinator: my part of `txn` is done, I hold its locks.
    WorkDone { txn: TxnId },
    /// Phase 1, coordinator to participant: can you commit `txn`?
    Prepare { txn: TxnId },
    /// Phase 1 answer. `yes` is a promise: the participant has logged PREPARED and will commit
    /// if told to, whatever happens to it meanwhile.
    Vote { txn: TxnId, yes: bool },
    /// Phase 2, coordinator to participant: the outcome of `txn`.
    Decision { txn: TxnId, commit: bool },
    /// Participant to coordinator: I have applied the decision on `txn`.
    Ack { txn: TxnId },
    /// An in-doubt participant asks the coordinator for the outcome of `txn`.
    QueryDecision { txn: TxnId },
}
// ANCHOR_END: msg

// ANCHOR: records
/// What the coordinator writes to its disk (forced before it acts on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoordinatorRecord {
    /// `txn` was started; if no decision follows, recovery aborts it.
    Begin(TxnId),
    /// The outcome of `txn`. Logged before any participant hears it.
    Decision { txn: TxnId, commit: bool },
    /// Every participant acknowledged the decision on `txn`: it may be forgotten.
    End(TxnId),
}

/// What a participant writes to its disk, with the local time of the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantRecord {
    /// Logged before voting yes: the writes and the locks of `txn` survive a crash from here on.
    Prepared { txn: TxnId, at: Time },
    /// `txn` committed here.
    Committed { txn: TxnId, at: Time },
    /// `txn` aborted here (told to, voted no, or gave up before voting).
    Aborted { txn: TxnId, at: Time },
}
// ANCHOR_END: records

impl ParticipantRecord {
    /// The transaction of the record.
    pub fn txn(&self) -> TxnId {
        match *self {
            ParticipantRecord::Prepared { txn, .. }
            | ParticipantRecord::Committed { txn, .. }
            | ParticipantRecord::Aborted { txn, .. } => txn,
        }
    }
}

// ANCHOR: config
/// Settings shared by the coordinator and the participants.
#[derive(Clone, Debug)]
pub struct Config {
    /// Participants (nodes `1..=participants`; the coordinator is node 0).
    pub participants: usize,
    /// Transactions the coordinator runs, one after another.
    pub txns: u64,
    /// The coordinator resends unanswered messages this often.
    pub resend: Duration,
    /// The coordinator aborts a transaction not fully voted on within this time of its start.
    pub vote_timeout: Duration,
    /// A participant that has done the work but heard no PREPARE for this long aborts alone.
    pub work_timeout: Duration,
    /// An in-doubt participant asks the coordinator for the outcome this often.
    pub query_interval: Duration,
    /// How long forcing the decision record to the coordinator's disk takes.
    pub log_force: Duration,
    /// Probability that a participant votes no (a constraint fails, it is out of space...).
    pub no_vote_probability: f64,
}
// ANCHOR_END: config

impl Default for Config {
    fn default() -> Config {
        Config {
            participants: 3,
            txns: 5,
            resend: Duration::from_millis(50),
            vote_timeout: Duration::from_millis(500),
            work_timeout: Duration::from_millis(1_000),
            query_interval: Duration::from_millis(100),
            log_force: Duration::from_millis(2),
            no_vote_probability: 0.1,
        }
    }
}
