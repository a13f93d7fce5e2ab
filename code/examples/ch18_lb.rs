//! Chapter 18: a real L7 load balancer in front of three real backends, on loopback.
//!
//! Starts three backends and a power-of-two-choices balancer with active health checks (probes
//! every 100 ms, eject after 2 failures, re-admit after 2 successes), all on 127.0.0.1 ports the
//! kernel chooses, prints where, and serves until you press Enter or standard input ends.
//!
//! Run: `cargo run --release -p uds --example ch18_lb`
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use uds::scalability::load_balancing::picker::Algorithm;
use uds::scalability::load_balancing::real::{Backend, Balancer, BalancerConfig};

/// A load balancer and three backends on 127.0.0.1, until Enter or the end of standard input.
#[derive(Parser, Debug)]
struct Args {
    /// Balancing algorithm: round-robin, random, least-conn, p2c, ring or maglev.
    #[arg(long, default_value = "p2c", value_parser = Algorithm::parse)]
    algorithm: Algorithm,
    /// How many backends to start (1 to 16).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=16))]
    backends: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let mut backends = Vec::new();
    for i in 0..args.backends {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let backend = Backend::start(&format!("backend-{i}"), any_port)
            .await
            .map_err(|e| format!("cannot start backend {i} on 127.0.0.1: {e}"))?;
        println!("{} on http://{}", backend.name, backend.addr);
        backends.push(backend);
    }
    let targets = backends.iter().map(|b| (b.name.clone(), b.addr)).collect();
    let config = BalancerConfig {
        algorithm: args.algorithm,
        ..BalancerConfig::default()
    };
    let balancer = Balancer::start(targets, config).await?;
    println!(
        "balancer ({}) on http://{} (press Enter to stop)",
        args.algorithm.name(),
        balancer.addr
    );
    println!(
        "  curl -si http://{}/work | grep -i x-backend",
        balancer.addr
    );
    let stdin = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    });
    let _ = stdin.await;
    println!("stopping");
    balancer.stop();
    drop(backends);
    Ok(())
}
