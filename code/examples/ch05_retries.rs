//! Chapter 5 experiment: duplicate side effects per 1,000 requests when clients retry over a
//! lossy network, with and without idempotency keys.
//!
//! Clients create notes one after another and retry after a timeout; the network drops each
//! request and each response independently with the row's probability. Both runs of a seed,
//! with and without keys, exchange the same messages and meet the same losses.
//!
//! outputs: code/outputs/ch05_retries.txt
//!
//! Run: `cargo run --release -p uds --example ch05_retries -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::communication::apis::retries::{Outcome, Setup, expected_duplicates_per_op, run};
use uds::experiment::{ExperimentArgs, Table};

/// Duplicate side effects with and without idempotency keys, for several loss rates.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Runs (consecutive seeds from --seed) per loss rate.
    #[arg(long, default_value_t = 30)]
    runs: u64,
    /// Loss rates to try, in per cent, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,5,10,20,30")]
    loss_percent: Vec<f64>,
    /// How long a client waits for a response before retrying, in milliseconds.
    #[arg(long, default_value_t = 50)]
    timeout_ms: u64,
    /// Largest one-way delay, in milliseconds (the smallest is 1 ms).
    #[arg(long, default_value_t = 10)]
    latency_max_ms: u64,
}

struct Row {
    loss: f64,
    without: Outcome,
    with: Outcome,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let setups: Result<Vec<(Setup, Setup)>, String> = args
        .loss_percent
        .iter()
        .map(|&percent| {
            let make = |keys| Setup {
                timeout: Duration::from_millis(args.timeout_ms),
                latency_max: Duration::from_millis(args.latency_max_ms),
                ..Setup::book(keys, percent / 100.0)
            };
            let (without, with) = (make(false), make(true));
            without.validate()?;
            Ok((without, with))
        })
        .collect();
    let setups = match setups {
        Ok(s) if args.runs > 0 && !s.is_empty() => s,
        Ok(_) => {
            eprintln!("error: --runs and --loss-percent must not be empty or zero");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(end) = args.common.seed.checked_add(args.runs) else {
        eprintln!("error: --seed plus --runs must fit in 64 bits");
        return ExitCode::FAILURE;
    };
    let seeds = args.common.seed..end;
    let rows: Vec<Row> = std::thread::scope(|scope| {
        let handles: Vec<_> = setups
            .iter()
            .map(|(without, with)| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    let (mut a, mut b) = (Outcome::default(), Outcome::default());
                    for seed in seeds {
                        a.add(&run(without, seed));
                        b.add(&run(with, seed));
                    }
                    Row {
                        loss: without.loss,
                        without: a,
                        with: b,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run panicked"))
            .collect()
    });
    let text = report(&args, &setups[0].0, &rows);
    print!("{text}");
    match args.common.emit("code/outputs/ch05_retries.txt", &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn per_thousand(count: u64, ops: u64) -> String {
    format!("{:.1}", 1_000.0 * count as f64 / ops.max(1) as f64)
}

fn report(args: &Args, setup: &Setup, rows: &[Row]) -> String {
    let mut table = Table::new(&[
        "loss",
        "requests",
        "sent",
        "dup, no keys",
        "per 1,000",
        "1,000 p/(1-p)",
        "dup, keys",
        "replays",
        "gave up",
    ]);
    for row in rows {
        let (w, k) = (&row.without, &row.with);
        table.row(vec![
            format!("{:.0}%", row.loss * 100.0),
            w.ops.to_string(),
            w.attempts.to_string(),
            w.duplicates.to_string(),
            per_thousand(w.duplicates, w.ops),
            format!("{:.1}", 1_000.0 * expected_duplicates_per_op(row.loss)),
            k.duplicates.to_string(),
            k.replays.to_string(),
            (w.gave_up + k.gave_up).to_string(),
        ]);
    }
    format!(
        "seeds {}..{} per row; {} clients x {} requests each; one-way delay uniform {}-{} ms;\n\
         retry after {} ms without a response, at most {} attempts.\n\
         \"sent\": requests sent, retries included. \"dup\": executions beyond the first of\n\
         one request (duplicate side effects). \"replays\": responses replayed from the key\n\
         store. \"gave up\": requests abandoned after the last attempt, both runs together.\n\n{}",
        args.common.seed,
        args.common.seed + args.runs - 1,
        setup.clients,
        setup.ops_per_client,
        setup.latency_min.as_millis(),
        setup.latency_max.as_millis(),
        setup.timeout.as_millis(),
        setup.max_attempts,
        table.render()
    )
}
