//! Chapter 11 (leaderless replication) figure and table: the probability that a read is stale
//! against the time since the write completed, for several (N, R, W), measured on the
//! simulated store beside the prediction of the PBS model (Bailis et al., PVLDB 2012).
//!
//! Every message between servers takes an exponentially distributed delay (mean 1 ms by
//! default; `--latency pareto` for a heavy tail with the same median). The measurement writes
//! once through server 0 and reads through it at each delay after the write's acknowledgement,
//! with read repair and anti-entropy off (see `uds::coordination::leaderless::pbs`); the model
//! is the WARS Monte Carlo over the same delay distribution.
//!
//! outputs: code/outputs/ch11_pbs.txt src/figures/ch11_pbs.svg
//!
//! Run: `cargo run --release -p uds --example ch11_pbs -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use uds::coordination::leaderless::Quorum;
use uds::coordination::leaderless::pbs::{PbsSetup, measure, predict};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::Latency;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Tail {
    /// Exponential delays, mean 1 ms (median 0.69 ms).
    Exponential,
    /// Pareto delays with shape 1.5 and the exponential's median: a heavier tail.
    Pareto,
}

/// Stale-read probability against time since the write, measured and predicted.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// The delay distribution of every server-to-server message.
    #[arg(long, value_enum, default_value = "exponential")]
    latency: Tail,
    /// Writes measured per (N, R, W); the model draws ten times as many.
    #[arg(long, default_value_t = 2000, value_parser = trials_range())]
    trials: u64,
    /// Replicas per key (the quorum sizes are 1 and 2 in every combination).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(2..=9))]
    n: u64,
}

/// The accepted numbers of trials.
fn trials_range() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(10..=1_000_000)
}

/// Delays after the write's acknowledgement at which reads start, in milliseconds.
const SINCE_MS: [f64; 12] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0];
/// The delays the table shows (a subset of `SINCE_MS`).
const TABLE_MS: [f64; 7] = [0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0];

fn latency(tail: Tail) -> Latency {
    match tail {
        Tail::Exponential => Latency::Exponential {
            min: Duration::ZERO,
            mean: Duration::from_millis(1),
        },
        // Pareto median = scale * 2^(1/shape); choose scale for the exponential's median, ln 2.
        Tail::Pareto => Latency::Pareto {
            scale: Duration::from_secs_f64(std::f64::consts::LN_2 / 2f64.powf(1.0 / 1.5) / 1e3),
            shape: 1.5,
        },
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let n = args.n as usize;
    let quorums = [(1, 1), (1, 2), (2, 1), (2, 2)].map(|(r, w)| Quorum { n, r, w });
    let mut headers = vec!["N R W".to_string(), "source".to_string()];
    headers.extend(TABLE_MS.iter().map(|t| format!("{t} ms")));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut table = Table::new(&headers);
    let mut chart = Chart::new(
        "Stale reads after a write completes: measured on the store and predicted by PBS",
        "time since the write completed (ms)",
        "probability that a read is stale",
    );
    chart.x_range = Some((0.0, SINCE_MS[SINCE_MS.len() - 1]));
    chart.legend = SeriesLabelPosition::UpperRight;
    let mut worst = (0.0f64, String::new(), 0.0f64);
    for q in quorums {
        let setup = PbsSetup {
            quorum: q,
            latency: latency(args.latency),
            since_commit_ms: SINCE_MS.to_vec(),
            trials: args.trials as usize,
        };
        let measured = match measure(&setup, args.common.seed) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {q}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let model_setup = PbsSetup {
            trials: setup.trials * 10,
            ..setup.clone()
        };
        let predicted = predict(&model_setup, args.common.seed);
        let name = format!("{} {} {}", q.n, q.r, q.w);
        for (source, values) in [("store", &measured), ("PBS model", &predicted)] {
            let mut row = vec![name.clone(), source.to_string()];
            for t in TABLE_MS {
                let i = SINCE_MS
                    .iter()
                    .position(|&s| s == t)
                    .expect("a measured delay");
                row.push(format!("{:.3}", values[i]));
            }
            table.row(row);
        }
        for (i, (m, p)) in measured.iter().zip(&predicted).enumerate() {
            let gap = (m - p).abs();
            // Two standard errors of the measured share, at the model's probability.
            let se2 = 2.0 * (p * (1.0 - p) / setup.trials as f64).sqrt();
            if gap > worst.0 {
                worst = (
                    gap,
                    format!("N={} R={} W={}, {} ms", q.n, q.r, q.w, SINCE_MS[i]),
                    se2,
                );
            }
        }
        if q.overlapping() {
            continue; // never stale: the table shows it, the figure keeps to partial quorums
        }
        let points = |v: &[f64]| SINCE_MS.iter().copied().zip(v.iter().copied()).collect();
        chart = chart
            .with(Series::points(
                &format!("R={} W={} store", q.r, q.w),
                points(&measured),
            ))
            .with(Series::dashed(
                &format!("R={} W={} PBS model", q.r, q.w),
                points(&predicted),
            ));
    }
    // The y axis ends at the next tenth above the highest point.
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    chart.y_range = Some((0.0, ((top * 10.0).floor() + 1.0) / 10.0));
    let text = format!(
        "P(stale read) t ms after the write completed; {} latency, N={n}.\n\
         store: {} writes on the simulated store; PBS model: {} WARS trials.\n\
         Largest store-model gap: {:.3} ({}); two standard errors there: {:.3}.\n\n{}",
        match args.latency {
            Tail::Exponential => "exponential (mean 1 ms)",
            Tail::Pareto => "Pareto (shape 1.5, median 0.69 ms)",
        },
        args.trials,
        args.trials * 10,
        worst.0,
        worst.1,
        worst.2,
        table.render()
    );
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/ch11_pbs.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/ch11_pbs.svg", &chart.to_svg())
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
