//! Raft in practice: what a read costs through the log, with ReadIndex and with a lease, what
//! batching changes, and which of chapter 10's throughput losses were this code's.
//!
//! Every run is chapter 10's Raft under the chain's workload and cost model
//! (`src/coordination/chain_vs_raft.rs`): closed-loop clients, the same links, and every message
//! a server receives waiting in a one-at-a-time queue. Only the servers' [`Config`] changes:
//! `read_mode` (log, ReadIndex, lease) and `batching`.
//!
//! Part 1 measures one read's cost at light load (messages the servers handle per read, read
//! latency). Parts 2 and 3 re-measure throughput as the cluster grows. Part 4 adds ReadIndex and
//! lease reads to chapter 10's stale-read table and checks every history for linearizability.
//!
//! outputs: code/outputs/ch10_reads.txt src/figures/ch10_reads.svg
//! outputs: src/figures/ch10_reads_writes.svg
//!
//! Run: `cargo run --release -p uds --example ch10_reads -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::chain_replication::{Operation, Workload, check_stale_reads};
use uds::coordination::chain_vs_raft::{RaftReadMode, RaftSetup, run_raft};
use uds::coordination::linearizability::{CheckResult, KvModel, check};
use uds::coordination::raft::Config;
use uds::coordination::raft::reads::ReadMode;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{Fnv64, Histogram, Latency, LinkConfig};

/// Read costs, throughput and stale reads of Raft's three read paths.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Closed-loop clients of the throughput runs.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Virtual time each run lasts, in milliseconds (the first fifth is warm-up).
    #[arg(long, default_value_t = 500)]
    duration_ms: u64,
}

// ANCHOR: variants
/// One way to run the servers: a read path, with or without batching.
#[derive(Clone, Copy, Debug)]
struct Variant {
    name: &'static str,
    read_mode: ReadMode,
    batching: bool,
}

/// Lease reads assume no clock runs more than 1.01 times fast or slow (10,000 ppm).
const LEASE: ReadMode = ReadMode::Lease {
    max_drift_ppm: 10_000,
};

const LOG: Variant = Variant {
    name: "log reads (chapter 10)",
    read_mode: ReadMode::Log,
    batching: false,
};
const LOG_BATCHED: Variant = Variant {
    name: "log reads, batched",
    read_mode: ReadMode::Log,
    batching: true,
};
const READ_INDEX: Variant = Variant {
    name: "ReadIndex",
    read_mode: ReadMode::ReadIndex,
    batching: false,
};
const READ_INDEX_BATCHED: Variant = Variant {
    name: "ReadIndex, batched",
    read_mode: ReadMode::ReadIndex,
    batching: true,
};
const LEASE_BATCHED: Variant = Variant {
    name: "lease reads, batched",
    read_mode: LEASE,
    batching: true,
};
// ANCHOR_END: variants

/// The cluster sizes of the throughput runs.
const SERVERS: [usize; 4] = [1, 3, 5, 7];

/// The mixes: share of reads, keys.
const READ_ONLY: (f64, u64) = (1.0, 1_000);
const READ_HEAVY: (f64, u64) = (0.95, 1_000);
const WRITE_HEAVY: (f64, u64) = (0.2, 1_000);
const CONTENDED: (f64, u64) = (0.5, 10);

/// What one run gave.
struct Measured {
    throughput: f64,
    read_p50_ms: f64,
    /// Messages all servers handled, per operation completed.
    messages_per_op: f64,
    history: Vec<Operation>,
    trace_hash: u64,
}

fn run(
    variant: Variant,
    follower_reads: bool,
    servers: usize,
    clients: usize,
    mix: (f64, u64),
    duration: Duration,
    seed: u64,
) -> Result<Measured, String> {
    let setup = RaftSetup {
        servers,
        clients,
        read_mode: if follower_reads {
            RaftReadMode::Follower
        } else {
            RaftReadMode::Leader
        },
        workload: Workload {
            read_fraction: mix.0,
            keys: mix.1,
            think_time_mean: Duration::from_millis(1),
        },
        link: LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
            min: Duration::from_micros(200),
            max: Duration::from_micros(1_000),
        }),
        service_time: Duration::from_micros(200),
        duration,
        config: Config {
            read_mode: variant.read_mode,
            batching: variant.batching,
            ..Config::default()
        },
    };
    let outcome = run_raft(&setup, seed)?;
    if outcome.elections != 1 || outcome.retries != 0 {
        return Err(format!(
            "{} with {servers} servers, seed {seed}: {} elections, {} retries; the experiment \
             assumes one stable leader",
            variant.name, outcome.elections, outcome.retries
        ));
    }
    let (from, to) = ((duration / 5).as_nanos() as u64, duration.as_nanos() as u64);
    let mut reads = Histogram::default();
    let mut done = 0u64;
    for op in &outcome.history {
        if op.output.is_some() && (from..to).contains(&op.return_ns) {
            done += 1;
            if !op.input.is_write() {
                reads.record((op.return_ns - op.call_ns) as f64 / 1e6);
            }
        }
    }
    let answered = outcome
        .history
        .iter()
        .filter(|op| op.output.is_some())
        .count();
    let handled: u64 = outcome.handled.iter().sum();
    Ok(Measured {
        throughput: done as f64 / (to - from) as f64 * 1e9,
        read_p50_ms: reads.percentile(50.0).unwrap_or(f64::NAN),
        messages_per_op: handled as f64 / answered.max(1) as f64,
        history: outcome.history,
        trace_hash: outcome.trace_hash,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match experiment(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn experiment(args: &Args) -> Result<(), String> {
    if args.duration_ms < 50 || args.clients == 0 {
        return Err(format!(
            "--duration-ms {} must be at least 50 and --clients {} at least 1",
            args.duration_ms, args.clients
        ));
    }
    let duration = Duration::from_millis(args.duration_ms);
    let seed = args.common.seed;
    let mut hash = Fnv64::default();
    let mut out = format!(
        "seed {seed}; chapter 10's Raft under the chain's cost model: every link uniform \
         200-1000 us\none way, each server handles one message at a time, 200 us each; think \
         time 1 ms;\n{} ms per run, the first fifth not measured. One leader throughout \
         (checked).\nLease reads assume clock rates within a factor 1.01 of true time.\n\n",
        args.duration_ms
    );

    // Part 1: one read's cost, at light load so that queueing does not hide it.
    let mut cost = Table::new(&["read path", "servers", "messages per read", "read p50 (ms)"]);
    for servers in [3, 5] {
        for variant in [LOG, READ_INDEX, LEASE_BATCHED] {
            let m = run(variant, false, servers, 4, READ_ONLY, duration, seed)?;
            hash.u64(m.trace_hash);
            cost.row(vec![
                variant.name.to_string(),
                servers.to_string(),
                format!("{:.1}", m.messages_per_op),
                format!("{:.2}", m.read_p50_ms),
            ]);
        }
    }
    out += &format!(
        "1. The cost of a read: 4 clients, reads only. \"messages per read\": messages all \
         servers\nhandled (requests, AppendEntries, ReadHeartbeats, their answers, heartbeats) \
         per answered read.\n\n{}\n",
        cost.render()
    );

    // Part 2: throughput as the cluster grows.
    let variants = [
        LOG,
        LOG_BATCHED,
        READ_INDEX,
        READ_INDEX_BATCHED,
        LEASE_BATCHED,
    ];
    let mut charts = Vec::new();
    for (part, mix, name) in [(2, READ_HEAVY, "95% reads"), (3, WRITE_HEAVY, "20% reads")] {
        let mut table = Table::new(&["variant", "servers", "ops/s", "messages per op"]);
        let mut chart = Chart::new(
            &format!("Raft throughput as the cluster grows, {name}"),
            "Raft servers",
            "throughput (operations per simulated second)",
        );
        chart.legend = SeriesLabelPosition::UpperRight;
        let mut top: f64 = 1.0;
        for variant in variants {
            let mut points = Vec::new();
            for servers in SERVERS {
                let m = run(variant, false, servers, args.clients, mix, duration, seed)?;
                hash.u64(m.trace_hash);
                table.row(vec![
                    variant.name.to_string(),
                    servers.to_string(),
                    format!("{:.0}", m.throughput),
                    format!("{:.1}", m.messages_per_op),
                ]);
                points.push((servers as f64, m.throughput));
            }
            top = points.iter().fold(top, |t, p| t.max(p.1));
            chart = chart.with(Series::line(variant.name, points));
        }
        chart.y_range = Some((0.0, top * 1.45));
        chart.x_range = Some((1.0, 7.0));
        // Integer ticks, only at the measured cluster sizes.
        chart.x_ticks = Some(SERVERS.iter().map(|&n| n as f64).collect());
        out += &format!(
            "{part}. Throughput, {name}, {} clients:\n\n{}\n",
            args.clients,
            table.render()
        );
        charts.push(chart);
    }

    // Part 3: stale reads and linearizability.
    let mut stale = Table::new(&["read path", "servers", "reads", "stale", "linearizable"]);
    for servers in [3, 5] {
        let paths = [
            (LOG, false),
            (READ_INDEX, false),
            (LEASE_BATCHED, false),
            (LOG, true),
        ];
        for (variant, follower) in paths {
            let m = run(variant, follower, servers, 8, CONTENDED, duration, seed)?;
            hash.u64(m.trace_hash);
            let s = check_stale_reads(&m.history).map_err(|e| e.to_string())?;
            let verdict = match check(&KvModel, &m.history) {
                CheckResult::Ok => "yes",
                CheckResult::Illegal(_) => "no",
                CheckResult::Unknown => "undecided",
            };
            let name = if follower {
                "follower reads"
            } else {
                variant.name
            };
            stale.row(vec![
                name.to_string(),
                servers.to_string(),
                s.reads.to_string(),
                format!("{:.2}%", 100.0 * s.stale_fraction()),
                verdict.to_string(),
            ]);
        }
    }
    out += &format!(
        "4. Stale reads (chapter 10's definition) and the linearizability checker's verdict, \
         8 clients,\n50% reads on 10 keys, whole histories:\n\n{}",
        stale.render()
    );

    print!("{out}");
    println!("trace hash of all runs: {:016x}", hash.0);
    let common = &args.common;
    let io = |e: std::io::Error| e.to_string();
    common
        .emit("code/outputs/ch10_reads.txt", &out)
        .map_err(io)?;
    let [reads, writes] = <[Chart; 2]>::try_from(charts).map_err(|_| "a chart per mix")?;
    common
        .emit("src/figures/ch10_reads.svg", &reads.to_svg())
        .map_err(io)?;
    common
        .emit("src/figures/ch10_reads_writes.svg", &writes.to_svg())
        .map_err(io)?;
    Ok(())
}
