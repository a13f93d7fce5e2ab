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
