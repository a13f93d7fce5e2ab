//! Merkle trees over a key range, and the top-down comparison anti-entropy uses.
//!
//! Two replicas of a range want to find the keys on which they differ without sending each
//! other every key. Dynamo (§4.7) keeps a hash tree per key range (Merkle, CRYPTO 1987): each
//! leaf hashes the keys that fall in it, each inner node hashes its children. Equal roots mean
//! equal ranges, with one hash sent. Otherwise the replicas compare the children of every node
//! that differs, level by level, and end with the few leaves that differ; only their keys are
//! sent. The cost grows with the number of differences times the depth, not with the size of
//! the range.
//!
//! Here a tree has `2^depth` leaves; a key goes to leaf `hash(key) mod 2^depth`. [`diff`] is the
//! comparison done in one place (both trees at hand), counting the hashes it had to compare; the
//! store's anti-entropy messages (see [`super::node`]) do the same exchange across the network,
//! one level per message.

use super::ring::{Key, hash64};

// ANCHOR: tree
/// A complete binary hash tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleTree {
    /// `levels[0]` is `[root]`; `levels[d]` has `2^d` hashes; the last level holds the leaves.
    levels: Vec<Vec<u64>>,
}

impl MerkleTree {
    /// The tree over `leaves` (their number must be a power of two).
    pub fn from_leaves(leaves: Vec<u64>) -> MerkleTree {
        assert!(leaves.len().is_power_of_two(), "{} leaves", leaves.len());
        let mut levels = vec![leaves];
        while levels[0].len() > 1 {
            let parents = levels[0]
                .chunks(2)
                .map(|pair| combine(pair[0], pair[1]))
                .collect();
            levels.insert(0, parents);
        }
        MerkleTree { levels }
    }

    /// The hash of node `index` at `level` (0 is the root).
    pub fn hash(&self, level: usize, index: usize) -> u64 {
        self.levels[level][index]
    }

    /// The level of the leaves.
    pub fn depth(&self) -> usize {
        self.levels.len() - 1
    }
}
// ANCHOR_END: tree

impl MerkleTree {
    /// The tree of a range: `items` are `(key, digest of its versions)`, in any order.
    pub fn of_range(items: impl IntoIterator<Item = (Key, u64)>, leaves: usize) -> MerkleTree {
        let mut sorted: Vec<(Key, u64)> = items.into_iter().collect();
        sorted.sort_unstable();
        let mut hashes = vec![0u64; leaves];
        for (key, digest) in sorted {
            let leaf = &mut hashes[leaf_of(key, leaves)];
            *leaf = combine(*leaf, combine(key, digest));
        }
        MerkleTree::from_leaves(hashes)
    }

    /// The root hash.
    pub fn root(&self) -> u64 {
        self.levels[0][0]
    }
}

/// The leaf of a tree with `leaves` leaves that holds `key`.
pub fn leaf_of(key: Key, leaves: usize) -> usize {
    (hash64(key ^ 0x6d65_726b) % leaves as u64) as usize
}

/// Hash of a pair (order matters).
pub fn combine(left: u64, right: u64) -> u64 {
    hash64(left.rotate_left(17) ^ right ^ 0x4d45_524b)
}

/// What a comparison found, and what it cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// The leaves whose hashes differ, ascending.
    pub leaves: Vec<usize>,
    /// How many hashes were compared (each would cross the network once).
    pub hashes_compared: usize,
}

// ANCHOR: diff
/// Top-down comparison: compare the roots, then the children of every pair of nodes that
/// differ, down to the leaves. Both trees must have the same depth.
pub fn diff(a: &MerkleTree, b: &MerkleTree) -> Diff {
    assert_eq!(a.depth(), b.depth(), "trees of different shapes");
    let mut out = Diff::default();
    let mut differing = vec![0usize]; // node indexes at the current level
    for level in 0..=a.depth() {
        let mut next = Vec::new();
        for &i in &differing {
            out.hashes_compared += 1;
            if a.hash(level, i) == b.hash(level, i) {
                continue;
            }
            if level == a.depth() {
                out.leaves.push(i);
            } else {
                next.extend([2 * i, 2 * i + 1]);
            }
        }
        differing = next;
    }
    out
}
// ANCHOR_END: diff

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(leaves: &[u64]) -> MerkleTree {
        MerkleTree::from_leaves(leaves.to_vec())
    }

    #[test]
    fn diff_finds_differing_leaves_and_counts_hashes() {
        let base = [1, 2, 3, 4, 5, 6, 7, 8];
        let with = |changes: &[(usize, u64)]| {
            let mut leaves = base;
            for &(i, v) in changes {
                leaves[i] = v;
            }
            tree(&leaves)
        };
        // (changed leaves, leaves found, hashes compared)
        type Case<'a> = (&'a [(usize, u64)], &'a [usize], usize);
        let cases: [Case; 5] = [
            (&[], &[], 1),
            (&[(0, 9)], &[0], 7),             // root, 2 + 2 + 2 on the path down
            (&[(0, 9), (1, 9)], &[0, 1], 7),  // siblings share their path
            (&[(0, 9), (7, 9)], &[0, 7], 11), // two paths part at the root
            (&[(0, 9), (2, 9), (4, 9), (6, 9)], &[0, 2, 4, 6], 15), // every node
        ];
        for (changes, leaves, hashes) in cases {
            let d = diff(&tree(&base), &with(changes));
            assert_eq!(d.leaves, leaves, "{changes:?}");
            assert_eq!(d.hashes_compared, hashes, "{changes:?}");
        }
    }

    #[test]
    fn a_one_leaf_tree_is_its_root() {
        let d = diff(&tree(&[1]), &tree(&[2]));
        assert_eq!((d.leaves, d.hashes_compared), (vec![0], 1));
    }

    #[test]
    fn range_trees_depend_on_contents_not_order() {
        let a = MerkleTree::of_range([(1, 10), (2, 20), (3, 30)], 8);
        let b = MerkleTree::of_range([(3, 30), (1, 10), (2, 20)], 8);
        let c = MerkleTree::of_range([(3, 31), (1, 10), (2, 20)], 8);
        assert_eq!(a, b);
        assert_ne!(a.root(), c.root());
        assert_eq!(diff(&a, &c).leaves, vec![leaf_of(3, 8)]);
    }
}
