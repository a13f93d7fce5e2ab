//! Chapter 1, for real: the tour's server and clients over TCP on loopback.
//!
//! The state machines are the ones the simulator runs (`uds::intro::tour`); only the driver
//! differs. Latencies here are whatever your machine's loopback and scheduler give, so they
//! change from run to run: that is the difference between an experiment and a measurement.
//!
//! Run: `cargo run --release -p uds --example ch01_tcp -- --clients 4 --requests 200`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::driver::tcp::Cluster;
use uds::intro::tour::{self, TourConfig};

#[derive(Parser)]
#[command(about = "Run the chapter 1 client/server over real TCP on 127.0.0.1")]
struct Args {
    /// How many clients.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    clients: u16,
    /// Requests per client.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    requests: u32,
    /// Seed for the clients' think times.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = TourConfig {
        clients: usize::from(args.clients),
        requests_per_client: args.requests,
        think_time: Duration::from_millis(2),
        ..TourConfig::default()
    };
    let total = tour::total_requests(&config);
    let cluster = match Cluster::start(tour::nodes(&config), args.seed).await {
        Ok(cluster) => cluster,
        Err(e) => {
            eprintln!("cannot start the cluster on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("server listening on {}", cluster.addr(tour::SERVER));
    let finished = |m: &uds::sim::Metrics| m.counter("completed") + m.counter("failed") == total;
    let done = cluster.wait_until(finished, Duration::from_secs(60)).await;
    let metrics = cluster.metrics();
    cluster.shutdown();
    if !done {
        eprintln!("not all {total} requests finished within 60 s");
        return ExitCode::FAILURE;
    }
    let latency = metrics.histogram("latency_ms").cloned();
    let mut latency = latency.unwrap_or_default();
    let mut pct = |p: f64| latency.percentile(p).unwrap_or(f64::NAN);
    println!(
        "completed {}, failed {}, retries {}",
        metrics.counter("completed"),
        metrics.counter("failed"),
        metrics.counter("retries")
    );
    println!(
        "loopback latency ms: p50 {:.3}, p99 {:.3}, max {:.3}",
        pct(50.0),
        pct(99.0),
        pct(100.0)
    );
    ExitCode::SUCCESS
}
