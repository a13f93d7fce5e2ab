//! Chapter 10, Raft in practice: the real-fault test, measured. Runs the Jepsen-style test of
//! `uds::driver::jepsen` for a few seeds (five server processes on 127.0.0.1, five clients, a
//! nemesis of kills, restarts and partitions) and reports, per seed, the faults, the history's
//! size, its unknown outcomes, how long the cluster took to answer after the heal, and the
//! checker's verdict. Wall-clock and machine-dependent, so the file it writes lives in
//! `code/outputs/measured/` and is regenerated only by hand, with the command below.
//!
//! The server processes are this example itself, started again with the subcommand `node`
//! (examples cannot name the crate's `raft-node` binary, which only tests see built).
//!
//! Run: `cargo run --release -p uds --example ch10_jepsen -- --write .`

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::driver::jepsen::{self, Fault, JepsenOptions, NodeCommand};
use uds::driver::process::{NodeArgs, main_with};
use uds::driver::workload::WorkloadOptions;
use uds::experiment::{ExperimentArgs, Table, runtime};

/// The real-fault test for a few seeds, with its results as a table.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// How many seeds to run, from `--seed` on.
    #[arg(long, default_value_t = 3)]
    runs: u64,
    /// Seconds of faults per run.
    #[arg(long, default_value_t = 10)]
    secs: u64,
}

const OUTPUT: &str = "code/outputs/measured/ch10_jepsen.txt";

fn main() -> ExitCode {
    // Started by the harness as a server: `ch10_jepsen node --id ...`.
    if std::env::args().nth(1).as_deref() == Some("node") {
        let rest = std::env::args().skip(2);
        return main_with(NodeArgs::parse_from(
            std::iter::once("raft-node".into()).chain(rest),
        ));
    }
    let args = Args::parse();
    if args.runs == 0 || args.runs > 100 || args.secs == 0 || args.secs > 600 {
        eprintln!("error: --runs must be in 1..=100 and --secs in 1..=600");
        return ExitCode::FAILURE;
    }
    match measure(&args) {
        Ok(text) => {
            print!("{text}");
            if let Err(e) = args.common.emit(OUTPUT, &text) {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn measure(args: &Args) -> Result<String, String> {
    let program = std::env::current_exe().map_err(|e| format!("cannot find myself: {e}"))?;
    let rt = runtime()?;
    let mut table = Table::new(&[
        "seed",
        "kills",
        "partitions",
        "ops",
        "unknown",
        "answered after heal",
        "verdict",
        "check",
    ]);
    let mut schedule = String::new();
    for seed in args.common.seed..args.common.seed + args.runs {
        let options = JepsenOptions {
            node: NodeCommand {
                program: program.clone(),
                prefix: vec!["node".into()],
            },
            servers: 5,
            clients: 5,
            seed,
            duration: Duration::from_secs(args.secs),
            every: Duration::from_millis(1_000),
            workload: WorkloadOptions::default(),
            recovery: Duration::from_secs(20),
            node_flags: Vec::new(),
        };
        let report = rt.block_on(jepsen::run(&options))?;
        let count = |f: fn(&Fault) -> bool| report.faults.iter().filter(|(_, x)| f(x)).count();
        let kills = count(|f| matches!(f, Fault::Kill(_)));
        let cuts = count(|f| matches!(f, Fault::Partition(_) | Fault::Stall(_) | Fault::OneWay(_)));
        let verdict = match &report.verdict {
            uds::coordination::linearizability::CheckResult::Ok => "linearizable",
            uds::coordination::linearizability::CheckResult::Illegal(_) => "ILLEGAL",
            uds::coordination::linearizability::CheckResult::Unknown => "unknown",
        };
        table.row(vec![
            seed.to_string(),
            kills.to_string(),
            cuts.to_string(),
            report.history.len().to_string(),
            report.unknown.to_string(),
            format!("{} ms", report.recovered_in.as_millis()),
            verdict.to_string(),
            format!("{} ms", report.check_time.as_millis()),
        ]);
        if seed == args.common.seed {
            schedule +=
                &format!("The nemesis of seed {seed} (the last heal also restarts the killed):\n");
            for (at, fault) in &report.faults {
                schedule += &format!("{:>7} ms  {fault}\n", at.as_millis());
            }
        }
    }
    Ok(format!(
        "Regenerate: cargo run --release -p uds --example ch10_jepsen -- --write .\n\
         Measured on loopback (127.0.0.1): five raft-node processes, five clients on three keys,\n\
         {} s of faults per seed; machine-dependent.\n\n{}\n{schedule}",
        args.secs,
        table.render()
    ))
}
