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
