//! Range partitioning with dynamic splits, after Bigtable's tablets (Chang et al., OSDI 2006)
//! and HBase's regions.
//!
//! The key space `0..=u64::MAX` is cut into contiguous ranges; each range lives on one node.
//! Keys keep their order, so a scan of neighbouring keys touches one or two ranges instead of
//! every node. A range that grows past a size threshold (distinct keys) or a load threshold
//! (requests) splits in two at its median, weighted by size or by load, and the new upper half
//! moves to the least-loaded node. Splitting on load spreads a busy stretch of keys over
//! several nodes; it cannot split a single hot key, and it cannot help a workload whose writes
//! always go to the newest key (timestamps, sequence numbers): the top range stays hot however
//! often it splits. Hashing the key avoids that hot spot and gives up ordered scans.
//!
//! Invariant: `ranges` is sorted by `start`, the first starts at 0, and range `i` holds
//! exactly the keys in `start_i..start_{i+1}`.

use std::collections::BTreeMap;

use super::Node;

/// When a range splits. A threshold of `None` never triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitPolicy {
    /// Split a range holding more distinct keys than this.
    pub max_keys: Option<usize>,
    /// Split a range that has served more requests than this.
    pub max_load: Option<u64>,
}

/// One contiguous range of keys.
#[derive(Clone, Debug)]
pub struct KeyRange {
    /// The first key of the range; it ends where the next one starts.
    pub start: u64,
    /// The node holding it.
    pub node: Node,
    /// Requests served per key. Invariant: every key is in `start..next start`.
    pub keys: BTreeMap<u64, u64>,
}

impl KeyRange {
    /// Requests the range has served.
    pub fn load(&self) -> u64 {
        self.keys.values().sum()
    }
}

/// A split that happened: the range starting at `at` moved to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// The first key of the new upper range.
    pub at: u64,
    /// The node that now holds it.
    pub to: Node,
}

/// Ranges over `nodes` nodes, splitting by `policy`.
#[derive(Clone, Debug)]
pub struct RangePartitions {
    /// Sorted by start; see the module invariant.
    ranges: Vec<KeyRange>,
    /// How many nodes the ranges are spread over.
    nodes: usize,
    /// When to split.
    policy: SplitPolicy,
}

// ANCHOR: range
impl RangePartitions {
    /// The index of the range holding `key`: the last range starting at or before it.
    pub fn range_of(&self, key: u64) -> usize {
        self.ranges.partition_point(|r| r.start <= key) - 1
    }

    /// Records one request for `key` (an insert the first time) and splits its range if
    /// that takes it past a threshold.
    pub fn record(&mut self, key: u64) -> Option<Split> {
        let i = self.range_of(key);
        *self.ranges[i].keys.entry(key).or_insert(0) += 1;
        let range = &self.ranges[i];
        let too_big = self
            .policy
            .max_keys
            .is_some_and(|max| range.keys.len() > max);
        let too_busy = self.policy.max_load.is_some_and(|max| range.load() > max);
        if !(too_big || too_busy) {
            return None;
        }
        let at = median(&range.keys, too_busy)?;
        let to = self.least_loaded_node();
        let upper = self.ranges[i].keys.split_off(&at);
        self.ranges.insert(
            i + 1,
            KeyRange {
                start: at,
                node: to,
                keys: upper,
            },
        );
        Some(Split { at, to })
    }
}

/// The key at which the upper half starts: the first key past half the total weight, where
/// a key weighs its request count (`by_load`) or 1. `None` if the lower half would be empty
/// (a single key, or one key heavier than all the others together after it).
fn median(keys: &BTreeMap<u64, u64>, by_load: bool) -> Option<u64> {
    let weight = |hits: u64| if by_load { hits } else { 1 };
    let total: u64 = keys.values().map(|&h| weight(h)).sum();
    let mut seen = 0;
    for (&key, &hits) in keys {
        if seen > 0 && 2 * seen >= total {
            return Some(key);
        }
        seen += weight(hits);
    }
    // All the weight before the last key: split off the last key alone, if it is not the only.
    (keys.len() > 1).then(|| *keys.keys().next_back().expect("non-empty"))
}
// ANCHOR_END: range

impl RangePartitions {
    /// `nodes` equal ranges of `0..key_space`, range `i` on node `i`, the last one open-ended.
    pub fn equal(nodes: usize, key_space: u64, policy: SplitPolicy) -> RangePartitions {
        assert!(nodes > 0, "range partitioning needs at least one node");
        let width = (key_space / nodes as u64).max(1);
        let ranges = (0..nodes)
            .map(|i| KeyRange {
                start: i as u64 * width,
                node: i,
                keys: BTreeMap::new(),
            })
            .collect();
        RangePartitions {
            ranges,
            nodes,
            policy,
        }
    }

    /// The node holding `key`.
    pub fn owner(&self, key: u64) -> Node {
        self.ranges[self.range_of(key)].node
    }

    /// The ranges, sorted by start.
    pub fn ranges(&self) -> &[KeyRange] {
        &self.ranges
    }

    /// Requests served per node, indexed by node number.
    pub fn node_loads(&self) -> Vec<u64> {
        let mut loads = vec![0; self.nodes];
        for range in &self.ranges {
            loads[range.node] += range.load();
        }
        loads
    }

    /// The node with the fewest requests served (ties to the lower number).
    fn least_loaded_node(&self) -> Node {
        let loads = self.node_loads();
        (0..self.nodes)
            .min_by_key(|&n| loads[n])
            .expect("at least one node")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_past_its_size_splits_at_the_median_key() {
        let policy = SplitPolicy {
            max_keys: Some(4),
            max_load: None,
        };
        let mut parts = RangePartitions::equal(2, 1_000, policy);
        for key in [10, 20, 30, 40] {
            assert_eq!(parts.record(key), None);
        }
        let split = parts
            .record(50)
            .expect("five keys pass the threshold of four");
        // Three keys stay below, two go up: 10 20 30 | 40 50.
        assert_eq!(split.at, 40);
        assert_eq!(parts.ranges().len(), 3);
        assert_eq!(parts.owner(39), 0);
        assert_eq!(parts.owner(40), split.to);
    }

    #[test]
    fn a_single_hot_key_cannot_split() {
        let policy = SplitPolicy {
            max_keys: None,
            max_load: Some(10),
        };
        let mut parts = RangePartitions::equal(3, 300, policy);
        for _ in 0..100 {
            assert_eq!(parts.record(7), None);
        }
        assert_eq!(parts.ranges().len(), 3);
    }

    #[test]
    fn ranges_stay_sorted_and_cover_their_keys() {
        let policy = SplitPolicy {
            max_keys: Some(8),
            max_load: Some(50),
        };
        let mut parts = RangePartitions::equal(4, 10_000, policy);
        for i in 0..5_000u64 {
            parts.record((i * 7_919) % 10_000);
        }
        let ranges = parts.ranges();
        assert_eq!(ranges[0].start, 0);
        for (i, r) in ranges.iter().enumerate() {
            let end = ranges.get(i + 1).map_or(u64::MAX, |next| next.start);
            assert!(r.start < end || i + 1 == ranges.len());
            assert!(
                r.keys
                    .keys()
                    .all(|&k| r.start <= k && (k < end || i + 1 == ranges.len()))
            );
        }
    }
}
