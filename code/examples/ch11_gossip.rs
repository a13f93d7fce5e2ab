//! Chapter 11 experiment: gossip rounds and messages until everyone knows, against fanout.
//!
//! One rumor starts at process 0 of `--nodes` processes. For each style (push, pull,
//! push-pull) and each fanout, `--runs` seeded runs on the simulator measure the rounds until
//! the last process learnt the rumor and the messages sent until then. The push curve is set
//! next to Pittel's estimate for fanout 1 (log2 N + ln N rounds), generalised to fanout f by
//! the same argument as log_{f+1} N + ln(N) / f.
//!
//! outputs: code/outputs/ch11_gossip.txt src/figures/ch11_gossip_rounds.svg
//! outputs: src/figures/ch11_gossip_messages.svg
//!
//! Run: `cargo run --release -p uds --example ch11_gossip -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::broadcast::gossip::{Style, spread};
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};

/// Rounds and messages of push, pull and push-pull gossip against fanout.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Processes in the group.
    #[arg(long, default_value_t = 1_000)]
    nodes: usize,
    /// Seeded runs per point (the table shows their mean).
    #[arg(long, default_value_t = 10)]
    runs: u64,
    /// The largest fanout tried (from 1).
    #[arg(long, default_value_t = 8)]
    max_fanout: usize,
}

/// Give up on a run after this many rounds (far more than any style needs).
const MAX_ROUNDS: u64 = 200;

// ANCHOR: estimate
/// Pittel (1987): push with fanout 1 informs everyone in log2 N + ln N rounds (plus O(1)).
/// For fanout f, the same two phases: the informed set grows by a factor f + 1 per round,
/// then each of the last uninformed processes is missed by a round's pushes with probability
/// about e^-f, so ln(N) / f more rounds.
fn push_estimate(n: usize, fanout: usize) -> f64 {
    let (n, f) = (n as f64, fanout as f64);
    n.ln() / (f + 1.0).ln() + n.ln() / f
}
// ANCHOR_END: estimate

fn main() -> ExitCode {
    let args = Args::parse();
    if args.nodes < 2 || args.nodes > 100_000 {
        eprintln!(
            "error: --nodes must be between 2 and 100000, got {}",
            args.nodes
        );
        return ExitCode::FAILURE;
    }
    if args.max_fanout == 0 || args.max_fanout >= args.nodes {
        eprintln!("error: --max-fanout must be between 1 and --nodes - 1");
        return ExitCode::FAILURE;
    }
    if args.runs == 0 || args.runs > 10_000 {
        eprintln!(
            "error: --runs must be between 1 and 10000, got {}",
            args.runs
        );
        return ExitCode::FAILURE;
    }
    let n = args.nodes;
    let mut table = Table::new(&[
        "style",
        "fanout",
        "rounds (mean)",
        "rounds (max)",
        "messages (mean)",
        "per process",
        "push estimate",
    ]);
    let mut rounds_chart = Chart::new(
        &format!("Gossip: rounds until all {n} processes know, vs fanout"),
        "fanout (peers called per process per round)",
        "rounds until everyone knows",
    );
    rounds_chart.legend = SeriesLabelPosition::UpperRight;
    let mut messages_chart = Chart::new(
        &format!("Gossip: messages until all {n} processes know, vs fanout"),
        "fanout (peers called per process per round)",
        "messages per process",
    );
    messages_chart.legend = SeriesLabelPosition::UpperLeft;
    for style in Style::ALL {
        let (mut rounds_points, mut message_points) = (Vec::new(), Vec::new());
        for fanout in 1..=args.max_fanout {
            let mut rounds = Vec::new();
            let mut messages = Vec::new();
            for run in 0..args.runs {
                let seed = args.common.seed.wrapping_mul(1_000_003).wrapping_add(run);
                let Some(s) = spread(style, n, fanout, seed, MAX_ROUNDS) else {
                    eprintln!(
                        "error: {} fanout {fanout} seed {seed} did not finish in {MAX_ROUNDS} \
                         rounds",
                        style.name()
                    );
                    return ExitCode::FAILURE;
                };
                rounds.push(s.rounds as f64);
                messages.push(s.messages as f64);
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            let max_rounds = rounds.iter().copied().fold(0.0, f64::max);
            let (r, m) = (mean(&rounds), mean(&messages));
            table.row(vec![
                style.name().to_string(),
                fanout.to_string(),
                format!("{r:.1}"),
                format!("{max_rounds:.0}"),
                format!("{m:.0}"),
                format!("{:.1}", m / n as f64),
                match style {
                    Style::Push => format!("{:.1}", push_estimate(n, fanout)),
                    _ => "-".to_string(),
                },
            ]);
            rounds_points.push((fanout as f64, r));
            message_points.push((fanout as f64, m / n as f64));
        }
        rounds_chart = rounds_chart.with(Series::line(style.name(), rounds_points));
        messages_chart = messages_chart.with(Series::line(style.name(), message_points));
    }
    let estimate = (1..=args.max_fanout)
        .map(|f| (f as f64, push_estimate(n, f)))
        .collect();
    rounds_chart = rounds_chart.with(Series::dashed(
        "push estimate: log_(f+1) N + ln(N)/f (Pittel for f = 1)",
        estimate,
    ));
    rounds_chart.y_range = Some((0.0, push_estimate(n, 1).ceil() + 2.0));
    let most = messages_chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    messages_chart.y_range = Some((0.0, (most / 10.0).ceil() * 10.0 + 10.0));
    // Whole fanouts only: a range about ten wide makes the axis tick every integer.
    let x_range = Some((0.0, args.max_fanout.max(9) as f64 + 1.0));
    rounds_chart.x_range = x_range;
    messages_chart.x_range = x_range;

    let text = format!(
        "{n} processes, one rumor from process 0, mean of {} seeded runs per row\n\
         (seed {}); a round is 100 ms, a message 1 ms.\n\n{}",
        args.runs,
        args.common.seed,
        table.render()
    );
    print!("{text}");
    for (path, contents) in [
        ("code/outputs/ch11_gossip.txt", text),
        ("src/figures/ch11_gossip_rounds.svg", rounds_chart.to_svg()),
        (
            "src/figures/ch11_gossip_messages.svg",
            messages_chart.to_svg(),
        ),
    ] {
        if let Err(e) = args.common.emit(path, &contents) {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
