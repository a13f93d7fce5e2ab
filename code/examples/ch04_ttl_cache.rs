//! Chapter 4 listing: a resolver's TTL cache, with negative entries, on a clock we move by
//! hand.
//!
//! playground-bundle: communication::discovery::cache
//!
//! Run: `cargo run -p uds --example ch04_ttl_cache`
use std::net::Ipv4Addr;
use std::time::Duration;

use uds::communication::discovery::cache::{Cached, TtlCache, negative_ttl};

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
