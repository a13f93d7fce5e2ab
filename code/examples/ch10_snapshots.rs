//! Chapter 10 (Raft in practice) experiment: what log compaction buys, and how a follower that
//! fell behind a compacted log is caught up by InstallSnapshot (§7).
//!
//! Five servers and three clients on a 2 ms network. Shortly after the first election one
//! follower is cut off; the clients write while it is away; then it rejoins. The same seeded
//! run is repeated with compaction off and with three thresholds, and the table reports how
//! many snapshots the servers took, the longest log a server keeps on disk at the end (what a
//! restart would replay), how long the returning follower took to apply everything the leader
//! had committed when it came back, and how many InstallSnapshot messages that took.
//!
//! outputs: code/outputs/ch10_snapshots.txt
//!
//! Run: `cargo run --release -p uds --example ch10_snapshots -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::raft::cluster::{self, Cluster, KvNode};
use uds::experiment::{ExperimentArgs, Table};
use uds::sim::{Fault, LinkConfig, NodeId, Sim, Time};

/// Log compaction and a returning follower, with and without snapshots.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Operations each of the three clients issues.
    #[arg(long, default_value_t = 300)]
    ops: usize,
    /// How long the follower is cut off, in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    away_ms: u64,
}

/// What one run measured.
struct Run {
    snapshots_taken: u64,
    disk_entries: u64,
    catch_up_ms: f64,
    snapshots_sent: u64,
}

const SERVERS: usize = 5;

// ANCHOR: run
fn run(threshold: Option<u64>, args: &Args) -> Result<Run, String> {
    let mut shape = Cluster {
        servers: SERVERS,
        clients: 3,
        ops_per_client: args.ops,
        ..Cluster::default()
    };
    shape.config.log_compaction_threshold = threshold;
    let link = LinkConfig::constant(Duration::from_millis(2));
    let mut sim = shape
        .build(args.common.seed, link)
        .map_err(|e| e.to_string())?;
    sim.run_until(Time::from_millis(400))
        .map_err(|v| v.to_string())?;
    let (leader, _) = *cluster::leaders(&sim)
        .first()
        .ok_or("no leader after 400 ms")?;
    let slow = NodeId((leader.0 + 1) % SERVERS);
    let others: Vec<NodeId> = (0..SERVERS).map(NodeId).filter(|n| *n != slow).collect();
    sim.apply(Fault::Partition(vec![slow], others));
    let back = Time::from_millis(400 + args.away_ms);
    sim.run_until(back).map_err(|v| v.to_string())?;
    sim.apply(Fault::Heal);
    // Everything committed when the follower returns must reach its state machine.
    let target = (0..SERVERS)
        .filter_map(|i| cluster::server(&sim, NodeId(i)))
        .map(|s| s.commit_index())
        .max()
        .unwrap_or(0);
    let deadline = back + Duration::from_secs(10);
    while applied(&sim, slow) < target {
        if sim.now() > deadline || !sim.step().map_err(|v| v.to_string())? {
            return Err(format!("{slow} did not catch up by {deadline}"));
        }
    }
    let catch_up_ms = sim.now().since(back).as_secs_f64() * 1e3;
    sim.run_until(back + Duration::from_secs(10))
        .map_err(|v| v.to_string())?;
    let disk_entries = (0..SERVERS)
        .filter_map(|i| match sim.process(NodeId(i)) {
            Some(KvNode::Server(s)) => {
                let log = &s.storage.contents().log;
                Some(log.last_index() - log.offset())
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let metrics = sim.metrics();
    Ok(Run {
        snapshots_taken: metrics.counter("raft.snapshots_taken"),
        disk_entries,
        catch_up_ms,
        snapshots_sent: metrics.counter("raft.snapshots_sent"),
    })
}
// ANCHOR_END: run

fn applied(sim: &Sim<KvNode>, id: NodeId) -> u64 {
    cluster::server(sim, id).map_or(0, |s| s.last_applied())
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
    if args.ops == 0 || args.away_ms == 0 {
        return Err("--ops and --away-ms must be at least 1".into());
    }
    let mut table = Table::new(&[
        "threshold",
        "snapshots taken",
        "longest log on disk",
        "catch-up (ms)",
        "InstallSnapshot sent",
    ]);
    for threshold in [None, Some(256), Some(64), Some(16)] {
        let r = run(threshold, args)?;
        table.row(vec![
            threshold.map_or("off".into(), |t| t.to_string()),
            r.snapshots_taken.to_string(),
            r.disk_entries.to_string(),
            format!("{:.0}", r.catch_up_ms),
            r.snapshots_sent.to_string(),
        ]);
    }
    let text = format!(
        "Log compaction and a follower away for {} ms (seed {}; 5 servers, 3 clients x {} \
         operations,\n2 ms links). Regenerate: cargo run --release -p uds --example \
         ch10_snapshots -- --write .\n\n{}",
        args.away_ms,
        args.common.seed,
        args.ops,
        table.render()
    );
    print!("{text}");
    args.common
        .emit("code/outputs/ch10_snapshots.txt", &text)
        .map_err(|e| e.to_string())
}
