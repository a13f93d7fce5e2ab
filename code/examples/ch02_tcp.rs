//! Chapter 2, the real thing: the kernel's TCP on loopback.
//!
//! Starts an echo server on 127.0.0.1 (a port the kernel picks), sends it messages of a few
//! sizes, and prints the kernel's own view of each client connection (`ss -tin`): smoothed RTT,
//! RTT variation, RTO, congestion window, MSS and bytes acknowledged. Then times a
//! write-write-read exchange with Nagle's algorithm on (the default) and off (`TCP_NODELAY`).
//! The numbers depend on the machine, so the file it writes lives in `code/outputs/measured/`
//! and is regenerated only by hand, with the command below.
//!
//! Run: `cargo run --release -p uds --example ch02_tcp -- --write .`

use std::process::ExitCode;

use clap::Parser;
use uds::communication::reliable_links::tcp::{self, EchoReport};
use uds::experiment::{ExperimentArgs, Table};

/// Echo over loopback TCP, the kernel's view of it, and Nagle vs TCP_NODELAY.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Request/response exchanges per Nagle setting (the median is reported).
    #[arg(long, default_value_t = 21)]
    rounds: usize,
}

const SIZES: [usize; 3] = [1_000, 100_000, 10_000_000];

fn main() -> ExitCode {
    let args = Args::parse();
    if args.rounds == 0 || args.rounds > 1000 {
        eprintln!("error: --rounds must be in 1..=1000");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(text) => {
            print!("{text}");
            if let Err(e) = args
                .common
                .emit("code/outputs/measured/ch02_tcp.txt", &text)
            {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<String, String> {
    let rt = uds::experiment::runtime()?;
    let (echoes, nagle, nodelay) = rt.block_on(async {
        let (addr, _server) = tcp::echo_server()
            .await
            .map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
        let mut echoes: Vec<EchoReport> = Vec::new();
        for bytes in SIZES {
            echoes.push(tcp::echo_round_trip(addr, bytes).await?);
        }
        let nagle = tcp::nagle_latency(false, args.rounds).await?;
        let nodelay = tcp::nagle_latency(true, args.rounds).await?;
        Ok::<_, String>((echoes, nagle, nodelay))
    })?;
    let mut kernel = Table::new(&[
        "echoed (bytes)",
        "time (ms)",
        "rtt (ms)",
        "rttvar (ms)",
        "rto (ms)",
        "cwnd (segs)",
        "mss (bytes)",
        "bytes_acked",
    ]);
    for e in &echoes {
        let k = &e.kernel;
        kernel.row(vec![
            e.bytes.to_string(),
            format!("{:.2}", e.elapsed.as_secs_f64() * 1000.0),
            format!("{:.3}", k.rtt_ms),
            format!("{:.3}", k.rttvar_ms),
            format!("{:.0}", k.rto_ms),
            k.cwnd.to_string(),
            k.mss.to_string(),
            k.bytes_acked.map_or("-".to_string(), |b| b.to_string()),
        ]);
    }
    let mut nagle_table = Table::new(&["client socket", "median write-write-read (ms)"]);
    nagle_table.row(vec![
        "Nagle on (default)".to_string(),
        format!("{:.3}", nagle.as_secs_f64() * 1000.0),
    ]);
    nagle_table.row(vec![
        "TCP_NODELAY".to_string(),
        format!("{:.3}", nodelay.as_secs_f64() * 1000.0),
    ]);
    Ok(format!(
        "Regenerate: cargo run --release -p uds --example ch02_tcp -- --write .\n\
         Measured on loopback (127.0.0.1); machine-dependent.\n\n\
         The kernel's view of each echo client connection (ss -tin), just before it closed:\n{}\n\
         A request written as an 8-byte header and a 64-byte body, then a 2-byte reply read,\n\
         median of {} exchanges:\n{}",
        kernel.render(),
        args.rounds,
        nagle_table.render()
    ))
}
