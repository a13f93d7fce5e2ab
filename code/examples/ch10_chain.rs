//! Chapter 10 experiment: throughput, latency and stale reads of chain replication, CRAQ and
//! Raft.
//!
//! Part 1 runs a read-heavy and a write-heavy workload on clusters of growing size, with reads
//! at the tail (classic chain replication), at any replica (CRAQ), through the Raft leader's log,
//! and from any Raft server's applied state (follower reads), and reports throughput, latency
//! percentiles and how busy the busiest server was. Part 2 counts stale reads when reads go to
//! the tail, to any replica with CRAQ's check, to any replica without it, to the Raft leader and
//! to any Raft server, and runs the linearizability checker on every history.
//!
//! Every system is run through [`run_system`] on the same [`Environment`] and [`Mix`], and
//! measured from its client history alone ([`measure`]). Raft servers sit behind the same
//! processor queue as chain replicas (`src/coordination/chain_vs_raft.rs`).
//!
//! outputs: code/outputs/ch10_chain.txt code/outputs/ch10_stale_reads.txt
//! outputs: code/outputs/ch10_chain_summary.txt
//! outputs: src/figures/ch10_chain.svg src/figures/ch10_chain_writes.svg
//!
//! Run: `cargo run --release -p uds --example ch10_chain -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::chain_replication::{
    ChainSetup, Operation, ReadMode, StaleReadReport, Workload, check_stale_reads, run,
};
use uds::coordination::linearizability::{CheckResult, KvModel, check};
use uds::coordination::raft::Config;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{Fnv64, Histogram, Latency, LinkConfig};

use uds::coordination::chain_vs_raft::{RaftReadMode, RaftSetup, run_raft};

/// Throughput, latency and stale reads of chain replication, CRAQ and Raft.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Closed-loop clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Virtual time each run lasts, in milliseconds (the first fifth is warm-up).
    #[arg(long, default_value_t = 1_000)]
    duration_ms: u64,
    /// Processing time of one message at a replica, in microseconds.
    #[arg(long, default_value_t = 200)]
    service_us: u64,
}

// ANCHOR: system
/// The systems the experiment compares. Each is run by [`run_system`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    /// Chain replication, reads at the tail.
    ChainTail,
    /// CRAQ: reads at any replica, with the dirty-read rule.
    Craq,
    /// Chain replication, reads at any replica without CRAQ's check.
    ChainNaive,
    /// Raft, reads and writes through the leader's log.
    RaftLeader,
    /// Raft, writes through the leader, reads answered by any server from its applied state.
    RaftFollower,
}
// ANCHOR_END: system

impl System {
    fn name(self) -> &'static str {
        match self {
            System::ChainTail => "chain, tail reads",
            System::Craq => "CRAQ",
            System::ChainNaive => "chain, naive any-replica reads",
            System::RaftLeader => "Raft, leader reads",
            System::RaftFollower => "Raft, follower reads",
        }
    }
}

// ANCHOR: environment
/// What every system runs on: clients, network and servers.
#[derive(Clone, Debug)]
struct Environment {
    /// Closed-loop clients, one request in flight each.
    clients: usize,
    /// Mean of the exponential think time between an answer and the next request.
    think_time_mean: Duration,
    /// Every link (client-server and server-server): one-way delay uniform in [min, max].
    link: LinkConfig,
    /// Each server handles one message at a time, taking this long per message.
    service_time: Duration,
    /// Clients send requests during this much virtual time.
    duration: Duration,
    /// Operations that return before this are not measured.
    warmup: Duration,
}

/// What clients ask: reads and appends of unique tokens, keys uniform over `keys`.
#[derive(Clone, Copy, Debug)]
struct Mix {
    name: &'static str,
    /// The name in the short table.
    short: &'static str,
    read_fraction: f64,
    keys: u64,
}
// ANCHOR_END: environment

const READ_HEAVY: Mix = Mix {
    name: "read-heavy (95% reads)",
    short: "read-heavy",
    read_fraction: 0.95,
    keys: 1_000,
};
const WRITE_HEAVY: Mix = Mix {
    name: "write-heavy (20% reads)",
    short: "write-heavy",
    read_fraction: 0.2,
    keys: 1_000,
};
/// Light load: few clients, so that latency shows the protocol rather than queueing.
const LIGHT: Mix = Mix {
    name: "light load (50% reads)",
    short: "light",
    read_fraction: 0.5,
    keys: 1_000,
};
/// Clients of the runs whose histories go to the linearizability checker.
const CHECKED_CLIENTS: usize = 8;
/// Clients of the light-load runs.
const LIGHT_CLIENTS: usize = 4;
/// Few keys, so that reads often meet writes in progress.
const CONTENDED: Mix = Mix {
    name: "contended (50% reads, 10 keys)",
    short: "contended",
    read_fraction: 0.5,
    keys: 10,
};

/// What one run produced, as any system reports it.
struct RunResult {
    history: Vec<Operation>,
    /// Messages each server handled.
    handled: Vec<u64>,
    trace_hash: u64,
}

// ANCHOR: run_system
/// Runs `system` with `replicas` servers on `env` and `mix`.
fn run_system(
    system: System,
    replicas: usize,
    env: &Environment,
    mix: Mix,
    seed: u64,
) -> Result<RunResult, String> {
    let workload = Workload {
        read_fraction: mix.read_fraction,
        keys: mix.keys,
        think_time_mean: env.think_time_mean,
    };
    let read_mode = match system {
        System::ChainTail => ReadMode::Tail,
        System::Craq => ReadMode::Craq,
        System::ChainNaive => ReadMode::Naive,
        System::RaftLeader | System::RaftFollower => {
            let setup = RaftSetup {
                servers: replicas,
                clients: env.clients,
                read_mode: if system == System::RaftLeader {
                    RaftReadMode::Leader
                } else {
                    RaftReadMode::Follower
                },
                workload,
                link: env.link.clone(),
                service_time: env.service_time,
                duration: env.duration,
                config: Config::default(),
            };
            let outcome = run_raft(&setup, seed)?;
            if outcome.elections != 1 || outcome.retries != 0 {
                return Err(format!(
                    "{} with {replicas} servers, seed {seed}: {} elections and {} retries; the \
                     comparison assumes one stable leader",
                    system.name(),
                    outcome.elections,
                    outcome.retries
                ));
            }
            return Ok(RunResult {
                history: outcome.history,
                handled: outcome.handled,
                trace_hash: outcome.trace_hash,
            });
        }
    };
    let setup = ChainSetup {
        chain_length: replicas,
        clients: env.clients,
        read_mode,
        workload,
        link: env.link.clone(),
        service_time: env.service_time,
        duration: env.duration,
        read_rule: None,
        failures: None,
    };
    let outcome = run(&setup, seed)?;
    Ok(RunResult {
        history: outcome.history,
        handled: outcome.handled,
        trace_hash: outcome.trace_hash,
    })
}
// ANCHOR_END: run_system

/// What the tables report about one run.
struct Measured {
    throughput: f64,
    read_p50_ms: f64,
    write_p50_ms: f64,
    p99_ms: f64,
    busiest_pct: f64,
    stale: StaleReadReport,
}

/// Measures a run from its history: operations returning after the warm-up count.
fn measure(result: &RunResult, env: &Environment) -> Result<Measured, String> {
    let from = env.warmup.as_nanos() as u64;
    let to = env.duration.as_nanos() as u64;
    let mut latency = Histogram::default();
    let mut reads = Histogram::default();
    let mut writes = Histogram::default();
    for op in &result.history {
        if op.output.is_some() && (from..to).contains(&op.return_ns) {
            let ms = (op.return_ns - op.call_ns) as f64 / 1e6;
            latency.record(ms);
            if op.input.is_write() {
                writes.record(ms);
            } else {
                reads.record(ms);
            }
        }
    }
    let window_s = (to - from) as f64 / 1e9;
    let busiest = result.handled.iter().copied().max().unwrap_or(0);
    let busy_s = busiest as f64 * env.service_time.as_secs_f64();
    Ok(Measured {
        throughput: latency.len() as f64 / window_s,
        read_p50_ms: reads.percentile(50.0).unwrap_or(f64::NAN),
        write_p50_ms: writes.percentile(50.0).unwrap_or(f64::NAN),
        p99_ms: latency.percentile(99.0).unwrap_or(f64::NAN),
        busiest_pct: 100.0 * busy_s / env.duration.as_secs_f64(),
        stale: check_stale_reads(&result.history).map_err(|e| e.to_string())?,
    })
}

/// One-way delay of every link: uniform between these.
const LINK_MIN: Duration = Duration::from_micros(200);
const LINK_MAX: Duration = Duration::from_micros(1_000);

/// The environment in one sentence, for the outputs' headers.
fn describe(env: &Environment) -> String {
    format!(
        "{} closed-loop clients, think time exponential with mean {} us;\nevery link uniform \
         {}-{} us one way; each replica serves one message at a time, {} us each;\n{} ms per \
         run, the first {} ms not measured; keys uniform.",
        env.clients,
        env.think_time_mean.as_micros(),
        LINK_MIN.as_micros(),
        LINK_MAX.as_micros(),
        env.service_time.as_micros(),
        env.duration.as_millis(),
        env.warmup.as_millis(),
    )
}

const CHAIN_LENGTHS: [usize; 5] = [1, 2, 3, 5, 7];
/// The two sizes of the short table (`ch10_chain_summary.txt`), in increasing order.
const SUMMARY_SIZES: [usize; 2] = [3, 7];

/// The systems of the throughput comparison, in the order of the table and the legends.
const COMPARED: [System; 4] = [
    System::ChainTail,
    System::Craq,
    System::RaftLeader,
    System::RaftFollower,
];

/// How the Raft runs differ from the chain runs, for the outputs' footnotes.
const RAFT_NOTE: &str = "\
Raft: every message a server receives waits in the same one-at-a-time queue as a replica's
(client requests, AppendEntries, their answers, votes). Writes go to the leader, which answers
once the entry is committed and applied; \"leader reads\" go through the log the same way;
\"follower reads\": a random server answers from its applied state. Raft also sends heartbeats
every 50 ms and batches up to 64 entries per AppendEntries when a follower is behind. Links
reorder messages: a chain replica buffers a write that arrives early, while this Raft's follower
rejects an AppendEntries that overtook its predecessor and the leader sends it again, which
costs the leader extra messages. Server 0 starts an election at time 0, and every run keeps
that leader (the experiment fails otherwise).";

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
    if args.duration_ms < 10 {
        return Err(format!(
            "--duration-ms {} is too short (at least 10)",
            args.duration_ms
        ));
    }
    let duration = Duration::from_millis(args.duration_ms);
    let env = Environment {
        clients: args.clients,
        think_time_mean: Duration::from_millis(1),
        link: LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
            min: LINK_MIN,
            max: LINK_MAX,
        }),
        service_time: Duration::from_micros(args.service_us),
        duration,
        warmup: duration / 5,
    };
    let seed = args.common.seed;
    let mut hash = Fnv64::default();

    // One table per workload, titled with its client count, so that the lines stay narrow.
    let mut tables = Vec::new();
    // One figure per saturating mix, so that no line hides another.
    let mut charts = Vec::new();
    // The telling rows for the book's page: each system at 3 and 7 servers, per mix.
    let mut summary = Table::new(&[
        "workload",
        "system",
        "ops/s, 3",
        "ops/s, 7",
        "write ms, 3",
        "write ms, 7",
        "busiest, 7",
    ]);
    // Light load first (latency without queueing), then saturation (capacity).
    let light = Environment {
        clients: LIGHT_CLIENTS,
        ..env.clone()
    };
    for (env, mix) in [(&light, LIGHT), (&env, READ_HEAVY), (&env, WRITE_HEAVY)] {
        let mut chart = Chart::new(
            &format!("Throughput as the cluster grows, {}", mix.name),
            "servers (chain length, or Raft cluster size)",
            "throughput (operations per simulated second)",
        );
        // Where the lines leave room: read-heavy lines climb to the right, write-heavy ones
        // start high on the left.
        // Cluster sizes are integers measured at a few points: label those, and only those.
        chart.x_ticks = Some(CHAIN_LENGTHS.iter().map(|&n| n as f64).collect());
        chart.legend = if mix.read_fraction > 0.5 {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::UpperRight
        };
        let mut top: f64 = 1.0;
        let mut table = Table::new(&[
            "system",
            "servers",
            "ops/s",
            "read p50 (ms)",
            "write p50 (ms)",
            "p99 (ms)",
            "busiest server",
        ]);
        for system in COMPARED {
            let mut points = Vec::new();
            let mut at = Vec::new();
            for n in CHAIN_LENGTHS {
                let result = run_system(system, n, env, mix, seed)?;
                hash.u64(result.trace_hash);
                let m = measure(&result, env)?;
                table.row(vec![
                    system.name().to_string(),
                    n.to_string(),
                    format!("{:.0}", m.throughput),
                    format!("{:.2}", m.read_p50_ms),
                    format!("{:.2}", m.write_p50_ms),
                    format!("{:.2}", m.p99_ms),
                    format!("{:.0}%", m.busiest_pct),
                ]);
                points.push((n as f64, m.throughput));
                if SUMMARY_SIZES.contains(&n) {
                    at.push(m);
                }
            }
            if let [small, large] = at.as_slice() {
                summary.row(vec![
                    mix.short.to_string(),
                    system.name().to_string(),
                    format!("{:.0}", small.throughput),
                    format!("{:.0}", large.throughput),
                    format!("{:.2}", small.write_p50_ms),
                    format!("{:.2}", large.write_p50_ms),
                    format!("{:.0}%", large.busiest_pct),
                ]);
            }
            top = points.iter().fold(top, |t, p| t.max(p.1));
            chart = chart.with(if system == System::RaftFollower {
                Series::dashed(&format!("{} (not linearizable)", system.name()), points)
            } else {
                Series::line(system.name(), points)
            });
        }
        // Throughput axes start at zero, so that ratios between lines read true; the headroom
        // above the highest point keeps the legend clear of the data.
        chart.y_range = Some((0.0, top * 1.3));
        tables.push(format!(
            "{}, {} clients:\n\n{}",
            mix.name,
            env.clients,
            table.render()
        ));
        if env.clients != LIGHT_CLIENTS {
            charts.push(chart);
        }
    }
    let header = format!(
        "seed {seed}; {}\n\"busiest server\": the largest fraction of the run that a server's \
         processor was busy.\n{RAFT_NOTE}\n\n",
        describe(&env)
    );
    let throughput = header + &tables.join("\n");
    let summary_text = format!(
        "seed {seed}; the rows of code/outputs/ch10_chain.txt at 3 and 7 servers \
         (light load: {LIGHT_CLIENTS} clients;\nsaturated: {} clients); \"write ms\": \
         median write latency in ms;\n\"busiest\": the largest fraction of the run that a \
         server was busy.\n\n{}",
        env.clients,
        summary.render()
    );

    let mut stale = Table::new(&[
        "system",
        "servers",
        "reads",
        "behind a write",
        "behind a read",
        "stale",
    ]);
    // The linearizability checker's search is exponential in concurrent operations per key: it
    // gets its own, smaller runs, few enough clients that it always decides.
    let mut verdicts = Table::new(&["system", "servers", "operations", "stale", "linearizable"]);
    let checked = Environment {
        clients: CHECKED_CLIENTS,
        ..env.clone()
    };
    for n in [3, 5] {
        for system in [
            System::ChainTail,
            System::Craq,
            System::ChainNaive,
            System::RaftLeader,
            System::RaftFollower,
        ] {
            let result = run_system(system, n, &env, CONTENDED, seed)?;
            hash.u64(result.trace_hash);
            let s = measure(&result, &env)?.stale;
            stale.row(vec![
                system.name().to_string(),
                n.to_string(),
                s.reads.to_string(),
                s.behind_write.to_string(),
                s.behind_read.to_string(),
                format!("{:.2}%", 100.0 * s.stale_fraction()),
            ]);
            let result = run_system(system, n, &checked, CONTENDED, seed)?;
            hash.u64(result.trace_hash);
            let s = measure(&result, &checked)?.stale;
            let verdict = match check(&KvModel, &result.history) {
                CheckResult::Ok => "yes",
                CheckResult::Illegal(_) => "no",
                CheckResult::Unknown => "undecided",
            };
            verdicts.row(vec![
                system.name().to_string(),
                n.to_string(),
                result.history.len().to_string(),
                format!("{:.2}%", 100.0 * s.stale_fraction()),
                verdict.to_string(),
            ]);
        }
    }
    let stale_text = format!(
        "seed {seed}; {}\nworkload: {}.\nA read is stale if it misses an append acknowledged \
         before it began (behind a write)\nor returns less than another read returned before \
         it began (behind a read).\n{RAFT_NOTE}\n\n{}\nThe same workload with \
         {CHECKED_CLIENTS} clients, each whole history (warm-up included) given to\n\
         coordination::linearizability::check (\"undecided\": the search ran out of its \
         budget):\n\n{}",
        describe(&env),
        CONTENDED.name,
        stale.render(),
        verdicts.render()
    );

    print!("{throughput}\n{stale_text}");
    println!("trace hash of all runs: {:016x}", hash.0);
    let common = &args.common;
    let io = |e: std::io::Error| e.to_string();
    common
        .emit("code/outputs/ch10_chain.txt", &throughput)
        .map_err(io)?;
    common
        .emit("code/outputs/ch10_stale_reads.txt", &stale_text)
        .map_err(io)?;
    common
        .emit("code/outputs/ch10_chain_summary.txt", &summary_text)
        .map_err(io)?;
    let [reads, writes] = <[Chart; 2]>::try_from(charts).map_err(|_| "two saturating mixes")?;
    common
        .emit("src/figures/ch10_chain.svg", &reads.to_svg())
        .map_err(io)?;
    common
        .emit("src/figures/ch10_chain_writes.svg", &writes.to_svg())
        .map_err(io)?;
    Ok(())
}
