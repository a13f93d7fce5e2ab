//! Chapter 2 experiment: the congestion window over time, the sawtooth of AIMD.
//!
//! One long transfer over a 100 ms round trip that loses a fraction of data segments at
//! random. The figure draws `cwnd` (in whole segments, outside fast recovery, whose inflated
//! window is bookkeeping) over time, with every fast retransmit and
//! every retransmission timeout marked where it happened; the table sums the run up.
//!
//! outputs: code/outputs/ch02_cwnd.txt src/figures/ch02_cwnd.svg
//!
//! Run: `cargo run --release -p uds --example ch02_cwnd -- --write .`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::communication::reliable_links::experiment::{TransferConfig, run_transfer};
use uds::communication::reliable_links::link::Trace;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};

/// The congestion window of one transfer over a lossy link.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Probability that a data segment is lost.
    #[arg(long, default_value_t = 0.005)]
    loss: f64,
    /// Round-trip time in milliseconds.
    #[arg(long, default_value_t = 100)]
    rtt_ms: u64,
    /// Seconds of simulated time.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.rtt_ms < 2 || args.seconds == 0 || args.seconds > 600 {
        eprintln!("error: --rtt-ms must be at least 2 and --seconds between 1 and 600");
        return ExitCode::FAILURE;
    }
    let config = TransferConfig {
        bytes: u64::MAX,
        one_way_delay: Duration::from_millis(args.rtt_ms) / 2,
        loss: args.loss,
        time_limit: Duration::from_secs(args.seconds),
        trace: true,
        ..TransferConfig::default()
    };
    let report = match run_transfer(&config, args.common.seed) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(e) = &report.error {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let mss = config.sender.mss as f64;
    // One point per whole-segment change of cwnd: the figure's resolution, a small file.
    let mut window: Vec<(f64, f64)> = Vec::new();
    let (mut fast, mut timeouts) = (Vec::new(), Vec::new());
    let mut area = 0.0;
    let mut last = (0.0, 0.0);
    for t in &report.trace {
        match *t {
            // Fast recovery inflates cwnd by a segment per duplicate ACK: bookkeeping for the
            // ACK clock, not capacity. The figure skips those samples.
            Trace::Window {
                recovering: true, ..
            } => {}
            Trace::Window { at, cwnd, .. } => {
                let segments = (cwnd as f64 / mss).floor();
                area += last.1 * (at - last.0);
                last = (at, cwnd as f64 / mss);
                if window.last().is_none_or(|p| p.1 != segments) {
                    window.push((at, segments));
                }
            }
            Trace::FastRetransmit { at, cwnd } => fast.push((at, (cwnd as f64 / mss).floor())),
            Trace::Timeout { at, cwnd } => timeouts.push((at, (cwnd as f64 / mss).floor())),
        }
    }
    area += last.1 * (report.seconds - last.0);
    let mean_cwnd = area / report.seconds;
    let mut table = Table::new(&["quantity", "value"]);
    let rows = [
        ("round-trip time (ms)", args.rtt_ms.to_string()),
        ("data segment loss (%)", format!("{:.2}", args.loss * 100.0)),
        ("simulated seconds", args.seconds.to_string()),
        (
            "fast retransmits",
            report.stats.fast_retransmits.to_string(),
        ),
        ("retransmission timeouts", report.stats.timeouts.to_string()),
        ("mean cwnd (segments)", format!("{mean_cwnd:.1}")),
        ("largest cwnd (segments)", {
            let max = window.iter().map(|p| p.1).fold(0.0, f64::max);
            format!("{max:.0}")
        }),
        ("goodput (KB/s)", format!("{:.1}", report.goodput / 1000.0)),
    ];
    for (q, v) in rows {
        table.row(vec![q.to_string(), v]);
    }
    let text = format!(
        "seed {}; one transfer, MSS {} bytes, receive buffer 64 KiB, RTO floor 200 ms\n\n{}",
        args.common.seed,
        config.sender.mss,
        table.render()
    );
    print!("{text}");
    let mut chart = Chart::new(
        &format!(
            "Congestion window, RTT {} ms, {}% loss",
            args.rtt_ms,
            args.loss * 100.0
        ),
        "time (s)",
        "congestion window (segments)",
    )
    .with(Series::line("cwnd (outside fast recovery)", window))
    .with(Series::points("fast retransmit", fast));
    if !timeouts.is_empty() {
        chart = chart.with(Series::points("timeout", timeouts));
    }
    chart.legend = SeriesLabelPosition::UpperRight;
    let written = args
        .common
        .emit("code/outputs/ch02_cwnd.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/ch02_cwnd.svg", &chart.to_svg())
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
