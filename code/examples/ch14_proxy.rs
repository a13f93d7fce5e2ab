//! Chapter 14: a real origin and the caching reverse proxy in front of it, on loopback.
//!
//! Starts both on 127.0.0.1 (ports the kernel chooses, printed), with the machine's clock,
//! and serves until you press Enter or standard input ends. Every answer of the proxy carries
//! `Age` and `Cache-Status`; try the `curl -i` lines it prints twice and watch them change.
//!
//! Run: `cargo run --release -p uds --example ch14_proxy`
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use uds::scalability::http_caching::clock::{Clock, SystemClock};
use uds::scalability::http_caching::origin::{Origin, OriginConfig};
use uds::scalability::http_caching::policy::cache_control;
use uds::scalability::http_caching::proxy::Proxy;

/// The chapter 14 origin and caching proxy, on 127.0.0.1 until Enter or end of input.
#[derive(Parser, Debug)]
struct Args {
    /// The origin's `Cache-Control` for /objects/{id}.
    #[arg(long, default_value = "max-age=30, stale-if-error=300")]
    cache_control: String,
    /// The most responses the proxy keeps (least recently used evicted first).
    #[arg(long, default_value_t = 1000)]
    capacity: usize,
    /// Milliseconds the origin waits before answering (makes concurrent misses overlap).
    #[arg(long, default_value_t = 0)]
    origin_delay_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.capacity == 0 {
        eprintln!("error: --capacity must be at least 1");
        return ExitCode::FAILURE;
    }
    if args.origin_delay_ms > 60_000 {
        eprintln!("error: --origin-delay-ms must be at most 60000");
        return ExitCode::FAILURE;
    }
    if axum::http::HeaderValue::from_str(&args.cache_control).is_err() {
        eprintln!("error: --cache-control must be printable ASCII (a header field value)");
        return ExitCode::FAILURE;
    }
    let parsed = cache_control(&[("cache-control".into(), args.cache_control.clone())]);
    if parsed.invalid_freshness {
        eprintln!(
            "note: the proxy reads {:?} as invalid freshness: stale at once",
            args.cache_control
        );
    }
    let runtime = match uds::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let config = OriginConfig {
        cache_control: args.cache_control,
        delay_ms: args.origin_delay_ms,
        ..OriginConfig::default()
    };
    let origin = Origin::start(clock.clone(), config)
        .await
        .map_err(|e| format!("cannot start the origin on 127.0.0.1: {e}"))?;
    let proxy = Proxy::start(clock, &origin.url(), args.capacity)
        .await
        .map_err(|e| format!("cannot start the proxy on 127.0.0.1: {e}"))?;
    let url = proxy.url();
    println!("origin on {}", origin.url());
    println!("caching proxy on {url} (press Enter to stop)");
    println!("  curl -i {url}/objects/7");
    println!("  curl -i {url}/vary/1 -H 'Accept-Language: fr'");
    println!("  curl -i {url}/private/1 -H 'Authorization: Bearer alice'");
    println!("  curl -i -X POST {url}/objects/7");
    let stdin = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    });
    let _ = stdin.await;
    let stats = proxy.stats();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::SeqCst);
    println!(
        "stopping: {} requests, {} hits, {} sent to the origin",
        load(&stats.requests),
        load(&stats.hits),
        load(&stats.origin_requests)
    );
    proxy.stop().await.map_err(|e| e.to_string())?;
    origin.stop().await.map_err(|e| e.to_string())
}
