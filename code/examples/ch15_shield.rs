//! Chapter 15 experiment: what a shield tier does for the origin and for the clients.
//!
//! Runs the chapter's CDN (six regions, four clients per region at 20 requests per second,
//! 10,000 objects with Zipf popularity, a 60 s TTL, a 50 ms origin) for two minutes, with one,
//! two or four edges per region, without and with a shield next to the origin. Prints origin
//! requests, hit ratios and client latency (median and 99th percentile).
//!
//! outputs: code/outputs/ch15_shield.txt src/figures/ch15_origin.svg
//! outputs: src/figures/ch15_latency.svg code/outputs/ch15_rtt.txt
//!
//! Run: `cargo run --release -p uds --example ch15_shield -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::cdn::geo::{REGIONS, rtt_ms};
use uds::scalability::cdn::scenario::{CdnConfig, Summary, run, summarize};

/// Origin load and client latency with and without a shield, vs edges per region.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// The numbers of edges per region to compare.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
    edges: Vec<usize>,
    /// The TTL of every object, in seconds.
    #[arg(long, default_value_t = 60)]
    ttl_s: u64,
    /// The Zipf exponent of object popularity.
    #[arg(long, default_value_t = 0.8)]
    zipf_s: f64,
}

/// One run's result: edges per region, shield or not, origin requests, coalesced at the
/// shield, summary.
type Row = (usize, bool, usize, u64, Summary);

fn main() -> ExitCode {
    let args = Args::parse();
    if args.edges.is_empty() || args.edges.iter().any(|e| !(1..=8).contains(e)) {
        eprintln!(
            "error: --edges must be numbers in 1..=8, got {:?}",
            args.edges
        );
        return ExitCode::FAILURE;
    }
    if !(1..=3_600).contains(&args.ttl_s) {
        eprintln!("error: --ttl-s must be in 1..=3600, got {}", args.ttl_s);
        return ExitCode::FAILURE;
    }
    let mut rows: Vec<Row> = Vec::new();
    for &edges in &args.edges {
        for shield in [false, true] {
            let config = CdnConfig {
                edges_per_region: edges,
                shield,
                ttl: Duration::from_secs(args.ttl_s),
                zipf_s: args.zipf_s,
                ..CdnConfig::book()
            };
            match run(&config, args.common.seed) {
                Ok(r) => {
                    let s = summarize(&r.outcomes);
                    rows.push((edges, shield, r.origin_fetches.len(), r.shield.coalesced, s));
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let c = CdnConfig::book();
    let text = format!(
        "seed {}; 6 regions x {} clients at {} req/s for {} s ({} requests per run);\n\
         {} objects, Zipf s = {}, TTL {} s; edge capacity {} objects; origin service {} ms;\n\
         shield next to the origin (us-east).\n\n{}",
        args.common.seed,
        c.clients_per_region,
        c.rate_per_client,
        c.duration.as_secs(),
        rows[0].4.requests,
        c.objects,
        args.zipf_s,
        args.ttl_s,
        c.edge_capacity,
        c.origin_service.as_millis(),
        table(&rows).render()
    );
    print!("{text}");
    let rtt = rtt_table();
    print!("\n{rtt}");
    let written = args
        .common
        .emit("code/outputs/ch15_shield.txt", &text)
        .and_then(|()| args.common.emit("code/outputs/ch15_rtt.txt", &rtt))
        .and_then(|()| {
            args.common
                .emit("src/figures/ch15_origin.svg", &origin_chart(&rows))
        })
        .and_then(|()| {
            args.common
                .emit("src/figures/ch15_latency.svg", &latency_chart(&rows))
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The round-trip times between the regions, and five round trips to the origin's region.
fn rtt_table() -> String {
    let mut headers = vec!["RTT (ms)"];
    headers.extend(REGIONS.iter().map(|r| r.name));
    headers.push("5 RTTs to us-east");
    let mut table = Table::new(&headers);
    for (a, region) in REGIONS.iter().enumerate() {
        let mut row = vec![region.name.to_string()];
        row.extend((0..REGIONS.len()).map(|b| format!("{:.0}", rtt_ms(a, b))));
        row.push(format!("{:.0}", 5.0 * rtt_ms(a, 0)));
        table.row(row);
    }
    table.render()
}

fn table(rows: &[Row]) -> Table {
    let mut table = Table::new(&[
        "edges",
        "shield",
        "origin reqs",
        "coalesced",
        "edge hits",
        "shield hits",
        "mean (ms)",
        "p50 (ms)",
        "p99 (ms)",
    ]);
    for (edges, shield, origin, coalesced, s) in rows {
        table.row(vec![
            (edges * 6).to_string(),
            if *shield { "yes" } else { "no" }.to_string(),
            origin.to_string(),
            if *shield {
                coalesced.to_string()
            } else {
                "-".to_string()
            },
            format!("{:.1}%", 100.0 * s.edge_hit),
            format!("{:.1}%", 100.0 * s.shield_hit),
            format!("{:.0}", s.mean_ms),
            format!("{:.0}", s.p50_ms),
            format!("{:.0}", s.p99_ms),
        ]);
    }
    table
}

fn label(shield: bool) -> &'static str {
    if shield { "with shield" } else { "no shield" }
}

fn x_ticks(rows: &[Row]) -> Vec<f64> {
    let mut xs: Vec<f64> = rows.iter().map(|r| (r.0 * 6) as f64).collect();
    xs.dedup();
    xs
}

fn origin_chart(rows: &[Row]) -> String {
    let mut chart = Chart::new(
        "Requests reaching the origin in 120 s",
        "edge servers (6 regions)",
        "origin requests",
    );
    for shield in [false, true] {
        let points = rows
            .iter()
            .filter(|r| r.1 == shield)
            .map(|r| ((r.0 * 6) as f64, r.2 as f64))
            .collect();
        chart = chart.with(Series::line(label(shield), points));
    }
    chart.y_range = Some((
        0.0,
        rows.iter().map(|r| r.2).max().unwrap_or(1) as f64 * 1.1,
    ));
    chart.x_ticks = Some(x_ticks(rows));
    chart.to_svg()
}

fn latency_chart(rows: &[Row]) -> String {
    let mut chart = Chart::new(
        "Client latency: median, mean and 99th percentile",
        "edge servers (6 regions)",
        "latency (ms)",
    );
    for shield in [false, true] {
        for (name, pick) in [("p99", 1), ("mean", 2), ("median", 0)] {
            let points = rows
                .iter()
                .filter(|r| r.1 == shield)
                .map(|r| {
                    let ms = match pick {
                        1 => r.4.p99_ms,
                        2 => r.4.mean_ms,
                        _ => r.4.p50_ms,
                    };
                    ((r.0 * 6) as f64, ms)
                })
                .collect();
            let name = format!("{name}, {}", label(shield));
            let series = if shield {
                Series::line(&name, points)
            } else {
                Series::dashed(&name, points)
            };
            chart = chart.with(series);
        }
    }
    // Room above the p99 lines for the six-line legend, so that it hides no line.
    chart.y_range = Some((
        0.0,
        rows.iter().map(|r| r.4.p99_ms).fold(0.0, f64::max) * 1.6,
    ));
    chart.x_ticks = Some(x_ticks(rows));
    chart.legend = SeriesLabelPosition::UpperRight;
    chart.to_svg()
}
