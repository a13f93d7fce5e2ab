//! Chapter 6 experiment: false suspicions vs timeout under each timing model.
//!
//! The same ping/timeout monitor, with the same seed, period and run length, watches a target
//! that never fails, under the synchronous, asynchronous and partially synchronous models. Every
//! suspicion is therefore false; we count them for each timeout.
//!
//! outputs: code/outputs/ch06_false_suspicions.txt src/figures/ch06_false_suspicions.svg
//!
//! Run: `cargo run --release -p uds --example ch06_system_models -- --write .`
use std::time::Duration;

use clap::Parser;
use uds::coordination::system_models::scenario::{SweepRow, sweep};
use uds::coordination::system_models::timing::TimingModel;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::Fnv64;

/// False suspicions of a correct target vs the monitor's timeout, per timing model.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Virtual time each run lasts, in minutes (at most a week).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=10_080))]
    minutes: u64,
    /// Time between pings, in milliseconds (at most a minute).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    period_ms: u64,
    /// Global stabilisation time of the partially synchronous model, in minutes (at most a year).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=525_600))]
    gst_minutes: u64,
}

/// The timeouts tried, in milliseconds.
const TIMEOUTS_MS: [u64; 11] = [5, 10, 15, 20, 30, 50, 100, 200, 500, 1_000, 2_000];

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs(args.minutes * 60);
    let period = Duration::from_millis(args.period_ms);
    let gst = Duration::from_secs(args.gst_minutes * 60);
    let models = TimingModel::book_models(gst);
    let timeouts: Vec<Duration> = TIMEOUTS_MS
        .iter()
        .map(|&ms| Duration::from_millis(ms))
        .collect();
    let rows = sweep(args.common.seed, &models, &timeouts, period, duration);

    let hours = duration.as_secs_f64() / 3600.0;
    let table = table(&rows, hours);
    let mut hash = Fnv64::default();
    for row in &rows {
        hash.u64(row.outcome.trace_hash);
    }
    let text = format!(
        "seed {}; each run: {} min, {} pings (one every {} ms), GST at {} min; the target \
         never fails,\nso every suspicion is false. \"after GST\": those triggered by pings \
         sent after GST.\n\n{}\ntrace hash of all runs: {:016x}\n",
        args.common.seed,
        args.minutes,
        rows.first().map_or(0, |r| r.outcome.pings),
        args.period_ms,
        args.gst_minutes,
        table.render(),
        hash.0
    );
    print!("{text}");
    args.common
        .emit("code/outputs/ch06_false_suspicions.txt", &text)?;
    args.common.emit(
        "src/figures/ch06_false_suspicions.svg",
        &chart(&rows, &models, hours).to_svg(),
    )?;
    Ok(())
}

fn table(rows: &[SweepRow], hours: f64) -> Table {
    let mut table = Table::new(&[
        "timing model",
        "timeout (ms)",
        "late pongs",
        "false suspicions",
        "per hour",
        "after GST",
    ]);
    for row in rows {
        let o = &row.outcome;
        let after_gst = if row.model == "partially synchronous" {
            o.false_after_gst.to_string()
        } else {
            "-".to_string()
        };
        table.row(vec![
            row.model.to_string(),
            row.timeout.as_millis().to_string(),
            o.late_pongs.to_string(),
            o.false_suspicions.to_string(),
            format!("{:.1}", o.false_suspicions as f64 / hours),
            after_gst,
        ]);
    }
    table
}

fn chart(rows: &[SweepRow], models: &[TimingModel], hours: f64) -> Chart {
    let mut chart = Chart::new(
        "False suspicions of a correct target vs timeout (zero counts not drawn)",
        "timeout (ms, log scale)",
        "false suspicions per hour (log scale)",
    );
    chart.log_x = true;
    chart.log_y = true;
    let mut top: f64 = 1.0;
    for model in models {
        // A log axis has no zero: a model's line ends where its count drops to zero.
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.model == model.name() && r.outcome.false_suspicions > 0)
            .map(|r| {
                (
                    r.timeout.as_secs_f64() * 1e3,
                    r.outcome.false_suspicions as f64 / hours,
                )
            })
            .collect();
        top = points.iter().fold(top, |t, p| t.max(p.1));
        chart = chart.with(Series::line(model.name(), points));
    }
    if let Some(bound) = models.iter().find_map(TimingModel::round_trip_bound) {
        let x = bound.as_secs_f64() * 1e3;
        let label = format!("synchronous round-trip bound ({x:.0} ms)");
        chart = chart.with(Series::dashed(&label, vec![(x, 0.5 / hours), (x, top)]));
    }
    chart.y_range = Some((0.5 / hours, top));
    // The curves fall to the right, so the upper right corner is free for the legend.
    chart.legend = SeriesLabelPosition::UpperRight;
    chart
}
