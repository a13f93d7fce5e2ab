//! The orchestrated saga on SQLite: a saga log that survives crashes, and four participants.
//!
//! The orchestrator is a separate service with its own database file holding the saga log,
//! one row per saga: the [`Saga`]'s phase and index. It runs a saga one action at a time
//! ([`Orchestrated::step`]): read the row, send the action the state machine names, feed the
//! reply back, write the new row. Each participant (flight, hotel, car, payment) has its own
//! file and applies the command in one local transaction ([`super::bookings::handle`]).
//!
//! Crash points: inside the participant's transaction (it rolls back; the orchestrator sees no
//! reply and resends), after the participant's commit but before its reply arrives (the
//! orchestrator resends a command that already took effect: the participant's idempotency makes
//! it a no-op), and after the reply but before the log write (the same). The log write itself is
//! one autocommitted `UPDATE`, atomic. So the orchestrator never needs to know *whether* a
//! command ran before the crash: resending is always safe.
//!
//! The call is a plain function call standing for an RPC; a crash of either side is followed by
//! restarting every component (every connection dropped and reopened), harsher than real life,
//! where only the crashed process restarts.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};

use super::bookings;
use super::crash::{Crasher, Halt};
use super::db::open;
use super::saga::{Action, Outcome, Phase, Saga, Step};

/// Which step refuses in saga `saga` (a business failure, not a crash): sagas 0, 1, 2 and 3 are
/// refused by the flight, hotel, car and payment service, saga 4 by nobody, and so on modulo 5.
pub fn refusing_step(saga: u64) -> Option<Step> {
    Step::TRIP.get((saga % 5) as usize).copied()
}

/// Commands sent, distinct commands, and resent commands that found their work already done.
/// A command resent after a crash that rolled back the participant's transaction counts in
/// `sent` but neither in `distinct` (it was sent before) nor in `repeated` (it did work).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Calls {
    pub sent: u64,
    /// The distinct commands, as `(saga, action)`.
    pub distinct: std::collections::BTreeSet<(u64, String)>,
    pub repeated: u64,
}

/// The orchestrator and its participants, each with its own database file in `dir`.
pub struct Orchestrated {
    dir: PathBuf,
    log: Connection,
    participants: Vec<(Step, Connection)>,
    semantic_lock: bool,
    /// Counted by the test harness, not state of any process: it survives restarts.
    pub calls: Calls,
}

fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sqlite"))
}

impl Orchestrated {
    pub fn open(dir: &Path, semantic_lock: bool) -> rusqlite::Result<Orchestrated> {
        let participants = Step::TRIP
            .iter()
            .map(|&s| Ok((s, open(&file(dir, s.name()))?)))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Orchestrated {
            dir: dir.to_path_buf(),
            log: open(&file(dir, "orchestrator"))?,
            participants,
            semantic_lock,
            calls: Calls::default(),
        })
    }

    /// A crash: every connection (and any transaction it had open) is dropped, then reopened.
    pub fn restart(&mut self) -> rusqlite::Result<()> {
        let calls = std::mem::take(&mut self.calls);
        *self = Orchestrated::open(&self.dir.clone(), self.semantic_lock)?;
        self.calls = calls;
        Ok(())
    }

    /// The participant `step`'s connection, for reading its bookings.
    pub fn participant(&self, step: Step) -> &Connection {
        &self
            .participants
            .iter()
            .find(|(s, _)| *s == step)
            .expect("every step")
            .1
    }

    /// Starts saga `saga` (again, after a crash: then it changes nothing).
    pub fn begin(&self, saga: u64) -> Result<(), Halt> {
        self.log.execute(
            "INSERT OR IGNORE INTO saga_log (saga, phase, idx) VALUES (?1, 'forward', 0)",
            [saga as i64],
        )?;
        Ok(())
    }

    fn load(&self, saga: u64) -> Result<Saga, Halt> {
        let row: Option<(String, i64)> = self
            .log
            .query_row(
                "SELECT phase, idx FROM saga_log WHERE saga = ?1",
                [saga as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (phase, index) = row.unwrap_or_else(|| panic!("saga {saga} was never begun"));
        let phase = Phase::parse(&phase).unwrap_or_else(|| panic!("bad phase {phase:?}"));
        Ok(Saga::restore(
            &Step::TRIP,
            self.semantic_lock,
            phase,
            index as usize,
        ))
    }

    /// How saga `saga` ended, or `None` while it still has actions to run.
    pub fn outcome(&self, saga: u64) -> Result<Option<Outcome>, Halt> {
        Ok(match self.load(saga)?.next_action() {
            Action::Finish(outcome) => Some(outcome),
            _ => None,
        })
    }

    // ANCHOR: step
    /// Runs one action of saga `saga`; returns its outcome once it has ended.
    pub fn step(&mut self, saga: u64, crash: &mut Crasher) -> Result<Option<Outcome>, Halt> {
        let mut state = self.load(saga)?;
        let action = state.next_action();
        let step = match action {
            Action::Finish(outcome) => return Ok(Some(outcome)),
            Action::Execute(s) | Action::Compensate(s) | Action::Confirm(s) => s,
        };
        let reply = self.call(step, action, saga, crash)?;
        crash.point("orchestrator: reply received, not logged")?;
        state.on_reply(reply);
        self.log.execute(
            "UPDATE saga_log SET phase = ?2, idx = ?3 WHERE saga = ?1",
            rusqlite::params![saga as i64, state.phase.name(), state.index as i64],
        )?;
        Ok(None)
    }
    // ANCHOR_END: step

    /// Runs saga `saga` from wherever its log says, to the end.
    pub fn run(&mut self, saga: u64, crash: &mut Crasher) -> Result<Outcome, Halt> {
        self.begin(saga)?;
        loop {
            if let Some(outcome) = self.step(saga, crash)? {
                return Ok(outcome);
            }
        }
    }

    /// The participant's side of the call: one local transaction.
    fn call(
        &mut self,
        step: Step,
        action: Action,
        saga: u64,
        crash: &mut Crasher,
    ) -> Result<super::saga::Reply, Halt> {
        self.calls.sent += 1;
        self.calls.distinct.insert((saga, format!("{action:?}")));
        let lock = self.semantic_lock;
        let conn = &mut self
            .participants
            .iter_mut()
            .find(|(s, _)| *s == step)
            .expect("step")
            .1;
        let tx = conn.transaction()?;
        let refuses = refusing_step(saga) == Some(step);
        let (reply, changed) = bookings::handle(&tx, step, action, saga, refuses, lock)?;
        crash.point("participant: applied, not committed")?;
        tx.commit()?;
        crash.point("participant: committed, reply lost")?;
        if !changed {
            self.calls.repeated += 1;
        }
        Ok(reply)
    }
}
