//! The consistent-hash ring: which servers hold a key.
//!
//! Dynamo (DeCandia et al., SOSP 2007, §4.2) places servers on a circle of hash values. Each
//! server owns several *tokens* (virtual nodes) at pseudo-random positions; a key hashes to a
//! position, and the first token clockwise from it names the key's *coordinator*. Walking on
//! clockwise and skipping servers already chosen gives the key's **preference list**: the `n`
//! distinct servers that store it (§4.3). Every key between two consecutive tokens has the same
//! preference list, so those keys form a *range*, the unit that anti-entropy compares.
//!
//! Walking past the first `n` gives the *extended* preference list: the servers that stand in,
//! in that order, when one of the first `n` is unreachable and sloppy quorums are on (§4.6).
//!
//! This file uses only std, so the runnable listing of the chapter bundles it.

/// A key of the store (a client names keys by number).
pub type Key = u64;

/// A 64-bit mixer (SplitMix64's finaliser): spreads keys and tokens evenly over the ring.
/// Deterministic, unlike std's randomly keyed `HashMap` hasher.
pub fn hash64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ANCHOR: ring
/// Servers' tokens on a circle of `u64` positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// `(position, server)`, sorted by position. Invariant: positions are distinct.
    tokens: Vec<(u64, usize)>,
}

impl Ring {
    /// `servers` servers with `vnodes` tokens each, at hashed positions.
    pub fn new(servers: usize, vnodes: usize) -> Ring {
        let mut tokens = Vec::new();
        for server in 0..servers {
            for v in 0..vnodes {
                tokens.push((hash64(((server as u64) << 32) | v as u64), server));
            }
        }
        Ring::from_tokens(tokens)
    }

    /// A ring with the given tokens (for tests and drawings). Duplicate positions keep the first.
    pub fn from_tokens(mut tokens: Vec<(u64, usize)>) -> Ring {
        tokens.sort_by_key(|&(position, _)| position);
        tokens.dedup_by_key(|&mut (position, _)| position);
        Ring { tokens }
    }

    /// Where `key` sits on the ring.
    pub fn position(key: Key) -> u64 {
        hash64(key)
    }

    /// The index of the first token at or clockwise after `position`: the key's *range*.
    pub fn range_at(&self, position: u64) -> usize {
        assert!(
            !self.tokens.is_empty(),
            "a ring without tokens owns nothing"
        );
        let i = self.tokens.partition_point(|&(p, _)| p < position);
        if i == self.tokens.len() { 0 } else { i }
    }

    /// The first `n` distinct servers met walking clockwise from token `range`.
    pub fn range_preference(&self, range: usize, n: usize) -> Vec<usize> {
        let mut list = Vec::with_capacity(n.min(self.tokens.len()));
        for step in 0..self.tokens.len() {
            let (_, server) = self.tokens[(range + step) % self.tokens.len()];
            if list.len() == n {
                break;
            }
            if !list.contains(&server) {
                list.push(server);
            }
        }
        list
    }
}
// ANCHOR_END: ring

impl Ring {
    /// The range (token index) that holds `key`.
    pub fn range_of(&self, key: Key) -> usize {
        self.range_at(Ring::position(key))
    }

    /// The key's coordinator: the owner of the first token clockwise.
    pub fn owner(&self, key: Key) -> usize {
        self.tokens[self.range_of(key)].1
    }

    /// The key's preference list: the first `n` distinct servers clockwise (fewer if the ring
    /// has fewer servers). Pass the number of servers for the extended list of stand-ins.
    pub fn preference_list(&self, key: Key, n: usize) -> Vec<usize> {
        self.range_preference(self.range_of(key), n)
    }

    /// How many ranges (tokens) the ring has.
    pub fn ranges(&self) -> usize {
        self.tokens.len()
    }

    /// The tokens, sorted by position.
    pub fn tokens(&self) -> &[(u64, usize)] {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Ring {
        // Server 0 has two tokens, so walks must skip it the second time.
        Ring::from_tokens(vec![(100, 0), (200, 1), (300, 0), (400, 2), (500, 3)])
    }

    #[test]
    fn preference_lists_walk_clockwise_and_skip_servers_already_chosen() {
        let ring = small();
        let cases: [(u64, usize, &[usize]); 8] = [
            (50, 3, &[0, 1, 2]),
            (100, 3, &[0, 1, 2]),
            (101, 3, &[1, 0, 2]),
            (250, 3, &[0, 2, 3]),
            (450, 3, &[3, 0, 1]),
            (501, 3, &[0, 1, 2]), // past the last token: wraps to the first
            (450, 4, &[3, 0, 1, 2]),
            (450, 9, &[3, 0, 1, 2]), // never more than the servers there are
        ];
        for (position, n, want) in cases {
            let range = ring.range_at(position);
            assert_eq!(
                ring.range_preference(range, n),
                want,
                "position {position}, n {n}"
            );
        }
    }

    #[test]
    fn the_owner_heads_the_preference_list() {
        let ring = Ring::new(5, 4);
        for key in 0..200 {
            let list = ring.preference_list(key, 3);
            assert_eq!(list[0], ring.owner(key));
            assert_eq!(list.len(), 3);
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "distinct servers for key {key}");
        }
    }

    #[test]
    fn the_extended_list_starts_with_the_preference_list() {
        let ring = Ring::new(6, 3);
        for key in 0..100 {
            let extended = ring.preference_list(key, 6);
            assert_eq!(&extended[..3], ring.preference_list(key, 3).as_slice());
            assert_eq!(extended.len(), 6);
        }
    }

    #[test]
    fn keys_spread_over_every_server() {
        let ring = Ring::new(4, 8);
        let mut owned = [0usize; 4];
        for key in 0..4000 {
            owned[ring.owner(key)] += 1;
        }
        assert!(owned.iter().all(|&k| k > 500), "unbalanced: {owned:?}");
    }
}
