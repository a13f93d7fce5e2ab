//! A lock table: who holds which lock on which resource, and who is in the way of a request.
//!
//! Two granularities, in the style of Gray, Lorie, Putzolu and Traiger's multiple-granularity
//! locking (1976), cut down to what the engine needs: a lock on one row, and a lock on the whole
//! table. Modes:
//!
//! - `Shared` (S): the holder reads the resource. Many readers may share it.
//! - `Exclusive` (X): the holder writes the row. Nobody else holds any lock on it.
//! - `IntentExclusive` (IX), table only: the holder writes *some* rows of the table. Writers
//!   share it with each other (their row locks sort them out), but it conflicts with a table
//!   S lock, which is how a serializable scan keeps new rows out of its predicate.
//!
//! Compatibility: S with S, IX with IX; every other pair conflicts. A transaction's own locks
//! never conflict with each other, so holding S and asking for X on the same row is an upgrade,
//! granted as soon as no *other* transaction holds the row.
//!
//! The table never blocks a thread and keeps no queue of waiters: [`LockTable::try_acquire`]
//! either grants the lock or returns the transactions in the way, and the caller (the engine)
//! turns that into a "blocked" outcome and a wait-for edge. The caller retries later. Without a
//! queue, a later request may overtake an earlier one; the engine's scripts do not care, a real
//! lock manager grants in arrival order to avoid starving writers.

use std::collections::{BTreeMap, BTreeSet};

/// A transaction's identity inside one engine: its begin order, starting at 0.
pub type TxId = usize;

/// What a lock protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Resource {
    /// The whole table (only `Shared` and `IntentExclusive` are taken on it).
    Table,
    /// One row, by primary key.
    Row(i64),
}

// ANCHOR: modes
/// The lock modes, and which pairs may be held at once by different transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    /// Read the resource.
    Shared,
    /// Write some rows of the table (table only).
    IntentExclusive,
    /// Write the row.
    Exclusive,
}

/// May two different transactions hold `a` and `b` on the same resource at once?
pub fn compatible(a: LockMode, b: LockMode) -> bool {
    use LockMode::*;
    matches!(
        (a, b),
        (Shared, Shared) | (IntentExclusive, IntentExclusive)
    )
}
// ANCHOR_END: modes

/// Every granted lock, by resource, then by holder.
#[derive(Clone, Debug, Default)]
pub struct LockTable {
    /// Invariant: two different holders of one resource hold only pairwise compatible modes.
    granted: BTreeMap<Resource, BTreeMap<TxId, BTreeSet<LockMode>>>,
}

impl LockTable {
    /// Grants `mode` on `resource` to `tx`, or returns the other holders in the way (sorted,
    /// never empty) and grants nothing.
    pub fn try_acquire(
        &mut self,
        tx: TxId,
        resource: Resource,
        mode: LockMode,
    ) -> Result<(), BTreeSet<TxId>> {
        let holders = self.granted.entry(resource).or_default();
        let blockers: BTreeSet<TxId> = holders
            .iter()
            .filter(|(holder, modes)| {
                **holder != tx && modes.iter().any(|held| !compatible(*held, mode))
            })
            .map(|(holder, _)| *holder)
            .collect();
        if blockers.is_empty() {
            holders.entry(tx).or_default().insert(mode);
            Ok(())
        } else {
            Err(blockers)
        }
    }

    /// Releases every lock `tx` holds (at commit or abort: strict two-phase locking).
    pub fn release_all(&mut self, tx: TxId) {
        for holders in self.granted.values_mut() {
            holders.remove(&tx);
        }
        self.granted.retain(|_, holders| !holders.is_empty());
    }

    /// The modes `tx` holds on `resource`.
    pub fn held(&self, tx: TxId, resource: Resource) -> BTreeSet<LockMode> {
        self.granted
            .get(&resource)
            .and_then(|holders| holders.get(&tx))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LockMode::*;

    #[test]
    fn compatibility_matrix() {
        let modes = [Shared, IntentExclusive, Exclusive];
        let expected = [
            [true, false, false],
            [false, true, false],
            [false, false, false],
        ];
        for (i, a) in modes.iter().enumerate() {
            for (j, b) in modes.iter().enumerate() {
                assert_eq!(compatible(*a, *b), expected[i][j], "{a:?} with {b:?}");
            }
        }
    }

    #[test]
    fn readers_share_a_writer_waits_and_an_upgrade_needs_no_other_holder() {
        let mut locks = LockTable::default();
        let row = Resource::Row(1);
        assert_eq!(locks.try_acquire(0, row, Shared), Ok(()));
        assert_eq!(locks.try_acquire(1, row, Shared), Ok(()));
        assert_eq!(
            locks.try_acquire(0, row, Exclusive),
            Err(BTreeSet::from([1]))
        );
        locks.release_all(1);
        assert_eq!(locks.try_acquire(0, row, Exclusive), Ok(()));
        assert_eq!(locks.try_acquire(2, row, Shared), Err(BTreeSet::from([0])));
        assert_eq!(locks.held(0, row), BTreeSet::from([Shared, Exclusive]));
    }

    #[test]
    fn a_table_scan_keeps_writers_out_and_writers_share_the_intent_lock() {
        let mut locks = LockTable::default();
        assert_eq!(
            locks.try_acquire(0, Resource::Table, IntentExclusive),
            Ok(())
        );
        assert_eq!(
            locks.try_acquire(1, Resource::Table, IntentExclusive),
            Ok(())
        );
        assert_eq!(
            locks.try_acquire(2, Resource::Table, Shared),
            Err(BTreeSet::from([0, 1]))
        );
    }
}
