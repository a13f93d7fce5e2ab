//! Chapter 3's real thing: a TLS 1.3 echo server and client with rustls on 127.0.0.1, with a
//! CA and a server certificate made by rcgen at start-up. Prints what the handshake
//! negotiated, then tries the two attacks the client must refuse.
//!
//! Run: `cargo run --release -p uds --example ch03_tls`
//! Options: `--server-name NAME` (the name the client asks for; the certificate is for
//! `localhost`), `--alpn PROTO` (what the client offers; the server speaks `uds-echo/1`).
use std::process::ExitCode;

use clap::Parser;
use uds::communication::secure_links::real_tls::{
    ALPN_ECHO, EchoServer, Pki, client_config, echo_once, server_config,
};

#[derive(Parser, Debug)]
#[command(about = "A TLS 1.3 echo over loopback with rustls and rcgen")]
struct Args {
    /// The server name the client asks for (the certificate is for `localhost`).
    #[arg(long, default_value = "localhost")]
    server_name: String,
    /// The application protocol the client offers with ALPN.
    #[arg(long, default_value = "uds-echo/1")]
    alpn: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.alpn.is_empty() || args.alpn.len() > 255 {
        eprintln!("--alpn must be 1 to 255 bytes long");
        return ExitCode::FAILURE;
    }
    let runtime = match uds::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: run
async fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let pki = Pki::new("uds demo CA", &["localhost"])?;
    let server = EchoServer::start(server_config(&pki, &[ALPN_ECHO])?).await?;
    println!("TLS echo server on {}", server.addr);

    let config = client_config(&pki.ca, &[args.alpn.as_bytes()])?;
    match echo_once(server.addr, config, &args.server_name, b"hello, TLS").await {
        Ok((negotiated, echo)) => {
            println!("protocol version: {}", negotiated.version);
            println!("cipher suite:     {}", negotiated.cipher_suite);
            println!(
                "ALPN protocol:    {}",
                negotiated.alpn.as_deref().unwrap_or("none")
            );
            println!("echoed:           {:?}", String::from_utf8_lossy(&echo));
        }
        Err(e) => println!("connection as {:?} refused: {e}", args.server_name),
    }

    // Attack 1: a server whose certificate comes from a CA the client does not trust.
    let rogue = Pki::new("rogue CA", &["localhost"])?;
    let rogue_server = EchoServer::start(server_config(&rogue, &[ALPN_ECHO])?).await?;
    let config = client_config(&pki.ca, &[ALPN_ECHO])?;
    let refused = echo_once(rogue_server.addr, config.clone(), "localhost", b"x").await;
    println!(
        "unknown CA:   {}",
        refused.err().map_or("accepted!".into(), |e| e.to_string())
    );

    // Attack 2: a genuine certificate, but for another name than the one the client wants.
    let refused = echo_once(server.addr, config, "bank.example", b"x").await;
    println!(
        "wrong name:   {}",
        refused.err().map_or("accepted!".into(), |e| e.to_string())
    );
    Ok(())
}
// ANCHOR_END: run
