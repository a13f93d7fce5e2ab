//! Chapter 8 experiment: NTP offset estimation error vs network asymmetry.
//!
//! A client polls a time server over two links whose minimum delays differ by an asymmetry
//! `a` (requests take `(rtt + a) / 2`, responses `(rtt - a) / 2`, both plus exponential
//! jitter). The clocks are offset and drift. For each asymmetry, a first table reports how far
//! the estimates are from the true offset, and how far off the sample that a best-of-`window`
//! clock filter trusts is, on average and at worst; a second table compares the errors with
//! two bounds: NTP's `delay / 2`, and Cristian's `delay / 2 - min` for a client that knows the
//! minimum one-way delay `min`.
//!
//! outputs: code/outputs/ch08_offset.txt src/figures/ch08_offset.svg
//!
//! Run: `cargo run --release -p uds --example ch08_offset -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::time::ntp::{Measured, OffsetRun, best_sample, measure};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{Clock, Fnv64, Latency, LinkConfig};

/// Offset estimation error vs the asymmetry of the path to the time server.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Minimum round trip (both directions together), in milliseconds.
    #[arg(long, default_value_t = 20)]
    rtt_ms: u64,
    /// Mean exponential jitter added to each direction, in milliseconds.
    #[arg(long, default_value_t = 1.0)]
    jitter_ms: f64,
    /// Requests per asymmetry.
    #[arg(long, default_value_t = 256)]
    polls: u64,
    /// Samples among which the clock filter picks the one with the smallest delay.
    #[arg(long, default_value_t = 8)]
    window: usize,
}

/// The asymmetries tried, as a fraction of the round trip (0 = symmetric, 0.9 = almost all
/// of the delay on the way out).
const ASYMMETRY: [f64; 10] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// What one asymmetry gave.
struct Row {
    asymmetry_ms: f64,
    mean_delay_ms: f64,
    mean_error_ms: f64,
    max_error_ms: f64,
    min_ms: f64,
    cristian_bound_ms: f64,
    within: usize,
    within_cristian: usize,
    samples: usize,
    filtered_error_ms: f64,
    filtered_max_error_ms: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.rtt_ms == 0 || args.polls == 0 || args.window == 0 {
        eprintln!("error: --rtt-ms, --polls and --window must be positive");
        return ExitCode::FAILURE;
    }
    if !(args.jitter_ms.is_finite() && args.jitter_ms >= 0.0 && args.jitter_ms <= 10_000.0) {
        eprintln!("error: --jitter-ms must be between 0 and 10000");
        return ExitCode::FAILURE;
    }
    let mut hash = Fnv64::default();
    let rows: Vec<Row> = ASYMMETRY
        .iter()
        .map(|&fraction| {
            let (row, trace_hash) = run(&args, fraction);
            hash.u64(trace_hash);
            row
        })
        .collect();
    let text = format!(
        "seed {}; minimum round trip {} ms, exponential jitter of mean {} ms each way, {} polls \
         per row;\nclient clock +37 ms and +80 ppm, server clock -25 ppm; every row uses the \
         same seed.\nAll times in ms.\n\nThe error of the estimate, of every sample and of \
         the best of {w} (the smallest delay):\n\n{}\nThe bounds: NTP's delay / 2, and \
         Cristian's delay / 2 - min, where min is the\nshorter direction's minimum delay; \
         \"within\" counts the samples whose |error| is within each:\n\n{}",
        args.common.seed,
        args.rtt_ms,
        args.jitter_ms,
        args.polls,
        error_table(&rows, args.window).render(),
        bound_table(&rows).render(),
        w = args.window,
    );
    print!("{text}");
    println!("trace hash of all runs: {:016x}", hash.0);
    let written = args
        .common
        .emit("code/outputs/ch08_offset.txt", &text)
        .and_then(|()| {
            let svg = chart(&rows, args.window).to_svg();
            args.common.emit("src/figures/ch08_offset.svg", &svg)
        });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the exchange with `fraction` of the minimum round trip as asymmetry.
fn run(args: &Args, fraction: f64) -> (Row, u64) {
    let rtt = Duration::from_millis(args.rtt_ms);
    let asymmetry = rtt.mul_f64(fraction);
    let jitter = Duration::from_secs_f64(args.jitter_ms / 1e3);
    let link = |min: Duration| {
        LinkConfig::constant(min).with_latency(Latency::Exponential { min, mean: jitter })
    };
    let run = OffsetRun {
        seed: args.common.seed,
        out: link((rtt + asymmetry) / 2),
        back: link((rtt - asymmetry) / 2),
        client_clock: Clock {
            offset_ns: 37_000_000,
            drift_ppm: 80,
        },
        server_clock: Clock {
            offset_ns: 0,
            drift_ppm: -25,
        },
        period: Duration::from_secs(1),
        polls: args.polls,
    };
    let outcome = measure(&run);
    let min = run.min_one_way_ns();
    let m = &outcome.measured;
    let ms = |ns: i64| ns as f64 / 1e6;
    let mean = |f: &dyn Fn(&Measured) -> f64| m.iter().map(f).sum::<f64>() / m.len() as f64;
    let samples: Vec<_> = m.iter().map(|x| x.sample).collect();
    // The clock filter over consecutive windows: the error of the sample it trusts.
    let filtered: Vec<f64> = m
        .chunks(args.window)
        .zip(samples.chunks(args.window))
        .filter_map(|(measured, window)| {
            let best = best_sample(window, args.window)?;
            let picked = measured.iter().find(|x| x.sample == best)?;
            Some(ms(picked.error_ns()))
        })
        .collect();
    let row = Row {
        asymmetry_ms: asymmetry.as_secs_f64() * 1e3,
        mean_delay_ms: mean(&|x| ms(x.sample.delay_ns())),
        mean_error_ms: mean(&|x| ms(x.error_ns())),
        max_error_ms: m.iter().map(|x| ms(x.error_ns().abs())).fold(0.0, f64::max),
        min_ms: ms(min),
        cristian_bound_ms: mean(&|x| ms(x.sample.error_bound_given_min_ns(min))),
        // One nanosecond of slack for the integer halving of the offset and the bound.
        within: m
            .iter()
            .filter(|x| x.error_ns().abs() <= x.sample.error_bound_ns() + 1)
            .count(),
        within_cristian: m
            .iter()
            .filter(|x| x.error_ns().abs() <= x.sample.error_bound_given_min_ns(min) + 1)
            .count(),
        samples: m.len(),
        filtered_error_ms: filtered.iter().sum::<f64>() / filtered.len().max(1) as f64,
        filtered_max_error_ms: filtered.iter().map(|e| e.abs()).fold(0.0, f64::max),
    };
    (row, outcome.trace_hash)
}

/// How far the estimates are from the truth: every sample, and the clock filter's pick.
fn error_table(rows: &[Row], window: usize) -> Table {
    let filter = format!("best of {window}: mean error");
    let filter_max = format!("best of {window}: max |error|");
    let mut table = Table::new(&[
        "asymmetry",
        "mean error",
        "max |error|",
        &filter,
        &filter_max,
    ]);
    for r in rows {
        table.row(vec![
            format!("{:.1}", r.asymmetry_ms),
            format!("{:.3}", r.mean_error_ms),
            format!("{:.3}", r.max_error_ms),
            format!("{:.3}", r.filtered_error_ms),
            format!("{:.3}", r.filtered_max_error_ms),
        ]);
    }
    table
}

/// The two bounds, and how many samples each holds for.
fn bound_table(rows: &[Row]) -> Table {
    let mut table = Table::new(&[
        "asymmetry",
        "mean delay",
        "min",
        "mean delay/2 - min",
        "within delay/2",
        "within delay/2 - min",
    ]);
    for r in rows {
        table.row(vec![
            format!("{:.1}", r.asymmetry_ms),
            format!("{:.3}", r.mean_delay_ms),
            format!("{:.1}", r.min_ms),
            format!("{:.3}", r.cristian_bound_ms),
            format!("{}/{}", r.within, r.samples),
            format!("{}/{}", r.within_cristian, r.samples),
        ]);
    }
    table
}

fn chart(rows: &[Row], window: usize) -> Chart {
    let mut chart = Chart::new(
        "NTP offset estimate: error vs path asymmetry",
        "asymmetry: outbound minus return minimum delay (ms)",
        "error of the offset estimate (ms)",
    );
    chart.legend = SeriesLabelPosition::LowerRight;
    let points = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| (r.asymmetry_ms, f(r))).collect();
    let filter = format!("error of the best of {window} (smallest delay)");
    chart
        .with(Series::line("mean error", points(&|r| r.mean_error_ms)))
        .with(Series::points(
            "largest |error|",
            points(&|r| r.max_error_ms),
        ))
        .with(Series::line(&filter, points(&|r| r.filtered_error_ms)))
        .with(Series::points(
            &format!("largest |error| of the best of {window}"),
            points(&|r| r.filtered_max_error_ms),
        ))
        .with(Series::dashed(
            "mean NTP bound (delay / 2)",
            points(&|r| r.mean_delay_ms / 2.0),
        ))
        .with(Series::dashed(
            "mean Cristian bound (delay / 2 - min)",
            points(&|r| r.cristian_bound_ms),
        ))
        .with(Series::dashed(
            "asymmetry / 2",
            points(&|r| r.asymmetry_ms / 2.0),
        ))
}
