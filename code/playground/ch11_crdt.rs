// GENERATED from code/examples/ch11_crdt.rs and the `uds` modules coordination::time::vector, coordination::crdt by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 11 listing: two replicas diverge during a partition and converge after it heals.
//!
//! playground-bundle: coordination::time::vector coordination::crdt
//!
//! Replicas `a` (0) and `b` (1) of a shared shopping list each hold an OR-Set of items, a
//! PN-Counter of tickets left, an LWW-Register and an MV-Register for the list's title. While
//! partitioned they accept conflicting updates; then each merges the other's state.
//! `--skew-ms N` sets b's clock N ms behind a's (default 0), for the LWW exercise.
//!
//! Run: `cargo run --release -p uds --example ch11_crdt` (or `-- --skew-ms 50`)
use crate::coordination::crdt::StateCrdt;
use crate::coordination::crdt::lww::LwwRegister;
use crate::coordination::crdt::mvregister::MvRegister;
use crate::coordination::crdt::orset::OrSet;
use crate::coordination::crdt::pncounter::PnCounter;

/// One replica's state: four CRDTs side by side.
#[derive(Clone, Debug)]
struct Replica {
    id: usize,
    items: OrSet<&'static str>,
    tickets: PnCounter,
    title_lww: LwwRegister<&'static str>,
    title_mv: MvRegister<&'static str>,
}

impl Replica {
    fn new(id: usize) -> Replica {
        Replica {
            id,
            items: OrSet::new(),
            tickets: PnCounter::new(),
            title_lww: LwwRegister::new(),
            title_mv: MvRegister::new(),
        }
    }

    /// Sets the title in both registers, at this replica's clock reading `now_ms`.
    fn set_title(&mut self, now_ms: u64, title: &'static str) {
        self.title_lww.set(self.id, now_ms, title);
        self.title_mv.set(self.id, title);
    }

    /// Takes in everything `other` knows: one merge per CRDT.
    fn merge(&mut self, other: &Replica) {
        self.items.merge(&other.items);
        self.tickets.merge(&other.tickets);
        self.title_lww.merge(&other.title_lww);
        self.title_mv.merge(&other.title_mv);
    }

    fn show(&self, name: &str) {
        println!(
            "{name}: items {:?}, tickets {}, title (LWW) {:?}, title (MV) {:?}",
            self.items.value(),
            self.tickets.value(),
            self.title_lww.value(),
            self.title_mv.value()
        );
    }
}

// ANCHOR: main
fn main() {
    let skew_ms = match skew_from_args() {
        Ok(skew) => skew,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let (mut a, mut b) = (Replica::new(0), Replica::new(1));
    a.items.add(a.id, "milk");
    a.tickets.increment(a.id, 10);
    a.set_title(1_000, "groceries");
    b.merge(&a); // in sync before the partition

    println!("-- partition: a and b cannot talk --");
    a.items.remove(&"milk");
    a.items.add(a.id, "eggs");
    a.tickets.decrement(a.id, 3);
    a.set_title(1_010, "weekend"); // a's clock reads 1010 ms
    b.items.add(b.id, "milk"); // concurrent with a's remove of milk
    b.tickets.decrement(b.id, 2);
    b.set_title(1_020 - skew_ms, "party"); // 10 ms later in real time
    a.show("a");
    b.show("b");

    println!("-- healed: each merges the other's state --");
    let a_before = a.clone();
    a.merge(&b);
    b.merge(&a_before);
    a.show("a");
    b.show("b");
    assert_eq!(a.items.value(), b.items.value(), "OR-Sets must converge");
    assert_eq!(
        a.tickets.value(),
        b.tickets.value(),
        "counters must converge"
    );
    assert_eq!(
        a.title_lww.value(),
        b.title_lww.value(),
        "LWW must converge"
    );
    assert_eq!(a.title_mv.value(), b.title_mv.value(), "MV must converge");
}
// ANCHOR_END: main

/// `--skew-ms N` (0 to 1000), or 0 without the flag.
fn skew_from_args() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(0),
        [flag, n] if flag == "--skew-ms" => match n.parse::<u64>() {
            Ok(n) if n <= 1_000 => Ok(n),
            _ => Err(format!(
                "--skew-ms takes a whole number of ms from 0 to 1000, got {n}"
            )),
        },
        _ => Err(format!("usage: ch11_crdt [--skew-ms N], got {args:?}")),
    }
}

mod coordination {

pub mod crdt {
//! State-based CRDTs: replicated data types whose replicas converge without coordination.
//!
//! A *conflict-free replicated data type* (Shapiro, Preguiça, Baquero and Zawirski,
//! "Conflict-free replicated data types", SSS 2011; the catalogue of types is their INRIA
//! research report RR-7506, "A comprehensive study of convergent and commutative replicated data
//! types", 2011) lets every replica accept updates locally, at once, and still guarantees
//! *strong eventual consistency*: any two replicas that have received the same set of updates
//! are in the same state, whatever the order in which they received them, with no rollback.
//!
//! The state-based flavour (a *CvRDT*) gets there with one rule. The possible states form a
//! *join semilattice*: a partial order in which any two states have a least upper bound, their
//! join. Updates only move a state upwards in that order, and [`StateCrdt::merge`] computes the
//! join. A join is commutative, associative and idempotent, so replicas may exchange whole
//! states in any order, any number of times, through any path (gossip, anti-entropy, a file on a
//! USB stick) and still end at the same join of everything anyone wrote. The tests in
//! `code/tests/part2/ch11_crdt.rs` check those three laws and convergence, generically over this
//! trait, for every type below.
//!
//! The types, all described in the report above:
//!
//! - [`gcounter::GCounter`]: a counter that only grows; one entry per replica.
//! - [`pncounter::PnCounter`]: increments and decrements as two grow-only counters.
//! - [`lww::LwwRegister`]: a register where the write with the largest timestamp wins.
//! - [`mvregister::MvRegister`]: a register that keeps concurrent writes as siblings,
//!   ordered by the crate's [`VectorClock`](crate::coordination::time::vector::VectorClock).
//! - [`orset::OrSet`]: an add-wins set; a remove removes only the adds it has seen.
//!
//! Simplifications: replicas are named by dense numbers `0..n` (as the vector clocks of
//! chapter 8 are); merges ship whole states (delta-state CRDTs, Almeida, Shoker and Baquero,
//! 2018, ship only the part that changed, and are the practical form); garbage collection of
//! metadata left by replicas that leave is out of scope. The files of this module use only std
//! and the crate's vector clock, so that the chapter's Run button can bundle them.

pub mod exercise {
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
}
pub mod gcounter {
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

}
pub mod lww {
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

}
pub mod mvregister {
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

}
pub mod orset {
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

}
pub mod pncounter {
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

}

/// The name of a replica: its index, from zero, as in a dense vector clock.
pub type ReplicaId = usize;

// ANCHOR: state_crdt
/// A state-based CRDT: a join semilattice whose updates only go up.
///
/// Laws (checked by property tests for every implementation): for all states `a`, `b`, `c`,
/// - commutative: `a ⊔ b == b ⊔ a`,
/// - associative: `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`,
/// - idempotent: `a ⊔ a == a`,
///
/// where `⊔` is [`merge`](StateCrdt::merge) and `==` compares whole states (`PartialEq`), which
/// every type keeps in a canonical form so that equal states are equal values.
pub trait StateCrdt: Clone + PartialEq + std::fmt::Debug {
    /// What a reader of the replica sees.
    type Value: PartialEq + std::fmt::Debug;

    /// Replaces `self` by the join of `self` and `other`.
    fn merge(&mut self, other: &Self);

    /// The replica's current value.
    fn value(&self) -> Self::Value;
}
// ANCHOR_END: state_crdt
}

pub mod time {

pub mod vector {
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

}
}
}
