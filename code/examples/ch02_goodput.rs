//! Chapter 2 experiment: goodput against loss rate and against round-trip time, next to the
//! estimate of Mathis, Semke, Mahdavi and Ott (1997): `MSS / (RTT * sqrt(2p/3))`.
//!
//! Each point is the mean goodput of a few long transfers (different seeds) on the simulator,
//! with random loss of data segments only. The estimate assumes congestion avoidance without
//! timeouts and an unlimited receive window; the figures also draw the receive-window limit
//! (`window / RTT`), which caps the transfer at low loss.
//!
//! outputs: code/outputs/ch02_goodput.txt src/figures/ch02_goodput_loss.svg
//! outputs: src/figures/ch02_goodput_rtt.svg
//!
//! Run: `cargo run --release -p uds --example ch02_goodput -- --write .`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::communication::reliable_links::experiment::{
    TransferConfig, TransferReport, mathis_goodput, run_transfer,
};
use uds::communication::reliable_links::receiver::ReceiverConfig;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};

/// Goodput vs loss and vs RTT, against the Mathis estimate.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Transfers (seeds) per point.
    #[arg(long, default_value_t = 2)]
    runs: u64,
    /// Simulated seconds per transfer.
    #[arg(long, default_value_t = 40)]
    seconds: u64,
    /// The receive buffer, in KiB.
    #[arg(long, default_value_t = 64)]
    window_kib: u64,
}

const LOSSES: [f64; 9] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
const RTTS_MS: [u64; 6] = [10, 20, 50, 100, 200, 400];
/// The loss rate of the RTT sweep, and the RTT of the loss sweep.
const FIXED_LOSS: f64 = 0.01;
const FIXED_RTT_MS: u64 = 100;

/// One point: its setting and the mean of its runs.
struct Point {
    loss: f64,
    rtt: Duration,
    goodput: f64,
    timeouts: f64,
    fast: f64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.runs == 0 || args.runs > 100 || args.seconds == 0 || args.seconds > 3600 {
        eprintln!("error: --runs must be in 1..=100 and --seconds in 1..=3600");
        return ExitCode::FAILURE;
    }
    if args.window_kib == 0 || args.window_kib > 1024 * 1024 {
        eprintln!("error: --window-kib must be in 1..=1048576");
        return ExitCode::FAILURE;
    }
    let window = args.window_kib * 1024;
    let run = &|loss: f64, rtt_ms: u64| -> Result<Point, String> {
        let config = TransferConfig {
            bytes: u64::MAX,
            one_way_delay: Duration::from_micros(rtt_ms * 500),
            loss,
            receiver: ReceiverConfig {
                capacity: window,
                ..ReceiverConfig::default()
            },
            time_limit: Duration::from_secs(args.seconds),
            ..TransferConfig::default()
        };
        let mut reports: Vec<TransferReport> = Vec::new();
        for i in 0..args.runs {
            let r = run_transfer(&config, args.common.seed + i)?;
            if let Some(e) = r.error {
                return Err(e);
            }
            reports.push(r);
        }
        let mean = |f: &dyn Fn(&TransferReport) -> f64| {
            reports.iter().map(f).sum::<f64>() / reports.len() as f64
        };
        Ok(Point {
            loss,
            rtt: Duration::from_millis(rtt_ms),
            goodput: mean(&|r| r.goodput),
            timeouts: mean(&|r| r.stats.timeouts as f64),
            fast: mean(&|r| r.stats.fast_retransmits as f64),
        })
    };
    // Every point on its own thread: the runs are independent and each is deterministic.
    let settings: Vec<(f64, u64)> = LOSSES
        .iter()
        .map(|&p| (p, FIXED_RTT_MS))
        .chain(RTTS_MS.iter().map(|&ms| (FIXED_LOSS, ms)))
        .collect();
    let points: Vec<Result<Point, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = settings
            .iter()
            .map(|&(p, ms)| scope.spawn(move || run(p, ms)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a run panicked".to_string()))
            })
            .collect()
    });
    let mut points = points.into_iter();
    let by_loss: Result<Vec<Point>, String> = points.by_ref().take(LOSSES.len()).collect();
    let by_rtt: Result<Vec<Point>, String> = points.collect();
    let (by_loss, by_rtt) = match (by_loss, by_rtt) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mss = TransferConfig::default().sender.mss;
    let text = format!(
        "seed {} (+{} seeds per point); MSS {mss} bytes; receive window {} KiB; RTO floor 200 ms;\n\
         {} simulated seconds per transfer; loss on data segments only.\n\
         \"Mathis\" is MSS / (RTT * sqrt(2p/3)); \"cap\" is window / RTT; \"ratio\" is goodput / Mathis;\n\
         timeouts and fast retransmits are per transfer (mean).\n\n\
         Against loss, RTT {FIXED_RTT_MS} ms:\n{}\nAgainst RTT, loss {}%:\n{}",
        args.common.seed,
        args.runs - 1,
        args.window_kib,
        args.seconds,
        table(&by_loss, mss, window, true).render(),
        FIXED_LOSS * 100.0,
        table(&by_rtt, mss, window, false).render(),
    );
    print!("{text}");
    let loss_chart = loss_chart(&by_loss, mss, window);
    let rtt_chart = rtt_chart(&by_rtt, mss, window);
    let written = args
        .common
        .emit("code/outputs/ch02_goodput.txt", &text)
        .and_then(|()| {
            let svg = loss_chart.to_svg();
            args.common.emit("src/figures/ch02_goodput_loss.svg", &svg)
        })
        .and_then(|()| {
            let svg = rtt_chart.to_svg();
            args.common.emit("src/figures/ch02_goodput_rtt.svg", &svg)
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn kbps(bytes_per_sec: f64) -> String {
    format!("{:.1}", bytes_per_sec / 1000.0)
}

/// One row per point; `by_loss` picks the varying column (loss rate or RTT).
fn table(points: &[Point], mss: u64, window: u64, by_loss: bool) -> Table {
    let setting = if by_loss { "loss (%)" } else { "RTT (ms)" };
    let mut t = Table::new(&[
        setting,
        "goodput KB/s",
        "Mathis KB/s",
        "ratio",
        "cap KB/s",
        "timeouts",
        "fast rexmits",
    ]);
    for p in points {
        let mathis = mathis_goodput(mss, p.rtt, p.loss);
        t.row(vec![
            if by_loss {
                format!("{}", p.loss * 100.0)
            } else {
                p.rtt.as_millis().to_string()
            },
            kbps(p.goodput),
            kbps(mathis),
            format!("{:.2}", p.goodput / mathis),
            kbps(window as f64 / p.rtt.as_secs_f64()),
            format!("{:.1}", p.timeouts),
            format!("{:.1}", p.fast),
        ]);
    }
    t
}

fn loss_chart(points: &[Point], mss: u64, window: u64) -> Chart {
    let rtt = Duration::from_millis(FIXED_RTT_MS);
    let xs: Vec<f64> = (0..=40)
        .map(|i| 10f64.powf(-3.5 + 3.0 * i as f64 / 40.0))
        .collect();
    let mathis = xs
        .iter()
        .map(|&p| (p * 100.0, mathis_goodput(mss, rtt, p) / 1000.0));
    let cap = window as f64 / rtt.as_secs_f64() / 1000.0;
    let mut chart = Chart::new(
        &format!("Goodput vs loss rate, RTT {FIXED_RTT_MS} ms"),
        "data segments lost (%, log scale)",
        "goodput (KB/s, log scale)",
    )
    .with(Series::points(
        "measured",
        points
            .iter()
            .map(|p| (p.loss * 100.0, p.goodput / 1000.0))
            .collect(),
    ))
    .with(Series::dashed("Mathis et al. estimate", mathis.collect()))
    .with(Series::dashed(
        "receive-window cap",
        vec![(xs[0] * 100.0, cap), (xs[xs.len() - 1] * 100.0, cap)],
    ));
    chart.log_x = true;
    chart.log_y = true;
    chart.legend = SeriesLabelPosition::LowerLeft;
    chart
}

fn rtt_chart(points: &[Point], mss: u64, window: u64) -> Chart {
    let xs: Vec<f64> = (0..=40)
        .map(|i| 10f64.powf(0.5 + 2.2 * i as f64 / 40.0))
        .collect();
    let rtt = |ms: f64| Duration::from_secs_f64(ms / 1000.0);
    let mathis = xs
        .iter()
        .map(|&ms| (ms, mathis_goodput(mss, rtt(ms), FIXED_LOSS) / 1000.0));
    let cap = xs
        .iter()
        .map(|&ms| (ms, window as f64 / rtt(ms).as_secs_f64() / 1000.0));
    let mut chart = Chart::new(
        &format!("Goodput vs round-trip time, {}% loss", FIXED_LOSS * 100.0),
        "round-trip time (ms, log scale)",
        "goodput (KB/s, log scale)",
    )
    .with(Series::points(
        "measured",
        points
            .iter()
            .map(|p| (p.rtt.as_secs_f64() * 1000.0, p.goodput / 1000.0))
            .collect(),
    ))
    .with(Series::dashed("Mathis et al. estimate", mathis.collect()))
    .with(Series::dashed("receive-window cap", cap.collect()));
    chart.log_x = true;
    chart.log_y = true;
    chart.legend = SeriesLabelPosition::UpperRight;
    chart
}
