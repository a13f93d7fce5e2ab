//! Vector clocks: one counter per process, so that timestamps capture causality exactly.
//!
//! Fidge ("Timestamps in message-passing systems that preserve the partial ordering", 11th
//! Australian Computer Science Conference, 1988) and Mattern ("Virtual time and global states
//! of distributed systems", Parallel and Distributed Algorithms, 1989) independently gave each
//! process a vector `V` with one entry per process. Entry `V[j]` at process `i` counts the
//! events of `j` that `i` has heard of, directly or through others. The rules:
//!
//! - before each event of process `i` (local, send or receive), `V[i] += 1`;
//! - a message carries the sender's vector after its send event;
//! - on receipt, the receiver first takes the entry-wise maximum with the message's vector
//!   ([`VectorClock::merge`]), then increments its own entry.
//!
//! Vectors are ordered entry-wise: `V <= W` when every entry is, and `V < W` when, in
//! addition, they differ. Mattern's theorem (in the section on vector time): for distinct
//! events,
//! `a -> b` **if and only if** `V(a) < V(b)`. Two events whose vectors are incomparable are
//! *concurrent*: neither could have influenced the other. This is the exact characterisation a
//! Lamport clock cannot give; the price is one counter per process in every message.
//!
//! Representation: a dense `Vec<u64>` indexed by process number, for a fixed set of processes
//! `0..n`. A missing trailing entry counts as zero, so vectors of different lengths compare as
//! if padded. Systems whose membership changes use maps instead (Dynamo-style version vectors;
//! the `crdts` crate's `VClock`, which the chapter's bench compares with this one).

use std::cmp::Ordering;

// ANCHOR: causality
/// How two vector timestamps (and so the events they stamp) are related.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Causality {
    /// The first happened before the second.
    Before,
    /// The first happened after the second.
    After,
    /// Same vector: the same event (distinct events never share a vector).
    Equal,
    /// Neither happened before the other.
    Concurrent,
}
// ANCHOR_END: causality

// ANCHOR: vector_clock
/// A vector clock over processes `0..n`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VectorClock {
    /// `entries[j]`: how many events of process `j` this clock has seen. Entries past the end
    /// are zero.
    pub entries: Vec<u64>,
}

impl VectorClock {
    /// The clock of a process before its first event, in a system of `n` processes.
    pub fn new(n: usize) -> VectorClock {
        VectorClock {
            entries: vec![0; n],
        }
    }

    /// Entry `j` (zero past the end).
    pub fn get(&self, j: usize) -> u64 {
        self.entries.get(j).copied().unwrap_or(0)
    }

    /// Counts one more event of process `i`.
    pub fn increment(&mut self, i: usize) {
        if self.entries.len() <= i {
            self.entries.resize(i + 1, 0);
        }
        self.entries[i] = self.entries[i]
            .checked_add(1)
            .expect("vector clock overflow");
    }

    /// Entry-wise maximum with `other`: afterwards this clock has seen everything either had.
    pub fn merge(&mut self, other: &VectorClock) {
        if self.entries.len() < other.entries.len() {
            self.entries.resize(other.entries.len(), 0);
        }
        for (mine, theirs) in self.entries.iter_mut().zip(&other.entries) {
            *mine = (*mine).max(*theirs);
        }
    }
}
// ANCHOR_END: vector_clock

// ANCHOR: compare
impl VectorClock {
    /// How `self` relates to `other`, comparing entry by entry.
    pub fn compare(&self, other: &VectorClock) -> Causality {
        let n = self.entries.len().max(other.entries.len());
        let (mut some_less, mut some_greater) = (false, false);
        for j in 0..n {
            match self.get(j).cmp(&other.get(j)) {
                Ordering::Less => some_less = true,
                Ordering::Greater => some_greater = true,
                Ordering::Equal => {}
            }
            if some_less && some_greater {
                return Causality::Concurrent;
            }
        }
        match (some_less, some_greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => unreachable!("returned early"),
        }
    }

    /// Whether the event stamped `self` happened before the one stamped `other`.
    pub fn happened_before(&self, other: &VectorClock) -> bool {
        self.compare(other) == Causality::Before
    }
}
// ANCHOR_END: compare

/// The partial order: `None` for concurrent clocks.
impl PartialOrd for VectorClock {
    fn partial_cmp(&self, other: &VectorClock) -> Option<Ordering> {
        match self.compare(other) {
            Causality::Before => Some(Ordering::Less),
            Causality::After => Some(Ordering::Greater),
            Causality::Equal => Some(Ordering::Equal),
            Causality::Concurrent => None,
        }
    }
}

impl std::fmt::Display for VectorClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.entries.iter().map(u64::to_string).collect();
        write!(f, "[{}]", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(entries: &[u64]) -> VectorClock {
        VectorClock {
            entries: entries.to_vec(),
        }
    }

    #[test]
    fn compare_is_entry_wise_with_missing_entries_as_zero() {
        let cases = [
            (v(&[1, 0, 0]), v(&[1, 1, 0]), Causality::Before),
            (v(&[2, 1]), v(&[1, 1]), Causality::After),
            (v(&[1, 2]), v(&[1, 2, 0]), Causality::Equal),
            (v(&[1, 0]), v(&[0, 1]), Causality::Concurrent),
            (v(&[]), v(&[0, 0, 1]), Causality::Before),
            (v(&[3, 0, 1]), v(&[3, 1, 0]), Causality::Concurrent),
        ];
        for (a, b, expected) in cases {
            assert_eq!(a.compare(&b), expected, "{a} vs {b}");
            let flipped = match expected {
                Causality::Before => Causality::After,
                Causality::After => Causality::Before,
                other => other,
            };
            assert_eq!(b.compare(&a), flipped, "{b} vs {a}");
        }
    }

    #[test]
    fn merge_takes_the_entry_wise_maximum_and_dominates_both() {
        let mut a = v(&[3, 0, 1]);
        let b = v(&[1, 4]);
        a.merge(&b);
        assert_eq!(a, v(&[3, 4, 1]));
        assert!(b <= a);
        let mut c = v(&[1]);
        c.merge(&v(&[0, 0, 2]));
        assert_eq!(c, v(&[1, 0, 2]));
    }

    #[test]
    fn a_receive_after_merge_and_increment_follows_the_send() {
        let mut sender = VectorClock::new(2);
        sender.increment(0);
        let mut receiver = VectorClock::new(2);
        receiver.increment(1);
        assert_eq!(sender.compare(&receiver), Causality::Concurrent);
        receiver.merge(&sender);
        receiver.increment(1);
        assert_eq!(sender.compare(&receiver), Causality::Before);
        assert_eq!(receiver.to_string(), "[1,2]");
    }
}
