//! Chapter 1's experiment: how the latency of a request changes as the network stops being
//! the ideal one of the fallacies. Same clients, same server, same seed; one knob per row.
//!
//! outputs: code/outputs/ch01_latency.txt src/figures/ch01_latency.svg
//!
//! Run: `cargo run --release -p uds --example ch01_latency -- --seed 1`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::intro::tour::{self, TourConfig};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::Fnv64;

#[derive(Parser)]
#[command(about = "Request latency as the network's latency, loss and bandwidth change")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Requests each of the four clients makes per configuration.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    requests: u32,
}

// ANCHOR: configs
/// The configurations compared: the calm network, then one knob turned at a time.
fn configs(requests: u32) -> Vec<(&'static str, TourConfig)> {
    let calm = TourConfig {
        requests_per_client: requests,
        ..TourConfig::default()
    };
    vec![
        ("calm: 5 ms, no loss", calm.clone()),
        (
            "latency 20 ms",
            TourConfig {
                latency: Duration::from_millis(20),
                ..calm.clone()
            },
        ),
        (
            "loss 2%",
            TourConfig {
                loss: 0.02,
                ..calm.clone()
            },
        ),
        (
            "10 Mbit/s, 50 kB replies",
            TourConfig {
                bandwidth: Some(1_250_000),
                reply_bytes: 50_000,
                ..calm.clone()
            },
        ),
        (
            "half the clients on a poor link",
            TourConfig {
                slow_clients: 0.5,
                ..calm
            },
        ),
    ]
}
// ANCHOR_END: configs

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.common.seed;
    let mut table = Table::new(&[
        "network", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "retries", "failed",
    ]);
    let mut chart = Chart::new(
        &format!(
            "Request latency, 4 clients x {} requests (seed {seed})",
            args.requests
        ),
        "request latency (ms, log scale)",
        "fraction of requests answered within",
    );
    chart.log_x = true;
    chart.y_range = Some((0.0, 1.0));
    chart.legend = SeriesLabelPosition::LowerRight;
    // One fingerprint over every run: the same seed must give the same hash on every machine.
    let mut runs_hash = Fnv64::default();
    for (name, config) in configs(args.requests) {
        let (report, mut latency) = match tour::run(&config, seed) {
            Ok(result) => result,
            Err(e) => {
                eprintln!("{name}: {e}");
                return ExitCode::FAILURE;
            }
        };
        runs_hash.u64(report.trace_hash);
        let [p50, p90, p99, p999, _] = report.latency_ms;
        let ms = |x: f64| format!("{x:.1}");
        table.row(vec![
            name.to_string(),
            ms(p50),
            ms(p90),
            ms(p99),
            ms(p999),
            report.retries.to_string(),
            report.failed.to_string(),
        ]);
        chart = chart.with(Series::line(name, cdf(latency.sorted_samples(), 200)));
    }
    let text = format!(
        "{}\nseed {seed}, 4 clients x {} requests each; trace hash of all runs {:016x}\n",
        table.render(),
        args.requests,
        runs_hash.0
    );
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/ch01_latency.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/ch01_latency.svg", &chart.to_svg())
        });
    if let Err(e) = written {
        eprintln!("cannot write outputs: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// At most `points` points of the empirical CDF of ascending `sorted` samples.
fn cdf(sorted: &[f64], points: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    let step = n.div_ceil(points).max(1);
    let mut out: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (sorted[i], (i + 1) as f64 / n as f64))
        .collect();
    if let Some(&last) = sorted.last() {
        out.push((last, 1.0));
    }
    out
}
