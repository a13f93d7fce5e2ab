//! Exercise: recovery's redo pass.
//!
//! Implement [`starter::redo`]: given the records of a scanned log, in log order, return the
//! table that recovery rebuilds. The rules of redo-only recovery:
//!
//! - a transaction's writes take effect only if the log holds its commit record;
//! - committed transactions take effect in the order of their commit records (two transactions
//!   may write the same key, and their writes may interleave in the log);
//! - writes of transactions that aborted, or that were still running at the crash, never appear.
//!
//! The check is a hand-made log in which two committed transactions interleave their writes to
//! one key, then the chapter's crash test: a seeded workload is crashed after every single log
//! append, its unsynced tail torn at every byte, and your function must rebuild exactly what the
//! clients were promised. Run it with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_redo -- --ignored
//! ```
//!
//! [`solution`] has one answer; its test runs in the normal suite.

use super::wal::{Record, Table};

/// Your version.
pub mod starter {
    use super::{Record, Table};

    /// The table after redoing every committed transaction of `records`, in commit order.
    pub fn redo(_records: &[Record]) -> Table {
        todo!("buffer each transaction's writes; apply them when its commit record appears")
    }
}

/// One answer.
pub mod solution {
    use std::collections::BTreeMap;

    use super::{Record, Table};

    /// The table after redoing every committed transaction of `records`, in commit order.
    pub fn redo(records: &[Record]) -> Table {
        let mut pending: BTreeMap<u64, Vec<(String, String)>> = BTreeMap::new();
        let mut table = Table::new();
        for record in records {
            match record {
                Record::Write { txn, key, value } => {
                    pending
                        .entry(*txn)
                        .or_default()
                        .push((key.clone(), value.clone()));
                }
                Record::Commit { txn } => table.extend(pending.remove(txn).unwrap_or_default()),
                Record::Abort { txn } => {
                    pending.remove(txn);
                }
                Record::Begin { .. } => {}
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::super::crash::{Redo, Workload, check_every_crash_point};
    use super::*;

    fn check(redo: Redo) {
        // Two committed transactions write one key, interleaved: the one that commits last wins,
        // although the other wrote later. Random workloads need not contain this case.
        let write = |txn, value: &str| Record::Write {
            txn,
            key: "k".into(),
            value: value.into(),
        };
        let interleaved = [
            Record::Begin { txn: 1 },
            Record::Begin { txn: 2 },
            write(1, "from 1"),
            write(2, "from 2"),
            Record::Commit { txn: 2 },
            Record::Commit { txn: 1 },
        ];
        let expected = Table::from([("k".to_string(), "from 1".to_string())]);
        assert_eq!(
            redo(&interleaved),
            expected,
            "txn 1 commits after txn 2, so its write must win"
        );
        for seed in 0..3 {
            let workload = Workload::generate(seed, 12, 4);
            if let Err(why) = check_every_crash_point(&workload, redo) {
                panic!("workload seed {seed}: {why}");
            }
        }
    }

    #[test]
    fn the_solution_passes_the_crash_test() {
        check(solution::redo);
    }

    #[test]
    #[ignore = "exercise: implement starter::redo, then run \
                `cargo test -p uds --release --lib exercise_redo -- --ignored`"]
    fn exercise_redo() {
        crate::exercise::starter_or_solution(|| check(starter::redo), || check(solution::redo));
    }
}
