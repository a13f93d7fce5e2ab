//! Scripted interleavings of transactions, run step by step against a backend.
//!
//! A [`Scenario`] is a list of steps `(session, statement)` over Hermitage's table, with the
//! rows `(1, 10), (2, 20)` at the start, and a rule that says whether a run showed the anomaly.
//! [`run`] plays the steps in order against a [`Backend`] (our engine, or PostgreSQL sessions)
//! at one isolation level and records a [`Transcript`]. Each session starts its transaction
//! at its first statement.
//!
//! Blocking is part of the script's meaning: when a statement blocks, its session is *busy*,
//! and that session's later steps queue behind it, exactly as a client connection would wait
//! for its answer. After every step the driver asks the backend about each busy session until
//! nothing changes: a statement unblocked by a commit finishes, and the queued steps of its
//! session run. A session whose transaction failed (serialization failure, deadlock) skips its
//! remaining statements, and its `commit` or `rollback` becomes a rollback.
//!
//! The outcome of a run is a [`Cell`] of the anomaly table: the anomaly was observed, or it was
//! prevented, and how: a transaction was aborted, a statement had to wait, or neither (the
//! reads returned values consistent with a serial order).

use std::collections::VecDeque;

use super::engine::{Engine, Isolation, Key, Outcome, Value};
use super::statement::{Failure, Stmt, StmtResult, execute};

/// Hermitage's initial rows.
pub const INITIAL_ROWS: [(Key, Value); 2] = [(1, 10), (2, 20)];

/// One step of a script: session `session` (0-based; the text calls it T`session + 1`) runs
/// `stmt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub session: usize,
    pub stmt: Stmt,
}

/// A test case: its name, the anomaly class it probes, the script, and the rule that decides
/// whether a transcript shows the anomaly.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Short name, unique (e.g. `G-single-wp`).
    pub name: &'static str,
    /// The anomaly class as Hermitage's summary table names it (e.g. `G-single`).
    pub class: &'static str,
    pub steps: Vec<Step>,
    /// True if the transcript shows the anomaly.
    pub anomaly: fn(&Transcript) -> bool,
}

impl Scenario {
    /// How many sessions the script uses.
    pub fn sessions(&self) -> usize {
        self.steps.iter().map(|s| s.session + 1).max().unwrap_or(0)
    }
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub step: Step,
    /// Did the statement wait for another transaction before finishing?
    pub blocked: bool,
    /// Its result; `None` if it never finished (a stuck script).
    pub result: Option<StmtResult>,
}

/// A run of a scenario: one record per step, in script order, and the committed rows after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    pub records: Vec<Record>,
    pub final_rows: Vec<(Key, Value)>,
}

impl Transcript {
    /// The rows step `i` returned (empty if it was not a select that succeeded).
    pub fn rows(&self, i: usize) -> Vec<(Key, Value)> {
        match &self.records[i].result {
            Some(StmtResult::Rows(rows)) => rows.clone(),
            _ => Vec::new(),
        }
    }

    /// The number of rows step `i` touched (0 if it failed).
    pub fn count(&self, i: usize) -> u64 {
        match &self.records[i].result {
            Some(StmtResult::Count(n)) => *n,
            _ => 0,
        }
    }

    /// Did session `session` commit?
    pub fn committed(&self, session: usize) -> bool {
        self.records
            .iter()
            .any(|r| r.step.session == session && r.result == Some(StmtResult::Committed))
    }
}

/// Something that runs statements for several sessions (at most one in flight per session).
pub trait Backend {
    /// Prepares a fresh table with [`INITIAL_ROWS`] and `sessions` idle sessions that will run
    /// at `level`.
    fn reset(&mut self, level: Isolation, sessions: usize) -> Result<(), String>;
    /// Sends `stmt` on idle `session` (beginning a transaction first if none is open).
    /// `Ok(None)`: it is blocked, waiting for another transaction's lock.
    fn issue(&mut self, session: usize, stmt: &Stmt) -> Result<Option<StmtResult>, String>;
    /// For a blocked `session`: its result once it finished, `None` if still blocked.
    fn poll(&mut self, session: usize) -> Result<Option<StmtResult>, String>;
    /// The committed rows, read outside every session (after the script).
    fn final_rows(&mut self) -> Result<Vec<(Key, Value)>, String>;
}

/// The driver's view of one session.
#[derive(Clone, Debug, Default)]
struct SessionState {
    /// The step whose statement is blocked, if any.
    in_flight: Option<usize>,
    /// Steps waiting for the session to be free.
    queue: VecDeque<usize>,
    /// The open transaction failed: skip statements until its commit or rollback.
    failed: bool,
}

// ANCHOR: run
/// Runs `scenario` at `level` on `backend`.
pub fn run(
    backend: &mut dyn Backend,
    scenario: &Scenario,
    level: Isolation,
) -> Result<Transcript, String> {
    backend.reset(level, scenario.sessions())?;
    let mut sessions = vec![SessionState::default(); scenario.sessions()];
    let mut records: Vec<Record> = Vec::new();
    for step in &scenario.steps {
        let i = records.len();
        records.push(Record {
            step: step.clone(),
            blocked: false,
            result: None,
        });
        let session = &mut sessions[step.session];
        if session.in_flight.is_some() || !session.queue.is_empty() {
            session.queue.push_back(i); // the client is still waiting for its last statement
        } else {
            start(backend, &mut records, &mut sessions, i)?;
        }
        settle(backend, &mut records, &mut sessions)?;
    }
    let stuck: Vec<usize> = sessions.iter().filter_map(|s| s.in_flight).collect();
    let final_rows = if stuck.is_empty() {
        backend.final_rows()?
    } else {
        Vec::new() // reported as `Cell::Stuck`; the next reset cleans up
    };
    Ok(Transcript {
        records,
        final_rows,
    })
}

/// Issues step `i` (its session is idle).
fn start(
    backend: &mut dyn Backend,
    records: &mut [Record],
    sessions: &mut [SessionState],
    i: usize,
) -> Result<(), String> {
    let step = records[i].step.clone();
    let state = &mut sessions[step.session];
    let result = match (state.failed, step.stmt.ends_transaction()) {
        (true, false) => Some(StmtResult::Skipped),
        (true, true) => backend.issue(step.session, &Stmt::Rollback)?,
        (false, _) => backend.issue(step.session, &step.stmt)?,
    };
    match result {
        Some(result) => finish(records, state, i, result),
        None => {
            records[i].blocked = true;
            state.in_flight = Some(i);
        }
    }
    Ok(())
}

/// Records that step `i` finished with `result`.
fn finish(records: &mut [Record], state: &mut SessionState, i: usize, result: StmtResult) {
    if records[i].step.stmt.ends_transaction() {
        state.failed = false;
    } else if matches!(result, StmtResult::Failed(_)) {
        state.failed = true;
    }
    records[i].result = Some(result);
    state.in_flight = None;
}

/// Polls blocked sessions and starts queued steps until nothing changes.
fn settle(
    backend: &mut dyn Backend,
    records: &mut [Record],
    sessions: &mut [SessionState],
) -> Result<(), String> {
    loop {
        let mut progress = false;
        for s in 0..sessions.len() {
            if let Some(i) = sessions[s].in_flight
                && let Some(result) = backend.poll(s)?
            {
                finish(records, &mut sessions[s], i, result);
                progress = true;
            }
            if sessions[s].in_flight.is_none()
                && let Some(next) = sessions[s].queue.pop_front()
            {
                start(backend, records, sessions, next)?;
                progress = true;
            }
        }
        if !progress {
            return Ok(());
        }
    }
}
// ANCHOR_END: run

/// One cell of the anomaly table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    /// The anomaly happened.
    Anomaly,
    /// Prevented; a transaction was aborted with a serialization failure.
    Aborts,
    /// Prevented; a transaction was aborted as a deadlock victim.
    Deadlock,
    /// Prevented; some statement waited for another transaction, nobody was aborted.
    Blocks,
    /// Prevented without waiting or aborting: the reads were consistent.
    Ok,
    /// The script ended with a statement still blocked (a bug of a script or a backend).
    Stuck,
}

impl Cell {
    /// The word the table prints.
    pub fn label(self) -> &'static str {
        match self {
            Cell::Anomaly => "ANOMALY",
            Cell::Aborts => "aborts",
            Cell::Deadlock => "deadlock",
            Cell::Blocks => "blocks",
            Cell::Ok => "ok",
            Cell::Stuck => "stuck",
        }
    }

    /// Was the anomaly prevented?
    pub fn prevented(self) -> bool {
        !matches!(self, Cell::Anomaly | Cell::Stuck)
    }
}

// ANCHOR: classify
/// The cell for a transcript of `scenario`.
pub fn classify(scenario: &Scenario, transcript: &Transcript) -> Cell {
    let results = || transcript.records.iter().filter_map(|r| r.result.as_ref());
    if transcript.records.iter().any(|r| r.result.is_none()) {
        Cell::Stuck
    } else if (scenario.anomaly)(transcript) {
        Cell::Anomaly
    } else if results().any(|r| *r == StmtResult::Failed(Failure::Deadlock)) {
        Cell::Deadlock
    } else if results().any(|r| matches!(r, StmtResult::Failed(_))) {
        Cell::Aborts
    } else if transcript.records.iter().any(|r| r.blocked) {
        Cell::Blocks
    } else {
        Cell::Ok
    }
}
// ANCHOR_END: classify

/// Our engine as a backend: each statement runs at once or reports that it is blocked, and a
/// poll simply runs the blocked statement again.
#[derive(Debug, Default)]
pub struct EngineBackend {
    engine: Engine,
    level: Option<Isolation>,
    /// Each session's open transaction.
    txs: Vec<Option<usize>>,
    /// Each session's blocked statement.
    blocked: Vec<Option<Stmt>>,
}

impl EngineBackend {
    fn attempt(&mut self, session: usize, stmt: &Stmt) -> Option<StmtResult> {
        let level = self.level.expect("reset before use");
        let tx = *self.txs[session].get_or_insert_with(|| self.engine.begin(level));
        match execute(&mut self.engine, tx, stmt) {
            Outcome::Done(result) => {
                if stmt.ends_transaction() {
                    self.txs[session] = None;
                }
                self.blocked[session] = None;
                Some(result)
            }
            Outcome::Blocked(_) => {
                self.blocked[session] = Some(stmt.clone());
                None
            }
            Outcome::Aborted(_) => unreachable!("execute reports aborts as results"),
        }
    }
}

impl Backend for EngineBackend {
    fn reset(&mut self, level: Isolation, sessions: usize) -> Result<(), String> {
        *self = EngineBackend {
            engine: Engine::with_rows(&INITIAL_ROWS),
            level: Some(level),
            txs: vec![None; sessions],
            blocked: vec![None; sessions],
        };
        Ok(())
    }

    fn issue(&mut self, session: usize, stmt: &Stmt) -> Result<Option<StmtResult>, String> {
        Ok(self.attempt(session, stmt))
    }

    fn poll(&mut self, session: usize) -> Result<Option<StmtResult>, String> {
        let stmt = self.blocked[session]
            .clone()
            .ok_or_else(|| format!("session {session} has no blocked statement"))?;
        Ok(self.attempt(session, &stmt))
    }

    fn final_rows(&mut self) -> Result<Vec<(Key, Value)>, String> {
        Ok(self.engine.committed_rows())
    }
}

/// The transcript as text: one line per step, in script order, with what it returned.
pub fn render_transcript(transcript: &Transcript) -> String {
    let mut out = String::new();
    for r in &transcript.records {
        let result = r
            .result
            .as_ref()
            .map_or("never finished".into(), |x| x.to_string());
        let blocked = if r.blocked { "blocked, then " } else { "" };
        out += &format!(
            "T{}  {:<46} -> {blocked}{result}\n",
            r.step.session + 1,
            r.step.stmt.sql().replace(" order by id", "")
        );
    }
    let rows: Vec<String> = transcript
        .final_rows
        .iter()
        .map(|(k, v)| format!("{k} => {v}"))
        .collect();
    out += &format!("committed rows after: [{}]\n", rows.join(", "));
    out
}
