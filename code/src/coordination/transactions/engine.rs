//! A transactional key-value engine with three isolation levels.
//!
//! One table of rows `id -> value` (integers, as in Hermitage's `test (id int primary key,
//! value int)`), and transactions that read rows by id or by predicate and write rows. Each
//! transaction picks its [`Isolation`] at [`Engine::begin`]:
//!
//! - **Read committed.** Every statement reads the latest *committed* version of each row (no
//!   dirty reads, Adya's G1). Writes take an exclusive row lock held until commit or abort (no
//!   dirty writes, G0). Nothing stops a later statement from seeing newer commits.
//! - **Snapshot isolation** (multi-version concurrency control). The transaction reads the
//!   versions committed before it began: its *snapshot*. Writes take the same row locks, and a
//!   write to a row that someone committed after the snapshot aborts the writer. That is the
//!   *first-updater-wins* rule, PostgreSQL's at repeatable read: the conflict is found when the
//!   second writer touches the row (after waiting for the first one if it is still running),
//!   not at commit as in *first-committer-wins* (Berenson et al. 1995, "A Critique of ANSI SQL
//!   Isolation Levels").
//! - **Serializable**, by strict two-phase locking (2PL). Reads take shared locks, writes take
//!   exclusive ones, and every lock is held until commit or abort. A scan by predicate (`value %
//!   3 = 0`) takes a shared lock on the whole table, which conflicts with the intent lock every
//!   writer takes: a coarse stand-in for a predicate lock, which blocks more than a real
//!   predicate or index-range lock would but never lets a phantom in (see [`super::locks`]).
//!
//! **Blocking is data.** No operation ever waits. One that needs a lock held by another
//! transaction returns [`Outcome::Blocked`] with the holders, records wait-for edges, and
//! grants nothing; the caller retries the whole operation later (after some commit or abort).
//! So a scripted interleaving of several sessions runs deterministically in one thread.
//!
//! **Deadlocks.** When a request blocks, the engine looks for a cycle through the requester in
//! the wait-for graph ([`super::deadlock`]). If there is one, the requester is the victim: it
//! is aborted on the spot and its operation returns [`Outcome::Aborted`] with the cycle. It is
//! the transaction whose request closed the cycle, it is the one whose caller is already
//! listening for an answer, and aborting it frees every lock the others wait for.
//!
//! Invariants: a row's committed versions are in increasing commit-timestamp order; an
//! uncommitted write lives only in its transaction's write set and is protected by that
//! transaction's exclusive row lock; a finished transaction holds no lock.
//!
//! Simplifications: one table; an insert is a write of a new id (no uniqueness check, the
//! scenarios never insert an existing id); no garbage collection of old versions; no fairness
//! between waiters (see [`super::locks`]).

use std::collections::{BTreeMap, BTreeSet};

use super::deadlock::{WaitForGraph, find_cycle};
use super::locks::{LockMode, LockTable, Resource, TxId};

/// A row's primary key.
pub type Key = i64;
/// A row's value.
pub type Value = i64;

/// How much a transaction is protected from concurrent ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isolation {
    /// No dirty reads or writes; each statement sees the latest commits.
    ReadCommitted,
    /// Reads from a snapshot taken at begin; first-updater-wins on write conflicts.
    Snapshot,
    /// Strict two-phase locking with a table lock for predicate reads.
    Serializable,
}

/// Which rows a read or a write statement touches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pred {
    /// Every row.
    All,
    /// The rows with these ids.
    Ids(Vec<Key>),
    /// `value = v`.
    ValueEq(Value),
    /// `value % modulus = remainder`.
    ValueMod(Value, Value),
}

impl Pred {
    /// Does row `(id, value)` satisfy the predicate?
    pub fn matches(&self, id: Key, value: Value) -> bool {
        match self {
            Pred::All => true,
            Pred::Ids(ids) => ids.contains(&id),
            Pred::ValueEq(v) => value == *v,
            Pred::ValueMod(m, r) => value % m == *r,
        }
    }
}

/// Why a transaction was aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// Snapshot isolation: another transaction committed a write to `key` after our snapshot.
    WriteConflict { key: Key },
    /// Chosen as the victim of this wait-for cycle (starting with the victim).
    Deadlock { cycle: Vec<TxId> },
    /// The client asked (or the transaction had already finished).
    Requested,
}

/// The result of an operation: done, blocked behind other transactions, or aborted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The operation took effect.
    Done(T),
    /// Nothing happened; retry once one of these transactions has finished.
    Blocked(BTreeSet<TxId>),
    /// The transaction is aborted (now or earlier); nothing it wrote will ever be visible.
    Aborted(AbortReason),
}

/// A committed version of a row. `None` is a deletion.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    commit_ts: u64,
    value: Option<Value>,
}

/// What the engine knows about one transaction.
#[derive(Clone, Debug)]
struct Txn {
    isolation: Isolation,
    /// The last commit timestamp visible to a snapshot-isolation transaction.
    snapshot_ts: u64,
    /// Uncommitted writes, visible only to this transaction. `None` deletes the row.
    writes: BTreeMap<Key, Option<Value>>,
    /// `None` while active.
    finished: Option<Result<(), AbortReason>>,
}

// ANCHOR: engine
/// The engine: committed versions, running transactions, locks and who waits for whom.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    /// Committed versions of each row, oldest first.
    rows: BTreeMap<Key, Vec<Version>>,
    /// The commit timestamp of the latest commit (0: the initial rows).
    last_commit_ts: u64,
    /// Every transaction ever begun, indexed by its `TxId`.
    txns: Vec<Txn>,
    locks: LockTable,
    /// Edges from each blocked transaction to those it waits for; removed when it proceeds.
    waits_for: WaitForGraph,
}
// ANCHOR_END: engine

impl Engine {
    /// An engine whose table holds `rows`, committed at timestamp 0.
    pub fn with_rows(rows: &[(Key, Value)]) -> Engine {
        let mut engine = Engine::default();
        for &(id, value) in rows {
            let version = Version {
                commit_ts: 0,
                value: Some(value),
            };
            engine.rows.insert(id, vec![version]);
        }
        engine
    }

    /// Starts a transaction. A snapshot-isolation transaction's snapshot is taken now.
    pub fn begin(&mut self, isolation: Isolation) -> TxId {
        self.txns.push(Txn {
            isolation,
            snapshot_ts: self.last_commit_ts,
            writes: BTreeMap::new(),
            finished: None,
        });
        self.txns.len() - 1
    }

    /// The committed value of every live row, outside any transaction.
    pub fn committed_rows(&self) -> Vec<(Key, Value)> {
        let keys: Vec<Key> = self.rows.keys().copied().collect();
        keys.into_iter()
            .filter_map(|k| Some((k, self.committed_value(k, u64::MAX)?)))
            .collect()
    }

    // ANCHOR: visible
    /// The value of row `key` as transaction `tx` sees it: its own write if it wrote the row,
    /// else the latest version committed at or before its read timestamp (the snapshot under
    /// snapshot isolation, "now" otherwise).
    fn visible(&self, tx: TxId, key: Key) -> Option<Value> {
        let txn = &self.txns[tx];
        if let Some(own) = txn.writes.get(&key) {
            return *own;
        }
        let read_ts = match txn.isolation {
            Isolation::Snapshot => txn.snapshot_ts,
            Isolation::ReadCommitted | Isolation::Serializable => self.last_commit_ts,
        };
        self.committed_value(key, read_ts)
    }

    /// The latest version of `key` committed at or before `ts`.
    fn committed_value(&self, key: Key, ts: u64) -> Option<Value> {
        let versions = self.rows.get(&key)?;
        let version = versions.iter().rev().find(|v| v.commit_ts <= ts)?;
        version.value
    }
    // ANCHOR_END: visible

    // ANCHOR: scan
    /// The rows matching `pred` as `tx` sees them, sorted by id. Serializable transactions
    /// first lock what they read: the listed rows for `Pred::Ids`, else the whole table.
    pub fn scan(&mut self, tx: TxId, pred: &Pred) -> Outcome<Vec<(Key, Value)>> {
        if let Some(reason) = self.finished(tx) {
            return Outcome::Aborted(reason);
        }
        if self.txns[tx].isolation == Isolation::Serializable {
            let resources: Vec<Resource> = match pred {
                Pred::Ids(ids) => ids.iter().map(|&id| Resource::Row(id)).collect(),
                _ => vec![Resource::Table],
            };
            for resource in resources {
                if let Err(outcome) = self.lock(tx, resource, LockMode::Shared) {
                    return outcome;
                }
            }
        }
        self.waits_for.remove(&tx);
        let mut keys: BTreeSet<Key> = self.rows.keys().copied().collect();
        keys.extend(self.txns[tx].writes.keys());
        let rows = keys
            .into_iter()
            .filter_map(|k| Some((k, self.visible(tx, k)?)))
            .filter(|&(k, v)| pred.matches(k, v))
            .collect();
        Outcome::Done(rows)
    }
    // ANCHOR_END: scan

    /// Reads one row.
    pub fn read(&mut self, tx: TxId, key: Key) -> Outcome<Option<Value>> {
        match self.scan(tx, &Pred::Ids(vec![key])) {
            Outcome::Done(rows) => Outcome::Done(rows.first().map(|&(_, v)| v)),
            Outcome::Blocked(holders) => Outcome::Blocked(holders),
            Outcome::Aborted(reason) => Outcome::Aborted(reason),
        }
    }

    // ANCHOR: write_many
    /// Writes every `(key, value)` of one statement (`None` deletes), all or nothing: first
    /// every lock (the table intent lock, then each row's exclusive lock), checking snapshot
    /// isolation's first-updater-wins rule on each row, then the writes.
    pub fn write_many(&mut self, tx: TxId, writes: &[(Key, Option<Value>)]) -> Outcome<()> {
        if let Some(reason) = self.finished(tx) {
            return Outcome::Aborted(reason);
        }
        if let Err(outcome) = self.lock(tx, Resource::Table, LockMode::IntentExclusive) {
            return outcome;
        }
        for &(key, _) in writes {
            if let Err(outcome) = self.lock(tx, Resource::Row(key), LockMode::Exclusive) {
                return outcome;
            }
            let txn = &self.txns[tx];
            let newest_ts = self
                .rows
                .get(&key)
                .and_then(|v| v.last())
                .map(|v| v.commit_ts);
            if txn.isolation == Isolation::Snapshot && newest_ts > Some(txn.snapshot_ts) {
                return self.abort_with(tx, AbortReason::WriteConflict { key });
            }
        }
        self.waits_for.remove(&tx);
        self.txns[tx].writes.extend(writes.iter().copied());
        Outcome::Done(())
    }
    // ANCHOR_END: write_many

    /// Writes one row (`None` deletes it).
    pub fn write(&mut self, tx: TxId, key: Key, value: Option<Value>) -> Outcome<()> {
        self.write_many(tx, &[(key, value)])
    }

    // ANCHOR: lock
    /// Takes a lock for `tx`, or records that it waits and returns `Blocked`, or, if waiting
    /// would close a cycle of the wait-for graph, aborts `tx` as the deadlock victim.
    fn lock<T>(&mut self, tx: TxId, resource: Resource, mode: LockMode) -> Result<(), Outcome<T>> {
        let Err(holders) = self.locks.try_acquire(tx, resource, mode) else {
            return Ok(());
        };
        self.waits_for.insert(tx, holders.clone());
        match find_cycle(&self.waits_for, tx) {
            Some(cycle) => Err(self.abort_with(tx, AbortReason::Deadlock { cycle })),
            None => Err(Outcome::Blocked(holders)),
        }
    }
    // ANCHOR_END: lock

    // ANCHOR: commit
    /// Commits `tx`: its writes become versions with the next commit timestamp, and its locks
    /// are released. A transaction that was aborted stays aborted.
    pub fn commit(&mut self, tx: TxId) -> Outcome<()> {
        if let Some(reason) = self.finished(tx) {
            return Outcome::Aborted(reason);
        }
        self.last_commit_ts += 1;
        let commit_ts = self.last_commit_ts;
        let writes = std::mem::take(&mut self.txns[tx].writes);
        for (key, value) in writes {
            self.rows
                .entry(key)
                .or_default()
                .push(Version { commit_ts, value });
        }
        self.finish(tx, Ok(()));
        Outcome::Done(())
    }
    // ANCHOR_END: commit

    /// Aborts `tx` at the client's request (a no-op if it already finished).
    pub fn abort(&mut self, tx: TxId) {
        if self.txns[tx].finished.is_none() {
            let _: Outcome<()> = self.abort_with(tx, AbortReason::Requested);
        }
    }

    /// Has `tx` finished? If so, why (a committed transaction accepts no more operations).
    fn finished(&self, tx: TxId) -> Option<AbortReason> {
        match &self.txns[tx].finished {
            None => None,
            Some(Ok(())) => Some(AbortReason::Requested),
            Some(Err(reason)) => Some(reason.clone()),
        }
    }

    fn abort_with<T>(&mut self, tx: TxId, reason: AbortReason) -> Outcome<T> {
        self.txns[tx].writes.clear();
        self.finish(tx, Err(reason.clone()));
        Outcome::Aborted(reason)
    }

    fn finish(&mut self, tx: TxId, result: Result<(), AbortReason>) {
        self.txns[tx].finished = Some(result);
        self.locks.release_all(tx);
        self.waits_for.remove(&tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Engine {
        Engine::with_rows(&[(1, 10), (2, 20)])
    }

    #[test]
    fn read_committed_reads_the_latest_commit_and_never_an_uncommitted_write() {
        let mut e = start();
        let (t1, t2) = (
            e.begin(Isolation::ReadCommitted),
            e.begin(Isolation::ReadCommitted),
        );
        assert_eq!(e.write(t1, 1, Some(11)), Outcome::Done(()));
        assert_eq!(e.read(t2, 1), Outcome::Done(Some(10)));
        assert_eq!(e.read(t1, 1), Outcome::Done(Some(11)));
        assert_eq!(
            e.write(t2, 1, Some(12)),
            Outcome::Blocked(BTreeSet::from([t1]))
        );
        assert_eq!(e.commit(t1), Outcome::Done(()));
        assert_eq!(e.read(t2, 1), Outcome::Done(Some(11)));
        assert_eq!(e.write(t2, 1, Some(12)), Outcome::Done(()));
        assert_eq!(e.commit(t2), Outcome::Done(()));
        assert_eq!(e.committed_rows(), vec![(1, 12), (2, 20)]);
    }

    #[test]
    fn snapshot_isolation_reads_its_snapshot_and_the_second_updater_aborts() {
        let mut e = start();
        let (t1, t2) = (e.begin(Isolation::Snapshot), e.begin(Isolation::Snapshot));
        assert_eq!(e.write(t1, 1, Some(11)), Outcome::Done(()));
        assert_eq!(
            e.write(t2, 1, Some(12)),
            Outcome::Blocked(BTreeSet::from([t1]))
        );
        assert_eq!(e.commit(t1), Outcome::Done(()));
        assert_eq!(e.read(t2, 1), Outcome::Done(Some(10)), "still the snapshot");
        let conflict = AbortReason::WriteConflict { key: 1 };
        assert_eq!(e.write(t2, 1, Some(12)), Outcome::Aborted(conflict.clone()));
        assert_eq!(e.commit(t2), Outcome::Aborted(conflict));
        assert_eq!(e.committed_rows(), vec![(1, 11), (2, 20)]);
    }

    #[test]
    fn serializable_readers_block_writers_and_a_deadlock_aborts_the_requester() {
        let mut e = start();
        let (t1, t2) = (
            e.begin(Isolation::Serializable),
            e.begin(Isolation::Serializable),
        );
        assert_eq!(e.read(t1, 1), Outcome::Done(Some(10)));
        assert_eq!(e.read(t2, 2), Outcome::Done(Some(20)));
        assert_eq!(
            e.write(t1, 2, Some(21)),
            Outcome::Blocked(BTreeSet::from([t2]))
        );
        let deadlock = AbortReason::Deadlock {
            cycle: vec![t2, t1],
        };
        assert_eq!(e.write(t2, 1, Some(11)), Outcome::Aborted(deadlock));
        assert_eq!(e.write(t1, 2, Some(21)), Outcome::Done(()));
        assert_eq!(e.commit(t1), Outcome::Done(()));
        assert_eq!(e.committed_rows(), vec![(1, 10), (2, 21)]);
    }

    #[test]
    fn a_serializable_scan_locks_out_inserts_into_its_predicate() {
        let mut e = start();
        let (t1, t2) = (
            e.begin(Isolation::Serializable),
            e.begin(Isolation::Serializable),
        );
        assert_eq!(e.scan(t1, &Pred::ValueMod(3, 0)), Outcome::Done(vec![]));
        assert_eq!(
            e.write(t2, 3, Some(30)),
            Outcome::Blocked(BTreeSet::from([t1]))
        );
        assert_eq!(e.scan(t1, &Pred::ValueMod(3, 0)), Outcome::Done(vec![]));
        assert_eq!(e.commit(t1), Outcome::Done(()));
        assert_eq!(e.write(t2, 3, Some(30)), Outcome::Done(()));
    }
}
