//! Chapter 11 (leaderless replication): the campaign's two claims, counted over many seeds,
//! with sloppy quorums off and on.
//!
//! Each seed runs the campaign's deployment (five servers, N=3 R=2 W=2, three clients on eight
//! keys, 600 ms of random crashes, restarts and partitions, then quiet time for hinted
//! handoff and anti-entropy) and checks (1) that every read covers every put completed before
//! it started and (2) that replicas converge with no completed put lost. The table counts the
//! seeds where each check fails, and the anti-entropy traffic. With `--seeds 1` (a replay) it
//! prints the keys' owners, the seed's faults and the first stale read of that seed, if any.
//!
//! outputs: code/outputs/ch11_dynamo.txt
//!
//! Run: `cargo run --release -p uds --example ch11_dynamo -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::leaderless::run::campaign_setup;
use uds::coordination::leaderless::run::faults;
use uds::coordination::leaderless::{Quorum, check_convergence, check_fresh_reads, run};
use uds::experiment::{ExperimentArgs, Table};

/// Stale reads and convergence over many seeds, sloppy quorums off and on.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// How many seeds, starting at `--seed`.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    seeds: u64,
    /// Replies a read waits for (of N = 3).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3))]
    r: u64,
    /// Acknowledgements a write waits for (of N = 3).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3))]
    w: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let quorum = Quorum {
        n: 3,
        r: args.r as usize,
        w: args.w as usize,
    };
    let mut table = Table::new(&[
        "sloppy",
        "seeds",
        "stale seeds",
        "read/put pairs",
        "unconverged",
        "AE hashes/seed",
        "AE keys/seed",
    ]);
    if args.seeds == 1 {
        // A replay: what the run was made of, to read a stale read against.
        let setup = campaign_setup(quorum, false);
        let ring = setup.ring();
        println!("Owners (preference lists) of the keys; clients are nodes 5 to 7:");
        for key in 0..setup.workload.keys {
            println!("  key {key}: servers {:?}", ring.preference_list(key, 3));
        }
        println!("Faults of seed {}:", args.common.seed);
        for (at, fault) in faults(&setup, args.common.seed) {
            println!("  at {:.3}s {fault}", at.as_secs_f64());
        }
        println!();
    }
    for sloppy in [false, true] {
        let setup = campaign_setup(quorum, sloppy);
        let (mut stale, mut checked, mut diverged, mut hashes, mut keys) = (0, 0, 0, 0, 0);
        for seed in args.common.seed..args.common.seed + args.seeds {
            let out = match run(&setup, seed) {
                Ok(out) => out,
                Err(e) => {
                    eprintln!("error: seed {seed}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            hashes += out.ae_hashes;
            keys += out.ae_keys;
            match check_fresh_reads(&out.history) {
                Ok(pairs) => checked += pairs,
                Err(why) => {
                    stale += 1;
                    if args.seeds == 1 {
                        println!("sloppy {sloppy}, seed {seed}: {why}");
                    }
                }
            }
            if let Err(why) = check_convergence(&setup, &out) {
                diverged += 1;
                eprintln!("seed {seed}, sloppy {sloppy}: did not converge: {why}");
            }
        }
        table.row(vec![
            if sloppy { "on" } else { "off" }.to_string(),
            args.seeds.to_string(),
            stale.to_string(),
            checked.to_string(),
            diverged.to_string(),
            (hashes / args.seeds).to_string(),
            (keys / args.seeds).to_string(),
        ]);
    }
    let text = format!(
        "{quorum}, 5 servers, 3 clients, 8 keys; crashes, restarts and partitions for 600 ms.\n\
         A stale read misses a put that completed before the read started; read/put pairs\n\
         counts (read, earlier completed put) pairs on seeds without a stale read.\n\n{}",
        table.render()
    );
    print!("{text}");
    if let Err(e) = args.common.emit("code/outputs/ch11_dynamo.txt", &text) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
