//! The test cases of Martin Kleppmann's Hermitage project, as data.
//!
//! Hermitage (<https://github.com/ept/hermitage>) probes each anomaly class of Adya's
//! generalized isolation levels with a short interleaving of two or three transactions over
//! the table `test (id int primary key, value int)` holding `(1, 10), (2, 20)`. Its PostgreSQL
//! scripts (`postgres.md` at commit `000346f`) are transcribed below step by step, with one
//! change: a session's last statement is always `commit`, where Hermitage writes `abort` after
//! an error it expected (our driver turns the commit of a failed transaction into a rollback),
//! so that the same script can show the anomaly at the levels that allow it. Statements that
//! Hermitage runs after a transaction's commit, outside any transaction, to show the final
//! state, are left out: the transcript's `final_rows` shows it.
//!
//! Each scenario's rule decides from the transcript whether the anomaly happened; it looks at
//! what the transactions read and whether they committed, never at how the level works.
//! [`HERMITAGE_POSTGRES`] holds Hermitage's published summary for PostgreSQL, which a test
//! compares with what our runs against a real server show.

use super::engine::{Isolation, Pred};
use super::scenario::{Cell, Scenario, Step};
use super::statement::{Set, Stmt};

fn step(t: usize, stmt: Stmt) -> Step {
    Step {
        session: t - 1,
        stmt,
    }
}

fn id(k: i64) -> Pred {
    Pred::Ids(vec![k])
}

fn set(t: usize, k: i64, v: i64) -> Step {
    step(t, Stmt::Update(id(k), Set::To(v)))
}

fn select(t: usize, pred: Pred) -> Step {
    step(t, Stmt::Select(pred))
}

fn commit(t: usize) -> Step {
    step(t, Stmt::Commit)
}

/// The rank of a version in the OTV script: 0 initial, 1 written by T1, 2 written by T2.
fn otv_rank(row: (i64, i64)) -> usize {
    match row {
        (1, 11) | (2, 19) => 1,
        (1, 12) | (2, 18) => 2,
        _ => 0,
    }
}

// ANCHOR: g2_item
/// G2-item, write skew: two transactions read both rows, then each updates a different one.
fn g2_item() -> Scenario {
    Scenario {
        name: "G2-item",
        class: "G2-item",
        steps: vec![
            select(1, Pred::Ids(vec![1, 2])), // 0
            select(2, Pred::Ids(vec![1, 2])), // 1
            set(1, 1, 11),                    // 2
            set(2, 2, 21),                    // 3
            commit(1),                        // 4
            commit(2),                        // 5
        ],
        // Each read the other's row before it changed: no serial order explains both reads.
        anomaly: |t| {
            let initial = vec![(1, 10), (2, 20)];
            t.committed(0) && t.committed(1) && t.rows(0) == initial && t.rows(1) == initial
        },
    }
}
// ANCHOR_END: g2_item

/// Every Hermitage test case, in the order of the anomaly table.
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "G0",
            class: "G0",
            steps: vec![set(1, 1, 11), set(2, 1, 12), set(1, 2, 21), commit(1)]
                .into_iter()
                .chain([set(2, 2, 22), commit(2)])
                .collect(),
            // Dirty write: the final rows mix the two transactions' writes.
            anomaly: |t| {
                t.final_rows == vec![(1, 11), (2, 22)] || t.final_rows == vec![(1, 12), (2, 21)]
            },
        },
        Scenario {
            name: "G1a",
            class: "G1a",
            steps: vec![
                set(1, 1, 101),
                select(2, Pred::All),
                step(1, Stmt::Rollback),
                select(2, Pred::All),
                commit(2),
            ],
            // Aborted read: T2 saw a value that T1 rolled back.
            anomaly: |t| [1, 3].iter().any(|&i| t.rows(i).contains(&(1, 101))),
        },
        Scenario {
            name: "G1b",
            class: "G1b",
            steps: vec![
                set(1, 1, 101),
                select(2, Pred::All),
                set(1, 1, 11),
                commit(1),
                select(2, Pred::All),
                commit(2),
            ],
            // Intermediate read: T2 saw a value that T1 overwrote before committing.
            anomaly: |t| [1, 4].iter().any(|&i| t.rows(i).contains(&(1, 101))),
        },
        Scenario {
            name: "G1c",
            class: "G1c",
            steps: vec![
                set(1, 1, 11),
                set(2, 2, 22),
                select(1, id(2)),
                select(2, id(1)),
                commit(1),
                commit(2),
            ],
            // Circular information flow: each saw the other's uncommitted write.
            anomaly: |t| t.rows(2).contains(&(2, 22)) || t.rows(3).contains(&(1, 11)),
        },
        Scenario {
            name: "OTV",
            class: "OTV",
            steps: vec![
                set(1, 1, 11),
                set(1, 2, 19),
                set(2, 1, 12),
                commit(1),
                select(3, id(1)), // 4
                set(2, 2, 18),
                select(3, id(2)), // 6
                commit(2),
                select(3, id(2)), // 8
                select(3, id(1)), // 9
                commit(3),
            ],
            // T3 saw a transaction's write, then a row as it was before that transaction.
            anomaly: |t| {
                let mut seen = 0;
                for i in [4, 6, 8, 9] {
                    for row in t.rows(i) {
                        if otv_rank(row) < seen {
                            return true;
                        }
                        seen = seen.max(otv_rank(row));
                    }
                }
                false
            },
        },
        Scenario {
            name: "PMP",
            class: "PMP",
            steps: vec![
                select(1, Pred::ValueEq(30)),
                step(2, Stmt::Insert(3, 30)),
                commit(2),
                select(1, Pred::ValueMod(3, 0)), // 3
                commit(1),
            ],
            // T1's second predicate read saw a row its first one did not.
            anomaly: |t| !t.rows(3).is_empty(),
        },
        Scenario {
            name: "PMP-write",
            class: "PMP",
            steps: vec![
                step(1, Stmt::Update(Pred::All, Set::Add(10))),
                step(2, Stmt::Delete(Pred::ValueEq(20))),
                commit(1),
                select(2, Pred::ValueEq(20)), // 3
                commit(2),
            ],
            // T2 deleted "where value = 20", yet afterwards still sees a row with value 20.
            anomaly: |t| !t.rows(3).is_empty(),
        },
        Scenario {
            name: "P4",
            class: "P4",
            steps: vec![
                select(1, id(1)),
                select(2, id(1)),
                set(1, 1, 11),
                set(2, 1, 11),
                commit(1),
                commit(2),
            ],
            // Lost update: both read 10 and both committed an update based on it.
            anomaly: |t| {
                let read_10 = |i| t.rows(i) == vec![(1, 10)];
                t.committed(0) && t.committed(1) && read_10(0) && read_10(1)
            },
        },
        Scenario {
            name: "G-single",
            class: "G-single",
            steps: vec![
                select(1, id(1)), // 0
                select(2, id(1)),
                select(2, id(2)),
                set(2, 1, 12),
                set(2, 2, 18),
                commit(2),
                select(1, id(2)), // 6
                commit(1),
            ],
            // Read skew: T1 saw row 1 before T2 and row 2 after it.
            anomaly: |t| t.rows(0) == vec![(1, 10)] && t.rows(6) == vec![(2, 18)],
        },
        Scenario {
            name: "G-single-dep",
            class: "G-single",
            steps: vec![
                select(1, Pred::ValueMod(5, 0)), // 0
                step(2, Stmt::Update(Pred::ValueEq(10), Set::To(12))),
                commit(2),
                select(1, Pred::ValueMod(3, 0)), // 3
                commit(1),
            ],
            // T1's first predicate read missed T2's write, its second one saw it.
            anomaly: |t| t.rows(0).contains(&(1, 10)) && t.rows(3).contains(&(1, 12)),
        },
        Scenario {
            name: "G-single-wp",
            class: "G-single",
            steps: vec![
                select(1, id(1)), // 0
                select(2, Pred::All),
                set(2, 1, 12),
                set(2, 2, 18), // 3
                commit(2),
                step(1, Stmt::Delete(Pred::ValueEq(20))),
                commit(1),
            ],
            // T1 read row 1 before T2, so it must serialize first, but its delete ran after
            // T2 changed row 2 and both committed: T1 either missed T2's row (read skew) or
            // deleted it (T2's update of a row T1 deleted is lost).
            anomaly: |t| {
                t.committed(0) && t.committed(1) && t.rows(0) == vec![(1, 10)] && t.count(3) == 1
            },
        },
        g2_item(),
        Scenario {
            name: "G2",
            class: "G2",
            steps: vec![
                select(1, Pred::ValueMod(3, 0)), // 0
                select(2, Pred::ValueMod(3, 0)), // 1
                step(1, Stmt::Insert(3, 30)),
                step(2, Stmt::Insert(4, 42)),
                commit(1),
                commit(2),
            ],
            // Each predicate read missed the row the other inserted, and both committed.
            anomaly: |t| {
                t.committed(0) && t.committed(1) && t.rows(0).is_empty() && t.rows(1).is_empty()
            },
        },
        Scenario {
            name: "G2-two-edges",
            class: "G2",
            steps: vec![
                select(1, Pred::All), // 0
                step(2, Stmt::Update(id(2), Set::Add(5))),
                commit(2),
                select(3, Pred::All), // 3
                commit(3),
                set(1, 1, 0),
                commit(1),
            ],
            // Fekete et al.'s read-only anomaly: T1 precedes T2 (it read row 2 before T2), T2
            // precedes T3 (T3 saw T2), yet T3 missed T1's write to row 1.
            anomaly: |t| {
                (0..3).all(|s| t.committed(s))
                    && t.rows(0).contains(&(2, 20))
                    && t.rows(3) == vec![(1, 10), (2, 25)]
            },
        },
    ]
}

/// The isolation levels of the table's columns, with PostgreSQL's names for them.
pub const LEVELS: [(Isolation, &str); 3] = [
    (Isolation::ReadCommitted, "read committed"),
    (Isolation::Snapshot, "repeatable read"),
    (Isolation::Serializable, "serializable"),
];

// ANCHOR: published
/// Hermitage's summary for PostgreSQL: for each anomaly class, whether read committed,
/// repeatable read and serializable prevent it (✓ in the README's table). From
/// <https://github.com/ept/hermitage/blob/master/README.md> ("Summary of test results").
pub const HERMITAGE_POSTGRES: [(&str, [bool; 3]); 10] = [
    ("G0", [true, true, true]),
    ("G1a", [true, true, true]),
    ("G1b", [true, true, true]),
    ("G1c", [true, true, true]),
    ("OTV", [true, true, true]),
    ("PMP", [false, true, true]),
    ("P4", [false, true, true]),
    ("G-single", [false, true, true]),
    ("G2-item", [false, false, true]),
    ("G2", [false, false, true]),
];
// ANCHOR_END: published

// ANCHOR: compare
/// The class/level cells where `cells` (scenario name -> cell at RC, RR, SER on PostgreSQL)
/// disagree with [`HERMITAGE_POSTGRES`]. A class is prevented at a level when none of its
/// scenarios shows the anomaly there, and not prevented when at least one does.
pub fn disagreements_with_hermitage(cells: &[(&Scenario, [Cell; 3])]) -> Vec<String> {
    let mut out = Vec::new();
    for (class, published) in HERMITAGE_POSTGRES {
        for (level, (_, level_name)) in LEVELS.iter().enumerate() {
            let of_class: Vec<Cell> = cells
                .iter()
                .filter(|(s, _)| s.class == class)
                .map(|(_, c)| c[level])
                .collect();
            if of_class.is_empty() {
                out.push(format!("{class}: no scenario ran"));
                continue;
            }
            let prevented = of_class.iter().all(|c| c.prevented());
            if prevented != published[level] {
                out.push(format!(
                    "{class} at {level_name}: Hermitage says {}, we saw {:?}",
                    if published[level] {
                        "prevented"
                    } else {
                        "possible"
                    },
                    of_class
                ));
            }
        }
    }
    out
}
// ANCHOR_END: compare
