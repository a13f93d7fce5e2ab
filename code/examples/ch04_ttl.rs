//! Chapter 4 experiment: what the TTL of `www.example.com` does to resolution latency, to the
//! load on the name servers, and to how long a change takes to be seen.
//!
//! Three clients ask one caching resolver for `www.example.com` (and, one question in ten, for
//! a name that does not exist) at Poisson times, two questions a second each, for 12 minutes.
//! After 310 s the operator moves `www.example.com` to a new address. The run is repeated
//! for several TTLs of that record; the delegations (root -> com -> example.com) keep their
//! usual two-day TTLs, and negative answers are cached for 60 s (the zone's SOA).
//!
//! outputs: code/outputs/ch04_ttl.txt src/figures/ch04_latency.svg
//! outputs: src/figures/ch04_upstream.svg src/figures/ch04_stale.svg
//!
//! Run: `cargo run --release -p uds --example ch04_ttl -- --write .`
use std::process::ExitCode;

use clap::Parser;
use uds::communication::discovery::resolver::{Client, DnsNode, Observation, Outcome};
use uds::communication::discovery::scenario::{
    FIRST_CLIENT, RESOLVER, WWW_BEFORE, book_sim, move_www, poisson_schedule,
};
use uds::communication::discovery::zone::RData;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{NodeId, Time};

/// Latency, upstream queries and stale answers over time for several TTLs.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// TTLs of www.example.com to compare, in seconds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,30,300")]
    ttls: Vec<u32>,
    /// When the operator moves www.example.com, in seconds after the start.
    #[arg(long, default_value_t = 310)]
    change_at: u64,
    /// How long each run lasts, in seconds.
    #[arg(long, default_value_t = 720)]
    duration: u64,
    /// Questions per second of each of the three clients.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
}

/// The width of a bucket of the figures, in seconds.
const BUCKET_S: u64 = 10;
const CLIENTS: usize = 3;
const NEW_ADDRESS: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 2);

/// One TTL's run, summarised.
struct Run {
    ttl: u32,
    log: Vec<Observation>,
    upstream_queries: u64,
    trace_hash: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = validate(&args) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runs: Vec<Run> = args.ttls.iter().map(|&ttl| run(&args, ttl)).collect();
    let text = format!(
        "seed {}; {} clients x {} questions/s for {} s, 10% for a missing name; \
         www.example.com\nmoves at {} s. Latency: from a client's question to its answer. \
         Stale: an answer with\nthe old address after the move; last stale: when the last one came, after the move.\n\n{}",
        args.common.seed,
        CLIENTS,
        args.rate,
        args.duration,
        args.change_at,
        table(&args, &runs).render(),
    );
    print!("{text}");
    for r in &runs {
        println!("ttl {}: trace hash {:016x}", r.ttl, r.trace_hash);
    }
    let written = args
        .common
        .emit("code/outputs/ch04_ttl.txt", &text)
        .and_then(|()| emit_charts(&args, &runs));
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn validate(args: &Args) -> Result<(), String> {
    if args.ttls.is_empty() || args.ttls.len() > 7 {
        return Err(format!(
            "--ttls takes 1 to 7 values, got {}",
            args.ttls.len()
        ));
    }
    if args.change_at >= args.duration || args.duration > 3_600 {
        return Err("need --change-at < --duration <= 3600".to_string());
    }
    if !(args.rate > 0.0 && args.rate <= 100.0) {
        return Err(format!("--rate must be in (0, 100], got {}", args.rate));
    }
    Ok(())
}

// ANCHOR: run
/// One run: clients ask, the record moves at `change_at`, the run ends at `duration`.
fn run(args: &Args, ttl: u32) -> Run {
    let seed = args.common.seed;
    let until = Time::from_millis(args.duration * 1_000);
    let clients = (0..CLIENTS)
        .map(|i| {
            Client::new(
                RESOLVER,
                poisson_schedule(seed, i as u64, args.rate, until, 0.1),
            )
        })
        .collect();
    let mut sim = book_sim(seed, ttl, clients);
    let invariant = "simulated DNS never breaks an invariant (it registers none)";
    sim.run_until(Time::from_millis(args.change_at * 1_000))
        .expect(invariant);
    move_www(&mut sim, NEW_ADDRESS);
    sim.run_until(until + std::time::Duration::from_secs(5))
        .expect(invariant);
    // ANCHOR_END: run
    let mut log: Vec<Observation> = (FIRST_CLIENT..FIRST_CLIENT + CLIENTS)
        .flat_map(|i| {
            let client = sim.process(NodeId(i)).and_then(DnsNode::as_client);
            client.expect("a client").log.clone()
        })
        .collect();
    log.sort_by_key(|o| (o.sent_at, o.received_at));
    let upstream_queries = sim.metrics().counter("dns.upstream_queries");
    Run {
        ttl,
        log,
        upstream_queries,
        trace_hash: sim.trace_hash(),
    }
}

/// Whether `o` is an answer with the address www.example.com had before the move.
fn is_stale(o: &Observation, change_at_s: u64) -> bool {
    let after = o.received_at >= Time::from_millis(change_at_s * 1_000);
    let old = matches!(&o.outcome, Outcome::Answer(rs)
        if rs.iter().any(|r| r.data == RData::A(WWW_BEFORE)));
    after && old
}

fn latency_ms(o: &Observation) -> f64 {
    o.received_at.since(o.sent_at).as_secs_f64() * 1e3
}

fn table(args: &Args, runs: &[Run]) -> Table {
    let mut table = Table::new(&[
        "TTL (s)",
        "questions",
        "from cache",
        "mean latency (ms)",
        "upstream queries",
        "stale",
        "last stale (s)",
    ]);
    for r in runs {
        let n = r.log.len();
        let hits = r.log.iter().filter(|o| o.upstream_queries == 0).count();
        let mean = r.log.iter().map(latency_ms).sum::<f64>() / n.max(1) as f64;
        let stale: Vec<&Observation> = r
            .log
            .iter()
            .filter(|o| is_stale(o, args.change_at))
            .collect();
        let last = stale.last().map_or("-".to_string(), |o| {
            format!("{:.1}", o.received_at.as_secs_f64() - args.change_at as f64)
        });
        table.row(vec![
            r.ttl.to_string(),
            n.to_string(),
            format!("{:.1}%", 100.0 * hits as f64 / n.max(1) as f64),
            format!("{mean:.1}"),
            r.upstream_queries.to_string(),
            stale.len().to_string(),
            last,
        ]);
    }
    table
}

/// Per bucket of `BUCKET_S` seconds (by the time the question was sent): `f` of its questions.
fn per_bucket(args: &Args, r: &Run, f: impl Fn(&[&Observation]) -> f64) -> Vec<(f64, f64)> {
    (0..args.duration / BUCKET_S)
        .map(|b| {
            let (lo, hi) = (b * BUCKET_S * 1_000, (b + 1) * BUCKET_S * 1_000);
            let in_bucket: Vec<&Observation> = r
                .log
                .iter()
                .filter(|o| o.sent_at >= Time::from_millis(lo) && o.sent_at < Time::from_millis(hi))
                .collect();
            ((b * BUCKET_S) as f64 + BUCKET_S as f64 / 2.0, f(&in_bucket))
        })
        .collect()
}

fn emit_charts(args: &Args, runs: &[Run]) -> std::io::Result<()> {
    let label = |r: &Run| format!("TTL {} s", r.ttl);
    let x = "time since start (s), 10 s buckets";
    let mut latency = Chart::new("Mean resolution latency", x, "mean latency (ms)");
    let mut upstream = Chart::new("Queries from the resolver to name servers", x, "queries");
    let mut stale = Chart::new(
        "Answers still giving the old address after the move",
        x,
        "stale answers (% of www answers)",
    );
    for r in runs {
        let mean = |os: &[&Observation]| {
            os.iter().map(|o| latency_ms(o)).sum::<f64>() / os.len().max(1) as f64
        };
        let queries = |os: &[&Observation]| os.iter().map(|o| o.upstream_queries as f64).sum();
        let stale_pct = |os: &[&Observation]| {
            let www: Vec<_> = os
                .iter()
                .filter(|o| o.qname == "www.example.com.")
                .collect();
            let old = www.iter().filter(|o| is_stale(o, args.change_at)).count();
            100.0 * old as f64 / www.len().max(1) as f64
        };
        latency = latency.with(Series::line(&label(r), per_bucket(args, r, mean)));
        upstream = upstream.with(Series::line(&label(r), per_bucket(args, r, queries)));
        stale = stale.with(Series::line(&label(r), per_bucket(args, r, stale_pct)));
    }
    // Head room above the TTL 0 lines, so that the legend covers no data.
    latency.legend = SeriesLabelPosition::UpperRight;
    latency.y_range = Some((0.0, head_room(&latency)));
    upstream.legend = SeriesLabelPosition::UpperRight;
    upstream.y_range = Some((0.0, head_room(&upstream)));
    stale.legend = SeriesLabelPosition::UpperRight;
    stale.y_range = Some((0.0, 100.0));
    args.common
        .emit("src/figures/ch04_latency.svg", &latency.to_svg())?;
    args.common
        .emit("src/figures/ch04_upstream.svg", &upstream.to_svg())?;
    args.common
        .emit("src/figures/ch04_stale.svg", &stale.to_svg())
}

/// The top of a y axis with a third of free space above the data, for the legend.
fn head_room(chart: &Chart) -> f64 {
    let top = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    (top * 1.5).max(1.0)
}
