//! The proxy's storage: a bounded map from cache key to stored responses, evicting the least
//! recently used entry (LRU) when full.
//!
//! A cache key is the request's method-independent target (the path and query; we store only
//! GET). Because of `Vary` (RFC 9111 §4.1) one key may hold several responses, one per set of
//! selecting request header values; they share the key's recency and count one entry each
//! towards the capacity. The capacity is in entries, not bytes: the book's objects are small
//! and of similar size; a byte budget would weigh each entry by its body length.
//!
//! Recency is a logical counter, not a clock: each `get` or `insert` takes the next tick, and
//! `by_recency` maps ticks back to keys, so the victim is the first key of that map. Both maps
//! are `BTreeMap`s: lookups and evictions cost O(log n), and iteration order is deterministic.
//! Invariant: `by_recency` has exactly one tick per key of `entries`, and `len` is the total
//! number of stored responses.

use std::collections::BTreeMap;

use super::policy::Headers;

/// One stored response, with what the freshness rules need to know about how it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    /// The status code.
    pub status: u16,
    /// The response's header fields, as received (lower-case names).
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
    /// The selecting request header values (§4.1), from [`super::policy::vary_key`].
    pub vary: Headers,
    /// The cache's clock (seconds) when it sent the request that produced this response.
    pub request_time: u64,
    /// The cache's clock (seconds) when the response arrived.
    pub response_time: u64,
}

// ANCHOR: lru
/// A bounded LRU store of responses.
#[derive(Debug)]
pub struct LruStore {
    /// Responses by cache key, with the tick of the key's last use.
    entries: BTreeMap<String, (u64, Vec<StoredResponse>)>,
    /// Cache keys by the tick of their last use. Invariant: one tick per key of `entries`.
    by_recency: BTreeMap<u64, String>,
    /// The next tick.
    tick: u64,
    /// Stored responses in all keys. Invariant: `len <= capacity`.
    len: usize,
    /// The most responses kept.
    capacity: usize,
    /// Responses evicted to make room, since creation.
    pub evictions: u64,
}

impl LruStore {
    /// An empty store that keeps at most `capacity` responses (at least one).
    pub fn new(capacity: usize) -> LruStore {
        LruStore {
            entries: BTreeMap::new(),
            by_recency: BTreeMap::new(),
            tick: 0,
            len: 0,
            capacity: capacity.max(1),
            evictions: 0,
        }
    }

    /// The responses stored under `key`, marking the key as just used.
    pub fn get(&mut self, key: &str) -> Option<&mut Vec<StoredResponse>> {
        let tick = self.next_tick();
        let (used, responses) = self.entries.get_mut(key)?;
        self.by_recency.remove(used);
        self.by_recency.insert(tick, key.to_string());
        *used = tick;
        Some(responses)
    }

    /// Stores `response` under `key`, replacing a response with the same `vary` values, and
    /// evicts least recently used keys while over capacity.
    pub fn insert(&mut self, key: &str, response: StoredResponse) {
        let tick = self.next_tick();
        let (used, responses) = self
            .entries
            .entry(key.to_string())
            .or_insert_with(|| (tick, Vec::new()));
        self.by_recency.remove(used);
        self.by_recency.insert(tick, key.to_string());
        *used = tick;
        let before = responses.len();
        responses.retain(|r| r.vary != response.vary);
        responses.push(response);
        self.len = self.len + responses.len() - before;
        while self.len > self.capacity {
            self.evict_oldest(key);
        }
    }

    /// Removes every response under `key` (after an unsafe method, §4.4).
    pub fn remove(&mut self, key: &str) {
        if let Some((used, responses)) = self.entries.remove(key) {
            self.by_recency.remove(&used);
            self.len -= responses.len();
        }
    }

    /// How many responses are stored.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Evicts the least recently used key; if that is `keep` (the key just inserted, which
    /// alone exceeds the capacity), its oldest response instead.
    fn evict_oldest(&mut self, keep: &str) {
        let Some((_, victim)) = self.by_recency.first_key_value() else {
            return;
        };
        let victim = victim.clone();
        if victim == keep {
            if let Some((_, responses)) = self.entries.get_mut(&victim) {
                responses.remove(0);
                self.len -= 1;
                self.evictions += 1;
            }
            return;
        }
        let evicted = self.entries.get(&victim).map_or(0, |(_, r)| r.len());
        self.remove(&victim);
        self.evictions += evicted as u64;
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}
// ANCHOR_END: lru
