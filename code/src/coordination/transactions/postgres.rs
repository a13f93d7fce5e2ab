//! The scenario backend that runs Hermitage's scripts on a real PostgreSQL server.
//!
//! Each session is a real client connection driven by its own thread, so that one session can
//! sit in a blocked statement while the script goes on with the others. The driver needs to
//! know, deterministically, whether a statement it just sent has finished or is waiting for a
//! lock; a timeout would guess. So after sending a statement, [`PgBackend`] watches two things
//! until one of them answers: the session's thread (the statement finished, with rows, a count
//! or an error) and, through a separate monitor connection, `pg_locks`: a row for the
//! session's backend process with `granted = false` means the statement waits for a lock held
//! by another transaction, and it will stay waiting until that transaction ends. PostgreSQL
//! grants a waiter its lock while the holder commits or rolls back, before the holder's client
//! gets its answer, so after any step the waiter is either still waiting on an ungranted lock
//! or running: never ambiguous.
//!
//! Between scenarios every session rolls back and the monitor re-creates the table.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use postgres::error::SqlState;

use super::engine::{Isolation, Key, Value};
use super::scenario::Backend;
use super::statement::{Failure, Stmt, StmtResult};
use crate::servers::postgres::PostgresServer;

/// How long a statement may take to finish or to show up as waiting.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a session thread is asked to run.
enum Job {
    /// A select; the answer is its rows.
    Query(String),
    /// An insert, update or delete; the answer is the row count.
    Execute(String),
    /// `begin ...`, `commit` or `rollback`; the answer is `ok`.
    Control(String, StmtResult),
}

/// One client connection and the thread that drives it.
struct PgSession {
    /// The server process serving this connection (`pg_backend_pid()`).
    pid: i32,
    jobs: Sender<Job>,
    results: Receiver<StmtResult>,
    /// A transaction is open on this connection.
    in_transaction: bool,
    /// A statement was sent and has not answered yet.
    busy: bool,
}

/// PostgreSQL sessions as a [`Backend`].
pub struct PgBackend {
    monitor: postgres::Client,
    sessions: Vec<PgSession>,
    level: Isolation,
}

impl PgBackend {
    /// Connects a monitor and `sessions` session connections to `server`.
    pub fn new(server: &PostgresServer, sessions: usize) -> Result<PgBackend, String> {
        let monitor = server.connect()?;
        let sessions = (0..sessions)
            .map(|_| PgSession::connect(server))
            .collect::<Result<_, _>>()?;
        Ok(PgBackend {
            monitor,
            sessions,
            level: Isolation::ReadCommitted,
        })
    }

    /// Waits until `session`'s statement finished (`Some`) or waits for a lock (`None`).
    fn wait(&mut self, session: usize) -> Result<Option<StmtResult>, String> {
        let deadline = Instant::now() + STATEMENT_TIMEOUT;
        let s = &mut self.sessions[session];
        loop {
            match s.results.recv_timeout(Duration::from_millis(1)) {
                Ok(result) => {
                    s.busy = false;
                    return Ok(Some(result));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("session {session}'s connection thread ended"));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            let waiting: i64 = self
                .monitor
                .query_one(
                    "select count(*) from pg_locks where pid = $1 and not granted",
                    &[&s.pid],
                )
                .map_err(|e| format!("monitor: {e}"))?
                .get(0);
            if waiting > 0 {
                return Ok(None);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "session {session}'s statement neither finished nor waited for a lock in {} s",
                    STATEMENT_TIMEOUT.as_secs()
                ));
            }
        }
    }

    fn send(&mut self, session: usize, job: Job) -> Result<(), String> {
        let s = &mut self.sessions[session];
        s.busy = true;
        s.jobs
            .send(job)
            .map_err(|_| format!("session {session}'s connection thread ended"))
    }
}

impl PgSession {
    fn connect(server: &PostgresServer) -> Result<PgSession, String> {
        let mut client = server.connect()?;
        let pid: i32 = client
            .query_one("select pg_backend_pid()", &[])
            .map_err(|e| format!("pg_backend_pid: {e}"))?
            .get(0);
        let (jobs, job_rx) = channel::<Job>();
        let (result_tx, results) = channel::<StmtResult>();
        std::thread::spawn(move || {
            for job in job_rx {
                if result_tx.send(run_job(&mut client, job)).is_err() {
                    break;
                }
            }
        });
        Ok(PgSession {
            pid,
            jobs,
            results,
            in_transaction: false,
            busy: false,
        })
    }
}

/// Runs one job on the session's connection.
fn run_job(client: &mut postgres::Client, job: Job) -> StmtResult {
    let answer = match job {
        Job::Query(sql) => client.query(sql.as_str(), &[]).map(|rows| {
            let rows = rows
                .iter()
                .map(|r| (r.get::<_, i32>(0).into(), r.get::<_, i32>(1).into()));
            StmtResult::Rows(rows.collect())
        }),
        Job::Execute(sql) => client.execute(sql.as_str(), &[]).map(StmtResult::Count),
        Job::Control(sql, ok) => client.batch_execute(&sql).map(|()| ok),
    };
    answer.unwrap_or_else(|e| {
        let failure = match e.code() {
            Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE => Failure::Serialization,
            Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED => Failure::Deadlock,
            _ => Failure::Other(
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().into()),
            ),
        };
        StmtResult::Failed(failure)
    })
}

/// PostgreSQL's name for the level that corresponds to ours.
fn level_sql(level: Isolation) -> &'static str {
    match level {
        Isolation::ReadCommitted => "read committed",
        Isolation::Snapshot => "repeatable read",
        Isolation::Serializable => "serializable",
    }
}

impl Backend for PgBackend {
    fn reset(&mut self, level: Isolation, sessions: usize) -> Result<(), String> {
        if sessions > self.sessions.len() {
            return Err(format!(
                "{sessions} sessions needed, {} connected",
                self.sessions.len()
            ));
        }
        for i in 0..self.sessions.len() {
            if self.sessions[i].busy {
                // A stuck statement: cancel it and collect its error. The cancel is
                // asynchronous, so the lock may still show as waiting for a moment; keep
                // waiting until the error arrives, or the rollback below would read it as its
                // own answer and every later answer of this session would be one behind.
                let pid = self.sessions[i].pid;
                self.monitor
                    .execute("select pg_cancel_backend($1)", &[&pid])
                    .map_err(|e| format!("monitor: {e}"))?;
                let deadline = Instant::now() + STATEMENT_TIMEOUT;
                while self.wait(i)?.is_none() {
                    if Instant::now() > deadline {
                        return Err(format!("session {i} ignored its cancel request"));
                    }
                }
            }
            if self.sessions[i].in_transaction {
                self.send(i, Job::Control("rollback".into(), StmtResult::RolledBack))?;
                self.wait(i)?;
                self.sessions[i].in_transaction = false;
            }
        }
        self.monitor
            .batch_execute(
                "drop table if exists test;
                 create table test (id int primary key, value int);
                 insert into test (id, value) values (1, 10), (2, 20);",
            )
            .map_err(|e| format!("monitor: cannot re-create the table: {e}"))?;
        self.level = level;
        Ok(())
    }

    fn issue(&mut self, session: usize, stmt: &Stmt) -> Result<Option<StmtResult>, String> {
        if !self.sessions[session].in_transaction {
            let begin = format!("begin isolation level {}", level_sql(self.level));
            self.send(session, Job::Control(begin, StmtResult::Committed))?;
            match self.wait(session)? {
                Some(StmtResult::Committed) => self.sessions[session].in_transaction = true,
                other => return Err(format!("begin on session {session} answered {other:?}")),
            }
        }
        let job = match stmt {
            Stmt::Select(_) => Job::Query(stmt.sql()),
            Stmt::Update(..) | Stmt::Insert(..) | Stmt::Delete(_) => Job::Execute(stmt.sql()),
            Stmt::Commit => Job::Control(stmt.sql(), StmtResult::Committed),
            Stmt::Rollback => Job::Control(stmt.sql(), StmtResult::RolledBack),
        };
        if stmt.ends_transaction() {
            // Whatever it answers, commit and rollback end the transaction block.
            self.sessions[session].in_transaction = false;
        }
        self.send(session, job)?;
        self.wait(session)
    }

    fn poll(&mut self, session: usize) -> Result<Option<StmtResult>, String> {
        if !self.sessions[session].busy {
            return Err(format!("session {session} has no statement in flight"));
        }
        self.wait(session)
    }

    fn final_rows(&mut self) -> Result<Vec<(Key, Value)>, String> {
        let rows = self
            .monitor
            .query("select id, value from test order by id", &[])
            .map_err(|e| format!("monitor: {e}"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i32>(0).into(), r.get::<_, i32>(1).into()))
            .collect())
    }
}
