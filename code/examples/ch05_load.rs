//! Chapter 5 measurement: a bounded load test of the notes service over loopback.
//!
//! Starts the server in this process, sends at most `--requests` requests or for at most
//! `--seconds`, whichever ends first, from `--workers` concurrent clients in a closed loop, and
//! reports requests per second and latency percentiles (HdrHistogram). The numbers belong to
//! the machine that ran it; with `--write ROOT` they go to
//! `ROOT/code/outputs/measured/ch05_load.txt`, with this command at the top.
//!
//! Run: `cargo run --release -p uds --example ch05_load -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::communication::apis::load::{LoadConfig, LoadReport, OpStats, run_load};
use uds::communication::apis::server::Server;
use uds::experiment::{ExperimentArgs, Table};

/// Load test of the notes service on loopback.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    workers: usize,
    /// Requests to send, at most.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Seconds to send for, at most.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// One request in this many is a POST (the others are GETs).
    #[arg(long, default_value_t = 10)]
    post_every: u64,
    /// Tokio worker threads shared by the server and the clients.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.workers == 0 || args.requests == 0 || args.seconds == 0 || args.post_every == 0 {
        eprintln!("error: --workers, --requests, --seconds and --post-every must be positive");
        return ExitCode::FAILURE;
    }
    if args.threads == 0 || args.seconds > 600 {
        eprintln!("error: --threads must be positive and --seconds at most 600");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = LoadConfig {
        workers: args.workers,
        requests: args.requests,
        budget: Duration::from_secs(args.seconds),
        post_every: args.post_every,
        seed_notes: 100,
    };
    let report = runtime.block_on(async {
        let server = Server::start()
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let report = run_load(&server.url(), &config).await;
        server.stop().await.map_err(|e| e.to_string())?;
        report
    });
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = render(&args, &report);
    print!("{text}");
    match args
        .common
        .emit("code/outputs/measured/ch05_load.txt", &text)
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn row(table: &mut Table, name: &str, stats: &OpStats, elapsed: Duration) {
    let h = &stats.latency_us;
    let rate = h.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    table.row(vec![
        name.to_string(),
        h.len().to_string(),
        stats.errors.to_string(),
        format!("{rate:.0}"),
        h.value_at_quantile(0.5).to_string(),
        h.value_at_quantile(0.99).to_string(),
        h.max().to_string(),
    ]);
}

fn render(args: &Args, report: &LoadReport) -> String {
    let mut table = Table::new(&[
        "request",
        "completed",
        "errors",
        "req/s",
        "p50 (us)",
        "p99 (us)",
        "max (us)",
    ]);
    row(&mut table, "GET /notes/{id}", &report.get, report.elapsed);
    row(&mut table, "POST /notes", &report.post, report.elapsed);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "# Regenerate: cargo run --release -p uds --example ch05_load -- --write .\n\
         # Measured on the machine that wrote this file ({cores} cores visible); client and\n\
         # server share it and one tokio runtime of {} threads, over loopback.\n\
         {} closed-loop clients, at most {} requests or {} s; one request in {} is a POST.\n\
         All requests: {:.0} per second over {:.2} s.\n\n{}",
        args.threads,
        args.workers,
        args.requests,
        args.seconds,
        args.post_every,
        report.requests_per_sec(),
        report.elapsed.as_secs_f64(),
        table.render()
    )
}
