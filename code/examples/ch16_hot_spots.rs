//! Chapter 16 (partitioning) table: hot spots under range partitioning (fixed ranges, and
//! ranges that split on size or load) and under hashing, for a Zipf workload whose popular keys
//! are neighbours and for sequential inserts. See `uds::scalability::partitioning::hot_spots`.
//!
//! outputs: code/outputs/ch16_hot_spots.txt
//!
//! Run: `cargo run --release -p uds --example ch16_hot_spots -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::scalability::partitioning::hot_spots::{HotSpotSetup, Scheme, Workload, run};

/// Range partitioning against hashing under skew and sequential inserts.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Nodes.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(2..=256))]
    nodes: u64,
    /// The Zipf exponent of the skewed workload.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// A splitting range splits past this many keys or requests.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(10..=1_000_000))]
    split_threshold: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.zipf.is_finite() && (0.0..=4.0).contains(&args.zipf)) {
        eprintln!(
            "error: --zipf must be a number between 0 and 4, got {}",
            args.zipf
        );
        return ExitCode::FAILURE;
    }
    let setup = HotSpotSetup {
        nodes: args.nodes as usize,
        key_space: 100_000,
        requests: 100_000,
        window: 1_000,
        split_threshold: args.split_threshold,
        seed: args.common.seed,
    };
    let mut table = Table::new(&[
        "workload",
        "scheme",
        "busiest/mean",
        "nodes per scan",
        "ranges",
    ]);
    for (wname, workload) in [
        (format!("Zipf s={}", args.zipf), Workload::Zipf(args.zipf)),
        ("sequential".to_string(), Workload::Sequential),
    ] {
        for (sname, scheme) in [
            ("fixed ranges", Scheme::FixedRanges),
            ("splitting ranges", Scheme::SplitRanges),
            ("hashing (jump)", Scheme::Hashed),
        ] {
            let r = run(&setup, workload, scheme);
            table.row(vec![
                wname.clone(),
                sname.to_string(),
                format!("{:.2}", r.imbalance),
                format!("{:.1}", r.scan_nodes),
                if r.ranges == 0 {
                    "-".to_string()
                } else {
                    r.ranges.to_string()
                },
            ]);
        }
    }
    let text = format!(
        "{} nodes, keys 0..{}, {} requests measured in windows of {} after as many to warm up\n\
         busiest/mean: the mean over windows of the busiest node's requests over the mean\n\
         nodes per scan: distinct nodes holding 100 neighbouring keys\n\
         splitting ranges split past {} keys or requests\n{}",
        setup.nodes,
        setup.key_space,
        setup.requests,
        setup.window,
        setup.split_threshold,
        table.render()
    );
    print!("{text}");
    if let Err(e) = args.common.emit("code/outputs/ch16_hot_spots.txt", &text) {
        eprintln!("cannot write code/outputs/ch16_hot_spots.txt: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
