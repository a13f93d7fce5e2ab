//! Chapter 17 experiment: write latency against the length of the replication chain.
//!
//! One client writes `--blobs` blobs, one after the other, through the front end and one
//! partition server into extents replicated on 1 to 5 extent nodes, once with appends passed
//! down a chain and once fanned out by the primary to every secondary at once. Every link
//! delays a message by 0.1 ms plus an exponential delay of mean 0.2 ms, so a put crosses six
//! links outside the stream layer (client, front end, partition server, primary, and back)
//! plus those of the replication. No failure, no full extent during the run.
//!
//! outputs: code/outputs/ch17_latency.txt src/figures/ch17_latency.svg
//!
//! Run: `cargo run --release -p uds --example ch17_latency -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::file_storage::run::clients;
use uds::scalability::file_storage::{Replication, Setup, build, check_read_back};
use uds::sim::{Histogram, Time};

/// Write latency of chain and fan-out replication against the replica count.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Blobs written per configuration.
    #[arg(long, default_value_t = 2_000)]
    blobs: usize,
}

/// The percentiles of the put latencies of one run, in milliseconds: (p50, p99, mean).
fn measure(
    seed: u64,
    replicas: usize,
    replication: Replication,
    blobs: usize,
) -> Result<(f64, f64, f64), String> {
    let setup = Setup {
        partitions: 1,
        extent_nodes: 5,
        replication_factor: replicas,
        replication,
        clients: 1,
        blobs_per_client: blobs,
        blob_size: (512, 1024),
        extent_limit: 4 * 1024 * 1024,
        think: Duration::ZERO,
        read_at: Duration::from_secs(60),
        ..Setup::default()
    };
    let (mut sim, layout) = build(seed, &setup)?;
    sim.run_until(Time::ZERO + setup.read_at + Duration::from_secs(10))
        .map_err(|v| format!("{v:?}"))?;
    check_read_back(&sim, &layout)?;
    let mut h = Histogram::default();
    for (_, latency) in &clients(&sim, &layout)[0].put_log {
        h.record(latency.as_secs_f64() * 1e3);
    }
    let p = |h: &mut Histogram, q| h.percentile(q).unwrap_or(f64::NAN);
    Ok((
        p(&mut h, 50.0),
        p(&mut h, 99.0),
        h.mean().unwrap_or(f64::NAN),
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.blobs == 0 || args.blobs > 100_000 {
        eprintln!(
            "error: --blobs must be between 1 and 100000, got {}",
            args.blobs
        );
        return ExitCode::FAILURE;
    }
    let mut table = Table::new(&[
        "replicas",
        "replication",
        "p50 (ms)",
        "p99 (ms)",
        "mean (ms)",
    ]);
    let mut chart = Chart::new(
        "Write latency against the number of replicas",
        "replicas of an extent (chain length)",
        "put latency at the client (ms)",
    );
    chart.legend = SeriesLabelPosition::UpperLeft;
    chart.x_ticks = Some((1..=5).map(f64::from).collect());
    chart.x_range = Some((0.8, 5.2));
    for (mode, name) in [
        (Replication::Chain, "chain"),
        (Replication::FanOut, "fan-out"),
    ] {
        let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
        for replicas in 1..=5usize {
            let (p50, p99, mean) = match measure(args.common.seed, replicas, mode, args.blobs) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            table.row(vec![
                replicas.to_string(),
                name.to_string(),
                format!("{p50:.2}"),
                format!("{p99:.2}"),
                format!("{mean:.2}"),
            ]);
            p50s.push((replicas as f64, p50));
            p99s.push((replicas as f64, p99));
        }
        chart = chart
            .with(Series::line(&format!("{name}, p50"), p50s))
            .with(Series::dashed(&format!("{name}, p99"), p99s));
    }
    let most = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    chart.y_range = Some((0.0, most.ceil() + 0.5));
    let text = format!(
        "{} puts of 512-1024 bytes per row, one at a time (seed {}); every link: 0.1 ms\n\
         plus an exponential delay of mean 0.2 ms.\n\n{}",
        args.blobs,
        args.common.seed,
        table.render()
    );
    print!("{text}");
    for (path, contents) in [
        ("code/outputs/ch17_latency.txt", text),
        ("src/figures/ch17_latency.svg", chart.to_svg()),
    ] {
        if let Err(e) = args.common.emit(path, &contents) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
