//! A real L7 load balancer on loopback: axum in front, reqwest behind, health checks on a timer.
//!
//! [`Backend::start`] serves a tiny HTTP service on 127.0.0.1 (`GET /work` answers with the
//! backend's name, `GET /health` with `ok`); [`Backend::kill`] drops its listener and its open
//! connections at once, like a crashed process. [`Balancer::start`] listens on 127.0.0.1 port 0
//! and forwards every request to a backend chosen by the same [`Picker`] the simulator uses
//! (power of two choices or least connections over the balancer's own in-flight counts). A
//! background task probes each backend's `/health` every `probe_interval` and feeds the result
//! to that backend's [`HealthCheck`] (eject after `k` failures in a row, re-admit after `m`
//! successes), so a dead backend leaves the rotation within about `k` intervals.
//!
//! Until then requests still reach the dead backend. They fail fast (connection refused), and a
//! fast failure makes the dead backend look *least* loaded, so once the others have requests in
//! flight, P2C and least connections send it more than its share: a black hole. With
//! `retry_idempotent`, a failed GET, HEAD, PUT, DELETE or OPTIONS is retried once on another
//! backend, which hides the detection window from clients; a POST is not retried, since the
//! first attempt may have had effects.
//!
//! What it simplifies: one connection per forwarded request (no pooling, so a killed backend's
//! connections cannot linger in a pool), bodies buffered in memory, headers not copied in either
//! direction (only the method, path, body and status pass through), no passive checks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::SeedableRng;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinSet;

use super::health::{Health, HealthCheck};
use super::picker::{Algorithm, Picker};
use crate::sim::SimRng;

/// A backend: an HTTP server on 127.0.0.1 that can be killed and restarted on the same port.
pub struct Backend {
    /// Its name, returned in every answer.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The accept loop and every connection; dropping the set aborts them all.
    tasks: Option<JoinSet<()>>,
}

impl Backend {
    /// Starts backend `name` on `addr` (port 0 for a fresh port).
    pub async fn start(name: &str, addr: SocketAddr) -> std::io::Result<Backend> {
        let socket = TcpSocket::new_v4()?;
        // Rebinding the port of a killed backend must not wait for TIME_WAIT to end.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(128)?;
        let addr = listener.local_addr()?;
        let body = name.to_string();
        let app = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/work", get(move || async move { body }));
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            // serve() runs connections on tasks of its own; aborting it stops accepting, and
            // without keep-alive (the balancer closes each connection) nothing else lingers.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Backend {
            name: name.to_string(),
            addr,
            tasks: Some(tasks),
        })
    }

    /// Kills the backend: its port refuses connections from now on.
    pub fn kill(&mut self) {
        self.tasks = None;
    }

    /// Whether it is serving.
    pub fn is_running(&self) -> bool {
        self.tasks.is_some()
    }
}

/// How the balancer behaves.
#[derive(Clone, Debug)]
pub struct BalancerConfig {
    /// `PowerOfTwoChoices` or `LeastConnections` (any [`Algorithm`] works).
    pub algorithm: Algorithm,
    pub probe_interval: Duration,
    /// A probe not answered within this fails.
    pub probe_timeout: Duration,
    /// Failed probes in a row that eject (`k`).
    pub eject_after: u32,
    /// Successful probes in a row that re-admit (`m`).
    pub readmit_after: u32,
    /// A forwarded request not answered within this fails.
    pub request_timeout: Duration,
    /// Retry a failed idempotent request once on another backend.
    pub retry_idempotent: bool,
    /// Seed of the balancer's random choices.
    pub seed: u64,
}

impl Default for BalancerConfig {
    fn default() -> Self {
        BalancerConfig {
            algorithm: Algorithm::PowerOfTwoChoices,
            probe_interval: Duration::from_millis(100),
            probe_timeout: Duration::from_millis(100),
            eject_after: 2,
            readmit_after: 2,
            request_timeout: Duration::from_secs(2),
            retry_idempotent: true,
            seed: 1,
        }
    }
}

/// What the balancer's tasks share.
struct Shared {
    config: BalancerConfig,
    backends: Vec<(String, SocketAddr)>,
    /// Requests in flight per backend.
    in_flight: Vec<AtomicU64>,
    picker: Mutex<Picker>,
    checks: Mutex<Vec<HealthCheck>>,
    rng: Mutex<SimRng>,
    client: reqwest::Client,
    /// Health transitions: (time, backend, new state).
    transitions: Mutex<Vec<(Instant, usize, Health)>>,
}

/// A running balancer.
pub struct Balancer {
    /// Where clients connect.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
}

impl Balancer {
    /// Starts a balancer on 127.0.0.1 port 0 in front of `backends` (name, address).
    pub async fn start(
        backends: Vec<(String, SocketAddr)>,
        config: BalancerConfig,
    ) -> Result<Balancer, String> {
        let n = backends.len();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(config.request_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let shared = Arc::new(Shared {
            picker: Mutex::new(Picker::new(config.algorithm, n)),
            checks: Mutex::new(vec![
                HealthCheck::new(
                    config.eject_after,
                    config.readmit_after
                );
                n
            ]),
            rng: Mutex::new(SimRng::seed_from_u64(config.seed)),
            in_flight: (0..n).map(|_| AtomicU64::new(0)).collect(),
            backends,
            client,
            transitions: Mutex::new(Vec::new()),
            config,
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        tasks.spawn(probe_loop(shared.clone()));
        Ok(Balancer {
            addr,
            shared,
            tasks,
        })
    }

    /// The health transitions so far, as (time, backend, new state).
    pub fn transitions(&self) -> Vec<(Instant, usize, Health)> {
        self.shared
            .transitions
            .lock()
            .expect("not poisoned")
            .clone()
    }

    /// Which backends are in rotation now.
    pub fn healthy(&self) -> Vec<bool> {
        let checks = self.shared.checks.lock().expect("not poisoned");
        checks.iter().map(HealthCheck::is_healthy).collect()
    }

    /// Stops the balancer and its health checks.
    pub fn stop(mut self) {
        self.tasks.abort_all();
    }
}

// ANCHOR: probe_loop
/// Probes every backend each interval and applies the verdicts.
async fn probe_loop(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(shared.config.probe_interval);
    loop {
        ticker.tick().await;
        let mut probes = JoinSet::new();
        for (i, (_, addr)) in shared.backends.iter().enumerate() {
            let request = shared
                .client
                .get(format!("http://{addr}/health"))
                .timeout(shared.config.probe_timeout);
            probes.spawn(async move {
                let ok = matches!(request.send().await, Ok(r) if r.status().is_success());
                (i, ok)
            });
        }
        let mut outcomes = vec![false; shared.backends.len()];
        while let Some(Ok((i, ok))) = probes.join_next().await {
            outcomes[i] = ok;
        }
        let mut checks = shared.checks.lock().expect("not poisoned");
        let mut changed = false;
        for (i, ok) in outcomes.into_iter().enumerate() {
            if let Some(state) = checks[i].observe(ok) {
                let mut log = shared.transitions.lock().expect("not poisoned");
                log.push((Instant::now(), i, state));
                changed = true;
            }
        }
        if changed {
            let healthy: Vec<bool> = checks.iter().map(HealthCheck::is_healthy).collect();
            shared
                .picker
                .lock()
                .expect("not poisoned")
                .set_healthy(&healthy);
        }
    }
}
// ANCHOR_END: probe_loop

/// Picks a backend, avoiding `avoid` if another one is in rotation.
fn pick(shared: &Shared, avoid: Option<usize>) -> Option<usize> {
    let mut loads: Vec<u64> = shared
        .in_flight
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    if let Some(a) = avoid {
        loads[a] = u64::MAX;
    }
    let mut picker = shared.picker.lock().expect("not poisoned");
    let mut rng = shared.rng.lock().expect("not poisoned");
    // A fresh flow key per request: hash-based algorithms then spread requests at random.
    let flow = rand::Rng::next_u64(&mut *rng);
    let first = picker.pick(&loads, flow, &mut *rng)?;
    // Release both before taking `checks`: the probe loop takes `checks`, then `picker`.
    drop((picker, rng));
    if Some(first) != avoid {
        return Some(first);
    }
    // P2C drew the avoided backend twice, or only it is in rotation: take another one that is
    // in rotation (never an ejected one), if there is any.
    let checks = shared.checks.lock().expect("not poisoned");
    (0..loads.len())
        .filter(|&i| Some(i) != avoid && checks[i].is_healthy())
        .min_by_key(|&i| loads[i])
}

// ANCHOR: forward
/// Forwards one request; retries an idempotent one once on another backend.
async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    let Ok(body) = axum::body::to_bytes(request.into_body(), 1 << 20).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB\n").into_response();
    };
    let idempotent = [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
    ]
    .contains(&method);
    let attempts = if shared.config.retry_idempotent && idempotent {
        2
    } else {
        1
    };
    let mut failed = None;
    for _ in 0..attempts {
        let Some(i) = pick(&shared, failed) else {
            if failed.is_some() {
                break; // the only backend in rotation just failed
            }
            return (StatusCode::SERVICE_UNAVAILABLE, "no backend in rotation\n").into_response();
        };
        if let Some(response) = try_backend(&shared, i, &method, &path, body.clone()).await {
            return response;
        }
        failed = Some(i);
    }
    (StatusCode::BAD_GATEWAY, "backend failed\n").into_response()
}
// ANCHOR_END: forward

/// Sends the request to backend `i`; `None` if the backend could not be reached or timed out.
async fn try_backend(
    shared: &Shared,
    i: usize,
    method: &Method,
    path: &str,
    body: Bytes,
) -> Option<Response> {
    let (name, addr) = &shared.backends[i];
    shared.in_flight[i].fetch_add(1, Ordering::Relaxed);
    let result = shared
        .client
        .request(method.clone(), format!("http://{addr}{path}"))
        .body(body)
        .send()
        .await;
    let answer = match result {
        Ok(r) => {
            let status = r.status();
            r.bytes().await.ok().map(|bytes| (status, bytes))
        }
        Err(_) => None,
    };
    shared.in_flight[i].fetch_sub(1, Ordering::Relaxed);
    let (status, bytes) = answer?;
    let mut response = (status, Body::from(bytes)).into_response();
    if let Ok(value) = HeaderValue::from_str(name) {
        response.headers_mut().insert("x-backend", value);
    }
    Some(response)
}
