//! Chapter 17 experiment: recovery after an extent node fails, against the extent size.
//!
//! One client writes about `--data-kib` KiB in blobs of 4-8 KiB into extents of 3 replicas
//! spread over 8 extent nodes, on links of 10 MB/s (0.1 ms plus an exponential delay of mean
//! 0.2 ms each). Two failures, in separate runs, for each extent size:
//!
//! - mid-write, the primary of the open extent stops: how long until a put is acknowledged
//!   again (the append times out, the extent is sealed, a new one is allocated);
//! - after the writes, the extent node holding the most sealed extents stops: how long until
//!   the stream manager declares it dead, and how long copying its extents from the survivors
//!   to other nodes takes after that, until every extent has three replicas again.
//!
//! Each row is the mean of `--runs` seeds. Every run also checks that every acknowledged blob
//! reads back and that every sealed extent is whole again.
//!
//! outputs: code/outputs/ch17_recovery.txt src/figures/ch17_recovery.svg
//!
//! Run: `cargo run --release -p uds --example ch17_recovery -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::file_storage::run::{clients, open_primary, stream_manager};
use uds::scalability::file_storage::{Setup, build, check_read_back, check_replication};
use uds::sim::{Fault, NodeId, Time};

/// Recovery times after an extent node fails, against the extent size.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Data written per run, in KiB.
    #[arg(long, default_value_t = 4_096)]
    data_kib: usize,
    /// Seeded runs per extent size.
    #[arg(long, default_value_t = 5)]
    runs: u64,
}

const SIZES_KIB: [u64; 5] = [64, 128, 256, 512, 1024];

fn setup(extent_kib: u64, data_kib: usize) -> Setup {
    let mut link = Setup::default().link;
    link.bandwidth = Some(10_000_000);
    Setup {
        partitions: 1,
        extent_nodes: 8,
        clients: 1,
        blobs_per_client: data_kib / 6,
        blob_size: (4096, 8192),
        extent_limit: extent_kib * 1024,
        think: Duration::ZERO,
        read_at: Duration::from_secs(8),
        link,
        ..Setup::default()
    }
}

/// The primary of the open extent stops at 0.5 s: milliseconds until the next acknowledged put.
fn writes_resume(seed: u64, setup: &Setup) -> Result<f64, String> {
    let (mut sim, layout) = build(seed, setup)?;
    sim.run_until(Time::from_secs_f64(0.5))
        .map_err(|v| format!("{v:?}"))?;
    let victim = open_primary(&sim, &layout, 0).ok_or("no open extent at 0.5 s")?;
    sim.apply(Fault::Crash(victim));
    let crashed = sim.now();
    sim.run_until(Time::ZERO + setup.read_at + Duration::from_secs(4))
        .map_err(|v| format!("{v:?}"))?;
    check_read_back(&sim, &layout)?;
    check_replication(&sim, &layout)?;
    let next_ack = clients(&sim, &layout)[0]
        .put_log
        .iter()
        .map(|(t, _)| *t)
        .find(|t| *t > crashed)
        .ok_or("writes never resumed")?;
    Ok(next_ack.since(crashed).as_secs_f64() * 1e3)
}

/// After the writes, the node holding the most sealed extents stops: (sealed extents, extents
/// on the failed node, ms until declared dead, ms from then until all are whole again).
fn rebuild(seed: u64, setup: &Setup) -> Result<(usize, usize, f64, f64), String> {
    let (mut sim, layout) = build(seed, setup)?;
    let writes_end = Time::ZERO + setup.read_at - Duration::from_secs(1);
    sim.run_until(writes_end).map_err(|v| format!("{v:?}"))?;
    if clients(&sim, &layout)[0].put_log.len() < setup.blobs_per_client {
        return Err("the writes did not finish before the failure: use less --data-kib".into());
    }
    let manager = stream_manager(&sim, &layout);
    let held = |n: &NodeId| {
        manager
            .extents
            .values()
            .filter(|m| m.replicas.contains(n))
            .count()
    };
    let victim = *layout
        .extent_nodes
        .iter()
        .max_by_key(|n| (held(n), n.0))
        .expect("nodes");
    let (sealed, on_victim) = (manager.extents.len(), held(&victim));
    sim.apply(Fault::Crash(victim));
    let crashed = sim.now();
    sim.run_until(Time::ZERO + setup.read_at + Duration::from_secs(4))
        .map_err(|v| format!("{v:?}"))?;
    check_read_back(&sim, &layout)?;
    check_replication(&sim, &layout)?;
    let manager = stream_manager(&sim, &layout);
    let detected = manager
        .failure_detected_at
        .ok_or("the failure was never detected")?;
    let whole = manager
        .fully_replicated_at
        .ok_or("never fully replicated again")?;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok((
        sealed,
        on_victim,
        ms(detected.since(crashed)),
        ms(whole.since(detected)),
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(512..=65_536).contains(&args.data_kib) || args.runs == 0 || args.runs > 100 {
        eprintln!("error: --data-kib must be 512..=65536 and --runs 1..=100");
        return ExitCode::FAILURE;
    }
    let mut table = Table::new(&[
        "extent (KiB)",
        "extents",
        "on failed node",
        "declared dead (ms)",
        "copies done (ms)",
        "writes resume (ms)",
    ]);
    let (mut resume_pts, mut dead_pts, mut whole_pts) = (Vec::new(), Vec::new(), Vec::new());
    for kib in SIZES_KIB {
        let setup = setup(kib, args.data_kib);
        let mut sums = [0.0f64; 5];
        for run in 0..args.runs {
            let seed = args.common.seed + run;
            let outcome = writes_resume(seed, &setup).and_then(|r| Ok((r, rebuild(seed, &setup)?)));
            let (resume, (extents, held, dead, copy)) = match outcome {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: extents of {kib} KiB, seed {seed}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            for (s, v) in sums
                .iter_mut()
                .zip([extents as f64, held as f64, dead, copy, resume])
            {
                *s += v / args.runs as f64;
            }
        }
        let [extents, held, dead, copy, resume] = sums;
        table.row(vec![
            kib.to_string(),
            format!("{extents:.1}"),
            format!("{held:.1}"),
            format!("{dead:.0}"),
            format!("{copy:.0}"),
            format!("{resume:.0}"),
        ]);
        let x = kib as f64;
        resume_pts.push((x, resume));
        dead_pts.push((x, dead));
        whole_pts.push((x, dead + copy));
    }
    let mut chart = Chart::new(
        "Recovery after an extent node fails, against the extent size",
        "extent size limit (KiB, log scale)",
        "time after the failure (ms)",
    )
    .with(Series::line(
        "writes resume (open extent's primary fails)",
        resume_pts,
    ))
    .with(Series::dashed(
        "node declared dead (heartbeats stop)",
        dead_pts,
    ))
    .with(Series::line("every extent has 3 replicas again", whole_pts));
    chart.log_x = true;
    // plotters labels a log axis at 100, 200, ..., 1000; listing the measured sizes as
    // x_ticks leaves every label empty on a log axis (no generated tick equals 64, 128, ...).
    chart.legend = SeriesLabelPosition::UpperLeft;
    let most = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    chart.y_range = Some((0.0, (most / 100.0).ceil() * 100.0 + 100.0));
    let text = format!(
        "About {} KiB in blobs of 4-8 KiB, 8 extent nodes, 3 replicas, 10 MB/s links;\n\
         heartbeat every 50 ms, declared dead after 300 ms of silence; mean of {} seeds\n\
         from seed {}. Times are from the failure, except copies (from the declaration).\n\n{}",
        args.data_kib,
        args.runs,
        args.common.seed,
        table.render()
    );
    print!("{text}");
    for (path, contents) in [
        ("code/outputs/ch17_recovery.txt", text),
        ("src/figures/ch17_recovery.svg", chart.to_svg()),
    ] {
        if let Err(e) = args.common.emit(path, &contents) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
