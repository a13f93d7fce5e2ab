//! Exercise: de-duplication in bounded memory.
//!
//! The perfect link's [`Receiver`](super::perfect_link::Receiver) remembers every sequence
//! number it ever delivered, so a link that carries a billion messages keeps a billion numbers.
//! But the sender numbers messages `0, 1, 2, ...` and retransmits until acknowledged, so once
//! every number below some `floor` has been delivered, the receiver only needs `floor` itself and
//! the few numbers above it that arrived early (out of order). That is how TCP's receiver works
//! (one cumulative "next expected" number plus out-of-order segments; RFC 9293 §3.4), and how the
//! receive side of chapter 2's transport works.
//!
//! Implement [`starter::CompactDedup`]: `accept(seq)` returns `true` the first time it sees
//! `seq` and `false` every later time, and `remembered()` counts the numbers it holds above its
//! floor. The claim to make true: after every number in `0..n` has been accepted, in any order and
//! with any duplicates, `remembered()` is zero. Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_compact_dedup -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

/// What a de-duplicating receiver must do, whatever its memory layout.
pub trait Dedup {
    /// Whether `seq` is new: `true` exactly once per sequence number.
    fn accept(&mut self, seq: u64) -> bool;
    /// How many sequence numbers the receiver holds beyond a single counter.
    fn remembered(&self) -> usize;
}

/// Your version.
pub mod starter {
    use std::collections::BTreeSet;

    /// De-duplication with a floor: every number below `floor` has been seen.
    #[derive(Clone, Debug, Default)]
    pub struct CompactDedup {
        /// Every sequence number below this one was accepted.
        pub floor: u64,
        /// Accepted numbers above the floor. Invariant: every element is greater than `floor`.
        pub above: BTreeSet<u64>,
    }

    impl super::Dedup for CompactDedup {
        fn accept(&mut self, _seq: u64) -> bool {
            todo!("accept `seq` if it is new; then move the floor up past any run of numbers held")
        }

        fn remembered(&self) -> usize {
            todo!("how many numbers are held above the floor")
        }
    }
}

/// One answer.
pub mod solution {
    use std::collections::BTreeSet;

    // ANCHOR: compact_dedup
    /// De-duplication with a floor: every number below `floor` has been seen.
    #[derive(Clone, Debug, Default)]
    pub struct CompactDedup {
        /// Every sequence number below this one was accepted.
        pub floor: u64,
        /// Accepted numbers above the floor. Invariant: every element is greater than `floor`.
        pub above: BTreeSet<u64>,
    }

    impl super::Dedup for CompactDedup {
        fn accept(&mut self, seq: u64) -> bool {
            if seq < self.floor || !self.above.insert(seq) {
                return false;
            }
            // Slide the floor over the contiguous run that now starts at it.
            while self.above.remove(&self.floor) {
                self.floor += 1;
            }
            true
        }

        fn remembered(&self) -> usize {
            self.above.len()
        }
    }
    // ANCHOR_END: compact_dedup
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::Dedup;
    use crate::sim::SimRng;
    use rand::seq::SliceRandom;
    use rand::{RngExt, SeedableRng};

    /// Numbers `0..n`, about a third of them twice, in a random order.
    fn stream(seed: u64, n: u64) -> Vec<u64> {
        let mut rng = SimRng::seed_from_u64(seed);
        let mut seqs: Vec<u64> = (0..n).collect();
        seqs.extend((0..n).filter(|_| rng.random_bool(0.3)));
        seqs.shuffle(&mut rng);
        seqs
    }

    /// The exercise's claims, for any implementation.
    fn check_claims<D: Dedup + Default>() {
        for seed in 0..200 {
            let mut dedup = D::default();
            let mut reference = BTreeSet::new();
            for seq in stream(seed, 300) {
                let expected = reference.insert(seq);
                assert_eq!(dedup.accept(seq), expected, "seed {seed}, seq {seq}");
            }
            assert_eq!(dedup.remembered(), 0, "seed {seed}: all of 0..300 seen");
        }
        // In order, nothing is ever held above the floor.
        let mut dedup = D::default();
        for seq in 0..1_000 {
            assert!(dedup.accept(seq));
            assert_eq!(dedup.remembered(), 0);
        }
    }

    #[test]
    fn compact_dedup_accepts_each_number_once_and_forgets_below_the_floor() {
        check_claims::<super::solution::CompactDedup>();
    }

    #[test]
    #[ignore = "exercise: implement starter::CompactDedup, then run \
                `cargo test -p uds --release --lib exercise_compact_dedup -- --ignored`"]
    fn exercise_compact_dedup() {
        crate::exercise::starter_or_solution(
            check_claims::<super::starter::CompactDedup>,
            check_claims::<super::solution::CompactDedup>,
        );
    }
}
