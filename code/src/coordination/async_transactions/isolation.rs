//! Sagas lack isolation: the anomaly, and the semantic lock that prevents it.
//!
//! A saga commits each step locally, so its intermediate states are visible to everyone. Here
//! the other party is a second saga, the airline's loyalty program, which awards miles for
//! every flight booking it finds *final*. Without a semantic lock, the flight service writes
//! the booking as CONFIRMED at the saga's first step; if the payment is refused later, the
//! booking is cancelled, but a loyalty run that came in between has already awarded miles for
//! a flight nobody will take: a dirty read, the saga version of reading uncommitted data.
//!
//! With the semantic lock, the booking stays PENDING until the pivot (the payment) succeeds,
//! and the loyalty program treats PENDING as "not yet": it awards nothing and looks again
//! later. [`interleavings`] runs the loyalty reader after each action of one trip saga (every
//! interleaving of the reader with the saga's actions), then once more after the saga ends,
//! and counts the miles it awarded for flights that ended cancelled.

use rusqlite::Connection;

use super::bookings::{self, Status};
use super::crash::{Crasher, Halt, Schedule};
use super::orchestrator::Orchestrated;
use super::saga::Step;

// ANCHOR: loyalty
/// The loyalty program's rule: miles for a flight booking once it is final (CONFIRMED), never
/// for a PENDING one, which its saga may still cancel. Returns whether it awarded miles.
pub fn award_miles(flight: &Connection, saga: u64) -> rusqlite::Result<bool> {
    Ok(bookings::status(flight, saga)? == Some(Status::Confirmed))
}
// ANCHOR_END: loyalty

/// What the loyalty reader saw over every interleaving with one saga.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Interleavings {
    /// Positions of the reader among the saga's actions (before the first, ..., after the last).
    pub runs: u64,
    /// Runs in which the reader awarded miles (at its position or after the saga ended).
    pub awarded: u64,
    /// Of those, runs whose flight booking ended CANCELLED: the anomaly.
    pub awarded_for_cancelled: u64,
}

/// Runs saga `saga` once per reader position, with or without the semantic lock.
pub fn interleavings(saga: u64, semantic_lock: bool) -> Result<Interleavings, String> {
    let err = |e: Halt| e.to_string();
    let mut result = Interleavings::default();
    let mut position = 0;
    loop {
        let dir = super::db::scratch_dir().map_err(|e| format!("temporary directory: {e}"))?;
        let mut o = Orchestrated::open(dir.path(), semantic_lock).map_err(|e| e.to_string())?;
        let mut no_crash = Crasher::new(Schedule::Never);
        o.begin(saga).map_err(err)?;
        for _ in 0..position {
            o.step(saga, &mut no_crash).map_err(err)?;
        }
        // After the saga's last action: this is the last position.
        let done = o.outcome(saga).map_err(err)?.is_some();
        let flight = o.participant(Step::Flight);
        let mut awarded = award_miles(flight, saga).map_err(|e| e.to_string())?;
        o.run(saga, &mut no_crash).map_err(err)?;
        let flight = o.participant(Step::Flight);
        awarded |= award_miles(flight, saga).map_err(|e| e.to_string())?;
        let cancelled =
            bookings::status(flight, saga).map_err(|e| e.to_string())? == Some(Status::Cancelled);
        result.runs += 1;
        result.awarded += u64::from(awarded);
        result.awarded_for_cancelled += u64::from(awarded && cancelled);
        if done {
            return Ok(result);
        }
        position += 1;
    }
}
