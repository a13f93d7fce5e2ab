//! A bounded load generator for the notes service: concurrent reqwest clients on loopback,
//! latencies recorded in HdrHistograms.
//!
//! `workers` tasks share one counter of requests to send; each takes the next number, sends
//! the request, records how long the response took, and stops when the count or the time
//! budget is used up. One request in `post_every` is a `POST /notes` with a fresh key, the
//! rest are `GET /notes/{id}` of notes created beforehand. This is a *closed* loop: a worker
//! sends its next request only after the last one's response, so the offered load falls when
//! the server slows down, and the latencies it records are lower than an open-loop client
//! with a fixed arrival rate would see at the same throughput (the "coordinated omission" that
//! Gil Tene named). It measures what the service can do on one machine, not a production tail.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::types::NoteInput;

/// What to send.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent workers (each one connection, in a closed loop).
    pub workers: usize,
    /// Requests to send in all, at most.
    pub requests: u64,
    /// Stop sending new requests after this long.
    pub budget: Duration,
    /// One request in this many is a POST; the rest are GETs.
    pub post_every: u64,
    /// Notes created before the measurement, which the GETs read.
    pub seed_notes: u64,
}

/// Latencies of one kind of request, in microseconds.
#[derive(Clone, Debug)]
pub struct OpStats {
    /// Latencies of successful requests.
    pub latency_us: Histogram<u64>,
    /// Responses with an unexpected status, or transport errors.
    pub errors: u64,
}

/// What a load run measured.
#[derive(Clone, Debug)]
pub struct LoadReport {
    /// `GET /notes/{id}`.
    pub get: OpStats,
    /// `POST /notes`.
    pub post: OpStats,
    /// From the first request sent to the last response received.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Requests completed per second, both kinds together.
    pub fn requests_per_sec(&self) -> f64 {
        let n = self.get.latency_us.len() + self.post.latency_us.len();
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn stats() -> OpStats {
    OpStats {
        // 1 us to 60 s at three significant digits.
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        errors: 0,
    }
}

// ANCHOR: worker
/// One worker: takes request numbers from `next` until the count or the deadline is reached.
async fn worker(
    client: reqwest::Client,
    base: String,
    config: LoadConfig,
    next: Arc<AtomicU64>,
    deadline: Instant,
) -> (OpStats, OpStats) {
    let (mut get, mut post) = (stats(), stats());
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= config.requests || Instant::now() >= deadline {
            return (get, post);
        }
        let is_post = i.is_multiple_of(config.post_every);
        let started = Instant::now();
        let result = if is_post {
            let input = NoteInput {
                title: format!("load {i}"),
                body: String::new(),
            };
            let request = client.post(format!("{base}/notes"));
            let request = request.header("Idempotency-Key", format!("load-{i}"));
            request.json(&input).send().await
        } else {
            let id = 1 + i % config.seed_notes;
            client.get(format!("{base}/notes/{id}")).send().await
        };
        let ok = match result {
            // Read the whole body: the request is not over until it has arrived.
            Ok(response) => {
                let status = response.status();
                response.bytes().await.is_ok() && status.is_success()
            }
            Err(_) => false,
        };
        let micros = started.elapsed().as_micros();
        let stats = if is_post { &mut post } else { &mut get };
        if ok {
            let micros = u64::try_from(micros).unwrap_or(u64::MAX).max(1);
            stats.latency_us.saturating_record(micros);
        } else {
            stats.errors += 1;
        }
    }
}
// ANCHOR_END: worker

/// Creates `seed_notes` notes, then runs the workers against `base` (e.g. `http://127.0.0.1:80`).
pub async fn run_load(base: &str, config: &LoadConfig) -> Result<LoadReport, String> {
    if config.workers == 0 || config.post_every == 0 || config.seed_notes == 0 {
        return Err("workers, post_every and seed_notes must be positive".into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.workers)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    for n in 0..config.seed_notes {
        let input = NoteInput {
            title: format!("seed {n}"),
            body: "x".repeat(200),
        };
        let response = client
            .post(format!("{base}/notes"))
            .header("Idempotency-Key", format!("seed-{n}"))
            .json(&input)
            .send()
            .await
            .map_err(|e| format!("cannot reach {base}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("seeding note {n}: status {}", response.status()));
        }
    }
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + config.budget;
    let tasks: Vec<_> = (0..config.workers)
        .map(|_| {
            let args = (
                client.clone(),
                base.to_string(),
                config.clone(),
                next.clone(),
            );
            tokio::spawn(worker(args.0, args.1, args.2, args.3, deadline))
        })
        .collect();
    let (mut get, mut post) = (stats(), stats());
    for task in tasks {
        let (g, p) = task.await.map_err(|e| format!("a worker failed: {e}"))?;
        get.latency_us.add(&g.latency_us).expect("same bounds");
        post.latency_us.add(&p.latency_us).expect("same bounds");
        get.errors += g.errors;
        post.errors += p.errors;
    }
    Ok(LoadReport {
        get,
        post,
        elapsed: started.elapsed(),
    })
}
