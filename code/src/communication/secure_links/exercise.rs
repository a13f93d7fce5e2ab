//! Exercise: a DTLS-style replay window.
//!
//! Our [`RecordOpener`](super::record::RecordOpener) accepts records only in order, which is
//! right over TCP and fatal over a datagram link: one reordered or lost record and every later
//! one is refused (the chapter's experiment shows it). DTLS 1.3 (RFC 9147 §4.5.1), like IPsec's ESP
//! before it (RFC 4303 §3.4.3), keeps instead a sliding window over the newest `size` sequence
//! numbers: a record is accepted if its number is new and not older than the window; a
//! duplicate is a replay; a record behind the window is dropped because the receiver can no
//! longer tell. The window is consulted only for records that already passed authentication,
//! so a forger cannot move it.
//!
//! Implement [`starter::ReplayWindow`] (`size` at most 64: one `u64` bitmap does). The claims:
//! each sequence number is accepted at most once; every number within `size` of the newest
//! is accepted the first time it arrives, in any order; a number `size` or more behind the
//! newest is `TooOld`; a second copy is `Replayed`. Run
//!
//! ```text
//! cargo test -p uds --release --lib exercise_replay_window -- --ignored
//! ```

use super::error::SecureLinkError;

/// What a replay window does, whatever its representation.
pub trait Window {
    /// An empty window over the newest `size` sequence numbers (`1 <= size <= 64`).
    fn with_size(size: u64) -> Self;
    /// Accepts `seq` (and remembers it) or says why not. Call only for authentic records.
    fn check_and_mark(&mut self, seq: u64) -> Result<(), SecureLinkError>;
}

/// Your version.
pub mod starter {
    use super::SecureLinkError;

    /// The newest accepted sequence number and which of the `size` before it were seen.
    #[derive(Clone, Debug)]
    pub struct ReplayWindow {
        /// How many sequence numbers the window covers. Invariant: `1 <= size <= 64`.
        pub size: u64,
        /// The highest sequence number accepted, if any.
        pub newest: Option<u64>,
        /// Bit `i` is set if `newest - i` was accepted.
        pub seen: u64,
    }

    impl super::Window for ReplayWindow {
        fn with_size(size: u64) -> Self {
            assert!((1..=64).contains(&size), "window size {size} not in 1..=64");
            ReplayWindow {
                size,
                newest: None,
                seen: 0,
            }
        }

        fn check_and_mark(&mut self, _seq: u64) -> Result<(), SecureLinkError> {
            todo!(
                "newer than newest: shift `seen` left by the distance, set bit 0; \
                 within the window: Replayed if its bit is set, else set it; \
                 behind the window: TooOld"
            )
        }
    }
}

/// One answer.
pub mod solution {
    use super::SecureLinkError;

    /// The newest accepted sequence number and which of the `size` before it were seen.
    #[derive(Clone, Debug)]
    pub struct ReplayWindow {
        /// How many sequence numbers the window covers. Invariant: `1 <= size <= 64`.
        pub size: u64,
        /// The highest sequence number accepted, if any.
        pub newest: Option<u64>,
        /// Bit `i` is set if `newest - i` was accepted.
        pub seen: u64,
    }

    impl super::Window for ReplayWindow {
        fn with_size(size: u64) -> Self {
            assert!((1..=64).contains(&size), "window size {size} not in 1..=64");
            ReplayWindow {
                size,
                newest: None,
                seen: 0,
            }
        }

        fn check_and_mark(&mut self, seq: u64) -> Result<(), SecureLinkError> {
            let Some(newest) = self.newest else {
                self.newest = Some(seq);
                self.seen = 1;
                return Ok(());
            };
            if seq > newest {
                let shift = seq - newest;
                self.seen = if shift >= 64 { 0 } else { self.seen << shift };
                self.seen |= 1;
                self.newest = Some(seq);
                return Ok(());
            }
            let behind = newest - seq;
            if behind >= self.size {
                return Err(SecureLinkError::TooOld { seq, newest });
            }
            if self.seen & (1 << behind) != 0 {
                let expected = newest + 1;
                return Err(SecureLinkError::Replayed { seq, expected });
            }
            self.seen |= 1 << behind;
            Ok(())
        }
    }
}

/// The claims of the exercise, over either version.
pub fn check_claims<W: Window>() {
    use rand::RngExt;
    use rand::seq::SliceRandom;
    let err = |r: Result<(), SecureLinkError>| r.err();
    // In order, then a duplicate, then behind the window.
    let mut w = W::with_size(8);
    for seq in 0..20 {
        assert_eq!(w.check_and_mark(seq), Ok(()), "in-order record {seq}");
    }
    assert!(matches!(
        err(w.check_and_mark(19)),
        Some(SecureLinkError::Replayed { .. })
    ));
    assert!(matches!(
        err(w.check_and_mark(15)),
        Some(SecureLinkError::Replayed { .. })
    ));
    assert!(matches!(
        err(w.check_and_mark(11)),
        Some(SecureLinkError::TooOld { .. })
    ));
    // A gap: the missing numbers inside the window are still accepted, once.
    let mut w = W::with_size(8);
    for seq in [0, 1, 5, 3, 2, 4] {
        assert_eq!(w.check_and_mark(seq), Ok(()), "record {seq} after a gap");
    }
    assert!(matches!(
        err(w.check_and_mark(3)),
        Some(SecureLinkError::Replayed { .. })
    ));
    // A jump of more than 64 clears the window.
    assert_eq!(w.check_and_mark(1_000), Ok(()));
    assert!(matches!(
        err(w.check_and_mark(5)),
        Some(SecureLinkError::TooOld { .. })
    ));
    // Random shuffles with bounded displacement and duplicates, against a set.
    for seed in 0..200u64 {
        let mut rng = crate::sim::rng_stream(seed, 0);
        let size = rng.random_range(1..=64u64);
        let mut seqs: Vec<u64> = (0..300).collect();
        for chunk in seqs.chunks_mut(size as usize) {
            chunk.shuffle(&mut rng); // displacement below `size`
        }
        let dups: Vec<u64> = (0..50).map(|_| rng.random_range(0..300)).collect();
        seqs.extend(dups);
        let mut w = W::with_size(size);
        let mut accepted = std::collections::BTreeSet::new();
        let mut newest = 0;
        for &seq in &seqs {
            let fresh = !accepted.contains(&seq);
            let in_window = seq + size > newest;
            let result = w.check_and_mark(seq);
            if fresh && in_window {
                assert_eq!(result, Ok(()), "seed {seed}, size {size}: {seq} is new");
                accepted.insert(seq);
                newest = newest.max(seq);
            } else {
                assert!(
                    result.is_err(),
                    "seed {seed}, size {size}: {seq} accepted twice"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_window_accepts_each_number_once() {
        check_claims::<solution::ReplayWindow>();
    }

    #[test]
    #[ignore = "exercise: implement starter::ReplayWindow, then run \
                `cargo test -p uds --release --lib exercise_replay_window -- --ignored`"]
    fn exercise_replay_window() {
        crate::exercise::starter_or_solution(
            check_claims::<starter::ReplayWindow>,
            check_claims::<solution::ReplayWindow>,
        );
    }
}
