//! Versions stamped with vector clocks, and the sibling sets a replica keeps per key.
//!
//! Dynamo (§4.4) does not overwrite a value: every write creates a *version* stamped with a
//! vector clock (chapter 11's first page introduces them; we reuse
//! [`VectorClock`]). A replica keeps, per key, the versions that no other version it knows
//! *descends from*: when a new version's clock dominates an old one, the old one is obsolete
//! and goes; when two clocks are concurrent, both stay as **siblings**, and a read returns them
//! all. The client that reads siblings resolves them in its own terms and writes back with the
//! read's *context* (the merge of their clocks), and the new version dominates them all.
//!
//! Invariant of [`Siblings`]: no version's clock is dominated by, or equal to, another's; the
//! versions are sorted, so two replicas that know the same versions hold identical sets.

use crate::coordination::time::vector::{Causality, VectorClock};

/// A value of the store: clients write numbers unique per write, so a value names its write.
pub type Value = u64;

/// One version of a key's value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The version's place in the key's history.
    pub clock: Clock,
    pub value: Value,
}

/// A vector clock with a total order for sorting (entry-wise lexicographic), which is *not*
/// the causal order: it only makes sibling sets canonical.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Clock(pub VectorClock);

impl PartialOrd for Clock {
    fn partial_cmp(&self, other: &Clock) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Clock {
    fn cmp(&self, other: &Clock) -> std::cmp::Ordering {
        let n = self.0.entries.len().max(other.0.entries.len());
        (0..n)
            .map(|j| self.0.get(j).cmp(&other.0.get(j)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

impl std::fmt::Display for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

// ANCHOR: siblings
/// The versions of one key that no other known version descends from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Siblings {
    /// Invariant: pairwise concurrent clocks, sorted.
    versions: Vec<Version>,
}

impl Siblings {
    /// Adds `v` unless a known version descends from it (or is it); drops the versions `v`
    /// descends from. Returns whether anything changed.
    pub fn insert(&mut self, v: Version) -> bool {
        let known = self.versions.iter().any(|old| {
            matches!(
                v.clock.0.compare(&old.clock.0),
                Causality::Before | Causality::Equal
            )
        });
        if known {
            return false;
        }
        self.versions
            .retain(|old| old.clock.0.compare(&v.clock.0) != Causality::Before);
        let at = self.versions.partition_point(|old| *old < v);
        self.versions.insert(at, v);
        true
    }

    /// Inserts every version of `other`. Returns whether anything changed.
    pub fn merge(&mut self, other: &Siblings) -> bool {
        let mut changed = false;
        for v in &other.versions {
            changed |= self.insert(v.clone());
        }
        changed
    }

    /// Whether some version here is `clock`'s version or descends from it: a read that returns
    /// this set has seen the write stamped `clock`.
    pub fn covers(&self, clock: &VectorClock) -> bool {
        self.versions.iter().any(|v| {
            matches!(
                clock.compare(&v.clock.0),
                Causality::Before | Causality::Equal
            )
        })
    }

    /// The read's *context*: the merge of every sibling's clock. A write made with it
    /// descends from all of them, and so replaces them.
    pub fn context(&self) -> VectorClock {
        let mut context = VectorClock::default();
        for v in &self.versions {
            context.merge(&v.clock.0);
        }
        context
    }
}
// ANCHOR_END: siblings

impl Siblings {
    /// A set of one version.
    pub fn one(v: Version) -> Siblings {
        Siblings { versions: vec![v] }
    }

    /// The versions, sorted.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// No version at all (the key was never written, as far as this replica knows).
    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// A 64-bit digest of the set, for Merkle leaves and hand-off acknowledgements.
    pub fn digest(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for v in &self.versions {
            for &e in &v.clock.0.entries {
                h = super::ring::hash64(h ^ e);
            }
            h = super::ring::hash64(h ^ v.value ^ 0x5157);
        }
        h
    }

    /// The values, sorted (what a client shows the user).
    pub fn values(&self) -> Vec<Value> {
        let mut values: Vec<Value> = self.versions.iter().map(|v| v.value).collect();
        values.sort_unstable();
        values
    }
}

// ANCHOR: new_clock
/// The clock of a new version written through coordinator `coordinator` with the client's
/// `context`: the context, with the coordinator's entry moved past every value the coordinator
/// has issued (`counter`, kept on disk) and past the context's own entry.
pub fn new_clock(context: &VectorClock, coordinator: usize, counter: &mut u64) -> VectorClock {
    let mut clock = context.clone();
    *counter = (*counter).max(context.get(coordinator)) + 1;
    if clock.entries.len() <= coordinator {
        clock.entries.resize(coordinator + 1, 0);
    }
    clock.entries[coordinator] = *counter;
    clock
}
// ANCHOR_END: new_clock

#[cfg(test)]
mod tests {
    use super::*;

    fn v(entries: &[u64], value: Value) -> Version {
        Version {
            clock: Clock(VectorClock {
                entries: entries.to_vec(),
            }),
            value,
        }
    }

    #[test]
    fn insert_keeps_exactly_the_versions_nothing_descends_from() {
        // (versions inserted in order, values left)
        let cases: [(&[Version], &[Value]); 5] = [
            (&[v(&[1, 0], 1), v(&[2, 0], 2)], &[2]),
            (&[v(&[2, 0], 2), v(&[1, 0], 1)], &[2]),
            (&[v(&[1, 0], 1), v(&[0, 1], 2)], &[1, 2]),
            (&[v(&[1, 0], 1), v(&[0, 1], 2), v(&[1, 1], 3)], &[3]),
            (
                &[v(&[1, 0], 1), v(&[1, 0], 1), v(&[0, 1], 2), v(&[2, 0], 4)],
                &[2, 4],
            ),
        ];
        for (inserts, want) in cases {
            let mut s = Siblings::default();
            for x in inserts {
                s.insert(x.clone());
            }
            assert_eq!(s.values(), want, "{inserts:?}");
        }
    }

    #[test]
    fn merge_is_order_independent() {
        let all = [
            v(&[1, 0, 0], 1),
            v(&[0, 1, 0], 2),
            v(&[1, 1, 0], 3),
            v(&[0, 0, 1], 4),
        ];
        let mut forward = Siblings::default();
        let mut backward = Siblings::default();
        for x in &all {
            forward.insert(x.clone());
        }
        for x in all.iter().rev() {
            backward.insert(x.clone());
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.digest(), backward.digest());
        assert_eq!(forward.values(), vec![3, 4]);
    }

    #[test]
    fn covers_means_equal_or_descended() {
        let s = Siblings::one(v(&[2, 1], 9));
        let clock = |e: &[u64]| VectorClock {
            entries: e.to_vec(),
        };
        assert!(s.covers(&clock(&[2, 1])));
        assert!(s.covers(&clock(&[1, 1])));
        assert!(!s.covers(&clock(&[0, 2])));
        assert!(!Siblings::default().covers(&clock(&[0, 1])));
    }

    #[test]
    fn a_write_with_the_context_replaces_every_sibling() {
        let mut s = Siblings::default();
        s.insert(v(&[1, 0, 0], 1));
        s.insert(v(&[0, 1, 0], 2));
        let mut counter = 0;
        let clock = new_clock(&s.context(), 2, &mut counter);
        assert_eq!(clock.entries, vec![1, 1, 1]);
        s.insert(Version {
            clock: Clock(clock),
            value: 3,
        });
        assert_eq!(s.values(), vec![3]);
    }

    #[test]
    fn a_coordinator_never_issues_the_same_clock_twice() {
        let mut counter = 0;
        let empty = VectorClock::default();
        let a = new_clock(&empty, 1, &mut counter);
        let b = new_clock(&empty, 1, &mut counter);
        assert_ne!(a, b);
        // The second write through the same coordinator supersedes the first, although the
        // clients did not see each other: the known cost of per-server clocks (see mod.rs).
        assert_eq!(a.compare(&b), Causality::Before);
    }
}
