//! The proxy's side of the conversation with the origin: a `GET` that revalidates when it
//! can and updates the store, and the forwarding of other methods.
//!
//! Kept apart from [`super::proxy`], which decides *whether* to go to the origin; this file
//! decides what to send and what to do with the answer (RFC 9111 §4.3.1, §4.3.3, §4.3.4, §3,
//! §4.4, and RFC 5861 §4 when the origin fails).

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;

use super::freshness::{Staleness, may_serve_on_error};
use super::policy::{
    Headers, age, cache_control, freshen, may_serve_stale, not_modified_matches, storable,
    validation_headers, vary_key,
};
use super::proxy::{Answer, HOP_BY_HOP, Lookup, ProxyState, answer, bump, lock, lookup, plain};
use super::store::StoredResponse;

// ANCHOR: fetch
/// Asks the origin, conditionally if a stored copy has a validator, and updates the store.
pub(super) async fn fetch(
    state: &ProxyState,
    key: &str,
    request: &[(String, String)],
    reason: &str,
    collapsed: bool,
) -> Answer {
    let now = state.clock.now();
    let stale = match lookup(state, key, request, now) {
        Lookup::Found(stored, _, staleness) => Some((stored, staleness)),
        _ => None,
    };
    let mut out = reqwest::header::HeaderMap::new();
    let conditional = stale.as_ref().map(|(s, _)| validation_headers(&s.headers));
    let forwarded = request.iter().filter(|(n, _)| !skip_forward(n));
    for (name, value) in forwarded.chain(conditional.iter().flatten()) {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value),
        ) {
            out.append(n, v);
        }
    }
    bump(&state.stats.origin_requests);
    let request_time = state.clock.now();
    let url = format!("{}{key}", state.origin);
    let result = match state.client.get(&url).headers(out).send().await {
        Ok(r) => {
            let (status, headers) = (r.status().as_u16(), plain(r.headers()));
            r.bytes().await.map(|b| (status, headers, b.to_vec()))
        }
        Err(e) => Err(e),
    };
    let response_time = state.clock.now();
    let collapsed = if collapsed { "; collapsed" } else { "" };
    let failed = match &result {
        // RFC 5861 §4: an error is what would make the cache answer 500, 502, 503 or 504.
        Ok((status, ..)) => matches!(*status, 500 | 502..=504).then(|| status.to_string()),
        Err(_) => Some("none".to_string()),
    };
    if let (Some(fwd_status), Some((stored, staleness))) = (&failed, &stale) {
        let stale_for = match staleness {
            Staleness::Fresh { .. } => 0,
            Staleness::ServeWhileRevalidating { stale_for } | Staleness::Stale { stale_for } => {
                *stale_for
            }
        };
        let cc = cache_control(&stored.headers);
        if may_serve_stale(&cc) && may_serve_on_error(stale_for, cc.stale_if_error) {
            bump(&state.stats.stale_on_error);
            let current = age(
                &stored.headers,
                stored.request_time,
                stored.response_time,
                now,
            );
            let cs =
                format!("fwd=stale; fwd-status={fwd_status}; detail=stale-if-error{collapsed}");
            let s = stored.clone();
            return (s.status, s.headers, s.body, current, cs);
        }
    }
    let (status, headers, body) = match result {
        Ok(r) => r,
        Err(_) => {
            let cs = format!("fwd={reason}; detail=origin-unreachable{collapsed}");
            return (502, Headers::new(), b"origin unreachable\n".to_vec(), 0, cs);
        }
    };
    if status == 304 {
        // Counted once the store is updated, so that a test waiting on the count sees it.
        if let Some((mut stored, _)) =
            stale.filter(|(s, _)| not_modified_matches(&s.headers, &headers))
        {
            freshen(&mut stored.headers, &headers);
            stored.request_time = request_time;
            stored.response_time = response_time;
            let current = age(&stored.headers, request_time, response_time, response_time);
            lock(&state.store).insert(key, stored.clone());
            bump(&state.stats.not_modified);
            let cs = format!("fwd={reason}; fwd-status=304; stored{collapsed}");
            return (stored.status, stored.headers, stored.body, current, cs);
        }
        bump(&state.stats.not_modified);
    }
    let current = age(&headers, request_time, response_time, response_time);
    let mut cs = format!("fwd={reason}; fwd-status={status}");
    let vary = vary_key(&headers, request);
    if let (Ok(()), Some(vary)) = (storable("GET", request, status, &headers), vary) {
        let kept: Headers = headers
            .iter()
            .filter(|(n, _)| !HOP_BY_HOP.contains(&n.as_str()))
            .cloned()
            .collect();
        let stored = StoredResponse {
            status,
            headers: kept,
            body: body.clone(),
            vary,
            request_time,
            response_time,
        };
        lock(&state.store).insert(key, stored);
        cs.push_str("; stored");
    }
    cs.push_str(collapsed);
    (status, headers, body, current, cs)
}
// ANCHOR_END: fetch

/// Request header fields not forwarded: hop-by-hop, and the client's own conditionals (the
/// proxy validates for itself).
fn skip_forward(name: &str) -> bool {
    HOP_BY_HOP.contains(&name) || name == "if-none-match" || name == "if-modified-since"
}

/// Forwards a request with another method and, if the method is unsafe (RFC 9110 §9.2.1) and
/// the origin accepted it, invalidates the target's stored responses (RFC 9111 §4.4).
pub(super) async fn forward_unsafe(
    state: &ProxyState,
    method: Method,
    key: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut out = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        if !skip_forward(name.as_str()) {
            out.append(name.clone(), value.clone());
        }
    }
    bump(&state.stats.origin_requests);
    let safe = matches!(
        method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let url = format!("{}{key}", state.origin);
    let sent = state
        .client
        .request(method, &url)
        .headers(out)
        .body(body)
        .send()
        .await;
    let (status, headers, body) = match sent {
        Ok(r) => {
            let (status, headers) = (r.status().as_u16(), plain(r.headers()));
            match r.bytes().await {
                Ok(b) => (status, headers, b.to_vec()),
                Err(_) => (502, Headers::new(), b"origin unreachable\n".to_vec()),
            }
        }
        Err(_) => (502, Headers::new(), b"origin unreachable\n".to_vec()),
    };
    if !safe && (200..400).contains(&status) {
        lock(&state.store).remove(key);
    }
    answer(
        status,
        &headers,
        body,
        0,
        &format!("fwd=method; fwd-status={status}"),
    )
}
