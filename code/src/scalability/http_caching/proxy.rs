//! A caching reverse proxy: a real HTTP server (axum) that answers from its store when RFC 9111
//! allows and forwards to the origin (reqwest) when it does not.
//!
//! For a `GET`, in order (the chapter draws this flow):
//!
//! 1. Look the target up in the [`LruStore`], choosing among stored responses by `Vary`
//!    (§4.1). If one is fresh ([`staleness`], §4.2), answer with it: a **hit**. If it is stale
//!    but within `stale-while-revalidate`, answer with it too and revalidate in the
//!    background (RFC 5861 §3).
//! 2. Otherwise take the key's *flight* lock (a `tokio` mutex per key). Only the holder goes
//!    to the origin; concurrent misses on the same key wait, then find the response the
//!    holder stored. N cold requests cost the origin one request (request coalescing, "single
//!    flight"). A waiter whose response could not be stored goes to the origin itself.
//! 3. Forward, with `If-None-Match` / `If-Modified-Since` when a stale copy has a validator
//!    (§4.3.1). A `304` freshens the stored copy (§4.3.4); a `200` replaces it if
//!    [`storable`] (§3); a failure is hidden by a stale copy if `stale-if-error` allows
//!    (RFC 5861 §4).
//!
//! Every answer carries `Age` (§5.1) and `Cache-Status` (RFC 9211 §2): `hit`, or
//! `fwd=uri-miss|vary-miss|stale|request|method` with `fwd-status`, `stored`, `collapsed`
//! and `ttl` where they apply. Other methods are forwarded and invalidate the target (§4.4).
//!
//! Time comes from a [`Clock`], so a run with a [`super::clock::ManualClock`] is repeatable.
//! Simplifications: bodies are buffered whole (objects are small); the client's own
//! conditional header fields are not forwarded (the proxy validates for itself and answers
//! 200); stored responses are chosen by `Vary` but not by content negotiation beyond it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::cache_control::CacheControl;
use super::clock::Clock;
use super::forward::{fetch, forward_unsafe};
use super::freshness::{Staleness, staleness};
use super::policy::{Headers, age, cache_control, lifetime, may_serve_stale, values, vary_matches};
use super::serve::Listening;
use super::store::{LruStore, StoredResponse};

/// The name this cache gives itself in `Cache-Status`.
pub const CACHE_NAME: &str = "uds";

/// Hop-by-hop header fields, never forwarded nor stored (RFC 9110 §7.6.1), plus the framing
/// fields the server recomputes.
pub(super) const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// What the proxy did, counted since it started.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Answered from the store without contacting the origin.
    pub hits: AtomicU64,
    /// Requests sent to the origin.
    pub origin_requests: AtomicU64,
    /// `304 Not Modified` received from the origin.
    pub not_modified: AtomicU64,
    /// Requests that waited for another's fetch of the same key.
    pub collapsed: AtomicU64,
    /// Stale copies served because the origin failed (`stale-if-error`).
    pub stale_on_error: AtomicU64,
}

pub(super) struct ProxyState {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) client: reqwest::Client,
    pub(super) origin: String,
    pub(super) store: Mutex<LruStore>,
    flights: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(super) stats: ProxyStats,
}

/// A running proxy on 127.0.0.1.
pub struct Proxy {
    state: Arc<ProxyState>,
    listening: Listening,
}

impl Proxy {
    /// Starts a proxy for `origin` (a base URL) keeping at most `capacity` responses.
    pub async fn start(
        clock: Arc<dyn Clock>,
        origin: &str,
        capacity: usize,
    ) -> std::io::Result<Proxy> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let state = Arc::new(ProxyState {
            clock,
            client,
            origin: origin.trim_end_matches('/').to_string(),
            store: Mutex::new(LruStore::new(capacity)),
            flights: Mutex::default(),
            stats: ProxyStats::default(),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listening = Listening::start(app).await?;
        Ok(Proxy { state, listening })
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.listening.url()
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.state.stats
    }

    /// Responses evicted from the store so far.
    pub fn evictions(&self) -> u64 {
        lock(&self.state.store).evictions
    }

    /// Stops the proxy.
    pub async fn stop(self) -> std::io::Result<()> {
        self.listening.stop().await
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each critical section is a single store operation that leaves it consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn plain(headers: &HeaderMap) -> Headers {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), text(v)))
        .collect()
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::SeqCst);
}

/// Builds the answer: status, stored header fields, body, `Age` and `Cache-Status`.
pub(super) fn answer(
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
    age: u64,
    cs: &str,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    for (name, value) in headers {
        if HOP_BY_HOP.contains(&name.as_str()) || name == "age" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value),
        ) {
            out.append(n, v);
        }
    }
    if let Ok(v) = HeaderValue::try_from(age.to_string()) {
        out.insert("age", v);
    }
    if let Ok(v) = HeaderValue::try_from(format!("{CACHE_NAME}; {cs}")) {
        out.insert("cache-status", v);
    }
    response
}

/// A stored response for this request, with its staleness at `now`; or why there is none.
pub(super) enum Lookup {
    /// Nothing stored for the URL.
    UriMiss,
    /// Responses stored for the URL, none for these request header values (§4.1).
    VaryMiss,
    /// The stored response, its current age and its staleness.
    Found(StoredResponse, u64, Staleness),
}

pub(super) fn lookup(
    state: &ProxyState,
    key: &str,
    request: &[(String, String)],
    now: u64,
) -> Lookup {
    let mut store = lock(&state.store);
    let Some(responses) = store.get(key) else {
        return Lookup::UriMiss;
    };
    let Some(stored) = responses.iter().find(|r| vary_matches(&r.vary, request)) else {
        return Lookup::VaryMiss;
    };
    let life = lifetime(stored.status, &stored.headers, stored.response_time);
    let current = age(
        &stored.headers,
        stored.request_time,
        stored.response_time,
        now,
    );
    let cc = cache_control(&stored.headers);
    // no-cache, must-revalidate, proxy-revalidate and s-maxage forbid serving stale (§4.2.4).
    let swr = may_serve_stale(&cc)
        .then_some(cc.stale_while_revalidate)
        .flatten();
    Lookup::Found(stored.clone(), current, staleness(life, current, swr))
}

// ANCHOR: handle
async fn handle(
    State(state): State<Arc<ProxyState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bump(&state.stats.requests);
    let key = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    if method != Method::GET {
        return forward_unsafe(&state, method, &key, &headers, body).await;
    }
    let request = plain(&headers);
    let req_cc = CacheControl::parse(values(&request, "cache-control"));
    let must_ask = req_cc.no_store || req_cc.no_cache || req_cc.max_age == Some(0);
    let now = state.clock.now();
    let found = lookup(&state, &key, &request, now);
    if !must_ask && let Lookup::Found(stored, current, stale) = &found {
        match stale {
            Staleness::Fresh { ttl } => {
                bump(&state.stats.hits);
                let cs = format!("hit; ttl={ttl}");
                return answer(
                    stored.status,
                    &stored.headers,
                    stored.body.clone(),
                    *current,
                    &cs,
                );
            }
            Staleness::ServeWhileRevalidating { stale_for } => {
                bump(&state.stats.hits);
                let (bg, bg_key) = (state.clone(), key.clone());
                tokio::spawn(
                    async move { coalesced(&bg, &bg_key, &request, "stale", false).await },
                );
                let cs = format!("hit; ttl=-{stale_for}; detail=stale-while-revalidate");
                return answer(
                    stored.status,
                    &stored.headers,
                    stored.body.clone(),
                    *current,
                    &cs,
                );
            }
            Staleness::Stale { .. } => {}
        }
    }
    // RFC 9211 §2.2: `request` only when a fresh stored response was refused by the request.
    let reason = match &found {
        Lookup::UriMiss => "uri-miss",
        Lookup::VaryMiss => "vary-miss",
        Lookup::Found(_, _, Staleness::Fresh { .. }) if must_ask => "request",
        Lookup::Found(..) => "stale",
    };
    let (status, stored_headers, body, age, cs) =
        coalesced(&state, &key, &request, reason, must_ask).await;
    answer(status, &stored_headers, body, age, &cs)
}
// ANCHOR_END: handle

/// What goes back to the client: status, header fields, body, `Age`, `Cache-Status` params.
pub(super) type Answer = (u16, Headers, Vec<u8>, u64, String);

// ANCHOR: coalesce
/// Goes to the origin for `key` unless another request already is: then waits for it and
/// answers from what it stored (request coalescing).
async fn coalesced(
    state: &Arc<ProxyState>,
    key: &str,
    request: &[(String, String)],
    reason: &str,
    must_ask: bool,
) -> Answer {
    let flight = lock(&state.flights)
        .entry(key.to_string())
        .or_default()
        .clone();
    let (guard, collapsed) = match flight.clone().try_lock_owned() {
        Ok(guard) => (guard, false),
        Err(_) => (flight.clone().lock_owned().await, true),
    };
    let mut answer = None;
    if collapsed {
        bump(&state.stats.collapsed);
        let now = state.clock.now();
        if let (false, Lookup::Found(s, age, Staleness::Fresh { .. })) =
            (must_ask, lookup(state, key, request, now))
        {
            answer = Some((
                s.status,
                s.headers,
                s.body,
                age,
                format!("fwd={reason}; collapsed"),
            ));
        }
    }
    let answer = match answer {
        Some(a) => a,
        None => fetch(state, key, request, reason, collapsed).await,
    };
    drop(guard);
    let mut flights = lock(&state.flights);
    if Arc::strong_count(&flight) == 2 {
        flights.remove(key); // only the map and this request hold it: nobody is waiting
    }
    answer
}
// ANCHOR_END: coalesce
