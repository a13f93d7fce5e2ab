//! Chapter 18 experiment: how much of Maglev's table moves when one backend is removed.
//!
//! For tables of M = 1,009, 65,537 and 655,373 entries (primes; the last two are the sizes the
//! Maglev paper evaluates) and fleets of N = 5 to 500 backends, build the table, remove one
//! backend, rebuild, and count the entries that changed owner. Entries of the removed backend
//! must move (about M/N of them); every other move is disruption a perfect scheme would avoid.
//! Each cell averages `TRIALS` removals of different backends from different fleets.
//! The same code checks balance: the most and fewest entries any backend holds.
//!
//! outputs: code/outputs/ch18_maglev.txt src/figures/ch18_maglev.svg
//!
//! Run: `cargo run --release -p uds --example ch18_maglev -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::load_balancing::maglev::{disruption, entries_per_backend, populate};

#[derive(Parser, Debug)]
#[command(about = "Maglev: entries that move when a backend is removed, vs M and N")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

const TABLE_SIZES: [usize; 3] = [1_009, 65_537, 655_373];
const FLEETS: [usize; 5] = [5, 10, 50, 100, 500];
const TRIALS: u64 = 3;

/// One cell: mean fraction of entries changed, mean needless fraction, worst balance spread.
struct Cell {
    m: usize,
    n: usize,
    changed: f64,
    needless: f64,
    spread: usize,
}

// ANCHOR: measure
/// Removes one backend of `n` from a table of `m` entries; returns (changed, needless, spread).
fn remove_one(m: usize, n: usize, seed: u64, trial: u64) -> (usize, usize, usize) {
    let names: Vec<String> = (0..n).map(|i| format!("s{seed}-t{trial}-b{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let before = populate(&refs, m).expect("m prime and larger than n");
    let removed = (seed.wrapping_mul(31).wrapping_add(trial * 7) as usize) % n;
    let mut rest = refs.clone();
    rest.remove(removed);
    let after = populate(&rest, m).expect("m prime and larger than n - 1");
    let counts = entries_per_backend(&before, n);
    let spread = counts.iter().max().unwrap() - counts.iter().min().unwrap();
    let (changed, needless) = disruption(&before, &after, removed);
    (changed, needless, spread)
}
// ANCHOR_END: measure

fn cells(seed: u64) -> Vec<Cell> {
    let mut cells = Vec::new();
    for m in TABLE_SIZES {
        for n in FLEETS.into_iter().filter(|&n| n < m) {
            let (mut changed, mut needless, mut spread) = (0, 0, 0);
            for trial in 0..TRIALS {
                let (c, x, s) = remove_one(m, n, seed, trial);
                changed += c;
                needless += x;
                spread = spread.max(s);
            }
            let total = (m as u64 * TRIALS) as f64;
            cells.push(Cell {
                m,
                n,
                changed: changed as f64 / total,
                needless: needless as f64 / total,
                spread,
            });
        }
    }
    cells
}

fn table(cells: &[Cell], seed: u64) -> String {
    let mut table = Table::new(&[
        "M",
        "N",
        "moved (% of M)",
        "ideal 1/N (%)",
        "needless (% of M)",
        "balance: max-min",
    ]);
    for c in cells {
        table.row(vec![
            c.m.to_string(),
            c.n.to_string(),
            format!("{:.2}", 100.0 * c.changed),
            format!("{:.2}", 100.0 / c.n as f64),
            format!("{:.3}", 100.0 * c.needless),
            c.spread.to_string(),
        ]);
    }
    format!(
        "{}\nOne backend of N removed; mean of {TRIALS} removals per row, seed {seed}.\n\
         'needless' entries moved between two backends that both stayed.\n",
        table.render()
    )
}

fn figure(cells: &[Cell]) -> String {
    let mut chart = Chart::new(
        "Maglev: entries moved between surviving backends when one of N is removed",
        "backends N (log scale)",
        "needless moves (% of table entries)",
    );
    chart.log_x = true;
    chart.legend = SeriesLabelPosition::UpperLeft;
    chart.x_ticks = Some(FLEETS.iter().map(|&n| n as f64).collect());
    for m in TABLE_SIZES {
        let points = cells
            .iter()
            .filter(|c| c.m == m)
            .map(|c| (c.n as f64, 100.0 * c.needless))
            .collect();
        chart = chart.with(Series::line(&format!("M = {m}"), points));
    }
    chart.to_svg()
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cells = cells(args.common.seed);
    let text = table(&cells, args.common.seed);
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/ch18_maglev.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/ch18_maglev.svg", &figure(&cells))
        });
    if let Err(e) = written {
        eprintln!("ch18_maglev: could not write the outputs: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
