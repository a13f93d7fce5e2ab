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
    // The same, except that the last read sees "1" after a read that began later saw "2".
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
//! - `Unknown`: the search used up its budget of steps without deciding.
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
    /// The search took `max_steps` steps without deciding.
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
}

// ANCHOR: search
/// Searches for a linearization of the operations `partition` (indexes into `history`),
/// visiting at most `max_steps` events.
pub fn search<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    max_steps: u64,
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
                if seen.insert((placed.clone(), next_state.clone())) {
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
    }
}
// ANCHOR_END: search

}

use std::fmt;

pub use explain::{Explanation, OpSummary, Stuck};
pub use kv::{KvInput, KvModel, KvOutput, KvState};
pub use model::{Model, Operation, Unpartitioned};
pub use render::render_history;
pub use search::Verdict;

/// The default budget: events a search may visit per partition before it gives up.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

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
    let partitions = model.partition(history);
    assert_well_formed(history, &partitions);
    let mut gave_up = false;
    for partition in partitions {
        match search::search(model, history, &partition, max_steps).verdict {
            Verdict::Linearizable => {}
            Verdict::GaveUp => gave_up = true, // a later partition may still be illegal
            Verdict::Illegal { prefix, state } => {
                let explanation = Explanation::new(model, history, &partition, &prefix, &state);
                return CheckResult::Illegal(explanation);
            }
        }
    }
    if gave_up {
        CheckResult::Unknown
    } else {
        CheckResult::Ok
    }
}
// ANCHOR_END: check_with_budget

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
