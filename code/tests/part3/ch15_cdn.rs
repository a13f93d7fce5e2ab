//! Tests of chapter 15: the shield's bound on origin fetches, DNS failover after an edge
//! crash, routing to the nearest edge, and properties of a cache tier.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use uds::scalability::cdn::geo::REGIONS;
use uds::scalability::cdn::scenario::{CdnConfig, CdnRun, run};
use uds::scalability::cdn::tier::{Lookup, Tier, TtlCache};
use uds::sim::Campaign;

/// A small, busy CDN: few objects and many requests, so that misses for one object often
/// overlap and the shield has to coalesce them.
fn busy(seed: u64, shield: bool) -> CdnConfig {
    CdnConfig {
        edges_per_region: 1 + (seed % 2) as usize,
        shield,
        objects: 40,
        zipf_s: 1.0,
        ttl: Duration::from_millis(1_500 + 250 * (seed % 5)),
        edge_capacity: 8,
        clients_per_region: 1,
        rate_per_client: 30.0,
        origin_service: Duration::from_millis(20 + 10 * (seed % 4)),
        duration: Duration::from_secs(4),
        ..CdnConfig::book()
    }
}

/// Per object, the times (s) at which the origin received a fetch of it.
fn fetches_by_object(r: &CdnRun) -> BTreeMap<u32, Vec<f64>> {
    let mut by_object: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for &(t, obj) in &r.origin_fetches {
        by_object.entry(obj).or_default().push(t);
    }
    by_object
}

/// The first pair of fetches of one object less than `ttl` apart: (object, first, second).
fn too_close(r: &CdnRun, ttl: Duration) -> Option<(u32, f64, f64)> {
    fetches_by_object(r).into_iter().find_map(|(obj, times)| {
        times
            .windows(2)
            .find(|w| w[1] - w[0] < ttl.as_secs_f64())
            .map(|w| (obj, w[0], w[1]))
    })
}

/// A number from the environment, or `default`.
fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The chapter's claim (the module doc of `scalability::cdn`): with a shield that holds the
/// catalogue, two origin fetches of one object arrive at least one TTL apart, so the origin
/// sees at most one request per object per TTL window, however many edges miss at once. Every
/// edge miss reaches the shield and is a hit, a fetch or a coalesced wait there; only fetches
/// reach the origin. Each seed varies edges, TTL and origin speed. `UDS_SEEDS` and
/// `UDS_FIRST_SEED` choose the seeds; a failure names the command that replays its seed alone.
#[test]
fn shield_fetches_each_object_at_most_once_per_ttl() {
    let name = "shield_fetches_each_object_at_most_once_per_ttl";
    let seeds = env("UDS_SEEDS", 1_000).max(1);
    let mut campaign = Campaign::for_test(module_path!(), name, seeds);
    campaign.first_seed = env("UDS_FIRST_SEED", 0);
    campaign.replay = format!(
        "UDS_FIRST_SEED={{seed}} UDS_SEEDS=1 cargo test -p uds --release --test part3 \
         ch15_cdn::{name}"
    );
    let coalesced = std::sync::atomic::AtomicU64::new(0);
    let report = campaign.run(|seed| {
        let config = busy(seed, true);
        let r = run(&config, seed)?;
        coalesced.fetch_add(r.shield.coalesced, std::sync::atomic::Ordering::Relaxed);
        let at_shield = r.shield.hits + r.shield.fetches + r.shield.coalesced;
        if r.edges.fetches != at_shield {
            return Err(format!(
                "the edges sent {} misses upstream, the shield accounted for {at_shield}",
                r.edges.fetches
            ));
        }
        if r.shield.fetches != r.origin_fetches.len() as u64 {
            return Err(format!(
                "the shield counted {} fetches, the origin {}",
                r.shield.fetches,
                r.origin_fetches.len()
            ));
        }
        match too_close(&r, config.ttl) {
            Some((obj, a, b)) => Err(format!(
                "object {obj} fetched at {a:.3} s and {b:.3} s, less than the TTL {:?} apart",
                config.ttl
            )),
            None => Ok(()),
        }
    });
    report.assert_passed();
    // A bound that holds because no two misses ever met would prove nothing. (Not asserted
    // when replaying a handful of seeds.)
    if seeds >= 100 {
        assert!(
            coalesced.into_inner() > seeds,
            "the campaign should make the shield coalesce concurrent misses"
        );
    }
}

/// Without a shield the bound is per edge: several edges fetch the same object within one TTL.
#[test]
fn without_a_shield_edges_fetch_one_object_several_times_per_ttl() {
    let config = busy(1, false);
    let r = run(&config, 1).unwrap();
    assert!(
        too_close(&r, config.ttl).is_some(),
        "seed 1: expected duplicate fetches"
    );
    let with = run(&busy(1, true), 1).unwrap();
    assert!(with.origin_fetches.len() * 2 < r.origin_fetches.len());
}

/// With no failure, DNS sends every client to an edge of its own region.
#[test]
fn dns_sends_each_client_to_an_edge_of_its_region() {
    let config = CdnConfig {
        duration: Duration::from_secs(10),
        edges_per_region: 2,
        ..busy(0, true)
    };
    let r = run(&config, 3).unwrap();
    for o in &r.outcomes {
        let edge = o.edge.expect("an edge");
        let index = r.edge_nodes.iter().position(|&e| e == edge).unwrap();
        assert_eq!(index / config.edges_per_region, o.region, "{o:?}");
        assert!(o.answer.is_some(), "no failure without a crash: {o:?}");
    }
}

/// An edge crash is survived once the DNS TTL has run out: Europe's clients fail while they
/// hold the dead edge's address, and every request after detection + DNS TTL succeeds,
/// through another edge.
#[test]
fn clients_fail_over_once_their_dns_answer_expires() {
    let europe = 2;
    let crash = Duration::from_secs(10);
    let config = CdnConfig {
        duration: Duration::from_secs(30),
        dns_ttl: Duration::from_secs(5),
        crashes: vec![(crash, europe)],
        ..busy(0, true)
    };
    for seed in 0..5 {
        let r = run(&config, seed).unwrap();
        let dead = r.edge_nodes[europe];
        let healed = (crash + config.down_after + config.dns_ttl).as_secs_f64() + 0.1;
        let ours: Vec<_> = r.outcomes.iter().filter(|o| o.region == europe).collect();
        assert!(
            ours.iter().any(|o| o.answer.is_none()),
            "seed {seed}: the crash went unnoticed"
        );
        for o in ours {
            if o.at_s < crash.as_secs_f64() - 1.0 || o.at_s > healed {
                assert!(
                    o.answer.is_some(),
                    "seed {seed}: failed outside the outage: {o:?}"
                );
            }
            if o.at_s > healed {
                assert_ne!(
                    o.edge,
                    Some(dead),
                    "seed {seed}: still sent to the dead edge"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A tier never holds more than its capacity, never serves a copy whose age reached the
    /// TTL, and starts one fetch per object until that fetch is filled.
    #[test]
    fn a_tier_is_bounded_fresh_and_coalesces(
        ops in proptest::collection::vec((0u32..6, 0u64..3, any::<bool>(), 0u64..3_000), 1..200),
        capacity in 1usize..5,
    ) {
        let ttl = Duration::from_secs(2);
        let mut tier: Tier<u32> = Tier::new(capacity, ttl);
        let mut in_flight = [false; 6];
        let mut now = Duration::ZERO;
        for (i, (obj, step_s, is_fill, age_ms)) in ops.into_iter().enumerate() {
            now += Duration::from_secs(step_s);
            if is_fill && in_flight[obj as usize] {
                let waiters = tier.fill(obj, Duration::from_millis(age_ms), now);
                prop_assert!(!waiters.is_empty());
                in_flight[obj as usize] = false;
            } else {
                match tier.request(obj, i as u32, now) {
                    Lookup::Hit { age } => prop_assert!(age < ttl),
                    Lookup::Fetch => {
                        prop_assert!(!in_flight[obj as usize], "a second fetch of {}", obj);
                        in_flight[obj as usize] = true;
                    }
                    Lookup::Wait => prop_assert!(in_flight[obj as usize]),
                }
            }
            prop_assert!(tier.cache.len() <= capacity);
        }
    }

    /// A cache answers for an object exactly while its age is below the TTL.
    #[test]
    fn a_copy_is_fresh_exactly_until_its_ttl(age_ms in 0u64..5_000, later_ms in 0u64..5_000) {
        let ttl = Duration::from_secs(2);
        let mut cache = TtlCache::new(1, ttl);
        let t0 = Duration::from_secs(10);
        cache.insert(0, Duration::from_millis(age_ms), t0);
        let got = cache.get(0, t0 + Duration::from_millis(later_ms));
        let age = Duration::from_millis(age_ms + later_ms);
        prop_assert_eq!(got, (age < ttl).then_some(age));
    }
}

#[test]
fn the_book_config_is_valid_and_bad_values_are_rejected() {
    assert!(CdnConfig::book().validate().is_ok());
    let bad = CdnConfig {
        crashes: vec![(Duration::ZERO, REGIONS.len())],
        ..CdnConfig::book()
    };
    assert!(bad.validate().unwrap_err().contains("crash of edge"));
    let bad = CdnConfig {
        zipf_s: f64::NAN,
        ..CdnConfig::book()
    };
    assert!(bad.validate().is_err());
    let bad = CdnConfig {
        edges_per_region: 0,
        ..CdnConfig::book()
    };
    assert!(run(&bad, 1).is_err());
}
