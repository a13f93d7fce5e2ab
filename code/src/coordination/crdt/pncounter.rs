//! PN-Counter: a counter that goes up and down (RR-7506).
//!
//! A decrement cannot lower a G-Counter entry (the merge's maximum would undo it), so the
//! PN-Counter keeps two G-Counters: one of increments (`p`) and one of decrements (`n`). The
//! value is their difference; each half merges as a G-Counter. The value may go negative:
//! keeping it non-negative (a stock level, a bank balance) is an invariant that needs
//! coordination, which is the CALM theorem's point in the chapter.

use super::gcounter::GCounter;
use super::{ReplicaId, StateCrdt};

// ANCHOR: pncounter
/// An increment/decrement counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PnCounter {
    /// Every increment, per replica. Invariant: a G-Counter, so only replica `i` raises entry `i`.
    p: GCounter,
    /// Every decrement, per replica, as a positive amount. Invariant: the same as `p`'s.
    n: GCounter,
}

impl PnCounter {
    /// A counter at zero.
    pub fn new() -> PnCounter {
        PnCounter::default()
    }

    /// Replica `replica` adds `by`.
    pub fn increment(&mut self, replica: ReplicaId, by: u64) {
        self.p.increment(replica, by);
    }

    /// Replica `replica` subtracts `by`.
    pub fn decrement(&mut self, replica: ReplicaId, by: u64) {
        self.n.increment(replica, by);
    }
}

impl StateCrdt for PnCounter {
    type Value = i64;

    fn merge(&mut self, other: &PnCounter) {
        self.p.merge(&other.p);
        self.n.merge(&other.n);
    }

    fn value(&self) -> i64 {
        let p = i128::from(self.p.value());
        let n = i128::from(self.n.value());
        i64::try_from(p - n).expect("PN-Counter value out of i64 range")
    }
}
// ANCHOR_END: pncounter

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_and_decrements_from_two_replicas_add_up() {
        let mut a = PnCounter::new();
        let mut b = PnCounter::new();
        a.increment(0, 10);
        b.decrement(1, 3);
        a.decrement(0, 1);
        a.merge(&b);
        b.merge(&a);
        assert_eq!((a.value(), b.value()), (6, 6));
    }
}
