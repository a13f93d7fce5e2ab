//! A sliding window of heartbeat inter-arrival times, with their running mean and variance.
//!
//! The accrual detector estimates the distribution of the time between heartbeats from the
//! last `capacity` samples (Akka's default `max-sample-size` keeps 1,000). Recomputing a mean
//! and a variance over a thousand samples on every heartbeat would be wasteful, so the window
//! keeps two running sums, of the samples and of their squares, and adjusts them as a sample
//! enters and the oldest one leaves.
//!
//! Running sums in floating point drift: subtract a sample that was added a million updates
//! ago and the rounding errors of every update in between stay behind. We avoid that entirely
//! by keeping the samples as whole nanoseconds and the sums as `u128`: integer addition and
//! subtraction are exact, so the sums always equal a fresh recomputation, bit for bit, and the
//! variance `(n·Σx² - (Σx)²) / n²` is formed exactly before a single conversion to `f64`.
//!
//! Invariants: `samples.len() <= capacity`; `sum` and `sum_sq` are the sums of the samples and
//! of their squares. Overflow is impossible for samples up to a day (8.64e13 ns, squared
//! 7.5e27) and windows up to a million samples, far below `u128::MAX` (3.4e38); longer samples
//! are clamped to a day, and larger windows are refused.

use std::collections::VecDeque;
use std::time::Duration;

/// The longest inter-arrival time the window stores; longer ones are clamped to it.
pub const MAX_SAMPLE: Duration = Duration::from_secs(86_400);

/// The largest window [`InterArrivalWindow::new`] accepts.
pub const MAX_CAPACITY: usize = 1_000_000;

// ANCHOR: window
/// The last `capacity` inter-arrival times, with exact running sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterArrivalWindow {
    /// How many samples the window keeps. Invariant: `1 <= capacity <= MAX_CAPACITY`.
    capacity: usize,
    /// The samples in nanoseconds, oldest first. Invariant: `len() <= capacity`.
    samples: VecDeque<u64>,
    /// The sum of `samples`. Invariant: equal to `samples.iter().sum()`.
    sum: u128,
    /// The sum of the squares of `samples`. Invariant: equal to the sum of each squared.
    sum_sq: u128,
}

impl InterArrivalWindow {
    /// An empty window that keeps the last `capacity` samples.
    pub fn new(capacity: usize) -> Result<InterArrivalWindow, String> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return Err(format!(
                "window capacity {capacity} must be between 1 and {MAX_CAPACITY}"
            ));
        }
        Ok(InterArrivalWindow {
            capacity,
            samples: VecDeque::with_capacity(capacity),
            sum: 0,
            sum_sq: 0,
        })
    }

    /// Adds one inter-arrival time, evicting the oldest if the window is full.
    pub fn push(&mut self, interval: Duration) {
        let x = interval.min(MAX_SAMPLE).as_nanos() as u64;
        if self.samples.len() == self.capacity {
            let old = self
                .samples
                .pop_front()
                .expect("a full window is not empty");
            self.sum -= u128::from(old);
            self.sum_sq -= u128::from(old) * u128::from(old);
        }
        self.samples.push_back(x);
        self.sum += u128::from(x);
        self.sum_sq += u128::from(x) * u128::from(x);
    }

    /// The mean, in milliseconds, or `None` if the window is empty.
    pub fn mean_ms(&self) -> Option<f64> {
        let n = self.samples.len() as u128;
        (n > 0).then(|| self.sum as f64 / n as f64 / 1e6)
    }

    /// The population variance, in square milliseconds, or `None` if the window is empty.
    pub fn variance_ms2(&self) -> Option<f64> {
        let n = self.samples.len() as u128;
        // n·Σx² ≥ (Σx)² (Cauchy-Schwarz), so the exact difference cannot underflow.
        (n > 0).then(|| (n * self.sum_sq - self.sum * self.sum) as f64 / (n * n) as f64 / 1e12)
    }

    /// The population standard deviation, in milliseconds, or `None` if empty.
    pub fn stddev_ms(&self) -> Option<f64> {
        self.variance_ms2().map(f64::sqrt)
    }
}
// ANCHOR_END: window

impl InterArrivalWindow {
    /// How many samples the window holds.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the window holds no sample.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// How many samples the window keeps at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::{RngExt, SeedableRng};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mean_and_variance_of_small_windows_in_table_cases() {
        // (capacity, samples in ms, mean ms, variance ms^2)
        let cases: [(usize, &[u64], f64, f64); 5] = [
            (4, &[100], 100.0, 0.0),
            (4, &[90, 110], 100.0, 100.0),
            (4, &[2, 4, 4, 4, 5, 5, 7, 9], 6.5, 2.75), // only 5, 5, 7, 9 remain
            (8, &[2, 4, 4, 4, 5, 5, 7, 9], 5.0, 4.0),  // the textbook example, sd 2
            (1, &[10, 20, 30], 30.0, 0.0),
        ];
        for (capacity, samples, mean, variance) in cases {
            let mut w = InterArrivalWindow::new(capacity).expect("valid capacity");
            for &s in samples {
                w.push(ms(s));
            }
            assert_eq!(w.len(), samples.len().min(capacity));
            assert!((w.mean_ms().unwrap() - mean).abs() < 1e-12, "{samples:?}");
            assert!(
                (w.variance_ms2().unwrap() - variance).abs() < 1e-9,
                "{samples:?}"
            );
        }
    }

    #[test]
    fn running_sums_equal_a_fresh_recomputation_after_a_million_updates() {
        let mut rng = SimRng::seed_from_u64(11);
        let mut w = InterArrivalWindow::new(100).expect("valid capacity");
        for _ in 0..1_000_000 {
            let nanos = 100_000_000 + rng.random_range(0..50_000_000);
            w.push(Duration::from_nanos(nanos));
        }
        let sum: u128 = w.samples.iter().map(|&x| u128::from(x)).sum();
        let sum_sq: u128 = w
            .samples
            .iter()
            .map(|&x| u128::from(x) * u128::from(x))
            .sum();
        assert_eq!((w.sum, w.sum_sq), (sum, sum_sq));
    }

    #[test]
    fn an_empty_window_has_no_statistics_and_bad_capacities_are_errors() {
        let w = InterArrivalWindow::new(3).expect("valid capacity");
        assert!(w.is_empty());
        assert_eq!((w.mean_ms(), w.stddev_ms()), (None, None));
        assert!(InterArrivalWindow::new(0).is_err());
        assert!(InterArrivalWindow::new(MAX_CAPACITY + 1).is_err());
    }

    #[test]
    fn samples_longer_than_a_day_are_clamped() {
        let mut w = InterArrivalWindow::new(2).expect("valid capacity");
        w.push(Duration::from_secs(10 * 86_400));
        assert_eq!(w.mean_ms(), Some(86_400_000.0));
    }
}
