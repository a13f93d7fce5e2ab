//! One cache tier of a CDN: a bounded TTL cache with request coalescing.
//!
//! An edge server and a shield do the same thing with a request: answer it from the cache if
//! the object is fresh there, otherwise ask the tier above (the shield, or the origin) and keep
//! the answer for next time. [`Tier`] is that logic with no I/O: [`Tier::request`] says *hit*,
//! *fetch* or *wait*, and [`Tier::fill`] stores what came back and hands out every requester
//! that was waiting for it.
//!
//! **Coalescing.** While one fetch of an object is in flight, more misses for the same object
//! do not start more fetches: they wait for the one in flight (Varnish calls this request
//! coalescing, nginx `proxy_cache_lock`, Fastly request collapsing). So a tier sends at most one
//! request upstream per object at a time, and none while the object is fresh in its cache.
//! Invariant: `in_flight` holds an object iff exactly one upstream fetch of it is outstanding.
//!
//! **Freshness and age.** Every copy carries its age: the time since the origin produced it
//! (HTTP's `Age` header, RFC 9111 §5.1). A tier keeps a copy until its age reaches the TTL, so a
//! copy that sat 20 s in the shield lives only `ttl - 20 s` more at the edge: tiers never
//! stretch an object's lifetime. Time is passed in (`now`), never read.
//!
//! **Bounds.** The cache holds at most `capacity` objects; inserting into a full cache evicts
//! the least recently used one. An evicted object may be fetched again before its TTL ends, so
//! the "one fetch per TTL" guarantee of a shield holds for objects it did not evict (the
//! chapter's campaign gives the shield room for the whole catalogue).
//!
//! Uses only std, so that the chapter's playground listing can bundle it.

use std::collections::BTreeMap;
use std::time::Duration;

/// Which object (its rank in the popularity order: 0 is the most popular).
pub type ObjectId = u32;

/// A cached copy.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// When the origin produced this copy, on this tier's clock (`now - age` at insertion).
    born: Duration,
    /// The use counter of its last hit; the key of its slot in `by_use`.
    last_use: u64,
}

/// A bounded cache of object copies with a time to live, evicting the least recently used.
#[derive(Clone, Debug)]
pub struct TtlCache {
    /// How many objects it may hold (at least 1).
    capacity: usize,
    /// How long a copy stays fresh after the origin produced it.
    ttl: Duration,
    /// The copies. Invariant: `entries.len() <= capacity`.
    entries: BTreeMap<ObjectId, Entry>,
    /// Objects by last use, oldest first. Invariant: it mirrors `entries` exactly.
    by_use: BTreeMap<u64, ObjectId>,
    /// Counts uses; gives each use a distinct, increasing number.
    uses: u64,
}

impl TtlCache {
    /// An empty cache. Panics if `capacity` is 0 (a cache that can hold nothing is a bug).
    pub fn new(capacity: usize, ttl: Duration) -> TtlCache {
        assert!(capacity > 0, "a cache needs room for at least one object");
        TtlCache {
            capacity,
            ttl,
            entries: BTreeMap::new(),
            by_use: BTreeMap::new(),
            uses: 0,
        }
    }

    // ANCHOR: cache_get
    /// The age of the fresh copy of `obj` at `now`, or `None` (absent or expired: an expired
    /// copy is dropped). A hit makes the copy the most recently used.
    pub fn get(&mut self, obj: ObjectId, now: Duration) -> Option<Duration> {
        let entry = *self.entries.get(&obj)?;
        let age = now.saturating_sub(entry.born);
        if age >= self.ttl {
            self.remove(obj);
            return None;
        }
        self.uses += 1;
        self.by_use.remove(&entry.last_use);
        self.by_use.insert(self.uses, obj);
        self.entries.get_mut(&obj).expect("present").last_use = self.uses;
        Some(age)
    }
    // ANCHOR_END: cache_get

    /// Stores a copy of `obj` that is `age` old at `now`, unless it is already stale. Returns
    /// the object evicted to make room, if any.
    pub fn insert(&mut self, obj: ObjectId, age: Duration, now: Duration) -> Option<ObjectId> {
        self.remove(obj);
        if age >= self.ttl {
            return None;
        }
        let mut evicted = None;
        if self.entries.len() == self.capacity {
            let (_, oldest) = self.by_use.pop_first().expect("a full cache is not empty");
            self.entries.remove(&oldest);
            evicted = Some(oldest);
        }
        self.uses += 1;
        let born = now.saturating_sub(age);
        let last_use = self.uses;
        self.entries.insert(obj, Entry { born, last_use });
        self.by_use.insert(last_use, obj);
        evicted
    }

    /// Forgets `obj`.
    fn remove(&mut self, obj: ObjectId) {
        if let Some(e) = self.entries.remove(&obj) {
            self.by_use.remove(&e.last_use);
        }
    }

    /// How many copies it holds (fresh or not yet noticed to be stale).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most it may hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// What a tier does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Fresh in the cache: answer now with a copy of this age.
    Hit { age: Duration },
    /// A miss, and nobody is fetching it: send one request upstream.
    Fetch,
    /// A miss, but a fetch is already in flight: wait for it (coalesced).
    Wait,
}

/// What a tier has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests that started a fetch upstream.
    pub fetches: u64,
    /// Requests that joined a fetch already in flight.
    pub coalesced: u64,
    /// Copies evicted to make room.
    pub evictions: u64,
}

// ANCHOR: tier
/// A cache tier: a [`TtlCache`] plus the requests waiting for each object in flight. `W`
/// identifies a waiting requester (who to answer).
#[derive(Clone, Debug)]
pub struct Tier<W> {
    /// The fresh copies.
    pub cache: TtlCache,
    /// Requesters waiting per object. Invariant: a key is present iff one fetch of that object
    /// is outstanding upstream, and its list is never empty.
    in_flight: BTreeMap<ObjectId, Vec<W>>,
    /// Counters.
    pub stats: TierStats,
}

impl<W> Tier<W> {
    /// A tier whose cache holds `capacity` objects for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Tier<W> {
        Tier {
            cache: TtlCache::new(capacity, ttl),
            in_flight: BTreeMap::new(),
            stats: TierStats::default(),
        }
    }

    /// A request for `obj` from `waiter` at `now`.
    pub fn request(&mut self, obj: ObjectId, waiter: W, now: Duration) -> Lookup {
        if let Some(age) = self.cache.get(obj, now) {
            self.stats.hits += 1;
            return Lookup::Hit { age };
        }
        match self.in_flight.get_mut(&obj) {
            Some(waiting) => {
                waiting.push(waiter);
                self.stats.coalesced += 1;
                Lookup::Wait
            }
            None => {
                self.in_flight.insert(obj, vec![waiter]);
                self.stats.fetches += 1;
                Lookup::Fetch
            }
        }
    }

    /// The fetch of `obj` came back with a copy `age` old: cache it and return everyone who
    /// waited for it (empty if nobody did, e.g. a duplicate answer).
    pub fn fill(&mut self, obj: ObjectId, age: Duration, now: Duration) -> Vec<W> {
        if self.cache.insert(obj, age, now).is_some() {
            self.stats.evictions += 1;
        }
        self.in_flight.remove(&obj).unwrap_or_default()
    }
}
// ANCHOR_END: tier

impl<W> Tier<W> {
    /// True if a fetch of `obj` is outstanding.
    pub fn is_in_flight(&self, obj: ObjectId) -> bool {
        self.in_flight.contains_key(&obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_copy_expires_when_its_age_reaches_the_ttl_counting_upstream_age() {
        let mut cache = TtlCache::new(4, s(60));
        cache.insert(1, s(20), s(100)); // 20 s old on arrival: fresh until t = 140
        assert_eq!(cache.get(1, s(139)), Some(s(59)));
        assert_eq!(cache.get(1, s(140)), None);
        assert!(cache.is_empty());
        assert_eq!(cache.insert(2, s(60), s(0)), None);
        assert!(cache.is_empty(), "a copy that arrives stale is not stored");
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used() {
        let mut cache = TtlCache::new(2, s(60));
        cache.insert(1, s(0), s(0));
        cache.insert(2, s(0), s(1));
        assert!(cache.get(1, s(2)).is_some()); // 2 is now the least recently used
        assert_eq!(cache.insert(3, s(0), s(3)), Some(2));
        assert!(cache.get(1, s(4)).is_some() && cache.get(3, s(4)).is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn concurrent_misses_make_one_fetch_and_all_get_the_answer() {
        let mut tier: Tier<&str> = Tier::new(8, s(60));
        assert_eq!(tier.request(7, "a", s(0)), Lookup::Fetch);
        assert_eq!(tier.request(7, "b", s(0)), Lookup::Wait);
        assert_eq!(tier.request(7, "c", s(1)), Lookup::Wait);
        assert_eq!(tier.fill(7, s(0), s(1)), vec!["a", "b", "c"]);
        assert_eq!(tier.request(7, "d", s(2)), Lookup::Hit { age: s(1) });
        assert_eq!(tier.stats.fetches, 1);
        assert_eq!(tier.stats.coalesced, 2);
        assert!(!tier.is_in_flight(7));
    }
}
