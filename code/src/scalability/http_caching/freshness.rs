//! Freshness and age, RFC 9111 §4.2: the arithmetic at the heart of every HTTP cache.
//!
//! A cache may answer from storage without asking the origin while the stored response is
//! *fresh*: while its current age is below its freshness lifetime (§4.2). Both quantities are
//! computed here from plain numbers (whole seconds since the Unix epoch, as HTTP dates have one
//! second resolution), so the rules can be read, tested and run on their own; the caller
//! ([`super::policy`]) extracts the numbers from header fields.
//!
//! - [`freshness_lifetime`] (§4.2.1): a shared cache prefers `s-maxage`, then `max-age`, then
//!   `Expires - Date`; with none of them, a response that may be cached heuristically gets a
//!   fraction of the time since it was last modified (§4.2.2).
//! - [`current_age`] (§4.2.3): how long ago the origin generated the response, estimated
//!   from the `Age` header the cache received, the `Date` header, the time the request spent
//!   in flight and the time the response has spent in this cache. Clocks disagree, so the rule
//!   takes the larger of two estimates and adds the whole round trip: it errs towards *older*,
//!   which errs towards asking the origin again.
//! - [`staleness`] (§4.2.4 and RFC 5861 §3, §4): once stale, a response may still be served
//!   while it is revalidated in the background (`stale-while-revalidate`) or when the origin
//!   fails (`stale-if-error`), each for a bounded number of seconds past its lifetime.
//!
//! Invariants: no function here panics or overflows, whatever the inputs (times in the past,
//! in the future, or `u64::MAX`): every difference saturates at zero and every sum saturates.
//! An age is never negative, by type. Uses std only, so the playground can run it.

// ANCHOR: inputs
/// What the freshness lifetime depends on, extracted from a stored response (§4.2.1).
/// Durations are in seconds, dates in seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreshnessInputs {
    /// `Cache-Control: s-maxage` (§5.2.2.10), which only shared caches obey.
    pub s_maxage: Option<u64>,
    /// `Cache-Control: max-age` (§5.2.2.1).
    pub max_age: Option<u64>,
    /// The `Expires` header (§5.3), a date.
    pub expires: Option<u64>,
    /// The `Date` header (RFC 9110 §6.6.1): when the origin generated the response.
    pub date: Option<u64>,
    /// The `Last-Modified` header (RFC 9110 §8.8.2).
    pub last_modified: Option<u64>,
    /// Whether heuristic freshness is allowed: the status code is heuristically cacheable
    /// (RFC 9110 §15.1) and no explicit expiration forbids it (§4.2.2).
    pub heuristic_allowed: bool,
}
// ANCHOR_END: inputs

/// The fraction of the time since `Last-Modified` that heuristic freshness grants (§4.2.2
/// suggests "no more than some fraction", typically 10%).
pub const HEURISTIC_FRACTION_PERCENT: u64 = 10;

/// The largest heuristic lifetime granted, one day (our choice; the RFC sets no cap): an
/// object unchanged for ten years is not therefore safe to serve unasked for a year.
pub const HEURISTIC_MAX_SECS: u64 = 24 * 60 * 60;

// ANCHOR: lifetime
/// The freshness lifetime in seconds (RFC 9111 §4.2.1), for a `shared` cache or a private one.
pub fn freshness_lifetime(r: &FreshnessInputs, shared: bool) -> u64 {
    if shared && let Some(s) = r.s_maxage {
        return s;
    }
    if let Some(m) = r.max_age {
        return m;
    }
    if let Some(expires) = r.expires {
        // Without a Date, the cache would use the time it received the response; callers
        // fill `date` with that time when the header is missing (RFC 9110 §6.6.1).
        let date = r.date.unwrap_or(0);
        return expires.saturating_sub(date);
    }
    if r.heuristic_allowed
        && let (Some(date), Some(modified)) = (r.date, r.last_modified)
    {
        let since_modified = date.saturating_sub(modified);
        let heuristic = since_modified / 100 * HEURISTIC_FRACTION_PERCENT
            + since_modified % 100 * HEURISTIC_FRACTION_PERCENT / 100;
        return heuristic.min(HEURISTIC_MAX_SECS);
    }
    0
}
// ANCHOR_END: lifetime

// ANCHOR: age
/// When a stored response was obtained and what it said about its own age (§4.2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgeInputs {
    /// The `Age` header received with the response, 0 if absent (§5.1).
    pub age_value: u64,
    /// The `Date` header, the origin's clock when it generated the response.
    pub date_value: u64,
    /// This cache's clock when it sent the request that produced the response.
    pub request_time: u64,
    /// This cache's clock when the response arrived.
    pub response_time: u64,
}

/// The current age in seconds at time `now` (RFC 9111 §4.2.3), never negative.
pub fn current_age(a: &AgeInputs, now: u64) -> u64 {
    // How old the Date header says it was on arrival (0 if the clocks make it look young).
    let apparent_age = a.response_time.saturating_sub(a.date_value);
    // The request's round trip, added in full: the origin may have generated the response
    // at any point of it, and an upstream cache's Age was measured before the trip back.
    let response_delay = a.response_time.saturating_sub(a.request_time);
    let corrected_age_value = a.age_value.saturating_add(response_delay);
    let corrected_initial_age = apparent_age.max(corrected_age_value);
    let resident_time = now.saturating_sub(a.response_time);
    corrected_initial_age.saturating_add(resident_time)
}
// ANCHOR_END: age

// ANCHOR: staleness
/// What a cache may do with a stored response, by its age (§4.2, §4.2.4, RFC 5861).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staleness {
    /// Age below the lifetime: serve it without contacting the origin; `ttl` seconds remain.
    Fresh { ttl: u64 },
    /// Stale, but within `stale-while-revalidate`: serve it now and revalidate in the
    /// background (RFC 5861 §3).
    ServeWhileRevalidating { stale_for: u64 },
    /// Stale: ask the origin (conditionally, if there is a validator, §4.3.1).
    Stale { stale_for: u64 },
}

/// Classifies a stored response of `lifetime` and `age` seconds, with the response's
/// `stale-while-revalidate` window if any. A lifetime of 0 is stale at once (age 0 is not
/// below 0), which is how `no-cache` and `max-age=0` force revalidation.
pub fn staleness(lifetime: u64, age: u64, stale_while_revalidate: Option<u64>) -> Staleness {
    if age < lifetime {
        return Staleness::Fresh {
            ttl: lifetime - age,
        };
    }
    let stale_for = age - lifetime;
    match stale_while_revalidate {
        Some(window) if stale_for < window => Staleness::ServeWhileRevalidating { stale_for },
        _ => Staleness::Stale { stale_for },
    }
}

/// Whether a stale response `stale_for` seconds past its lifetime may answer a request that
/// the origin failed (an error status or no answer), under `stale-if-error` (RFC 5861 §4).
pub fn may_serve_on_error(stale_for: u64, stale_if_error: Option<u64>) -> bool {
    stale_if_error.is_some_and(|window| stale_for < window)
}
// ANCHOR_END: staleness
