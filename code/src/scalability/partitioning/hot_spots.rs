//! The hot-spot experiment: range partitioning (fixed, or splitting) against hashing, under a
//! skewed workload on neighbouring keys and under sequential inserts.
//!
//! Two workloads over keys `0..key_space` and `nodes` nodes:
//! - **Zipf**: key `k` is requested with probability proportional to `1/(k + 1)^s`, so the
//!   popular keys sit together at the bottom of the key space (think of recent items).
//! - **Sequential**: request `i` inserts key `i` (timestamps, auto-increment ids).
//!
//! Each runs twice as long as measured: a first half lets splitting ranges adapt, the second
//! half is measured in windows of `window` requests. A window's imbalance is its busiest node's
//! requests over the mean; we report the mean over windows, so a hot spot that wanders from
//! node to node still counts as a hot spot. We also count the nodes a scan of 100 neighbouring
//! keys touches, the locality that hashing gives up.

use rand::{RngExt, SeedableRng};

use super::jump_hash;
use super::range::{RangePartitions, SplitPolicy};
use crate::coordination::leaderless::ring::hash64;
use crate::sim::{SimRng, Zipf};

/// Which keys the requests name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Workload {
    /// Zipf-distributed keys with this exponent; key 0 is the most popular.
    Zipf(f64),
    /// Request `i` names key `i`.
    Sequential,
}

/// How keys map to nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `nodes` equal ranges that never split.
    FixedRanges,
    /// Equal ranges to start with, split on size or load (the threshold is per range).
    SplitRanges,
    /// Jump hash of the hashed key: no ranges at all.
    Hashed,
}

/// The experiment's parameters.
#[derive(Clone, Copy, Debug)]
pub struct HotSpotSetup {
    /// Nodes.
    pub nodes: usize,
    /// Keys are in `0..key_space`.
    pub key_space: u64,
    /// Requests measured (as many again run first, unmeasured).
    pub requests: u64,
    /// Requests per measurement window.
    pub window: u64,
    /// A range splits past this many keys or this many requests.
    pub split_threshold: u64,
    /// The seed of the Zipf draws.
    pub seed: u64,
}

/// What a run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HotSpotResult {
    /// The mean over windows of the busiest node's requests over the mean.
    pub imbalance: f64,
    /// The mean number of distinct nodes a scan of 100 neighbouring keys touches.
    pub scan_nodes: f64,
    /// Ranges at the end (0 for hashing).
    pub ranges: usize,
}

/// Runs `workload` against `scheme` and measures the windows of the second half.
pub fn run(setup: &HotSpotSetup, workload: Workload, scheme: Scheme) -> HotSpotResult {
    let policy = match scheme {
        Scheme::SplitRanges => SplitPolicy {
            max_keys: Some(setup.split_threshold as usize),
            max_load: Some(setup.split_threshold),
        },
        _ => SplitPolicy {
            max_keys: None,
            max_load: None,
        },
    };
    let mut ranges = RangePartitions::equal(setup.nodes, setup.key_space, policy);
    let owner = |ranges: &RangePartitions, key: u64| match scheme {
        Scheme::Hashed => jump_hash(hash64(key), setup.nodes as u32) as usize,
        _ => ranges.owner(key),
    };
    let mut rng = SimRng::seed_from_u64(setup.seed);
    let zipf = match workload {
        Workload::Zipf(s) => Zipf::new(setup.key_space as usize, s),
        Workload::Sequential => None,
    };
    let (mut window, mut imbalance_sum, mut windows) = (vec![0u64; setup.nodes], 0.0, 0);
    for i in 0..2 * setup.requests {
        let key = match &zipf {
            Some(zipf) => rng.sample(zipf) as u64,
            None => i % setup.key_space,
        };
        if scheme != Scheme::Hashed {
            ranges.record(key);
        }
        if i >= setup.requests {
            window[owner(&ranges, key)] += 1;
            if (i + 1 - setup.requests).is_multiple_of(setup.window) {
                imbalance_sum += super::measure::imbalance(&window);
                windows += 1;
                window.iter_mut().for_each(|w| *w = 0);
            }
        }
    }
    let starts: Vec<u64> = (0..setup.key_space.saturating_sub(100))
        .step_by(1_000)
        .collect();
    let touched: usize = starts
        .iter()
        .map(|&start| {
            let mut nodes: Vec<usize> = (start..start + 100).map(|k| owner(&ranges, k)).collect();
            nodes.sort_unstable();
            nodes.dedup();
            nodes.len()
        })
        .sum();
    HotSpotResult {
        imbalance: imbalance_sum / f64::from(windows.max(1)),
        scan_nodes: touched as f64 / starts.len().max(1) as f64,
        ranges: if scheme == Scheme::Hashed {
            0
        } else {
            ranges.ranges().len()
        },
    }
}
