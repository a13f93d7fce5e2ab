//! LWW-Register: the write with the largest timestamp wins (RR-7506).
//!
//! Each write is stamped with `(timestamp, replica)`; merge keeps the write with the larger
//! stamp. The replica id in the stamp is the tie-breaker, and it is not decoration: if two
//! replicas wrote different values at the same timestamp and merge kept "mine" on a tie, then
//! `a ⊔ b` would be `a` and `b ⊔ a` would be `b`; merge would not commute and the two replicas
//! would keep their own values forever. Any deterministic total order on stamps works; the
//! replica id is the cheapest.
//!
//! The timestamp is passed in (the caller's clock, sans I/O). A replica stamps a write with
//! the larger of its clock and one more than the stamp it currently holds, as a Lamport clock
//! would, so a write that has *seen* another always beats it. Two writes that have not seen
//! each other are concurrent, and one of them is silently lost: the one with the smaller
//! stamp, which under clock skew may well be the later one in real time. That is the price of
//! a register that always has one value; [`super::mvregister`] keeps both instead.

use super::{ReplicaId, StateCrdt};

/// When and where a write happened; ordered by timestamp, then replica.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The writer's clock reading (any unit, e.g. milliseconds).
    pub timestamp: u64,
    /// The writer; breaks ties between equal timestamps.
    pub replica: ReplicaId,
}

// ANCHOR: lww
/// A last-writer-wins register holding a `T`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LwwRegister<T> {
    /// The winning write so far and its stamp; `None` before any write. Invariant: no two
    /// distinct writes share a stamp, so the stamp identifies the value.
    current: Option<(Stamp, T)>,
}

// ANCHOR_END: lww

impl<T> Default for LwwRegister<T> {
    fn default() -> Self {
        LwwRegister { current: None }
    }
}

impl<T: Clone + PartialEq + std::fmt::Debug> LwwRegister<T> {
    /// An empty register.
    pub fn new() -> LwwRegister<T> {
        LwwRegister::default()
    }

    // ANCHOR: lww_set
    /// Replica `replica` writes `value` when its clock reads `now`; returns the stamp used.
    pub fn set(&mut self, replica: ReplicaId, now: u64, value: T) -> Stamp {
        let floor = self.current.as_ref().map_or(0, |(s, _)| s.timestamp + 1);
        let stamp = Stamp {
            timestamp: now.max(floor),
            replica,
        };
        self.current = Some((stamp, value));
        stamp
    }

    // ANCHOR_END: lww_set
    /// The stamp of the current value.
    pub fn stamp(&self) -> Option<Stamp> {
        self.current.as_ref().map(|(s, _)| *s)
    }
}

// ANCHOR: lww_merge
impl<T: Clone + PartialEq + std::fmt::Debug> StateCrdt for LwwRegister<T> {
    type Value = Option<T>;

    fn merge(&mut self, other: &LwwRegister<T>) {
        if let Some((theirs, value)) = &other.current
            && self.stamp().is_none_or(|mine| *theirs > mine)
        {
            self.current = Some((*theirs, value.clone()));
        }
    }

    fn value(&self) -> Option<T> {
        self.current.as_ref().map(|(_, v)| v.clone())
    }
}
// ANCHOR_END: lww_merge

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_timestamps_are_ordered_by_replica_so_merge_commutes() {
        let mut a = LwwRegister::new();
        let mut b = LwwRegister::new();
        a.set(0, 100, "from a");
        b.set(1, 100, "from b");
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        assert_eq!(ab.value(), Some("from b"));
        assert_eq!(b.value(), Some("from b"));
    }

    #[test]
    fn a_write_that_saw_another_wins_even_with_a_slow_clock() {
        let mut a = LwwRegister::new();
        a.set(0, 500, 1);
        let mut b = a.clone();
        b.set(1, 10, 2);
        a.merge(&b);
        assert_eq!(a.value(), Some(2));
    }
}
