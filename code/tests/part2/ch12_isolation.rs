//! Chapter 12's claims about isolation: what each of our levels prevents (Hermitage's test
//! cases as transcripts), deadlock victims, serializability of random interleavings under
//! two-phase locking, write skew under snapshot isolation, and PostgreSQL's behaviour against
//! Hermitage's published results, on a real server.

use std::collections::BTreeMap;

use proptest::prelude::*;
use uds::coordination::transactions::engine::{AbortReason, Engine, Isolation, Outcome, Pred};
use uds::coordination::transactions::hermitage::{disagreements_with_hermitage, scenarios};
use uds::coordination::transactions::postgres::PgBackend;
use uds::coordination::transactions::scenario::{
    Cell, EngineBackend, Scenario, classify, render_transcript, run,
};
use uds::servers::postgres::PostgresServer;

const LEVELS: [Isolation; 3] = [
    Isolation::ReadCommitted,
    Isolation::Snapshot,
    Isolation::Serializable,
];

/// What the chapter's table says for our engine: test case, then RC, SI, SER.
const ENGINE_TABLE: &str = "
G0            blocks   aborts   blocks
G1a           ok       ok       blocks
G1b           ok       ok       blocks
G1c           ok       ok       deadlock
OTV           blocks   aborts   blocks
PMP           ANOMALY  ok       blocks
PMP-write     blocks   aborts   blocks
P4            ANOMALY  aborts   deadlock
G-single      ANOMALY  ok       blocks
G-single-dep  ANOMALY  ok       blocks
G-single-wp   ANOMALY  aborts   deadlock
G2-item       ANOMALY  ANOMALY  deadlock
G2            ANOMALY  ANOMALY  deadlock
G2-two-edges  ANOMALY  ANOMALY  blocks
";

fn engine_cells(scenario: &Scenario) -> Vec<&'static str> {
    let mut backend = EngineBackend::default();
    LEVELS
        .iter()
        .map(|&level| {
            let transcript = run(&mut backend, scenario, level).expect("the engine never fails");
            classify(scenario, &transcript).label()
        })
        .collect()
}

/// Read committed prevents G0 and G1 (Adya), snapshot isolation adds PMP, P4 and G-single,
/// serializable prevents everything; and each by the mechanism the chapter says.
#[test]
fn each_engine_level_prevents_exactly_the_anomalies_of_the_chapter_table() {
    let expected: BTreeMap<&str, Vec<&str>> = ENGINE_TABLE
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[0], words[1..].to_vec())
        })
        .collect();
    let all = scenarios();
    assert_eq!(all.len(), expected.len());
    for scenario in &all {
        assert_eq!(
            engine_cells(scenario),
            expected[scenario.name],
            "{} (RC, SI, SER)",
            scenario.name
        );
    }
}

/// The transcript of the lost update under read committed and snapshot isolation, step by
/// step: the second writer waits; then it overwrites (RC) or is aborted (SI).
#[test]
fn lost_update_transcripts_read_committed_overwrites_snapshot_isolation_aborts() {
    let p4 = scenarios().into_iter().find(|s| s.name == "P4").unwrap();
    let mut backend = EngineBackend::default();
    let rc = render_transcript(&run(&mut backend, &p4, Isolation::ReadCommitted).unwrap());
    let si = render_transcript(&run(&mut backend, &p4, Isolation::Snapshot).unwrap());
    let expected_rc = "\
T1  select id, value from test where id = 1        -> [1 => 10]
T2  select id, value from test where id = 1        -> [1 => 10]
T1  update test set value = 11 where id = 1        -> 1 row(s)
T2  update test set value = 11 where id = 1        -> blocked, then 1 row(s)
T1  commit                                         -> committed
T2  commit                                         -> committed
committed rows after: [1 => 11, 2 => 20]
";
    assert_eq!(rc, expected_rc);
    let expected_si = expected_rc
        .replace(
            "blocked, then 1 row(s)",
            "blocked, then ERROR: serialization failure",
        )
        .replace(
            "T2  commit                                         -> committed",
            "T2  commit                                         -> rolled back",
        );
    assert_eq!(si, expected_si);
}

/// Strict 2PL deadlocks on the classic crossing updates; the transaction whose request closes
/// the cycle is the victim, and the survivor finishes and commits.
#[test]
fn a_deadlock_aborts_the_requester_and_the_survivor_commits() {
    let mut db = Engine::with_rows(&[(1, 10), (2, 20)]);
    let t1 = db.begin(Isolation::Serializable);
    let t2 = db.begin(Isolation::Serializable);
    assert_eq!(db.write(t1, 1, Some(11)), Outcome::Done(()));
    assert_eq!(db.write(t2, 2, Some(21)), Outcome::Done(()));
    assert!(matches!(db.write(t1, 2, Some(12)), Outcome::Blocked(on) if on.contains(&t2)));
    let victim = db.write(t2, 1, Some(22));
    assert_eq!(
        victim,
        Outcome::Aborted(AbortReason::Deadlock {
            cycle: vec![t2, t1]
        })
    );
    assert_eq!(db.write(t1, 2, Some(12)), Outcome::Done(()));
    assert_eq!(db.commit(t1), Outcome::Done(()));
    assert!(matches!(db.commit(t2), Outcome::Aborted(_)));
    assert_eq!(db.committed_rows(), vec![(1, 11), (2, 12)]);
}

/// A transaction of the random workload: read accounts `a` and `b`; if `a + b >= amount`,
/// withdraw `amount` from `a` (the bank lets one account go negative as long as the pair
/// stays covered). Serially, `balance(0) + balance(1) >= 0` always holds.
#[derive(Clone, Copy, Debug)]
struct Withdraw {
    a: i64,
    amount: i64,
}

/// Committed rows `(id, value)`, sorted by id.
type Rows = Vec<(i64, i64)>;
/// A committed transaction of the workload: its index and the two balances it read.
type Committed = (usize, i64, i64);

/// The program of a transaction: given what it read, what it writes.
fn program(w: Withdraw, seen_a: i64, seen_b: i64) -> Option<(i64, i64)> {
    (seen_a + seen_b >= w.amount).then_some((w.a, seen_a - w.amount))
}

/// Runs the transactions interleaved as `schedule` says (each entry picks which unfinished
/// transaction takes its next step), retrying blocked steps. Returns the final rows and, for
/// each committed transaction, what it read.
fn interleave(
    isolation: Isolation,
    txs: &[Withdraw],
    schedule: &[usize],
) -> (Rows, Vec<Committed>) {
    let mut db = Engine::with_rows(&[(0, 50), (1, 50)]);
    let ids: Vec<usize> = txs.iter().map(|_| db.begin(isolation)).collect();
    // Per transaction: 0 read, 1 write, 2 commit, 3 done.
    let mut pc = vec![0; txs.len()];
    let mut seen = vec![(0, 0); txs.len()];
    let mut committed = Vec::new();
    let mut turn = schedule.iter().cycle();
    // Consecutive blocked attempts; while positive, the next live transaction gets the turn.
    let mut stalls = 0;
    let mut pos = 0;
    while pc.iter().any(|&p| p < 3) {
        let live: Vec<usize> = (0..txs.len()).filter(|&i| pc[i] < 3).collect();
        pos = if stalls == 0 {
            turn.next().unwrap() % live.len()
        } else {
            (pos + 1) % live.len()
        };
        let i = live[pos];
        let (tx, w) = (ids[i], txs[i]);
        let outcome = match pc[i] {
            0 => match db.scan(tx, &Pred::All) {
                Outcome::Done(rows) => {
                    let bal = |k| rows.iter().find(|r| r.0 == k).unwrap().1;
                    seen[i] = (bal(w.a), bal(1 - w.a));
                    Outcome::Done(())
                }
                Outcome::Blocked(on) => Outcome::Blocked(on),
                Outcome::Aborted(r) => Outcome::Aborted(r),
            },
            1 => match program(w, seen[i].0, seen[i].1) {
                Some((key, value)) => db.write(tx, key, Some(value)),
                None => Outcome::Done(()),
            },
            _ => db.commit(tx),
        };
        match outcome {
            Outcome::Done(()) => {
                stalls = 0;
                if pc[i] == 2 {
                    committed.push((i, seen[i].0, seen[i].1));
                }
                pc[i] += 1;
            }
            Outcome::Blocked(_) => {
                stalls += 1;
                assert!(
                    stalls < 1000,
                    "no transaction can move: a deadlock went unnoticed"
                );
            }
            Outcome::Aborted(_) => {
                stalls = 0;
                pc[i] = 3;
            }
        }
    }
    (db.committed_rows(), committed)
}

/// Is the run equivalent to running its committed transactions one after another in some
/// order: each read what it would have read there, and the final rows agree?
fn serial_order_exists(
    txs: &[Withdraw],
    rows: &[(i64, i64)],
    committed: &[(usize, i64, i64)],
) -> bool {
    fn permutations(items: Vec<usize>) -> Vec<Vec<usize>> {
        if items.len() <= 1 {
            return vec![items];
        }
        let mut out = Vec::new();
        for k in 0..items.len() {
            let mut rest = items.clone();
            let first = rest.remove(k);
            for mut p in permutations(rest) {
                p.insert(0, first);
                out.push(p);
            }
        }
        out
    }
    let reads: BTreeMap<usize, (i64, i64)> =
        committed.iter().map(|&(i, a, b)| (i, (a, b))).collect();
    permutations(reads.keys().copied().collect())
        .into_iter()
        .any(|order| {
            let mut bal = [50, 50];
            for i in order {
                let w = txs[i];
                let seen = (bal[w.a as usize], bal[1 - w.a as usize]);
                if seen != reads[&i] {
                    return false;
                }
                if let Some((key, value)) = program(w, seen.0, seen.1) {
                    bal[key as usize] = value;
                }
            }
            rows == [(0, bal[0]), (1, bal[1])]
        })
}

fn withdraws() -> impl Strategy<Value = Vec<Withdraw>> {
    prop::collection::vec(
        (0..2i64, 10..=90i64).prop_map(|(a, amount)| Withdraw { a, amount }),
        2..=4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Two-phase locking is serializable (Eswaran et al. 1976): every interleaving of the
    /// withdrawals is equivalent to a serial order of its committed transactions, so the pair
    /// never goes below zero.
    #[test]
    fn two_phase_locking_runs_are_equivalent_to_a_serial_order(
        txs in withdraws(),
        schedule in prop::collection::vec(0..4usize, 1..24),
    ) {
        let (rows, committed) = interleave(Isolation::Serializable, &txs, &schedule);
        prop_assert!(rows[0].1 + rows[1].1 >= 0, "{rows:?}");
        prop_assert!(serial_order_exists(&txs, &rows, &committed), "{rows:?} {committed:?}");
    }
}

/// Snapshot isolation is not serializable: two withdrawals from different accounts that each
/// checked the pair in its own snapshot both commit (write skew), and the pair goes negative.
#[test]
fn snapshot_isolation_admits_write_skew_that_breaks_the_invariant() {
    let txs = [Withdraw { a: 0, amount: 80 }, Withdraw { a: 1, amount: 80 }];
    // Both read, then both write and commit.
    let (rows, committed) = interleave(Isolation::Snapshot, &txs, &[0, 1]);
    assert_eq!(committed.len(), 2);
    assert_eq!(rows, vec![(0, -30), (1, -30)]);
    assert!(!serial_order_exists(&txs, &rows, &committed));
    let (rows, _) = interleave(Isolation::Serializable, &txs, &[0, 1]);
    assert!(rows[0].1 + rows[1].1 >= 0, "{rows:?}");
}

/// Hermitage's test cases on a real PostgreSQL server give Hermitage's published results,
/// class by class and level by level; and the server's directory is gone afterwards.
#[test]
fn postgres_agrees_with_hermitages_published_results() {
    let server = PostgresServer::start().unwrap_or_else(|e| panic!("{e}"));
    let mut backend = PgBackend::new(&server, 3).unwrap_or_else(|e| panic!("{e}"));
    let all = scenarios();
    let mut cells = Vec::new();
    for scenario in &all {
        let mut row = [Cell::Stuck; 3];
        for (l, &level) in LEVELS.iter().enumerate() {
            let transcript = run(&mut backend, scenario, level).unwrap_or_else(|e| panic!("{e}"));
            row[l] = classify(scenario, &transcript);
            assert_ne!(
                row[l],
                Cell::Stuck,
                "{}\n{}",
                scenario.name,
                render_transcript(&transcript)
            );
        }
        cells.push((scenario, row));
    }
    assert_eq!(disagreements_with_hermitage(&cells), Vec::<String>::new());
    // The guard deletes the cluster's directory when it drops.
    let dir = server.socket_dir().to_path_buf();
    drop(backend);
    drop(server);
    assert!(!dir.exists(), "{} still exists", dir.display());
}
