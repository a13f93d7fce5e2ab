//! Chapter 9 experiment: time to elect a new leader after the leader crashes, against the width
//! of the election timeout range (Ongaro and Ousterhout 2014, §9.3, Figure 16, top graph).
//!
//! Five servers on links with uniform 2-8 ms delays; heartbeats every 50 ms. For each timeout
//! range, many trials (one seed each, the same seeds for every range): settle, crash the leader
//! at a random instant, and measure the time until a server leads again.
//!
//! outputs: code/outputs/ch09_time_to_elect.txt src/figures/ch09_time_to_elect.svg
//!
//! Run: `cargo run --release -p uds --example ch09_time_to_elect -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::raft::server::Config;
use uds::coordination::raft::time_to_elect::{Trial, time_to_elect};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{Fnv64, Latency, LinkConfig};

/// Time without a leader after a leader crash, per election timeout range.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Trials per timeout range.
    #[arg(long, default_value_t = 1_000)]
    trials: u64,
    /// Give up on a trial after this many seconds without a leader.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    limit_s: u64,
}

/// The timeout ranges tried, in milliseconds: the paper's top graph of Figure 16.
const RANGES_MS: [(u64, u64); 6] = [
    (150, 150),
    (150, 151),
    (150, 155),
    (150, 175),
    (150, 200),
    (150, 300),
];

/// The result of every trial of one range.
struct Row {
    range: (u64, u64),
    trials: Vec<Trial>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.trials == 0 || args.limit_s == 0 {
        eprintln!("error: --trials and --limit-s must be at least 1");
        return ExitCode::FAILURE;
    }
    let link = LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
        min: Duration::from_millis(2),
        max: Duration::from_millis(8),
    });
    let mut rows = Vec::new();
    for range in RANGES_MS {
        let config = Config {
            election_timeout_ms_min: range.0,
            election_timeout_ms_max: range.1,
            heartbeat_ms: 50,
            ..Config::default()
        };
        let mut trials = Vec::new();
        for i in 0..args.trials {
            let seed = args.common.seed.wrapping_mul(1_000_003).wrapping_add(i);
            let settle = Duration::from_secs(2);
            let limit = Duration::from_secs(args.limit_s);
            match time_to_elect(seed, &config, &link, settle, limit) {
                Ok(trial) => trials.push(trial),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        rows.push(Row { range, trials });
    }

    let mut hash = Fnv64::default();
    for trial in rows.iter().flat_map(|r| &r.trials) {
        hash.u64(trial.trace_hash);
    }
    let text = format!(
        "seed {}; 5 servers, one-way delays uniform in 2-8 ms, heartbeats every 50 ms;\n\
         {} trials per range: settle 2 s, crash the leader at a random instant, time until a\n\
         server leads again (at most {} s). Quantiles are over all trials, those that found no\n\
         leader within the limit counting as the longest.\n\n{}",
        args.common.seed,
        args.trials,
        args.limit_s,
        table(&rows, args.limit_s * 1_000).render()
    );
    print!("{text}");
    println!("trace hash of all runs: {:016x}", hash.0);
    let written = args
        .common
        .emit("code/outputs/ch09_time_to_elect.txt", &text)
        .and_then(|()| {
            let svg = chart(&rows).to_svg();
            args.common.emit("src/figures/ch09_time_to_elect.svg", &svg)
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The sorted times without a leader of a row's trials that elected one, in milliseconds.
fn times_ms(row: &Row) -> Vec<f64> {
    let mut ms: Vec<f64> = row
        .trials
        .iter()
        .filter_map(|t| t.without_leader)
        .map(|d| d.as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

fn table(rows: &[Row], limit_ms: u64) -> Table {
    let mut table = Table::new(&[
        "timeout (ms)",
        "median (ms)",
        "p90 (ms)",
        "p99 (ms)",
        "max (ms)",
        "mean terms (elected)",
        "no leader in limit",
    ]);
    for row in rows.iter() {
        let ms = times_ms(row);
        let n = row.trials.len();
        // Quantiles over all trials; those without a leader in the limit count as longest.
        let quantile = |q: f64| {
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            match ms.get(i) {
                Some(x) => format!("{x:.0}"),
                None => format!("> {}", limit_ms),
            }
        };
        let elected: Vec<&Trial> = row
            .trials
            .iter()
            .filter(|t| t.without_leader.is_some())
            .collect();
        let terms = elected.iter().map(|t| t.elections).sum::<u64>() as f64;
        let mean_terms = if elected.is_empty() {
            "-".to_string()
        } else {
            format!("{:.2}", terms / elected.len() as f64)
        };
        table.row(vec![
            format!("{}-{}", row.range.0, row.range.1),
            quantile(0.5),
            quantile(0.9),
            quantile(0.99),
            quantile(1.0),
            mean_terms,
            (n - elected.len()).to_string(),
        ]);
    }
    table
}

fn chart(rows: &[Row]) -> Chart {
    let mut chart = Chart::new(
        "Time without a leader after the leader crashes (cf. Raft paper, Figure 16)",
        "time without leader (ms, log scale)",
        "fraction of trials with a leader by then",
    );
    chart.log_x = true;
    chart.y_range = Some((0.0, 1.0));
    chart.legend = SeriesLabelPosition::LowerRight;
    for row in rows {
        let ms = times_ms(row);
        let n = row.trials.len() as f64;
        let points = ms
            .iter()
            .enumerate()
            .map(|(i, &x)| (x, (i + 1) as f64 / n))
            .collect();
        let name = format!("{}-{} ms", row.range.0, row.range.1);
        chart = chart.with(Series::line(&name, points));
    }
    chart
}
