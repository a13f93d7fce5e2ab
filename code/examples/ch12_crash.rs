//! Chapter 12 experiment: the write-ahead log's crash test, counted.
//!
//! For each seeded workload (transactions interleaved three at a time over a few keys, some
//! aborting), the machine is crashed right after every single append to the log, and each
//! crash is recovered once for every prefix of the bytes not yet synced: from none of them to
//! all of them, so every byte of a torn last record is tried. Every recovered table is compared
//! with what the clients were told. The table counts what was checked.
//!
//! outputs: code/outputs/ch12_crash.txt
//!
//! Run: `cargo run --release -p uds --example ch12_crash -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::atomic_commit::crash::{CrashReport, Workload, check_every_crash_point};
use uds::coordination::atomic_commit::wal::redo;
use uds::experiment::{ExperimentArgs, Table};

/// Crash after every WAL append, tear at every byte, recover, check.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Workloads (seeds `seed..seed+workloads`).
    #[arg(long, default_value_t = 4)]
    workloads: u64,
    /// Transactions per workload.
    #[arg(long, default_value_t = 30)]
    txns: usize,
    /// Keys the transactions write.
    #[arg(long, default_value_t = 5)]
    keys: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.workloads == 0 || args.txns == 0 || args.keys == 0 {
        eprintln!("error: --workloads, --txns and --keys must be at least 1");
        return ExitCode::FAILURE;
    }
    let Some(end) = args.common.seed.checked_add(args.workloads) else {
        eprintln!("error: --seed plus --workloads must fit in a u64");
        return ExitCode::FAILURE;
    };
    let mut table = Table::new(&[
        "workload",
        "crash points",
        "images",
        "torn",
        "acked txns checked",
        "unacked commit kept",
    ]);
    let mut total = CrashReport::default();
    for seed in args.common.seed..end {
        let workload = Workload::generate(seed, args.txns, args.keys);
        let report = match check_every_crash_point(&workload, redo) {
            Ok(report) => report,
            Err(why) => {
                eprintln!("workload {seed} FAILED: {why}");
                return ExitCode::FAILURE;
            }
        };
        table.row(row(&format!("seed {seed}"), &report));
        total.add(&report);
    }
    table.row(row("total", &total));
    let text = format!(
        "{} workloads of {} transactions over {} keys; every recovered table was correct\n\n{}",
        args.workloads,
        args.txns,
        args.keys,
        table.render()
    );
    print!("{text}");
    if let Err(e) = args.common.emit("code/outputs/ch12_crash.txt", &text) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn row(name: &str, r: &CrashReport) -> Vec<String> {
    vec![
        name.to_string(),
        r.crash_points.to_string(),
        r.images.to_string(),
        r.torn.to_string(),
        r.acked_checked.to_string(),
        r.in_flight_survived.to_string(),
    ]
}
