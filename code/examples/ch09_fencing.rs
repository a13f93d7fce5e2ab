//! Chapter 9 experiment: stale writes accepted per 1,000 leadership changes, with and without
//! fencing tokens, as process pauses grow relative to the lease's TTL.
//!
//! Three clients compete for one lease (TTL 1 s, margin 100 ms, renewals every 300 ms) and the
//! leader writes every 250 ms, each write leaving its lease check 20 ms before it is sent.
//! Pauses of one fixed length hit a random client, on average every 2 s. Each pause length is
//! run over the same seeds twice, against a storage that ignores tokens and one that checks
//! them; the pause schedule depends only on the seed, so both face the same pauses.
//!
//! outputs: code/outputs/ch09_fencing.txt
//!
//! Run: `cargo run --release -p uds --example ch09_fencing -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::leader_election::scenario::{Outcome, Setup, run_with_pauses};
use uds::experiment::{ExperimentArgs, Table};
use uds::sim::{Latency, LinkConfig};

/// Stale writes accepted vs pause length, with and without fencing tokens.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Runs (consecutive seeds from --seed) per pause length and storage.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    runs: u64,
    /// Virtual time each run lasts, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    seconds: u64,
    /// Mean time between the starts of two pauses, in milliseconds.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pause_every_ms: u64,
    /// Time between a leader's writes, in milliseconds.
    #[arg(long, default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    write_every_ms: u64,
    /// Time from a leader's lease check to sending its write, in milliseconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    work_ms: u64,
}

/// Pause lengths tried, in per cent of the TTL.
const PAUSE_PERCENT_OF_TTL: [u64; 8] = [25, 50, 70, 80, 100, 150, 200, 400];

/// One pause length's totals over every run, without and with fencing.
struct Row {
    pause: Duration,
    unfenced: Outcome,
    fenced: Outcome,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let ms = Duration::from_millis;
    let setup = Setup {
        clients: 3,
        write_every: ms(args.write_every_ms),
        work: ms(args.work_ms),
        link: LinkConfig::constant(ms(1)).with_latency(Latency::Uniform {
            min: ms(1),
            max: ms(5),
        }),
        ..Setup::book(false)
    };
    if let Err(e) = setup.validate() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.common.seed.checked_add(args.runs).is_none() {
        eprintln!("error: --seed plus --runs overflows a 64-bit seed");
        return ExitCode::FAILURE;
    }
    let rows = measure(&args, &setup);
    let text = report(&args, &setup, &rows);
    print!("{text}");
    let mut hash = Outcome::default();
    for row in &rows {
        hash.add(&row.unfenced);
        hash.add(&row.fenced);
    }
    println!("trace hash of all runs: {:016x}", hash.trace_hash);
    match args.common.emit("code/outputs/ch09_fencing.txt", &text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every pause length, one thread per length (results do not depend on the threads).
fn measure(args: &Args, setup: &Setup) -> Vec<Row> {
    let duration = Duration::from_secs(args.seconds);
    let every = Duration::from_millis(args.pause_every_ms);
    let seeds = args.common.seed..args.common.seed + args.runs;
    std::thread::scope(|scope| {
        let handles: Vec<_> = PAUSE_PERCENT_OF_TTL
            .iter()
            .map(|&percent| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    let pause = setup.ttl * percent as u32 / 100;
                    let total = |fencing: bool| {
                        let setup = Setup {
                            fencing,
                            ..setup.clone()
                        };
                        let mut sum = Outcome::default();
                        for seed in seeds.clone() {
                            sum.add(&run_with_pauses(&setup, seed, pause, every, duration));
                        }
                        sum
                    };
                    Row {
                        pause,
                        unfenced: total(false),
                        fenced: total(true),
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run panicked"))
            .collect()
    })
}

fn per_thousand(count: u64, changes: u64) -> String {
    format!("{:.1}", 1_000.0 * count as f64 / changes.max(1) as f64)
}

fn report(args: &Args, setup: &Setup, rows: &[Row]) -> String {
    let mut table = Table::new(&[
        "pause (ms)",
        "pause/TTL",
        "new leases",
        "stale, no fencing",
        "per 1,000 leases",
        "stale, fencing",
        "refused",
    ]);
    for row in rows {
        let u = &row.unfenced;
        table.row(vec![
            row.pause.as_millis().to_string(),
            format!("{:.2}", row.pause.as_secs_f64() / setup.ttl.as_secs_f64()),
            u.leadership_changes.to_string(),
            u.stale_accepted.to_string(),
            per_thousand(u.stale_accepted, u.leadership_changes),
            row.fenced.stale_accepted.to_string(),
            row.fenced.writes_refused.to_string(),
        ]);
    }
    format!(
        "seeds {}..{}, {} s each; {} clients, TTL {} ms, margin {} ms, renew every {} ms;\n\
         a write every {} ms, {} ms from lease check to send; a pause every {} ms on average.\n\
         \"new leases\": leadership changes (grants with a new token), in the runs without \
         fencing.\n\"stale\": accepted writes whose token is below one the storage had \
         already accepted (lost updates).\n\"refused\": writes the fencing storage turned \
         away.\n\n{}",
        args.common.seed,
        args.common.seed + args.runs - 1,
        args.seconds,
        setup.clients,
        setup.ttl.as_millis(),
        setup.margin.as_millis(),
        setup.renew_every.as_millis(),
        setup.write_every.as_millis(),
        setup.work.as_millis(),
        args.pause_every_ms,
        table.render()
    )
}
