//! Chapter 7 experiment: detection time against false suspicions, fixed timeout vs φ accrual.
//!
//! Records heartbeat traces once on the simulator (a heartbeat every 100 ms over a jittery,
//! long-tailed, lossy link that is congested one minute in five, then a crash), and replays the
//! same traces through a fixed-timeout detector for a range of timeouts and through the φ
//! accrual detector for a range of thresholds. Each setting gives one point: mean detection
//! time after the crash, and false suspicions per hour while the sender was up.
//!
//! outputs: code/outputs/ch07_detectors.txt src/figures/ch07_detectors.svg
//!
//! Run: `cargo run --release -p uds --example ch07_detectors -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::failure_detection::detector::{FixedTimeout, PhiAccrual, PhiConfig};
use uds::coordination::failure_detection::evaluation::{
    HeartbeatTrace, Summary, book_traces, evaluate, record_trace,
};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::Fnv64;

/// Detection time vs false suspicions per hour for both detectors, on the same traces.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// How many traces (each 10 to 20 minutes of heartbeats, then a crash).
    #[arg(long, default_value_t = 40)]
    traces: usize,
    /// Inter-arrival times the φ detector remembers.
    #[arg(long, default_value_t = 1_000)]
    window: usize,
    /// The acceptable pause of the third curve (φ with a margin), in milliseconds.
    #[arg(long, default_value_t = 100)]
    pause_ms: u64,
}

/// The fixed detector's timeouts, in milliseconds.
const TIMEOUTS_MS: [u64; 11] = [
    150, 200, 250, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000,
];
/// The names of the three curves.
const FIXED: &str = "fixed timeout";
const PHI: &str = "phi accrual";
const PHI_PAUSE: &str = "phi + pause";
/// The φ detector's thresholds.
const THRESHOLDS: [f64; 12] = [
    0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0,
];

fn main() -> ExitCode {
    let args = Args::parse();
    if args.traces == 0 || args.traces > 10_000 {
        eprintln!(
            "error: --traces must be between 1 and 10000, got {}",
            args.traces
        );
        return ExitCode::FAILURE;
    }
    let interval = Duration::from_millis(100);
    let pause = Duration::from_millis(args.pause_ms);
    let phi_config = |threshold, acceptable_pause| PhiConfig {
        window: args.window,
        acceptable_pause,
        ..PhiConfig::new(threshold, interval)
    };
    if let Err(e) = PhiAccrual::new(&phi_config(1.0, pause)) {
        eprintln!("error: --window: {e}");
        return ExitCode::FAILURE;
    }
    let traces: Vec<HeartbeatTrace> = book_traces(args.common.seed, args.traces)
        .iter()
        .map(record_trace)
        .collect();

    let mut rows: Vec<(&str, String, Summary)> = Vec::new();
    for ms in TIMEOUTS_MS {
        let timeout = Duration::from_millis(ms);
        let summary = evaluate(|| FixedTimeout { timeout }, &traces);
        rows.push((FIXED, format!("{ms} ms"), summary));
    }
    for (name, margin) in [(PHI, Duration::ZERO), (PHI_PAUSE, pause)] {
        for threshold in THRESHOLDS {
            let make = || PhiAccrual::new(&phi_config(threshold, margin)).expect("validated");
            rows.push((name, format!("phi {threshold}"), evaluate(make, &traces)));
        }
    }

    let mut hash = Fnv64::default();
    for t in &traces {
        hash.u64(t.trace_hash);
    }
    let alive_hours = rows[0].2.alive_hours;
    let arrivals: usize = traces.iter().map(|t| t.arrivals.len()).sum();
    let most_undetected = rows.iter().map(|r| r.2.undetected).max().unwrap_or(0);
    let text = format!(
        "seed {}; {} traces, {:.1} hours of heartbeats before the crashes\n\
         (one every 100 ms, {} arrivals); phi window {} samples;\n\
         \"phi + pause\": acceptable pause {} ms. Detection: from the crash to the lasting \
         suspicion.\n\
         Crashes still unsuspected when their trace ended, most in any setting: {}.\n\n{}\n\
         The phi settings against the fixed timeout and against the normal model.\n\
         \"fixed at same detection\": the fixed timeout's false suspicions per hour at the same \
         mean\ndetection time, read off its line in the figure (log-log interpolation; \
         \"-\" outside its range).\n\n{}\n{}",
        args.common.seed,
        traces.len(),
        alive_hours,
        arrivals,
        args.window,
        args.pause_ms,
        most_undetected,
        table(&rows).render(),
        comparison(&rows).render(),
        below_fixed_summary(&rows),
    );
    print!("{text}");
    println!("trace hash of all traces: {:016x}", hash.0);
    let written = args
        .common
        .emit("code/outputs/ch07_detectors.txt", &text)
        .and_then(|()| {
            let svg = chart(&rows).to_svg();
            args.common.emit("src/figures/ch07_detectors.svg", &svg)
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn table(rows: &[(&str, String, Summary)]) -> Table {
    let mut table = Table::new(&[
        "detector",
        "setting",
        "false suspicions",
        "per hour",
        "mean detection (ms)",
        "max (ms)",
    ]);
    for (name, setting, s) in rows {
        table.row(vec![
            name.to_string(),
            setting.clone(),
            s.false_suspicions.to_string(),
            format!("{:.2}", s.false_per_hour()),
            format!("{:.0}", ms(s)),
            format!("{:.0}", s.max_detection.as_secs_f64() * 1e3),
        ]);
    }
    table
}

/// Mean detection time in milliseconds.
fn ms(s: &Summary) -> f64 {
    s.mean_detection.as_secs_f64() * 1e3
}

/// The φ rows beside the fixed timeout at the same detection time and the model's promise.
fn comparison(rows: &[(&str, String, Summary)]) -> Table {
    let mut table = Table::new(&[
        "detector",
        "setting",
        "per hour",
        "fixed at same detection",
        "10^-phi per hour",
    ]);
    for (name, setting, s) in rows.iter().filter(|r| r.0 != FIXED) {
        let fixed = fixed_rate_at(rows, ms(s)).map_or("-".to_string(), |r| format!("{r:.2}"));
        table.row(vec![
            name.to_string(),
            setting.clone(),
            format!("{:.2}", s.false_per_hour()),
            fixed,
            predicted(setting),
        ]);
    }
    table
}

/// The fixed timeout's false suspicions per hour at `detection_ms`, interpolated between its
/// two neighbouring settings as the figure draws them (a straight line on log-log axes; a
/// straight line on linear axes where a neighbour has no false suspicion, which a log axis
/// cannot show). `None` outside the range of the fixed settings.
fn fixed_rate_at(rows: &[(&str, String, Summary)], detection_ms: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.0 == FIXED)
        .map(|r| (ms(&r.2), r.2.false_per_hour()))
        .collect();
    let pair = points
        .windows(2)
        .find(|w| w[0].0 <= detection_ms && detection_ms <= w[1].0)?;
    let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
    if x1 <= x0 {
        return Some(y0);
    }
    if y0 > 0.0 && y1 > 0.0 {
        let f = (detection_ms.ln() - x0.ln()) / (x1.ln() - x0.ln());
        Some((y0.ln() + f * (y1.ln() - y0.ln())).exp())
    } else {
        let f = (detection_ms - x0) / (x1 - x0);
        Some(y0 + f * (y1 - y0))
    }
}

/// One line per φ curve: the runs of its settings (within the fixed timeout's range) that make
/// fewer ("below") or more ("above") false suspicions than the fixed timeout at the same mean
/// detection time, e.g. "phi accrual: below from 124 to 158 ms, above from 184 to 320 ms".
fn below_fixed_summary(rows: &[(&str, String, Summary)]) -> String {
    let mut text = String::from(
        "Against the fixed timeout at the same mean detection time (settings in its range):\n",
    );
    for name in [PHI, PHI_PAUSE] {
        // (detection in ms, below the fixed timeout?) in order of detection time.
        let comparable: Vec<(f64, bool)> = rows
            .iter()
            .filter(|r| r.0 == name)
            .filter_map(|r| {
                let fixed = fixed_rate_at(rows, ms(&r.2))?;
                Some((ms(&r.2), r.2.false_per_hour() < fixed))
            })
            .collect();
        let mut runs: Vec<String> = Vec::new();
        for run in comparable.chunk_by(|a, b| a.1 == b.1) {
            let side = if run[0].1 { "below" } else { "above" };
            let (lo, hi) = (run[0].0, run[run.len() - 1].0);
            runs.push(if run.len() == 1 {
                format!("{side} at {lo:.0} ms")
            } else {
                format!("{side} from {lo:.0} to {hi:.0} ms")
            });
        }
        text.push_str(&format!("{name}: {}\n", runs.join(", ")));
    }
    text
}

/// What the normal model promises for a φ setting: a probability of 10^-φ per heartbeat, at
/// 36,000 heartbeats an hour. "-" for a fixed timeout, which promises nothing.
fn predicted(setting: &str) -> String {
    match setting
        .strip_prefix("phi ")
        .and_then(|t| t.parse::<f64>().ok())
    {
        Some(threshold) => format!("{:.2e}", 10f64.powf(-threshold) * 36_000.0),
        None => "-".to_string(),
    }
}

fn chart(rows: &[(&str, String, Summary)]) -> Chart {
    let mut chart = Chart::new(
        "Detection time vs false suspicions, same heartbeat traces",
        "mean detection time after a crash (ms, log scale)",
        "false suspicions per hour (log scale)",
    );
    chart.log_x = true;
    chart.log_y = true;
    chart.legend = SeriesLabelPosition::UpperRight;
    let floor = rows
        .iter()
        .map(|r| 0.5 / r.2.alive_hours)
        .fold(f64::INFINITY, f64::min);
    for name in [FIXED, PHI, PHI_PAUSE] {
        // A log axis has no zero: a curve ends at its last setting with any false suspicion.
        let points: Vec<(f64, f64)> = rows
            .iter()
            .filter(|r| r.0 == name && r.2.false_suspicions > 0)
            .map(|r| (ms(&r.2), r.2.false_per_hour()))
            .collect();
        chart = chart.with(Series::line(name, points));
    }
    let top = rows
        .iter()
        .map(|r| r.2.false_per_hour())
        .fold(1.0, f64::max);
    chart.y_range = Some((floor, top));
    chart
}
