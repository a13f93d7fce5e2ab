//! Chapter 16 (partitioning) figures and tables: the fraction of keys that move when one node
//! joins, for mod-N, the ring, rendezvous and jump hashing, against the ideal `1/(N + 1)`; and
//! the load imbalance (busiest node over the mean) of the ring as its virtual nodes per node
//! grow, with the other schemes and bounded loads as references.
//!
//! Keys are pseudo-random 64-bit numbers derived from `--seed`; nothing else is random, so the
//! same seed gives the same files.
//!
//! outputs: code/outputs/ch16_moved.txt src/figures/ch16_moved.svg
//! outputs: code/outputs/ch16_imbalance.txt src/figures/ch16_imbalance.svg
//!
//! Run: `cargo run --release -p uds --example ch16_partitioning -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::partitioning::measure::{imbalance, join_moves, loads, random_keys};
use uds::scalability::partitioning::{BoundedLoads, Jump, ModN, Partitioner, Rendezvous, Ring};

/// Keys moved by a join, and imbalance against virtual nodes.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Keys placed in each measurement.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    keys: u64,
    /// The largest cluster that a node joins in the first figure.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(2..=500))]
    max_nodes: u64,
    /// Virtual nodes per node of the ring in the first figure.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    vnodes: u64,
    /// Nodes in the imbalance figure.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=1_000))]
    nodes: u64,
}

/// Virtual nodes per node in the imbalance figure.
const VNODES: [usize; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/// Node-name sets averaged per point of the imbalance figure (different token positions).
const RINGS: usize = 10;
/// Cluster sizes the moved-keys table shows.
const TABLE_N: [usize; 6] = [1, 2, 5, 10, 20, 50];

fn schemes(n: usize, vnodes: usize) -> Vec<Box<dyn Partitioner>> {
    vec![
        Box::new(ModN { n }),
        Box::new(Ring::with_nodes(n, vnodes)),
        Box::new(Rendezvous::with_nodes(n)),
        Box::new(Jump { buckets: n as u32 }),
    ]
}

fn main() -> ExitCode {
    let args = Args::parse();
    let keys = random_keys(args.common.seed, args.keys as usize);
    let (moved_table, moved_svg) = moved(&args, &keys);
    let (imb_table, imb_svg) = imbalance_figure(&args, &keys);
    print!("{moved_table}\n{imb_table}");
    for (path, text) in [
        ("code/outputs/ch16_moved.txt", &moved_table),
        ("src/figures/ch16_moved.svg", &moved_svg),
        ("code/outputs/ch16_imbalance.txt", &imb_table),
        ("src/figures/ch16_imbalance.svg", &imb_svg),
    ] {
        if let Err(e) = args.common.emit(path, text) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The moved-keys table and figure.
fn moved(args: &Args, keys: &[u64]) -> (String, String) {
    let names: Vec<&str> = schemes(1, 1).iter().map(|s| s.name()).collect();
    let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); names.len()];
    let mut headers = vec!["N -> N+1", "ideal 1/(N+1)"];
    headers.extend(names.iter().copied());
    headers.push("min to new node");
    let mut table = Table::new(&headers);
    for n in 1..=args.max_nodes as usize {
        let mut row = vec![
            format!("{n} -> {}", n + 1),
            format!("{:.3}", 1.0 / (n + 1) as f64),
        ];
        let mut min_to_new = 1.0f64;
        for (i, mut scheme) in schemes(n, args.vnodes as usize).into_iter().enumerate() {
            let moves = join_moves(scheme.as_mut(), keys);
            series[i].push((n as f64, moves.moved));
            row.push(format!("{:.3}", moves.moved));
            if names[i] != "mod-N" {
                min_to_new = min_to_new.min(moves.to_new_node);
            }
        }
        row.push(format!("{min_to_new:.3}"));
        if TABLE_N.contains(&n) {
            table.row(row);
        }
    }
    let mut chart = Chart::new(
        "Keys moved when one node joins N nodes",
        "nodes before the join, N",
        "fraction of keys that move (log scale)",
    );
    chart.log_y = true;
    chart.legend = SeriesLabelPosition::LowerLeft;
    for (name, points) in names.iter().zip(series) {
        chart = chart.with(Series::line(name, points));
    }
    let ideal = (1..=args.max_nodes)
        .map(|n| (n as f64, 1.0 / (n + 1) as f64))
        .collect();
    chart = chart.with(Series::dashed("ideal 1/(N+1)", ideal));
    let header = format!(
        "Fraction of {} keys that move when a node joins N nodes (ring: {} virtual nodes per \
         node)\nLast column: the smallest share of moved keys that went to the new node (ring, \
         rendezvous, jump)\n",
        keys.len(),
        args.vnodes
    );
    (header + &table.render(), chart.to_svg())
}

/// The imbalance table and figure.
fn imbalance_figure(args: &Args, keys: &[u64]) -> (String, String) {
    let n = args.nodes as usize;
    let mut table = Table::new(&["vnodes per node", "ring max/mean", "bounded eps=0.25"]);
    let (mut ring_points, mut bounded_points) = (Vec::new(), Vec::new());
    for vnodes in VNODES {
        let (mut ring_sum, mut bounded_sum) = (0.0, 0.0);
        for trial in 0..RINGS {
            // Nodes named trial*n .. trial*n + n: the same count, other token positions.
            let mut ring = Ring::new(vnodes);
            for node in trial * n..trial * n + n {
                ring.add_node(node);
            }
            let mut per_node = vec![0u64; trial * n + n];
            for &key in keys {
                per_node[ring.owner(key).expect("nodes")] += 1;
            }
            ring_sum += imbalance(&per_node[trial * n..]);
            let mut bounded = BoundedLoads::new(ring, 0.25);
            for &key in keys {
                bounded.assign(key);
            }
            let held: Vec<u64> = bounded.loads()[trial * n..]
                .iter()
                .map(|&l| l as u64)
                .collect();
            bounded_sum += imbalance(&held);
        }
        let (r, b) = (ring_sum / RINGS as f64, bounded_sum / RINGS as f64);
        ring_points.push((vnodes as f64, r));
        bounded_points.push((vnodes as f64, b));
        table.row(vec![
            vnodes.to_string(),
            format!("{r:.3}"),
            format!("{b:.3}"),
        ]);
    }
    let mut chart = Chart::new(
        &format!("Load imbalance over {n} nodes against virtual nodes per node"),
        "virtual nodes per node (log scale)",
        "busiest node's keys / mean",
    );
    chart.log_x = true;
    chart.x_ticks = Some(VNODES.iter().map(|&v| v as f64).collect());
    chart.legend = SeriesLabelPosition::UpperRight;
    chart = chart
        .with(Series::line("ring", ring_points))
        .with(Series::line(
            "ring, bounded loads eps = 0.25",
            bounded_points,
        ));
    let span = |y: f64| vec![(VNODES[0] as f64, y), (VNODES[VNODES.len() - 1] as f64, y)];
    let mut refs = String::new();
    for scheme in schemes(n, 1) {
        if scheme.name() == "ring" {
            continue;
        }
        let y = imbalance(&loads(scheme.as_ref(), keys));
        refs += &format!("{}: {y:.3}; ", scheme.name());
        chart = chart.with(Series::dashed(scheme.name(), span(y)));
    }
    let header = format!(
        "Busiest node's keys over the mean, {} keys on {n} nodes\n(ring: mean of {RINGS} rings \
         with different node names)\nReferences without virtual nodes: {}\n",
        keys.len(),
        refs.trim_end_matches("; ")
    );
    (header + &table.render(), chart.to_svg())
}
