//! Appendix experiment: the simulator against M/M/1 queueing theory.
//!
//! outputs: code/outputs/appendix_mm1.txt src/figures/appendix_mm1.svg
//!
//! Runs the M/M/1 model (`uds::sim_models::mm1`) at utilisations rho = 0.1, 0.2, ..., 0.9 with a
//! service rate of one customer per second (so the arrival rate is rho), and compares each
//! run's mean time in the system with theory, `W = 1 / (mu - lambda)`. Every run uses the same
//! seed, so the nine runs see the same random streams, scaled: the curve is smooth rather than
//! jittered by nine unrelated draws. The runs record a trace hash, printed at the end, so that a
//! reader can check that their run is the book's run.
//!
//! `cargo run --release -p uds --example appendix_mm1 -- [--seed N] [--write ROOT]`

use std::process::ExitCode;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series};
use uds::sim::{Fnv64, TraceLevel};
use uds::sim_models::mm1::{self, Config};

/// Customers per run. At rho = 0.9 successive customers' times are strongly correlated, so the
/// sample mean converges slowly: this many keeps every row within a few percent of theory
/// while the nine runs together take about a second in release mode.
const CUSTOMERS: u64 = 1_000_000;

/// Customers per second the server can serve.
const SERVICE_RATE: f64 = 1.0;

#[derive(Parser, Debug)]
#[command(about = "M/M/1 queue: simulated vs theoretical mean time in system, rho = 0.1..0.9")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

/// One row of the table.
struct Row {
    rho: f64,
    simulated_s: f64,
    theory_s: f64,
    customers: u64,
}

// ANCHOR: sweep
/// Runs the queue at each utilisation; returns the rows and one hash over all nine traces.
fn sweep(seed: u64) -> (Vec<Row>, u64) {
    let mut rows = Vec::new();
    let mut hash = Fnv64::default();
    for tenths in 1..=9 {
        let rho = f64::from(tenths) / 10.0;
        let config = Config {
            arrival_rate: rho * SERVICE_RATE,
            service_rate: SERVICE_RATE,
            customers: CUSTOMERS,
            seed,
        };
        let report = mm1::run_traced(&config, TraceLevel::Hash);
        hash.u64(report.trace_hash);
        let theory_s = mm1::theory_mean_time_in_system(config.arrival_rate, SERVICE_RATE)
            .expect("rho < 1 is stable");
        rows.push(Row {
            rho,
            simulated_s: report.mean_time_in_system_s,
            theory_s,
            customers: report.customers,
        });
    }
    (rows, hash.0)
}
// ANCHOR_END: sweep

fn table(rows: &[Row], seed: u64, hash: u64) -> String {
    let mut table = Table::new(&[
        "rho",
        "simulated W (s)",
        "theory W (s)",
        "error",
        "customers",
    ]);
    for row in rows {
        let error = (row.simulated_s - row.theory_s) / row.theory_s;
        table.row(vec![
            format!("{:.1}", row.rho),
            format!("{:.3}", row.simulated_s),
            format!("{:.3}", row.theory_s),
            format!("{:+.2}%", 100.0 * error),
            row.customers.to_string(),
        ]);
    }
    format!(
        "{}\nM/M/1, mu = {SERVICE_RATE} customer/s, lambda = rho * mu, seed {seed}, \
         trace hash {hash:#018x}\n",
        table.render()
    )
}

fn figure(rows: &[Row]) -> String {
    // The theoretical curve, drawn densely; it rises steeply towards rho = 1.
    let theory: Vec<(f64, f64)> = (0..=92)
        .map(|i| {
            let rho = f64::from(i) / 100.0;
            (rho, 1.0 / (SERVICE_RATE - rho * SERVICE_RATE))
        })
        .collect();
    let simulated = rows.iter().map(|r| (r.rho, r.simulated_s)).collect();
    Chart::new(
        "M/M/1 queue: mean time in system, simulated vs theory",
        "utilisation rho = lambda / mu (mu = 1 customer/s)",
        "mean time in system W (s)",
    )
    .with(Series::dashed("theory: 1 / (mu - lambda)", theory))
    .with(Series::points(
        &format!("simulated ({CUSTOMERS} customers per point)"),
        simulated,
    ))
    .to_svg()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.common.seed;
    let (rows, hash) = sweep(seed);
    let text = table(&rows, seed, hash);
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/appendix_mm1.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/appendix_mm1.svg", &figure(&rows))
        });
    if let Err(e) = written {
        eprintln!("appendix_mm1: could not write the outputs: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
