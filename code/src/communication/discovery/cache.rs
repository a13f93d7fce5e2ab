//! A TTL cache with negative entries: what makes a resolver fast, and what makes DNS changes
//! slow.
//!
//! A resolver keeps every answer it receives for as long as the answer's TTL allows (RFC 1035
//! §3.2.1: the TTL is the time interval a record may be cached before it should be discarded;
//! zero means "use it for this transaction only"). It also remembers that a name does *not*
//! exist, or has no record of a type, for the negative TTL that the zone's SOA record carries
//! (RFC 2308 §5), so that a flood of queries for a missing name does not reach the
//! authoritative servers.
//!
//! **The boundary convention.** An entry stored at instant `t` with TTL `T` is fresh at every
//! instant `now < t + T` and gone from `now >= t + T` on: at exactly `t + T` the resolver asks
//! again. With `T = 0` an entry is never served, which is RFC 1035's meaning of zero.
//!
//! This module uses only `std`: the book's Run button sends it to the Rust playground. Time is
//! a `Duration` since an arbitrary start, given by the caller; the cache never reads a clock.

use std::collections::BTreeMap;
use std::time::Duration;

// ANCHOR: entry
/// What the cache remembers about a key: a value, or that there is none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cached<V> {
    /// A positive answer (the records).
    Positive(V),
    /// A negative answer: the name or the type does not exist.
    Negative,
}

/// One entry and the instant it stops being fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry<V> {
    value: Cached<V>,
    /// Invariant: the entry is served only while `now < expires_at`.
    expires_at: Duration,
}
// ANCHOR_END: entry

// ANCHOR: cache
/// A map from keys to answers that forgets each answer when its TTL runs out.
#[derive(Clone, Debug)]
pub struct TtlCache<K: Ord, V> {
    entries: BTreeMap<K, Entry<V>>,
}

impl<K: Ord, V: Clone> TtlCache<K, V> {
    /// An empty cache.
    pub fn new() -> Self {
        TtlCache {
            entries: BTreeMap::new(),
        }
    }

    /// Remembers `value` for `ttl_secs` seconds from `now`.
    pub fn insert(&mut self, key: K, value: V, ttl_secs: u32, now: Duration) {
        self.put(key, Cached::Positive(value), ttl_secs, now);
    }

    /// Remembers that `key` has no answer, for `ttl_secs` seconds from `now`.
    pub fn insert_negative(&mut self, key: K, ttl_secs: u32, now: Duration) {
        self.put(key, Cached::Negative, ttl_secs, now);
    }

    fn put(&mut self, key: K, value: Cached<V>, ttl_secs: u32, now: Duration) {
        let expires_at = now + Duration::from_secs(u64::from(ttl_secs));
        self.entries.insert(key, Entry { value, expires_at });
    }

    /// The fresh answer for `key` at `now` and the whole seconds it has left, or `None`.
    /// An expired entry is removed: at `now >= expires_at` the caller must ask upstream.
    pub fn get(&mut self, key: &K, now: Duration) -> Option<(Cached<V>, u32)> {
        let entry = self.entries.get(key)?;
        if now < entry.expires_at {
            let left = (entry.expires_at - now).as_secs();
            return Some((entry.value.clone(), u32::try_from(left).unwrap_or(u32::MAX)));
        }
        self.entries.remove(key);
        None
    }

    /// When the entry for `key` stops being fresh, if there is one.
    pub fn expires_at(&self, key: &K) -> Option<Duration> {
        self.entries.get(key).map(|e| e.expires_at)
    }

    /// How many entries are stored (fresh or not yet purged).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Ord, V: Clone> Default for TtlCache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}
// ANCHOR_END: cache

// ANCHOR: negative_ttl
/// How long a negative answer may be cached: the TTL of the SOA record that came with it, which
/// the authoritative server set to the smaller of the SOA's TTL and its MINIMUM field (RFC 2308
/// §3 and §5). Taking the minimum again costs nothing and protects against a server that did
/// not.
pub fn negative_ttl(soa_record_ttl: u32, soa_minimum: u32) -> u32 {
    soa_record_ttl.min(soa_minimum)
}
// ANCHOR_END: negative_ttl

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn an_entry_is_fresh_before_its_ttl_and_gone_at_it() {
        let mut c = TtlCache::new();
        c.insert("www", 1, 30, secs(100));
        let just_before = secs(130) - Duration::from_nanos(1);
        assert_eq!(c.get(&"www", just_before), Some((Cached::Positive(1), 0)));
        assert_eq!(c.get(&"www", secs(101)), Some((Cached::Positive(1), 29)));
        assert_eq!(c.get(&"www", secs(130)), None);
        assert!(c.is_empty(), "expired entries are purged when looked up");
    }

    #[test]
    fn a_zero_ttl_is_never_served() {
        let mut c = TtlCache::new();
        c.insert("www", 1, 0, secs(5));
        assert_eq!(c.get(&"www", secs(5)), None);
    }

    #[test]
    fn negative_entries_expire_like_positive_ones() {
        let mut c: TtlCache<&str, u32> = TtlCache::new();
        c.insert_negative("nope", negative_ttl(3_600, 60), secs(0));
        assert_eq!(c.get(&"nope", secs(59)), Some((Cached::Negative, 1)));
        assert_eq!(c.get(&"nope", secs(60)), None);
        assert_eq!(negative_ttl(30, 60), 30);
    }
}
