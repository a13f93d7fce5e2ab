//! Chapter 14 listing: one stored response, followed through its life in a shared cache.
//!
//! The origin answers at t = 1000 s with `Cache-Control: max-age=60, stale-while-revalidate=30,
//! stale-if-error=300`, `Date` two seconds behind the cache's clock, and an upstream cache
//! already added `Age: 5`. The program prints the freshness lifetime, the current age and
//! what the cache may do at several later times (RFC 9111 §4.2, RFC 5861).
//!
//! playground-bundle: scalability::http_caching::freshness
//!
//! Run: `cargo run -p uds --example ch14_freshness`
use uds::scalability::http_caching::freshness::{
    AgeInputs, FreshnessInputs, Staleness, current_age, freshness_lifetime, may_serve_on_error,
    staleness,
};

// ANCHOR: main
fn main() {
    let response = FreshnessInputs {
        max_age: Some(60),
        date: Some(998),
        heuristic_allowed: true,
        ..FreshnessInputs::default()
    };
    let arrival = AgeInputs {
        age_value: 5,        // an upstream cache held it 5 s
        date_value: 998,     // the origin's clock, 2 s behind ours
        request_time: 999,   // we asked at 999 ...
        response_time: 1000, // ... and it arrived at 1000
    };
    let lifetime = freshness_lifetime(&response, true);
    let (swr, sie) = (Some(30), Some(300));
    println!("freshness lifetime: {lifetime} s");
    println!(
        "{:>6}  {:>7}  {:<34}  if origin fails",
        "now", "age (s)", "decision"
    );
    for now in [1000, 1030, 1053, 1054, 1070, 1084, 1300, 1360] {
        let age = current_age(&arrival, now);
        let decision = match staleness(lifetime, age, swr) {
            Staleness::Fresh { ttl } => format!("fresh, hit ({ttl} s left)"),
            Staleness::ServeWhileRevalidating { stale_for } => {
                format!("stale {stale_for} s: serve, revalidate")
            }
            Staleness::Stale { stale_for } => format!("stale {stale_for} s: ask origin"),
        };
        let stale_for = age.saturating_sub(lifetime);
        let on_error = if age < lifetime {
            "-"
        } else if may_serve_on_error(stale_for, sie) {
            "serve stale"
        } else {
            "error to client"
        };
        println!("{now:>6}  {age:>7}  {decision:<34}  {on_error}");
    }
}
// ANCHOR_END: main
