// GENERATED from code/examples/ch10_linearizability.rs and the `uds` modules coordination::linearizability by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 10 listing: check two small key-value histories for linearizability.
//!
//! playground-bundle: coordination::linearizability
//!
//! Run: `cargo run -p uds --example ch10_linearizability`
use crate::coordination::linearizability::{
    KvInput, KvModel, KvOutput, Operation, check, render_history,
};

/// A put by `client` during `[call_ms, return_ms]`, acknowledged.
fn put(
    client: u64,
    key: &str,
    value: &str,
    call_ms: u64,
    return_ms: u64,
) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Put {
        key: key.into(),
        value: value.into(),
    };
    Operation {
        client,
        input,
        output: Some(KvOutput::Ok),
        call_ns: call_ms * 1_000_000,
        return_ns: return_ms * 1_000_000,
    }
}

/// A get by `client` during `[call_ms, return_ms]` that returned `seen`.
fn get(
    client: u64,
    key: &str,
    seen: Option<&str>,
    call_ms: u64,
    return_ms: u64,
) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Get { key: key.into() };
    let output = Some(KvOutput::Value(seen.map(String::from)));
    Operation {
        client,
        input,
        output,
        call_ns: call_ms * 1_000_000,
        return_ns: return_ms * 1_000_000,
    }
}

// ANCHOR: main
fn main() {
    // Two writes overlap, so either may win; the read that overlaps the second write may
    // see either value. A single copy could have done this.
    let good = vec![
        put(1, "x", "1", 0, 20),
        put(2, "x", "2", 10, 30),
        get(3, "x", Some("1"), 25, 35),
        get(3, "x", Some("2"), 40, 50),
    ];
    // The same, except that a read sees "2" and the next read, which began after it returned,
    // sees "1" again.
    let mut bad = good.clone();
    bad[2] = get(3, "x", Some("2"), 25, 35);
    bad[3] = get(3, "x", Some("1"), 40, 50);

    for (name, history) in [("good", &good), ("bad", &bad)] {
        println!("{name} history:");
        print!("{}", render_history(&KvModel, history));
        println!("verdict: {}", check(&KvModel, history));
    }
}
// ANCHOR_END: main

mod coordination {

pub mod linearizability {
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

pub mod exercise {
//! Exercise: a model for a compare-and-set register.
//!
//! The checker knows nothing about keys and values; everything it knows about an object is in
//! its [`Model`](super::Model). Writing a model for a new object is therefore all it takes to
//! check that object, and this exercise does it for the object consensus is usually explained
//! with: a register holding a number (initially 0) with `read`, `write(v)` and
//! `cas(expected, new)`, which sets the register to `new` and answers `true` if it held
//! `expected`, and otherwise changes nothing and answers `false` (Herlihy, "Wait-free
//! synchronization", TOPLAS 13(1), 1991, shows why this operation is strong enough to build
//! consensus from).
//!
//! Implement `step` in [`starter::CasRegister`]. The claims to make true: two concurrent
//! `cas(0, _)` cannot both succeed; a `cas` that fails while the register held `expected`, with
//! nothing concurrent to change it, is illegal; a `cas` whose outcome is unknown may explain a
//! later read. Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_cas_register -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

/// What a client of the register may ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(u64),
    /// Set the value to `new` if it is `expected`.
    Cas { expected: u64, new: u64 },
}

/// What the register may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// The answer to a read.
    Value(u64),
    /// The answer to a write.
    Ok,
    /// The answer to a compare-and-set: whether it swapped.
    Swapped(bool),
}

/// Your version.
pub mod starter {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        fn step(
            &self,
            _state: &u64,
            _input: &RegisterInput,
            _output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            todo!("the state after the input, or None if the register could not have answered so")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        // ANCHOR: cas_step
        fn step(
            &self,
            state: &u64,
            input: &RegisterInput,
            output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            let (next, answer) = match *input {
                RegisterInput::Read => (*state, RegisterOutput::Value(*state)),
                RegisterInput::Write(v) => (v, RegisterOutput::Ok),
                RegisterInput::Cas { expected, new } if *state == expected => {
                    (new, RegisterOutput::Swapped(true))
                }
                RegisterInput::Cas { .. } => (*state, RegisterOutput::Swapped(false)),
            };
            // The register is deterministic: the only possible answer is `answer`.
            match output {
                Some(seen) if *seen != answer => None,
                _ => Some(next),
            }
        }
        // ANCHOR_END: cas_step
    }
}

}
pub mod explain {
//! Explanations: why a history is not linearizable, in terms a reader can check by hand.
//!
//! "Not linearizable" alone is useless in a failing test. An [`Explanation`] names the
//! partition (for the key-value model, the key), the longest sequence the search managed to
//! build, and the operations that could not come next, each with the model state that refused
//! it. That is the point where every order breaks down, so it is where to start reading the
//! history: typically a read that returned a value the state no longer (or not yet) held.
//!
//! Why the operations listed are exactly the ones refused: the search records its longest
//! sequence the first time it reaches that length. At that moment every candidate for the next
//! place was tried, and any candidate the model accepted would have made a longer sequence
//! (its configuration is new, having never been that long before). So each candidate was refused
//! by the model itself, not pruned, and the state shown is the reason.
//!
//! Candidates are the unplaced operations that no other unplaced operation precedes in real
//! time: those called before the earliest return among the unplaced ones.

use std::fmt;

use super::model::{Model, Operation};

/// One operation, described for a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSummary {
    /// Its index in the history.
    pub index: usize,
    /// The client that issued it.
    pub client: u64,
    /// The model's description, such as `get(x) -> Some("1")`.
    pub text: String,
    /// When it was called.
    pub call_ns: u64,
    /// When it returned; `None` if its outcome is unknown.
    pub return_ns: Option<u64>,
}

impl OpSummary {
    /// Describes `history[index]` with `model`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        index: usize,
    ) -> OpSummary {
        let op = &history[index];
        OpSummary {
            index,
            client: op.client,
            text: model.describe_operation(&op.input, op.output.as_ref()),
            call_ns: op.call_ns,
            return_ns: op.output.as_ref().map(|_| op.return_ns),
        }
    }

    /// Its interval, such as `[30..40 ms]`, or `[30 ms..?]` if its outcome is unknown, in the
    /// largest unit (ms, µs or ns) in which its last known time is at least one.
    pub fn interval(&self) -> String {
        let unit = Unit::for_ns(self.return_ns.unwrap_or(self.call_ns));
        let call = unit.format(self.call_ns);
        match self.return_ns {
            Some(r) => format!("[{call}..{} {}]", unit.format(r), unit.name),
            None => format!("[{call} {}..?]", unit.name),
        }
    }
}

impl fmt::Display for OpSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by client {} {}",
            self.text,
            self.client,
            self.interval()
        )
    }
}

/// A unit of time for explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Its symbol.
    pub name: &'static str,
    /// Nanoseconds per unit.
    pub ns: u64,
    /// Decimal digits of a nanosecond count in one unit: `log10(ns)`.
    pub digits: usize,
}

impl Unit {
    /// Milliseconds, the unit of the book's simulations.
    pub const MS: Unit = Unit {
        name: "ms",
        ns: 1_000_000,
        digits: 6,
    };
    /// Microseconds.
    pub const US: Unit = Unit {
        name: "µs",
        ns: 1_000,
        digits: 3,
    };
    /// Nanoseconds.
    pub const NS: Unit = Unit {
        name: "ns",
        ns: 1,
        digits: 0,
    };

    /// The largest unit in which `ns` is at least one (nanoseconds for zero).
    pub fn for_ns(ns: u64) -> Unit {
        [Unit::MS, Unit::US]
            .into_iter()
            .find(|u| ns >= u.ns)
            .unwrap_or(Unit::NS)
    }

    /// `ns` in this unit, with as many decimals as needed: `30`, `30.5`, `0.001`.
    pub fn format(self, ns: u64) -> String {
        let (whole, frac) = (ns / self.ns, ns % self.ns);
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:0width$}", width = self.digits);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// An operation the search could not place next, and the state that refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The operation.
    pub op: OpSummary,
    /// The model's description of the state it met, such as `x = "2"`.
    pub state: String,
}

// ANCHOR: explanation
/// Why one partition of a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The partition, such as `key "x"`.
    pub partition: String,
    /// How many operations the partition has.
    pub operations: usize,
    /// The longest sequence the model accepted in real-time order, in that order.
    pub prefix: Vec<OpSummary>,
    /// The operations that could not come after `prefix`. Invariant: not empty.
    pub stuck: Vec<Stuck>,
}
// ANCHOR_END: explanation

/// How many operations of the prefix [`Explanation`]'s `Display` shows (the last ones).
pub const SHOWN_PREFIX: usize = 6;

impl Explanation {
    /// The explanation for a search of `partition` that ended with its longest sequence
    /// `prefix` (history indexes), leaving the model in `state`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        partition: &[usize],
        prefix: &[usize],
        state: &M::State,
    ) -> Explanation {
        let unplaced: Vec<usize> = partition
            .iter()
            .copied()
            .filter(|i| !prefix.contains(i))
            .collect();
        let first_return = unplaced
            .iter()
            .map(|&i| history[i].effective_return_ns())
            .min();
        let first_return = first_return.expect("an illegal partition has an unplaced operation");
        let stuck: Vec<Stuck> = unplaced
            .iter()
            .filter(|&&i| history[i].call_ns <= first_return)
            .filter(|&&i| {
                let op = &history[i];
                model.step(state, &op.input, op.output.as_ref()).is_none()
            })
            .map(|&i| Stuck {
                op: OpSummary::new(model, history, i),
                state: model.describe_state(state, &history[i].input),
            })
            .collect();
        assert!(
            !stuck.is_empty(),
            "the longest sequence could have been extended"
        );
        Explanation {
            partition: model.describe_partition(history, partition),
            operations: partition.len(),
            prefix: prefix
                .iter()
                .map(|&i| OpSummary::new(model, history, i))
                .collect(),
            stuck,
        }
    }

    /// The operations named as not placeable, as history indexes.
    pub fn offending(&self) -> Vec<usize> {
        self.stuck.iter().map(|s| s.op.index).collect()
    }
}

// ANCHOR: display
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} is not linearizable.", self.partition)?;
        let placed = self.prefix.len();
        writeln!(
            f,
            "The longest linearizable prefix places {placed} of its {} operations:",
            self.operations
        )?;
        let hidden = placed.saturating_sub(SHOWN_PREFIX);
        if hidden > 0 {
            writeln!(f, "  ... {hidden} earlier operations")?;
        }
        for (k, op) in self.prefix.iter().enumerate().skip(hidden) {
            writeln!(f, "  {}. {op}", k + 1)?;
        }
        if placed == 0 {
            writeln!(f, "  (none)")?;
        }
        writeln!(f, "Nothing can come next:")?;
        for s in &self.stuck {
            write!(f, "  {} cannot be linearized: ", s.op)?;
            match self.prefix.last() {
                None => writeln!(f, "initially, {}", s.state)?,
                Some(last) => {
                    let relation = match last.return_ns {
                        Some(r) if r < s.op.call_ns => "completed before it began",
                        _ => "overlaps it",
                    };
                    let (text, interval) = (&last.text, last.interval());
                    writeln!(f, "after {text} {interval}, which {relation}, {}", s.state)?;
                }
            }
        }
        Ok(())
    }
}
// ANCHOR_END: display

}
pub mod generate {
//! Generated histories of a store that is linearizable by construction, for benches and tests.
//!
//! [`atomic_history`] plays `clients` clients against one map, each issuing its operations one
//! after another on `keys` keys (a third each gets, puts and appends, as the chapter 10 clients
//! do). Every operation takes effect at one instant drawn inside its interval, and the outputs
//! are computed by applying the operations to the map in the order of those instants, so the
//! history is linearizable and the instants are a witness. A fraction `unknown` of operations
//! get no answer (the client gave up after a timeout and moved on): each of those took effect
//! or not, at random, and the history records its outcome as unknown. Written values are
//! unique (`client.seq `), so reads show which writes they saw, in which order.
//!
//! One seed fixes the history. The random numbers come from SplitMix64 (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), written out here so
//! that the module needs nothing beyond std.

use std::collections::BTreeMap;

use super::kv::{KvInput, KvOutput};
use super::model::Operation;
use super::witness::Placement;

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Operations in all.
    pub operations: usize,
    /// Clients, each with one operation in flight at a time.
    pub clients: usize,
    /// Keys, named `k0`, `k1`, ...
    pub keys: usize,
    /// The fraction of operations whose outcome is unknown, in `0.0..=1.0`.
    pub unknown: f64,
    /// The seed.
    pub seed: u64,
}

/// SplitMix64: a tiny, good-enough generator for test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), with a bias below 2^-32 for the sizes used here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const MS: u64 = 1_000_000;

/// A history of `shape`, and the instants at which its operations took effect, as a witness
/// in linearization order (the operations that never took effect left out).
pub fn atomic_history(shape: &Shape) -> (Vec<Operation<KvInput, KvOutput>>, Vec<Placement>) {
    let mut rng = SplitMix(shape.seed);
    let clients = shape.clients.max(1);
    let keys = shape.keys.max(1) as u64;
    // (operation, instant, takes effect), in the history's order: client by client.
    let mut ops: Vec<(Operation<KvInput, KvOutput>, u64, bool)> = Vec::new();
    for client in 0..clients {
        let mine = shape.operations / clients + usize::from(client < shape.operations % clients);
        let mut now = rng.below(5 * MS);
        for seq in 1..=mine {
            let key = format!("k{}", rng.below(keys));
            let value = format!("{client}.{seq} ");
            let input = match rng.below(3) {
                0 => KvInput::Get { key },
                1 => KvInput::Put { key, value },
                _ => KvInput::Append { key, value },
            };
            let took = 1 + rng.below(20 * MS);
            let instant = now + rng.below(took + 1);
            let gave_up = rng.chance(shape.unknown);
            let takes_effect = !gave_up || rng.chance(0.5);
            let op = Operation {
                client: client as u64,
                input,
                output: None, // filled in below
                call_ns: now,
                return_ns: if gave_up { u64::MAX } else { now + took },
            };
            ops.push((op, instant, takes_effect));
            // A client that gave up waited for its timeout, 30 ms, before moving on.
            now += if gave_up { 30 * MS } else { took } + rng.below(5 * MS);
        }
    }
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].2).collect();
    order.sort_by_key(|&i| (ops[i].1, i));
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for &i in &order {
        let op = &mut ops[i].0;
        let output = match &op.input {
            KvInput::Get { key } => KvOutput::Value(store.get(key).cloned()),
            KvInput::Put { key, value } => {
                store.insert(key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Append { key, value } => {
                store.entry(key.clone()).or_default().push_str(value);
                KvOutput::Ok
            }
        };
        if op.return_ns != u64::MAX {
            op.output = Some(output);
        }
    }
    let witness = order.iter().map(|&i| (i, ops[i].1)).collect();
    (ops.into_iter().map(|(op, _, _)| op).collect(), witness)
}

}
pub mod kv {
//! The key-value model: the sequential specification of the replicated store.
//!
//! The object is a map from string keys to string values with three operations, those of the
//! key-value service of MIT 6.5840's labs and of this book's Raft store: `get(k)` answers the
//! current value or none, `put(k, v)` replaces it, and `append(k, v)` concatenates `v` to it
//! (to the empty string when `k` is absent). Writes answer `Ok`.
//!
//! Appends are what make the model a sharp test of a replicated store: a value read after a
//! series of appends spells out the order in which the store applied them, so a lost, duplicated
//! or reordered append shows up in the very next read (Kingsbury's Jepsen tests use lists for
//! the same reason). A put only shows that *some* write won.
//!
//! [`KvModel::partition`] groups operations by key, as Porcupine's key-value model does (Anish
//! Athalye, <https://github.com/anishathalye/porcupine>, `kv.go`): operations on different keys
//! commute, so by locality (Herlihy and Wing 1990, §3.5) each key's sub-history is checked on
//! its own, and the whole history is linearizable if and only if every key's is. The state
//! stays a whole map so that the same model also checks an unpartitioned history
//! ([`super::Unpartitioned`]); within one partition it holds at most one key.

use std::collections::BTreeMap;

use super::model::{Model, Operation};

// ANCHOR: kv_types
/// What a client of the store may ask.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvInput {
    /// Read the value of `key`.
    Get { key: String },
    /// Replace the value of `key` with `value`.
    Put { key: String, value: String },
    /// Concatenate `value` to the value of `key` (to the empty string if `key` is absent).
    Append { key: String, value: String },
}

/// What the store may answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvOutput {
    /// The answer to a get: the value, or `None` if the key is absent.
    Value(Option<String>),
    /// The answer to a put or an append.
    Ok,
}
// ANCHOR_END: kv_types

impl KvInput {
    /// The key this input reads or writes.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }

    /// Whether this input changes the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, KvInput::Get { .. })
    }
}

/// The store's sequential specification, partitioned per key.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// The state of the store: every key that has a value, with it. A `BTreeMap` so that equal
/// maps hash equally whatever the order of insertion.
pub type KvState = BTreeMap<String, String>;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::new()
    }

    // ANCHOR: kv_step
    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        match input {
            KvInput::Get { key } => {
                let current = state.get(key);
                match output {
                    None => Some(state.clone()),
                    Some(KvOutput::Value(seen)) if seen.as_ref() == current => Some(state.clone()),
                    Some(_) => None, // a different value, or `Ok` for a get
                }
            }
            KvInput::Put { .. } | KvInput::Append { .. }
                if output == Some(&KvOutput::Value(None)) =>
            {
                None
            }
            KvInput::Put { key, value } => {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                Some(next)
            }
            KvInput::Append { key, value } => {
                let mut next = state.clone();
                next.entry(key.clone()).or_default().push_str(value);
                Some(next)
            }
        }
    }
    // ANCHOR_END: kv_step

    // ANCHOR: kv_partition
    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }
    // ANCHOR_END: kv_partition

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        let call = match input {
            KvInput::Get { key } => format!("get({key})"),
            KvInput::Put { key, value } => format!("put({key}, {value:?})"),
            KvInput::Append { key, value } => format!("append({key}, {value:?})"),
        };
        match output {
            None => format!("{call} -> ?"),
            Some(KvOutput::Ok) => call,
            Some(KvOutput::Value(Some(v))) => format!("{call} -> Some({v:?})"),
            Some(KvOutput::Value(None)) => format!("{call} -> None"),
        }
    }

    fn describe_state(&self, state: &KvState, input: &KvInput) -> String {
        let key = input.key();
        match state.get(key) {
            Some(value) => format!("{key} = {value:?}"),
            None => format!("{key} is absent"),
        }
    }

    fn describe_partition(
        &self,
        history: &[Operation<KvInput, KvOutput>],
        partition: &[usize],
    ) -> String {
        match partition.first() {
            Some(&i) => format!("key {:?}", history[i].input.key()),
            None => "no key".to_string(),
        }
    }
}

}
pub mod model {
//! Histories and models: what the checker is given.
//!
//! A *history* is what the clients of a concurrent object saw, and nothing more: for every
//! operation, who issued it, what it asked, what came back, and two instants measured by a
//! clock common to all clients (in a simulation, the simulator's clock): when the client
//! *called* the operation and when the *response* reached it (Herlihy and Wing, "Linearizability:
//! a correctness condition for concurrent objects", TOPLAS 12(3), 1990, §2). When the client
//! gave up waiting, the outcome is unknown: the operation may have taken effect, at any instant
//! after its call, or never. Such an operation has `output: None` and `return_ns = u64::MAX`.
//!
//! A *model* is the sequential specification the history is judged against: an initial state
//! and a step function saying which outputs each input may produce from each state. The model
//! is deterministic in the sense the search needs: from a given state, an input with a given
//! output leads to at most one next state. The checker never looks inside a state; it clones,
//! compares and hashes states to remember which configurations it has already explored.
//!
//! A model may also cut a history into independent parts ([`Model::partition`]). That is sound
//! when the parts touch disjoint objects, because linearizability is *local*: a history is
//! linearizable if and only if its restriction to each object is (Herlihy and Wing 1990, §3.5,
//! Theorem 1). Checking `k` keys separately turns one search over `n` operations into `k`
//! searches over about `n / k` each, which matters because the search is exponential in the
//! number of mutually concurrent operations.

use std::fmt::Debug;
use std::hash::Hash;

// ANCHOR: operation
/// One operation as a client saw it. Times are nanoseconds on a clock shared by all clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client that issued the operation (for explanations only; the checker does not
    /// assume that a client has one operation in flight at a time).
    pub client: u64,
    /// What the client asked for.
    pub input: I,
    /// What came back; `None` if the client gave up, so that the outcome is unknown.
    pub output: Option<O>,
    /// When the client issued the operation. Invariant: `call_ns <= return_ns`.
    pub call_ns: u64,
    /// When the response reached the client; `u64::MAX` when `output` is `None`.
    pub return_ns: u64,
}
// ANCHOR_END: operation

impl<I, O> Operation<I, O> {
    /// The instant after which the operation can no longer take effect: its return, or never
    /// for an operation whose outcome is unknown (whatever `return_ns` says).
    pub fn effective_return_ns(&self) -> u64 {
        if self.output.is_none() {
            u64::MAX
        } else {
            self.return_ns
        }
    }

    /// Whether this operation finished before `other` began: then every linearization must
    /// order it first (the real-time order of Herlihy and Wing 1990, §2). Operations whose
    /// intervals touch (`return == call`) count as concurrent, the lenient choice for clocks
    /// that tick in coarse steps.
    pub fn precedes<J, P>(&self, other: &Operation<J, P>) -> bool {
        self.effective_return_ns() < other.call_ns
    }
}

// ANCHOR: model
/// A sequential specification: the object as if it served one operation at a time.
pub trait Model {
    /// The object's state. `Hash + Eq` because the search memoises visited states.
    type State: Clone + Eq + Hash + Debug;
    /// What a client may ask.
    type Input: Debug;
    /// What the object may answer.
    type Output: Debug + Eq;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after applying `input` to `state`, if the object could have answered
    /// `output`; `None` if that answer is impossible from `state`. With `output = None` (an
    /// operation whose outcome is unknown) any answer is accepted.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Groups of operation indexes (into `history`) that touch disjoint parts of the state and
    /// can be checked independently. Every index must appear in exactly one group. The default
    /// is a single group holding the whole history.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// A short human description of one operation, such as `get(x) -> Some("1")`.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        match output {
            Some(output) => format!("{input:?} -> {output:?}"),
            None => format!("{input:?} -> ?"),
        }
    }

    /// The part of `state` that `input` reads or writes, such as `x = "2"`, for explanations.
    fn describe_state(&self, state: &Self::State, _input: &Self::Input) -> String {
        format!("the state is {state:?}")
    }

    /// A name for one group of [`Model::partition`], such as `key "x"`.
    fn describe_partition(
        &self,
        _history: &[Operation<Self::Input, Self::Output>],
        _partition: &[usize],
    ) -> String {
        "the whole history".to_string()
    }
}
// ANCHOR_END: model

/// `M` with partitioning switched off: the whole history is searched as one. Only useful to
/// show that partitioning does not change a verdict, and how much time it saves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unpartitioned<M>(pub M);

impl<M: Model> Model for Unpartitioned<M> {
    type State = M::State;
    type Input = M::Input;
    type Output = M::Output;

    fn init(&self) -> Self::State {
        self.0.init()
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        self.0.step(state, input, output)
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        self.0.describe_operation(input, output)
    }

    fn describe_state(&self, state: &Self::State, input: &Self::Input) -> String {
        self.0.describe_state(state, input)
    }
}
}
pub mod render {
//! A history as text: one line per operation, with its interval drawn on a shared time axis.
//!
//! Linearizability is about how intervals overlap, which is hard to see in a list of numbers
//! and easy to see in a picture. [`render_history`] draws each operation as a bar `[====]`
//! from its call to its return, scaled so that the whole history spans [`BAR_WIDTH`] columns;
//! an operation whose outcome is unknown runs off the right edge (`[====>`). Operations are
//! listed by call time, so the picture reads top to bottom as the history unfolded.
//!
//! The scale is linear and coarse: two events closer than one column apart share a column, so
//! the bar shows the shape of the history and the interval printed beside it the exact times.

use super::explain::OpSummary;
use super::model::{Model, Operation};

/// The width of the time axis, in columns.
pub const BAR_WIDTH: usize = 40;

// ANCHOR: render_history
/// The history, one line per operation in call order: client, bar, description, interval.
pub fn render_history<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> String {
    let start = history.iter().map(|op| op.call_ns).min().unwrap_or(0);
    let known_returns = history
        .iter()
        .filter(|op| op.output.is_some())
        .map(|op| op.return_ns);
    let calls = history.iter().map(|op| op.call_ns);
    let end = known_returns.chain(calls).max().unwrap_or(0);
    let span = (end - start).max(1);
    let column = |t: u64| -> usize {
        let t = t.clamp(start, end) - start;
        // u128: `t * (BAR_WIDTH - 1)` may overflow u64 for times near u64::MAX.
        (u128::from(t) * (BAR_WIDTH as u128 - 1) / u128::from(span)) as usize
    };
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| (history[i].call_ns, i));
    let mut out = String::new();
    for i in order {
        let op = &history[i];
        let summary = OpSummary::new(model, history, i);
        let from = column(op.call_ns).min(BAR_WIDTH - 2); // room for the closing bracket
        let mut bar = vec![' '; BAR_WIDTH];
        bar[from] = '[';
        match op.output {
            Some(_) => {
                let to = column(op.return_ns).max(from + 1).min(BAR_WIDTH - 1);
                bar[from + 1..to].fill('=');
                bar[to] = ']';
            }
            None => {
                bar[from + 1..].fill('=');
                bar[BAR_WIDTH - 1] = '>';
            }
        }
        let bar: String = bar.into_iter().collect();
        let (client, text, interval) = (op.client, &summary.text, summary.interval());
        out += &format!("client {client:<3} |{bar}| {text} {interval}\n");
    }
    out
}
// ANCHOR_END: render_history
}
pub mod report {
//! Reports: what the checker decided about each partition, how, and at what cost.
//!
//! [`super::check`] answers one word for the whole history; [`super::check_report`] answers a
//! [`Report`] with one line per partition (for the key-value model, per key): its verdict, the
//! [`Method`] that decided it, the steps and memoised configurations the search used over all
//! its rounds, and the time spent. A violation keeps its [`Explanation`]; a witness that failed
//! keeps the operation that broke it ([`WitnessError`]). Steps and configurations are
//! deterministic; times are not, so tables meant to be regenerated byte for byte use
//! [`Report::table`] without them.

use std::fmt;
use std::time::Duration;

use super::CheckResult;
use super::witness::WitnessError;

/// How a partition's verdict was reached, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// The search decided it (linearizable or not).
    Search,
    /// The search gave up, and the witness proved it linearizable.
    Witness,
    /// Undecided: the search used its whole budget of steps (and no witness explained it).
    UnknownBudget,
    /// Undecided: the search reached the cap on memoised configurations (and no witness
    /// explained it).
    UnknownMemory,
    /// Not finished: another partition was found illegal first, which decides the history.
    Skipped,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Method; 5] = [
        Method::Search,
        Method::Witness,
        Method::UnknownBudget,
        Method::UnknownMemory,
        Method::Skipped,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Search => "search",
            Method::Witness => "witness",
            Method::UnknownBudget => "unknown-budget",
            Method::UnknownMemory => "unknown-memory",
            Method::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: partition_report
/// What the checker found about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionReport {
    /// The partition, such as `key "x"`.
    pub partition: String,
    /// How many operations it has.
    pub operations: usize,
    /// Its verdict: `Ok`, `Illegal` with the explanation, or `Unknown`.
    pub verdict: CheckResult,
    /// How the verdict was reached.
    pub method: Method,
    /// Events the search visited, over all its rounds.
    pub steps: u64,
    /// The most configurations one round of the search memoised (its memory, in entries).
    pub configurations: usize,
    /// Rounds of iterative deepening the search took part in.
    pub rounds: u32,
    /// Time spent on this partition (search and witness).
    pub time: Duration,
    /// When a witness was tried and failed: why.
    pub witness_error: Option<WitnessError>,
}
// ANCHOR_END: partition_report

/// What the checker found about a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// One entry per partition, in the model's partition order.
    pub partitions: Vec<PartitionReport>,
    /// Time for the whole check.
    pub time: Duration,
}

impl Report {
    /// The verdict for the whole history: illegal if some partition is, else unknown if some
    /// partition is undecided, else linearizable (locality, Herlihy and Wing 1990, §3.5).
    pub fn result(&self) -> CheckResult {
        let illegal = self
            .partitions
            .iter()
            .find(|p| matches!(p.verdict, CheckResult::Illegal(_)));
        match illegal {
            Some(p) => p.verdict.clone(),
            None if self.partitions.iter().all(|p| p.verdict == CheckResult::Ok) => CheckResult::Ok,
            None => CheckResult::Unknown,
        }
    }

    /// How many partitions `method` decided (or left undecided).
    pub fn count(&self, method: Method) -> usize {
        self.partitions
            .iter()
            .filter(|p| p.method == method)
            .count()
    }

    /// Steps over all partitions.
    pub fn steps(&self) -> u64 {
        self.partitions.iter().map(|p| p.steps).sum()
    }

    /// The report as a table, one row per partition; with times if `times`. Rows are at most
    /// 100 characters for partition names of up to 16.
    pub fn table(&self, times: bool) -> String {
        let mut out = format!(
            "{:<16} {:>6} {:<12} {:<14} {:>11} {:>9} {:>6}",
            "partition", "ops", "verdict", "method", "steps", "configs", "rounds"
        );
        out += if times { "   time ms\n" } else { "\n" };
        for p in &self.partitions {
            let verdict = match p.verdict {
                CheckResult::Ok => "linearizable",
                CheckResult::Illegal(_) => "ILLEGAL",
                CheckResult::Unknown => "unknown",
            };
            out += &format!(
                "{:<16} {:>6} {:<12} {:<14} {:>11} {:>9} {:>6}",
                p.partition, p.operations, verdict, p.method, p.steps, p.configurations, p.rounds
            );
            if times {
                out += &format!(" {:>9.3}", p.time.as_secs_f64() * 1e3);
            }
            out += "\n";
        }
        out
    }
}

impl fmt::Display for Report {
    /// The table with times, then every violation's explanation and every failed witness.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table(true))?;
        for p in &self.partitions {
            if let CheckResult::Illegal(e) = &p.verdict {
                write!(f, "{e}")?;
            }
            if let Some(why) = &p.witness_error {
                writeln!(f, "{}: the witness fails: {why}", p.partition)?;
            }
        }
        let verdict = match self.result() {
            CheckResult::Ok => "linearizable",
            CheckResult::Illegal(_) => "not linearizable",
            CheckResult::Unknown => "unknown",
        };
        writeln!(
            f,
            "{verdict}: {} steps in {:.3} ms",
            self.steps(),
            self.time.as_secs_f64() * 1e3
        )
    }
}
}
pub mod search {
//! The search: Wing and Gong's backtracking, with Lowe's memoisation.
//!
//! A history is linearizable if its operations can be put in one sequence that (1) the model
//! accepts and (2) respects real time: an operation that returned before another was called
//! comes first (Herlihy and Wing 1990, §2). Wing and Gong find such a sequence by search
//! ("Testing and verifying concurrent objects", J. Parallel Distrib. Comput. 17, 1993):
//!
//! 1. Lay the history out as a list of *events*, every call and every return, in time order.
//! 2. Walk the list from the front. At a *call*, try to linearize its operation next: if the
//!    model accepts it from the current state, record the choice on a stack, take its call and
//!    return out of the list, and start again from the front. If not, move on to the next event.
//! 3. At a *return*, stop: that operation returned, so it must come before every operation
//!    called later, and every operation that may come before it has been tried. Undo the last
//!    choice (pop the stack, put its events back) and try the event after the undone call.
//! 4. An empty list means every operation found a place: linearizable. A return with nothing
//!    to undo means no order works: not linearizable.
//!
//! Step 2 only considers operations whose call precedes the first return still in the list:
//! exactly those that no unplaced operation precedes in real time. So every sequence the search
//! builds respects real time, and the search tries them all.
//!
//! The search is exponential: `k` mutually concurrent operations can be ordered `k!` ways.
//! Lowe's improvement ("Testing for linearizability", Concurrency and Computation: Practice and
//! Experience 29(4), 2017) is to remember every *configuration* reached, the set of
//! operations linearized so far (a bitset) together with the model state after them. Two
//! different orders of the same operations that leave the same state have the same future, so
//! the second is pruned. Writes that overwrite each other collapse this way: `n` concurrent puts
//! reach at most `2^n * n` configurations, not `n!` orders. Porcupine (Anish Athalye,
//! <https://github.com/anishathalye/porcupine>) implements the same algorithm; this module
//! follows its structure, a doubly linked list whose entries are unlinked and relinked in place
//! as in Knuth's dancing links.
//!
//! Operations whose outcome is unknown are called at their call time and "return" at
//! `u64::MAX`, so they may be placed anywhere after their call. They need not be placed at all:
//! an operation that never took effect is as good as absent, so the search succeeds as soon as
//! every operation with a known outcome is placed, and an operation with unknown outcome that
//! would leave the state as it is (a read that timed out) is never placed at all.
//!
//! Unknown outcomes are the expensive part of a history. Each write whose outcome is unknown
//! may be placed at any point after its call or not at all, and the configurations multiply
//! accordingly: a history that is *not* linearizable, with a dozen timed-out writes to one
//! key, can exhaust any reasonable budget, because the search must rule out every choice.
//!
//! A search that takes more than `max_steps` steps (one step is one event visited) gives up
//! with [`Verdict::GaveUp`], so that a pathological history costs a bounded amount of time.
//! One that would remember more than `max_configurations` configurations gives up too, with
//! [`Search::out_of_memory`] set, so that it costs a bounded amount of memory as well: the memo
//! table is the only structure that grows with the work done (the stack and the list grow with
//! the history). A step adds at most one configuration, so a search within a budget of `s` steps
//! never holds more than `s`; the cap matters for searches allowed many more steps than fit in
//! memory. [`super::check_report`] turns either into "unknown" for that partition.
//!
//! Simplification: the search keeps the longest sequence it ever built, which is what an
//! explanation shows. It does not minimise the history (Lowe's "just-in-time" linearization and
//! Porcupine's visualisation go further).

use std::collections::HashSet;

use super::model::{Model, Operation};

/// A set of operation indexes, one bit each: the first half of a configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// No entry: the end of the list, or no neighbour.
const NIL: usize = usize::MAX;

/// The history as a doubly linked list of events, with a head sentinel.
struct Events {
    /// For entry `e`, the local index of its operation.
    op: Vec<usize>,
    /// Whether entry `e` is a call (else a return).
    is_call: Vec<bool>,
    /// For a call entry, its matching return entry.
    partner: Vec<usize>,
    /// Links. Invariant: for every linked `e`, `next[prev[e]] == e` and, if `next[e] != NIL`,
    /// `prev[next[e]] == e`. The head sentinel is entry `HEAD` and is never unlinked.
    prev: Vec<usize>,
    /// See `prev`.
    next: Vec<usize>,
}

/// The head sentinel's entry.
const HEAD: usize = 0;

impl Events {
    /// The events of `ops` in time order. At equal times calls come first, so that operations
    /// whose intervals touch count as concurrent (see [`Operation::precedes`]).
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Events {
        // (time, 0 for a call / 1 for a return, local op index)
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            order.push((op.call_ns, 0, i));
            order.push((op.effective_return_ns(), 1, i));
        }
        order.sort_unstable();
        let n = order.len() + 1; // entry 0 is the head
        let mut events = Events {
            op: vec![NIL; n],
            is_call: vec![false; n],
            partner: vec![NIL; n],
            prev: (0..n).map(|e| e.wrapping_sub(1)).collect(),
            next: (1..=n).map(|e| if e == n { NIL } else { e }).collect(),
        };
        let mut call_entry = vec![NIL; ops.len()];
        for (k, &(_, kind, i)) in order.iter().enumerate() {
            let e = k + 1;
            events.op[e] = i;
            events.is_call[e] = kind == 0;
            if kind == 0 {
                call_entry[i] = e;
            } else {
                events.partner[call_entry[i]] = e;
            }
        }
        events
    }

    /// Takes call entry `call` and its return out of the list.
    fn lift(&mut self, call: usize) {
        for e in [call, self.partner[call]] {
            let (p, n) = (self.prev[e], self.next[e]);
            self.next[p] = n;
            if n != NIL {
                self.prev[n] = p;
            }
        }
    }

    /// Puts back what [`Events::lift`] took out; the reverse of the last unmatched lift.
    fn unlift(&mut self, call: usize) {
        for e in [self.partner[call], call] {
            let (p, n) = (self.prev[e], self.next[e]);
            self.next[p] = e;
            if n != NIL {
                self.prev[n] = e;
            }
        }
    }
}

/// What the search concluded about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<S> {
    /// Every operation with a known outcome found a place.
    Linearizable,
    /// No order works. `prefix` is the longest sequence of history indexes the model accepted
    /// in real-time order, and `state` the model state after it.
    Illegal { prefix: Vec<usize>, state: S },
    /// The search took `max_steps` steps, or reached `max_configurations` configurations
    /// ([`Search::out_of_memory`]), without deciding.
    GaveUp,
}

/// A verdict and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search<S> {
    /// The verdict.
    pub verdict: Verdict<S>,
    /// Events visited.
    pub steps: u64,
    /// Configurations (set of operations, state) memoised.
    pub configurations: usize,
    /// Whether the search gave up because it reached its cap on configurations.
    pub out_of_memory: bool,
}

/// Searches for a linearization of the operations `partition` (indexes into `history`),
/// visiting at most `max_steps` events, with no cap on memory but the one `max_steps` implies.
pub fn search<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    max_steps: u64,
) -> Search<M::State> {
    search_bounded(model, history, partition, max_steps, usize::MAX)
}

// ANCHOR: search
/// Searches for a linearization of the operations `partition` (indexes into `history`),
/// visiting at most `max_steps` events and remembering at most `max_configurations`.
pub fn search_bounded<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    max_steps: u64,
    max_configurations: usize,
) -> Search<M::State> {
    let ops: Vec<&Operation<M::Input, M::Output>> =
        partition.iter().map(|&i| &history[i]).collect();
    let mut events = Events::new(&ops);
    let mut unplaced_known = ops.iter().filter(|op| op.output.is_some()).count();
    let mut placed = BitSet::new(ops.len());
    let mut seen: HashSet<(BitSet, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new(); // (call entry, state before it)
    let mut state = model.init();
    let mut longest: (Vec<usize>, M::State) = (Vec::new(), state.clone());
    let mut entry = events.next[HEAD];
    let mut steps = 0;
    while unplaced_known > 0 {
        if steps == max_steps {
            return Search {
                verdict: Verdict::GaveUp,
                steps,
                configurations: seen.len(),
                out_of_memory: false,
            };
        }
        steps += 1;
        assert!(
            entry != NIL,
            "walked past the last return with operations unplaced"
        );
        let op = events.op[entry];
        if events.is_call[entry] {
            let (input, output) = (&ops[op].input, ops[op].output.as_ref());
            let next = model.step(&state, input, output);
            // An operation with unknown outcome that would not change the state (a read that
            // timed out) never needs a place: leaving it out can only leave more options.
            let useless = output.is_none() && next.as_ref() == Some(&state);
            if let Some(next_state) = next.filter(|_| !useless) {
                placed.insert(op);
                let configuration = (placed.clone(), next_state.clone());
                if seen.len() >= max_configurations && !seen.contains(&configuration) {
                    return Search {
                        verdict: Verdict::GaveUp,
                        steps,
                        configurations: seen.len(),
                        out_of_memory: true,
                    };
                }
                if seen.insert(configuration) {
                    // A new configuration: place the operation and start again from the front.
                    stack.push((entry, std::mem::replace(&mut state, next_state)));
                    events.lift(entry);
                    unplaced_known -= usize::from(ops[op].output.is_some());
                    if stack.len() > longest.0.len() {
                        let prefix = stack.iter().map(|&(e, _)| partition[events.op[e]]);
                        longest = (prefix.collect(), state.clone());
                    }
                    entry = events.next[HEAD];
                    continue;
                }
                placed.remove(op); // explored before, from another order: prune
            }
            entry = events.next[entry];
        } else {
            // A return: its operation must come before everything called later. Backtrack.
            let Some((call, previous)) = stack.pop() else {
                let (prefix, state) = longest;
                return Search {
                    verdict: Verdict::Illegal { prefix, state },
                    steps,
                    configurations: seen.len(),
                    out_of_memory: false,
                };
            };
            let undone = events.op[call];
            placed.remove(undone);
            state = previous;
            events.unlift(call);
            unplaced_known += usize::from(ops[undone].output.is_some());
            entry = events.next[call];
        }
    }
    Search {
        verdict: Verdict::Linearizable,
        steps,
        configurations: seen.len(),
        out_of_memory: false,
    }
}
// ANCHOR_END: search

}
pub mod witness {
//! Witnesses: checking a proposed linearization instead of searching for one.
//!
//! The search of [`super::search`] must rule out, or find, an order of the operations; a
//! *witness* is an order someone else proposes, with the instant at which each operation took
//! effect. Checking it costs one pass over the history, whatever its shape, because the hard
//! part (which order, and which operations with unknown outcome took effect at all) is given.
//! A system that knows when each operation took effect can supply one: in Raft, the instant a
//! command's log entry was first committed (`raft/witness.rs`).
//!
//! [`verify`] accepts a witness for one partition when:
//!
//! 1. every operation it places lies within its interval: at or after its call and at or before
//!    its return (an operation whose outcome is unknown has no return: anywhere after its call);
//! 2. the placements are in order of their instants (ties keep the order given);
//! 3. the model accepts the operations in that order, each known output matching the model's;
//! 4. every operation with a known outcome is placed, once. An operation with unknown outcome
//!    may be left out: it never took effect.
//!
//! Then the witness *is* a linearization (Herlihy and Wing 1990, §2): (3) is the sequential
//! specification, and (1) and (2) give real time, because an operation that returned before
//! another was called has a strictly earlier instant. So an accepted witness proves the
//! partition linearizable, however it was obtained, even from a buggy system. A rejected one
//! proves nothing about the history (another order may work), and the checker reports the
//! partition as unknown, with the reason ([`WitnessError`]) naming the operation that broke it.
//!
//! Reads need no place in Raft's log when they are served by ReadIndex or a lease, so a witness
//! may leave out operations that do not change the state. [`fit_reads`] puts each at the first
//! instant of its interval where the state it read held, which is exact for such operations:
//! given the order of the writes, a read is explained if and only if some instant of its
//! interval sees its answer.

use std::fmt;

use super::explain::OpSummary;
use super::model::{Model, Operation};

/// One operation placed by a witness: its index in the history and the instant (on the
/// history's clock) at which it took effect.
pub type Placement = (usize, u64);

// ANCHOR: witness_error
/// Why a witness does not explain a partition: the first operation that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessError {
    /// Placed at an instant outside its interval.
    OutsideInterval { op: OpSummary, at_ns: u64 },
    /// Placed at an instant earlier than the placement before it.
    OutOfOrder {
        op: OpSummary,
        at_ns: u64,
        previous_ns: u64,
    },
    /// Placed twice.
    PlacedTwice { op: OpSummary },
    /// The model refuses it (or its answer) in the state the operations before it left.
    Refused { op: OpSummary, state: String },
    /// Its outcome is known, so it took effect, but the witness gives it no place.
    Unplaced { op: OpSummary },
}
// ANCHOR_END: witness_error

impl fmt::Display for WitnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WitnessError::OutsideInterval { op, at_ns } => {
                write!(f, "{op} is placed at {at_ns} ns, outside its interval")
            }
            WitnessError::OutOfOrder {
                op,
                at_ns,
                previous_ns,
            } => write!(
                f,
                "{op} is placed at {at_ns} ns, before the previous placement at {previous_ns} ns"
            ),
            WitnessError::PlacedTwice { op } => write!(f, "{op} is placed twice"),
            WitnessError::Refused { op, state } => {
                write!(f, "{op} is refused by the model where {state}")
            }
            WitnessError::Unplaced { op } => {
                write!(f, "{op} has a known outcome but no place")
            }
        }
    }
}

// ANCHOR: verify
/// Whether `order` (placements of operations of `partition`, in order) is a linearization of
/// `partition`; if not, which operation broke it.
pub fn verify<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    order: &[Placement],
) -> Result<(), WitnessError> {
    let summary = |i: usize| OpSummary::new(model, history, i);
    let mut placed = vec![false; history.len()];
    let mut state = model.init();
    let mut previous_ns = 0;
    for &(i, at_ns) in order {
        let op = &history[i];
        if placed[i] {
            return Err(WitnessError::PlacedTwice { op: summary(i) });
        }
        placed[i] = true;
        if at_ns < op.call_ns || at_ns > op.effective_return_ns() {
            return Err(WitnessError::OutsideInterval {
                op: summary(i),
                at_ns,
            });
        }
        if at_ns < previous_ns {
            let op = summary(i);
            return Err(WitnessError::OutOfOrder {
                op,
                at_ns,
                previous_ns,
            });
        }
        previous_ns = at_ns;
        match model.step(&state, &op.input, op.output.as_ref()) {
            Some(next) => state = next,
            None => {
                let state = model.describe_state(&state, &op.input);
                return Err(WitnessError::Refused {
                    op: summary(i),
                    state,
                });
            }
        }
    }
    match partition
        .iter()
        .find(|&&i| !placed[i] && history[i].output.is_some())
    {
        Some(&i) => Err(WitnessError::Unplaced { op: summary(i) }),
        None => Ok(()),
    }
}
// ANCHOR_END: verify

/// The placements of `witness` (over the whole history) that belong to `partition`, in their
/// order, completed with the operations of `partition` that it leaves out, have a known
/// outcome and leave the state as it is (reads): each at the first instant of its interval
/// where the model accepts its answer. Operations that fit nowhere stay out, for [`verify`] to
/// report. Placements beyond the history are dropped.
pub fn fit_reads<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    witness: &[Placement],
) -> Vec<Placement> {
    let mut member = vec![false; history.len()];
    for &i in partition {
        member[i] = true;
    }
    let placed: Vec<Placement> = witness
        .iter()
        .copied()
        .filter(|&(i, _)| i < history.len() && member[i])
        .collect();
    let mut is_placed = vec![false; history.len()];
    for &(i, _) in &placed {
        is_placed[i] = true;
    }
    // states[j]: the state after the first j placements, as long as the model accepts them.
    let mut states = vec![model.init()];
    for &(i, _) in &placed {
        let op = &history[i];
        let before = states.last().expect("starts with the initial state");
        match model.step(before, &op.input, op.output.as_ref()) {
            Some(next) => states.push(next),
            None => break,
        }
    }
    // (segment, instant, operation): the operation goes after placement segment - 1.
    let mut fitted: Vec<(usize, u64, usize)> = Vec::new();
    for &i in partition {
        let op = &history[i];
        if is_placed[i] || op.output.is_none() {
            continue;
        }
        for (j, state) in states.iter().enumerate() {
            let from = if j == 0 { 0 } else { placed[j - 1].1 };
            let to = placed.get(j).map_or(u64::MAX, |p| p.1);
            let at = op.call_ns.max(from);
            if from > op.return_ns {
                break;
            }
            if at > to.min(op.return_ns) {
                continue;
            }
            if model.step(state, &op.input, op.output.as_ref()).as_ref() == Some(state) {
                fitted.push((j, at, i));
                break;
            }
        }
    }
    fitted.sort_unstable();
    let mut order = Vec::with_capacity(placed.len() + fitted.len());
    let mut fitted = fitted.into_iter().peekable();
    for j in 0..=placed.len() {
        while let Some((_, at, i)) = fitted.next_if(|f| f.0 == j) {
            order.push((i, at));
        }
        order.extend(placed.get(j));
    }
    order
}

/// Checks `partition` against `witness` (placements over the whole history, in order), with
/// unplaced reads fitted by [`fit_reads`].
pub fn check_witness<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    witness: &[Placement],
) -> Result<(), WitnessError> {
    let order = fit_reads(model, history, partition, witness);
    verify(model, history, partition, &order)
}
}

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
}
}
