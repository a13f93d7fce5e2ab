//! The hit-ratio experiment's workload: Zipf-distributed requests sent one at a time through
//! the real proxy to the real origin, with a manual clock advanced at a fixed request rate.
//!
//! Determinism: requests are sequential and both servers read the same [`ManualClock`], which
//! moves only between requests, so every age, hit and miss depends on the seed and the
//! parameters alone, not on the machine or the scheduler. That is what lets the chapter's
//! table be a freshness-checked output although it was measured through real sockets.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rand::distr::Distribution;

use super::clock::{Clock, EXPERIMENT_EPOCH, ManualClock};
use super::origin::{Origin, OriginConfig};
use super::proxy::Proxy;
use crate::sim::{Zipf, rng_stream};

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Distinct objects, `/objects/0` the most popular.
    pub objects: usize,
    /// The Zipf exponent of popularity.
    pub zipf: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests per simulated second (the clock advances 1 s every `rate` requests).
    pub rate: u64,
    /// The origin's `Cache-Control`.
    pub cache_control: String,
    /// The proxy's capacity, in responses.
    pub capacity: usize,
    /// The seed of the request sequence.
    pub seed: u64,
}

/// What one run measured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Requests the proxy answered from its store.
    pub hits: u64,
    /// Requests the proxy sent to the origin.
    pub origin_requests: u64,
    /// Of those, answered `304 Not Modified`.
    pub not_modified: u64,
    /// Body bytes the origin sent.
    pub origin_bytes: u64,
    /// Responses evicted by the LRU store.
    pub evictions: u64,
}

// ANCHOR: run
/// Runs the workload through a fresh origin and proxy on loopback.
pub async fn run(w: &Workload) -> Result<Outcome, String> {
    let zipf = Zipf::new(w.objects, w.zipf).ok_or("objects must be positive, zipf >= 0")?;
    let clock = ManualClock::at(EXPERIMENT_EPOCH);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let config = OriginConfig {
        cache_control: w.cache_control.clone(),
        ..OriginConfig::default()
    };
    let origin = Origin::start(shared.clone(), config)
        .await
        .map_err(|e| e.to_string())?;
    let proxy = Proxy::start(shared, &origin.url(), w.capacity)
        .await
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut rng = rng_stream(w.seed, 14);
    for i in 0..w.requests {
        if i > 0 && i % w.rate.max(1) == 0 {
            clock.advance(1);
        }
        let url = format!("{}/objects/{}", proxy.url(), zipf.sample(&mut rng));
        let response = client.get(&url).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        response.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("{url} answered {status}"));
        }
    }
    let (p, o) = (proxy.stats(), origin.stats());
    let outcome = Outcome {
        hits: p.hits.load(Ordering::SeqCst),
        origin_requests: p.origin_requests.load(Ordering::SeqCst),
        not_modified: o.not_modified.load(Ordering::SeqCst),
        origin_bytes: o.body_bytes.load(Ordering::SeqCst),
        evictions: proxy.evictions(),
    };
    proxy.stop().await.map_err(|e| e.to_string())?;
    origin.stop().await.map_err(|e| e.to_string())?;
    Ok(outcome)
}
// ANCHOR_END: run
