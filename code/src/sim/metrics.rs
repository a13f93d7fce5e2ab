//! Counters and histograms that processes and the simulator fill during a run.
//!
//! Histograms keep every sample and compute exact percentiles by the nearest-rank method
//! (the smallest sample with at least p% of samples at or below it). Our runs record at most a
//! few million samples, so exactness is cheaper than explaining a sketch's error here; chapter
//! 31 builds a mergeable sketch for when it is not.

use std::collections::BTreeMap;

// ANCHOR: metrics
/// Named counters and histograms. Names are sorted, so reports list them in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: BTreeMap<&'static str, u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    /// Adds `by` to counter `name` (created at zero).
    pub fn count(&mut self, name: &'static str, by: u64) {
        *self.counters.entry(name).or_insert(0) += by;
    }

    /// Records one sample in histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.histograms.entry(name).or_default().record(value);
    }

    /// The value of counter `name` (zero if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The histogram `name`, if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<&Histogram> {
        self.histograms.get(name)
    }

    /// All counters, by name.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counters.iter().map(|(k, v)| (*k, *v))
    }
}
// ANCHOR_END: metrics

/// Every sample of one quantity, for exact percentiles.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    samples: Vec<f64>,
    /// Invariant: if true, `samples` is sorted ascending.
    sorted: bool,
}

impl Histogram {
    /// Adds a sample. NaN is refused, since it has no place in an order.
    pub fn record(&mut self, value: f64) {
        assert!(!value.is_nan(), "NaN recorded in a histogram");
        self.samples.push(value);
        self.sorted = false;
    }

    /// How many samples were recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The arithmetic mean, or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().sum::<f64>() / self.samples.len() as f64)
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100), or `None` if empty.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        assert!((0.0..=100.0).contains(&p), "percentile {p} outside 0..=100");
        if self.samples.is_empty() {
            return None;
        }
        self.sort();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }

    /// The samples in ascending order (for CDF plots).
    pub fn sorted_samples(&mut self) -> &[f64] {
        self.sort();
        &self.samples
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_by(f64::total_cmp);
            self.sorted = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut h = Histogram::default();
        for v in [15.0, 20.0, 35.0, 40.0, 50.0] {
            h.record(v);
        }
        // The classic worked example of the nearest-rank method.
        assert_eq!(h.percentile(5.0), Some(15.0));
        assert_eq!(h.percentile(30.0), Some(20.0));
        assert_eq!(h.percentile(40.0), Some(20.0));
        assert_eq!(h.percentile(50.0), Some(35.0));
        assert_eq!(h.percentile(100.0), Some(50.0));
        assert_eq!(h.mean(), Some(32.0));
    }

    #[test]
    fn empty_histogram_has_no_percentiles() {
        assert_eq!(Histogram::default().percentile(50.0), None);
    }

    #[test]
    fn counters_start_at_zero() {
        let mut m = Metrics::default();
        assert_eq!(m.counter("x"), 0);
        m.count("x", 2);
        m.count("x", 3);
        assert_eq!(m.counter("x"), 5);
    }
}
