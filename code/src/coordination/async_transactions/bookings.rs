//! A saga participant's local transactions: book, cancel (the compensation) and confirm.
//!
//! Each participant (flight, hotel, car, payment) keeps one row per saga in its `bookings`
//! table. The three operations are idempotent, because the orchestrator resends a command
//! after a crash and a choreographed service may see an event twice:
//!
//! - [`execute`] books (PENDING with a semantic lock, CONFIRMED without one), or records the
//!   business refusal as FAILED; repeating it returns the first answer.
//! - [`compensate`] is a *semantic* undo: the row is not deleted, it becomes CANCELLED, as a
//!   real airline keeps a cancelled ticket (and a payment would get a refund, not an erasure).
//!   Cancelling a saga that never booked here writes a CANCELLED tombstone, so that a late
//!   `execute` cannot book afterwards: cancel and book commute.
//! - [`confirm`] lifts the semantic lock: PENDING becomes CONFIRMED.
//!
//! Every change of state also writes one row to `effects`, so that the checks can count side
//! effects and catch one applied twice.

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::db::record_effect;
use super::saga::{Action, Reply, Step};

/// The states of a booking. CONFIRMED is final; PENDING may still be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Confirmed,
    Cancelled,
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Confirmed => "CONFIRMED",
            Status::Cancelled => "CANCELLED",
            Status::Failed => "FAILED",
        }
    }

    fn parse(name: &str) -> Status {
        match name {
            "PENDING" => Status::Pending,
            "CONFIRMED" => Status::Confirmed,
            "CANCELLED" => Status::Cancelled,
            "FAILED" => Status::Failed,
            other => panic!("unknown booking status {other:?} in the bookings table"),
        }
    }

    /// Whether the booking holds a resource (a seat, a room, money).
    pub fn is_booked(self) -> bool {
        matches!(self, Status::Pending | Status::Confirmed)
    }
}

/// The status of `saga`'s booking, if it has one.
pub fn status(conn: &Connection, saga: u64) -> rusqlite::Result<Option<Status>> {
    let name: Option<String> = conn
        .query_row(
            "SELECT status FROM bookings WHERE saga = ?1",
            [saga as i64],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name.as_deref().map(Status::parse))
}

fn set(tx: &Transaction, step: Step, saga: u64, status: Status) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO bookings (saga, status) VALUES (?1, ?2)",
        rusqlite::params![saga as i64, status.name()],
    )?;
    record_effect(tx, &format!("{saga} {} {}", step.name(), status.name()))
}

// ANCHOR: participant
/// The local transaction for `action` on `saga`'s booking. Returns the reply and whether the
/// call changed anything (false for a repeated command). `refuses` is the business outcome.
pub fn handle(
    tx: &Transaction,
    step: Step,
    action: Action,
    saga: u64,
    refuses: bool,
    semantic_lock: bool,
) -> rusqlite::Result<(Reply, bool)> {
    let now = status(tx, saga)?;
    let (reply, next) = match (action, now) {
        (Action::Execute(_), None) if refuses => (Reply::Failed, Some(Status::Failed)),
        (Action::Execute(_), None) if semantic_lock => (Reply::Done, Some(Status::Pending)),
        (Action::Execute(_), None) => (Reply::Done, Some(Status::Confirmed)),
        (Action::Execute(_), Some(s)) if s.is_booked() => (Reply::Done, None),
        // Refused before, or cancelled before this (late) command arrived.
        (Action::Execute(_), Some(_)) => (Reply::Failed, None),
        (Action::Compensate(_), Some(s)) if s.is_booked() => (Reply::Done, Some(Status::Cancelled)),
        (Action::Compensate(_), None) => (Reply::Done, Some(Status::Cancelled)),
        (Action::Compensate(_), Some(_)) => (Reply::Done, None),
        (Action::Confirm(_), Some(Status::Pending)) => (Reply::Done, Some(Status::Confirmed)),
        (Action::Confirm(_), _) => (Reply::Done, None),
        (Action::Finish(_), _) => panic!("Finish is not sent to participants"),
    };
    if let Some(next) = next {
        set(tx, step, saga, next)?;
    }
    Ok((reply, next.is_some()))
}
// ANCHOR_END: participant
