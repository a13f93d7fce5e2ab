//! The statements of the Hermitage test cases, as data.
//!
//! Hermitage's scripts use a handful of SQL statements on one table `test (id, value)`. Here
//! each is a [`Stmt`], which [`execute`] runs on our [`Engine`] and [`Stmt::sql`] renders as
//! SQL for PostgreSQL, so that one script drives both.
//!
//! An `update` or `delete` with a predicate runs in two parts on the engine: a scan of the
//! matching rows (which, under serializable, locks them or the table), then one all-or-nothing
//! [`Engine::write_many`]. If either part blocks, nothing was written, and the whole statement
//! is retried later from the start: the retry re-evaluates the predicate against what is
//! committed by then. PostgreSQL does something narrower at read committed: it keeps the rows
//! its first evaluation found and only re-checks those (its "EvalPlanQual" recheck), which is
//! why one Hermitage case differs between the two (see the chapter).

use super::engine::{AbortReason, Engine, Key, Outcome, Pred, Value};

/// A `set value = ...` clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    /// `set value = v`.
    To(Value),
    /// `set value = value + d`.
    Add(Value),
}

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// `select * from test where ...`.
    Select(Pred),
    /// `update test set ... where ...`.
    Update(Pred, Set),
    /// `insert into test (id, value) values (id, value)`.
    Insert(Key, Value),
    /// `delete from test where ...`.
    Delete(Pred),
    /// `commit`.
    Commit,
    /// `rollback` (Hermitage writes `abort`).
    Rollback,
}

/// Why a statement failed; the transaction is then aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A serialization failure (PostgreSQL's SQLSTATE 40001, our first-updater-wins abort).
    Serialization,
    /// Chosen as a deadlock victim (SQLSTATE 40P01).
    Deadlock,
    /// Anything else, with the server's message.
    Other(String),
}

/// What a statement returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtResult {
    /// The rows of a select, sorted by id.
    Rows(Vec<(Key, Value)>),
    /// The number of rows an update, insert or delete touched.
    Count(u64),
    /// The transaction committed.
    Committed,
    /// The transaction was rolled back (on request, or at `commit` after a failure).
    RolledBack,
    /// The statement failed and aborted its transaction.
    Failed(Failure),
    /// Not sent: its transaction had already failed.
    Skipped,
}

impl Stmt {
    /// Does this statement end its transaction?
    pub fn ends_transaction(&self) -> bool {
        matches!(self, Stmt::Commit | Stmt::Rollback)
    }

    /// The statement as PostgreSQL SQL.
    pub fn sql(&self) -> String {
        match self {
            Stmt::Select(p) => format!("select id, value from test{} order by id", where_sql(p)),
            Stmt::Update(p, Set::To(v)) => format!("update test set value = {v}{}", where_sql(p)),
            Stmt::Update(p, Set::Add(d)) => {
                format!("update test set value = value + {d}{}", where_sql(p))
            }
            Stmt::Insert(id, v) => format!("insert into test (id, value) values ({id}, {v})"),
            Stmt::Delete(p) => format!("delete from test{}", where_sql(p)),
            Stmt::Commit => "commit".to_string(),
            Stmt::Rollback => "rollback".to_string(),
        }
    }
}

/// The `where` clause of a predicate (empty for all rows).
fn where_sql(pred: &Pred) -> String {
    match pred {
        Pred::All => String::new(),
        Pred::Ids(ids) if ids.len() == 1 => format!(" where id = {}", ids[0]),
        Pred::Ids(ids) => {
            let list: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            format!(" where id in ({})", list.join(","))
        }
        Pred::ValueEq(v) => format!(" where value = {v}"),
        Pred::ValueMod(m, r) => format!(" where value % {m} = {r}"),
    }
}

impl std::fmt::Display for StmtResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StmtResult::Rows(rows) => {
                let rows: Vec<String> = rows.iter().map(|(k, v)| format!("{k} => {v}")).collect();
                write!(f, "[{}]", rows.join(", "))
            }
            StmtResult::Count(n) => write!(f, "{n} row(s)"),
            StmtResult::Committed => write!(f, "committed"),
            StmtResult::RolledBack => write!(f, "rolled back"),
            StmtResult::Failed(Failure::Serialization) => write!(f, "ERROR: serialization failure"),
            StmtResult::Failed(Failure::Deadlock) => write!(f, "ERROR: deadlock victim"),
            StmtResult::Failed(Failure::Other(e)) => write!(f, "ERROR: {e}"),
            StmtResult::Skipped => write!(f, "skipped (transaction failed)"),
        }
    }
}

/// The statement's result for an aborted transaction.
fn failed(reason: AbortReason) -> Outcome<StmtResult> {
    let failure = match reason {
        AbortReason::WriteConflict { .. } => Failure::Serialization,
        AbortReason::Deadlock { .. } => Failure::Deadlock,
        AbortReason::Requested => Failure::Other("transaction is not active".into()),
    };
    Outcome::Done(StmtResult::Failed(failure))
}

// ANCHOR: execute
/// Runs `stmt` in transaction `tx`. `Blocked` means nothing happened: run it again later.
/// A statement that aborts the transaction returns `Done(Failed(...))`.
pub fn execute(engine: &mut Engine, tx: usize, stmt: &Stmt) -> Outcome<StmtResult> {
    let writes: Vec<(Key, Option<Value>)> = match stmt {
        Stmt::Select(pred) => {
            return match engine.scan(tx, pred) {
                Outcome::Done(rows) => Outcome::Done(StmtResult::Rows(rows)),
                Outcome::Blocked(on) => Outcome::Blocked(on),
                Outcome::Aborted(reason) => failed(reason),
            };
        }
        Stmt::Update(pred, _) | Stmt::Delete(pred) => {
            let rows = match engine.scan(tx, pred) {
                Outcome::Done(rows) => rows,
                Outcome::Blocked(on) => return Outcome::Blocked(on),
                Outcome::Aborted(reason) => return failed(reason),
            };
            rows.iter().map(|&(k, v)| (k, new_value(stmt, v))).collect()
        }
        Stmt::Insert(id, value) => vec![(*id, Some(*value))],
        Stmt::Commit => {
            return match engine.commit(tx) {
                Outcome::Done(()) => Outcome::Done(StmtResult::Committed),
                Outcome::Blocked(on) => Outcome::Blocked(on),
                Outcome::Aborted(reason) => failed(reason),
            };
        }
        Stmt::Rollback => {
            engine.abort(tx);
            return Outcome::Done(StmtResult::RolledBack);
        }
    };
    match engine.write_many(tx, &writes) {
        Outcome::Done(()) => Outcome::Done(StmtResult::Count(writes.len() as u64)),
        Outcome::Blocked(on) => Outcome::Blocked(on),
        Outcome::Aborted(reason) => failed(reason),
    }
}
// ANCHOR_END: execute

/// The value an update or delete gives a row whose value was `v` (`None`: deleted).
fn new_value(stmt: &Stmt, v: Value) -> Option<Value> {
    match stmt {
        Stmt::Update(_, Set::To(to)) => Some(*to),
        Stmt::Update(_, Set::Add(d)) => Some(v + d),
        _ => None,
    }
}
