//! A live Raft cluster on 127.0.0.1 that you drive from a prompt: kill the leader and watch.
//!
//! The servers are chapter 10's Raft state machines (`uds::coordination::raft`), unchanged,
//! run by the tokio driver (`uds::driver::tcp`) over real TCP; the client behind the prompt
//! follows redirects and retries with the same sequence number (`uds::driver::raft_cluster`).
//! Type `help` for the commands. Standard input may be a script:
//!
//! `printf 'put x 1\nkill 0\nsleep 1000\nstatus\nget x\n' | cargo run --release -p uds --example raft_cluster`
//!
//! Run: `cargo run --release -p uds --example raft_cluster -- --nodes 5`

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc;
use tokio::time::Instant;
use uds::driver::raft_cluster::{ClusterOptions, ConsoleCommand, MAX_SERVERS, RaftCluster, parse};
use uds::sim::NodeId;

#[derive(Parser)]
#[command(about = "Run a Raft cluster over TCP on 127.0.0.1 and drive it from a prompt")]
struct Args {
    /// How many Raft servers.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=MAX_SERVERS as i64))]
    nodes: u8,
    /// Seed of the servers' random election timeouts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

// ANCHOR: main
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let servers = usize::from(args.nodes);
    let (mut cluster, mut events) =
        match RaftCluster::start(servers, args.seed, ClusterOptions::default()).await {
            Ok(started) => started,
            Err(e) => {
                eprintln!("cannot start the cluster on 127.0.0.1: {e}");
                return ExitCode::FAILURE;
            }
        };
    let addrs: Vec<String> = (0..servers)
        .map(|i| format!("n{i} {}", cluster.addr(NodeId(i))))
        .collect();
    println!("{servers} Raft servers: {}", addrs.join(", "));
    println!("type `help` for the commands; try `kill` on the leader and watch");

    // Cluster events, printed as they happen, stamped with the time since the start.
    let started = Instant::now();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            println!("[{:8.3} s] {event}", started.elapsed().as_secs_f64());
        }
    });

    // Let the first election happen before the first command (it prints as an event).
    if cluster
        .wait_for_leader(0, Duration::from_secs(5))
        .await
        .is_none()
    {
        println!("no leader after 5 s; commands will wait for one");
    }

    // Standard input is read on a thread of its own and handed over line by line; a line
    // that is not UTF-8 is reported and skipped like any other bad line.
    let interactive = std::io::stdin().is_terminal();
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut bytes = Vec::new();
            let line = match stdin.read_until(b'\n', &mut bytes) {
                Ok(0) => break, // end of input
                Ok(_) => String::from_utf8(bytes).map_err(|_| None),
                Err(e) => Err(Some(e)),
            };
            let failed = matches!(line, Err(Some(_)));
            if lines_tx.send(line).is_err() || failed {
                break;
            }
        }
    });

    loop {
        if interactive {
            print!("raft> ");
            let _ = std::io::stdout().flush();
        }
        let line = match lines.recv().await {
            None => break, // end of input
            Some(Err(Some(e))) => {
                eprintln!("cannot read standard input: {e}");
                return ExitCode::FAILURE;
            }
            Some(Err(None)) => {
                println!("error: the line is not valid UTF-8");
                continue;
            }
            Some(Ok(line)) => line,
        };
        if !interactive && !line.trim().is_empty() {
            // Echo the script's line, control characters escaped so they cannot act.
            let shown: String = line
                .trim()
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            println!("> {shown}");
        }
        match parse(&line, servers) {
            Ok(None) => {}
            Ok(Some(ConsoleCommand::Quit)) => break,
            Ok(Some(command)) => match cluster.execute(command).await {
                Ok(text) => println!("{text}"),
                Err(e) => println!("error: {e}"),
            },
            Err(e) => println!("error: {e}"),
        }
    }
    ExitCode::SUCCESS
}
// ANCHOR_END: main
