//! Chapter 13 experiment: the outbox, the orchestrated saga and the choreographed saga, crashed
//! at every crash point and under seeded random crash schedules.
//!
//! outputs: code/outputs/ch13_crashes.txt code/outputs/ch13_semantic_lock.txt
//!
//! Run: `cargo run --release -p uds --example ch13_crashes -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::async_transactions::isolation::interleavings;
use uds::coordination::async_transactions::orchestrator::refusing_step;
use uds::coordination::async_transactions::scenarios::{Kind, Tally, every_step, random};
use uds::experiment::{ExperimentArgs, Table};

#[derive(Parser)]
#[command(about = "Crash the outbox and the sagas at every step and at random")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Random-schedule runs per system (seeds --seed, --seed + 1, ...).
    #[arg(long, default_value_t = 50)]
    runs: u64,
    /// Probability of a crash at each crash point in the random runs.
    #[arg(long, default_value_t = 0.05)]
    crash_probability: f64,
}

fn row(table: &mut Table, kind: Kind, name: String, t: &Tally) {
    let saga = matches!(kind, Kind::Orchestrated | Kind::Choreographed);
    let sagas = |n: u64| if saga { n.to_string() } else { "-".to_string() };
    table.row(vec![
        name,
        t.runs.to_string(),
        t.crashes.to_string(),
        t.published.to_string(),
        t.unique.to_string(),
        t.duplicates.to_string(),
        t.effects.to_string(),
        t.twice.to_string(),
        t.lost.to_string(),
        sagas(t.committed),
        sagas(t.compensated),
    ]);
}

fn run(args: &Args) -> Result<(), String> {
    if !(0.0..1.0).contains(&args.crash_probability) {
        return Err(format!(
            "--crash-probability {} must be at least 0 and below 1",
            args.crash_probability
        ));
    }
    let Some(end) = args.common.seed.checked_add(args.runs) else {
        return Err(format!(
            "--seed {} plus --runs {} does not fit in 64 bits",
            args.common.seed, args.runs
        ));
    };
    let mut table = Table::new(&[
        "system", "runs", "crashes", "sent", "unique", "dup", "effects", "twice", "lost", "commit",
        "comp",
    ]);
    for kind in Kind::ALL {
        let t = every_step(kind, true)?;
        let name = format!("{}, every point", kind.name());
        assert_eq!(t.runs, t.points, "one run per crash point");
        row(&mut table, kind, name, &t);
    }
    let p = args.crash_probability;
    for kind in Kind::SAFE {
        let seeds = args.common.seed..end;
        let t = random(kind, seeds, p)?;
        row(&mut table, kind, format!("{}, random", kind.name()), &t);
    }
    let crashes = table.render();
    println!("{crashes}");

    let mut locks = Table::new(&[
        "semantic lock",
        "saga",
        "reader positions",
        "miles awarded",
        "miles for cancelled",
    ]);
    for lock in [false, true] {
        for saga in [3, 4] {
            let outcome = match refusing_step(saga) {
                Some(step) => format!("{} refuses", step.name()),
                None => "commits".to_string(),
            };
            let i = interleavings(saga, lock)?;
            locks.row(vec![
                if lock { "on" } else { "off" }.to_string(),
                outcome,
                i.runs.to_string(),
                i.awarded.to_string(),
                i.awarded_for_cancelled.to_string(),
            ]);
        }
    }
    let locks = locks.render();
    println!("{locks}");
    let emit = |path: &str, text: &str| {
        args.common
            .emit(path, text)
            .map_err(|e| format!("cannot write {path}: {e}"))
    };
    emit("code/outputs/ch13_crashes.txt", &crashes)?;
    emit("code/outputs/ch13_semantic_lock.txt", &locks)
}

fn main() -> ExitCode {
    match run(&Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
