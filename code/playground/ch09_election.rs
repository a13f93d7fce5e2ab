// GENERATED from code/examples/ch09_election.rs and the `uds` modules sim, coordination::linearizability, coordination::raft by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 9 listing: five Raft servers elect a leader, lose it, and elect another; then a
//! partition shows that only a majority can elect.
//!
//! playground-bundle: sim coordination::linearizability coordination::raft
//!
//! Run: `cargo run -p uds --example ch09_election`
use std::time::Duration;

use crate::coordination::raft::Role;
use crate::coordination::raft::cluster::{self, Cluster, KvNode};
use crate::coordination::raft::server::Config;
use crate::sim::{Fault, LinkConfig, NodeId, Sim, Time};

// ANCHOR: main
fn main() {
    let shape = Cluster {
        servers: 5,
        clients: 0,
        // The paper's election: without PreVote ("Raft in practice"), which would keep the
        // partitioned servers below from ever becoming candidates.
        config: Config {
            pre_vote: false,
            ..Config::default() // election timeouts 150-300 ms, heartbeats every 50 ms
        },
        ..Cluster::default()
    };
    let link = LinkConfig::constant(Duration::from_millis(5));
    let mut sim = shape.build(3, link).expect("a valid configuration");

    watch(&mut sim, Time::from_millis(1_000));
    let (leader, _) = cluster::leaders(&sim)[0];
    println!("{}: crash {leader}", at(&sim));
    sim.apply(Fault::Crash(leader));
    watch(&mut sim, Time::from_millis(2_000));

    // Cut the four survivors two against two: neither side has three of five votes.
    let up: Vec<NodeId> = (0..5).map(NodeId).filter(|&n| n != leader).collect();
    let (a, b) = (up[..2].to_vec(), up[2..].to_vec());
    println!("{}: partition {} | {}", at(&sim), names(&a), names(&b));
    sim.apply(Fault::Partition(a, b));
    watch(&mut sim, Time::from_millis(4_000));
    println!("{}: heal", at(&sim));
    sim.apply(Fault::Heal);
    watch(&mut sim, Time::from_millis(5_000));
}

/// Runs until `until`, printing every server whose role changes (followers' terms are left
/// out: they follow whoever leads).
fn watch(sim: &mut Sim<KvNode>, until: Time) {
    let mut last: Vec<String> = (0..5).map(|i| describe(sim, NodeId(i))).collect();
    while sim.now() < until {
        if let Err(violation) = sim.step() {
            panic!("Raft's invariants: {violation}");
        }
        for (i, seen) in last.iter_mut().enumerate() {
            let now = describe(sim, NodeId(i));
            if now != *seen {
                println!("{}: n{i} {now}", at(sim));
                *seen = now;
            }
        }
    }
}

/// The simulated time, in milliseconds.
fn at(sim: &Sim<KvNode>) -> String {
    format!("{:5.0} ms", sim.now().as_millis_f64())
}

/// "n0,n1".
fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(NodeId::to_string).collect();
    names.join(",")
}

/// "leads term 3", "stands for election in term 4", "follows" or "is down".
fn describe(sim: &Sim<KvNode>, id: NodeId) -> String {
    let Some(s) = cluster::server(sim, id) else {
        return "is down".into();
    };
    match s.role() {
        Role::Leader => format!("leads term {}", s.current_term()),
        Role::Candidate => format!("stands for election in term {}", s.current_term()),
        Role::Follower => "follows".into(),
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

pub mod raft {
//! Chapters 9 and 10: Raft, leader election and a replicated key-value store on top of it.
//!
//! Raft (Diego Ongaro and John Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", USENIX ATC 2014) keeps a log replicated on a cluster of servers so that every
//! server applies the same commands in the same order, while a minority of servers may crash,
//! restart, pause or be cut off, and messages may be lost, duplicated, delayed and reordered.
//! Its guarantee is *state machine safety* (§5.4.3): if a server has applied the entry at some
//! index, no server ever applies a different entry at that index. It is live only while a
//! majority can talk to each other with delays well below the election timeout (§5.6).
//!
//! The algorithm splits into three parts, and so does this module:
//!
//! - **Leader election** (§5.2, [`election`]): one leader per term, chosen by a majority vote,
//!   with randomised timeouts against split votes and the election restriction (§5.4.1) so that
//!   only a server holding every committed entry can win. Chapter 9 reads this part alone.
//! - **Log replication** (§5.3, [`replication`]): the leader appends commands and brings every
//!   follower's log in line with its own; an entry of the leader's term stored on a majority is
//!   committed (§5.4.2).
//! - **Safety** (§5.4, [`invariants`]): the properties of the paper's Figure 3, checked by the
//!   simulator after every event of every test and campaign run.
//!
//! On top sits a key-value store ([`kv`]) with sessions that apply a client's retried command
//! once (§8), and clients ([`client`]) that find the leader, retry on timeouts, and record a
//! history for the linearizability checker of chapter 10.
//!
//! Layout: [`log`] (terms, indexes, entries), [`rules`] (the pure counting rules: `majority`,
//! `commit_index`, `is_log_up_to_date`), [`message`], [`server`] (state, roles, timers,
//! persistence), [`election`], [`replication`], [`kv`], [`client`], [`cluster`] (servers and
//! clients as one simulator process, and a run builder), [`invariants`], [`history`], and
//! [`chaos`] (one seed of the campaign: nemesis, hostile network, liveness and linearizability),
//! [`time_to_elect`] (one trial of the chapter 9 experiment), [`witness`] (each command at its
//! first commit, a linearization the checker verifies where its search gives up).
//!
//! Like every protocol in this book the server is a sans-I/O state machine: time comes from
//! `ctx.now()`, randomness from `ctx.rng()`, and effects are messages and timers.
//!
//! Beyond the paper's core, as production Raft implementations do (chapter 10's "Raft in
//! practice" page): durable state as an explicit effect written before any message that
//! depends on it is sent ([`storage`]), snapshots and log compaction with `InstallSnapshot`
//! (§7, [`snapshot`]), CheckQuorum and PreVote (Ongaro's thesis §6.2 and §9.6, [`leadership`]),
//! ReadIndex and lease reads and proposal batching (thesis §6.4, [`reads`]), and a witness of
//! linearizability built from the commit log ([`witness`]). Simplification: a fixed membership
//! (no §6 reconfiguration). Everything uses only std and `rand`, so that the runnable listings
//! can be bundled for the Rust playground.

pub mod chaos {
//! One chaos run: a Raft cluster under a random nemesis and a hostile network, then judged.
//!
//! This is the unit of the chapter 10 campaign (`code/tests/part2/ch10_raft_campaign.rs`). One seed
//! fixes everything: the nemesis's schedule of crashes, restarts, pauses and partitions among
//! the servers, every lost, duplicated and reordered message, every election timeout, and every
//! client operation. A run has three phases:
//!
//! 1. **Chaos** (`0..chaos`): clients issue operations while the nemesis strikes. The four
//!    safety invariants of [`invariants`](super::invariants) are checked after every event.
//! 2. **Calm** (`chaos..chaos + calm`): every fault has been repaired (the nemesis guarantees
//!    it); the network still loses, duplicates and reorders. A majority is up and connected, so
//!    Raft must make progress: every client must finish, and the cluster must answer the last
//!    operation of each (liveness, §5.6). Clients may give up on operations during the chaos.
//! 3. **Judgement**: the clients' histories, unknown outcomes included, go to the
//!    linearizability checker with the key-value model.
//!
//! Any failure is returned as text naming the seed's run; the campaign prints the replay command.

use std::time::Duration;

use super::cluster::{self, Cluster, KvNode};
use super::server::Config;
use super::witness;
use crate::coordination::linearizability::{CheckResult, Limits, Method};
use crate::sim::{
    Fault, FaultSchedule, Latency, LinkConfig, Nemesis, NodeId, Sim, Time, rng_stream,
};
use rand::RngExt;

/// The knobs of a chaos run.
#[derive(Clone, Debug)]
pub struct Chaos {
    /// The cluster: servers, clients, operations, Raft configuration.
    pub cluster: Cluster,
    /// Every link's behaviour, for the whole run.
    pub link: LinkConfig,
    /// The fault injector, active during the chaos phase.
    pub nemesis: Nemesis,
    /// How long the nemesis is active.
    pub chaos: Duration,
    /// How long the repaired cluster has to finish every client's operations.
    pub calm: Duration,
    /// Turn about half of the nemesis's partitions into one-way cuts (the first side's
    /// messages to the second are dropped, the other direction flows). Off by default.
    pub one_way: bool,
}

impl Default for Chaos {
    /// Five servers, four clients, a lossy, duplicating, reordering network, and a nemesis
    /// that crashes, pauses and partitions servers, at most two (a minority) down at once.
    fn default() -> Chaos {
        let ms = Duration::from_millis;
        Chaos {
            cluster: Cluster {
                servers: 5,
                clients: 4,
                ops_per_client: 40,
                client_max_attempts: 5,
                config: Config {
                    max_entries_per_message: 2,
                    ..Config::default()
                },
                ..Cluster::default()
            },
            link: LinkConfig::constant(ms(1))
                .with_latency(Latency::Exponential {
                    min: ms(1),
                    mean: ms(3),
                })
                .with_loss(0.05)
                .with_duplicate(0.02)
                .with_reorder(0.05, ms(20)),
            nemesis: Nemesis {
                mean_interval: ms(300),
                mean_duration: ms(500),
                crash: true,
                pause: true,
                partition: true,
                max_down: 2,
            },
            chaos: ms(8_000),
            calm: ms(4_000),
            one_way: false,
        }
    }
}

impl Chaos {
    /// The default campaign with one-way cuts among its partitions: the faults that CheckQuorum
    /// and PreVote exist for (see [`leadership`](super::leadership)). Shorter than the default
    /// (4 s of chaos, 3 s of calm), so that a second campaign of 1,000 seeds stays cheap.
    pub fn with_one_way_partitions() -> Chaos {
        let ms = Duration::from_millis;
        Chaos {
            one_way: true,
            chaos: ms(4_000),
            calm: ms(3_000),
            ..Chaos::default()
        }
    }
}

impl Chaos {
    /// The default run with a nemesis that may crash or pause a *majority* (three of five) at
    /// once, with faults twice as frequent and four times as long. While a majority is down
    /// the cluster cannot commit, clients time out and give up, and the history holds many
    /// operations of unknown outcome: the histories that are hardest for the linearizability
    /// search, and the reason for the witness of [`witness`].
    pub fn majority_crashes() -> Chaos {
        let mut chaos = Chaos::default();
        chaos.nemesis.max_down = 3;
        chaos.nemesis.mean_interval /= 2;
        chaos.nemesis.mean_duration *= 4;
        chaos
    }
}

/// What a passing run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaosOutcome {
    /// Simulator events processed.
    pub events: u64,
    /// Faults the nemesis injected (repairs included).
    pub faults: usize,
    /// Client operations, and how many had an unknown outcome.
    pub operations: usize,
    pub unknown: usize,
    /// The highest term any server reached.
    pub max_term: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
    /// Snapshots the servers installed from a leader (§7), and crashes between a step's disk
    /// write and its sends.
    pub snapshots_installed: u64,
    pub crashes_between_persist_and_send: u64,
    /// Keys the linearizability search decided, and keys only Raft's witness decided.
    pub keys_by_search: usize,
    pub keys_by_witness: usize,
}

/// Runs seed `seed` of `chaos`; `Err` says what broke.
pub fn run_chaos(seed: u64, chaos: &Chaos) -> Result<ChaosOutcome, String> {
    run_chaos_full(
        seed,
        chaos,
        &FaultSchedule::default(),
        &Limits::default(),
        |_| {},
    )
}

/// [`run_chaos`] with `extra` faults on top of the nemesis's (e.g. a slow follower cut off for
/// a while); every one of them must be repaired before the end of the chaos.
pub fn run_chaos_with(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, extra, &Limits::default(), |_| {})
}

/// [`run_chaos`] with the linearizability checker's search held to `limits`.
pub fn run_chaos_checked(
    seed: u64,
    chaos: &Chaos,
    limits: &Limits,
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, &FaultSchedule::default(), limits, |_| {})
}

/// [`run_chaos`] with `extra` faults, after `prepare` has set up the simulation (clocks that
/// drift, say).
pub fn run_chaos_prepared(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
    prepare: impl FnOnce(&mut Sim<KvNode>),
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, extra, &Limits::default(), prepare)
}

// ANCHOR: run_chaos
/// Runs seed `seed` of `chaos` with `extra` faults on top of the nemesis's, after `prepare` has
/// set up the simulation, and judges it with the search held to `limits`.
pub fn run_chaos_full(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
    limits: &Limits,
    prepare: impl FnOnce(&mut Sim<KvNode>),
) -> Result<ChaosOutcome, String> {
    let mut sim = chaos
        .cluster
        .build(seed, chaos.link.clone())
        .map_err(|e| e.to_string())?;
    prepare(&mut sim);
    let servers = chaos.cluster.servers;
    let commits = witness::record_commits(&mut sim, servers);
    let end_of_chaos = Time::ZERO + chaos.chaos;
    let mut rng = rng_stream(seed, u64::MAX); // a stream no node uses
    let mut schedule = chaos
        .nemesis
        .schedule(&mut rng, servers, Time::ZERO, end_of_chaos);
    if chaos.one_way {
        for (_, fault) in &mut schedule.faults {
            if let Fault::Partition(a, b) = fault
                && rng.random_bool(0.5)
            {
                *fault = Fault::OneWay(std::mem::take(a), std::mem::take(b));
            }
        }
    }
    sim.schedule(&schedule);
    sim.schedule(extra);
    sim.run_until(end_of_chaos + chaos.calm)
        .map_err(|v| v.to_string())?;

    let history = cluster::histories(&sim);
    let unknown = history.iter().filter(|op| op.output.is_none()).count();
    let clients = chaos.cluster.clients;
    let finished = (servers..servers + clients)
        .filter_map(|i| sim.process(NodeId(i)).and_then(|n| n.client()))
        .filter(|c| c.is_done())
        .count();
    if finished < clients {
        return Err(format!(
            "liveness: {finished} of {clients} clients finished after {:?} of calm; {}",
            chaos.calm,
            sim.summary()
        ));
    }
    // A second after the last repair, a client whose every operation goes unanswered means the
    // cluster did not recover.
    let recovered = (end_of_chaos + Duration::from_secs(1)).0;
    for client in 0..clients as u64 {
        let mine = || {
            history
                .iter()
                .filter(|op| op.client == servers as u64 + client)
        };
        let late = mine().filter(|op| op.call_ns >= recovered);
        let answered = mine().filter(|op| op.call_ns >= recovered && op.output.is_some());
        if late.count() > 0 && answered.count() == 0 {
            let (id, at) = (servers as u64 + client, Time(recovered));
            return Err(format!(
                "liveness: no operation of client {id} called after {at} answered"
            ));
        }
    }
    // The search, and where it gives up, the log's witness (each command at its first commit).
    let report = witness::judge(&history, &commits, limits);
    match report.result() {
        CheckResult::Ok => {}
        CheckResult::Illegal(why) => return Err(format!("history not linearizable:\n{why}")),
        CheckResult::Unknown => return Err(format!("linearizability undecided:\n{report}")),
    }
    let max_term = (0..servers)
        .filter_map(|i| cluster::server(&sim, NodeId(i)))
        .map(|s| s.current_term())
        .max()
        .unwrap_or(0);
    Ok(ChaosOutcome {
        events: sim.events_processed(),
        faults: schedule.faults.len(),
        operations: history.len(),
        unknown,
        max_term,
        trace_hash: sim.trace_hash(),
        snapshots_installed: sim.metrics().counter("raft.snapshots_installed"),
        crashes_between_persist_and_send: sim
            .metrics()
            .counter("raft.crashes_between_persist_and_send"),
        keys_by_search: report.count(Method::Search),
        keys_by_witness: report.count(Method::Witness),
    })
}
// ANCHOR_END: run_chaos
}
pub mod client {
//! A client of the replicated store that records what it saw, for the linearizability checker.
//!
//! The client issues its operations one at a time. It sends each to the server it believes
//! leads; a server that does not lead redirects it (§8). When no answer comes within
//! `retry_ms`, the client cannot tell a lost request from a lost answer or a crashed leader, so
//! it sends the *same* command, with the same sequence number, to the next server; the store's
//! sessions make sure it is applied once however many copies reach the log (`kv.rs`).
//!
//! After `max_attempts` sends without an answer the client gives up on the operation and moves
//! on to its next one, as a real client with a deadline would.
//!
//! The client records every operation as an [`Operation`]: when it was called and when its
//! answer arrived, by the simulator's clock (clients have default clocks, which read true time).
//! An operation it gave up on, or still unanswered when the run ends, has an unknown outcome:
//! `output: None`, `return_ns: u64::MAX`. It may have taken effect, even long after the client
//! gave up (a copy may sit in a log), or never; the checker allows both. Its later commands
//! carry higher sequence numbers, so once one of them is applied, a late copy of the abandoned
//! command is ignored by the store's session.
//!
//! Operations are drawn from the client's `ctx.rng()`: gets, puts and appends on a few keys,
//! with values that name the client and the operation, so that a read shows which writes it saw
//! and in what order.

use std::time::Duration;

use super::history::{KvInput, KvOutput, Operation};
use super::kv::Command;
use super::message::{ClientResponse, Message};
use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::sim::{Ctx, NodeId, TimerId};

/// Fires when the current request has waited `retry_ms` without an answer.
const RETRY: TimerId = TimerId(0);

/// The keys clients use: few, so that operations collide.
const KEYS: [&str; 3] = ["x", "y", "z"];

/// One operation in flight.
#[derive(Clone, Debug)]
struct InFlight {
    seq: u64,
    input: KvInput,
    call_ns: u64,
}

/// A client node.
#[derive(Clone, Debug)]
pub struct Client {
    /// This client's id: its node number, which servers use to answer it.
    id: u64,
    /// The servers are nodes `0..servers`.
    servers: usize,
    /// How many operations to issue in all.
    ops: usize,
    /// How long to wait for an answer before retrying elsewhere.
    retry_ms: u64,
    /// How many sends of one operation before giving up on it. At least 1.
    max_attempts: u32,
    /// Sends of the operation in flight so far.
    attempts: u32,
    /// The server the client believes leads.
    leader_guess: NodeId,
    /// The sequence number of the latest operation. Invariant: one in flight at most.
    seq: u64,
    /// The operation awaiting its answer.
    in_flight: Option<InFlight>,
    /// Every finished operation, in the order it finished.
    history: Vec<Operation<KvInput, KvOutput>>,
    /// Whether the pending retry follows a redirect (send to `leader_guess` as is) rather
    /// than a timeout (move on to the next server).
    redirected: bool,
    /// How many times a request was sent again (timeouts and redirects).
    retries: u64,
}

impl Client {
    /// A client with node id `id` that issues `ops` operations against `servers` servers.
    /// Each operation is sent at most `max_attempts` times, `retry_ms` apart.
    pub fn new(id: NodeId, servers: usize, ops: usize, retry_ms: u64, max_attempts: u32) -> Client {
        assert!(servers > 0, "a client needs a server");
        assert!(
            max_attempts > 0,
            "a client sends each operation at least once"
        );
        Client {
            id: id.0 as u64,
            servers,
            ops,
            retry_ms,
            max_attempts,
            attempts: 0,
            leader_guess: NodeId(id.0 % servers),
            seq: 0,
            in_flight: None,
            history: Vec::new(),
            redirected: false,
            retries: 0,
        }
    }

    /// Begins the first operation.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.next_operation(ctx);
    }

    /// An answer, or a redirect, from a server.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        let Message::ClientResponse(response) = msg else {
            return;
        };
        let current = self.in_flight.as_ref().map(|op| op.seq);
        match response {
            ClientResponse::Done { seq, output } if Some(seq) == current => {
                let op = self.in_flight.take().expect("checked above");
                self.leader_guess = from;
                self.history.push(Operation {
                    client: self.id,
                    input: op.input,
                    output: Some(output),
                    call_ns: op.call_ns,
                    return_ns: ctx.now().0,
                });
                ctx.count("client.done");
                self.next_operation(ctx);
            }
            ClientResponse::NotLeader { seq, leader } if Some(seq) == current => {
                // Follow the hint, or try the next server; wait a little first, so that a
                // cluster without a leader is not flooded while it elects one.
                self.leader_guess = leader.unwrap_or(NodeId((from.0 + 1) % self.servers));
                self.redirected = true;
                ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms / 10 + 1));
            }
            _ => {} // an answer to an earlier attempt, already handled
        }
    }

    /// The retry timer fired: send the same command again, to another server.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        if timer != RETRY {
            return;
        }
        if self.attempts >= self.max_attempts && !self.redirected {
            if let Some(op) = self.in_flight.take() {
                self.history.push(unknown(self.id, op));
                ctx.count("client.gave_up");
            }
            return self.next_operation(ctx);
        }
        if let Some(op) = &self.in_flight {
            let command = Command {
                client: self.id,
                seq: op.seq,
                input: op.input.clone(),
            };
            self.retries += 1;
            if !self.redirected {
                self.leader_guess = NodeId((self.leader_guess.0 + 1) % self.servers);
            }
            self.send(ctx, command);
        }
    }

    fn next_operation(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.seq as usize >= self.ops {
            return;
        }
        self.seq += 1;
        let key = KEYS.choose(ctx.rng()).expect("non-empty").to_string();
        let value = format!("{}.{} ", self.id, self.seq);
        let input = match ctx.rng().random_range(0..3) {
            0 => KvInput::Get { key },
            1 => KvInput::Put { key, value },
            _ => KvInput::Append { key, value },
        };
        let call_ns = ctx.now().0;
        let command = Command {
            client: self.id,
            seq: self.seq,
            input: input.clone(),
        };
        self.in_flight = Some(InFlight {
            seq: self.seq,
            input,
            call_ns,
        });
        self.attempts = 0;
        self.send(ctx, command);
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Message>, command: Command) {
        if !self.redirected {
            self.attempts += 1;
        }
        self.redirected = false;
        ctx.send(self.leader_guess, Message::ClientRequest(command));
        ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms));
    }

    /// Everything this client saw: finished operations, then the one in flight (if any) with
    /// an unknown outcome.
    pub fn history(&self) -> Vec<Operation<KvInput, KvOutput>> {
        let mut history = self.history.clone();
        if let Some(op) = &self.in_flight {
            history.push(unknown(self.id, op.clone()));
        }
        history
    }

    /// Whether every operation has been answered.
    pub fn is_done(&self) -> bool {
        self.in_flight.is_none() && self.seq as usize >= self.ops
    }

    /// How many operations were answered or given up on.
    pub fn completed(&self) -> usize {
        self.history.len()
    }

    /// How many requests were sent again.
    pub fn retries(&self) -> u64 {
        self.retries
    }
}

/// An operation whose outcome the client will never learn.
fn unknown(client: u64, op: InFlight) -> Operation<KvInput, KvOutput> {
    Operation {
        client,
        input: op.input,
        output: None,
        call_ns: op.call_ns,
        return_ns: u64::MAX,
    }
}
}
pub mod cluster {
//! A Raft cluster on the simulator: servers and clients as one process type, and a builder.
//!
//! The simulator runs one process type per run, so [`KvNode`] is either a Raft [`Server`] or a
//! [`Client`]. Nodes `0..servers` are servers and the rest are clients; a fault schedule or a
//! nemesis drawn for `servers` nodes therefore never touches a client, whose history must
//! survive the run.
//!
//! [`Cluster::build`] assembles a run: the processes, the restart rule (a crashed server comes
//! back from what its [`MemStorage`] holds: exactly what it persisted, see
//! [`storage`](super::storage)), and, when asked, the safety invariants of
//! [`invariants`](super::invariants), checked after every event.

use super::client::Client;
use super::history::{KvInput, KvOutput, Operation};
use super::invariants::add_safety_invariants;
use super::message::Message;
use super::server::{Config, ConfigError, Durable, Server};
use super::storage::{MemStorage, PersistOrder, ServerNode};
use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, TimerId};

/// A node of a Raft run: a server or a client.
#[derive(Clone, Debug)]
pub enum KvNode {
    /// A server on its simulated disk (it dereferences to the [`Server`]).
    Server(Box<ServerNode>),
    Client(Client),
}

/// What a node keeps on disk.
#[derive(Clone, Debug)]
pub enum Disk {
    Server(Durable),
    /// Clients keep nothing; they are never crashed in this book's runs.
    Client,
}

impl Process for KvNode {
    type Msg = Message;
    type Durable = Disk;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        match self {
            KvNode::Server(s) => s.on_start(ctx),
            KvNode::Client(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match self {
            KvNode::Server(s) => s.on_message(ctx, from, msg),
            KvNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match self {
            KvNode::Server(s) => s.on_timer(ctx, timer),
            KvNode::Client(c) => c.on_timer(ctx, timer),
        }
    }

    fn durable(&self) -> Disk {
        match self {
            KvNode::Server(s) => Disk::Server(s.storage.contents().clone()),
            KvNode::Client(_) => Disk::Client,
        }
    }
}

impl KvNode {
    /// The server, if this node is one.
    pub fn server(&self) -> Option<&Server> {
        match self {
            KvNode::Server(s) => Some(&s.server),
            KvNode::Client(_) => None,
        }
    }

    /// The client, if this node is one.
    pub fn client(&self) -> Option<&Client> {
        match self {
            KvNode::Client(c) => Some(c),
            KvNode::Server(_) => None,
        }
    }
}

// ANCHOR: cluster
/// The shape of a run.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// How many Raft servers (nodes `0..servers`).
    pub servers: usize,
    /// How many clients (the nodes after the servers).
    pub clients: usize,
    /// Operations each client issues.
    pub ops_per_client: usize,
    /// How long a client waits for an answer before retrying, in milliseconds.
    pub client_retry_ms: u64,
    /// How many times a client sends one operation before giving up on it.
    pub client_max_attempts: u32,
    /// The servers' configuration.
    pub config: Config,
    /// Whether to check the safety invariants after every event.
    pub invariants: bool,
    /// The chance that a server's step ends in a crash between its disk write and its sends
    /// (it restarts at once from its disk). 0: never.
    pub crash_between_persist_and_send: f64,
    /// Persist then send (correct), or the planted bug [`PersistOrder::SendFirst`].
    pub persist_order: PersistOrder,
}
// ANCHOR_END: cluster

impl Default for Cluster {
    fn default() -> Cluster {
        Cluster {
            servers: 5,
            clients: 3,
            ops_per_client: 10,
            client_retry_ms: 200,
            client_max_attempts: 10,
            config: Config::default(),
            invariants: true,
            crash_between_persist_and_send: 0.0,
            persist_order: PersistOrder::PersistFirst,
        }
    }
}

impl Cluster {
    /// A run with this shape on links that behave as `link`, from `seed`.
    pub fn build(&self, seed: u64, link: LinkConfig) -> Result<Sim<KvNode>, ConfigError> {
        self.config.validate()?;
        if self.servers == 0 || self.client_max_attempts == 0 {
            return Err(ConfigError::EmptyCluster);
        }
        let servers = self.servers;
        let (order, crash_between) = (self.persist_order, self.crash_between_persist_and_send);
        let node = move |server: Server, disk: Durable| {
            let mut node = ServerNode::new(server, MemStorage::new(disk));
            node.order = order;
            node.crash_between = crash_between;
            KvNode::Server(Box::new(node))
        };
        let mut nodes = Vec::with_capacity(servers + self.clients);
        for i in 0..servers {
            let server = Server::new(NodeId(i), servers, self.config.clone());
            nodes.push(node(server, Durable::empty()));
        }
        for i in servers..servers + self.clients {
            let (ops, retry) = (self.ops_per_client, self.client_retry_ms);
            let client = Client::new(NodeId(i), servers, ops, retry, self.client_max_attempts);
            nodes.push(KvNode::Client(client));
        }
        let mut sim = Sim::new(seed, link, nodes);
        let config = self.config.clone();
        let (ops, retry) = (self.ops_per_client, self.client_retry_ms);
        let attempts = self.client_max_attempts;
        sim.on_restart(move |id, disk| match disk {
            Disk::Server(disk) => node(
                Server::restart(id, servers, config.clone(), disk.clone()),
                disk,
            ),
            // Not used by the book's runs; a restarted client has forgotten its history.
            Disk::Client => KvNode::Client(Client::new(id, servers, ops, retry, attempts)),
        });
        if self.invariants {
            add_safety_invariants(&mut sim, servers);
        }
        Ok(sim)
    }
}

/// Every client's history, concatenated in client order.
pub fn histories(sim: &Sim<KvNode>) -> Vec<Operation<KvInput, KvOutput>> {
    (0..sim.node_count())
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::client))
        .flat_map(Client::history)
        .collect()
}

/// The servers that are up and lead their term, with their terms.
pub fn leaders(sim: &Sim<KvNode>) -> Vec<(NodeId, u64)> {
    (0..sim.node_count())
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::server))
        .filter(|s| s.is_leader())
        .map(|s| (s.id(), s.current_term()))
        .collect()
}

/// The server `id`, unless it is crashed or not a server.
pub fn server(sim: &Sim<KvNode>, id: NodeId) -> Option<&Server> {
    sim.process(id).and_then(KvNode::server)
}
}
pub mod election {
//! Leader election (§5.2), with the election restriction (§5.4.1).
//!
//! A follower that hears no leader for its election timeout increments its term, votes for
//! itself and asks every other server for a vote ([`Server::become_candidate`]). With PreVote
//! on (the default) it first asks whether it could win, without changing any term
//! ([`leadership`](super::leadership)); chapter 9's experiments switch PreVote off. A server grants
//! at most one vote per term, first come first served, and only to a candidate whose log is at
//! least as up to date as its own ([`is_log_up_to_date`]). A candidate with votes from a
//! majority becomes leader ([`Server::become_leader`]); one that hears from a leader of its term
//! or later steps down; one whose timeout fires again (a *split vote*: no one got a majority)
//! starts a new election in the next term.
//!
//! Why it is safe. *Election safety*: two candidates winning the same term would need two
//! majorities, which share a server, which would have voted twice in that term; `voted_for` is
//! durable, so not even a crash lets it. *Leader completeness* (§5.4.3) takes two rules, not one.
//! The election restriction compares *up-to-dateness*, not completeness: the later last term
//! wins, and with equal last terms the longer log (§5.4.1). A committed entry is on a majority,
//! every winner got votes from a majority, and the two share a voter, which voted only for a log
//! at least as up to date as its own. A log can outrank the voter's without holding the entry
//! (a later last term is enough), so the proof needs the commit rule too (§5.4.2): a leader
//! commits by counting replicas only for an entry of its own term. Then a winner's log either
//! ends in the same term as the voter's and is at least as long, so it holds the voter's
//! entries (Log Matching), or ends in a later term, written by a later leader, which by
//! induction over terms already held the committed entry. Without that rule, the paper's Figure 8 loses
//! a committed entry; chapter 10 plants the bug and its campaign catches it.
//!
//! Why it is live. If all servers timed out together they would split the vote forever.
//! Timeouts drawn at random from a range (150-300 ms in the paper) make it likely that one
//! server times out, asks and wins before the others wake; the chapter 9 experiment measures how
//! the width of that range sets the time to elect (the paper's Figure 16).

use std::collections::BTreeSet;
use std::time::Duration;

use super::log::Entry;
use super::message::{Message, RequestVote, RequestVoteResponse};
use super::rules::{is_log_up_to_date, majority};
use super::server::{HEARTBEAT, Role, Server};
use crate::sim::{Ctx, NodeId};

impl Server {
    /// The election timer fired: no leader was heard from for a whole timeout.
    pub(super) fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader && self.config.pre_vote {
            self.start_pre_vote(ctx); // see leadership.rs
        } else if self.role != Role::Leader {
            self.become_candidate(ctx);
        }
    }

    // ANCHOR: become_candidate
    /// Starts an election in the next term (§5.2).
    pub fn become_candidate(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.current_term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.votes = BTreeSet::from([self.id]);
        self.leader = None;
        // A fresh random timeout: if this election splits, the next one starts at a random time.
        self.reset_election_timer(ctx);
        ctx.count("raft.elections");
        if self.votes.len() >= majority(self.servers) {
            return self.become_leader(ctx); // a cluster of one
        }
        let request = RequestVote {
            term: self.current_term,
            candidate: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            self.send(peer, Message::RequestVote(request.clone()));
        }
    }
    // ANCHOR_END: become_candidate

    // ANCHOR: on_request_vote
    /// Decides whether to vote for a candidate. Terms were already reconciled: if the request's
    /// term was higher, this server is now a follower of it with no vote cast.
    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVote,
    ) {
        let vote_granted = m.term == self.current_term
            && self.voted_for.is_none_or(|v| v == m.candidate)
            && is_log_up_to_date(
                m.last_log_term,
                m.last_log_index,
                self.log.last_term(),
                self.log.last_index(),
            );
        if vote_granted {
            self.voted_for = Some(m.candidate);
            // Granting a vote is hearing from a plausible leader: do not compete with it.
            self.reset_election_timer(ctx);
        }
        let term = self.current_term;
        self.send(
            from,
            Message::RequestVoteResponse(RequestVoteResponse { term, vote_granted }),
        );
    }
    // ANCHOR_END: on_request_vote

    // ANCHOR: on_request_vote_response
    /// Counts a vote. Votes from an earlier term, or arriving after the election is decided,
    /// are ignored; a duplicated vote counts once because `votes` is a set.
    pub(super) fn on_request_vote_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVoteResponse,
    ) {
        if self.role != Role::Candidate || m.term != self.current_term || !m.vote_granted {
            return;
        }
        self.votes.insert(from);
        if self.votes.len() >= majority(self.servers) {
            self.become_leader(ctx);
        }
    }
    // ANCHOR_END: on_request_vote_response

    // ANCHOR: become_leader
    /// Takes office: resets the replication state and asserts leadership at once (§5.3). The
    /// new leader appends a no-op entry of its own term, because it may commit by counting only
    /// entries of its current term (§5.4.2); the no-op lets it commit, and with it everything
    /// before it, without waiting for a client (§8).
    pub fn become_leader(&mut self, ctx: &mut Ctx<'_, Message>) {
        assert_eq!(
            self.role,
            Role::Candidate,
            "only a candidate can win an election"
        );
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.votes.clear();
        ctx.count("raft.leaders");
        let last = self.log.append(Entry {
            term: self.current_term,
            command: None,
        });
        self.next_index = vec![last; self.servers];
        self.match_index = vec![0; self.servers];
        self.match_index[self.id.0] = last;
        self.next_index[self.id.0] = last + 1;
        self.broadcast_append_entries(ctx);
        if self.servers == 1 {
            self.maybe_commit(ctx);
        }
        ctx.set_timer(HEARTBEAT, Duration::from_millis(self.config.heartbeat_ms));
        self.start_check_quorum(ctx); // see leadership.rs
    }
    // ANCHOR_END: become_leader
}
}
pub mod exercise {
//! Exercise: the rule by which a Raft server grants its vote (§5.2 and §5.4.1).
//!
//! A voter has three pieces of state that matter: its current term, whom it voted for in that
//! term, and the last entry of its log (index and term). A `RequestVote` carries the
//! candidate's term and the index and term of the candidate's last entry. Implement
//! [`starter::Rule::grant`], which says whether the voter grants the vote. Assume, as the
//! server does, that a request with a higher term has already made the voter adopt that term
//! with no vote cast, so `request.term <= voter.current_term` whenever `grant` is asked.
//!
//! The claims to make true are this file's tests: the rule's three conditions, a duplicated
//! request (the network duplicates messages) answered the same way twice, and agreement with
//! the book's server on random states. Run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_vote_rule -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use super::log::{LogIndex, Term};
use super::message::RequestVote;
use crate::sim::NodeId;

/// What a voter knows when a `RequestVote` arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Voter {
    /// Its current term (already raised to the request's term if that was higher).
    pub current_term: Term,
    /// Whom it voted for in `current_term`.
    pub voted_for: Option<NodeId>,
    /// The index of its last log entry (0 for an empty log).
    pub last_log_index: LogIndex,
    /// The term of its last log entry (0 for an empty log).
    pub last_log_term: Term,
}

/// A vote-granting rule.
pub trait VoteRule {
    /// Whether `voter` grants its vote to the candidate of `request`.
    fn grant(voter: &Voter, request: &RequestVote) -> bool;
}

/// Your version.
pub mod starter {
    use super::{RequestVote, VoteRule, Voter};

    /// The vote rule.
    pub struct Rule;

    impl VoteRule for Rule {
        fn grant(_voter: &Voter, _request: &RequestVote) -> bool {
            todo!("same term, no vote for anyone else, and a log at least as up to date")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{RequestVote, VoteRule, Voter};

    // ANCHOR: vote_rule
    /// The vote rule.
    pub struct Rule;

    impl VoteRule for Rule {
        fn grant(voter: &Voter, request: &RequestVote) -> bool {
            let same_term = request.term == voter.current_term;
            // A duplicate of the request this voter already granted is granted again.
            let free = voter.voted_for.is_none_or(|v| v == request.candidate);
            // Later last term wins; with equal last terms, the longer log (§5.4.1).
            let up_to_date = (request.last_log_term, request.last_log_index)
                >= (voter.last_log_term, voter.last_log_index);
            same_term && free && up_to_date
        }
    }
    // ANCHOR_END: vote_rule
}

}
pub mod history {
//! What the clients saw, in the shape the linearizability checker reads.
//!
//! The types are the checker's own ([`crate::coordination::linearizability`]): a client's
//! input and output are [`KvInput`] and [`KvOutput`], and each operation it issued is an
//! [`Operation`] with its call and return instants. The store applies the same `KvInput`s, so
//! what a client asked for, what the log holds and what the checker replays are one type.

pub use crate::coordination::linearizability::{KvInput, KvOutput, Operation};
}
pub mod invariants {
//! Raft's safety properties (Figure 3), checked after every simulated event.
//!
//! The paper proves four properties that together give *state machine safety*; here each is a
//! simulator invariant ([`Sim::add_invariant`]) that sees every server between any two events,
//! crashed servers excepted (their disks are checked when they come back):
//!
//! - **Election safety**: at most one leader per term, *over the whole run*. A stale leader may
//!   coexist with a newer one (different terms), so a snapshot is not enough: the checker keeps
//!   a record of who led each term and fails if a second server ever leads the same term.
//! - **Log matching**: two logs with an entry of the same index and term are identical up to
//!   it. Checked in its strongest form: an `(index, term)` pair names one entry, with one
//!   command and one predecessor term, over the whole run and across all servers.
//! - **Leader completeness**: a leader of term `T` holds every entry committed in a term before
//!   `T`. The checker records each committed index with its entry's term and the term of the
//!   first server seen to know it committed: that server learned it from a leader of that term
//!   or an earlier one, so the entry was committed no later, and every leader of that term or
//!   after must hold it. (A restarted server forgets its commit index, so no stale knowledge
//!   survives a crash.)
//! - **State machine safety**: no two servers apply different entries at one index; restarted
//!   servers replaying their logs are held to the same record.
//!
//! With log compaction (§7) a server holds only the entries after its snapshot: each check
//! compares the indexes the server still holds, and treats a compacted index as held (a snapshot
//! covers only applied, hence committed, entries, and the servers keep each applied entry in
//! memory for at least one step, so the checks see it before it goes).
//!
//! Each check keeps what it has already verified (per server: how far, and how many
//! truncations of its log it has seen), so that checking after every event stays cheap: the
//! campaign runs millions of events with the checks on.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::cluster::KvNode;
use super::kv::Command;
use super::log::{Entry, LogIndex, Term};
use super::server::Server;
use crate::sim::{NodeId, Sim};

/// Registers the four safety invariants on a run whose servers are nodes `0..servers`.
pub fn add_safety_invariants(sim: &mut Sim<KvNode>, servers: usize) {
    // ANCHOR: election_safety
    let leaders: RefCell<BTreeMap<Term, NodeId>> = RefCell::default();
    sim.add_invariant("election safety (§5.2)", move |sim| {
        let mut leaders = leaders.borrow_mut();
        for s in up_servers(sim, servers)
            .into_iter()
            .filter(|s| s.is_leader())
        {
            let first = *leaders.entry(s.current_term()).or_insert(s.id());
            if first != s.id() {
                return Err(format!(
                    "{first} and {} both led term {}",
                    s.id(),
                    s.current_term()
                ));
            }
        }
        Ok(())
    });
    // ANCHOR_END: election_safety

    // ANCHOR: log_matching
    // (index, term) -> (term of the entry before it, command).
    type Named = BTreeMap<(LogIndex, Term), (Term, Option<Command>)>;
    let names: RefCell<Named> = RefCell::default();
    // Per server: (truncations seen, entries checked).
    let checked: RefCell<Vec<(u64, LogIndex)>> = RefCell::new(vec![(0, 0); servers]);
    sim.add_invariant("log matching (§5.3)", move |sim| {
        let (mut names, mut checked) = (names.borrow_mut(), checked.borrow_mut());
        for s in up_servers(sim, servers) {
            let log = s.log();
            let (truncations, mut from) = checked[s.id().0];
            if truncations != log.truncations() || from > log.last_index() {
                from = 0;
            }
            for index in from.max(log.offset()) + 1..=log.last_index() {
                let entry = log.entry(index).expect("inside the log");
                let prev = log.term_at(index - 1).expect("inside the log");
                let value = (prev, entry.command.clone());
                let named = names
                    .entry((index, entry.term))
                    .or_insert_with(|| value.clone());
                if *named != value {
                    return Err(format!(
                        "{} holds ({index}, term {}) as {value:?}, seen before as {named:?}",
                        s.id(),
                        entry.term
                    ));
                }
            }
            checked[s.id().0] = (log.truncations(), log.last_index());
        }
        Ok(())
    });
    // ANCHOR_END: log_matching

    // ANCHOR: leader_completeness
    // committed[i - 1] = (term of the entry at i, term of the first server seen knowing it).
    let committed: RefCell<Vec<(Term, Term)>> = RefCell::default();
    // Per server: (its term when last checked as leader, committed entries checked).
    let verified: RefCell<Vec<(Term, usize)>> = RefCell::new(vec![(0, 0); servers]);
    sim.add_invariant("leader completeness (§5.4)", move |sim| {
        let (mut committed, mut verified) = (committed.borrow_mut(), verified.borrow_mut());
        for s in up_servers(sim, servers) {
            let known = s.commit_index() as usize;
            for i in committed.len() + 1..=known {
                // A compacted index is recorded from a server that still holds it.
                let Some(term) = s.log().term_at(i as LogIndex) else {
                    break;
                };
                committed.push((term, s.current_term()));
            }
        }
        for s in up_servers(sim, servers)
            .into_iter()
            .filter(|s| s.is_leader())
        {
            let (term, mut done) = verified[s.id().0];
            if term != s.current_term() {
                done = 0;
            }
            for (i, &(entry_term, seen_in)) in committed.iter().enumerate().skip(done) {
                let index = i as LogIndex + 1;
                let held = index < s.log().offset() || s.log().term_at(index) == Some(entry_term);
                if seen_in <= s.current_term() && !held {
                    return Err(format!(
                        "leader {} of term {} lacks committed entry {index} of term {entry_term}",
                        s.id(),
                        s.current_term()
                    ));
                }
            }
            verified[s.id().0] = (s.current_term(), committed.len());
        }
        Ok(())
    });
    // ANCHOR_END: leader_completeness

    // ANCHOR: state_machine_safety
    let applied: RefCell<Vec<Entry>> = RefCell::default();
    let checked: RefCell<Vec<LogIndex>> = RefCell::new(vec![0; servers]);
    sim.add_invariant("state machine safety (§5.4.3)", move |sim| {
        let (mut applied, mut checked) = (applied.borrow_mut(), checked.borrow_mut());
        for s in up_servers(sim, servers) {
            let from = checked[s.id().0].min(s.last_applied());
            for index in from + 1..=s.last_applied() {
                // Entries installed from a snapshot were not applied one by one here.
                let Some(entry) = s.log().entry(index) else {
                    continue;
                };
                match applied.get(index as usize - 1) {
                    Some(first) if first != entry => {
                        return Err(format!(
                            "{} applied {entry:?} at {index}, another server {first:?}",
                            s.id()
                        ));
                    }
                    Some(_) => {}
                    None if applied.len() as LogIndex == index - 1 => applied.push(entry.clone()),
                    None => {}
                }
            }
            checked[s.id().0] = s.last_applied();
        }
        Ok(())
    });
    // ANCHOR_END: state_machine_safety
}

/// The servers that are not crashed (paused ones included: their state is still there).
fn up_servers(sim: &Sim<KvNode>, servers: usize) -> Vec<&Server> {
    (0..servers)
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::server))
        .collect()
}
}
pub mod kv {
//! The replicated state machine: a key-value store that applies each client command once.
//!
//! Raft replicates a log; what gives the log meaning is the deterministic state machine every
//! server applies it to, in index order (§5, Figure 1). Here that machine is a map from string
//! keys to string values with `Get`, `Put` and `Append`, the inputs of the linearizability
//! checker's key-value model, so that what the clients observed can be checked against it.
//!
//! **Exactly-once application (§8).** A client that times out cannot know whether its command
//! was committed, so it sends it again, perhaps to another server, and the command may end up in
//! the log twice. Each [`Command`] therefore carries its client's id and a sequence number that
//! the client increments per operation; the store remembers, per client, the last sequence
//! number it applied and what that returned (a *session*), and answers a repeat from the session
//! instead of applying it again. Because the sessions are part of the replicated state, every
//! server filters the same duplicates at the same indexes. A client has at most one operation
//! in flight, so one remembered answer per client is enough.
//!
//! Reads go through the log like writes. That is the simplest linearizable read (§8 describes
//! cheaper ones, read-index and leases, which need more care).

use std::collections::BTreeMap;

use super::history::{KvInput, KvOutput};

// ANCHOR: command
/// A client's request as it is stored in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Command {
    /// The client's id (its simulator node number).
    pub client: u64,
    /// The client's sequence number for this operation, from 1. A retry reuses it.
    pub seq: u64,
    /// What to do.
    pub input: KvInput,
}
// ANCHOR_END: command

/// The last operation the store applied for one client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Session {
    /// Its sequence number.
    seq: u64,
    /// What it returned.
    output: KvOutput,
}

// ANCHOR: kv_store
/// The key-value store with its client sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KvStore {
    /// The data.
    data: BTreeMap<String, String>,
    /// Per client, the last command applied. Invariant: sequence numbers only grow.
    sessions: BTreeMap<u64, Session>,
    /// How many commands were applied (duplicates excluded).
    applied: u64,
}
// ANCHOR_END: kv_store

impl KvStore {
    // ANCHOR: apply
    /// Applies `command` unless it is a duplicate. Returns the answer for the client: the
    /// fresh one, the remembered one for a retry of the last command, or `None` for a command
    /// older than the client's last (the client has moved on and will not read it).
    pub fn apply(&mut self, command: &Command) -> Option<KvOutput> {
        if let Some(session) = self.sessions.get(&command.client) {
            if command.seq == session.seq {
                return Some(session.output.clone());
            }
            if command.seq < session.seq {
                return None;
            }
        }
        let output = self.execute(&command.input);
        let session = Session {
            seq: command.seq,
            output: output.clone(),
        };
        self.sessions.insert(command.client, session);
        self.applied += 1;
        Some(output)
    }
    // ANCHOR_END: apply

    fn execute(&mut self, input: &KvInput) -> KvOutput {
        match input {
            KvInput::Get { key } => KvOutput::Value(self.data.get(key).cloned()),
            KvInput::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                KvOutput::Ok
            }
        }
    }

    /// The answer already given to `client`'s command `seq`, if that was its last one.
    pub fn cached(&self, client: u64, seq: u64) -> Option<&KvOutput> {
        self.sessions
            .get(&client)
            .filter(|s| s.seq == seq)
            .map(|s| &s.output)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// How many distinct commands were applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }
}

}
pub mod leadership {
//! CheckQuorum and PreVote: a leader that notices it has lost its majority, and elections
//! that a server which cannot win never starts.
//!
//! Basic Raft (§5.2) has two blind spots, both about *who believes what* when the network is
//! only partly broken.
//!
//! - **A leader never learns that it has lost.** A leader steps down only when a message with
//!   a higher term reaches it. If the servers that could elect a successor cannot reach it
//!   (they crashed, or a one-way partition drops their messages), it keeps leading forever: it
//!   accepts client commands that can never commit, and with a one-way partition its
//!   heartbeats keep resetting the followers' timers, so no one else ever campaigns. The
//!   cluster stalls for good. **CheckQuorum** (Ongaro's thesis §6.2; the name is etcd's): every
//!   election timeout (the longest one, `election_timeout_ms_max`) the leader counts the
//!   servers it has heard an `AppendEntries` answer from in its term since the last check,
//!   itself included; short of a majority, it steps down to follower of the same term. Clients
//!   are then redirected and retry elsewhere, and the followers' timers run out.
//! - **A server that cannot win still disrupts.** A server cut off from the leader times out,
//!   increments its term, loses, and does it again, every timeout. When it can talk again, its
//!   inflated term reaches the leader (in a vote request or an answer) and deposes it, and the
//!   cluster holds an election it did not need (§9.6). **PreVote** (thesis §9.6): before
//!   incrementing its term, a would-be candidate asks every server *would you vote for me in
//!   term `current + 1`?* A voter says yes only if the log is up to date (the same check as a
//!   real vote, §5.4.1) and it has not heard from a current leader within the shortest election
//!   timeout. Only with yeses from a majority, itself included, does the server start a real
//!   election.
//!
//! **Invariants.** A pre-vote request carries a term that does not exist yet, so
//! [`Message::term`] reports none for it: the receiver neither adopts it nor changes its vote or
//! its timer. Answering a pre-vote writes no durable state (term, vote, log); only the answer's
//! own term, the voter's real term, is adopted by the asker when higher, as for any message.
//! CheckQuorum changes nothing durable either: a leader that steps down keeps its term. Neither
//! mechanism touches the election restriction or the commit rule, so every safety argument of
//! [`election`](super::election) still holds; the campaign checks the four invariants after
//! every event with both mechanisms on.
//!
//! **Simplifications.** The leader hears a follower only through `AppendEntries` answers (a
//! vote or client message does not count). A pre-candidate stays a follower with no known
//! leader; if a leader's `AppendEntries` arrives, it follows it and the pre-vote round is
//! forgotten. A leader always refuses pre-votes. Both knobs are on by default
//! ([`Config::check_quorum`](super::server::Config::check_quorum),
//! [`Config::pre_vote`](super::server::Config::pre_vote)); the chapter 9 time-to-elect
//! experiment switches them off to measure the paper's algorithm.

use std::collections::BTreeSet;
use std::time::Duration;

use super::message::{AppendEntries, InstallSnapshot, Message, RequestVote, RequestVoteResponse};
use super::rules::{is_log_up_to_date, majority};
use super::server::{Role, Server};
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// A leader checks that it still hears from a majority when this fires.
pub const CHECK_QUORUM: TimerId = TimerId(10);

/// What CheckQuorum and PreVote remember; none of it is durable.
#[derive(Clone, Debug, Default)]
pub struct Leadership {
    /// Leader: the servers heard from in this term since the last quorum check, itself included.
    heard_from: BTreeSet<NodeId>,
    /// When this server last heard from a leader of its current term (its local clock).
    leader_contact: Option<Time>,
    /// Pre-candidate: the term it asks about, and the servers that said yes.
    pre_votes: Option<(u64, BTreeSet<NodeId>)>,
}

impl Server {
    /// Bookkeeping for every message, after the term rule ran and before the handler does.
    pub(super) fn note_contact(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: &Message) {
        match msg {
            Message::AppendEntries(AppendEntries { term, .. })
            | Message::InstallSnapshot(InstallSnapshot { term, .. })
                if *term == self.current_term =>
            {
                self.leadership.leader_contact = Some(ctx.now());
                self.leadership.pre_votes = None;
            }
            Message::AppendEntriesResponse(m)
                if m.term == self.current_term && self.role == Role::Leader =>
            {
                self.leadership.heard_from.insert(from);
            }
            _ => {}
        }
    }

    /// Called when this server takes office: start counting who answers.
    pub(super) fn start_check_quorum(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.leadership.heard_from = BTreeSet::from([self.id]);
        self.leadership.pre_votes = None;
        if self.config.check_quorum {
            let ms = self.config.election_timeout_ms_max;
            ctx.set_timer(CHECK_QUORUM, Duration::from_millis(ms));
        }
    }

    // ANCHOR: check_quorum
    /// CheckQuorum (thesis §6.2): a leader that has not heard from a majority, itself included,
    /// within an election timeout steps down, keeping its term.
    pub(super) fn on_check_quorum(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader || !self.config.check_quorum {
            return;
        }
        if self.leadership.heard_from.len() < majority(self.servers) {
            ctx.count("raft.check_quorum_step_downs");
            return self.become_follower(ctx, self.current_term, None);
        }
        self.start_check_quorum(ctx); // a new round: forget who answered
    }
    // ANCHOR_END: check_quorum

    // ANCHOR: start_pre_vote
    /// The election timer fired and PreVote is on: ask, without changing any term, whether a
    /// majority would vote for this server in the next term (thesis §9.6).
    pub(super) fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role == Role::Candidate {
            self.become_follower(ctx, self.current_term, None); // a split vote: ask again
        }
        self.leader = None;
        let next = self.current_term + 1;
        self.leadership.pre_votes = Some((next, BTreeSet::from([self.id])));
        self.reset_election_timer(ctx); // if this round fails, try again after a timeout
        ctx.count("raft.pre_votes");
        if majority(self.servers) == 1 {
            return self.become_candidate(ctx);
        }
        let request = RequestVote {
            term: next,
            candidate: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            self.send(peer, Message::PreVote(request.clone()));
        }
    }
    // ANCHOR_END: start_pre_vote

    // ANCHOR: on_pre_vote
    /// A voter's side of a pre-vote: the same log check as a real vote, plus "no leader heard
    /// lately". Writes nothing: no term, no vote, no timer.
    pub(super) fn on_pre_vote(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, m: RequestVote) {
        let min = Duration::from_millis(self.config.election_timeout_ms_min);
        let leader_lately = self.role == Role::Leader
            || (self.leader.is_some()
                && self
                    .leadership
                    .leader_contact
                    .is_some_and(|t| ctx.now().since(t) < min));
        let vote_granted = m.term > self.current_term
            && !leader_lately
            && is_log_up_to_date(
                m.last_log_term,
                m.last_log_index,
                self.log.last_term(),
                self.log.last_index(),
            );
        let term = self.current_term;
        let answer = RequestVoteResponse { term, vote_granted };
        self.send(from, Message::PreVoteResponse(answer));
    }
    // ANCHOR_END: on_pre_vote

    /// A pre-candidate counts yeses; with a majority it starts the real election.
    pub(super) fn on_pre_vote_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVoteResponse,
    ) {
        let next = self.current_term + 1;
        let Some((term, votes)) = &mut self.leadership.pre_votes else {
            return;
        };
        if *term != next || self.role != Role::Follower || !m.vote_granted {
            return;
        }
        votes.insert(from);
        if votes.len() >= majority(self.servers) {
            self.leadership.pre_votes = None;
            self.become_candidate(ctx);
        }
    }

    /// How many servers a leader has heard from since its last quorum check (itself included).
    pub fn heard_from_count(&self) -> usize {
        self.leadership.heard_from.len()
    }
}

pub mod scenarios {
    //! The four situations of the "Raft in practice" page, each run with any combination of the
    //! two mechanisms: the tests of `code/tests/part2/ch10_raft_leadership.rs` assert on them and
    //! the example `ch10_leadership` tabulates them.
    //!
    //! Five servers and one client on links of 2-8 ms; the cluster settles for a second, then
    //! the fault strikes at instant `T0` and the run goes on for [`HORIZON`].

    use std::time::Duration;

    use crate::coordination::raft::cluster::{self, Cluster, KvNode};
    use crate::coordination::raft::server::Config;
    use crate::sim::{Fault, Latency, LinkConfig, NodeId, Sim, Time};

    /// How long a scenario runs after its fault.
    pub const HORIZON: Duration = Duration::from_secs(3);

    /// Which of the two mechanisms are on.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Mechanisms {
        pub check_quorum: bool,
        pub pre_vote: bool,
    }

    impl Mechanisms {
        /// Neither, each alone, both (the default).
        pub const ALL: [Mechanisms; 4] = [
            Mechanisms::new(false, false),
            Mechanisms::new(true, false),
            Mechanisms::new(false, true),
            Mechanisms::new(true, true),
        ];

        /// These mechanisms.
        pub const fn new(check_quorum: bool, pre_vote: bool) -> Mechanisms {
            Mechanisms {
                check_quorum,
                pre_vote,
            }
        }

        /// A short name for tables.
        pub fn label(&self) -> &'static str {
            match (self.check_quorum, self.pre_vote) {
                (false, false) => "neither",
                (true, false) => "CheckQuorum",
                (false, true) => "PreVote",
                (true, true) => "both",
            }
        }
    }

    /// The situations.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Scenario {
        /// The three servers other than the leader and one partner crash.
        LostMajority,
        /// Every other server's messages to the leader are dropped; the leader's still arrive.
        OneWay,
        /// A follower cut off for two seconds comes back at `T0`.
        Rejoin,
        /// The leader crashes: what PreVote costs an ordinary election.
        LeaderCrash,
    }

    impl Scenario {
        /// All four, in table order.
        pub const ALL: [Scenario; 4] = [
            Scenario::LostMajority,
            Scenario::OneWay,
            Scenario::Rejoin,
            Scenario::LeaderCrash,
        ];

        /// A short name for tables.
        pub fn label(&self) -> &'static str {
            match self {
                Scenario::LostMajority => "lost majority",
                Scenario::OneWay => "one-way cut",
                Scenario::Rejoin => "rejoin",
                Scenario::LeaderCrash => "leader crash",
            }
        }
    }

    /// What happened after `T0`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Outcome {
        /// The client had an answer in the last second of the run.
        pub served_at_end: bool,
        /// Elections started (terms a candidate asked votes for), from the fault on (for
        /// `Rejoin`, from the cut on).
        pub elections: u64,
        /// How far the highest term moved, over the same period.
        pub term_jump: u64,
        /// The longest time without an answer to the client.
        pub longest_outage: Duration,
        /// How long the leader of `T0` went on believing it led.
        pub old_leader_reign: Duration,
        /// Entries the leader of `T0` appended in that time (client retries it cannot commit).
        pub old_leader_appends: u64,
    }

    fn max_term(sim: &Sim<KvNode>) -> u64 {
        (0..5)
            .filter_map(|i| cluster::server(sim, NodeId(i)))
            .map(|s| s.current_term())
            .max()
            .unwrap_or(0)
    }

    // ANCHOR: run_scenario
    /// Runs `scenario` with `mechanisms` from `seed`; `Err` if the cluster never settled or
    /// a safety invariant broke.
    pub fn run(scenario: Scenario, mechanisms: Mechanisms, seed: u64) -> Result<Outcome, String> {
        let ms = Duration::from_millis;
        let cluster = Cluster {
            servers: 5,
            clients: 1,
            ops_per_client: 100_000,
            client_retry_ms: 100,
            config: Config {
                check_quorum: mechanisms.check_quorum,
                pre_vote: mechanisms.pre_vote,
                ..Config::default()
            },
            ..Cluster::default()
        };
        let latency = Latency::Uniform {
            min: ms(2),
            max: ms(8),
        };
        let link = LinkConfig::constant(ms(2)).with_latency(latency);
        let mut sim = cluster.build(seed, link).map_err(|e| e.to_string())?;
        let fail = |e: crate::sim::InvariantViolation| format!("seed {seed}: {e}");
        sim.run_until(Time::from_millis(1_000)).map_err(fail)?;
        let Some(&(leader, term)) = cluster::leaders(&sim).first() else {
            return Err(format!("seed {seed}: no leader after a second"));
        };
        let others: Vec<NodeId> = (0..5).map(NodeId).filter(|n| *n != leader).collect();
        let (mut elections0, mut term0) = (sim.metrics().counter("raft.elections"), max_term(&sim));
        if scenario == Scenario::Rejoin {
            let rest = (0..5).map(NodeId).filter(|n| *n != others[0]).collect();
            sim.apply(Fault::Partition(vec![others[0]], rest));
            sim.run_until(Time::from_millis(3_000)).map_err(fail)?;
            sim.apply(Fault::Heal);
        }
        let t0 = sim.now();
        let old_leader = cluster::server(&sim, leader).map(|s| s.log().last_index());
        if scenario != Scenario::Rejoin {
            (elections0, term0) = (sim.metrics().counter("raft.elections"), max_term(&sim));
        }
        match scenario {
            Scenario::LostMajority => others[1..].iter().for_each(|&n| sim.apply(Fault::Crash(n))),
            Scenario::OneWay => sim.apply(Fault::OneWay(others.clone(), vec![leader])),
            Scenario::Rejoin => {}
            Scenario::LeaderCrash => sim.apply(Fault::Crash(leader)),
        }
        // Step a millisecond at a time, watching the old leader.
        let (end, mut reign, mut last_index) = (t0 + HORIZON, HORIZON, old_leader.unwrap_or(0));
        let mut t = t0;
        while t < end {
            t = t + ms(1);
            sim.run_until(t).map_err(fail)?;
            let still = cluster::server(&sim, leader)
                .filter(|s| s.is_leader() && s.current_term() == term && reign == HORIZON);
            match still {
                Some(s) => last_index = s.log().last_index(),
                None if reign == HORIZON => reign = t.since(t0),
                None => {}
            }
        }
        let mut answers: Vec<u64> = cluster::histories(&sim)
            .iter()
            .filter(|op| op.output.is_some() && op.return_ns >= t0.0)
            .map(|op| op.return_ns)
            .collect();
        answers.sort_unstable();
        let mut outage = 0;
        let mut before = t0.0;
        for at in answers.iter().copied().chain([end.0]) {
            outage = outage.max(at - before);
            before = at;
        }
        Ok(Outcome {
            served_at_end: answers
                .last()
                .is_some_and(|at| *at + 1_000_000_000 >= end.0),
            elections: sim.metrics().counter("raft.elections") - elections0,
            term_jump: max_term(&sim) - term0,
            longest_outage: Duration::from_nanos(outage),
            old_leader_reign: reign,
            old_leader_appends: last_index - old_leader.unwrap_or(0),
        })
    }
    // ANCHOR_END: run_scenario
}

}
pub mod log {
//! The replicated log: Raft's one data structure, and the vocabulary around it.
//!
//! A Raft log is a sequence of [`Entry`]s numbered from 1 ([`LogIndex`]); each entry carries the
//! [`Term`] in which a leader created it and the command it will apply to the state machine.
//! Index 0 is a sentinel with term 0, so that "the entry before the first one" always exists and
//! the consistency check of `AppendEntries` needs no special case (Ongaro and Ousterhout, "In
//! Search of an Understandable Consensus Algorithm", USENIX ATC 2014, §5.3, Figure 2).
//!
//! Two facts make the log easy to reason about:
//!
//! - **An entry is named by its index and term.** Only one leader exists per term (§5.2) and a
//!   leader never overwrites or moves its own entries, so `(index, term)` identifies at most one
//!   command over the whole run.
//! - **Log Matching (§5.3).** If two logs hold an entry with the same index and term, they are
//!   identical up to that index. The consistency check enforces it inductively: a follower
//!   accepts entries only after the entry just before them matches the leader's.
//!
//! The only way a log shrinks is [`Log::truncate_from`], called by a follower whose suffix
//! conflicts with its leader's; Raft's safety argument (§5.4) shows a committed entry is never
//! in such a suffix. [`Log::truncations`] counts those calls, so the invariant checkers can
//! re-examine a log only when it actually lost entries.
//!
//! **Compaction (§7).** A snapshot replaces a prefix of the log ([`Log::compact_to`],
//! [`Log::install`]): the log then starts after an *offset*, the last index the snapshot covers,
//! and remembers that entry's term, so the consistency check works at the boundary. Indexes stay
//! absolute: [`Log::term_at`] answers for the offset and after, `None` below it.
//!
//! **Persistence.** The log remembers the lowest index it changed since the runtime last took
//! its changes ([`Log::take_unpersisted`]), so that a server can tell its storage exactly which
//! suffix to write (see [`storage`](super::storage)).

use super::kv::Command;

// ANCHOR: vocabulary
/// A term: Raft's logical clock. Each term begins with an election and has at most one leader
/// (§5.1). Terms only grow on every node.
pub type Term = u64;

/// A position in the log, from 1. Index 0 is the empty prefix.
pub type LogIndex = u64;

/// One log entry: a command and the term of the leader that created it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// The term in which a leader appended this entry.
    pub term: Term,
    /// The command to apply, or `None` for the no-op a new leader appends (§8).
    pub command: Option<Command>,
}
// ANCHOR_END: vocabulary

/// A node's log.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// `entries[i - offset - 1]` is the entry at index `i`.
    entries: Vec<Entry>,
    /// The last index a snapshot covers (0: nothing compacted). Invariant: only grows.
    offset: LogIndex,
    /// The term of the entry at `offset` (0 when `offset` is 0).
    offset_term: Term,
    /// How many times a suffix was removed. Monotonic; survives restarts with the log.
    truncations: u64,
    /// The lowest index written or removed since [`Log::take_unpersisted`] (not compared).
    unpersisted_from: Option<LogIndex>,
}

impl PartialEq for Log {
    fn eq(&self, other: &Log) -> bool {
        (
            self.offset,
            self.offset_term,
            self.truncations,
            &self.entries,
        ) == (
            other.offset,
            other.offset_term,
            other.truncations,
            &other.entries,
        )
    }
}

impl Eq for Log {}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// The index of the last entry (0 when empty; the offset when compacted to nothing).
    pub fn last_index(&self) -> LogIndex {
        self.offset + self.entries.len() as LogIndex
    }

    /// The term of the last entry (0 when empty).
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    /// The last index compacted into a snapshot (0 if none): entries start after it.
    pub fn offset(&self) -> LogIndex {
        self.offset
    }

    /// The term of the entry at `index`; 0 for index 0, the snapshot's term at the offset.
    /// `None` if the log is shorter, or if `index` was compacted away.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index <= self.offset {
            return (index == self.offset).then_some(self.offset_term);
        }
        self.entries
            .get((index - self.offset) as usize - 1)
            .map(|e| e.term)
    }

    /// The entry at `index`, if the log holds one there (never at or below the offset).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.offset {
            return None;
        }
        self.entries.get((index - self.offset) as usize - 1)
    }

    /// Up to `max` entries starting at `from`, which must be past the offset.
    pub fn entries_from(&self, from: LogIndex, max: usize) -> &[Entry] {
        assert!(
            from > self.offset,
            "entries up to {} were compacted",
            self.offset
        );
        let start = ((from - self.offset) as usize - 1).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// The first index holding an entry of `term`, searching back from `index` (the hint a
    /// follower returns on a conflict, §5.3). Returns `index` itself if the entry there is the
    /// first of its term.
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        let term = self.term_at(index).expect("index is inside the log");
        let mut first = index;
        while first > self.offset + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// Appends one entry; returns its index.
    pub fn append(&mut self, entry: Entry) -> LogIndex {
        debug_assert!(
            entry.term >= self.last_term(),
            "terms in a log never decrease"
        );
        self.entries.push(entry);
        self.mark(self.last_index());
        self.last_index()
    }

    /// Removes the entries at `index` and after.
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index > self.offset, "cannot truncate into the snapshot");
        if index <= self.last_index() {
            self.entries.truncate((index - self.offset) as usize - 1);
            self.truncations += 1;
            self.mark(index);
        }
    }

    fn mark(&mut self, index: LogIndex) {
        self.unpersisted_from = Some(self.unpersisted_from.map_or(index, |i| i.min(index)));
    }

    /// Drops the entries up to `index`, which the log holds (or is the offset): a snapshot now
    /// covers them. Not a truncation: nothing the log said is contradicted.
    pub fn compact_to(&mut self, index: LogIndex) {
        let term = self.term_at(index).expect("compacting inside the log");
        self.entries.drain(..(index - self.offset) as usize);
        self.offset = index;
        self.offset_term = term;
    }

    /// Makes the log start after a snapshot ending at `(index, term)` (§7): if the log holds
    /// that entry, the entries after it stay (Log Matching: the prefix is the same); otherwise
    /// the whole log is replaced by the snapshot, which counts as a truncation.
    pub fn install(&mut self, index: LogIndex, term: Term) {
        if index < self.offset {
            return; // an older snapshot than the one the log already starts after
        }
        if self.term_at(index) == Some(term) {
            return self.compact_to(index);
        }
        if !self.entries.is_empty() {
            self.truncations += 1;
        }
        self.entries.clear();
        self.offset = index;
        self.offset_term = term;
    }

    /// The suffix changed since the last call, as `(from, entries)`: the log from index `from`
    /// on is now `entries` (possibly none: a truncation). `None` if nothing changed.
    pub fn take_unpersisted(&mut self) -> Option<(LogIndex, Vec<Entry>)> {
        let from = self.unpersisted_from.take()?.max(self.offset + 1);
        let entries = if from <= self.last_index() {
            self.entries_from(from, usize::MAX).to_vec()
        } else {
            Vec::new()
        };
        Some((from, entries))
    }

    /// Storage's side of [`Log::take_unpersisted`]: the log from `from` on becomes `entries`
    /// (entries at or below the offset are already in the snapshot and skipped).
    pub fn write_from(&mut self, from: LogIndex, entries: &[Entry]) {
        let skip = (self.offset + 1)
            .saturating_sub(from)
            .min(entries.len() as LogIndex);
        let from = from + skip;
        if from <= self.last_index() {
            self.truncate_from(from);
        }
        assert!(
            from <= self.last_index() + 1,
            "a gap in the stored log at {from}"
        );
        for entry in &entries[skip as usize..] {
            self.append(entry.clone());
        }
        self.unpersisted_from = None;
    }

    /// How many times a suffix was removed from this log.
    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    // ANCHOR: merge
    /// Stores `entries`, which a leader sent to follow the entry at `prev`, and returns the index
    /// of the last of them. An entry already present with the same term is kept (the same
    /// entry, by Log Matching); the first one whose term differs, and everything after it, is
    /// replaced (§5.3). A stale or duplicated message therefore never removes entries that a
    /// newer message from the same leader already added.
    pub fn merge(&mut self, prev: LogIndex, entries: &[Entry]) -> LogIndex {
        assert!(prev <= self.last_index(), "the consistency check passed");
        let last = prev + entries.len() as LogIndex;
        // Entries a snapshot already covers are committed, hence the same: skip them.
        let skip = self
            .offset
            .saturating_sub(prev)
            .min(entries.len() as LogIndex);
        let (prev, entries) = (prev + skip, &entries[skip as usize..]);
        for (offset, entry) in entries.iter().enumerate() {
            let index = prev + 1 + offset as LogIndex;
            match self.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => self.truncate_from(index),
                None => {}
            }
            self.append(entry.clone());
        }
        last
    }
    // ANCHOR_END: merge
}

}
pub mod message {
//! The messages of Raft (Figure 2) and of its clients (§8).
//!
//! Two RPCs make all of Raft: `RequestVote`, sent by candidates (§5.2), and `AppendEntries`,
//! sent by leaders to replicate entries and, empty, as heartbeats (§5.3). The paper describes
//! them as remote procedure calls; here a call and its result are two independent messages,
//! because the simulated network may lose, duplicate, delay and reorder either one. Every
//! response therefore carries what the receiver needs to use it without remembering the call:
//! the responder's term, and for `AppendEntries` the index up to which the follower's log now
//! matches the leader's (or a hint where to retry).
//!
//! Every Raft message carries the sender's term, and every server obeys one rule before
//! anything else (§5.1): a message with a higher term makes the receiver adopt that term and
//! become a follower; a message with a lower term is stale and is rejected or ignored.

use super::history::KvOutput;
use super::kv::Command;
use super::log::{Entry, LogIndex, Term};
use super::snapshot::Snapshot;
use crate::sim::NodeId;

// ANCHOR: request_vote
/// A candidate asks for a vote (§5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestVote {
    /// The candidate's term.
    pub term: Term,
    /// The candidate.
    pub candidate: NodeId,
    /// The index of the candidate's last log entry (§5.4.1).
    pub last_log_index: LogIndex,
    /// The term of the candidate's last log entry (§5.4.1).
    pub last_log_term: Term,
}

/// A server's answer to a `RequestVote`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestVoteResponse {
    /// The voter's term, for the candidate to update itself.
    pub term: Term,
    /// Whether the voter granted its vote in `term`.
    pub vote_granted: bool,
}
// ANCHOR_END: request_vote

// ANCHOR: append_entries
/// A leader replicates entries, or just asserts its leadership when `entries` is empty (§5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AppendEntries {
    /// The leader's term.
    pub term: Term,
    /// The leader, so that followers can redirect clients.
    pub leader: NodeId,
    /// The index of the entry just before `entries`.
    pub prev_log_index: LogIndex,
    /// The term of that entry: the consistency check (§5.3).
    pub prev_log_term: Term,
    /// The entries to store, starting at `prev_log_index + 1`.
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub leader_commit: LogIndex,
}

/// A follower's answer to an `AppendEntries`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AppendEntriesResponse {
    /// The follower's term.
    pub term: Term,
    /// Whether the consistency check passed and the entries are stored.
    pub success: bool,
    /// On success: the follower's log matches the leader's up to here.
    pub match_index: LogIndex,
    /// On failure: where the leader should try next (the first index of the conflicting term,
    /// or just past the follower's log when it is too short), the optimisation of §5.3.
    pub conflict_index: LogIndex,
}
// ANCHOR_END: append_entries

// ANCHOR: read_heartbeat
/// A leader confirms it still leads before answering reads outside the log (§6.4): round
/// `round` of its term (`reads.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadHeartbeat {
    /// The leader's term.
    pub term: Term,
    /// The leader.
    pub leader: NodeId,
    /// The round, numbered from 1 in each term.
    pub round: u64,
}

/// A server's answer to a `ReadHeartbeat`: its term, and the round it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadHeartbeatResponse {
    /// The responder's term: equal to the leader's if it acknowledges the leader.
    pub term: Term,
    /// The round answered.
    pub round: u64,
}
// ANCHOR_END: read_heartbeat
// ANCHOR: install_snapshot
/// A leader sends its snapshot to a follower that needs entries the leader has compacted away
/// (§7). Simplification: in one message, not in chunks. The follower answers with an
/// [`AppendEntriesResponse`] whose `match_index` is the snapshot's last index.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InstallSnapshot {
    /// The leader's term.
    pub term: Term,
    /// The leader, so that followers can redirect clients.
    pub leader: NodeId,
    /// The snapshot: last included index and term, and the state machine.
    pub snapshot: Snapshot,
}
// ANCHOR_END: install_snapshot

/// A server's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ClientResponse {
    /// The command with this sequence number was applied (once) and produced `output`.
    Done { seq: u64, output: KvOutput },
    /// This server is not the leader; `leader` is its best guess of who is (§8).
    NotLeader { seq: u64, leader: Option<NodeId> },
}

/// Everything that travels between servers and clients.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message {
    RequestVote(RequestVote),
    RequestVoteResponse(RequestVoteResponse),
    AppendEntries(AppendEntries),
    AppendEntriesResponse(AppendEntriesResponse),
    /// A client asks the cluster to apply a command.
    ClientRequest(Command),
    ClientResponse(ClientResponse),
    /// PreVote (thesis §9.6): "would you vote for me in `term`?", where `term` is the asker's
    /// current term plus one, a term that does not exist yet.
    PreVote(RequestVote),
    /// The answer to a `PreVote`; its `term` is the voter's real current term.
    PreVoteResponse(RequestVoteResponse),
    /// A leader's round for reads outside the log (`reads.rs`).
    ReadHeartbeat(ReadHeartbeat),
    ReadHeartbeatResponse(ReadHeartbeatResponse),
    /// A leader's snapshot for a follower that lags behind its compacted log (§7).
    InstallSnapshot(InstallSnapshot),
}

impl Message {
    /// The sender's term, for Raft messages.
    pub fn term(&self) -> Option<Term> {
        match self {
            Message::RequestVote(m) => Some(m.term),
            Message::RequestVoteResponse(m) => Some(m.term),
            Message::AppendEntries(m) => Some(m.term),
            Message::AppendEntriesResponse(m) => Some(m.term),
            Message::ReadHeartbeat(m) => Some(m.term),
            Message::ReadHeartbeatResponse(m) => Some(m.term),
            Message::InstallSnapshot(m) => Some(m.term),
            Message::ClientRequest(_) | Message::ClientResponse(_) => None,
            // The proposed term must not be adopted: asking writes nothing (§9.6).
            Message::PreVote(_) => None,
            Message::PreVoteResponse(m) => Some(m.term),
        }
    }
}
}
pub mod pre_vote_exercise {
//! Exercise: the rule by which a Raft server answers a pre-vote (Ongaro's thesis §9.6).
//!
//! A pre-vote asks "would you vote for me in `term`?" before the asker raises its term. The
//! voter answers yes only if three things hold: the proposed term is above its own; it has not
//! heard from a leader lately (within the *shortest* election timeout), so a server that was
//! merely cut off cannot depose a healthy leader; and the asker's log is at least as up to date
//! as its own (§5.4.1). A leader always says no. Answering writes nothing: no term, no vote.
//!
//! Implement [`starter::Rule::grant`]. The claims to make true are this file's tests: each
//! condition on its own, and agreement with the book's server, which hears a heartbeat from a
//! leader some time before the pre-vote arrives. Run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_pre_vote_rule -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use std::time::Duration;

use super::log::{LogIndex, Term};
use super::message::RequestVote;

/// What a voter knows when a pre-vote arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreVoter {
    /// Its current term (a pre-vote does not change it).
    pub current_term: Term,
    /// Whether it leads its current term.
    pub is_leader: bool,
    /// How long ago, on its clock, it last heard from a leader of its current term; `None` if
    /// it never has.
    pub heard_leader_ago: Option<Duration>,
    /// The index and term of its last log entry (0 and 0 for an empty log).
    pub last_log_index: LogIndex,
    pub last_log_term: Term,
}

/// A pre-vote rule.
pub trait PreVoteRule {
    /// Whether `voter` would vote for the asker of `request`, given the shortest election
    /// timeout `min_timeout`.
    fn grant(voter: &PreVoter, request: &RequestVote, min_timeout: Duration) -> bool;
}

/// Your version.
pub mod starter {
    use super::{Duration, PreVoteRule, PreVoter, RequestVote};

    /// The pre-vote rule.
    pub struct Rule;

    impl PreVoteRule for Rule {
        fn grant(_voter: &PreVoter, _request: &RequestVote, _min_timeout: Duration) -> bool {
            todo!("a later term, no leader heard lately, and a log at least as up to date")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{Duration, PreVoteRule, PreVoter, RequestVote};

    /// The pre-vote rule.
    pub struct Rule;

    impl PreVoteRule for Rule {
        fn grant(voter: &PreVoter, request: &RequestVote, min_timeout: Duration) -> bool {
            let later_term = request.term > voter.current_term;
            let leader_lately =
                voter.is_leader || voter.heard_leader_ago.is_some_and(|ago| ago < min_timeout);
            let up_to_date = (request.last_log_term, request.last_log_index)
                >= (voter.last_log_term, voter.last_log_index);
            later_term && !leader_lately && up_to_date
        }
    }
}

}
pub mod reads {
//! Reads without a log append: ReadIndex, lease reads, and proposal batching.
//!
//! A read through the log (the default, [`ReadMode::Log`]) is linearizable because the read
//! takes a place in the log like a write: it costs an append, a round of `AppendEntries` to a
//! majority and a commit. Ongaro's thesis (§6.4) keeps the guarantee with less work. What a
//! read needs is (1) a *read index*, a commit index at least as high as that of every write
//! acknowledged before the read arrived, and (2) proof that no other leader could have
//! committed anything newer by then. Then any state applied up to the read index answers it.
//!
//! **ReadIndex** ([`ReadMode::ReadIndex`]). On a read, the leader
//! 1. checks that it has committed an entry of its own term (its no-op, §8): only then is its
//!    commit index at least every committed index of earlier terms. Until then the read goes
//!    through the log, as in `Log` mode;
//! 2. records its commit index as the read's index;
//! 3. starts a *round*: a [`ReadHeartbeat`] to every follower, carrying the round number; a
//!    round acknowledged by a majority in the leader's term proves that at the round's start
//!    no server had been elected in a later term (a majority would have had to vote for it, and
//!    one of them would have answered with the higher term). Reads that arrive while a round is
//!    in flight wait for the next round, so that every read's round starts after it arrived;
//!    one round serves every read waiting for it;
//! 4. answers once its state machine has applied the read index.
//!
//! **Lease reads** ([`ReadMode::Lease`], also §6.4). A round acknowledged by a majority also
//! gives the leader a *lease*: each acknowledging follower, having heard from the leader,
//! ignores `RequestVote` for an election timeout (`election_timeout_ms_min`) by its own clock,
//! so no other leader can be elected until the earliest of those ends. While the lease holds,
//! the leader answers reads at once from its state, with no message at all; a lease-mode
//! leader starts a round every heartbeat to keep it. The assumption is about clock *rates*:
//! with every clock running at most `1 + ε` times faster or slower than true time
//! (`ε = max_drift_ppm / 10^6`), a follower's block lasts at least `min / (1 + ε)` of true
//! time and the leader's lease, measured on its own clock, at most `(1 + ε)` times what it
//! reads; so the lease is `min / (1 + ε)^2` from the round's start ([`lease_duration`]). A
//! clock that drifts more than the bound breaks the argument, and a test shows a stale read
//! when it does (`code/tests/part2/ch10_raft_reads.rs`). Offsets do not matter: only durations
//! are compared.
//!
//! **Batching** ([`Config::batching`](super::server::Config)). By default a leader sends an
//! `AppendEntries` to every follower for every command. With batching, it keeps at most one
//! message with entries in flight per follower: commands that arrive meanwhile wait and leave
//! together, up to `max_entries_per_message`, when the follower answers (or at the next
//! heartbeat, if a message was lost). Under load one message carries many commands; at low
//! load nothing waits, because nothing is in flight.
//!
//! Invariants: a read is answered only by the leader of the term it arrived in, only after a
//! round that started after it arrived was acknowledged by a majority in that term (or under
//! a valid lease), and only once `last_applied >= read_index`. Pending reads are dropped when
//! the server stops leading; their clients retry. Simplifications: a read that arrives before
//! the leader's no-op committed goes through the log rather than waiting; followers do not
//! serve reads (the thesis's follower read-index is left out).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::history::{KvInput, KvOutput};
use super::kv::Command;
use super::log::{LogIndex, Term};
use super::message::{ClientResponse, Message, ReadHeartbeat, ReadHeartbeatResponse};
use super::rules::majority;
use super::server::{Role, Server};
use crate::sim::{Ctx, NodeId, Time};

// ANCHOR: read_mode
/// How a leader answers a client's `Get`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Append the read to the log like a write; answer when it is applied.
    #[default]
    Log,
    /// Confirm leadership with a round of heartbeats, then answer at the read index (§6.4).
    ReadIndex,
    /// Answer at once while a lease holds (§6.4). Safe only if no clock runs more than
    /// `1 + max_drift_ppm / 10^6` times faster or slower than true time.
    Lease { max_drift_ppm: u64 },
}
// ANCHOR_END: read_mode

// ANCHOR: lease_duration
/// How long a lease lasts on the leader's clock, from the start of the round that earned it:
/// `election_timeout_min / (1 + ε)^2`, with `ε = max_drift_ppm / 10^6`.
pub fn lease_duration(election_timeout_ms_min: u64, max_drift_ppm: u64) -> Duration {
    let rho = 1.0 + max_drift_ppm as f64 / 1e6;
    Duration::from_secs_f64(election_timeout_ms_min as f64 / 1e3 / (rho * rho))
}
// ANCHOR_END: lease_duration

/// A read waiting for its round or for the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    client: NodeId,
    seq: u64,
    key: String,
    /// The commit index when the read arrived.
    read_index: LogIndex,
    /// The first round that started after the read arrived.
    round: u64,
}

// ANCHOR: read_state
/// A server's bookkeeping for reads outside the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The term the rounds and reads below belong to; a new term starts afresh.
    term: Term,
    /// The latest round started (rounds are numbered from 1 in each term).
    round: u64,
    /// Rounds in flight: when each started (local clock) and who acknowledged it.
    rounds: BTreeMap<u64, (Time, BTreeSet<NodeId>)>,
    /// The highest round acknowledged by a majority.
    confirmed: u64,
    /// Reads not answered yet.
    pending: Vec<PendingRead>,
    /// Lease mode: the leader may answer reads locally before this instant of its clock.
    lease_until: Option<Time>,
    /// Follower side: when (local clock) it last heard from a leader, or started.
    last_contact: Option<Time>,
}
// ANCHOR_END: read_state

impl Server {
    /// Called when the server starts: a restarted follower may have acknowledged a round
    /// before it crashed, so it keeps away from elections as if it had just heard a leader.
    /// (A server that has never seen a term has acknowledged nothing.)
    pub(super) fn reads_on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.current_term > 0 {
            self.reads.last_contact = Some(ctx.now());
        }
    }

    // ANCHOR: lease_blocks_vote
    /// Called before any handler. Records contact with a leader, and in lease mode drops a
    /// `RequestVote` that arrives within an election timeout of that contact: the promise
    /// that makes the leader's lease safe. Returns whether to drop the message.
    pub(super) fn reads_before_message(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        msg: &Message,
    ) -> bool {
        let now = ctx.now();
        match msg {
            Message::AppendEntries(m) if m.term >= self.current_term => {
                self.reads.last_contact = Some(now);
            }
            Message::ReadHeartbeat(m) if m.term >= self.current_term => {
                self.reads.last_contact = Some(now);
            }
            Message::RequestVote(m) if matches!(self.config.read_mode, ReadMode::Lease { .. }) => {
                let min = Duration::from_millis(self.config.election_timeout_ms_min);
                let recent = self.reads.last_contact.is_some_and(|t| now < t + min);
                if recent && self.role != Role::Leader && m.candidate != self.id {
                    ctx.count("raft.votes_ignored_in_lease");
                    return true;
                }
            }
            _ => {}
        }
        false
    }
    // ANCHOR_END: lease_blocks_vote

    /// Starts afresh when the term has changed since the last read.
    fn reads_for_this_term(&mut self) {
        if self.reads.term != self.current_term {
            let last_contact = self.reads.last_contact;
            self.reads = ReadState {
                term: self.current_term,
                last_contact,
                ..ReadState::default()
            };
        }
    }

    // ANCHOR: try_read_without_log
    /// A leader's `Get` outside the log. Returns `false` when the read must go through the log
    /// instead: `Log` mode, or no entry of this term committed yet.
    pub(super) fn try_read_without_log(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        command: &Command,
    ) -> bool {
        let KvInput::Get { key } = &command.input else {
            return false;
        };
        let own_term_committed = self.log.term_at(self.commit_index) == Some(self.current_term);
        if self.config.read_mode == ReadMode::Log || !own_term_committed {
            return false;
        }
        self.reads_for_this_term();
        let now = ctx.now();
        if self.reads.lease_until.is_some_and(|until| now < until) {
            ctx.count("raft.lease_reads");
            let output = KvOutput::Value(self.kv.get(key).map(str::to_string));
            self.answer_read(from, command.seq, output);
            return true;
        }
        // A round already in flight started before this read: wait for the next one.
        let in_flight = self.reads.rounds.contains_key(&self.reads.round);
        let round = self.reads.round + 1;
        self.reads.pending.push(PendingRead {
            client: from,
            seq: command.seq,
            key: key.clone(),
            read_index: self.commit_index,
            round,
        });
        if !in_flight {
            self.start_read_round(ctx);
        }
        true
    }
    // ANCHOR_END: try_read_without_log

    /// Sends a `ReadHeartbeat` of a new round to every follower.
    fn start_read_round(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.reads_for_this_term();
        self.reads.round += 1;
        let round = self.reads.round;
        let me = BTreeSet::from([self.id]);
        // Rounds whose messages were lost are forgotten after a few newer ones.
        self.reads.rounds.retain(|r, _| r + 8 > round);
        self.reads.rounds.insert(round, (ctx.now(), me));
        ctx.count("raft.read_rounds");
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            let m = ReadHeartbeat {
                term: self.current_term,
                leader: self.id,
                round,
            };
            self.send(peer, Message::ReadHeartbeat(m));
        }
        self.check_round(ctx, round); // a cluster of one confirms at once
    }

    // ANCHOR: on_read_heartbeat
    /// A follower's side: acknowledge a leader of the current term, as for `AppendEntries`.
    pub(super) fn on_read_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: ReadHeartbeat,
    ) {
        if m.term == self.current_term && self.role != Role::Leader {
            if self.role == Role::Candidate || self.leader.is_none() {
                self.become_follower(ctx, m.term, Some(m.leader));
            }
            self.reset_election_timer(ctx);
        }
        let response = ReadHeartbeatResponse {
            term: self.current_term,
            round: m.round,
        };
        self.send(from, Message::ReadHeartbeatResponse(response));
    }

    /// The leader's side: count an acknowledgement of this term's round.
    pub(super) fn on_read_heartbeat_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: ReadHeartbeatResponse,
    ) {
        if self.role != Role::Leader || m.term != self.current_term {
            return;
        }
        self.reads_for_this_term();
        if let Some((_, acks)) = self.reads.rounds.get_mut(&m.round) {
            acks.insert(from);
            self.check_round(ctx, m.round);
        }
    }
    // ANCHOR_END: on_read_heartbeat

    /// Confirms `round` once a majority (the leader included) acknowledged it: extends the
    /// lease, serves the reads it covers, and starts the next round if reads wait for one.
    fn check_round(&mut self, ctx: &mut Ctx<'_, Message>, round: u64) {
        let Some((started, acks)) = self.reads.rounds.get(&round) else {
            return;
        };
        if acks.len() < majority(self.servers) {
            return;
        }
        let started = *started;
        self.reads.confirmed = self.reads.confirmed.max(round);
        self.reads.rounds.retain(|r, _| *r > round);
        if let ReadMode::Lease { max_drift_ppm } = self.config.read_mode {
            let lease = lease_duration(self.config.election_timeout_ms_min, max_drift_ppm);
            let until = started + lease;
            self.reads.lease_until = Some(self.reads.lease_until.map_or(until, |u| u.max(until)));
        }
        self.serve_reads(ctx);
        let waiting = self
            .reads
            .pending
            .iter()
            .any(|r| r.round > self.reads.round);
        if waiting && !self.reads.rounds.contains_key(&self.reads.round) {
            self.start_read_round(ctx);
        }
    }

    // ANCHOR: serve_reads
    /// Answers every pending read whose round is confirmed and whose index is applied.
    pub(super) fn serve_reads(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.reads.pending.is_empty() {
            return;
        }
        if self.role != Role::Leader || self.reads.term != self.current_term {
            self.reads.pending.clear(); // deposed: the clients will retry elsewhere
            return;
        }
        let (confirmed, applied) = (self.reads.confirmed, self.last_applied);
        let (ready, waiting) = std::mem::take(&mut self.reads.pending)
            .into_iter()
            .partition(|r| r.round <= confirmed && r.read_index <= applied);
        self.reads.pending = waiting;
        for read in ready {
            let output = KvOutput::Value(self.kv.get(&read.key).map(str::to_string));
            ctx.count("raft.read_index_reads");
            self.answer_read(read.client, read.seq, output);
        }
    }
    // ANCHOR_END: serve_reads

    /// The heartbeat timer fired on a leader: keep a lease alive, and retry a round that may
    /// have lost its messages.
    pub(super) fn reads_on_heartbeat(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader {
            return;
        }
        self.reads_for_this_term();
        let lease = matches!(self.config.read_mode, ReadMode::Lease { .. });
        let waiting = self
            .reads
            .pending
            .iter()
            .any(|r| r.round > self.reads.confirmed);
        if lease || waiting {
            self.start_read_round(ctx);
        }
    }

    // ANCHOR: replicate_new_entry
    /// A leader appended a client's command: send it now, or, with batching, only to the
    /// followers that have no entries in flight (the others get it with the next message).
    pub(super) fn replicate_new_entry(&mut self, ctx: &mut Ctx<'_, Message>) {
        if !self.config.batching {
            return self.broadcast_append_entries(ctx);
        }
        let me = self.id.0;
        for peer in (0..self.servers).filter(|p| *p != me) {
            if self.next_index[peer] == self.match_index[peer] + 1 {
                self.send_append_entries(ctx, NodeId(peer));
            } else {
                ctx.count("raft.batched");
            }
        }
    }
    // ANCHOR_END: replicate_new_entry

    /// Queues a read's answer for its client.
    fn answer_read(&mut self, client: NodeId, seq: u64, output: KvOutput) {
        let done = ClientResponse::Done { seq, output };
        self.send(client, Message::ClientResponse(done));
    }
}

}
pub mod replication {
//! Log replication (§5.3), the commit rule (§5.4.2) and applying committed entries.
//!
//! The leader appends each client command to its own log and sends it to every follower in an
//! `AppendEntries` that also names the entry just before it, `(prev_log_index, prev_log_term)`.
//! A follower accepts only if its log holds that very entry: the *consistency check*. By
//! induction the follower's log then equals the leader's up to the new entries (Log Matching).
//! On a mismatch the follower answers where to retry, and the leader backs `next_index` off
//! and sends again, earlier, until the logs meet; the follower then replaces its conflicting
//! suffix with the leader's ([`Log::merge`](super::log::Log::merge)).
//!
//! Replication is *pipelined*: after sending entries up to index `i`, the leader moves
//! `next_index` past `i` without waiting, so a busy leader keeps several messages in flight per
//! follower. A lost or reordered message shows up as a failed consistency check of the next
//! one, which backs `next_index` off again. Heartbeats are the same message, usually empty.
//!
//! **Committing (§5.4.2).** An entry is committed once the leader that created it has stored it
//! on a majority. The leader computes the highest index on a majority from its `match_index`
//! ([`commit_index`]) but commits it *only if that entry is from its current term*; earlier
//! entries are then committed indirectly, by Log Matching. Figure 8 of the paper shows why
//! counting replicas of an older entry is not enough: an entry of term 2 stored on a majority
//! can still be overwritten by a leader of term 3 whose log lacks it, because voters compare
//! last terms, not counts. The scenario test
//! `figure_8_leader_does_not_commit_previous_term_entry_by_counting` replays it, and
//! `code/tests/part2/ch10_figure8_campaign.rs` shows that a campaign finds the bug when the rule is
//! switched off ([`CommitRule::CountAnyTerm`], a planted bug that exists only for that test).
//!
//! **Applying.** Every server applies committed entries in index order to its state machine.
//! The leader of the term in which an entry was created answers the client when it applies it.

use super::history::KvOutput;
use super::kv::Command;
use super::log::{Entry, LogIndex};
use super::message::{AppendEntries, AppendEntriesResponse, ClientResponse, Message};
use super::rules::commit_index;
use super::server::{CommitRule, HEARTBEAT, Role, Server};
use crate::sim::{Ctx, NodeId};
use std::time::Duration;

impl Server {
    /// The heartbeat timer fired: a leader sends `AppendEntries` to every follower.
    pub(super) fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role == Role::Leader {
            self.broadcast_append_entries(ctx);
            self.reads_on_heartbeat(ctx);
            ctx.set_timer(HEARTBEAT, Duration::from_millis(self.config.heartbeat_ms));
        }
    }

    /// Sends every follower what it lacks, or an empty heartbeat.
    pub(super) fn broadcast_append_entries(&mut self, ctx: &mut Ctx<'_, Message>) {
        for peer in 0..self.servers {
            if peer != self.id.0 {
                self.send_append_entries(ctx, NodeId(peer));
            }
        }
    }

    // ANCHOR: send_append_entries
    /// Sends `peer` the entries from its `next_index` on (at most one message's worth), then
    /// moves `next_index` past them: the pipeline's optimistic step.
    pub(super) fn send_append_entries(&mut self, ctx: &mut Ctx<'_, Message>, peer: NodeId) {
        let next = self.next_index[peer.0];
        if next <= self.log.offset() {
            return self.send_snapshot(ctx, peer); // compacted away: InstallSnapshot (§7)
        }
        let prev_log_index = next - 1;
        let prev_log_term = self
            .log
            .term_at(prev_log_index)
            .expect("next_index <= last + 1");
        let max = self.config.max_entries_per_message;
        let entries = self.log.entries_from(next, max).to_vec();
        self.next_index[peer.0] = next + entries.len() as LogIndex;
        let message = AppendEntries {
            term: self.current_term,
            leader: self.id,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(peer, Message::AppendEntries(message));
    }
    // ANCHOR_END: send_append_entries

    // ANCHOR: on_append_entries
    /// A follower's side: the term check, the consistency check, storing, committing.
    pub(super) fn on_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: AppendEntries,
    ) {
        let reply = |s: &mut Server, term, success, match_index, conflict_index| {
            let response = AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_index,
            };
            s.send(from, Message::AppendEntriesResponse(response));
        };
        if m.term < self.current_term {
            // A deposed leader: the term in the answer tells it to step down (§5.1).
            return reply(self, self.current_term, false, 0, 0);
        }
        assert!(
            self.role != Role::Leader,
            "two leaders in term {}: {} and {}",
            m.term,
            self.id,
            m.leader
        );
        if self.role == Role::Candidate || self.leader.is_none() {
            // A leader of this term exists: this server lost the election or missed it (§5.2).
            self.become_follower(ctx, m.term, Some(m.leader));
        }
        self.reset_election_timer(ctx);
        let term = self.current_term;
        // The consistency check (§5.3).
        if m.prev_log_index > self.log.last_index() {
            return reply(self, term, false, 0, self.log.last_index() + 1);
        }
        // Below the offset the entries are committed and in the snapshot: they match.
        if m.prev_log_index >= self.log.offset()
            && self.log.term_at(m.prev_log_index) != Some(m.prev_log_term)
        {
            let conflict = self.log.first_index_of_term_at(m.prev_log_index);
            return reply(self, term, false, 0, conflict);
        }
        let last_new = self.log.merge(m.prev_log_index, &m.entries);
        // Only the prefix this message vouched for is known to match the leader's log; entries
        // beyond `last_new` may be stale leftovers, so the commit index stops there (Figure 2).
        let commit = m.leader_commit.min(last_new);
        if commit > self.commit_index {
            self.commit_index = commit;
            self.apply_committed(ctx);
        }
        reply(self, term, true, last_new, 0);
    }
    // ANCHOR_END: on_append_entries

    // ANCHOR: on_append_entries_response
    /// The leader's side: advance on success, back off on a failed consistency check.
    pub(super) fn on_append_entries_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: AppendEntriesResponse,
    ) {
        if self.role != Role::Leader || m.term != self.current_term {
            return; // stale: from an earlier term, or this server no longer leads
        }
        let peer = from.0;
        if m.success {
            // Responses may arrive reordered or twice: only ever move forward.
            self.match_index[peer] = self.match_index[peer].max(m.match_index);
            self.next_index[peer] = self.next_index[peer].max(self.match_index[peer] + 1);
            self.maybe_commit(ctx);
            if self.next_index[peer] <= self.log.last_index() {
                self.send_append_entries(ctx, from); // more than one message's worth behind
            }
        } else {
            // Never back off below what is known to match, nor below 1.
            let retry = m.conflict_index.max(self.match_index[peer] + 1).max(1);
            if retry < self.next_index[peer] {
                self.next_index[peer] = retry;
                self.send_append_entries(ctx, from);
            }
        }
    }
    // ANCHOR_END: on_append_entries_response

    // ANCHOR: maybe_commit
    /// Commits the highest index stored on a majority, if it is from the current term
    /// (§5.4.2, Figure 8); everything before it is then committed too. (Unless the planted
    /// bug [`CommitRule::CountAnyTerm`] is configured, which skips the term test.)
    pub(super) fn maybe_commit(&mut self, ctx: &mut Ctx<'_, Message>) {
        let candidate = commit_index(&self.match_index);
        let own_term = self.log.term_at(candidate) == Some(self.current_term);
        let allowed = match self.config.commit_rule {
            CommitRule::CurrentTermOnly => own_term,
            CommitRule::CountAnyTerm => true,
        };
        if candidate > self.commit_index && allowed {
            self.commit_index = candidate;
            self.apply_committed(ctx);
        }
    }
    // ANCHOR_END: maybe_commit

    // ANCHOR: apply_committed
    /// Applies every committed entry not yet applied, in order; the leader that created an
    /// entry answers its client.
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<'_, Message>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let entry = self
                .log
                .entry(self.last_applied)
                .expect("committed entries exist");
            ctx.count("raft.applied");
            let Some(command) = &entry.command else {
                continue; // a leader's no-op
            };
            let output = self.kv.apply(command);
            let created_here = self.role == Role::Leader && entry.term == self.current_term;
            if let (true, Some(output)) = (created_here, output) {
                let client = NodeId(command.client as usize);
                self.reply_done(client, command.seq, output);
            }
        }
        self.serve_reads(ctx); // reads waiting for their index (reads.rs)
        self.maybe_snapshot(ctx);
    }
    // ANCHOR_END: apply_committed

    // ANCHOR: on_client_request
    /// A client's command: a leader appends it and replicates it at once; anyone else redirects
    /// the client (§8). A retry of a command already applied is answered from the session.
    pub(super) fn on_client_request(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        command: Command,
    ) {
        if self.role != Role::Leader {
            return self.redirect(ctx, from, command.seq);
        }
        if let Some(output) = self.kv.cached(command.client, command.seq) {
            return self.reply_done(from, command.seq, output.clone());
        }
        if self.try_read_without_log(ctx, from, &command) {
            return; // ReadIndex or lease (reads.rs)
        }
        let index = self.log.append(Entry {
            term: self.current_term,
            command: Some(command),
        });
        self.match_index[self.id.0] = index;
        self.next_index[self.id.0] = index + 1;
        self.replicate_new_entry(ctx); // at once, or batched (reads.rs)
        self.maybe_commit(ctx); // a cluster of one commits at once
    }
    // ANCHOR_END: on_client_request
}

impl Server {
    fn reply_done(&mut self, client: NodeId, seq: u64, output: KvOutput) {
        self.send(
            client,
            Message::ClientResponse(ClientResponse::Done { seq, output }),
        );
    }
}
}
pub mod rules {
//! Raft's three counting rules, as pure functions.
//!
//! Everything Raft decides by counting or comparing is here, free of messages and timers, so
//! each rule can be read in one line and tested against a table:
//!
//! - [`majority`]: how many servers make a quorum. Any two majorities of the same cluster share
//!   a server, which is the root of every safety argument in Raft: two candidates cannot both
//!   win a term (§5.2), and a committed entry is stored on at least one voter of every later
//!   election (§5.4.1).
//! - [`is_log_up_to_date`]: the election restriction (§5.4.1). A voter refuses a candidate whose
//!   log is less up to date than its own: compare the terms of the last entries, then, on equal
//!   terms, the lengths.
//! - [`commit_index`]: the highest index stored on a majority, given every server's
//!   `match_index` (the leader's own last index included). This is only a *candidate* for the
//!   commit index: the leader may commit it by counting only if its entry is from the current
//!   term (§5.4.2, Figure 8); see `maybe_commit` in `replication.rs`.

use super::log::{LogIndex, Term};

// ANCHOR: majority
/// The size of the smallest majority of `n` servers.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}
// ANCHOR_END: majority

// ANCHOR: commit_index
/// The highest log index that a majority of servers store, given one `match_index` per server
/// (the leader's own last index included). 0 if there is no server.
pub fn commit_index(match_indexes: &[LogIndex]) -> LogIndex {
    if match_indexes.is_empty() {
        return 0;
    }
    let mut sorted = match_indexes.to_vec();
    // Largest first: the majority-th largest value is stored on at least a majority.
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[majority(sorted.len()) - 1]
}
// ANCHOR_END: commit_index

// ANCHOR: is_log_up_to_date
/// Whether a candidate whose log ends with `(candidate_last_term, candidate_last_index)` is at
/// least as up to date as a voter whose log ends with `(last_term, last_index)` (§5.4.1).
pub fn is_log_up_to_date(
    candidate_last_term: Term,
    candidate_last_index: LogIndex,
    last_term: Term,
    last_index: LogIndex,
) -> bool {
    (candidate_last_term, candidate_last_index) >= (last_term, last_index)
}
// ANCHOR_END: is_log_up_to_date

}
pub mod server {
//! A Raft server: its state (Figure 2), its roles, and how inputs reach the right handler.
//!
//! A server is a follower, a candidate or a leader (§5.1). It starts as a follower; a follower
//! that hears nothing from a leader for an *election timeout* becomes a candidate
//! (`election.rs`); a candidate that collects votes from a majority becomes the leader, which
//! replicates its log and sends heartbeats (`replication.rs`). Any message carrying a higher
//! term turns any server back into a follower of that term.
//!
//! **Persistence.** `current_term`, `voted_for`, the log and the last snapshot survive a crash
//! ([`Durable`]); the rest (role, commit index, the state machine) is rebuilt: the restarted
//! server is a follower that restores its snapshot, relearns the commit index from the next
//! leader and replays its log into the store. Handlers do not write to disk nor send: they
//! change memory and queue messages ([`Server::send`]); the runtime then takes a
//! [`Ready`](super::storage::Ready) with [`Server::take_ready`], persists its writes and only
//! then sends (Figure 2, "Updated on stable storage before responding"; see
//! [`storage`](super::storage)).
//!
//! Timers: [`ELECTION`] fires after a random timeout drawn from
//! `election_timeout_ms_min..=election_timeout_ms_max` with the node's `ctx.rng()`, and is reset
//! whenever the server hears from the current leader or grants a vote (§5.2). [`HEARTBEAT`] fires
//! every `heartbeat_ms` on a leader.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::kv::KvStore;
use super::leadership::{CHECK_QUORUM, Leadership};
use super::log::{Log, LogIndex, Term};
use super::message::{ClientResponse, Message};
use super::reads::{ReadMode, ReadState};
use super::snapshot::Snapshot;
use rand::RngExt;

use crate::sim::{Ctx, NodeId, TimerId};

/// A follower or candidate starts an election when this fires.
pub const ELECTION: TimerId = TimerId(0);
/// A leader sends its heartbeats when this fires.
pub const HEARTBEAT: TimerId = TimerId(1);

// ANCHOR: config
/// The knobs of a Raft server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The shortest election timeout, in milliseconds.
    pub election_timeout_ms_min: u64,
    /// The longest election timeout, in milliseconds (inclusive). The width of
    /// `min..=max` is what breaks split votes (§5.2, §9.3).
    pub election_timeout_ms_max: u64,
    /// How often a leader sends `AppendEntries` to every follower, in milliseconds.
    pub heartbeat_ms: u64,
    /// The most entries one `AppendEntries` carries.
    pub max_entries_per_message: usize,
    /// How a leader decides that an entry is committed. Always
    /// [`CommitRule::CurrentTermOnly`] (§5.4.2) except in tests that plant the Figure 8 bug to
    /// show that the campaign catches it.
    pub commit_rule: CommitRule,
    /// CheckQuorum: a leader that has not heard from a majority within the longest election
    /// timeout steps down (thesis §6.2, [`leadership`](super::leadership)).
    pub check_quorum: bool,
    /// PreVote: a server asks whether it could win before it increments its term (§9.6).
    pub pre_vote: bool,
    /// How a leader answers reads: through the log (the default), ReadIndex or a lease.
    pub read_mode: ReadMode,
    /// Whether a leader batches new entries: at most one `AppendEntries` with entries in
    /// flight per follower (`reads.rs`). Off by default: one message per command.
    pub batching: bool,
    /// Take a snapshot and compact the log once this many applied entries follow the last
    /// snapshot (§7). `None`: never, the log grows for the whole run.
    pub log_compaction_threshold: Option<u64>,
}
// ANCHOR_END: config

/// The leader's commit rule: the correct one, and a planted bug kept so that a test can show
/// the campaign of `code/tests/part2/ch10_figure8_campaign.rs` finds it. Never use the bug otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitRule {
    /// Commit the highest index stored on a majority only if its entry is from the leader's
    /// current term; earlier entries then commit with it (§5.4.2). Correct.
    #[default]
    CurrentTermOnly,
    /// The planted bug: commit the highest index stored on a majority whatever its term. An
    /// entry of an earlier term can be on a majority and still be overwritten (Figure 8), so
    /// this breaks leader completeness and state machine safety.
    CountAnyTerm,
}

impl Default for Config {
    /// The paper's suggestion: timeouts of 150-300 ms (§9.3), heartbeats well below them.
    fn default() -> Config {
        Config {
            election_timeout_ms_min: 150,
            election_timeout_ms_max: 300,
            heartbeat_ms: 50,
            max_entries_per_message: 64,
            commit_rule: CommitRule::CurrentTermOnly,
            check_quorum: true,
            pre_vote: true,
            read_mode: ReadMode::Log,
            batching: false,
            log_compaction_threshold: None,
        }
    }
}

/// A configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `election_timeout_ms_min > election_timeout_ms_max`, or the minimum is zero.
    TimeoutRange { min: u64, max: u64 },
    /// Heartbeats must come more often than the shortest election timeout, or followers
    /// would start elections against a healthy leader.
    HeartbeatTooSlow { heartbeat_ms: u64, min: u64 },
    /// `max_entries_per_message` must be at least 1.
    NoEntriesPerMessage,
    /// A cluster needs a server, and a client must send each operation at least once.
    EmptyCluster,
    /// `log_compaction_threshold` must be at least 1.
    NoCompactionThreshold,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TimeoutRange { min, max } => {
                write!(
                    f,
                    "election timeout range {min}..={max} ms is empty or starts at 0"
                )
            }
            ConfigError::HeartbeatTooSlow { heartbeat_ms, min } => write!(
                f,
                "heartbeat every {heartbeat_ms} ms is not below the {min} ms election timeout"
            ),
            ConfigError::NoEntriesPerMessage => write!(f, "max_entries_per_message is 0"),
            ConfigError::EmptyCluster => write!(f, "no servers, or clients that never send"),
            ConfigError::NoCompactionThreshold => write!(f, "log_compaction_threshold is 0"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks that the configuration can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.election_timeout_ms_min, self.election_timeout_ms_max);
        if min == 0 || min > max {
            return Err(ConfigError::TimeoutRange { min, max });
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms >= min {
            let heartbeat_ms = self.heartbeat_ms;
            return Err(ConfigError::HeartbeatTooSlow { heartbeat_ms, min });
        }
        if self.max_entries_per_message == 0 {
            return Err(ConfigError::NoEntriesPerMessage);
        }
        if self.log_compaction_threshold == Some(0) {
            return Err(ConfigError::NoCompactionThreshold);
        }
        Ok(())
    }
}

/// What a server is doing in its current term (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

// ANCHOR: durable
/// What a server keeps on disk (Figure 2, "persistent state on all servers").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable {
    /// The latest term the server has seen.
    pub current_term: Term,
    /// Whom it voted for in `current_term`, if anyone. Kept so that it never votes twice in
    /// one term, even across a crash (§5.2).
    pub voted_for: Option<NodeId>,
    /// Its log.
    pub log: Log,
    /// The last snapshot it took or installed (§7); the log starts at or before its end.
    pub snapshot: Option<Snapshot>,
}
// ANCHOR_END: durable

impl Durable {
    /// An empty disk: term 0, no vote, no log, no snapshot.
    pub fn empty() -> Durable {
        Durable {
            current_term: 0,
            voted_for: None,
            log: Log::new(),
            snapshot: None,
        }
    }
}

// ANCHOR: server
/// One Raft server with its key-value state machine.
#[derive(Clone, Debug)]
pub struct Server {
    /// This server. Servers are nodes `0..servers` of the simulation.
    pub(super) id: NodeId,
    /// How many servers the cluster has (a fixed membership, no reconfiguration).
    pub(super) servers: usize,
    /// Timeouts and batching.
    pub(super) config: Config,
    /// Durable: the latest term seen. Invariant: never decreases, even across restarts.
    pub(super) current_term: Term,
    /// Durable: the candidate voted for in `current_term`.
    pub(super) voted_for: Option<NodeId>,
    /// Durable: the log.
    pub(super) log: Log,
    /// Follower, candidate or leader.
    pub(super) role: Role,
    /// The leader of `current_term`, when known: where to redirect clients (§8).
    pub(super) leader: Option<NodeId>,
    /// A candidate's votes in `current_term`, itself included.
    pub(super) votes: BTreeSet<NodeId>,
    /// Leader only, per server: the next index to send. Invariant: `match_index < next_index`.
    pub(super) next_index: Vec<LogIndex>,
    /// Leader only, per server: the highest index known to match the leader's log.
    pub(super) match_index: Vec<LogIndex>,
    /// The highest index known committed. Invariant: never decreases while the server is up.
    pub(super) commit_index: LogIndex,
    /// The highest index applied to `kv`. Invariant: `last_applied <= commit_index`.
    pub(super) last_applied: LogIndex,
    /// The state machine.
    pub(super) kv: KvStore,
    /// CheckQuorum and PreVote bookkeeping (not durable).
    pub(super) leadership: Leadership,
    /// Reads outside the log: rounds, pending reads, the lease (`reads.rs`).
    pub(super) reads: ReadState,
    /// The last snapshot taken or installed. Invariant: `log.offset() <= its last index <=
    /// last_applied`.
    pub(super) snapshot: Option<Snapshot>,
    /// Whether `snapshot` is newer than what the disk holds.
    pub(super) snapshot_unpersisted: bool,
    /// The term and vote the disk holds.
    pub(super) persisted_hard_state: (Term, Option<NodeId>),
    /// Messages queued by handlers, sent by the runtime after the next persist.
    pub(super) outbox: Vec<(NodeId, Message)>,
}
// ANCHOR_END: server

impl Server {
    /// A fresh server with an empty disk. The configuration must be valid.
    pub fn new(id: NodeId, servers: usize, config: Config) -> Server {
        Server::restart(id, servers, config, Durable::empty())
    }

    /// A server rebuilt from what it had on disk: a follower, nothing committed or applied yet.
    pub fn restart(id: NodeId, servers: usize, config: Config, disk: Durable) -> Server {
        if let Err(e) = config.validate() {
            panic!("invalid Raft configuration: {e}");
        }
        assert!(
            id.0 < servers,
            "server {id} outside the cluster of {servers}"
        );
        let mut log = disk.log;
        // The snapshot's entries are committed and applied: restore the store from it.
        let (kv, applied) = match &disk.snapshot {
            Some(s) => {
                log.install(s.last_index, s.last_term);
                (s.state.clone(), s.last_index)
            }
            None => (KvStore::default(), 0),
        };
        Server {
            id,
            servers,
            config,
            current_term: disk.current_term,
            voted_for: disk.voted_for,
            log,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            next_index: vec![1; servers],
            match_index: vec![0; servers],
            leadership: Leadership::default(),
            reads: ReadState::default(),
            commit_index: applied,
            last_applied: applied,
            kv,
            snapshot: disk.snapshot,
            snapshot_unpersisted: false,
            persisted_hard_state: (disk.current_term, disk.voted_for),
            outbox: Vec::new(),
        }
    }

    /// What survives a crash once the pending [`Ready`](super::storage::Ready) is persisted.
    pub fn durable(&self) -> Durable {
        Durable {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.clone(),
            snapshot: self.snapshot.clone(),
        }
    }

    /// The server starts (or restarts) as a follower waiting for a leader.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.reset_election_timer(ctx);
        self.reads_on_start(ctx);
    }

    /// One message from `from`.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        if self.reads_before_message(ctx, &msg) {
            return; // a vote request inside a lease (reads.rs)
        }
        // ANCHOR: adopt_higher_term
        // §5.1: a higher term, from anyone, makes this server a follower of that term, before
        // the handler below sees the message.
        if let Some(term) = msg.term()
            && term > self.current_term
        {
            self.become_follower(ctx, term, None);
        }
        // ANCHOR_END: adopt_higher_term
        self.note_contact(ctx, from, &msg);
        match msg {
            Message::RequestVote(m) => self.on_request_vote(ctx, from, m),
            Message::RequestVoteResponse(m) => self.on_request_vote_response(ctx, from, m),
            Message::AppendEntries(m) => self.on_append_entries(ctx, from, m),
            Message::AppendEntriesResponse(m) => self.on_append_entries_response(ctx, from, m),
            Message::ClientRequest(command) => self.on_client_request(ctx, from, command),
            Message::ReadHeartbeat(m) => self.on_read_heartbeat(ctx, from, m),
            Message::ReadHeartbeatResponse(m) => self.on_read_heartbeat_response(ctx, from, m),
            Message::InstallSnapshot(m) => self.on_install_snapshot(ctx, from, m),
            Message::ClientResponse(_) => {} // servers are not clients
            Message::PreVote(m) => self.on_pre_vote(ctx, from, m),
            Message::PreVoteResponse(m) => self.on_pre_vote_response(ctx, from, m),
        }
    }

    /// One timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match timer {
            ELECTION => self.on_election_timeout(ctx),
            HEARTBEAT => self.on_heartbeat(ctx),
            CHECK_QUORUM => self.on_check_quorum(ctx),
            _ => {}
        }
    }

    // ANCHOR: become_follower
    /// Adopts `term` (which must not be older) as a follower; `leader` if known. A leader or
    /// candidate stepping down starts waiting for the next leader again.
    pub fn become_follower(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        term: Term,
        leader: Option<NodeId>,
    ) {
        assert!(term >= self.current_term, "terms never go back");
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
        }
        if self.role == Role::Leader {
            ctx.cancel_timer(HEARTBEAT);
            self.reset_election_timer(ctx);
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
    }
    // ANCHOR_END: become_follower

    /// Draws a fresh election timeout from the configured range (§5.2).
    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Message>) {
        let min = self.config.election_timeout_ms_min;
        let max = self.config.election_timeout_ms_max;
        let ms = ctx.rng().random_range(min..=max);
        ctx.set_timer(ELECTION, Duration::from_millis(ms));
    }

    /// Tells a client this server cannot serve it, with the best guess of who can.
    pub(super) fn redirect(&mut self, _ctx: &mut Ctx<'_, Message>, client: NodeId, seq: u64) {
        let leader = self.leader.filter(|l| *l != self.id);
        self.send(
            client,
            Message::ClientResponse(ClientResponse::NotLeader { seq, leader }),
        );
    }

    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Its current term.
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    /// Whom it voted for in its current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// Its role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether it is the leader of its current term.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
    /// The leader it knows of in its current term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Its log.
    pub fn log(&self) -> &Log {
        &self.log
    }
    /// Its commit index.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }
    /// The last index it applied.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }
    /// Its state machine.
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }
    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the configuration of a running server; timers already set keep their
    /// durations, the next ones use the new values.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }
}
}
pub mod snapshot {
//! Snapshots and log compaction (Raft paper §7; Ongaro's thesis, chapter 5).
//!
//! A log that only grows makes a server's disk fill up and its restart replay every command
//! ever written. Once the state machine has applied a prefix of the log, that prefix is
//! redundant: the state it produced says everything a future reader needs. A server therefore
//! writes a [`Snapshot`] (the key-value store *with its client sessions*, so that a retried
//! command is still answered once, plus the index and term of the last entry it covers) and
//! drops the log up to that index. The log keeps the snapshot's last index and term as its
//! new starting point, so the consistency check of `AppendEntries` still works at the boundary.
//!
//! **When.** Compaction is driven by a size threshold ([`Config::log_compaction_threshold`]):
//! once the server has applied that many entries past its last snapshot, it takes a new one at
//! its `last_applied`. `None` keeps the whole log (the behaviour of chapter 10). Each server
//! compacts on its own; snapshots cover only applied, hence committed, entries, so compaction
//! never removes an entry that could still change.
//!
//! **InstallSnapshot.** A leader that has compacted past a follower's `next_index` can no longer
//! send the entries that follower lacks. It sends its snapshot instead ([`InstallSnapshot`]).
//! The follower keeps the part of its log that follows the snapshot if its log holds the
//! snapshot's last entry with the same term (by Log Matching its prefix is then the same);
//! otherwise it discards its whole log. Either way it replaces its state machine with the
//! snapshot's and answers as it would an `AppendEntries` that brought its log up to the
//! snapshot's last index. A snapshot older than what the follower has already committed is
//! ignored (it is answered, so that the leader moves on).
//!
//! **Invariants.** `log.offset() <= snapshot.last_index <= last_applied <= commit_index`; the
//! log's term at `offset()` is the term of the entry there. A server takes a snapshot at the end
//! of a step and drops the covered log prefix from memory at the next one (the disk drops it at
//! once): that way the simulator's safety checkers, which run between steps, see every applied
//! entry once.
//!
//! Simplifications: the snapshot travels in one message (the paper sends it in chunks with an
//! offset and a `done` flag, Figure 13) and is a full copy of the store, taken synchronously
//! (real servers write it in the background, copy-on-write; thesis §5.2).
//!
//! [`Config::log_compaction_threshold`]: super::server::Config::log_compaction_threshold
//! [`InstallSnapshot`]: super::message::InstallSnapshot

use super::kv::KvStore;
use super::log::{LogIndex, Term};
use super::message::{AppendEntriesResponse, InstallSnapshot, Message};
use super::server::Server;
use crate::sim::{Ctx, NodeId};

// ANCHOR: snapshot
/// The state machine at one index of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// The index of the last entry the snapshot covers.
    pub last_index: LogIndex,
    /// The term of that entry: the consistency check at the log's new start.
    pub last_term: Term,
    /// The key-value store and its client sessions after applying every entry up to
    /// `last_index`.
    pub state: KvStore,
}
// ANCHOR_END: snapshot

impl Server {
    /// The last snapshot this server took or installed.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The index the last snapshot covers (0 without one).
    pub(super) fn snapshot_index(&self) -> LogIndex {
        self.snapshot.as_ref().map_or(0, |s| s.last_index)
    }

    // ANCHOR: maybe_snapshot
    /// Takes a snapshot at `last_applied` once the log holds `log_compaction_threshold` applied
    /// entries past the last one. The disk drops the covered prefix when it stores the
    /// snapshot; memory drops it at the next step ([`Server::finish_compaction`]).
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Message>) {
        let Some(threshold) = self.config.log_compaction_threshold else {
            return;
        };
        if self.last_applied - self.snapshot_index() < threshold {
            return;
        }
        let last_term = self
            .log
            .term_at(self.last_applied)
            .expect("applied entries exist");
        self.snapshot = Some(Snapshot {
            last_index: self.last_applied,
            last_term,
            state: self.kv.clone(),
        });
        self.snapshot_unpersisted = true;
        ctx.count("raft.snapshots_taken");
    }
    // ANCHOR_END: maybe_snapshot

    /// Drops from memory the log prefix that the last snapshot covers (the second half of a
    /// compaction begun at an earlier step).
    pub(super) fn finish_compaction(&mut self) {
        if let Some(s) = &self.snapshot
            && self.log.offset() < s.last_index
            && self.log.term_at(s.last_index) == Some(s.last_term)
        {
            self.log.compact_to(s.last_index);
        }
    }

    // ANCHOR: send_snapshot
    /// Sends `peer` the snapshot, because the entries it needs next were compacted away, and
    /// moves its `next_index` past the snapshot (optimistically, as for entries).
    pub(super) fn send_snapshot(&mut self, ctx: &mut Ctx<'_, Message>, peer: NodeId) {
        let snapshot = self
            .snapshot
            .clone()
            .expect("a compacted log has a snapshot");
        self.next_index[peer.0] = snapshot.last_index + 1;
        ctx.count("raft.snapshots_sent");
        let message = InstallSnapshot {
            term: self.current_term,
            leader: self.id,
            snapshot,
        };
        self.send(peer, Message::InstallSnapshot(message));
    }
    // ANCHOR_END: send_snapshot

    // ANCHOR: on_install_snapshot
    /// A follower's side of InstallSnapshot (§7): the term check as for `AppendEntries`, then
    /// keep the log's suffix if it follows the snapshot, replace the state machine, answer.
    pub(super) fn on_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: InstallSnapshot,
    ) {
        let term = self.current_term;
        let reply = |s: &mut Server, success, match_index| {
            let response = AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_index: 0,
            };
            s.send(from, Message::AppendEntriesResponse(response));
        };
        if m.term < self.current_term {
            return reply(self, false, 0); // a deposed leader: the term tells it to step down
        }
        if self.role == super::server::Role::Candidate || self.leader.is_none() {
            self.become_follower(ctx, m.term, Some(m.leader));
        }
        self.reset_election_timer(ctx);
        let last = m.snapshot.last_index;
        if last > self.commit_index {
            self.log.install(last, m.snapshot.last_term);
            self.kv = m.snapshot.state.clone();
            self.commit_index = last;
            self.last_applied = last;
            self.snapshot = Some(m.snapshot);
            self.snapshot_unpersisted = true;
            ctx.count("raft.snapshots_installed");
        }
        // Committed entries up to `last` are in this log or in its snapshot: it matches there.
        reply(self, true, last)
    }
    // ANCHOR_END: on_install_snapshot
}
}
pub mod storage {
//! Persistence as an effect: what a server must write to disk before it may speak.
//!
//! Raft's safety rests on three things surviving a crash (Figure 2, "Updated on stable storage
//! before responding to RPCs"): the current term, the vote cast in it, and the log, to which
//! this module adds the snapshot (§7). A server that answers a `RequestVote` and then crashes
//! before its vote reached the disk may vote again in the same term after the restart, and two
//! candidates can then win one term; a follower that acknowledges entries it has not stored can
//! make a leader count a replica that a crash erases, and a committed entry can be lost.
//!
//! Like every protocol in this book the server does no I/O: it *describes* what must reach the
//! disk. Each step of a [`Server`] (a message, a timer) changes its state in memory and queues
//! the messages it wants to send; the runtime then calls [`Server::take_ready`], which returns
//! a [`Ready`]: the [`PersistOp`]s that bring the disk up to date with memory, and the messages.
//! The only way to get the messages out of a `Ready` is [`Ready::persist`], which applies the
//! operations to a [`Storage`] first and returns the messages only if that worked: the runtime
//! cannot send what persistence does not cover. This is the shape of etcd's raft library
//! (`Ready`, then `Advance`), with the advance folded into `persist`.
//!
//! Two storages exist. [`MemStorage`] is the simulator's disk: what the simulator hands to a
//! restarted server is its contents, so a crash loses exactly what was not persisted. The TCP
//! driver's file-backed storage (a write-ahead file of checksummed records, synced before the
//! messages go out) implements the same trait.
//!
//! [`ServerNode`] is the runtime loop around one server: run a handler, take the `Ready`,
//! persist, send. Its knobs let the simulator crash a server *between* persisting and sending
//! (the messages are lost, the disk is not), and plant the converse bug, sending before
//! persisting ([`PersistOrder::SendFirst`]), so that a test can show that the order matters.

use std::io;

use super::log::{Entry, LogIndex, Term};
use super::message::Message;
use super::server::{Durable, Server};
use super::snapshot::Snapshot;
use crate::sim::{Ctx, NodeId, TimerId};
use rand::RngExt;

// ANCHOR: persist_op
/// One change to a server's disk. A [`Ready`] lists them in the order they must be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PersistOp {
    /// The term and the vote in it changed (written together: a vote belongs to a term).
    HardState {
        term: Term,
        voted_for: Option<NodeId>,
    },
    /// The log from index `from` on is now `entries`: anything stored at `from` or after is
    /// replaced (an empty `entries` is a truncation). Entries a stored snapshot already covers
    /// are skipped.
    Append { from: LogIndex, entries: Vec<Entry> },
    /// A snapshot (taken or installed) replaces the one stored; the stored log keeps only what
    /// follows it, if it holds the snapshot's last entry, and is emptied otherwise (§7).
    Snapshot(Snapshot),
}
// ANCHOR_END: persist_op

// ANCHOR: ready
/// What one step of a server produced: disk writes, and the messages they allow to send.
#[derive(Debug, Default)]
#[must_use = "a Ready holds messages that are sent only through persist()"]
pub struct Ready {
    ops: Vec<PersistOp>,
    messages: Vec<(NodeId, Message)>,
}

impl Ready {
    /// Applies the disk writes to `storage` and, once it reports them durable, hands back the
    /// messages to send. On an error nothing may be sent: the messages are dropped.
    pub fn persist(self, storage: &mut dyn Storage) -> io::Result<Vec<(NodeId, Message)>> {
        if !self.ops.is_empty() {
            storage.persist(&self.ops)?;
        }
        Ok(self.messages)
    }
    // ANCHOR_END: ready

    /// The disk writes, to look at.
    pub fn ops(&self) -> &[PersistOp] {
        &self.ops
    }

    /// The messages, to look at (send them through [`Ready::persist`]).
    pub fn messages(&self) -> &[(NodeId, Message)] {
        &self.messages
    }

    /// Whether the step changed nothing on disk and sent nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.messages.is_empty()
    }

    /// Splits the `Ready` without persisting. Only for the planted bug
    /// ([`PersistOrder::SendFirst`]) and for tests; a correct runtime uses `persist`.
    pub fn into_parts(self) -> (Vec<PersistOp>, Vec<(NodeId, Message)>) {
        (self.ops, self.messages)
    }
}

impl Server {
    /// Queues `msg` for `to`; it leaves with the next [`Ready`], after the disk writes.
    pub fn send(&mut self, to: NodeId, msg: Message) {
        self.outbox.push((to, msg));
    }

    // ANCHOR: take_ready
    /// Everything this server's last steps produced: what the disk lacks (term and vote, the
    /// changed log suffix, a new snapshot) and the queued messages. Call after every handler.
    pub fn take_ready(&mut self) -> Ready {
        if !self.snapshot_unpersisted {
            self.finish_compaction(); // only once the disk holds the snapshot
        }
        let mut ops = Vec::new();
        let hard = (self.current_term, self.voted_for);
        if hard != self.persisted_hard_state {
            self.persisted_hard_state = hard;
            let (term, voted_for) = hard;
            ops.push(PersistOp::HardState { term, voted_for });
        }
        if std::mem::take(&mut self.snapshot_unpersisted)
            && let Some(snapshot) = &self.snapshot
        {
            ops.push(PersistOp::Snapshot(snapshot.clone()));
        }
        if let Some((from, entries)) = self.log.take_unpersisted() {
            ops.push(PersistOp::Append { from, entries });
        }
        let messages = std::mem::take(&mut self.outbox);
        Ready { ops, messages }
    }
    // ANCHOR_END: take_ready
}

// ANCHOR: storage
/// A server's disk.
pub trait Storage {
    /// Applies `ops` in order; when this returns `Ok`, they survive a crash (a file-backed
    /// storage writes and syncs). An `Err` leaves the server unable to continue safely.
    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()>;

    /// What a restarting server starts from: everything persisted so far.
    fn load(&mut self) -> io::Result<Durable>;
}
// ANCHOR_END: storage

/// The simulator's disk: a [`Durable`] kept up to date by [`PersistOp`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemStorage {
    disk: Durable,
    /// How many `persist` calls wrote something (one sync each on a real disk).
    syncs: u64,
}

impl Default for MemStorage {
    fn default() -> MemStorage {
        MemStorage::new(Durable::empty())
    }
}

impl MemStorage {
    /// A disk holding `disk`.
    pub fn new(disk: Durable) -> MemStorage {
        MemStorage { disk, syncs: 0 }
    }

    /// What the disk holds now.
    pub fn contents(&self) -> &Durable {
        &self.disk
    }

    /// How many times something was written (each would be one fsync on a file).
    pub fn syncs(&self) -> u64 {
        self.syncs
    }
}

impl Storage for MemStorage {
    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()> {
        for op in ops {
            apply_op(&mut self.disk, op);
        }
        self.syncs += 1;
        Ok(())
    }

    fn load(&mut self) -> io::Result<Durable> {
        Ok(self.disk.clone())
    }
}

/// Applies one operation to a durable state: the meaning of [`PersistOp`], shared by every
/// storage that keeps a [`Durable`] in memory (a file-backed one replays its records with it).
pub fn apply_op(disk: &mut Durable, op: &PersistOp) {
    match op {
        PersistOp::HardState { term, voted_for } => {
            disk.current_term = *term;
            disk.voted_for = *voted_for;
        }
        PersistOp::Append { from, entries } => disk.log.write_from(*from, entries),
        PersistOp::Snapshot(snapshot) => {
            disk.log.install(snapshot.last_index, snapshot.last_term);
            disk.snapshot = Some(snapshot.clone());
        }
    }
}

// ANCHOR: persist_order
/// The order in which a [`ServerNode`] persists and sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PersistOrder {
    /// Write, sync, then send. Correct.
    #[default]
    PersistFirst,
    /// The planted bug: send, then write. Harmless until a crash falls in between; then the
    /// server forgets a vote or entries it already told others about. Only for the test that
    /// shows the campaign catches it.
    SendFirst,
}
// ANCHOR_END: persist_order

/// A server with its disk: the runtime's loop of handler, `Ready`, persist, send.
#[derive(Clone, Debug)]
pub struct ServerNode<S = MemStorage> {
    /// The state machine.
    pub server: Server,
    /// Its disk.
    pub storage: S,
    /// Persist then send (correct), or the planted bug.
    pub order: PersistOrder,
    /// The chance that a step with messages to send ends in a crash between the disk write and
    /// the sends (the server restarts at once from its disk). 0 in normal runs.
    pub crash_between: f64,
    /// Set when the storage failed: the server stops (fail-stop) rather than run on unsafely.
    pub failed: Option<String>,
}

impl<S: Storage> ServerNode<S> {
    /// `server` on `storage`, which must hold what the server was started from.
    pub fn new(server: Server, storage: S) -> ServerNode<S> {
        ServerNode {
            server,
            storage,
            order: PersistOrder::PersistFirst,
            crash_between: 0.0,
            failed: None,
        }
    }

    /// The server starts (or restarts).
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.server.on_start(ctx);
        self.flush(ctx);
    }

    /// One message.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        if self.failed.is_none() {
            self.server.on_message(ctx, from, msg);
            self.flush(ctx);
        }
    }

    /// One timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        if self.failed.is_none() {
            self.server.on_timer(ctx, timer);
            self.flush(ctx);
        }
    }

    // ANCHOR: flush
    /// Takes the server's `Ready`, persists it, sends its messages; or, at a simulated crash
    /// point, loses what a crash there would lose and restarts the server from its disk.
    fn flush(&mut self, ctx: &mut Ctx<'_, Message>) {
        let ready = self.server.take_ready();
        let crash = self.crash_between > 0.0
            && !ready.messages().is_empty()
            && ctx.rng().random_bool(self.crash_between);
        match (self.order, crash) {
            (PersistOrder::PersistFirst, _) => match ready.persist(&mut self.storage) {
                Ok(messages) if !crash => send_all(ctx, messages),
                Ok(_lost) => self.restart(ctx),
                Err(e) => self.failed = Some(format!("storage failed: {e}")),
            },
            (PersistOrder::SendFirst, _) => {
                let (ops, messages) = ready.into_parts();
                send_all(ctx, messages);
                if crash {
                    return self.restart(ctx); // the writes never happen
                }
                if let Err(e) = self.storage.persist(&ops) {
                    self.failed = Some(format!("storage failed: {e}"));
                }
            }
        }
    }
    // ANCHOR_END: flush

    /// A crash at this instant, and an immediate restart from what the disk holds.
    fn restart(&mut self, ctx: &mut Ctx<'_, Message>) {
        ctx.count("raft.crashes_between_persist_and_send");
        let (id, servers) = (self.server.id(), self.server.servers);
        let config = self.server.config().clone();
        match self.storage.load() {
            Ok(disk) => {
                self.server = Server::restart(id, servers, config, disk);
                self.on_start(ctx);
            }
            Err(e) => self.failed = Some(format!("storage failed on restart: {e}")),
        }
    }
}

fn send_all(ctx: &mut Ctx<'_, Message>, messages: Vec<(NodeId, Message)>) {
    for (to, msg) in messages {
        ctx.send(to, msg);
    }
}

impl<S> std::ops::Deref for ServerNode<S> {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl<S> std::ops::DerefMut for ServerNode<S> {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}
}
pub mod time_to_elect {
//! How long a cluster is without a leader after its leader crashes (§9.3, Figure 16).
//!
//! One trial: a five-server cluster elects a leader and settles; at a random instant the leader
//! crashes; we measure the time from the crash until some server leads again. That time is
//! roughly one election timeout (the followers must first notice the silence) plus, for every
//! *split vote*, another timeout and another round of `RequestVote`. How often votes split
//! depends on the width of the timeout range: with every timeout equal, followers wake within a
//! message delay of each other and split the vote again and again; a range a few message delays
//! wide already makes one server wake first and win, which is what the paper's Figure 16 shows
//! (its top graph: 150-150 ms has a long tail, 150-155 ms much less, 150-200 ms almost none).
//!
//! The chapter 9 experiment (`code/examples/ch09_time_to_elect.rs`) runs many trials per range
//! and plots the distribution.
//!
//! What the simulator adds to the paper's picture: with *exactly* equal timeouts, as in the
//! 150-150 ms row, nothing but message delays separates the followers. Each follower's timer
//! was last reset by the last heartbeat it received, so they wake in the order and at the
//! offsets at which that heartbeat arrived; every round of a split vote resets each candidate's
//! timer by the same fixed amount, so the same offsets, and often the same split, come back
//! round after round, broken only when the random delays of `RequestVote` happen to favour one
//! candidate. Real servers have more jitter (scheduling, clock drift), which is why the paper's
//! 150-150 ms curve ends; in the simulator many trials never elect within the limit. One
//! millisecond of randomisation already helps; a few message delays of width removes the tail.
//!
//! The first election of each trial uses the default 150-300 ms range, because servers that
//! start at the same instant with equal timeouts would split every vote from the start.

use std::time::Duration;

use super::cluster::{self, Cluster, KvNode};
use super::server::Config;
use crate::sim::{Fault, LinkConfig, NodeId, Time, TraceLevel, rng_stream};
use rand::RngExt;

/// The result of one trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trial {
    /// From the crash to the new leader; `None` if there was none within the limit.
    pub without_leader: Option<Duration>,
    /// How many elections (terms) it took.
    pub elections: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

// ANCHOR: time_to_elect
/// Runs one trial: a cluster elects its first leader with the default timeouts (with equal
/// timeouts, servers that start together would split every vote forever), switches to
/// `config` halfway through `settle`; the leader crashes at a random instant within one
/// heartbeat after that; we wait at most `limit` for a new leader.
pub fn time_to_elect(
    seed: u64,
    config: &Config,
    link: &LinkConfig,
    settle: Duration,
    limit: Duration,
) -> Result<Trial, String> {
    config.validate().map_err(|e| e.to_string())?;
    let shape = Cluster {
        servers: 5,
        clients: 0,
        invariants: false,
        // The default timeouts, but the trial's CheckQuorum and PreVote from the start.
        config: Config {
            check_quorum: config.check_quorum,
            pre_vote: config.pre_vote,
            ..Config::default()
        },
        ..Cluster::default()
    };
    let mut sim = shape.build(seed, link.clone()).map_err(|e| e.to_string())?;
    sim.set_trace(TraceLevel::Hash);
    sim.run_until(Time::ZERO + settle / 2)
        .map_err(|v| v.to_string())?;
    for id in (0..shape.servers).map(NodeId) {
        if let Some(KvNode::Server(server)) = sim.process_mut(id) {
            server
                .reconfigure(config.clone())
                .map_err(|e| e.to_string())?;
        }
    }
    let jitter = rng_stream(seed, u64::MAX).random_range(0..config.heartbeat_ms * 1_000_000);
    sim.run_until(Time::ZERO + settle + Duration::from_nanos(jitter))
        .map_err(|v| v.to_string())?;
    let Some(&(old, old_term)) = cluster::leaders(&sim).first() else {
        return Err(format!("seed {seed}: no leader to crash after {settle:?}"));
    };
    sim.apply(Fault::Crash(old));
    let crashed_at = sim.now();
    let deadline = crashed_at + limit;
    let mut new_leader = None;
    while new_leader.is_none() && sim.now() <= deadline && sim.step().map_err(|v| v.to_string())? {
        new_leader = cluster::leaders(&sim).first().copied();
    }
    let term = new_leader.map(|(_, term)| term);
    Ok(Trial {
        without_leader: new_leader.map(|_| sim.now().since(crashed_at)),
        elections: term.unwrap_or(old_term) - old_term,
        trace_hash: sim.trace_hash(),
    })
}
// ANCHOR_END: time_to_elect

}
pub mod witness {
//! Raft's own witness of linearizability: each command placed at the instant it was committed.
//!
//! The linearizability checker's search (chapter 10) knows only what the clients saw, and a
//! history with many operations of unknown outcome, such as a run where a majority crashes and
//! restarts, can take it more steps than any budget. But the cluster knows more than its
//! clients: Raft applies commands in log order, and a command takes effect when its entry is
//! committed (§5.3). So the run itself proposes a linearization, which the checker only has to
//! verify ([`crate::coordination::linearizability::witness`]).
//!
//! [`record_commits`] registers a per-event hook on the simulator (as the safety invariants
//! are, [`super::invariants`]) that records, for every log index, the first instant at which
//! any server knew it committed, and the command there. After the run, [`CommitLog::witness`]
//! walks the committed log in index order, applying the store's session rule (§8, `kv.rs`): a
//! command whose client already had an equal or later sequence number applied is a duplicate
//! (a client's retry committed twice) or an abandoned one, and is skipped, so a command is
//! placed at its *first* commit. Each placement maps `(client, seq)` to the history: a client
//! issues its operations one at a time with sequence numbers 1, 2, 3, ..., and its history
//! lists them in that order (`client.rs`).
//!
//! Why the instant lies inside the operation's interval: the entry was appended after the client
//! called the operation (the command did not exist before), and the answer was computed by
//! applying it, which needs it committed, so before the client's return. The first instant
//! any server *knew* an index committed is at or after the instant it truly became committed
//! (a majority stored it) and at or before any answer from it. Commit instants grow with the
//! index (knowing index `i` committed means knowing every index below it is), so ordering by
//! (instant, index) is the log order. Reads served without a log entry (ReadIndex, leases)
//! have no placement; the checker fits each into its interval where the value it read held.
//!
//! None of this is trusted: the checker verifies the witness against the clients' history and
//! the key-value model, so a wrong instant or a buggy server yields "unknown", never a false
//! "linearizable". [`judge`] runs the search first and the witness only where the search gave
//! up, and reports which method decided each key.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::cluster::{self, KvNode};
use super::history::{KvInput, KvOutput, Operation};
use crate::coordination::linearizability::{KvModel, Limits, Placement, Report, check_report};
use crate::sim::{NodeId, Sim};

/// One committed index: the first instant (ns) a server knew it committed, and its command
/// as `(client, seq)` (`None` for a leader's no-op).
type Committed = (u64, Option<(u64, u64)>);

/// What [`record_commits`] saw: shared with the hook, read after the run.
#[derive(Clone, Debug, Default)]
pub struct CommitLog(Rc<RefCell<Vec<Committed>>>);

// ANCHOR: record_commits
/// Records, after every event of `sim` (whose servers are nodes `0..servers`), the first
/// instant each log index is known committed, and its command.
pub fn record_commits(sim: &mut Sim<KvNode>, servers: usize) -> CommitLog {
    let log = CommitLog::default();
    let committed = Rc::clone(&log.0);
    sim.add_invariant("commit instants (witness)", move |sim| {
        let mut committed = committed.borrow_mut();
        let now = sim.now().0;
        for id in 0..servers {
            let Some(server) = cluster::server(sim, NodeId(id)) else {
                continue; // crashed
            };
            let from = committed.len() as u64 + 1;
            for index in from..=server.commit_index() {
                let Some(entry) = server.log().entry(index) else {
                    break; // compacted away here; another server will show it
                };
                let command = entry.command.as_ref().map(|c| (c.client, c.seq));
                committed.push((now, command));
            }
        }
        Ok(())
    });
    log
}
// ANCHOR_END: record_commits

impl CommitLog {
    /// How many log indexes were seen committed.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether no index was seen committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: witness
    /// The linearization the log proposes for `history` (the clients' histories in client
    /// order, as `cluster::histories` returns them): every applied command at its first commit.
    pub fn witness(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Placement> {
        // (client, seq) -> history index; a client's k-th operation has sequence number k.
        let mut index: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            let seq = seen.entry(op.client).or_default();
            *seq += 1;
            index.insert((op.client, *seq), i);
        }
        let mut applied: BTreeMap<u64, u64> = BTreeMap::new(); // client -> last seq applied
        let mut order = Vec::new();
        for &(at_ns, command) in self.0.borrow().iter() {
            let Some((client, seq)) = command else {
                continue; // a no-op
            };
            let last = applied.entry(client).or_default();
            if seq <= *last {
                continue; // a duplicate, or a command its client had given up on
            }
            *last = seq;
            if let Some(&i) = index.get(&(client, seq)) {
                order.push((i, at_ns));
            }
        }
        order
    }
    // ANCHOR_END: witness
}

/// Checks `history` with the search within `limits`, and with the witness of `commits` where
/// the search gives up.
pub fn judge(
    history: &[Operation<KvInput, KvOutput>],
    commits: &CommitLog,
    limits: &Limits,
) -> Report {
    let witness = commits.witness(history);
    check_report(&KvModel, history, limits, Some(&witness))
}
}

pub use cluster::{Cluster, KvNode};
pub use log::{Entry, LogIndex, Term};
pub use message::{
    AppendEntries, AppendEntriesResponse, Message, RequestVote, RequestVoteResponse,
};
pub use rules::{commit_index, is_log_up_to_date, majority};
pub use server::{Config, ConfigError, Durable, Role, Server};
}
}

mod sim {
//! A deterministic discrete-event simulator for distributed protocols.
//!
//! The simulator runs protocols written as sans-I/O state machines (see [`Process`]) on a
//! simulated network and simulated clocks, under faults you script or draw at random. It is the
//! Rust counterpart of the SimPy models a reader may know, with three differences that matter for
//! distributed systems:
//!
//! - **Determinism.** One seed fixes the whole run. Same seed, same trace, byte for byte
//!   ([`Sim::trace_hash`]). A failing run is a seed; a seed is a bug report.
//! - **Faults as first-class input.** Message loss, duplication, reordering, latency tails,
//!   bandwidth, partitions (both ways or one way), crashes with durable state, pauses and clock
//!   drift are all configuration ([`LinkConfig`], [`Fault`], [`Clock`], [`Nemesis`]).
//! - **Invariants after every event.** A check registered with [`Sim::add_invariant`] sees the
//!   whole system between any two events, which no test of a real deployment can.
//!
//! Layout: `rng` (seeded randomness), `time` (virtual time), `process` (the protocol contract),
//! `network` (links and partitions), `clock` (drift), `faults` (schedules and the nemesis),
//! `world` (the event loop), `metrics`, `trace`, `campaign` (many seeds on many cores).

mod campaign {
//! Campaigns: the same simulation over many seeds, on every core.
//!
//! One seed explores one interleaving of messages, timers and faults. Bugs in distributed
//! protocols hide in rare interleavings, so we run thousands of seeds. A campaign hands seeds to
//! worker threads, shows a progress line when a person is watching (nothing when standard error
//! is not a terminal, as in CI), and reports every failing seed together with the exact command
//! that replays it: replaying one seed gives the identical run, under a debugger if need be.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which seeds to run and how to tell a person to replay one.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// A short name for the progress bar and the report.
    pub name: String,
    /// The first seed.
    pub first_seed: u64,
    /// How many consecutive seeds to run.
    pub seeds: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The replay command, with `{seed}` where the seed goes.
    pub replay: String,
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    pub name: String,
    pub passed: u64,
    /// Failing seeds and what went wrong, sorted by seed.
    pub failures: Vec<(u64, String)>,
    pub elapsed: Duration,
    /// The replay command template.
    pub replay: String,
}

impl CampaignReport {
    /// Seeds run per wall-clock second.
    pub fn seeds_per_sec(&self) -> f64 {
        (self.passed + self.failures.len() as u64) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The command that replays `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        self.replay.replace("{seed}", &seed.to_string())
    }

    /// Panics with every failure and its replay command, if there was any failure. For tests.
    pub fn assert_passed(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = format!(
            "campaign `{}`: {} of {} seeds failed\n",
            self.name,
            self.failures.len(),
            self.passed + self.failures.len() as u64
        );
        for (seed, why) in self.failures.iter().take(10) {
            text += &format!(
                "  seed {seed}: {why}\n    replay: {}\n",
                self.replay_command(*seed)
            );
        }
        panic!("{text}");
    }
}

impl Campaign {
    /// A campaign over seeds `0..seeds` on every core, for the test `name` of the integration
    /// test module `module` (pass `module_path!()`: `part2::ch10_chain` is the module
    /// `ch10_chain` of the test binary `code/tests/part2/main.rs`): a failure names the command
    /// that reruns that test.
    pub fn for_test(module: &str, name: &str, seeds: u64) -> Campaign {
        let (binary, filter) = match module.split_once("::") {
            Some((binary, path)) => (binary, format!("{path}::{name}")),
            None => (module, name.to_string()),
        };
        Campaign {
            name: name.to_string(),
            first_seed: 0,
            seeds,
            threads: 0,
            replay: format!("cargo test -p uds --release --test {binary} {filter} (seed {{seed}})"),
        }
    }

    /// Runs `check(seed)` for every seed. `check` returns `Err(explanation)` on failure; a panic
    /// inside it is caught and reported as a failure of that seed too.
    pub fn run<F>(&self, check: F) -> CampaignReport
    where
        F: Fn(u64) -> Result<(), String> + Sync,
    {
        let started = Instant::now();
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let bar = Progress::new(&self.name, self.seeds);
        let next = AtomicU64::new(0);
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.seeds {
                            break;
                        }
                        let seed = self.first_seed + i;
                        let run = std::panic::AssertUnwindSafe(|| check(seed));
                        let outcome = std::panic::catch_unwind(run)
                            .unwrap_or_else(|panic| Err(panic_message(&panic)));
                        if let Err(why) = outcome {
                            bar.println(format!(
                                "seed {seed} failed: {why}\n  replay: {}",
                                self.replay.replace("{seed}", &seed.to_string())
                            ));
                            failures
                                .lock()
                                .expect("no worker panics holding it")
                                .push((seed, why));
                        }
                        bar.inc(1);
                    }
                });
            }
        });
        bar.finish();
        let mut failures = failures.into_inner().expect("workers are done");
        failures.sort();
        CampaignReport {
            name: self.name.clone(),
            passed: self.seeds - failures.len() as u64,
            failures,
            elapsed: started.elapsed(),
            replay: self.replay.clone(),
        }
    }
}

/// A progress line on standard error, drawn only when it is a terminal. Hand-rolled with std
/// (rather than `indicatif`, which the Rust playground does not offer) so that the simulator
/// runs in the playground.
struct Progress {
    name: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
    visible: bool,
}

impl Progress {
    fn new(name: &str, total: u64) -> Progress {
        let visible = std::io::stderr().is_terminal();
        Progress {
            name: name.to_string(),
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            visible,
        }
    }

    fn inc(&self, by: u64) {
        let done = self.done.fetch_add(by, Ordering::Relaxed) + by;
        // Redraw about a hundred times per campaign, not once per seed.
        if self.visible && (done == self.total || done.is_multiple_of((self.total / 100).max(1))) {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: {done}/{} seeds ({rate:.0} seeds/s)",
                self.name, self.total
            );
            let _ = err.flush();
        }
    }

    fn println(&self, line: String) {
        let mut err = std::io::stderr().lock();
        let clear = if self.visible { "\r\x1b[2K" } else { "" };
        let _ = writeln!(err, "{clear}{line}");
    }

    fn finish(&self) {
        if self.visible {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

}
mod clock {
//! Per-node clocks that drift and start offset from true time.
//!
//! A real quartz clock runs a little fast or slow (tens of parts per million is typical, and
//! the rate wanders with temperature), and two machines' clocks disagree by whatever offset
//! their last synchronisation left. The simulator keeps true time; each node reads its own
//! clock, `local = offset + true * (1 + drift)`, and its timers run on that clock: a node whose
//! clock runs fast sees its timeouts expire early in true time.

use std::time::Duration;

use super::time::{Time, nanos};

// ANCHOR: clock
/// How one node's clock relates to true (simulated) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// What the clock reads at true time zero, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// How fast the clock runs, in parts per million: +50 gains 50 µs per true second.
    /// Invariant: greater than -1,000,000 (a clock cannot run backwards or stand still).
    pub drift_ppm: i64,
}

impl Clock {
    /// The clock's reading at true time `t`, clamped at zero.
    pub fn local(&self, t: Time) -> Time {
        let t = i128::from(t.0);
        let drift = t * i128::from(self.drift_ppm) / 1_000_000;
        let reading = t + drift + i128::from(self.offset_ns);
        Time(reading.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn real_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return local;
        }
        assert!(
            self.drift_ppm > -1_000_000,
            "clock drift {} ppm",
            self.drift_ppm
        );
        let ns = u128::from(nanos(local)) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}
// ANCHOR_END: clock

}
mod faults {
//! Faults: what can go wrong, when, scripted by hand or drawn at random.
//!
//! A [`FaultSchedule`] is a list of timed [`Fault`]s. It can be written as text, one fault per
//! line, so that a scenario reads like a transcript:
//!
//! ```text
//! # partition the leader away, then heal
//! at 5s    partition 0 | 1,2
//! at 7.5s  heal
//! at 8s    crash 2
//! at 9s    restart 2
//! at 10s   pause 1
//! at 12s   resume 1
//! at 13s   oneway 0 -> 2
//! ```
//!
//! A [`Nemesis`] (the name Jepsen gave its fault injector) draws such a schedule at random from
//! the run's seed, so a campaign over many seeds explores many different fault patterns.

use std::fmt;
use std::time::Duration;

use super::process::NodeId;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt};

use super::rng::Exponential;
use super::time::{Time, parse_duration};

/// One thing that goes wrong (or is repaired).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node stops; its volatile state is lost, its durable state is kept.
    Crash(NodeId),
    /// A crashed node starts again from its durable state.
    Restart(NodeId),
    /// The node freezes (a long GC pause, a stopped VM): it keeps its state but handles nothing.
    Pause(NodeId),
    /// A paused node continues, handling everything that arrived meanwhile.
    Resume(NodeId),
    /// No message crosses between the two sides, in either direction.
    Partition(Vec<NodeId>, Vec<NodeId>),
    /// No message goes from the first side to the second; the other direction still works.
    OneWay(Vec<NodeId>, Vec<NodeId>),
    /// Every partition is removed.
    Heal,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Fault::Crash(n) => write!(f, "crash {}", n.0),
            Fault::Restart(n) => write!(f, "restart {}", n.0),
            Fault::Pause(n) => write!(f, "pause {}", n.0),
            Fault::Resume(n) => write!(f, "resume {}", n.0),
            Fault::Partition(a, b) => write!(f, "partition {} | {}", list(a), list(b)),
            Fault::OneWay(a, b) => write!(f, "oneway {} -> {}", list(a), list(b)),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

/// Timed faults, in the order they happen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSchedule {
    /// Invariant: sorted by time (stable, so faults at one instant keep their written order).
    pub faults: Vec<(Time, Fault)>,
}

/// A line of a fault script that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScheduleError {}

impl FaultSchedule {
    /// Adds a fault at `at`, keeping the schedule sorted.
    pub fn add(&mut self, at: Time, fault: Fault) {
        let pos = self.faults.partition_point(|(t, _)| *t <= at);
        self.faults.insert(pos, (at, fault));
    }

    /// Parses a script (see the module docs). `nodes` is the number of nodes in the run, so
    /// that a node that does not exist is an error here rather than a panic later.
    pub fn parse(script: &str, nodes: usize) -> Result<FaultSchedule, ScheduleError> {
        let mut schedule = FaultSchedule::default();
        for (i, raw) in script.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| ScheduleError {
                line: i + 1,
                message,
            };
            let (at, fault) = parse_line(line, nodes).map_err(err)?;
            schedule.add(at, fault);
        }
        Ok(schedule)
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, fault) in &self.faults {
            writeln!(f, "at {}ms {fault}", at.0 / 1_000_000)?;
        }
        Ok(())
    }
}

fn parse_line(line: &str, nodes: usize) -> Result<(Time, Fault), String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("at") {
        return Err(format!("`{line}` should start with `at <time>`"));
    }
    let when = words.next().ok_or("missing time after `at`")?;
    let at = Time::ZERO + parse_duration(when)?;
    let verb = words.next().ok_or("missing fault after the time")?;
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    let one = |rest: &str| parse_node(rest.trim(), nodes);
    let fault = match verb {
        "crash" => Fault::Crash(one(&rest)?),
        "restart" => Fault::Restart(one(&rest)?),
        "pause" => Fault::Pause(one(&rest)?),
        "resume" => Fault::Resume(one(&rest)?),
        "heal" if rest.is_empty() => Fault::Heal,
        "heal" => return Err(format!("`heal` takes no arguments, got `{rest}`")),
        "partition" => {
            let (a, b) = rest
                .split_once('|')
                .ok_or("partition needs two sides: `a,b | c`")?;
            Fault::Partition(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        "oneway" => {
            let (a, b) = rest
                .split_once("->")
                .ok_or("oneway needs a direction: `a -> b,c`")?;
            Fault::OneWay(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        other => {
            return Err(format!(
                "unknown fault `{other}` (crash, restart, pause, resume, partition, oneway, heal)"
            ));
        }
    };
    Ok((at, fault))
}

fn parse_side(text: &str, nodes: usize) -> Result<Vec<NodeId>, String> {
    let side = text
        .split(',')
        .map(|n| parse_node(n.trim(), nodes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(side)
}

fn parse_node(text: &str, nodes: usize) -> Result<NodeId, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a node number"))?;
    if n >= nodes {
        return Err(format!(
            "node {n} does not exist (the run has nodes 0..{nodes})"
        ));
    }
    Ok(NodeId(n))
}

// ANCHOR: nemesis
/// A random fault injector: draws a fault schedule from a seed.
#[derive(Clone, Debug)]
pub struct Nemesis {
    /// Mean time between the starts of two faults (exponentially distributed).
    pub mean_interval: Duration,
    /// Mean time a fault lasts before it is repaired (exponentially distributed).
    pub mean_duration: Duration,
    /// Which kinds of fault to draw from.
    pub crash: bool,
    pub pause: bool,
    pub partition: bool,
    /// At most this many nodes are crashed or paused at once (e.g. a minority).
    pub max_down: usize,
}

impl Nemesis {
    /// The schedule of faults between `start` and `end` for nodes `0..nodes`. Every fault is
    /// repaired by `end`, so a run can check that the system recovers afterwards.
    pub fn schedule(
        &self,
        rng: &mut impl Rng,
        nodes: usize,
        start: Time,
        end: Time,
    ) -> FaultSchedule {
        let mut schedule = FaultSchedule::default();
        let mut kinds = Vec::new();
        kinds.extend(self.crash.then_some(0));
        kinds.extend(self.pause.then_some(1));
        kinds.extend(self.partition.then_some(2));
        if kinds.is_empty() || nodes == 0 {
            return schedule;
        }
        let interval = Exponential {
            mean: self.mean_interval.as_secs_f64(),
        };
        let duration = Exponential {
            mean: self.mean_duration.as_secs_f64(),
        };
        // When each node becomes healthy again; a node is not faulted twice at once.
        let mut down_until = vec![Time::ZERO; nodes];
        let mut t = start;
        loop {
            t = t + Duration::from_secs_f64(rng.sample(interval));
            if t >= end {
                break;
            }
            let repair = (t + Duration::from_secs_f64(rng.sample(duration))).min(end);
            match *kinds.choose(rng).expect("kinds is not empty") {
                2 => {
                    let cut = rng.random_range(1..nodes.max(2));
                    let mut ids: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                    ids.shuffle(rng);
                    let (a, b) = ids.split_at(cut.min(nodes));
                    if !b.is_empty() {
                        schedule.add(t, Fault::Partition(a.to_vec(), b.to_vec()));
                        schedule.add(repair, Fault::Heal);
                    }
                }
                kind => {
                    let down = down_until.iter().filter(|u| **u > t).count();
                    let node = rng.random_range(0..nodes);
                    if down >= self.max_down || down_until[node] > t {
                        continue;
                    }
                    down_until[node] = repair;
                    let id = NodeId(node);
                    let (fail, fix) = if kind == 0 {
                        (Fault::Crash(id), Fault::Restart(id))
                    } else {
                        (Fault::Pause(id), Fault::Resume(id))
                    };
                    schedule.add(t, fail);
                    schedule.add(repair, fix);
                }
            }
        }
        schedule
    }
}
// ANCHOR_END: nemesis

}
mod metrics {
//! Counters and histograms that processes and the simulator fill during a run.
//!
//! Histograms keep every sample and compute exact percentiles by the nearest-rank method
//! (the smallest sample with at least p% of samples at or below it). Our runs record at most a
//! few million samples, so exactness is cheaper than explaining a sketch's error here; chapter
//! 31 builds a mergeable sketch for when it is not.

use std::collections::BTreeMap;

// ANCHOR: metrics
/// Named counters and histograms. Names are sorted, so reports list them in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: BTreeMap<&'static str, u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    /// Adds `by` to counter `name` (created at zero).
    pub fn count(&mut self, name: &'static str, by: u64) {
        *self.counters.entry(name).or_insert(0) += by;
    }

    /// Records one sample in histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.histograms.entry(name).or_default().record(value);
    }

    /// The value of counter `name` (zero if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The histogram `name`, if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<&Histogram> {
        self.histograms.get(name)
    }

    /// All counters, by name.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counters.iter().map(|(k, v)| (*k, *v))
    }
}
// ANCHOR_END: metrics

/// Every sample of one quantity, for exact percentiles.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    samples: Vec<f64>,
    /// Invariant: if true, `samples` is sorted ascending.
    sorted: bool,
}

impl Histogram {
    /// Adds a sample. NaN is refused, since it has no place in an order.
    pub fn record(&mut self, value: f64) {
        assert!(!value.is_nan(), "NaN recorded in a histogram");
        self.samples.push(value);
        self.sorted = false;
    }

    /// How many samples were recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The arithmetic mean, or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().sum::<f64>() / self.samples.len() as f64)
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100), or `None` if empty.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        assert!((0.0..=100.0).contains(&p), "percentile {p} outside 0..=100");
        if self.samples.is_empty() {
            return None;
        }
        self.sort();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }

    /// The samples in ascending order (for CDF plots).
    pub fn sorted_samples(&mut self) -> &[f64] {
        self.sort();
        &self.samples
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_by(f64::total_cmp);
            self.sorted = true;
        }
    }
}

}
mod network {
//! The simulated network: what can happen to a message between two nodes.
//!
//! Each directed link `from -> to` has a [`LinkConfig`]: a latency distribution, a probability
//! of losing a message, of duplicating it, of holding it back long enough to reorder it, and an
//! optional bandwidth. Partitions block links, in one direction or both, until healed. A message
//! is judged once, when it is sent: if the link is blocked or the message is lost it never
//! arrives; otherwise it arrives once (or twice, if duplicated) after its sampled delay.
//!
//! Simplification: a partition that starts while a message is in flight does not stop it,
//! just as packets already on the wire still arrive when a cable is pulled at one end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::process::NodeId;
use rand::distr::{Distribution, OpenClosed01};
use rand::{Rng, RngExt};

use super::rng::{Exponential, StandardNormal};
use super::time::{Time, nanos};

// ANCHOR: latency
/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// `min` plus an exponential delay with mean `mean`: memoryless queueing delay.
    Exponential { min: Duration, mean: Duration },
    /// Log-normal with median `median` and shape `sigma`: a long tail, as measured in
    /// datacenters, where the p99 is many times the median.
    LogNormal { median: Duration, sigma: f64 },
    /// Pareto with minimum `scale` and tail index `shape`: the heaviest tail; for
    /// `shape <= 1` even the mean is infinite.
    Pareto { scale: Duration, shape: f64 },
}

/// Drawing one delay: a latency model is a distribution in rand's sense.
impl Distribution<Duration> for Latency {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Latency::Constant(d) => return *d,
            Latency::Uniform { min, max } => {
                secs(min) + rng.random::<f64>() * (secs(max) - secs(min))
            }
            Latency::Exponential { min, mean } => {
                secs(min) + rng.sample(Exponential { mean: secs(mean) })
            }
            Latency::LogNormal { median, sigma } => {
                secs(median) * (sigma * rng.sample(StandardNormal)).exp()
            }
            Latency::Pareto { scale, shape } => {
                let u: f64 = rng.sample(OpenClosed01);
                secs(scale) / u.powf(1.0 / shape)
            }
        };
        // Cap at a day so that a pathological tail cannot overflow the clock.
        Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
    }
}

impl Latency {
    /// The largest delay this distribution can produce, if it is bounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match self {
            Latency::Constant(d) => Some(*d),
            Latency::Uniform { max, .. } => Some(*max),
            _ => None,
        }
    }
}
// ANCHOR_END: latency

// ANCHOR: link_config
/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The delay of a message that is not lost.
    pub latency: Latency,
    /// Probability that a message is silently dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_window` extra.
    pub reorder: f64,
    /// The extra delay of a held-back message is uniform in `[0, reorder_window]`.
    pub reorder_window: Duration,
    /// Bytes per second, or `None` for unlimited. A limited link sends one message at a time,
    /// so a large message delays the ones behind it.
    pub bandwidth: Option<u64>,
}
// ANCHOR_END: link_config

impl LinkConfig {
    /// A perfect link with a constant delay: no loss, duplication or reordering.
    pub fn constant(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency: Latency::Constant(latency),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// This link with a different latency distribution.
    pub fn with_latency(mut self, latency: Latency) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> LinkConfig {
        self.loss = loss;
        self
    }

    /// This link with duplication probability `duplicate`.
    pub fn with_duplicate(mut self, duplicate: f64) -> LinkConfig {
        self.duplicate = duplicate;
        self
    }

    /// This link, holding back a fraction `reorder` of messages by up to `window`.
    pub fn with_reorder(mut self, reorder: f64, window: Duration) -> LinkConfig {
        self.reorder = reorder;
        self.reorder_window = window;
        self
    }

    /// This link with a bandwidth of `bytes_per_sec`.
    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> LinkConfig {
        self.bandwidth = Some(bytes_per_sec);
        self
    }

    /// Checks that every probability is a probability and the bandwidth is not zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".to_string());
        }
        if let Latency::LogNormal { sigma: s, .. } | Latency::Pareto { shape: s, .. } = self.latency
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("latency shape {s} must be positive"));
        }
        Ok(())
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition blocked the link.
    Partition,
    /// The receiver was crashed when it arrived.
    Crashed,
}

/// The fate of one sent message: when its copies arrive, or why none does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Delivered at the first instant, and again at the second if duplicated.
    Arrives(Time, Option<Time>),
    /// Never delivered.
    Dropped(DropReason),
}

/// All links of a run: a default configuration, per-link overrides, and the partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Directed links that a partition currently blocks.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// For bandwidth-limited links: when the link finishes sending what it already has.
    busy_until: BTreeMap<(NodeId, NodeId), Time>,
}

impl Network {
    /// A network in which every link behaves as `default`.
    pub fn new(default: LinkConfig) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            blocked: BTreeSet::new(),
            busy_until: BTreeMap::new(),
        }
    }

    /// Gives the directed link `from -> to` its own configuration.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config);
    }

    /// The configuration of link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        if self.overrides.is_empty() {
            return &self.default;
        }
        self.overrides.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Blocks every link from a node of `from` to a node of `to` (one direction only).
    pub fn block(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks both directions between the two sides.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// True if a partition blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Decides the fate of a message of `size` bytes sent at `now` on `from -> to`.
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        size: usize,
        now: Time,
        rng: &mut impl Rng,
    ) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        // Cloning is cheap: a link configuration holds no heap data.
        let link = self.link(from, to).clone();
        if rng.random_bool(link.loss) {
            return Fate::Dropped(DropReason::Loss);
        }
        // A bandwidth-limited link serialises messages: this one starts when the link is free.
        let mut departs = now;
        if let Some(bytes_per_sec) = link.bandwidth {
            let busy = self.busy_until.entry((from, to)).or_insert(Time::ZERO);
            let start = departs.max(*busy);
            let transmit_ns = (size as u128 * 1_000_000_000).div_ceil(bytes_per_sec as u128);
            departs = Time(start.0.saturating_add(transmit_ns as u64));
            *busy = departs;
        }
        let first = departs + delay(&link, rng);
        let second = rng
            .random_bool(link.duplicate)
            .then(|| departs + delay(&link, rng));
        Fate::Arrives(first, second)
    }
}

/// One message's delay on `link`: its latency, plus a hold-back if it is chosen for reordering.
fn delay(link: &LinkConfig, rng: &mut impl Rng) -> Duration {
    let mut d = link.latency.sample(rng);
    if rng.random_bool(link.reorder) {
        d += Duration::from_nanos(rng.random_range(0..=nanos(link.reorder_window)));
    }
    d
}

}
mod process {
//! The contract between a protocol and whatever runs it.
//!
//! A protocol is written as a *sans-I/O* state machine: it never reads a clock, opens a socket or
//! touches a global random generator. The runtime calls it with one input at a time (the start
//! of the run, a message, a timer) and a [`Ctx`] that carries the node's clock reading and random
//! stream in, and collects the node's effects out: messages to send and timers to set. The same
//! state machine can therefore run on the simulator (virtual time, injected faults) and on the
//! tokio driver (real sockets, real time) without a line changing. This is the shape of
//! etcd-io/raft's `Ready` and of stateright's `Out`.

use std::fmt::{self, Debug};
use std::time::Duration;

use super::metrics::Metrics;
use super::rng::SimRng;
use super::time::Time;

// ANCHOR: node_id
/// The name of a node in a run: its index, from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeId(pub usize);
// ANCHOR_END: node_id

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer of one node. Each node numbers its own timers (e.g. `0` = election, `1` = heartbeat);
/// setting a timer again replaces the pending one, like resetting an alarm clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TimerId(pub u32);

// ANCHOR: process
/// A protocol participant as a deterministic state machine.
pub trait Process {
    /// What nodes of this protocol send each other.
    type Msg: Clone + Debug;
    /// What survives a crash: the node's disk. `()` for a process with no durable state.
    type Durable: Clone + Debug;

    /// Called once when the node starts, and again after each restart.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message from `from` is delivered to this node.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer this node set fires (and was not reset or cancelled since).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId);

    /// The state to keep when the node crashes; it is handed to the restarted node.
    fn durable(&self) -> Self::Durable;

    /// The size of a message on the wire, in bytes (only bandwidth-limited links use it).
    fn message_size(_msg: &Self::Msg) -> usize {
        0
    }
}
// ANCHOR_END: process

// ANCHOR: effect
/// What a process asks its runtime to do: effects are data, not calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<M> {
    /// Send `msg` to node `to`. The network may delay, lose, duplicate or reorder it.
    Send { to: NodeId, msg: M },
    /// Fire `timer` after `after` of this node's local time, replacing a pending one.
    SetTimer { timer: TimerId, after: Duration },
    /// Forget `timer` if it is pending.
    CancelTimer { timer: TimerId },
}
// ANCHOR_END: effect

// ANCHOR: ctx
// ANCHOR: ctx_struct
/// What a process sees of the world while it handles one input.
pub struct Ctx<'a, M> {
    id: NodeId,
    now: Time,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<M>>,
    metrics: &'a mut Metrics,
}
// ANCHOR_END: ctx_struct

impl<'a, M> Ctx<'a, M> {
    /// Assembles a context; runtimes (the simulator, the tokio driver) call this.
    pub fn new(
        id: NodeId,
        now: Time,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<M>>,
        metrics: &'a mut Metrics,
    ) -> Self {
        Ctx {
            id,
            now,
            rng,
            effects,
            metrics,
        }
    }

    /// This node's name.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's *local* clock: it may run fast or slow and be offset from true time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// This node's random stream, derived from the run's seed. It implements `rand::Rng`:
    /// draw with `rand::RngExt` (`random_range`, `random_bool`, `sample`) and
    /// `rand::seq::IndexedRandom` (`choose`).
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sets (or resets) `timer` to fire after `after` of local time.
    pub fn set_timer(&mut self, timer: TimerId, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Cancels `timer` if it is pending.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Adds one to the counter `name`.
    pub fn count(&mut self, name: &'static str) {
        self.metrics.count(name, 1);
    }

    /// Adds `by` to the counter `name`.
    pub fn add(&mut self, name: &'static str, by: u64) {
        self.metrics.count(name, by);
    }

    /// Records `value` in the histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.metrics.observe(name, value);
    }
}
// ANCHOR_END: ctx
}
mod rng {
//! Seeded randomness for simulations, through the `rand` crate's traits.
//!
//! Every random choice in a run (a link's latency, a lost packet, a node's election timeout)
//! comes from a generator derived from the run's single seed. That is what makes a run
//! replayable: the same seed gives the same choices in the same order.
//!
//! Protocol code draws with the API a Rust programmer already knows: `ctx.rng()` is a
//! [`SimRng`], which implements `rand::Rng` and `rand::SeedableRng`, so a handler writes
//! `ctx.rng().random_range(150..=300)`, `random_bool(p)`, `items.choose(ctx.rng())` or
//! `ctx.rng().sample(distribution)` with `rand::RngExt` and `rand::seq::IndexedRandom` in scope.
//!
//! Reproducibility is a promise about two things, the generator and the algorithms that turn
//! its bits into values, and we lean on the `rand` project's written policy for both (The Rust
//! Rand Book, "Reproducibility"). The generator is `rand::rngs::Xoshiro256PlusPlus` (Blackman
//! and Vigna, ACM TOMS 2021; seeded through SplitMix64, Steele, Lea and Flood, OOPSLA 2014), one of
//! rand's *named portable* generators, not `StdRng` or `SmallRng`, which rand documents as free
//! to change algorithm in any release. For portable items rand promises the same values on every
//! platform and across patch releases; a minor release (0.10 to 0.11) may change values and
//! must say so in its changelog. So `code/Cargo.toml` asks for rand 0.10 (patch releases only),
//! and `value_stability` below pins a few draws of every kind we use: an upgrade that changes
//! them fails that test, and then every checked-in output must be regenerated on purpose.
//!
//! Indexes are portable too: rand samples a `usize` range, and chooses and shuffles, through
//! 32-bit draws, so a 32-bit and a 64-bit machine make the same choices. One caveat remains:
//! our floating-point transforms ([`Exponential`], [`StandardNormal`], log-normal and Pareto
//! latencies) call std's `ln`, `cos`, `exp` and `powf`, whose last bit may differ between
//! platforms' maths libraries. The checked-in outputs come from x86-64 Linux.
//!
//! The exponential, normal and Zipf distributions live in `rand_distr`, which the Rust
//! playground does not offer, so the three we need are small types here implementing
//! `rand::distr::Distribution`.

use std::f64::consts::TAU;

use rand::distr::{Distribution, OpenClosed01};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

// ANCHOR: rng
/// The simulator's generator: rand's portable xoshiro256++, seeded through SplitMix64.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream of sub-component `stream` (a node, the network, a fault schedule) of the run
/// `seed`. Different streams of one seed are unrelated, so a random choice added to one node's
/// code does not shift the draws of any other node.
pub fn rng_stream(seed: u64, stream: u64) -> SimRng {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    SimRng::seed_from_u64(splitmix64(&mut state))
}

/// One step of SplitMix64: it mixes `seed ^ stream` so that nearby inputs seed unrelated
/// generators.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: rng

// ANCHOR: distributions
/// The exponential distribution with mean `mean` (memoryless waiting times: think times,
/// arrivals of a Poisson process, queueing delay), sampled by inverting its CDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    pub mean: f64,
}

impl Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // A uniform draw in (0, 1], so that the logarithm is finite.
        let u: f64 = rng.sample(OpenClosed01);
        -self.mean * u.ln()
    }
}

/// The standard normal distribution (mean 0, standard deviation 1), by the Box-Muller
/// transform. Named as in `rand_distr`, so that code moving there changes only an import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardNormal;

impl Distribution<f64> for StandardNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = rng.sample(OpenClosed01);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
// ANCHOR_END: distributions

// ANCHOR: zipf
/// The Zipf distribution over ranks `0..n` (rank 0 the most popular): rank `k` is drawn with
/// probability proportional to `1 / (k + 1)^s`. It is the usual model of popularity skew in
/// caching and partitioning experiments: a few keys get most requests. With `s = 0` every rank is
/// equally likely; around `s = 1` (web objects, Breslau et al., INFOCOM 1999) the head dominates.
/// Sampled by inverting the cumulative weights with a binary search, so building it costs `O(n)`
/// memory once and each draw `O(log n)`. Named as in `rand_distr`, whose `Zipf` yields a float
/// rank starting at 1; this one yields a `usize` index starting at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cumulative[k]` is the total weight of ranks `0..=k`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with exponent `s`. `None` if `n` is 0 or `s` is negative or not finite.
    pub fn new(n: usize, s: f64) -> Option<Zipf> {
        if n == 0 || !s.is_finite() || s < 0.0 {
            return None;
        }
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Some(Zipf { cumulative })
    }

    /// How many ranks there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a `Zipf` has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of rank `k` (0 if `k` is out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        match k {
            0 => self.cumulative[0] / total,
            k if k < self.cumulative.len() => (self.cumulative[k] - self.cumulative[k - 1]) / total,
            _ => 0.0,
        }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u: f64 = rng.random::<f64>() * total;
        // The first rank whose cumulative weight exceeds u.
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}
// ANCHOR_END: zipf

}
mod time {
//! Virtual time.
//!
//! Simulated time is an integer count of nanoseconds since the start of the run. Integers,
//! not floats, so that adding the same delays in the same order always lands on the same
//! instant, and so that two events scheduled for the same instant really compare equal (the
//! event queue then breaks the tie by insertion order, see `world.rs`).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant of virtual time: nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// Later than any event a run can schedule.
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `secs` seconds after the start (fractions allowed).
    pub fn from_secs_f64(secs: f64) -> Time {
        Time((secs * 1e9).round() as u64)
    }

    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    /// Seconds since the start, as a float (for reports and figures).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds since the start, as a float (for reports and figures).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(d)))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

/// A duration as whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Parses a duration written as a number and a unit: `250ms`, `1.5s`, `20us`, `7ns`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (use ns, us, ms or s)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ns, us, ms or s)"
            ));
        }
    };
    let ns = value * scale;
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

}
mod trace {
//! What happened in a run: a fingerprint always, a full record on request.
//!
//! The fingerprint (`trace hash`) is a 64-bit FNV-1a hash of every event the simulator
//! processed, message contents included (through their `Debug` text). Two runs with the same seed
//! must have the same fingerprint; a test checks this for every experiment, so any hidden source
//! of non-determinism (a `HashMap` iteration, a wall-clock read) shows up as a failing test.
//!
//! The full record ([`TraceEvent`]s, serialisable with serde when the `serde` feature is on) feeds figures such as space-time
//! diagrams, and can be written as JSON for replay elsewhere.

use super::time::Time;

/// How much of a run the simulator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for benchmarks.
    Off,
    /// The fingerprint only.
    Hash,
    /// The fingerprint and every event.
    Full,
}

/// One recorded event. Node numbers are plain integers so the JSON stays simple.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of recorded event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum TraceKind {
    /// A node started (or restarted).
    Start { node: usize },
    /// A node handed a message to the network.
    Send { from: usize, to: usize, msg: String },
    /// A message reached its destination and was handled.
    Deliver { from: usize, to: usize, msg: String },
    /// A message was lost, blocked by a partition, or reached a crashed node.
    Drop {
        from: usize,
        to: usize,
        reason: String,
        msg: String,
    },
    /// A timer fired.
    Timer { node: usize, timer: u32 },
    /// A fault was injected or repaired.
    Fault { fault: String },
}

/// A 64-bit FNV-1a hash, fed field by field. Its output is fixed by its definition, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xCBF2_9CE4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    /// Mixes a number into the hash.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// The recorder the simulator owns.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    pub(crate) level: TraceLevel,
    pub(crate) hash: Fnv64,
    pub(crate) events: Vec<TraceEvent>,
}

impl Recorder {
    pub(crate) fn new(level: TraceLevel) -> Recorder {
        Recorder {
            level,
            hash: Fnv64::default(),
            events: Vec::new(),
        }
    }

    /// Records `kind` at `at`: hashes it, and keeps it if the level is `Full`.
    pub(crate) fn record(&mut self, at: Time, kind: TraceKind) {
        self.hash.u64(at.0);
        match &kind {
            TraceKind::Start { node } => {
                self.hash.u64(1);
                self.hash.u64(*node as u64);
            }
            TraceKind::Send { from, to, msg } | TraceKind::Deliver { from, to, msg } => {
                self.hash.u64(if matches!(kind, TraceKind::Send { .. }) {
                    2
                } else {
                    3
                });
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Drop {
                from,
                to,
                reason,
                msg,
            } => {
                self.hash.u64(4);
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(reason.as_bytes());
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Timer { node, timer } => {
                self.hash.u64(5);
                self.hash.u64(*node as u64);
                self.hash.u64(u64::from(*timer));
            }
            TraceKind::Fault { fault } => {
                self.hash.u64(6);
                self.hash.bytes(fault.as_bytes());
            }
        }
        if self.level == TraceLevel::Full {
            self.events.push(TraceEvent { at_ns: at.0, kind });
        }
    }
}

}
mod world {
//! The simulator's event loop.
//!
//! A [`Sim`] owns the processes, the network, the clocks and a priority queue of pending events
//! (deliveries, timers, faults). [`Sim::step`] pops the earliest event, advances virtual time to
//! it, hands it to the process it concerns, turns the effects the process returns into new
//! events, and then checks every invariant. Nothing happens between events, so a run that
//! covers an hour of virtual time can take milliseconds of real time.
//!
//! Determinism: events at the same instant are ordered by a sequence number assigned when they
//! were scheduled, every random choice comes from a stream derived from the one seed, and no
//! iteration depends on hash-map order. The same seed therefore gives the same run, which the
//! trace hash (see `trace.rs`) lets tests check.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::clock::Clock;
use super::faults::{Fault, FaultSchedule};
use super::metrics::Metrics;
use super::network::{DropReason, Fate, LinkConfig, Network};
use super::process::{Ctx, Effect, NodeId, Process, TimerId};
use super::rng::{SimRng, rng_stream};
use super::time::Time;
use super::trace::{Recorder, TraceEvent, TraceKind, TraceLevel};

/// An invariant: a named check of the whole system, run after every event.
type Invariant<P> = (String, Box<dyn Fn(&Sim<P>) -> Result<(), String>>);

/// Builds a fresh process for a restarted node from what it had on disk.
type Restarter<P> = Box<dyn FnMut(NodeId, <P as Process>::Durable) -> P>;

/// What the event loop does next.
enum EventKind<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: M,
    },
    Timer {
        node: NodeId,
        timer: TimerId,
    },
    /// Boxed: faults are rare and large (a partition holds two lists of nodes), and every
    /// entry of the queue is as large as its largest kind. Small entries make the heap's sift
    /// operations, the hot path of every run, move fewer bytes.
    Fault(Box<Fault>),
}

/// A scheduled event. Ordered by time, then by the order in which it was scheduled.
struct Entry<M> {
    at: Time,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed, so that std's max-heap pops the earliest event first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Handling events.
    Up,
    /// Frozen: events wait until it resumes.
    Paused,
    /// Stopped: volatile state lost, deliveries dropped, until restarted.
    Crashed,
}

struct Node<P: Process> {
    /// Invariant: `Some` unless the node is crashed.
    process: Option<P>,
    state: NodeState,
    /// What the node had on disk when it last crashed.
    disk: Option<P::Durable>,
    rng: SimRng,
    clock: Clock,
    /// For each timer id, the sequence number of its pending event (0 = none). A timer event
    /// whose sequence number no longer matches was reset or cancelled, and is ignored.
    timers: Vec<u64>,
    /// Events that arrived while the node was paused, in arrival order.
    deferred: Vec<Entry<P::Msg>>,
    /// Whether `on_start` has run (at its start event, or at a restart that came first).
    /// Invariant: `on_start` runs once per incarnation, never on a crashed or paused node.
    started: bool,
}

/// Counts of what the network did to messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    pub blocked: u64,
    pub to_crashed: u64,
}

/// A broken invariant, with what is needed to replay the run that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    pub name: String,
    pub message: String,
    pub at: Time,
    pub event: u64,
    pub seed: u64,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` broken at {} (event {}) with seed {}: {}",
            self.name, self.at, self.event, self.seed, self.message
        )
    }
}

impl std::error::Error for InvariantViolation {}

// ANCHOR: sim
/// A deterministic discrete-event simulation of processes of type `P`.
pub struct Sim<P: Process> {
    seed: u64,
    now: Time,
    /// The next sequence number; also breaks ties between events at one instant.
    seq: u64,
    queue: BinaryHeap<Entry<P::Msg>>,
    nodes: Vec<Node<P>>,
    network: Network,
    net_rng: SimRng,
    stats: NetStats,
    metrics: Metrics,
    /// Reused for every handler call, so the hot path does not allocate.
    effects: Vec<Effect<P::Msg>>,
    invariants: Vec<Invariant<P>>,
    restarter: Option<Restarter<P>>,
    recorder: Recorder,
    events: u64,
}
// ANCHOR_END: sim

impl<P: Process> Sim<P> {
    /// A run of `processes` (node `i` is `processes[i]`) on a network whose links all behave as
    /// `link`. Every node starts at time zero. Everything random derives from `seed`.
    pub fn new(seed: u64, link: LinkConfig, processes: Vec<P>) -> Sim<P> {
        if let Err(e) = link.validate() {
            panic!("invalid link configuration: {e}");
        }
        let mut sim = Sim {
            seed,
            now: Time::ZERO,
            seq: 1,
            queue: BinaryHeap::new(),
            nodes: Vec::with_capacity(processes.len()),
            network: Network::new(link),
            net_rng: rng_stream(seed, 0),
            stats: NetStats::default(),
            metrics: Metrics::default(),
            effects: Vec::new(),
            invariants: Vec::new(),
            restarter: None,
            recorder: Recorder::new(TraceLevel::Hash),
            events: 0,
        };
        for (i, process) in processes.into_iter().enumerate() {
            sim.nodes.push(Node {
                process: Some(process),
                state: NodeState::Up,
                disk: None,
                rng: rng_stream(seed, i as u64 + 1),
                clock: Clock::default(),
                timers: Vec::new(),
                deferred: Vec::new(),
                started: false,
            });
            sim.push(Time::ZERO, EventKind::Start(NodeId(i)));
        }
        sim
    }

    /// Sets how much of the run is recorded (default: the hash only).
    pub fn set_trace(&mut self, level: TraceLevel) {
        self.recorder.level = level;
    }

    /// Gives node `id` a drifting or offset clock.
    pub fn set_clock(&mut self, id: NodeId, clock: Clock) {
        self.nodes[id.0].clock = clock;
    }

    /// Gives the directed link `from -> to` its own behaviour.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        if let Err(e) = link.validate() {
            panic!("invalid configuration for link {from} -> {to}: {e}");
        }
        self.network.set_link(from, to, link);
    }

    // ANCHOR: callbacks
    /// How a crashed node comes back: `f(id, disk)` builds its fresh process.
    pub fn on_restart(&mut self, f: impl FnMut(NodeId, P::Durable) -> P + 'static) {
        self.restarter = Some(Box::new(f));
    }

    /// Adds an invariant, checked after every event from now on.
    pub fn add_invariant(
        &mut self,
        name: &str,
        check: impl Fn(&Sim<P>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.to_string(), Box::new(check)));
    }
    // ANCHOR_END: callbacks

    /// Schedules `fault` to happen at `at`.
    pub fn schedule_fault(&mut self, at: Time, fault: Fault) {
        self.check_fault(&fault);
        self.push(at.max(self.now), EventKind::Fault(Box::new(fault)));
    }

    /// Schedules every fault of `schedule`.
    pub fn schedule(&mut self, schedule: &FaultSchedule) {
        for (at, fault) in &schedule.faults {
            self.schedule_fault(*at, fault.clone());
        }
    }

    /// Delivers `msg` to `to` at `at` as if `from` had sent it, bypassing the network.
    pub fn inject(&mut self, at: Time, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(to.0 < self.nodes.len(), "inject to unknown node {to}");
        self.push(at.max(self.now), EventKind::Deliver { from, to, msg });
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.check_fault(&fault);
        self.apply_fault(fault);
    }

    /// Runs every event up to and including `until`; virtual time then stands at `until`.
    pub fn run_until(&mut self, until: Time) -> Result<(), InvariantViolation> {
        while self.queue.peek().is_some_and(|e| e.at <= until) {
            self.step()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs for `d` of virtual time from now.
    pub fn run_for(&mut self, d: Duration) -> Result<(), InvariantViolation> {
        self.run_until(self.now + d)
    }

    // ANCHOR: step
    /// Processes the earliest pending event. Returns `Ok(false)` if there was none.
    pub fn step(&mut self) -> Result<bool, InvariantViolation> {
        let Some(entry) = self.queue.pop() else {
            return Ok(false);
        };
        debug_assert!(entry.at >= self.now, "time went backwards");
        self.now = entry.at;
        self.events += 1;
        match entry.kind {
            EventKind::Start(id) => match self.nodes[id.0].state {
                // A fault applied before the start event (`apply` at time zero): a restart
                // has already started the node, a crashed node starts when it restarts, and a
                // paused one starts when it resumes.
                NodeState::Up if !self.nodes[id.0].started => self.start(id),
                NodeState::Paused => {
                    let kind = EventKind::Start(id);
                    self.defer(id, entry.at, entry.seq, kind);
                }
                NodeState::Up | NodeState::Crashed => {
                    self.events -= 1;
                    return Ok(true);
                }
            },
            EventKind::Fault(fault) => self.apply_fault(*fault),
            EventKind::Deliver { from, to, msg } => match self.nodes[to.0].state {
                NodeState::Up => self.deliver(from, to, msg),
                NodeState::Paused => {
                    let kind = EventKind::Deliver { from, to, msg };
                    self.defer(to, entry.at, entry.seq, kind);
                }
                NodeState::Crashed => self.drop_message(from, to, DropReason::Crashed, &msg),
            },
            EventKind::Timer { node, timer } => {
                let index = timer.0 as usize;
                if self.nodes[node.0].timers.get(index) != Some(&entry.seq) {
                    // Reset, cancelled or lost in a crash since it was set: not an event.
                    self.events -= 1;
                    return Ok(true);
                }
                match self.nodes[node.0].state {
                    NodeState::Up => {
                        self.nodes[node.0].timers[index] = 0;
                        self.fire(node, timer);
                    }
                    NodeState::Paused => {
                        let kind = EventKind::Timer { node, timer };
                        self.defer(node, entry.at, entry.seq, kind);
                    }
                    NodeState::Crashed => unreachable!("a crash clears the node's timers"),
                }
            }
        }
        self.check_invariants()?;
        Ok(true)
    }
    // ANCHOR_END: step

    fn push(&mut self, at: Time, kind: EventKind<P::Msg>) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Entry { at, seq, kind });
        seq
    }

    fn start(&mut self, id: NodeId) {
        self.nodes[id.0].started = true;
        if self.recorder.level > TraceLevel::Off {
            self.recorder
                .record(self.now, TraceKind::Start { node: id.0 });
        }
        self.dispatch(id, |p, ctx| p.on_start(ctx));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.stats.delivered += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Deliver {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        self.dispatch(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    fn fire(&mut self, node: NodeId, timer: TimerId) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Timer {
                    node: node.0,
                    timer: timer.0,
                },
            );
        }
        self.dispatch(node, |p, ctx| p.on_timer(ctx, timer));
    }

    /// Runs one handler of node `id` and turns its effects into events.
    fn dispatch(&mut self, id: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>)) {
        let mut effects = std::mem::take(&mut self.effects);
        let node = &mut self.nodes[id.0];
        // A default clock reads true time: skip its 128-bit arithmetic on the hot path.
        let local_now = if node.clock == Clock::default() {
            self.now
        } else {
            node.clock.local(self.now)
        };
        let process = node.process.as_mut().expect("dispatch to a crashed node");
        let mut ctx = Ctx::new(
            id,
            local_now,
            &mut node.rng,
            &mut effects,
            &mut self.metrics,
        );
        handler(process, &mut ctx);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(id, to, msg),
                Effect::SetTimer { timer, after } => self.set_timer(id, timer, after),
                Effect::CancelTimer { timer } => {
                    if let Some(slot) = self.nodes[id.0].timers.get_mut(timer.0 as usize) {
                        *slot = 0;
                    }
                }
            }
        }
        self.effects = effects;
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(
            to.0 < self.nodes.len(),
            "{from} sent to unknown node {to}: {msg:?}"
        );
        self.stats.sent += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Send {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        let size = P::message_size(&msg);
        match self
            .network
            .transmit(from, to, size, self.now, &mut self.net_rng)
        {
            Fate::Arrives(first, second) => {
                if let Some(again) = second {
                    self.stats.duplicated += 1;
                    self.push(
                        again,
                        EventKind::Deliver {
                            from,
                            to,
                            msg: msg.clone(),
                        },
                    );
                }
                self.push(first, EventKind::Deliver { from, to, msg });
            }
            Fate::Dropped(reason) => self.drop_message(from, to, reason, &msg),
        }
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, reason: DropReason, msg: &P::Msg) {
        match reason {
            DropReason::Loss => self.stats.lost += 1,
            DropReason::Partition => self.stats.blocked += 1,
            DropReason::Crashed => self.stats.to_crashed += 1,
        }
        if self.recorder.level > TraceLevel::Off {
            let kind = TraceKind::Drop {
                from: from.0,
                to: to.0,
                reason: format!("{reason:?}"),
                msg: format!("{msg:?}"),
            };
            self.recorder.record(self.now, kind);
        }
    }

    fn set_timer(&mut self, id: NodeId, timer: TimerId, after: Duration) {
        let real = self.nodes[id.0].clock.real_duration(after);
        let seq = self.push(self.now + real, EventKind::Timer { node: id, timer });
        let timers = &mut self.nodes[id.0].timers;
        let index = timer.0 as usize;
        if timers.len() <= index {
            timers.resize(index + 1, 0);
        }
        timers[index] = seq;
    }

    /// Holds an event for a paused node until it resumes.
    fn defer(&mut self, id: NodeId, at: Time, seq: u64, kind: EventKind<P::Msg>) {
        self.nodes[id.0].deferred.push(Entry { at, seq, kind });
    }

    fn check_fault(&self, fault: &Fault) {
        let n = self.nodes.len();
        let ok = |id: &NodeId| id.0 < n;
        let valid = match fault {
            Fault::Crash(id) | Fault::Restart(id) | Fault::Pause(id) | Fault::Resume(id) => ok(id),
            Fault::Partition(a, b) | Fault::OneWay(a, b) => a.iter().chain(b).all(ok),
            Fault::Heal => true,
        };
        assert!(valid, "fault `{fault}` names a node outside 0..{n}");
        if matches!(fault, Fault::Restart(_)) {
            assert!(
                self.restarter.is_some(),
                "restart scheduled but no `on_restart` given"
            );
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Fault {
                    fault: fault.to_string(),
                },
            );
        }
        self.metrics.count("faults", 1);
        match fault {
            Fault::Crash(id) => {
                let node = &mut self.nodes[id.0];
                if let Some(process) = node.process.take() {
                    node.disk = Some(process.durable());
                    node.state = NodeState::Crashed;
                    node.timers.clear();
                    node.deferred.clear();
                }
            }
            Fault::Restart(id) => {
                if self.nodes[id.0].state == NodeState::Crashed {
                    let disk = self.nodes[id.0]
                        .disk
                        .take()
                        .expect("a crashed node has a disk");
                    let restart = self.restarter.as_mut().expect("checked when scheduled");
                    let process = restart(id, disk);
                    let node = &mut self.nodes[id.0];
                    node.process = Some(process);
                    node.state = NodeState::Up;
                    self.start(id);
                }
            }
            Fault::Pause(id) => {
                if self.nodes[id.0].state == NodeState::Up {
                    self.nodes[id.0].state = NodeState::Paused;
                }
            }
            Fault::Resume(id) => {
                if self.nodes[id.0].state == NodeState::Paused {
                    self.nodes[id.0].state = NodeState::Up;
                    // Everything that waited is handled now, in the order it arrived.
                    let deferred = std::mem::take(&mut self.nodes[id.0].deferred);
                    for entry in deferred {
                        let timer = match entry.kind {
                            EventKind::Timer { timer, .. } => Some(timer),
                            _ => None,
                        };
                        let seq = self.push(self.now, entry.kind);
                        if let Some(t) = timer {
                            let slot = &mut self.nodes[id.0].timers[t.0 as usize];
                            if *slot == entry.seq {
                                *slot = seq;
                            }
                        }
                    }
                }
            }
            Fault::Partition(a, b) => self.network.partition(&a, &b),
            Fault::OneWay(from, to) => self.network.block(&from, &to),
            Fault::Heal => self.network.heal(),
        }
    }

    fn check_invariants(&mut self) -> Result<(), InvariantViolation> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let invariants = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for (name, check) in &invariants {
            if let Err(message) = check(self) {
                result = Err(InvariantViolation {
                    name: name.clone(),
                    message,
                    at: self.now,
                    event: self.events,
                    seed: self.seed,
                });
                break;
            }
        }
        self.invariants = invariants;
        result
    }

    /// The seed this run was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time (true time, not any node's clock).
    pub fn now(&self) -> Time {
        self.now
    }

    /// How many nodes the run has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `id`'s process, unless it is crashed.
    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.nodes[id.0].process.as_ref()
    }

    /// Node `id`'s process for inspection or reconfiguration by a test, unless it is crashed.
    pub fn process_mut(&mut self, id: NodeId) -> Option<&mut P> {
        self.nodes[id.0].process.as_mut()
    }

    /// Whether node `id` is up, paused or crashed.
    pub fn state(&self, id: NodeId) -> NodeState {
        self.nodes[id.0].state
    }

    /// What node `id`'s clock reads now.
    pub fn local_time(&self, id: NodeId) -> Time {
        self.nodes[id.0].clock.local(self.now)
    }

    /// Whether a partition currently blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.network.is_blocked(from, to)
    }

    /// The metrics processes recorded.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for percentile queries (which sort samples in place).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// What the network did to messages so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// How many events were processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The fingerprint of everything that happened so far (zero-effort determinism check).
    pub fn trace_hash(&self) -> u64 {
        self.recorder.hash.0
    }

    /// The recorded events (empty unless the trace level is `Full`).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.recorder.events
    }

    /// A one-paragraph account of the run, for error messages and logs.
    pub fn summary(&self) -> String {
        let s = self.stats;
        let mut out = String::new();
        let _ = write!(
            out,
            "seed {} at {}: {} events; messages sent {}, delivered {}, lost {}, blocked {}, \
             to crashed nodes {}, duplicated {}",
            self.seed,
            self.now,
            self.events,
            s.sent,
            s.delivered,
            s.lost,
            s.blocked,
            s.to_crashed,
            s.duplicated
        );
        out
    }
}
}

pub use campaign::{Campaign, CampaignReport};
pub use clock::Clock;
pub use faults::{Fault, FaultSchedule, Nemesis, ScheduleError};
pub use metrics::{Histogram, Metrics};
pub use network::{DropReason, Fate, Latency, LinkConfig, Network};
pub use process::{Ctx, Effect, NodeId, Process, TimerId};
pub use rng::{Exponential, SimRng, StandardNormal, Zipf, rng_stream};
pub use time::{Time, nanos, parse_duration};
pub use trace::{Fnv64, TraceEvent, TraceKind, TraceLevel};
pub use world::{InvariantViolation, NetStats, NodeState, Sim};
}
