//! Chapter 12 experiment: how long two-phase commit blocks when its coordinator dies.
//!
//! Part 1: one transaction over three participants that all vote yes, one-way latency 5 ms, no
//! loss; the coordinator crashes at one of four points of the protocol and restarts after a
//! given downtime. For each (crash point, downtime), the longest time a participant stayed in
//! doubt (prepared, outcome unknown) and held its lock, and the outcome. Part 2: the fault
//! campaign of the tests, summarized (loss, crashes and restarts of every node, many seeds).
//!
//! outputs: code/outputs/ch12_2pc_blocking.txt code/outputs/ch12_2pc_campaign.txt
//! outputs: src/figures/ch12_2pc_blocking.svg
//!
//! Run: `cargo run --release -p uds --example ch12_2pc -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::atomic_commit::twopc::{
    BlockingRun, CampaignRun, Config, CrashPoint, Faults, blocking_run, campaign_run,
};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series};

/// The blocking window of two-phase commit, and the campaign's counts.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Coordinator downtimes to try, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "250,500,1000,2000,4000")]
    downtime_ms: Vec<u64>,
    /// Seeds of the campaign (from `--seed`).
    #[arg(long, default_value_t = 1_000)]
    seeds: u64,
}

const LATENCY: Duration = Duration::from_millis(5);
/// The longest coordinator downtime the experiment accepts (ten simulated minutes).
const MAX_DOWN_MS: u64 = 600_000;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.downtime_ms.is_empty() || args.downtime_ms.iter().any(|&d| d == 0 || d > MAX_DOWN_MS) {
        eprintln!(
            "error: --downtime-ms needs at least one downtime, each from 1 to {MAX_DOWN_MS} ms"
        );
        return ExitCode::FAILURE;
    }
    if args.seeds == 0 || args.common.seed.checked_add(args.seeds).is_none() {
        eprintln!("error: --seeds must be at least 1, and --seed plus --seeds must fit in a u64");
        return ExitCode::FAILURE;
    }
    let config = Config::default();
    let blocking = blocking_table(&config, &args.downtime_ms);
    let (campaign, failed) = campaign_table(&config, args.common.seed, args.seeds);
    print!("{}\n{campaign}", blocking.0);
    let writes = [
        ("code/outputs/ch12_2pc_blocking.txt", &blocking.0),
        ("code/outputs/ch12_2pc_campaign.txt", &campaign),
        ("src/figures/ch12_2pc_blocking.svg", &blocking.1),
    ];
    for (path, text) in writes {
        if let Err(e) = args.common.emit(path, text) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    if failed {
        eprintln!("error: some seeds of the campaign failed (see above)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

/// The table and the figure of part 1.
fn blocking_table(config: &Config, downtimes_ms: &[u64]) -> (String, String) {
    let mut table = Table::new(&[
        "coordinator crashes",
        "down (ms)",
        "in doubt (ms)",
        "lock held (ms)",
        "outcome",
    ]);
    let mut chart = Chart::new(
        "2PC: how long participants hold locks when the coordinator dies",
        "coordinator downtime (s)",
        "longest lock hold at a participant (s)",
    );
    for crash in CrashPoint::ALL {
        let mut points = Vec::new();
        for &down_ms in downtimes_ms {
            let down = Duration::from_millis(down_ms);
            let BlockingRun {
                in_doubt_max,
                lock_held_max,
                committed,
            } = blocking_run(config, LATENCY, crash, down);
            table.row(vec![
                crash.label().to_string(),
                down_ms.to_string(),
                ms(in_doubt_max),
                ms(lock_held_max),
                if committed { "commit" } else { "abort" }.to_string(),
            ]);
            points.push((down.as_secs_f64(), lock_held_max.as_secs_f64()));
        }
        // The two middle crash points give almost the same line: draw one dashed so that both
        // stay visible.
        let series = match crash {
            CrashPoint::DuringForce => Series::dashed(crash.label(), points),
            _ => Series::line(crash.label(), points),
        };
        chart = chart.with(series);
    }
    let header = format!(
        "one transaction, 3 participants voting yes, one-way latency {} ms, decision force {} \
         ms,\nin-doubt query every {} ms, work timeout {} ms\n\n",
        ms(LATENCY),
        ms(config.log_force),
        ms(config.query_interval),
        ms(config.work_timeout)
    );
    (header + &table.render(), chart.to_svg())
}

/// The summary of part 2, and whether a seed failed.
fn campaign_table(config: &Config, first: u64, seeds: u64) -> (String, bool) {
    let faults = Faults::default();
    let mut total = CampaignRun::default();
    let mut failed = false;
    for seed in first..first + seeds {
        match campaign_run(seed, config, &faults) {
            Ok(run) => {
                total.committed += run.committed;
                total.aborted += run.aborted;
                total.coordinator_crashes += run.coordinator_crashes;
                total.participant_crashes += run.participant_crashes;
                total.in_doubt += run.in_doubt;
                total.refused_in_doubt += run.refused_in_doubt;
                total.refused_working += run.refused_working;
            }
            Err(why) => {
                eprintln!("seed {seed} FAILED: {why}");
                failed = true;
            }
        }
    }
    let mut table = Table::new(&["what", "count"]);
    let rows = [
        ("seeds", seeds),
        ("transactions committed", total.committed),
        ("transactions aborted", total.aborted),
        ("coordinator crashes", total.coordinator_crashes),
        ("participant crashes", total.participant_crashes),
        ("prepared at a participant, then resolved", total.in_doubt),
        (
            "WORK refused: lock held by an in-doubt txn",
            total.refused_in_doubt,
        ),
        (
            "WORK refused: lock held by unprepared work",
            total.refused_working,
        ),
    ];
    for (what, count) in rows {
        table.row(vec![what.to_string(), count.to_string()]);
    }
    let header = format!(
        "{} transactions per seed over {} participants; loss {:.0}%; crashes during the first \
         {} s,\nrun {} s in all; agreement checked after every event, termination at the end\n\n",
        config.txns,
        config.participants,
        faults.loss * 100.0,
        faults.fault_window.as_secs(),
        faults.run_for.as_secs()
    );
    (header + &table.render(), failed)
}
