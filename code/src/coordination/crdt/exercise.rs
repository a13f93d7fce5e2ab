//! Exercise: the original observed-remove set, with tombstones (RR-7506).
//!
//! Before the optimised [`OrSet`](super::orset::OrSet), the OR-Set kept two grow-only sets of
//! `(element, tag)` pairs: `added`, every add ever made, and `removed`, the tombstones of every
//! add that some remove observed. An element is present while one of its pairs is added and
//! not removed. Both sets only grow, so the join is the union of each.
//!
//! Implement [`starter::TombstoneOrSet::remove`] (copy every pair of the element that this
//! replica holds in `added` into `removed`; `added` keeps them, since both sets only grow) and
//! [`starter::TombstoneOrSet::merge`] (the union of both sets), then run the same property tests
//! the library's CRDTs pass:
//!
//! ```text
//! cargo test -p uds --release --test part2 ch11_crdt::exercise_tombstone_or_set -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use std::collections::BTreeSet;

use super::ReplicaId;

/// A unique tag: the `n`-th add made at a replica, as `(replica, n)`.
pub type Tag = (ReplicaId, u64);

/// Your version.
pub mod starter {
    use super::*;
    use crate::coordination::crdt::StateCrdt;

    /// An add-wins set that remembers every removed tag.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TombstoneOrSet<E: Ord> {
        /// Every add ever seen. Grows only.
        pub added: BTreeSet<(E, Tag)>,
        /// The adds some remove observed (tombstones). Grows only; a subset of `added`.
        pub removed: BTreeSet<(E, Tag)>,
    }

    impl<E: Ord> Default for TombstoneOrSet<E> {
        fn default() -> Self {
            TombstoneOrSet {
                added: BTreeSet::new(),
                removed: BTreeSet::new(),
            }
        }
    }

    impl<E: Ord + Clone + std::fmt::Debug> TombstoneOrSet<E> {
        /// An empty set.
        pub fn new() -> Self {
            Self::default()
        }

        /// Replica `replica` adds `element` with a tag no other add has.
        pub fn add(&mut self, replica: ReplicaId, element: E) {
            let n = self.added.iter().filter(|(_, t)| t.0 == replica).count() as u64;
            self.added.insert((element, (replica, n + 1)));
        }

        /// Removes `element`: tombstones every add of it this replica has seen.
        pub fn remove(&mut self, _element: &E) {
            todo!("copy every (element, tag) of `added` into `removed`")
        }
    }

    impl<E: Ord + Clone + std::fmt::Debug> StateCrdt for TombstoneOrSet<E> {
        type Value = BTreeSet<E>;

        fn merge(&mut self, _other: &Self) {
            todo!("the union of `added` and the union of `removed`")
        }

        fn value(&self) -> BTreeSet<E> {
            self.added
                .difference(&self.removed)
                .map(|(e, _)| e.clone())
                .collect()
        }
    }
}

/// One answer.
pub mod solution {
    use super::*;
    use crate::coordination::crdt::StateCrdt;

    /// An add-wins set that remembers every removed tag.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TombstoneOrSet<E: Ord> {
        /// Every add ever seen. Grows only.
        pub added: BTreeSet<(E, Tag)>,
        /// The adds some remove observed (tombstones). Grows only; a subset of `added`.
        pub removed: BTreeSet<(E, Tag)>,
    }

    impl<E: Ord> Default for TombstoneOrSet<E> {
        fn default() -> Self {
            TombstoneOrSet {
                added: BTreeSet::new(),
                removed: BTreeSet::new(),
            }
        }
    }

    impl<E: Ord + Clone + std::fmt::Debug> TombstoneOrSet<E> {
        /// An empty set.
        pub fn new() -> Self {
            Self::default()
        }

        /// Replica `replica` adds `element` with a tag no other add has.
        pub fn add(&mut self, replica: ReplicaId, element: E) {
            let n = self.added.iter().filter(|(_, t)| t.0 == replica).count() as u64;
            self.added.insert((element, (replica, n + 1)));
        }

        /// Removes `element`: tombstones every add of it this replica has seen.
        pub fn remove(&mut self, element: &E) {
            let seen: Vec<(E, Tag)> = self
                .added
                .iter()
                .filter(|(e, _)| e == element)
                .cloned()
                .collect();
            self.removed.extend(seen);
        }
    }

    impl<E: Ord + Clone + std::fmt::Debug> StateCrdt for TombstoneOrSet<E> {
        type Value = BTreeSet<E>;

        fn merge(&mut self, other: &Self) {
            self.added.extend(other.added.iter().cloned());
            self.removed.extend(other.removed.iter().cloned());
        }

        fn value(&self) -> BTreeSet<E> {
            self.added
                .difference(&self.removed)
                .map(|(e, _)| e.clone())
                .collect()
        }
    }
}
