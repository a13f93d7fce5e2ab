//! Exercise: a sliding window of samples with running mean and variance.
//!
//! The accrual detector needs the mean and variance of its last `capacity` inter-arrival times
//! after every heartbeat. Recomputing them over the whole window costs `O(capacity)` per
//! heartbeat; keeping two running sums (of the samples and of their squares) costs `O(1)`:
//! add the new sample to both, and, once the window is full, subtract the one that leaves.
//! Then `mean = Σx / n` and `variance = Σx² / n - mean²` (the population variance).
//!
//! Implement [`starter::SlidingStats`] with `f64` samples. The claim to make true: after any
//! sequence of pushes, `mean()` and `variance()` agree (to a relative 1e-9) with a fresh
//! computation over the last `capacity` samples, and are `None` for an empty window. Run the
//! starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_sliding_stats -- --ignored
//! ```
//!
//! Then compare with [`super::window::InterArrivalWindow`], which stores integer nanoseconds
//! so that its sums never drift, and think about why `Σx²/n - mean²` can come out slightly
//! negative in floating point. [`solution`] has one answer; its tests run in the normal suite.

/// What a sliding-window statistics keeper must do, whatever its memory layout.
pub trait Stats {
    /// An empty window keeping the last `capacity` samples (`capacity >= 1`).
    fn with_capacity(capacity: usize) -> Self;
    /// Adds a sample, evicting the oldest if the window is full.
    fn push(&mut self, x: f64);
    /// The mean of the samples in the window.
    fn mean(&self) -> Option<f64>;
    /// The population variance of the samples in the window.
    fn variance(&self) -> Option<f64>;
}

/// Your version.
pub mod starter {
    use std::collections::VecDeque;

    /// The last `capacity` samples, with running sums.
    #[derive(Clone, Debug)]
    pub struct SlidingStats {
        /// How many samples to keep. Invariant: at least one.
        pub capacity: usize,
        /// The samples, oldest first. Invariant: `len() <= capacity`.
        pub samples: VecDeque<f64>,
        /// The sum of `samples`.
        pub sum: f64,
        /// The sum of the squares of `samples`.
        pub sum_sq: f64,
    }

    impl super::Stats for SlidingStats {
        fn with_capacity(capacity: usize) -> Self {
            assert!(capacity >= 1, "a window holds at least one sample");
            SlidingStats {
                capacity,
                samples: VecDeque::with_capacity(capacity),
                sum: 0.0,
                sum_sq: 0.0,
            }
        }

        fn push(&mut self, _x: f64) {
            todo!("evict the oldest sample if full (subtract it), then add `x` to both sums")
        }

        fn mean(&self) -> Option<f64> {
            todo!("sum / n, or None when empty")
        }

        fn variance(&self) -> Option<f64> {
            todo!("sum_sq / n - mean^2, or None when empty (clamp tiny negatives to zero)")
        }
    }
}

/// One answer.
pub mod solution {
    use std::collections::VecDeque;

    // ANCHOR: sliding_stats
    /// The last `capacity` samples, with running sums.
    #[derive(Clone, Debug)]
    pub struct SlidingStats {
        /// How many samples to keep. Invariant: at least one.
        pub capacity: usize,
        /// The samples, oldest first. Invariant: `len() <= capacity`.
        pub samples: VecDeque<f64>,
        /// The sum of `samples`.
        pub sum: f64,
        /// The sum of the squares of `samples`.
        pub sum_sq: f64,
    }

    impl super::Stats for SlidingStats {
        fn with_capacity(capacity: usize) -> Self {
            assert!(capacity >= 1, "a window holds at least one sample");
            SlidingStats {
                capacity,
                samples: VecDeque::with_capacity(capacity),
                sum: 0.0,
                sum_sq: 0.0,
            }
        }

        fn push(&mut self, x: f64) {
            if self.samples.len() == self.capacity {
                let old = self
                    .samples
                    .pop_front()
                    .expect("a full window is not empty");
                self.sum -= old;
                self.sum_sq -= old * old;
            }
            self.samples.push_back(x);
            self.sum += x;
            self.sum_sq += x * x;
        }

        fn mean(&self) -> Option<f64> {
            let n = self.samples.len() as f64;
            (n > 0.0).then(|| self.sum / n)
        }

        fn variance(&self) -> Option<f64> {
            let n = self.samples.len() as f64;
            let mean = self.mean()?;
            // Rounding can push an exact zero slightly below it.
            Some((self.sum_sq / n - mean * mean).max(0.0))
        }
    }
    // ANCHOR_END: sliding_stats
}

#[cfg(test)]
mod tests {
    use super::Stats;
    use crate::sim::{SimRng, StandardNormal};
    use rand::{RngExt, SeedableRng};

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// The exercise's claims, for any implementation.
    fn check_claims<S: Stats>() {
        let empty = S::with_capacity(5);
        assert_eq!((empty.mean(), empty.variance()), (None, None));
        for seed in 0..50 {
            let mut rng = SimRng::seed_from_u64(seed);
            let capacity: usize = rng.random_range(1..50);
            let mut stats = S::with_capacity(capacity);
            let mut all = Vec::new();
            for _ in 0..500 {
                let x = 100.0 + 20.0 * rng.sample(StandardNormal);
                stats.push(x);
                all.push(x);
                let window = &all[all.len().saturating_sub(capacity)..];
                let n = window.len() as f64;
                let mean = window.iter().sum::<f64>() / n;
                let var = window.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                let got_mean = stats.mean().expect("not empty");
                let got_var = stats.variance().expect("not empty");
                assert!(
                    close(got_mean, mean),
                    "seed {seed}: mean {got_mean} vs {mean}"
                );
                assert!(
                    (got_var - var).abs() < 1e-6,
                    "seed {seed}: var {got_var} vs {var}"
                );
            }
        }
    }

    #[test]
    fn sliding_stats_match_a_fresh_computation_over_the_window() {
        check_claims::<super::solution::SlidingStats>();
    }

    #[test]
    #[ignore = "exercise: implement starter::SlidingStats, then run \
                `cargo test -p uds --release --lib exercise_sliding_stats -- --ignored`"]
    fn exercise_sliding_stats() {
        crate::exercise::starter_or_solution(
            check_claims::<super::starter::SlidingStats>,
            check_claims::<super::solution::SlidingStats>,
        );
    }
}
