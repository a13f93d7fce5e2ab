//! MV-Register: a register that keeps concurrent writes as siblings (RR-7506).
//!
//! Each write carries a vector clock (chapter 8's
//! [`VectorClock`](crate::coordination::time::vector::VectorClock)): the join of the clocks of
//! every write the writer has seen, with the writer's own entry incremented. A write whose
//! clock is dominated by another's was overwritten, knowingly, and disappears at merge; writes
//! whose clocks are concurrent are both kept, and a reader sees them all (Dynamo's "siblings",
//! the next page's store surfaces them to the client). The next write, by anyone who has read
//! them, dominates them all and replaces them with one value.
//!
//! Canonical form: siblings sorted by clock, and clocks never carry trailing zero entries
//! (they are built from empty clocks by `increment` and `merge` only), so that two registers
//! with the same siblings compare equal.

use super::{ReplicaId, StateCrdt};
use crate::coordination::time::vector::{Causality, VectorClock};

// ANCHOR: mvregister
/// A multi-value register holding `T`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MvRegister<T> {
    /// The siblings: writes not overwritten by any write this replica has seen, with their
    /// clocks. Invariant: the clocks are pairwise concurrent and sorted by their entries.
    siblings: Vec<(VectorClock, T)>,
}

// ANCHOR_END: mvregister

impl<T> Default for MvRegister<T> {
    fn default() -> Self {
        MvRegister {
            siblings: Vec::new(),
        }
    }
}

impl<T: Clone + PartialEq + std::fmt::Debug> MvRegister<T> {
    /// An empty register.
    pub fn new() -> MvRegister<T> {
        MvRegister::default()
    }

    // ANCHOR: mv_set
    /// Replica `replica` writes `value`, overwriting every sibling it holds.
    pub fn set(&mut self, replica: ReplicaId, value: T) {
        let mut clock = VectorClock::default();
        for (seen, _) in &self.siblings {
            clock.merge(seen);
        }
        clock.increment(replica);
        self.siblings = vec![(clock, value)];
    }

    // ANCHOR_END: mv_set
    /// The siblings with their clocks.
    pub fn siblings(&self) -> &[(VectorClock, T)] {
        &self.siblings
    }
}

// ANCHOR: mv_merge
impl<T: Clone + PartialEq + std::fmt::Debug> StateCrdt for MvRegister<T> {
    type Value = Vec<T>;

    fn merge(&mut self, other: &MvRegister<T>) {
        let mut all = self.siblings.clone();
        all.extend(other.siblings.iter().cloned());
        let mut kept: Vec<(VectorClock, T)> = Vec::new();
        for (i, (clock, value)) in all.iter().enumerate() {
            let overwritten = all
                .iter()
                .any(|(c, _)| clock.compare(c) == Causality::Before);
            let duplicate = all[..i].iter().any(|(c, _)| c == clock);
            if !overwritten && !duplicate {
                kept.push((clock.clone(), value.clone()));
            }
        }
        kept.sort_by(|a, b| a.0.entries.cmp(&b.0.entries));
        self.siblings = kept;
    }

    fn value(&self) -> Vec<T> {
        self.siblings.iter().map(|(_, v)| v.clone()).collect()
    }
}
// ANCHOR_END: mv_merge

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writes_are_siblings_until_a_write_that_saw_both() {
        let mut a = MvRegister::new();
        let mut b = MvRegister::new();
        a.set(0, "x");
        b.set(1, "y");
        a.merge(&b);
        assert_eq!(a.value(), vec!["y", "x"]);
        a.set(0, "z");
        b.merge(&a);
        assert_eq!(b.value(), vec!["z"]);
    }
}
