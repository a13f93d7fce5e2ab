//! Chapter 3 experiment: what the record layer does with each fault, on the simulator.
//!
//! A client completes the teaching handshake with a server, then sends records, one per
//! millisecond, over a link that (after the handshake) flips bits (an on-path attacker),
//! duplicates, reorders or loses them. The server opens each arrival with one of two
//! receivers: in order only (TLS, which relies on TCP below it) or with a 64-record replay
//! window (DTLS, over datagrams). The table counts each outcome.
//!
//! outputs: code/outputs/ch03_attacks.txt
//!
//! Run: `cargo run --release -p uds --example ch03_attacks -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::communication::secure_links::sim_link::{self, Receiver, Scenario};
use uds::experiment::{ExperimentArgs, Table};
use uds::sim::LinkConfig;

#[derive(Parser, Debug)]
#[command(about = "Outcomes of each record-layer fault, in-order vs replay-window receivers")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Records sent per run.
    #[arg(long, default_value_t = 1_000)]
    records: u64,
    /// The probability of each fault per record.
    #[arg(long, default_value_t = 0.02)]
    rate: f64,
}

/// The five conditions of the table, each fault with probability `rate` per record.
fn scenarios(rate: f64) -> Vec<Scenario> {
    let base = LinkConfig::constant(Duration::from_millis(5));
    let row = |name, link, tamper| Scenario { name, link, tamper };
    vec![
        row("clean link", base.clone(), 0.0),
        row("bits flipped", base.clone(), rate),
        row("duplicated", base.clone().with_duplicate(rate), 0.0),
        row(
            "reordered",
            base.clone().with_reorder(rate, Duration::from_millis(5)),
            0.0,
        ),
        row("lost", base.with_loss(rate), 0.0),
    ]
}

const OUTCOMES: [&str; 7] = [
    "accepted",
    "tampered",
    "malformed",
    "replayed",
    "out of order",
    "too old",
    "other",
];

fn main() -> ExitCode {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.rate) || args.records == 0 {
        eprintln!("--rate must be in [0, 1] and --records at least 1");
        return ExitCode::FAILURE;
    }
    let mut headers = vec!["fault", "receiver"];
    headers.extend(OUTCOMES);
    let mut table = Table::new(&headers);
    for scenario in scenarios(args.rate) {
        for (receiver, name) in [
            (Receiver::InOrder, "in order"),
            (Receiver::Window(64), "window"),
        ] {
            let outcomes = sim_link::run(&scenario, receiver, args.records, args.common.seed);
            let mut row = vec![scenario.name.to_string(), name.to_string()];
            for outcome in OUTCOMES {
                row.push(outcomes.get(outcome).copied().unwrap_or(0).to_string());
            }
            table.row(row);
        }
    }
    let text = format!(
        "{} records sent per run, each fault with probability {} per record, seed {}\n\n{}",
        args.records,
        args.rate,
        args.common.seed,
        table.render()
    );
    print!("{text}");
    if let Err(e) = args.common.emit("code/outputs/ch03_attacks.txt", &text) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
