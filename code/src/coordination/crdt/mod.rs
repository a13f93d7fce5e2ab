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

pub mod exercise;
pub mod gcounter;
pub mod lww;
pub mod mvregister;
pub mod orset;
pub mod pncounter;

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
