//! Chapter 15 experiment: an edge dies; how long do its clients keep failing?
//!
//! The chapter's CDN with one edge per region. Europe's edge crashes 40 s into the run. The
//! DNS load balancer notices within its detection time (a probe every second, down after
//! 2.5 s of silence) and sends new questions to the next-nearest edge, but each client keeps
//! its cached answer until the DNS TTL runs out. Prints, for several DNS TTLs, how many of
//! Europe's requests failed and when the last one was; draws failed requests per second.
//!
//! outputs: code/outputs/ch15_failover.txt src/figures/ch15_failover.svg
//!
//! Run: `cargo run --release -p uds --example ch15_failover -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table};
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::scalability::cdn::node::Outcome;
use uds::scalability::cdn::scenario::{CdnConfig, run, summarize};

/// Failed requests after an edge crash, for several DNS TTLs.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// When Europe's edge crashes, in seconds.
    #[arg(long, default_value_t = 40)]
    crash_s: u64,
    /// The DNS TTLs to compare, in seconds.
    #[arg(long, value_delimiter = ',', default_values_t = [5, 30, 60])]
    dns_ttls: Vec<u64>,
}

/// Europe's region index, and its only edge's index.
const EUROPE: usize = 2;

fn main() -> ExitCode {
    let args = Args::parse();
    let base = CdnConfig {
        duration: Duration::from_secs(120),
        ..CdnConfig::book()
    };
    if args.crash_s >= base.duration.as_secs() {
        eprintln!(
            "error: --crash-s must be below {}, got {}",
            base.duration.as_secs(),
            args.crash_s
        );
        return ExitCode::FAILURE;
    }
    if args.dns_ttls.is_empty() || args.dns_ttls.iter().any(|&t| t == 0 || t > 3_600) {
        eprintln!(
            "error: --dns-ttls must be 1 to 3600 s each, got {:?}",
            args.dns_ttls
        );
        return ExitCode::FAILURE;
    }
    let mut table = Table::new(&[
        "DNS TTL (s)",
        "requests",
        "failed",
        "last failure (s)",
        "bound (s)",
        "DNS questions",
        "p50 after (ms)",
    ]);
    let mut chart = Chart::new(
        &format!(
            "Europe's edge crashes at {} s: failed requests per second",
            args.crash_s
        ),
        "time (s)",
        "failed requests per second (Europe)",
    );
    for &ttl in &args.dns_ttls {
        let config = CdnConfig {
            dns_ttl: Duration::from_secs(ttl),
            crashes: vec![(Duration::from_secs(args.crash_s), EUROPE)],
            ..base.clone()
        };
        let r = match run(&config, args.common.seed) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let europe: Vec<Outcome> = r
            .outcomes
            .iter()
            .filter(|o| o.region == EUROPE)
            .copied()
            .collect();
        let failed: Vec<f64> = europe
            .iter()
            .filter(|o| o.answer.is_none())
            .map(|o| o.at_s)
            .collect();
        let last = failed.iter().copied().fold(f64::NAN, f64::max);
        let bound = (config.down_after + config.dns_ttl).as_secs_f64();
        let after: Vec<Outcome> = europe
            .iter()
            .filter(|o| o.at_s > args.crash_s as f64 + bound + 1.0)
            .copied()
            .collect();
        table.row(vec![
            ttl.to_string(),
            europe.len().to_string(),
            failed.len().to_string(),
            if failed.is_empty() {
                "-".into()
            } else {
                format!("{:.1}", last - args.crash_s as f64)
            },
            format!("{bound:.1}"),
            r.dns_questions[EUROPE].to_string(),
            match summarize(&after).p50_ms {
                p if p.is_nan() => "-".to_string(), // the run ended before the failover did
                p => format!("{p:.0}"),
            },
        ]);
        let secs = base.duration.as_secs() as usize;
        let mut per_second = vec![0.0; secs];
        for t in &failed {
            per_second[(*t as usize).min(secs - 1)] += 1.0;
        }
        let points = per_second
            .iter()
            .enumerate()
            .map(|(s, &n)| (s as f64, n))
            .collect();
        chart = chart.with(Series::line(&format!("DNS TTL {ttl} s"), points));
    }
    chart.legend = SeriesLabelPosition::UpperRight;
    let text = format!(
        "seed {}; the chapter's CDN, one edge per region, Europe's edge crashes at {} s;\n\
         DNS probes every {} s, calls an edge down after {} s of silence; client timeout {} s.\n\
         Europe's requests, how many failed, and the last failure in seconds after the crash;\n\
         bound: detection + DNS TTL, the longest a client may keep using the dead edge;\n\
         DNS questions: sent by Europe's clients in the whole run.\n\
         p50 after: Europe's median latency once every client has failed over.\n\n{}",
        args.common.seed,
        args.crash_s,
        base.probe_interval.as_secs_f64(),
        base.down_after.as_secs_f64(),
        base.timeout.as_secs_f64(),
        table.render()
    );
    print!("{text}");
    let written = args
        .common
        .emit("code/outputs/ch15_failover.txt", &text)
        .and_then(|()| {
            args.common
                .emit("src/figures/ch15_failover.svg", &chart.to_svg())
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
