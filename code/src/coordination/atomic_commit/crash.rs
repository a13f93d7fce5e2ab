//! The crash test of the write-ahead log: crash after every single append, tear the tail at
//! every byte, recover, and compare with what the clients were told.
//!
//! A seeded [`Workload`] interleaves a few transactions at a time (begin, writes, commit or
//! abort). [`check_every_crash_point`] first runs it on a disk that never crashes, to count its
//! appends `W`. Then, for each `k` in `1..=W`, it runs the workload again on a disk whose machine
//! dies right after the `k`-th append, and for every prefix of the bytes that were not yet synced
//! (none of them, one byte, two bytes, ..., all of them) it boots a store from that disk image.
//! Each recovered table must equal the writes of the acknowledged transactions applied in commit
//! order, plus possibly the one transaction whose commit record was written but not yet synced
//! when the machine died (its client was never told either way, so both outcomes are correct).
//! Any other table either lost an acknowledged commit or exposed a write that never committed;
//! values are unique per write, so the check sees which. Each recovered store must then accept a
//! new transaction that survives the next restart: that catches a recovery that forgets to cut
//! the torn tail.
//!
//! The recovery under test is a parameter ([`Redo`]), so that the chapter's exercise is checked
//! by the same crash test.

use std::collections::BTreeMap;

use rand::RngExt;

use super::wal::{FrameError, KvStore, MemDisk, Record, Storage, Table, TxnId, scan};
use crate::sim::rng_stream;

/// A recovery function: the table from the records of a scanned log.
pub type Redo = fn(&[Record]) -> Table;

/// One step of a workload; transactions are numbered in the order the workload begins them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Begin(usize),
    Put(usize, String, String),
    Commit(usize),
    Abort(usize),
}

/// A seeded interleaving of transactions.
#[derive(Clone, Debug)]
pub struct Workload {
    pub steps: Vec<Step>,
}

impl Workload {
    /// `txns` transactions over `keys` keys, at most three open at once; about one in six
    /// aborts. Every value is unique, so a recovered value names the write it came from.
    pub fn generate(seed: u64, txns: usize, keys: usize) -> Workload {
        let mut rng = rng_stream(seed, 12);
        let mut steps = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut begun = 0;
        while begun < txns || !open.is_empty() {
            if begun < txns && (open.is_empty() || (open.len() < 3 && rng.random_bool(0.3))) {
                steps.push(Step::Begin(begun));
                open.push(begun);
                begun += 1;
                continue;
            }
            let slot = rng.random_range(0..open.len());
            let t = open[slot];
            let roll: f64 = rng.random();
            if roll < 0.6 {
                let key = format!("k{}", rng.random_range(0..keys));
                steps.push(Step::Put(t, key, format!("t{t}w{}", steps.len())));
            } else {
                open.swap_remove(slot);
                steps.push(if roll < 0.93 {
                    Step::Commit(t)
                } else {
                    Step::Abort(t)
                });
            }
        }
        Workload { steps }
    }
}

/// What the clients of one (possibly interrupted) run were told.
#[derive(Debug, Default)]
struct Outcome {
    /// Acknowledged transactions' writes, in commit order.
    acked: Vec<Vec<(String, String)>>,
    /// The writes of a transaction whose commit record was appended but never synced.
    in_flight: Option<Vec<(String, String)>>,
}

/// Runs `workload` on `disk` until the end or the first failed call (the machine died).
fn run(workload: &Workload, disk: MemDisk) -> (MemDisk, Outcome) {
    let (mut store, _) = KvStore::open(disk).expect("an empty disk opens");
    let mut ids: BTreeMap<usize, TxnId> = BTreeMap::new();
    let mut writes: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    let mut outcome = Outcome::default();
    for step in &workload.steps {
        let before = store.storage().writes();
        let result = match step {
            Step::Begin(t) => store.begin().map(|id| {
                ids.insert(*t, id);
            }),
            Step::Put(t, key, value) => store.put(ids[t], key, value).map(|()| {
                writes
                    .entry(*t)
                    .or_default()
                    .push((key.clone(), value.clone()));
            }),
            Step::Commit(t) => match store.commit(ids[t]) {
                Ok(()) => {
                    outcome.acked.push(writes.remove(t).unwrap_or_default());
                    Ok(())
                }
                Err(e) => {
                    if store.storage().writes() > before {
                        outcome.in_flight = Some(writes.remove(t).unwrap_or_default());
                    }
                    Err(e)
                }
            },
            Step::Abort(t) => store.abort(ids[t]),
        };
        if result.is_err() {
            break;
        }
    }
    (store.storage().clone(), outcome)
}

fn apply(tables: &mut Table, writes: &[(String, String)]) {
    for (key, value) in writes {
        tables.insert(key.clone(), value.clone());
    }
}

/// Counts of one crash test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Appends in the workload: the machine died once right after each of them.
    pub crash_points: usize,
    /// Disk images recovered (every crash point times every prefix of its unsynced bytes).
    pub images: usize,
    /// Images whose last frame was cut in the middle (recovery truncated a torn record).
    pub torn: usize,
    /// Acknowledged transactions checked, summed over images.
    pub acked_checked: usize,
    /// Images in which the unacknowledged in-flight commit survived (allowed either way).
    pub in_flight_survived: usize,
}

impl CrashReport {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &CrashReport) {
        self.crash_points += other.crash_points;
        self.images += other.images;
        self.torn += other.torn;
        self.acked_checked += other.acked_checked;
        self.in_flight_survived += other.in_flight_survived;
    }
}

// ANCHOR: check_every_crash_point
/// Crashes `workload` after every append, tears the unsynced tail at every byte, recovers each
/// image with `redo` (and with the store's own recovery), and checks the result.
pub fn check_every_crash_point(workload: &Workload, redo: Redo) -> Result<CrashReport, String> {
    let (full, _) = run(workload, MemDisk::new());
    let mut report = CrashReport {
        crash_points: full.writes(),
        ..CrashReport::default()
    };
    for k in 1..=full.writes() {
        let (disk, outcome) = run(workload, MemDisk::crashing_after(k));
        let mut expected = Table::new();
        outcome.acked.iter().for_each(|w| apply(&mut expected, w));
        let mut with_in_flight = expected.clone();
        apply(
            &mut with_in_flight,
            outcome.in_flight.as_deref().unwrap_or_default(),
        );
        for keep in 0..=disk.unsynced_len() {
            let mut image = disk.crash(keep);
            let bytes = image.read_all().map_err(|e| e.to_string())?;
            let scanned = scan(&bytes);
            let recovered = redo(&scanned.records);
            let why = format!("crash after write {k}, keeping {keep} unsynced bytes");
            if recovered != expected && recovered != with_in_flight {
                return Err(format!(
                    "{why}: recovered {recovered:?}, expected {expected:?}"
                ));
            }
            check_store_recovery(image, &recovered, &why)?;
            report.images += 1;
            report.torn += usize::from(matches!(
                scanned.stopped,
                Some(FrameError::Incomplete { .. })
            ));
            report.acked_checked += outcome.acked.len();
            report.in_flight_survived += usize::from(recovered != expected);
        }
    }
    Ok(report)
}
// ANCHOR_END: check_every_crash_point

/// `KvStore::open` on `image` gives `recovered`, and a transaction committed after recovery
/// survives the next restart.
fn check_store_recovery(image: MemDisk, recovered: &Table, why: &str) -> Result<(), String> {
    let (mut store, _) = KvStore::open(image).map_err(|e| format!("{why}: open: {e}"))?;
    if store.table() != recovered {
        return Err(format!("{why}: the store recovered {:?}", store.table()));
    }
    let after = (|| {
        let txn = store.begin()?;
        store.put(txn, "after-recovery", "yes")?;
        store.commit(txn)
    })();
    after.map_err(|e| format!("{why}: commit after recovery: {e}"))?;
    let (again, _) = KvStore::open(store.storage().crash(0)).map_err(|e| e.to_string())?;
    if again.get("after-recovery") != Some("yes") {
        return Err(format!(
            "{why}: a commit made after recovery was lost at the next crash"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::wal::redo;
    use super::*;

    #[test]
    fn a_small_workload_survives_every_crash_point() {
        let workload = Workload::generate(1, 6, 3);
        let report = check_every_crash_point(&workload, redo).unwrap();
        assert!(report.crash_points > 10 && report.torn > 0, "{report:?}");
    }

    #[test]
    fn a_recovery_that_also_redoes_uncommitted_writes_is_caught() {
        fn redo_everything(records: &[Record]) -> Table {
            let mut table = Table::new();
            for r in records {
                if let Record::Write { key, value, .. } = r {
                    table.insert(key.clone(), value.clone());
                }
            }
            table
        }
        let workload = Workload::generate(1, 6, 3);
        assert!(check_every_crash_point(&workload, redo_everything).is_err());
    }
}
