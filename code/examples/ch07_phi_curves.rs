//! Chapter 7 figure: the suspicion level φ against the time since the last heartbeat.
//!
//! Heartbeats every 100 ms on average; one curve per standard deviation of the inter-arrival
//! times, and one with an acceptable pause added to the mean, all computed with the crate's own
//! [`phi`] (the function the detector uses). The picture of Hayashibara et al. (SRDS 2004) and
//! of Akka's documentation: the smaller the spread, the steeper φ rises once a heartbeat is
//! late. The table gives, for each curve, the silence at which φ crosses a few thresholds.
//! Nothing here is random; `--seed` is accepted and ignored, like every experiment's.
//!
//! outputs: code/outputs/ch07_phi_curves.txt src/figures/ch07_phi_curves.svg
//!
//! Run: `cargo run --release -p uds --example ch07_phi_curves -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::failure_detection::phi::{phi, z_for_phi};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};

/// φ against the silence since the last heartbeat, for several spreads.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

/// The mean inter-arrival time, in milliseconds.
const MEAN_MS: f64 = 100.0;
/// The curves: (standard deviation in ms, acceptable pause in ms).
const CURVES: [(f64, f64); 4] = [(10.0, 0.0), (25.0, 0.0), (50.0, 0.0), (10.0, 100.0)];
/// The thresholds of the table; 8 is Akka's default.
const THRESHOLDS: [f64; 3] = [1.0, 3.0, 8.0];
/// The figure's axes: silence up to 400 ms, φ up to 16.
const X_MAX_MS: f64 = 400.0;
const Y_MAX: f64 = 16.0;

fn name(stddev_ms: f64, pause_ms: f64) -> String {
    if pause_ms > 0.0 {
        format!("sigma {stddev_ms} ms, pause {pause_ms} ms")
    } else {
        format!("sigma {stddev_ms} ms")
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut chart = Chart::new(
        "phi against the silence since the last heartbeat (mean interval 100 ms)",
        "time since the last heartbeat (ms)",
        "suspicion level phi",
    );
    chart.x_range = Some((0.0, X_MAX_MS));
    chart.y_range = Some((0.0, Y_MAX));
    chart.legend = SeriesLabelPosition::UpperLeft;
    let mut table = Table::new(&["curve", "phi 1 at (ms)", "phi 3 at (ms)", "phi 8 at (ms)"]);
    for (stddev, pause) in CURVES {
        // One point per millisecond, up to the first one above the chart's top.
        let mut points = Vec::new();
        for ms in 0..=X_MAX_MS as u32 {
            let t = f64::from(ms);
            let level = phi(t, MEAN_MS + pause, stddev);
            points.push((t, level.min(Y_MAX)));
            if level >= Y_MAX {
                break;
            }
        }
        chart = chart.with(Series::line(&name(stddev, pause), points));
        let mut row = vec![name(stddev, pause)];
        for threshold in THRESHOLDS {
            let z = z_for_phi(threshold).expect("a valid threshold");
            row.push(format!("{:.0}", MEAN_MS + pause + z * stddev));
        }
        table.row(row);
    }
    chart = chart.with(Series::dashed(
        "threshold 8 (Akka's default)",
        vec![(0.0, 8.0), (X_MAX_MS, 8.0)],
    ));
    let text = format!(
        "Mean interval {MEAN_MS} ms. The silence after which phi exceeds each threshold,\n\
         mean + pause + z * sigma, where z is the threshold's point of the normal tail.\n\n{}",
        table.render()
    );
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/ch07_phi_curves.txt", &text)
        .and_then(|()| {
            let svg = chart.to_svg();
            args.common.emit("src/figures/ch07_phi_curves.svg", &svg)
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
