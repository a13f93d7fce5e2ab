//! A linearizability checker: did a concurrent object behave like a single copy?
//!
//! An object is *linearizable* if every operation appears to take effect atomically at some
//! instant between its call and its return, so that the operations, in the order of those
//! instants, are a legal sequential run of the object (Herlihy and Wing, "Linearizability: a
//! correctness condition for concurrent objects", ACM TOPLAS 12(3), 1990, §2). Two rules follow.
//! Operations that overlap in time may take effect in either order. An operation that returned
//! before another was called must take effect first: once a write has been acknowledged, no
//! read that starts later may miss it, however many replicas the store keeps.
//!
//! The checker takes a *history*, what the clients saw ([`Operation`]: call time, return time,
//! input, output), and a *model*, the sequential specification ([`Model`]; [`KvModel`] for this
//! book's key-value store), and answers one of three things ([`CheckResult`]):
//!
//! - `Ok`: there is an order of the operations that respects real time and that the model
//!   accepts. Then the clients cannot tell the object from a single copy that served one
//!   operation at a time.
//! - `Illegal(explanation)`: no such order exists. The [`Explanation`] names the partition, the
//!   longest prefix that could be ordered, and the operations that could not come after it.
//! - `Unknown`: the search used up its budget of steps (or memory) without deciding.
//!
//! [`check_report`] says more: for every partition (key), its verdict, the [`Method`] that
//! decided it, and what that cost ([`Report`]).
//!
//! The answer is exact, not a heuristic: `Ok` and `Illegal` are both proofs, up to the budget.
//! The price is time. Deciding linearizability is NP-complete in general (Gibbons and Korach,
//! "Testing shared memories", SIAM J. Comput. 26(4), 1997), and [`search`] is a backtracking
//! search exponential in the number of *mutually concurrent* operations. Histories from real
//! tests stay cheap for two reasons:
//!
//! 1. **Memoisation.** The search (Wing and Gong's, with Lowe's improvement; see [`search`])
//!    remembers every (set of operations placed, model state) pair it reached, and never
//!    explores the same pair twice.
//! 2. **Partitioning.** Linearizability is *local*: a history is linearizable if and only if its
//!    restriction to every object is (Herlihy and Wing 1990, §3.5). So [`Model::partition`] may
//!    split the history, and [`KvModel`] splits it per key, as Porcupine does (Anish Athalye,
//!    <https://github.com/anishathalye/porcupine>). Each key is searched on its own.
//!
//! Operations whose outcome is unknown (`output: None`; the client timed out) are the normal
//! case in a faulty network, and the checker treats them as they are: each may have taken
//! effect at any instant after its call, or never. A write that timed out may therefore explain
//! a later read of its value, and need not explain anything.
//!
//! What this module assumes and simplifies:
//!
//! - Call and return times come from one clock. In the simulator that is the simulated clock,
//!   and exact; against a real cluster, take both times on the client machine, as Jepsen does,
//!   and the recorded interval contains the true one.
//! - Operations whose intervals touch (`return == call`) count as concurrent; see
//!   [`Operation::precedes`].
//! - The budget is per partition, counted in events visited. [`DEFAULT_MAX_STEPS`], a million,
//!   bounds a search to a few seconds in release mode; a linearizable history of a thousand
//!   operations on three keys takes about ten thousand steps per key, milliseconds in all.
//!
//! Three things keep the checker's cost bounded and its answers useful on hard histories:
//!
//! - **Effort spread across partitions.** Searching the keys one after another, each with the
//!   whole budget, lets one hard but legal key eat seconds before an easy illegal key is even
//!   looked at. [`check_report`] deepens iteratively instead: every undecided key gets a small
//!   budget, then twice as much, and so on up to the budget, so a key is decided in the first
//!   round whose budget suffices, whatever the others cost. Checking per key is sound by
//!   locality; Horn and Kroening generalise this splitting to *P-compositionality* ("Faster
//!   linearizability checking via P-compositionality", FORTE 2015, LNCS 9039).
//! - **Bounded memory.** The memo table grows with the steps; past
//!   [`DEFAULT_MAX_CONFIGURATIONS`] entries the search stops and the key is unknown, never an
//!   out-of-memory crash.
//! - **Witnesses.** Where the search gives up, a linearization proposed by the system under
//!   test (for Raft, each command at the instant it was first committed) can be checked in one
//!   pass ([`witness`]); if it holds, the key is linearizable, whoever proposed it.
//!
//! [`exercise`] asks for a model of one more object, a compare-and-set register, which is all
//! it takes to check a history of it.
//!
//! Everything here is std-only, so that a listing built on it runs on the Rust playground.

pub mod exercise;
pub mod explain;
pub mod generate;
pub mod kv;
pub mod model;
pub mod render;
pub mod report;
pub mod search;
pub mod witness;

use std::fmt;
use std::time::Instant;

pub use explain::{Explanation, OpSummary, Stuck};
pub use kv::{KvInput, KvModel, KvOutput, KvState};
pub use model::{Model, Operation, Unpartitioned};
pub use render::render_history;
pub use report::{Method, PartitionReport, Report};
pub use search::Verdict;
pub use witness::{Placement, WitnessError};

/// The default budget: events a search may visit per partition before it gives up.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// The default cap on configurations one search memoises: 2^19, about half a million. An entry
/// is a bitset of the partition's operations and a model state. For the key-value model it
/// costs about 800 bytes with the hash table's overhead, most of it the map's node (measured:
/// a search that reached 10^6 configurations of one key peaked at 0.8 GB), so the cap holds a
/// search, and the checker, which runs one search at a time, to about 400 MB.
pub const DEFAULT_MAX_CONFIGURATIONS: usize = 1 << 19;

/// The default budget of every partition in the first round of iterative deepening.
pub const DEFAULT_FIRST_ROUND_STEPS: u64 = 1_000;

/// How much work [`check_report`] may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most events one search of a partition may visit: the budget of the last round.
    pub max_steps: u64,
    /// The most configurations one search may memoise.
    pub max_configurations: usize,
    /// Every undecided partition's budget in the first round; it doubles each round.
    pub first_round_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: DEFAULT_MAX_STEPS,
            max_configurations: DEFAULT_MAX_CONFIGURATIONS,
            first_round_steps: DEFAULT_FIRST_ROUND_STEPS,
        }
    }
}

// ANCHOR: check_result
/// The checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Every partition has an order that respects real time and that the model accepts.
    Ok,
    /// Some partition has none; the first such partition, explained.
    Illegal(Explanation),
    /// No partition is illegal, but some search ran out of steps before deciding.
    Unknown,
}
// ANCHOR_END: check_result

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Ok => writeln!(f, "linearizable"),
            CheckResult::Illegal(explanation) => write!(f, "{explanation}"),
            CheckResult::Unknown => writeln!(f, "unknown: the search ran out of steps"),
        }
    }
}

/// Checks `history` against `model` with the default budget.
///
/// # Panics
///
/// If an operation with a known outcome returns before it is called, or if the model's
/// partition does not cover every operation exactly once: both are bugs in the code that
/// recorded the history or wrote the model, not properties of the object under test.
pub fn check<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> CheckResult {
    check_with_budget(model, history, DEFAULT_MAX_STEPS)
}

// ANCHOR: check_with_budget
/// Checks `history` against `model`, each partition with a budget of `max_steps` events.
/// Panics as [`check`] does.
pub fn check_with_budget<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    max_steps: u64,
) -> CheckResult {
    let limits = Limits {
        max_steps,
        ..Limits::default()
    };
    check_report(model, history, &limits, None).result()
}
// ANCHOR_END: check_with_budget

// ANCHOR: check_report
/// Checks `history` against `model` within `limits`, partition by partition, and reports how
/// each was decided. Where the search gives up, `witness` (placements over the whole history,
/// in linearization order), if any, is checked instead. Panics as [`check`] does.
///
/// The partitions share the effort by *iterative deepening*: in round `r` every undecided
/// partition is searched afresh with a budget of `first_round_steps * 2^r` steps, until every
/// partition is decided or the budget reaches `max_steps`. A partition that is easy to decide
/// is decided in an early round, whatever the others cost, and the first illegal one ends the
/// check. Restarting costs at most as many steps again as the last round (the budgets double),
/// and only one search, with its memo table, is alive at a time.
pub fn check_report<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    limits: &Limits,
    witness: Option<&[Placement]>,
) -> Report {
    let started = Instant::now();
    let partitions = model.partition(history);
    assert_well_formed(history, &partitions);
    let mut reports: Vec<PartitionReport> = partitions
        .iter()
        .map(|p| PartitionReport {
            partition: model.describe_partition(history, p),
            operations: p.len(),
            verdict: CheckResult::Unknown,
            method: Method::Skipped,
            steps: 0,
            configurations: 0,
            rounds: 0,
            time: Default::default(),
            witness_error: None,
        })
        .collect();
    let mut pending: Vec<usize> = (0..partitions.len()).collect();
    let mut budget = limits.first_round_steps.clamp(1, limits.max_steps.max(1));
    'rounds: while !pending.is_empty() {
        let mut undecided = Vec::new();
        for (done, &k) in pending.iter().enumerate() {
            let (partition, report) = (&partitions[k], &mut reports[k]);
            let start = Instant::now();
            let mut illegal = false;
            let max = limits.max_configurations;
            let search = search::search_bounded(model, history, partition, budget, max);
            report.steps += search.steps;
            report.configurations = report.configurations.max(search.configurations);
            report.rounds += 1;
            report.method = Method::Search;
            match search.verdict {
                Verdict::Linearizable => report.verdict = CheckResult::Ok,
                Verdict::Illegal { prefix, state } => {
                    let e = Explanation::new(model, history, partition, &prefix, &state);
                    report.verdict = CheckResult::Illegal(e);
                    illegal = true;
                }
                Verdict::GaveUp if search.out_of_memory => report.method = Method::UnknownMemory,
                Verdict::GaveUp if budget >= limits.max_steps => {
                    report.method = Method::UnknownBudget;
                }
                Verdict::GaveUp => undecided.push(k),
            }
            report.time += start.elapsed();
            if illegal {
                for &k in pending[done + 1..].iter().chain(&undecided) {
                    reports[k].method = Method::Skipped; // the history is decided
                }
                break 'rounds;
            }
        }
        pending = undecided;
        budget = budget.saturating_mul(2).min(limits.max_steps);
    }
    let illegal = reports
        .iter()
        .any(|r| matches!(r.verdict, CheckResult::Illegal(_)));
    if let (Some(witness), false) = (witness, illegal) {
        for (report, partition) in reports.iter_mut().zip(&partitions) {
            if report.verdict != CheckResult::Unknown {
                continue;
            }
            let start = Instant::now();
            match witness::check_witness(model, history, partition, witness) {
                Ok(()) => {
                    report.verdict = CheckResult::Ok;
                    report.method = Method::Witness;
                }
                Err(why) => report.witness_error = Some(why),
            }
            report.time += start.elapsed();
        }
    }
    Report {
        partitions: reports,
        time: started.elapsed(),
    }
}
// ANCHOR_END: check_report

/// Asserts that every interval is ordered and that the partition covers the history once.
fn assert_well_formed<I, O>(history: &[Operation<I, O>], partitions: &[Vec<usize>]) {
    for (i, op) in history.iter().enumerate() {
        assert!(
            op.call_ns <= op.effective_return_ns(),
            "operation {i} returns at {} ns, before its call at {} ns",
            op.return_ns,
            op.call_ns
        );
    }
    let mut covered = vec![0u32; history.len()];
    for &i in partitions.iter().flatten() {
        assert!(
            i < history.len(),
            "the partition names operation {i}, beyond the history"
        );
        covered[i] += 1;
    }
    if let Some(i) = covered.iter().position(|&c| c != 1) {
        panic!(
            "the partition covers operation {i} {} times, not once",
            covered[i]
        );
    }
}
