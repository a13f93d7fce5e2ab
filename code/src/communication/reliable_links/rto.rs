//! The retransmission timeout, computed as RFC 6298 specifies.
//!
//! The sender cannot tell a lost segment from a slow one; it can only wait. Waiting too little
//! retransmits segments that were merely late (wasting the link and, worse, shrinking the
//! congestion window for nothing); waiting too long leaves the link idle after a real loss.
//! RFC 6298 §2 sets the timeout from two running estimates: `srtt`, a smoothed round-trip time,
//! and `rttvar`, a smoothed mean deviation, with gains 1/8 and 1/4:
//!
//! - first sample `R`: `srtt = R`, `rttvar = R / 2`;
//! - later samples: `rttvar = 3/4 rttvar + 1/4 |srtt - R|`, then `srtt = 7/8 srtt + 1/8 R`;
//! - `rto = srtt + max(G, 4 rttvar)`, at least `min_rto` (1 s in the RFC, §2.4; Linux uses
//!   200 ms) and at most `max_rto` (the RFC allows any maximum of at least 60 s, §2.5).
//!
//! Before any sample, the timeout is 1 s (§2.1). Each time the timer expires the timeout
//! doubles (§5.5, exponential back-off) and stays doubled until a new sample arrives. Samples
//! come only from segments sent once (Karn's rule, §3): the ACK of a retransmitted segment
//! could answer either copy, so the sample would be ambiguous. The sender enforces that rule;
//! this estimator only does the arithmetic, in `Duration`s (whole nanoseconds; the divisions by
//! 8 and 4 truncate), so the tests can check the RFC's formulas exactly.

use std::time::Duration;

// ANCHOR: rto_estimator
/// RFC 6298's estimator of the retransmission timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct RtoEstimator {
    /// The smoothed round-trip time, `None` before the first sample.
    pub srtt: Option<Duration>,
    /// The smoothed mean deviation of the round-trip time.
    pub rttvar: Duration,
    /// The current timeout, back-off included. Invariant: `min_rto <= rto <= max_rto`.
    pub rto: Duration,
    /// The floor of the timeout.
    pub min_rto: Duration,
    /// The ceiling of the timeout.
    pub max_rto: Duration,
    /// The clock granularity `G`.
    pub granularity: Duration,
}

impl RtoEstimator {
    /// An estimator with RFC 6298's constants and the given floor.
    pub fn new(min_rto: Duration) -> RtoEstimator {
        let max_rto = Duration::from_secs(60);
        RtoEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: Duration::from_secs(1).clamp(min_rto, max_rto), // §2.1
            min_rto,
            max_rto,
            granularity: Duration::from_millis(1),
        }
    }

    /// Takes one round-trip sample `r` of a segment that was sent once (§2.2, §2.3).
    pub fn on_sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (self.rttvar * 3 + srtt.abs_diff(r)) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.expect("set above");
        let rto = srtt + self.granularity.max(self.rttvar * 4);
        self.rto = rto.clamp(self.min_rto, self.max_rto);
    }

    /// The timer expired: double the timeout, up to the ceiling (§5.5).
    pub fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max_rto);
    }
}
// ANCHOR_END: rto_estimator

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_sample_sets_srtt_and_half_of_it_as_rttvar() {
        // RFC 6298 §2.2: R = 100 ms gives SRTT 100, RTTVAR 50, RTO = 100 + 4 * 50 = 300 ms,
        // raised to the 200 ms floor only if it were below it.
        let mut e = RtoEstimator::new(ms(200));
        assert_eq!(
            e.rto,
            Duration::from_secs(1),
            "before any sample: 1 s (§2.1)"
        );
        e.on_sample(ms(100));
        assert_eq!((e.srtt, e.rttvar, e.rto), (Some(ms(100)), ms(50), ms(300)));
    }

    #[test]
    fn later_samples_use_gains_one_eighth_and_one_quarter() {
        // §2.3 with R' = 200 ms after the state above: RTTVAR = 3/4 * 50 + 1/4 * |100 - 200|
        // = 62.5 ms; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms; RTO = 112.5 + 250 = 362.5 ms.
        let mut e = RtoEstimator::new(ms(200));
        e.on_sample(ms(100));
        e.on_sample(ms(200));
        assert_eq!(e.rttvar, Duration::from_micros(62_500));
        assert_eq!(e.srtt, Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto, Duration::from_micros(362_500));
    }

    #[test]
    fn the_floor_and_the_granularity_bound_the_timeout() {
        // A steady 10 ms path: RTTVAR decays towards zero, so RTO tends to SRTT + G, but the
        // floor (1 s in the RFC's §2.4) holds it up.
        let mut e = RtoEstimator::new(Duration::from_secs(1));
        for _ in 0..100 {
            e.on_sample(ms(10));
        }
        assert_eq!(e.rto, Duration::from_secs(1));
        let mut e = RtoEstimator::new(Duration::ZERO);
        for _ in 0..100 {
            e.on_sample(ms(10));
        }
        assert_eq!(e.rto, ms(10) + e.granularity, "4 * RTTVAR fell below G");
    }

    #[test]
    fn back_off_doubles_up_to_the_ceiling() {
        let mut e = RtoEstimator::new(ms(200));
        e.on_sample(ms(100));
        e.back_off();
        assert_eq!(e.rto, ms(600));
        for _ in 0..20 {
            e.back_off();
        }
        assert_eq!(e.rto, Duration::from_secs(60));
        e.on_sample(ms(100));
        assert!(
            e.rto < ms(600),
            "a new sample recomputes the timeout, ending the back-off"
        );
    }
}
