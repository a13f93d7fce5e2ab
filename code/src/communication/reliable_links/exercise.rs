//! Exercise: the retransmission timeout estimator of RFC 6298.
//!
//! Implement [`starter::Estimator`]: `on_sample` takes one round-trip time measured on a
//! segment sent once, and `back_off` doubles the timeout after the timer expires. The rules
//! (RFC 6298 §2 and §5.5), computed with `Duration`'s own arithmetic (`d * n` and `d / n`,
//! which truncate to whole nanoseconds; converting to whole microseconds or to `f64` rounds
//! differently and fails the comparison after a few samples):
//!
//! - before any sample, `rto()` is 1 s, raised to `min_rto` if that is larger;
//! - the first sample `r` sets `srtt = r` and `rttvar = r / 2`;
//! - each later sample sets `rttvar = (3 * rttvar + |srtt - r|) / 4`, then
//!   `srtt = (7 * srtt + r) / 8` (in that order: `rttvar` uses the old `srtt`);
//! - after every sample, `rto = srtt + max(1 ms, 4 * rttvar)`, clamped to `[min_rto, 60 s]`;
//! - `back_off` sets `rto = min(2 * rto, 60 s)`.
//!
//! Run the claims against your version with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_rto_estimator -- --ignored
//! ```
//!
//! [`solution`] has one answer; [`super::rto::RtoEstimator`] is the transport's own copy.

use std::time::Duration;

/// What an RTO estimator must do.
pub trait Rto {
    /// An estimator with floor `min_rto` and no sample yet.
    fn new(min_rto: Duration) -> Self;
    /// One round-trip sample of a segment that was sent once.
    fn on_sample(&mut self, r: Duration);
    /// The retransmission timer expired.
    fn back_off(&mut self);
    /// The current timeout.
    fn rto(&self) -> Duration;
}

/// Your version.
pub mod starter {
    use std::time::Duration;

    /// RFC 6298's state.
    #[derive(Clone, Debug)]
    pub struct Estimator {
        /// The smoothed round-trip time, `None` before the first sample.
        pub srtt: Option<Duration>,
        /// The smoothed mean deviation.
        pub rttvar: Duration,
        /// The current timeout.
        pub rto: Duration,
        /// The floor of the timeout.
        pub min_rto: Duration,
    }

    impl super::Rto for Estimator {
        fn new(min_rto: Duration) -> Self {
            Estimator {
                srtt: None,
                rttvar: Duration::ZERO,
                rto: Duration::from_secs(1).max(min_rto),
                min_rto,
            }
        }

        fn on_sample(&mut self, _r: Duration) {
            todo!("RFC 6298 §2.2 and §2.3: update srtt and rttvar, then rto")
        }

        fn back_off(&mut self) {
            todo!("RFC 6298 §5.5: double rto, at most 60 s")
        }

        fn rto(&self) -> Duration {
            self.rto
        }
    }
}

/// One answer.
pub mod solution {
    use std::time::Duration;

    /// RFC 6298's state.
    #[derive(Clone, Debug)]
    pub struct Estimator {
        pub srtt: Option<Duration>,
        pub rttvar: Duration,
        pub rto: Duration,
        pub min_rto: Duration,
    }

    const MAX_RTO: Duration = Duration::from_secs(60);
    const G: Duration = Duration::from_millis(1);

    impl super::Rto for Estimator {
        fn new(min_rto: Duration) -> Self {
            Estimator {
                srtt: None,
                rttvar: Duration::ZERO,
                rto: Duration::from_secs(1).max(min_rto),
                min_rto,
            }
        }

        fn on_sample(&mut self, r: Duration) {
            let srtt = match self.srtt {
                None => {
                    self.rttvar = r / 2;
                    r
                }
                Some(old) => {
                    self.rttvar = (self.rttvar * 3 + old.abs_diff(r)) / 4;
                    (old * 7 + r) / 8
                }
            };
            self.srtt = Some(srtt);
            self.rto = (srtt + G.max(self.rttvar * 4)).clamp(self.min_rto, MAX_RTO);
        }

        fn back_off(&mut self) {
            self.rto = (self.rto * 2).min(MAX_RTO);
        }

        fn rto(&self) -> Duration {
            self.rto
        }
    }
}

/// The claims any version must meet: the RFC's arithmetic, sample for sample, against the
/// transport's own estimator, plus the floor, the back-off and its ceiling.
pub fn check_claims<E: Rto>() {
    use super::rto::RtoEstimator;
    let ms = Duration::from_millis;
    let mut yours = E::new(ms(200));
    assert_eq!(yours.rto(), Duration::from_secs(1), "before any sample");
    let mut reference = RtoEstimator::new(ms(200));
    let samples = [
        100, 100, 300, 80, 120, 500, 90, 100, 100, 101, 99, 1_000, 100,
    ];
    for (i, r) in samples.into_iter().enumerate() {
        yours.on_sample(ms(r));
        reference.on_sample(ms(r));
        assert_eq!(yours.rto(), reference.rto, "after sample {i} ({r} ms)");
    }
    yours.back_off();
    reference.back_off();
    assert_eq!(yours.rto(), reference.rto, "after one back-off");
    for _ in 0..10 {
        yours.back_off();
    }
    assert_eq!(yours.rto(), Duration::from_secs(60), "the ceiling");
    let mut floor = E::new(Duration::from_secs(1));
    for _ in 0..50 {
        floor.on_sample(ms(5));
    }
    assert_eq!(
        floor.rto(),
        Duration::from_secs(1),
        "the floor holds on a fast path"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_meets_the_claims() {
        check_claims::<solution::Estimator>();
    }

    #[test]
    #[ignore = "exercise: implement starter::Estimator, then run \
                `cargo test -p uds --release --lib exercise_rto_estimator -- --ignored`"]
    fn exercise_rto_estimator() {
        crate::exercise::starter_or_solution(
            check_claims::<starter::Estimator>,
            check_claims::<solution::Estimator>,
        );
    }
}
