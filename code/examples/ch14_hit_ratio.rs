//! Chapter 14 experiment: hit ratio and origin load against `max-age`, through the real proxy
//! and the real origin on loopback.
//!
//! For each `max-age`, a fresh origin and proxy start on 127.0.0.1 and `--requests` requests
//! for Zipf-popular objects go through the proxy one at a time, while a manual clock both
//! servers read advances one second every `--rate` requests. Requests are sequential and the
//! clock moves only between them, so the counts are exact and the same on every machine.
//! The origin sends an `ETag`, so a stale copy is revalidated: the table separates origin
//! requests that cost a whole body (200) from those answered `304 Not Modified`.
//!
//! outputs: code/outputs/ch14_hit_ratio.txt src/figures/ch14_hit_ratio.svg
//! outputs: src/figures/ch14_origin_load.svg
//!
//! Run: `cargo run --release -p uds --example ch14_hit_ratio -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::http_caching::workload::{Outcome, Workload, run};

/// Hit ratio and origin load vs max-age through the real caching proxy.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Distinct objects.
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Zipf exponent of object popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    /// Requests per max-age.
    #[arg(long, default_value_t = 3000)]
    requests: u64,
    /// Requests per simulated second.
    #[arg(long, default_value_t = 10)]
    rate: u64,
    /// Responses the proxy keeps (LRU).
    #[arg(long, default_value_t = 1000)]
    capacity: usize,
}

const MAX_AGES: [u64; 6] = [0, 1, 5, 30, 120, 600];

fn main() -> ExitCode {
    let args = Args::parse();
    if args.objects == 0 || args.requests == 0 || args.rate == 0 || args.capacity == 0 {
        eprintln!("error: --objects, --requests, --rate and --capacity must be positive");
        return ExitCode::FAILURE;
    }
    if !args.zipf.is_finite() || args.zipf < 0.0 || args.requests > 1_000_000 {
        eprintln!("error: --zipf must be a finite number >= 0 and --requests at most 1000000");
        return ExitCode::FAILURE;
    }
    let runtime = match uds::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut outcomes = Vec::new();
    for max_age in MAX_AGES {
        let workload = Workload {
            objects: args.objects,
            zipf: args.zipf,
            requests: args.requests,
            rate: args.rate,
            cache_control: format!("max-age={max_age}"),
            capacity: args.capacity,
            seed: args.common.seed,
        };
        match runtime.block_on(run(&workload)) {
            Ok(o) => outcomes.push((max_age, o)),
            Err(e) => {
                eprintln!(
                    "error at max-age={max_age} (seed {}): {e}",
                    args.common.seed
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let table = render(&args, &outcomes);
    print!("{table}");
    let (hit, load) = charts(&args, &outcomes);
    let written = args
        .common
        .emit("code/outputs/ch14_hit_ratio.txt", &table)
        .and_then(|()| args.common.emit("src/figures/ch14_hit_ratio.svg", &hit))
        .and_then(|()| args.common.emit("src/figures/ch14_origin_load.svg", &load));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn render(args: &Args, outcomes: &[(u64, Outcome)]) -> String {
    let mut t = Table::new(&[
        "max-age (s)",
        "hits",
        "hit ratio",
        "origin requests",
        "of which 304",
        "origin bytes (KiB)",
        "evictions",
    ]);
    for (max_age, o) in outcomes {
        t.row(vec![
            max_age.to_string(),
            o.hits.to_string(),
            format!("{:.1}%", 100.0 * o.hits as f64 / args.requests as f64),
            o.origin_requests.to_string(),
            o.not_modified.to_string(),
            (o.origin_bytes / 1024).to_string(),
            o.evictions.to_string(),
        ]);
    }
    format!(
        "{} requests per max-age, {} objects, Zipf s = {}, {} requests/s, capacity {}, \
         seed {}\n\n{}",
        args.requests,
        args.objects,
        args.zipf,
        args.rate,
        args.capacity,
        args.common.seed,
        t.render()
    )
}

fn charts(args: &Args, outcomes: &[(u64, Outcome)]) -> (String, String) {
    // max-age 0 cannot sit on a log axis; the table shows it.
    let positive: Vec<&(u64, Outcome)> = outcomes.iter().filter(|(m, _)| *m > 0).collect();
    let ticks: Vec<f64> = positive.iter().map(|(m, _)| *m as f64).collect();
    let per_request = |f: &dyn Fn(&Outcome) -> u64| -> Vec<(f64, f64)> {
        let scale = 100.0 / args.requests as f64;
        positive
            .iter()
            .map(|(m, o)| (*m as f64, f(o) as f64 * scale))
            .collect()
    };
    let subtitle = format!("{} objects, Zipf s = {}", args.objects, args.zipf);
    let mut hit = Chart::new(
        &format!("Proxy hit ratio vs max-age ({subtitle})"),
        "max-age (s, log scale)",
        "hit ratio (% of requests)",
    )
    .with(Series::line("hit ratio", per_request(&|o| o.hits)));
    hit.log_x = true;
    hit.x_ticks = Some(ticks.clone());
    hit.y_range = Some((0.0, 100.0));
    hit.legend = SeriesLabelPosition::LowerRight;
    let mut load = Chart::new(
        &format!("Origin load vs max-age ({subtitle})"),
        "max-age (s, log scale)",
        "origin requests (% of client requests)",
    )
    .with(Series::line(
        "all origin requests",
        per_request(&|o| o.origin_requests),
    ))
    .with(Series::dashed(
        "full responses (200)",
        per_request(&|o| o.origin_requests - o.not_modified),
    ))
    .with(Series::points(
        "revalidations (304)",
        per_request(&|o| o.not_modified),
    ));
    load.log_x = true;
    load.x_ticks = Some(ticks);
    load.y_range = Some((0.0, 100.0));
    load.legend = SeriesLabelPosition::UpperRight;
    (hit.to_svg(), load.to_svg())
}
