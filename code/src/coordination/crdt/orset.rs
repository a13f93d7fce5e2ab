//! OR-Set, add-wins: a set where a remove cancels only the adds it has observed.
//!
//! The observed-remove set of RR-7506 tags every add with a unique tag and lets a
//! remove delete the tags it can see; an add concurrent with a remove carries a tag the remove
//! never saw, so it survives: *add wins*. That version keeps the removed tags forever
//! (tombstones; the chapter's exercise builds it). This one is the optimisation of Bieniusa,
//! Zawirski, Preguiça, Shapiro, Baquero, Balegas and Duarte ("An optimized conflict-free
//! replicated set", arXiv:1210.3368, 2012), the `Orswot` of the `crdts` crate:
//!
//! - a tag is a *dot* `(replica, n)`: the `n`-th add made at `replica`;
//! - besides the live dots of each element, a replica keeps a *causal context*, the set of all
//!   dots it has ever seen, as a vector clock (entry `i` = the highest `n` seen from replica
//!   `i`; full-state merges keep it gap-free, so the vector represents the set exactly);
//! - a dot that the other side has seen (its context covers it) but no longer holds was
//!   removed there, so merge drops it; a dot the other side has never seen is new, so merge
//!   keeps it. No tombstone is needed: the context remembers removals as "seen, not live".

use std::collections::{BTreeMap, BTreeSet};

use super::{ReplicaId, StateCrdt};
use crate::coordination::time::vector::VectorClock;

/// The unique tag of one add: the `counter`-th add at `replica`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// The replica that made the add.
    pub replica: ReplicaId,
    /// Its sequence number at that replica, from 1.
    pub counter: u64,
}

// ANCHOR: orset_state
/// An add-wins observed-remove set of `E`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrSet<E: Ord> {
    /// Each present element with the dots of the adds that keep it alive. Invariant: no empty
    /// set of dots, and every dot here is covered by `context`.
    entries: BTreeMap<E, BTreeSet<Dot>>,
    /// Every dot this replica has seen, live or removed. Invariant: gap-free per replica, with
    /// no trailing zero entries (so equal contexts are equal vectors).
    context: VectorClock,
}

// ANCHOR_END: orset_state

impl<E: Ord> Default for OrSet<E> {
    fn default() -> Self {
        OrSet {
            entries: BTreeMap::new(),
            context: VectorClock::default(),
        }
    }
}

impl<E: Ord + Clone + std::fmt::Debug> OrSet<E> {
    /// An empty set.
    pub fn new() -> OrSet<E> {
        OrSet::default()
    }

    // ANCHOR: orset_ops
    /// Replica `replica` adds `element` with a fresh dot. The element's older dots are all
    /// covered by the context, so the new dot replaces them.
    pub fn add(&mut self, replica: ReplicaId, element: E) -> Dot {
        self.context.increment(replica);
        let dot = Dot {
            replica,
            counter: self.context.get(replica),
        };
        self.entries.insert(element, BTreeSet::from([dot]));
        dot
    }

    /// Removes `element`: forgets the dots this replica has observed for it. Their
    /// presence in the context is what tells other replicas that they were removed.
    pub fn remove(&mut self, element: &E) {
        self.entries.remove(element);
    }

    // ANCHOR_END: orset_ops
    /// Whether `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.entries.contains_key(element)
    }

    /// Whether this replica has seen `dot` (added, and perhaps removed since).
    fn covers(&self, dot: &Dot) -> bool {
        dot.counter <= self.context.get(dot.replica)
    }
}

// ANCHOR: orset_merge
impl<E: Ord + Clone + std::fmt::Debug> StateCrdt for OrSet<E> {
    type Value = BTreeSet<E>;

    fn merge(&mut self, other: &OrSet<E>) {
        let none = BTreeSet::new();
        let elements: BTreeSet<E> = self
            .entries
            .keys()
            .chain(other.entries.keys())
            .cloned()
            .collect();
        for element in elements {
            let mine = self.entries.get(&element).unwrap_or(&none);
            let theirs = other.entries.get(&element).unwrap_or(&none);
            // Keep a dot both hold, or one that the side lacking it has never seen.
            let live: BTreeSet<Dot> = mine
                .iter()
                .filter(|d| theirs.contains(d) || !other.covers(d))
                .chain(theirs.iter().filter(|d| !self.covers(d)))
                .copied()
                .collect();
            if live.is_empty() {
                self.entries.remove(&element);
            } else {
                self.entries.insert(element, live);
            }
        }
        self.context.merge(&other.context);
    }

    fn value(&self) -> BTreeSet<E> {
        self.entries.keys().cloned().collect()
    }
}
// ANCHOR_END: orset_merge

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_concurrent_add_survives_a_remove_that_did_not_see_it() {
        let mut a = OrSet::new();
        a.add(0, "milk");
        let mut b = a.clone();
        a.remove(&"milk");
        b.add(1, "milk");
        a.merge(&b);
        b.merge(&a);
        assert!(a.contains(&"milk") && b.contains(&"milk"));
        assert_eq!(a, b);
    }

    #[test]
    fn a_remove_deletes_the_adds_it_observed() {
        let mut a = OrSet::new();
        a.add(0, 1);
        let mut b = a.clone();
        b.remove(&1);
        a.merge(&b);
        assert!(!a.contains(&1));
    }
}
