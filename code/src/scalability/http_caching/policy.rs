//! RFC 9111's rules over plain data: what may be stored, for how long, for which requests, and
//! how a stored response is validated and refreshed.
//!
//! Everything here is a pure function of a request's and a response's status and header
//! fields plus a few times (whole seconds since the Unix epoch); nothing reads a clock or a
//! socket. The proxy in [`super::proxy`] calls these functions and does the I/O; the tests in
//! `code/tests/part3/ch14_http_caching.rs` check each rule against a table whose rows name
//! the section they come from.
//!
//! - [`storable`] (§3, §3.5): may a shared cache store this response at all?
//! - [`lifetime`], [`age`] (§4.2.1-§4.2.3): the header fields turned into the numbers of
//!   [`super::freshness`].
//! - [`vary_matches`] (§4.1): may a response stored for one request answer another?
//! - [`validation_headers`] (§4.3.1): the conditional request that revalidates a stale entry.
//! - [`freshen`] (§3.2, §4.3.4): a `304 Not Modified` updates the stored header fields.
//!
//! Simplifications: only `GET` responses are stored; partial content (206) is never stored;
//! `Vary: *` never matches; request directives other than `no-store`, `no-cache` and
//! `max-age=0` are ignored; and the cache is always shared (it is a reverse proxy).

use super::cache_control::{CacheControl, delta_seconds_value};
use super::freshness::{AgeInputs, FreshnessInputs, current_age, freshness_lifetime};

/// Header fields as (lower-case name, value) pairs, in order, repeats allowed.
pub type Headers = Vec<(String, String)>;

/// Every value of header `name` (lower case).
pub fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The first value of header `name`, if any.
pub fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Parses an HTTP date (RFC 9110 §5.6.7) to seconds since the epoch; `None` if invalid.
pub fn http_date(value: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    time.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Formats seconds since the epoch as an HTTP date.
pub fn fmt_http_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// The response's directives (all its `Cache-Control` lines).
pub fn cache_control(headers: &[(String, String)]) -> CacheControl {
    CacheControl::parse(values(headers, "cache-control"))
}

/// Status codes that are "heuristically cacheable" (RFC 9110 §15.1).
pub fn heuristically_cacheable(status: u16) -> bool {
    matches!(
        status,
        200 | 203 | 204 | 206 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

// ANCHOR: storable
/// Why a shared cache must not store a response (RFC 9111 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStorable {
    /// Only GET responses are stored here (§3: the method must be understood and cacheable).
    Method,
    /// The status is not final, not understood, or partial content.
    Status,
    /// `no-store` in the request or the response (§5.2.1.5, §5.2.2.5).
    NoStore,
    /// `private`, and this is a shared cache (§5.2.2.7).
    Private,
    /// The request carried `Authorization` and the response did not allow sharing (§3.5).
    Authorization,
    /// No explicit freshness, no validator-friendly status: nothing permits storing (§3).
    NoPermission,
}

/// Whether a shared cache may store `status` + `response` obtained by `method` + `request`.
pub fn storable(
    method: &str,
    request: &[(String, String)],
    status: u16,
    response: &[(String, String)],
) -> Result<(), NotStorable> {
    if method != "GET" {
        return Err(NotStorable::Method);
    }
    if !(200..600).contains(&status) || status == 206 || status == 304 {
        return Err(NotStorable::Status);
    }
    let cc = cache_control(response);
    if cc.no_store || CacheControl::parse(values(request, "cache-control")).no_store {
        return Err(NotStorable::NoStore);
    }
    if cc.private {
        return Err(NotStorable::Private);
    }
    let shared_ok = cc.public || cc.s_maxage.is_some() || cc.must_revalidate;
    if first(request, "authorization").is_some() && !shared_ok {
        return Err(NotStorable::Authorization);
    }
    let explicit =
        cc.max_age.is_some() || cc.s_maxage.is_some() || first(response, "expires").is_some();
    if explicit || cc.public || heuristically_cacheable(status) {
        Ok(())
    } else {
        Err(NotStorable::NoPermission)
    }
}
// ANCHOR_END: storable

// ANCHOR: lifetime
/// The freshness lifetime of a stored response in a shared cache (§4.2.1), in seconds.
/// `no-cache` and invalid freshness information give 0: stale at once, so always validated.
pub fn lifetime(status: u16, response: &[(String, String)], response_time: u64) -> u64 {
    let cc = cache_control(response);
    if cc.no_cache || cc.invalid_freshness {
        return 0;
    }
    let date = first(response, "date").and_then(http_date);
    let expires = first(response, "expires").map(|v| http_date(v).unwrap_or(0));
    let inputs = FreshnessInputs {
        s_maxage: cc.s_maxage,
        max_age: cc.max_age,
        // An invalid Expires (e.g. "0") means already expired (§5.3): date 0 does that.
        expires,
        date: Some(date.unwrap_or(response_time)),
        last_modified: first(response, "last-modified").and_then(http_date),
        heuristic_allowed: heuristically_cacheable(status),
    };
    freshness_lifetime(&inputs, true)
}
// ANCHOR_END: lifetime

/// The `Age` header's value (§5.1): the first member of a list, an invalid value ignored
/// (0), a value too large to represent read as 2^31 (§1.2.2), so a huge `Age` makes the
/// response old, never young.
pub fn age_value(response: &[(String, String)]) -> u64 {
    first(response, "age")
        .and_then(|v| delta_seconds_value(v.split(',').next().unwrap_or("").trim()))
        .unwrap_or(0)
}

/// The current age of a stored response at `now` (§4.2.3), from its `Age` and `Date`.
pub fn age(response: &[(String, String)], request_time: u64, response_time: u64, now: u64) -> u64 {
    let age_value = age_value(response);
    let date_value = first(response, "date")
        .and_then(http_date)
        .unwrap_or(response_time);
    let inputs = AgeInputs {
        age_value,
        date_value,
        request_time,
        response_time,
    };
    current_age(&inputs, now)
}

/// Whether a shared cache may ever serve this response stale, even where `stale-while-
/// revalidate` or `stale-if-error` (RFC 5861) would allow it: not if it carries `no-cache`,
/// `must-revalidate`, `proxy-revalidate` or `s-maxage` (§4.2.4; §5.2.2.4, §5.2.2.2,
/// §5.2.2.8, §5.2.2.10).
pub fn may_serve_stale(cc: &CacheControl) -> bool {
    !cc.no_cache && !cc.must_revalidate && !cc.proxy_revalidate && cc.s_maxage.is_none()
}

// ANCHOR: vary
/// The request header values a stored response was selected by: for each field its `Vary`
/// lists, the name and the request's values joined (§4.1). `None` for `Vary: *`.
pub fn vary_key(response: &[(String, String)], request: &[(String, String)]) -> Option<Headers> {
    let mut key = Headers::new();
    for line in values(response, "vary") {
        for name in line.split(',').map(|n| n.trim().to_ascii_lowercase()) {
            if name == "*" {
                return None;
            }
            if name.is_empty() || key.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let joined: Vec<&str> = values(request, &name).map(str::trim).collect();
            key.push((name.clone(), joined.join(", ")));
        }
    }
    Some(key)
}

/// Whether a new request presents the same values as the stored `vary_key` (§4.1).
pub fn vary_matches(stored: &[(String, String)], request: &[(String, String)]) -> bool {
    stored.iter().all(|(name, value)| {
        let joined: Vec<&str> = values(request, name).map(str::trim).collect();
        joined.join(", ") == *value
    })
}
// ANCHOR_END: vary

// ANCHOR: validation
/// The conditional header fields that revalidate a stored response (§4.3.1): its `ETag` as
/// `If-None-Match` (RFC 9110 §13.1.2), else its `Last-Modified` as `If-Modified-Since`
/// (§13.1.3). Empty if it has no validator: the cache must then fetch it whole.
pub fn validation_headers(stored: &[(String, String)]) -> Headers {
    if let Some(etag) = first(stored, "etag") {
        return vec![("if-none-match".to_string(), etag.to_string())];
    }
    match first(stored, "last-modified") {
        Some(lm) => vec![("if-modified-since".to_string(), lm.to_string())],
        None => Vec::new(),
    }
}

/// Whether a 304 refers to the stored response: same strong `ETag` if the 304 has one
/// (§4.3.4 selects stored responses by validator), else we accept it (we sent one validator).
pub fn not_modified_matches(
    stored: &[(String, String)],
    not_modified: &[(String, String)],
) -> bool {
    match (first(not_modified, "etag"), first(stored, "etag")) {
        (Some(new), Some(old)) => new.trim() == old.trim(),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// Updates a stored response's header fields from a `304 Not Modified` (§3.2, §4.3.4): each
/// field the 304 carries replaces the stored field of that name, except `Content-Length`
/// (the 304 has no body). The caller also resets the entry's request and response times.
pub fn freshen(stored: &mut Headers, not_modified: &[(String, String)]) {
    for (name, _) in not_modified {
        if name == "content-length" {
            continue;
        }
        stored.retain(|(n, _)| n != name);
    }
    for (name, value) in not_modified {
        if name != "content-length" {
            stored.push((name.clone(), value.clone()));
        }
    }
}
// ANCHOR_END: validation
