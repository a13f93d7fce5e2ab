//! Chapter 18 measurement: kill a backend behind the real balancer during a bounded load test.
//!
//! Three backends behind the power-of-two-choices balancer of
//! `uds::scalability::load_balancing::real`, four clients at 100 requests per second each for
//! 2 s. Backend 0 is killed at 0.5 s and restarted at 1.2 s. The run is done twice, without and
//! with one retry of idempotent requests on another backend, and the table gives, per 100 ms
//! slice, the requests sent, the errors of each run and how many requests backend 0 answered.
//! Wall-clock timings: the table is machine-dependent and lives in `code/outputs/measured/`.
//!
//! Run: `cargo run --release -p uds --example ch18_kill -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::experiment::{ExperimentArgs, Table, runtime};
use uds::scalability::load_balancing::kill_test::{KillTestConfig, KillTestReport, run};

#[derive(Parser, Debug)]
#[command(about = "Kill a backend behind the real load balancer; errors and recovery over time")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

const SLICE: Duration = Duration::from_millis(100);

fn ms(d: Option<Duration>) -> String {
    d.map_or("never".to_string(), |d| format!("{} ms", d.as_millis()))
}

fn render(plain: &KillTestReport, retried: &KillTestReport, seed: u64) -> String {
    let mut table = Table::new(&[
        "slice (ms)",
        "sent",
        "no retry: errors",
        "no retry: backend-0",
        "retry: errors",
        "retry: backend-0",
    ]);
    let (a, b) = (plain.slices(SLICE), retried.slices(SLICE));
    for (row, other) in a.iter().zip(&b) {
        let start = row.0.as_millis();
        table.row(vec![
            format!("{start}-{}", start + SLICE.as_millis()),
            row.1.to_string(),
            row.2.to_string(),
            row.3.to_string(),
            other.2.to_string(),
            other.3.to_string(),
        ]);
    }
    format!(
        "Regenerate: cargo run --release -p uds --example ch18_kill -- --write .\n\
         Measured on loopback (127.0.0.1); machine-dependent. Balancer seed {seed}.\n\n{}\n\
         backend-0 killed at {} ms, restarted at {} ms; probes every 100 ms, eject after 2\n\
         failures, re-admit after 2 successes.\n\
         no retry: ejected at {}, re-admitted at {}, {} errors of {} requests\n\
         retry:    ejected at {}, re-admitted at {}, {} errors of {} requests\n",
        table.render(),
        plain.kill_at.as_millis(),
        plain.restart_at.as_millis(),
        ms(plain.ejected_at()),
        ms(plain.readmitted_at()),
        plain.errors(),
        plain.outcomes.len(),
        ms(retried.ejected_at()),
        ms(retried.readmitted_at()),
        retried.errors(),
        retried.outcomes.len(),
    )
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let mut config = KillTestConfig::default();
            config.balancer.seed = args.common.seed;
            config.balancer.retry_idempotent = false;
            let plain = run(&config).await?;
            config.balancer.retry_idempotent = true;
            let retried = run(&config).await?;
            Ok::<_, String>((plain, retried))
        })
    });
    let (plain, retried) = match result {
        Ok(reports) => reports,
        Err(e) => {
            eprintln!("ch18_kill: {e}");
            return ExitCode::FAILURE;
        }
    };
    let text = render(&plain, &retried, args.common.seed);
    print!("{text}");
    if let Err(e) = args
        .common
        .emit("code/outputs/measured/ch18_kill.txt", &text)
    {
        eprintln!("ch18_kill: could not write the table: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
