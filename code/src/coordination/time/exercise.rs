//! Exercise: a hybrid logical clock that refuses timestamps from too far in the future.
//!
//! The HLC of [`super::hlc`] trusts every timestamp it receives. One peer whose clock is an
//! hour fast therefore drags the `l` of every process it talks to an hour ahead, and they keep
//! it: `l` never goes back. Systems built on HLCs guard against this. CockroachDB, for example,
//! runs with a configured maximum clock offset and refuses a message whose timestamp is further
//! ahead of the local clock than that (its nodes also shut themselves down when they find
//! their clock too far from their peers').
//!
//! Implement [`starter::GuardedHlc::receive`]: given the local physical time `pt` and a
//! message timestamp `m`, return `Err(TooFarAhead { .. })` *without changing the clock* if
//! `m.l > pt + max_offset_ns`, and otherwise apply the ordinary receive rule of
//! [`Hlc::receive`](super::hlc::Hlc::receive) and return the new timestamp. (The test's
//! offsets are at most an hour, so the literal sum cannot overflow; `saturating_add` makes
//! the comparison total, for a clock configured with an absurd offset.) Then run the
//! starter's test:
//!
//! ```text
//! cargo test -p uds --release --lib exercise_guarded_hlc -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

/// Why a guarded clock refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooFarAhead {
    /// The message's `l`, in ns.
    pub remote_l: u64,
    /// The local physical time when it arrived, in ns.
    pub pt: u64,
    /// The configured maximum offset, in ns.
    pub max_offset_ns: u64,
}

/// Your version.
pub mod starter {
    use super::TooFarAhead;
    use crate::coordination::time::hlc::{Hlc, HlcTimestamp};

    /// An HLC that rejects timestamps more than `max_offset_ns` ahead of its physical clock.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct GuardedHlc {
        /// The clock it guards.
        pub hlc: Hlc,
        /// The largest tolerated lead of a remote `l` over the local clock, in ns.
        pub max_offset_ns: u64,
    }

    impl GuardedHlc {
        /// Receives `m` at physical time `pt`, or refuses it, leaving the clock unchanged.
        pub fn receive(&mut self, _pt: u64, _m: HlcTimestamp) -> Result<HlcTimestamp, TooFarAhead> {
            todo!("refuse m if m.l > pt + max_offset_ns; otherwise apply Hlc::receive")
        }
    }
}

/// One answer.
pub mod solution {
    use super::TooFarAhead;
    use crate::coordination::time::hlc::{Hlc, HlcTimestamp};

    // ANCHOR: guarded_hlc
    /// An HLC that rejects timestamps more than `max_offset_ns` ahead of its physical clock.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct GuardedHlc {
        /// The clock it guards.
        pub hlc: Hlc,
        /// The largest tolerated lead of a remote `l` over the local clock, in ns.
        pub max_offset_ns: u64,
    }

    impl GuardedHlc {
        /// Receives `m` at physical time `pt`, or refuses it, leaving the clock unchanged.
        pub fn receive(&mut self, pt: u64, m: HlcTimestamp) -> Result<HlcTimestamp, TooFarAhead> {
            if m.l > pt.saturating_add(self.max_offset_ns) {
                return Err(TooFarAhead {
                    remote_l: m.l,
                    pt,
                    max_offset_ns: self.max_offset_ns,
                });
            }
            Ok(self.hlc.receive(pt, m))
        }
    }
    // ANCHOR_END: guarded_hlc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::time::hlc::HlcTimestamp;

    /// The claims, for either version (a macro because the two types are distinct).
    macro_rules! check_guarded_hlc {
        ($ty:ty) => {{
            use crate::coordination::time::hlc::Hlc;
            let ts = |l, c| HlcTimestamp { l, c };
            let mut g = <$ty>::default();
            g.max_offset_ns = 500;
            // Within the bound: the ordinary rule (the message's l wins, c + 1).
            assert_eq!(g.receive(1_000, ts(1_400, 2)), Ok(ts(1_400, 3)));
            // Exactly at the bound: accepted.
            assert_eq!(g.receive(1_000, ts(1_500, 0)), Ok(ts(1_500, 1)));
            // Beyond it: refused, and the clock is unchanged.
            let before = g.hlc;
            let refused = g.receive(1_000, ts(1_501, 0));
            assert_eq!(
                refused,
                Err(TooFarAhead {
                    remote_l: 1_501,
                    pt: 1_000,
                    max_offset_ns: 500
                })
            );
            assert_eq!(g.hlc, before);
            // With a generous offset (an hour) it agrees with the plain HLC.
            let mut plain = Hlc::default();
            let mut guarded = <$ty>::default();
            guarded.max_offset_ns = 3_600_000_000_000;
            for (pt, l, c) in [(5, 3, 0), (5, 9, 4), (12, 9, 9), (12, 12, 1), (40, 7, 0)] {
                assert_eq!(
                    guarded.receive(pt, ts(l, c)),
                    Ok(plain.receive(pt, ts(l, c)))
                );
            }
        }};
    }

    #[test]
    fn guarded_hlc_refuses_timestamps_beyond_the_max_offset_and_is_an_hlc_otherwise() {
        check_guarded_hlc!(solution::GuardedHlc);
    }

    #[test]
    #[ignore = "exercise: implement starter::GuardedHlc::receive, then run \
                `cargo test -p uds --release --lib exercise_guarded_hlc -- --ignored`"]
    fn exercise_guarded_hlc() {
        crate::exercise::starter_or_solution(
            || check_guarded_hlc!(starter::GuardedHlc),
            || check_guarded_hlc!(solution::GuardedHlc),
        );
    }
}
