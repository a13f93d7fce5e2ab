//! G-Counter: a counter that only grows (RR-7506).
//!
//! Each replica counts its own increments in its own entry; the value is the sum of the
//! entries. Merging takes the entry-wise maximum. That is safe because only replica `i` ever
//! writes entry `i`, so the larger of two copies of entry `i` has seen every increment the
//! smaller one has. Adding instead of taking the maximum would count an increment once per
//! path it travelled, which is why a plain integer cannot be a CRDT counter.
//!
//! The state is the same lattice as a vector clock's (chapter 8); the entries count
//! increments rather than events.

use super::{ReplicaId, StateCrdt};

// ANCHOR: gcounter
/// A grow-only counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GCounter {
    /// `counts[i]`: the total that replica `i` has added. Only replica `i` raises entry `i`.
    /// Invariant: no trailing zero entries (a missing entry is zero), so that equal counters
    /// are equal vectors.
    counts: Vec<u64>,
}

impl GCounter {
    /// A counter at zero.
    pub fn new() -> GCounter {
        GCounter::default()
    }

    /// Replica `replica` adds `by`.
    pub fn increment(&mut self, replica: ReplicaId, by: u64) {
        if by == 0 {
            return;
        }
        if self.counts.len() <= replica {
            self.counts.resize(replica + 1, 0);
        }
        self.counts[replica] = self.counts[replica]
            .checked_add(by)
            .expect("G-Counter entry overflow");
    }

    /// What replica `replica` has added.
    pub fn get(&self, replica: ReplicaId) -> u64 {
        self.counts.get(replica).copied().unwrap_or(0)
    }
}

impl StateCrdt for GCounter {
    type Value = u64;

    fn merge(&mut self, other: &GCounter) {
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine = (*mine).max(*theirs);
        }
    }

    fn value(&self) -> u64 {
        self.counts.iter().sum()
    }
}
// ANCHOR_END: gcounter

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_counts_each_increment_once_however_often_it_arrives() {
        let mut a = GCounter::new();
        let mut b = GCounter::new();
        a.increment(0, 2);
        b.increment(1, 3);
        a.merge(&b);
        a.merge(&b);
        b.merge(&a);
        assert_eq!((a.value(), b.value()), (5, 5));
        assert_eq!(a, b);
    }
}
