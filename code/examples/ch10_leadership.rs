//! Raft in practice: four situations where basic Raft's elections misbehave, each run with
//! neither, either or both of CheckQuorum and PreVote.
//!
//! Five servers and one client on links of 2-8 ms, default timeouts (150-300 ms, heartbeats
//! every 50 ms). The cluster settles for a second, then the fault strikes; every row is the mean
//! (or count) over the same seeds. See `uds::coordination::raft::leadership::scenarios`.
//!
//! outputs: code/outputs/ch10_leadership.txt
//!
//! Run: `cargo run --release -p uds --example ch10_leadership -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::raft::leadership::scenarios::{HORIZON, Mechanisms, Outcome, Scenario, run};
use uds::experiment::{ExperimentArgs, Table};

/// CheckQuorum and PreVote against four faults.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Runs (seeds) per scenario and setting.
    #[arg(long, default_value_t = 20)]
    runs: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.runs == 0 {
        eprintln!("error: --runs must be at least 1");
        return ExitCode::FAILURE;
    }
    let mut table = Table::new(&[
        "scenario",
        "mechanisms",
        "served",
        "elections",
        "term rise",
        "outage (ms)",
        "old reign (ms)",
        "old appends",
    ]);
    for scenario in Scenario::ALL {
        for mechanisms in Mechanisms::ALL {
            let mut outcomes = Vec::new();
            for i in 0..args.runs {
                let seed = args.common.seed.wrapping_mul(1_000_003).wrapping_add(i);
                match run(scenario, mechanisms, seed) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            table.row(row(scenario, mechanisms, &outcomes));
        }
    }
    let text = format!(
        "seed {}; {} runs per row; 5 servers, 1 client, links 2-8 ms, timeouts 150-300 ms;\n\
         the fault strikes after 1 s and each run lasts {} s more. served: runs whose client\n\
         had an answer in the last second. elections, term rise: means from the fault on\n\
         (for rejoin, from the cut on). outage: mean longest time without an answer. old\n\
         reign, old appends: how long the leader at the fault went on leading, and the\n\
         entries it appended meanwhile.\n\n{}",
        args.common.seed,
        args.runs,
        HORIZON.as_secs(),
        table.render()
    );
    print!("{text}");
    if let Err(e) = args.common.emit("code/outputs/ch10_leadership.txt", &text) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One row: counts and means over the runs of one scenario and setting.
fn row(scenario: Scenario, mechanisms: Mechanisms, outcomes: &[Outcome]) -> Vec<String> {
    let n = outcomes.len() as f64;
    let mean = |f: &dyn Fn(&Outcome) -> f64| outcomes.iter().map(f).sum::<f64>() / n;
    let served = outcomes.iter().filter(|o| o.served_at_end).count();
    vec![
        scenario.label().to_string(),
        mechanisms.label().to_string(),
        format!("{served}/{}", outcomes.len()),
        format!("{:.1}", mean(&|o| o.elections as f64)),
        format!("{:.1}", mean(&|o| o.term_jump as f64)),
        format!("{:.0}", mean(&|o| o.longest_outage.as_secs_f64() * 1e3)),
        format!("{:.0}", mean(&|o| o.old_leader_reign.as_secs_f64() * 1e3)),
        format!("{:.1}", mean(&|o| o.old_leader_appends as f64)),
    ]
}
