//! Chapter 1 exercise: choose a timeout from measurements instead of guessing it.
//!
//! The tour's clients wait a fixed 100 ms before they retry. On the calm 5 ms network that is
//! plenty; on a network whose mean one-way delay is 20 ms, the slowest round trips take longer
//! than 100 ms even though nothing is lost, and the client retries requests whose answer was
//! already on its way ("latency is zero" was the fallacy). Those retries are pure waste: they
//! load the server and the network and never make an answer arrive sooner.
//!
//! **Task.** Implement [`starter::timeout_from_samples`]: given round-trip times in milliseconds
//! measured on earlier requests, return the `percentile`-th percentile of them, multiplied by
//! `headroom`, as a [`Duration`]. Use the *nearest-rank* percentile: sort the samples, take the
//! value at rank `ceil(percentile / 100 * n)`, counting ranks from 1. Return `None` when there
//! are no samples or when `percentile` is not in `(0, 100]`. The samples may arrive in any
//! order; do not assume they are sorted.
//!
//! Then run `cargo test -p uds --release --lib exercise_timeout_from_samples -- --ignored`. The
//! same checks that pass on [`solution`] run on your starter: a table of small cases, and a tour
//! in which a timeout measured on one run (seed 1) is used on the next (seed 2) and must cause
//! fewer retries there than the fixed 100 ms guess.
//!
//! Simplification: a real client measures continuously and adapts (TCP's retransmission timeout
//! is a smoothed mean plus four deviations, RFC 6298 §2; chapter 2 builds it). One percentile of
//! one past run is the simplest estimator that already beats a guess.

use std::time::Duration;

/// The exercise, to be completed by the reader.
pub mod starter {
    use std::time::Duration;

    /// The `percentile`-th nearest-rank percentile of `samples_ms` times `headroom`, or `None`
    /// if there are no samples or `percentile` is outside `(0, 100]`.
    pub fn timeout_from_samples(
        samples_ms: &[f64],
        percentile: f64,
        headroom: f64,
    ) -> Option<Duration> {
        let _ = (samples_ms, percentile, headroom);
        todo!("sort a copy, pick the nearest-rank sample, scale it, convert to a Duration")
    }
}

/// A solution. Read it after you have tried.
pub mod solution {
    use std::time::Duration;

    /// The `percentile`-th nearest-rank percentile of `samples_ms` times `headroom`, or `None`
    /// if there are no samples or `percentile` is outside `(0, 100]`.
    pub fn timeout_from_samples(
        samples_ms: &[f64],
        percentile: f64,
        headroom: f64,
    ) -> Option<Duration> {
        if samples_ms.is_empty() || !(percentile > 0.0 && percentile <= 100.0) {
            return None;
        }
        let mut sorted = samples_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = (percentile / 100.0 * n as f64).ceil() as usize;
        let value_ms = sorted[rank.clamp(1, n) - 1];
        Some(Duration::from_secs_f64(value_ms * headroom / 1e3))
    }
}

/// The signature both modules implement, so that one set of checks runs on either.
pub type TimeoutFromSamples = fn(&[f64], f64, f64) -> Option<Duration>;

/// The network of the exercise: the tour with a 20 ms mean one-way delay and the fixed 100 ms
/// timeout, where retries happen although no message is lost.
pub fn slow_network() -> crate::intro::tour::TourConfig {
    crate::intro::tour::TourConfig {
        latency: Duration::from_millis(20),
        ..crate::intro::tour::TourConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intro::tour::{self, TourConfig};

    fn ms(x: f64) -> Option<Duration> {
        Some(Duration::from_secs_f64(x / 1e3))
    }

    /// Small cases whose answers can be worked out by hand.
    fn table(f: TimeoutFromSamples) {
        let one_to_hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(f(&one_to_hundred, 99.0, 1.0), ms(99.0), "p99 of 1..=100");
        assert_eq!(
            f(&one_to_hundred, 99.0, 2.0),
            ms(198.0),
            "headroom multiplies"
        );
        assert_eq!(
            f(&one_to_hundred, 100.0, 1.0),
            ms(100.0),
            "p100 is the maximum"
        );
        assert_eq!(
            f(&one_to_hundred, 0.5, 1.0),
            ms(1.0),
            "a tiny percentile is the minimum"
        );
        // Nearest rank rounds the rank up: ceil(0.5 * 3) = 2, the middle value.
        assert_eq!(
            f(&[30.0, 10.0, 20.0], 50.0, 1.0),
            ms(20.0),
            "unsorted input"
        );
        assert_eq!(
            f(&[30.0, 10.0, 20.0], 34.0, 1.0),
            ms(20.0),
            "rank ceil(1.02) = 2"
        );
        assert_eq!(f(&[7.0], 50.0, 3.0), ms(21.0), "one sample");
        assert_eq!(f(&[], 99.0, 2.0), None, "no samples, no estimate");
        assert_eq!(
            f(&[1.0, 2.0], 0.0, 2.0),
            None,
            "p0 is not a percentile here"
        );
        assert_eq!(f(&[1.0, 2.0], 101.0, 2.0), None, "neither is p101");
        assert_eq!(f(&[1.0, 2.0], f64::NAN, 2.0), None, "nor NaN");
    }

    /// Measure on seed 1 with a timeout too long to ever fire, use the estimate on seed 2.
    fn measured_timeout_beats_the_guess(f: TimeoutFromSamples) {
        let guess = slow_network();
        let patient = TourConfig {
            timeout: Duration::from_secs(10),
            ..guess.clone()
        };
        let (report, mut latency) = tour::run(&patient, 1).unwrap();
        assert_eq!(
            report.retries, 0,
            "a 10 s timeout never fires on this network"
        );
        let timeout = f(latency.sorted_samples(), 99.9, 2.0).expect("there are samples");
        assert!(
            timeout > guess.timeout,
            "{timeout:?}: the guess was too short"
        );
        assert!(
            timeout < patient.timeout,
            "{timeout:?}: and 10 s is far too long"
        );
        let (with_guess, _) = tour::run(&guess, 2).unwrap();
        let measured = TourConfig { timeout, ..guess };
        let (with_measured, _) = tour::run(&measured, 2).unwrap();
        assert!(
            with_guess.retries > 0,
            "the 100 ms guess retries needlessly"
        );
        assert!(
            with_measured.retries < with_guess.retries,
            "measured {timeout:?}: {} retries, guessed 100 ms: {}",
            with_measured.retries,
            with_guess.retries
        );
        assert_eq!(with_measured.failed, 0);
    }

    #[test]
    fn solution_passes_the_table() {
        table(solution::timeout_from_samples);
    }

    #[test]
    fn solution_timeout_cuts_needless_retries() {
        measured_timeout_beats_the_guess(solution::timeout_from_samples);
    }

    #[test]
    #[ignore = "exercise: implement starter::timeout_from_samples, then run \
                `cargo test -p uds --release --lib exercise_timeout_from_samples -- --ignored`"]
    fn exercise_timeout_from_samples() {
        let f = crate::exercise::starter_or_solution(
            || starter::timeout_from_samples as TimeoutFromSamples,
            || solution::timeout_from_samples,
        );
        table(f);
        measured_timeout_beats_the_guess(f);
    }
}
