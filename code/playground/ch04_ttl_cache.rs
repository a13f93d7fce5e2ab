// GENERATED from code/examples/ch04_ttl_cache.rs and the `uds` modules communication::discovery::cache by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 4 listing: a resolver's TTL cache, with negative entries, on a clock we move by
//! hand.
//!
//! playground-bundle: communication::discovery::cache
//!
//! Run: `cargo run -p uds --example ch04_ttl_cache`
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::communication::discovery::cache::{Cached, TtlCache, negative_ttl};

/// What the authoritative server says: addresses with a TTL, or "no such name" with the SOA's
/// TTL and MINIMUM field.
enum Upstream {
    Found(Vec<Ipv4Addr>, u32),
    NxDomain { soa_ttl: u32, soa_minimum: u32 },
}

/// The authoritative data: www has TTL 30 s; the zone's SOA says 3600 s, MINIMUM 60 s.
fn authoritative(name: &str) -> Upstream {
    match name {
        "www.example.com." => Upstream::Found(vec![Ipv4Addr::new(192, 0, 2, 1)], 30),
        _ => Upstream::NxDomain {
            soa_ttl: 3_600,
            soa_minimum: 60,
        },
    }
}

// ANCHOR: main
fn main() {
    let mut cache: TtlCache<String, Vec<Ipv4Addr>> = TtlCache::new();
    let mut upstream_queries = 0;
    let questions = [
        (0.0, "www.example.com."),
        (10.0, "www.example.com."),
        (29.999, "www.example.com."), // the last instant before expiry
        (30.0, "www.example.com."),   // expired: ask again
        (31.0, "nope.example.com."),
        (90.0, "nope.example.com."),
        (91.0, "nope.example.com."), // the negative entry expired
    ];
    for (t, name) in questions {
        let now = Duration::from_secs_f64(t); // the in-file clock: we set it
        let said = match cache.get(&name.to_string(), now) {
            Some((Cached::Positive(ips), left)) => format!("cache hit {ips:?}, {left} s left"),
            Some((Cached::Negative, left)) => format!("cached NXDOMAIN, {left} s left"),
            None => {
                upstream_queries += 1;
                match authoritative(name) {
                    Upstream::Found(ips, ttl) => {
                        cache.insert(name.to_string(), ips.clone(), ttl, now);
                        format!("asked upstream: {ips:?}, TTL {ttl} s")
                    }
                    Upstream::NxDomain {
                        soa_ttl,
                        soa_minimum,
                    } => {
                        let ttl = negative_ttl(soa_ttl, soa_minimum);
                        cache.insert_negative(name.to_string(), ttl, now);
                        format!("asked upstream: NXDOMAIN, cached for {ttl} s")
                    }
                }
            }
        };
        println!("t = {t:>6.3} s  {name:<18} {said}");
    }
    println!(
        "{upstream_queries} upstream queries for {} questions",
        questions.len()
    );
}
// ANCHOR_END: main

mod communication {

pub mod discovery {

pub mod cache {
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

}
}
}
