//! The origin server behind the proxy: a real axum server whose answers carry the header
//! fields a cache acts on, and which counts what it had to do.
//!
//! Routes (all `GET` unless said otherwise):
//!
//! | path              | answers                                                          |
//! |-------------------|------------------------------------------------------------------|
//! | `/objects/{id}`   | a body of [`OBJECT_BYTES`] bytes, the configured `Cache-Control`, |
//! |                   | a strong `ETag` and `Last-Modified`; `304` to a matching          |
//! |                   | `If-None-Match` (RFC 9110 §13.1.2); `POST` changes the object     |
//! | `/private/{id}`   | `private, max-age=600`, a body naming the caller's `Authorization`|
//! | `/auth/{id}`      | `max-age=600` (no `public`), a body naming the `Authorization`   |
//! | `/vary/{id}`      | `Vary: Accept-Language`, a body in the requested language        |
//! | `/raw?cc=VALUE`   | `Cache-Control: VALUE` verbatim, for malformed-header tests      |
//!
//! Its `Date` comes from the [`Clock`] it is given, like the proxy's, so an experiment that
//! drives a [`super::clock::ManualClock`] controls every time either side sees. It can be
//! told to answer slowly (to make concurrent misses overlap) or to fail with 503 (to exercise
//! `stale-if-error`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::clock::Clock;
use super::policy::fmt_http_date;
use super::serve::Listening;

/// The size of an object's body, in bytes.
pub const OBJECT_BYTES: usize = 2048;

/// What the origin answers with; changeable while it runs.
#[derive(Clone, Debug)]
pub struct OriginConfig {
    /// The `Cache-Control` of `/objects/{id}`.
    pub cache_control: String,
    /// Wait this long (real time) before answering, to make concurrent requests overlap.
    pub delay_ms: u64,
    /// Answer every request with 503.
    pub failing: bool,
}

impl Default for OriginConfig {
    fn default() -> OriginConfig {
        OriginConfig {
            cache_control: "max-age=60".to_string(),
            delay_ms: 0,
            failing: false,
        }
    }
}

/// What the origin did, counted since it started.
#[derive(Debug, Default)]
pub struct OriginStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Answers with a body (status 200).
    pub full: AtomicU64,
    /// `304 Not Modified` answers.
    pub not_modified: AtomicU64,
    /// Body bytes sent.
    pub body_bytes: AtomicU64,
}

struct OriginState {
    clock: Arc<dyn Clock>,
    config: Mutex<OriginConfig>,
    /// Version of each object that a POST changed (absent: version 0).
    versions: Mutex<std::collections::BTreeMap<u64, u64>>,
    stats: OriginStats,
    started: u64,
}

/// A running origin on 127.0.0.1.
pub struct Origin {
    state: Arc<OriginState>,
    listening: Listening,
}

impl Origin {
    /// Starts the origin on 127.0.0.1 port 0, reading time from `clock`.
    pub async fn start(clock: Arc<dyn Clock>, config: OriginConfig) -> std::io::Result<Origin> {
        let started = clock.now();
        let state = Arc::new(OriginState {
            clock,
            config: Mutex::new(config),
            versions: Mutex::default(),
            stats: OriginStats::default(),
            started,
        });
        let app = Router::new()
            .route("/objects/{id}", get(object).post(change_object))
            .route("/private/{id}", get(private))
            .route("/auth/{id}", get(auth))
            .route("/vary/{id}", get(vary))
            .route("/raw", get(raw))
            .with_state(state.clone());
        let listening = Listening::start(app).await?;
        Ok(Origin { state, listening })
    }

    /// The base URL.
    pub fn url(&self) -> String {
        self.listening.url()
    }

    /// What the origin has done so far.
    pub fn stats(&self) -> &OriginStats {
        &self.state.stats
    }

    /// Changes what the origin answers with.
    pub fn configure(&self, change: impl FnOnce(&mut OriginConfig)) {
        change(&mut lock(&self.state.config));
    }

    /// Stops the origin.
    pub async fn stop(self) -> std::io::Result<()> {
        self.listening.stop().await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update is one assignment, so a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts the request, waits the configured delay, and says whether to fail.
async fn begin(state: &OriginState) -> Option<Response> {
    state.stats.requests.fetch_add(1, Ordering::SeqCst);
    let (delay, failing) = {
        let c = lock(&state.config);
        (c.delay_ms, c.failing)
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    failing.then(|| (StatusCode::SERVICE_UNAVAILABLE, "origin failing\n").into_response())
}

/// A 200 with `body`, `Date` from the clock, and the given extra header fields.
fn full(state: &OriginState, body: Vec<u8>, extra: &[(HeaderName, String)]) -> Response {
    state.stats.full.fetch_add(1, Ordering::SeqCst);
    let bytes = body.len() as u64;
    state.stats.body_bytes.fetch_add(bytes, Ordering::SeqCst);
    let mut response = (StatusCode::OK, body).into_response();
    set(
        &mut response,
        header::DATE,
        &fmt_http_date(state.clock.now()),
    );
    for (name, value) in extra {
        set(&mut response, name.clone(), value);
    }
    response
}

/// Sets a header field; a value that is not a valid header value is answered with 400 by
/// the caller before it gets here (only `/raw` takes values from outside).
fn set(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

// ANCHOR: object
async fn object(
    State(state): State<Arc<OriginState>>,
    Path(id): Path<u64>,
    headers: HeaderMap,
) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    let version = lock(&state.versions).get(&id).copied().unwrap_or(0);
    let etag = format!("\"{id}-v{version}\"");
    let cache_control = lock(&state.config).cache_control.clone();
    let if_none_match = headers.get(header::IF_NONE_MATCH).map(|v| v.as_bytes());
    if if_none_match == Some(etag.as_bytes()) {
        // RFC 9110 §15.4.5: a 304 carries the fields a 200 would (Cache-Control, ETag,
        // Date), so the cache can freshen its copy, and no body.
        state.stats.not_modified.fetch_add(1, Ordering::SeqCst);
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        set(
            &mut response,
            header::DATE,
            &fmt_http_date(state.clock.now()),
        );
        set(&mut response, header::ETAG, &etag);
        set(&mut response, header::CACHE_CONTROL, &cache_control);
        return response;
    }
    let fill = b'a' + (id % 26) as u8;
    let mut body = format!("object {id} version {version}\n").into_bytes();
    body.resize(OBJECT_BYTES, fill);
    let last_modified = fmt_http_date(state.started);
    let extra = [
        (header::CACHE_CONTROL, cache_control),
        (header::ETAG, etag),
        (header::LAST_MODIFIED, last_modified),
    ];
    full(&state, body, &extra)
}
// ANCHOR_END: object

async fn change_object(State(state): State<Arc<OriginState>>, Path(id): Path<u64>) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    *lock(&state.versions).entry(id).or_insert(0) += 1;
    StatusCode::NO_CONTENT.into_response()
}

fn caller(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous")
        .to_string()
}

async fn private(State(state): State<Arc<OriginState>>, headers: HeaderMap) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    let body = format!("account page of {}\n", caller(&headers)).into_bytes();
    full(
        &state,
        body,
        &[(header::CACHE_CONTROL, "private, max-age=600".into())],
    )
}

async fn auth(State(state): State<Arc<OriginState>>, headers: HeaderMap) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    let body = format!("report for {}\n", caller(&headers)).into_bytes();
    full(
        &state,
        body,
        &[(header::CACHE_CONTROL, "max-age=600".into())],
    )
}

async fn vary(State(state): State<Arc<OriginState>>, headers: HeaderMap) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    let language = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("en");
    let greeting = if language.starts_with("fr") {
        "bonjour"
    } else {
        "hello"
    };
    let extra = [
        (header::CACHE_CONTROL, "max-age=600".to_string()),
        (header::VARY, "Accept-Language".to_string()),
    ];
    full(&state, format!("{greeting}\n").into_bytes(), &extra)
}

#[derive(serde::Deserialize)]
struct RawQuery {
    cc: String,
}

async fn raw(State(state): State<Arc<OriginState>>, Query(q): Query<RawQuery>) -> Response {
    if let Some(failed) = begin(&state).await {
        return failed;
    }
    if HeaderValue::from_str(&q.cc).is_err() {
        let text = "cc is not a valid header value\n";
        return (StatusCode::BAD_REQUEST, text).into_response();
    }
    full(&state, b"raw\n".to_vec(), &[(header::CACHE_CONTROL, q.cc)])
}
