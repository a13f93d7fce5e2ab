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

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call_ns: u64, return_ns: u64) -> Operation<(), ()> {
        Operation {
            client: 0,
            input: (),
            output: Some(()),
            call_ns,
            return_ns,
        }
    }

    fn walk(events: &Events) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        let mut e = events.next[HEAD];
        while e != NIL {
            out.push((events.op[e], events.is_call[e]));
            e = events.next[e];
        }
        out
    }

    #[test]
    fn events_are_in_time_order_with_calls_before_returns_at_equal_times() {
        let (a, b) = (op(0, 10), op(10, 20));
        let events = Events::new(&[&a, &b]);
        assert_eq!(
            walk(&events),
            vec![(0, true), (1, true), (0, false), (1, false)]
        );
    }

    #[test]
    fn unlift_restores_what_lift_removed() {
        let (a, b, c) = (op(0, 30), op(5, 10), op(20, 40));
        let mut events = Events::new(&[&a, &b, &c]);
        let before = walk(&events);
        let call_a = events.next[HEAD];
        events.lift(call_a);
        let call_b = events.next[HEAD];
        events.lift(call_b);
        assert_eq!(walk(&events), vec![(2, true), (2, false)]);
        events.unlift(call_b);
        events.unlift(call_a);
        assert_eq!(walk(&events), before);
    }

    #[test]
    fn bitsets_span_words() {
        let mut s = BitSet::new(70);
        s.insert(69);
        s.insert(1);
        s.remove(1);
        assert_eq!(s, {
            let mut t = BitSet::new(70);
            t.insert(69);
            t
        });
    }
}
