//! Chapter 5: the notes service on loopback.
//!
//! Serves on 127.0.0.1, on a port the kernel chooses (printed), until you press Enter or
//! standard input ends. `ch05_tour` plays a scripted client session against the same server.
//!
//! Run: `cargo run --release -p uds --example ch05_server`
use std::process::ExitCode;

use clap::Parser;
use uds::communication::apis::server::Server;

/// The chapter 5 notes service, on 127.0.0.1 until Enter or the end of standard input.
#[derive(Parser, Debug)]
struct Args {}

fn main() -> ExitCode {
    let Args {} = Args::parse();
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
    let result = runtime.block_on(async {
        let server = Server::start()
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        serve(server).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until Enter or the end of standard input.
async fn serve(server: Server) -> Result<(), String> {
    let url = server.url();
    println!("notes service on {url} (press Enter to stop)");
    println!("  curl -i {url}/openapi.json");
    println!(
        "  curl -i -X POST {url}/notes -H 'Content-Type: application/json' \\\n    \
         -H 'Idempotency-Key: k1' -d '{{\"title\": \"hello\"}}'"
    );
    println!("  curl -i {url}/notes/1");
    let stdin = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)
    });
    let _ = stdin.await;
    println!("stopping");
    server.stop().await.map_err(|e| e.to_string())
}
