//! Chapter 18 experiment: p99 latency per balancing algorithm against load, on the simulator.
//!
//! Ten FIFO servers with exponential service times, mean 10 ms, two of them twice as slow
//! (mean 20 ms; `--slow-factor` changes that), behind one balancer
//! (`uds::scalability::load_balancing::fleet`). For each
//! utilisation from 0.5 to 0.95 of the fleet's capacity and each of the six algorithms, 20,000
//! Poisson requests over 1,000 flow keys; the figure plots the 99th-percentile latency. A second
//! table keeps the load at 0.9 and makes the balancer's view of the servers' loads stale (a
//! snapshot refreshed every 0, 10, 50, 200 ms): the case where least connections herds and
//! two random choices do not.
//!
//! outputs: code/outputs/ch18_p99.txt code/outputs/ch18_stale.txt src/figures/ch18_p99.svg
//!
//! Run: `cargo run --release -p uds --example ch18_p99 -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series};
use uds::scalability::load_balancing::fleet::{FleetConfig, run};
use uds::scalability::load_balancing::picker::Algorithm;

#[derive(Parser, Debug)]
#[command(about = "p99 latency per balancing algorithm vs utilisation, and with stale loads")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// How many times slower the two slow servers are than the others (1 to 50).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=50))]
    slow_factor: u32,
}

/// The chapter's fleet with the two slow servers `slow_factor` times slower.
fn fleet(algorithm: Algorithm, rho: f64, seed: u64, slow_factor: u32) -> FleetConfig {
    let mut config = FleetConfig::chapter(algorithm, rho, seed);
    for ms in config.service_ms.iter_mut().skip(8) {
        *ms = 10.0 * f64::from(slow_factor);
    }
    config
}

/// The utilisations of the sweep.
const LOADS: [f64; 6] = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
/// Staleness of the load view in the second table, ms (0 = exact).
const STALE_MS: [u64; 4] = [0, 10, 50, 200];

// ANCHOR: sweep
/// p99 latency (ms) of every algorithm at every load: `result[a][l]`.
fn sweep(seed: u64, slow: u32) -> Vec<Vec<f64>> {
    Algorithm::ALL
        .iter()
        .map(|&algorithm| {
            LOADS
                .iter()
                .map(|&rho| run(&fleet(algorithm, rho, seed, slow)).percentile_ms(99.0))
                .collect()
        })
        .collect()
}
// ANCHOR_END: sweep

fn p99_table(p99: &[Vec<f64>], seed: u64, slow: u32) -> String {
    let mut headers = vec!["utilisation".to_string()];
    headers.extend(Algorithm::ALL.iter().map(|a| a.name().to_string()));
    let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut table = Table::new(&refs);
    for (l, rho) in LOADS.iter().enumerate() {
        let mut row = vec![format!("{rho:.2}")];
        row.extend(p99.iter().map(|per_load| format!("{:.0}", per_load[l])));
        table.row(row);
    }
    format!(
        "{}\np99 latency in ms; 10 servers (8 with mean 10 ms, 2 with mean {} ms, exponential),\n\
         20,000 Poisson requests per cell over 1,000 flows, seed {seed}\n",
        table.render(),
        10 * slow
    )
}

fn stale_table(seed: u64, slow: u32) -> String {
    let algorithms = [
        Algorithm::Random,
        Algorithm::LeastConnections,
        Algorithm::PowerOfTwoChoices,
    ];
    let mut table = Table::new(&["load view", "random p99", "least-conn p99", "p2c p99"]);
    for ms in STALE_MS {
        let mut row = vec![if ms == 0 {
            "exact".to_string()
        } else {
            format!("{ms} ms old")
        }];
        for algorithm in algorithms {
            let mut config = fleet(algorithm, 0.9, seed, slow);
            config.view_refresh = (ms > 0).then(|| Duration::from_millis(ms));
            row.push(format!("{:.0}", run(&config).percentile_ms(99.0)));
        }
        table.row(row);
    }
    format!(
        "{}\np99 latency in ms at utilisation 0.9; the balancer decides on a snapshot of\n\
         the servers' loads refreshed every so often (same fleet and workload, seed {seed})\n",
        table.render()
    )
}

fn figure(p99: &[Vec<f64>]) -> String {
    let mut chart = Chart::new(
        "p99 latency per balancing algorithm (10 servers, 2 of them slower)",
        "utilisation (offered load / fleet capacity)",
        "p99 latency (ms, log scale)",
    );
    chart.log_y = true;
    for (a, algorithm) in Algorithm::ALL.iter().enumerate() {
        let points = LOADS.iter().zip(&p99[a]).map(|(&x, &y)| (x, y)).collect();
        chart = chart.with(Series::line(algorithm.name(), points));
    }
    chart.to_svg()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.common.seed;
    let slow = args.slow_factor;
    let p99 = sweep(seed, slow);
    let main_table = p99_table(&p99, seed, slow);
    let stale = stale_table(seed, slow);
    print!("{main_table}\n{stale}");
    let written = args
        .common
        .emit("code/outputs/ch18_p99.txt", &main_table)
        .and_then(|()| args.common.emit("code/outputs/ch18_stale.txt", &stale))
        .and_then(|()| args.common.emit("src/figures/ch18_p99.svg", &figure(&p99)));
    if let Err(e) = written {
        eprintln!("ch18_p99: could not write the outputs: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
