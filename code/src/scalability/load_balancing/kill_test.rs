//! A bounded loopback load test that kills a backend behind the real balancer.
//!
//! Three backends and one [`Balancer`] on 127.0.0.1; `workers` clients each send `GET /work`
//! through the balancer on a fixed schedule (one request every `gap`), so the run has a fixed
//! number of requests and lasts `requests_per_worker * gap`. At `kill_at` backend 0 is killed;
//! at `restart_at` it starts again on the same port. Every request's outcome is recorded with
//! its send time, then grouped in time slices: what the chapter's table shows and what
//! `tests/part3/ch18_load_balancing.rs` asserts (errors only between the kill and the ejection,
//! none with retries). Timings depend on the machine, so the table lives in
//! `code/outputs/measured/`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::health::Health;
use super::real::{Backend, Balancer, BalancerConfig};

/// The load test's parameters.
#[derive(Clone, Debug)]
pub struct KillTestConfig {
    pub backends: usize,
    pub workers: usize,
    pub requests_per_worker: u64,
    /// Time between one worker's requests.
    pub gap: Duration,
    pub kill_at: Duration,
    pub restart_at: Duration,
    pub balancer: BalancerConfig,
}

impl Default for KillTestConfig {
    /// Three backends, four workers at 100 requests per second each for 2 s; backend 0 dies at
    /// 0.5 s and comes back at 1.2 s; probes every 100 ms, eject after 2, re-admit after 2.
    fn default() -> Self {
        KillTestConfig {
            backends: 3,
            workers: 4,
            requests_per_worker: 200,
            gap: Duration::from_millis(10),
            kill_at: Duration::from_millis(500),
            restart_at: Duration::from_millis(1_200),
            balancer: BalancerConfig::default(),
        }
    }
}

/// One request's outcome.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// When it was sent, since the start of the run.
    pub sent: Duration,
    /// Whether the client got a 200.
    pub ok: bool,
    /// The backend that answered (from the `x-backend` header), if any.
    pub backend: Option<String>,
}

/// What a run observed.
#[derive(Clone, Debug)]
pub struct KillTestReport {
    pub outcomes: Vec<Outcome>,
    /// Health transitions, since the start: (time, backend, new state).
    pub transitions: Vec<(Duration, usize, Health)>,
    pub kill_at: Duration,
    pub restart_at: Duration,
}

impl KillTestReport {
    /// When backend 0 was first ejected after the kill, if it was.
    pub fn ejected_at(&self) -> Option<Duration> {
        self.transitions
            .iter()
            .find(|&&(t, b, h)| b == 0 && h == Health::Ejected && t >= self.kill_at)
            .map(|&(t, _, _)| t)
    }

    /// When backend 0 was re-admitted after its restart, if it was.
    pub fn readmitted_at(&self) -> Option<Duration> {
        self.transitions
            .iter()
            .find(|&&(t, b, h)| b == 0 && h == Health::Healthy && t >= self.restart_at)
            .map(|&(t, _, _)| t)
    }

    /// Failed requests.
    pub fn errors(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.ok).count()
    }

    /// Per slice of `slice`: (slice start, requests sent, errors, answered by backend 0).
    pub fn slices(&self, slice: Duration) -> Vec<(Duration, usize, usize, usize)> {
        let end = self
            .outcomes
            .iter()
            .map(|o| o.sent)
            .max()
            .unwrap_or_default();
        let count = (end.as_nanos() / slice.as_nanos()) as usize + 1;
        let mut rows: Vec<_> = (0..count).map(|i| (slice * i as u32, 0, 0, 0)).collect();
        for o in &self.outcomes {
            let row = &mut rows[(o.sent.as_nanos() / slice.as_nanos()) as usize];
            row.1 += 1;
            row.2 += usize::from(!o.ok);
            row.3 += usize::from(o.backend.as_deref() == Some("backend-0"));
        }
        rows
    }
}

/// Runs the load test; an error says what could not start.
pub async fn run(config: &KillTestConfig) -> Result<KillTestReport, String> {
    let mut backends = Vec::new();
    for i in 0..config.backends {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let backend = Backend::start(&format!("backend-{i}"), any_port)
            .await
            .map_err(|e| format!("cannot start backend {i} on 127.0.0.1: {e}"))?;
        backends.push(backend);
    }
    let targets = backends.iter().map(|b| (b.name.clone(), b.addr)).collect();
    let balancer = Balancer::start(targets, config.balancer.clone()).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let url = format!("http://{}/work", balancer.addr);
    let start = tokio::time::Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..config.workers {
        let (client, url, config) = (client.clone(), url.clone(), config.clone());
        workers.spawn(async move {
            let mut outcomes = Vec::new();
            for k in 0..config.requests_per_worker {
                tokio::time::sleep_until(start + config.gap * k as u32).await;
                let sent = start.elapsed();
                let (ok, backend) = match client.get(&url).send().await {
                    Ok(r) => {
                        let backend = r.headers().get("x-backend").and_then(|v| v.to_str().ok());
                        (r.status().is_success(), backend.map(str::to_string))
                    }
                    Err(_) => (false, None),
                };
                outcomes.push(Outcome { sent, ok, backend });
            }
            outcomes
        });
    }
    tokio::time::sleep_until(start + config.kill_at).await;
    backends[0].kill();
    tokio::time::sleep_until(start + config.restart_at).await;
    let addr = backends[0].addr;
    backends[0] = Backend::start("backend-0", addr)
        .await
        .map_err(|e| format!("cannot restart backend 0 on {addr}: {e}"))?;
    let mut outcomes = Vec::new();
    while let Some(done) = workers.join_next().await {
        outcomes.extend(done.map_err(|e| format!("a worker failed: {e}"))?);
    }
    outcomes.sort_by_key(|o| o.sent);
    let start_std: Instant = start.into_std();
    let transitions = balancer
        .transitions()
        .into_iter()
        .map(|(t, b, h)| (t.saturating_duration_since(start_std), b, h))
        .collect();
    balancer.stop();
    Ok(KillTestReport {
        outcomes,
        transitions,
        kill_at: config.kill_at,
        restart_at: config.restart_at,
    })
}
