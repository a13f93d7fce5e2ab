//! Chapter 3 measurement: handshakes per second of the teaching handshake and of rustls, both
//! in memory (no sockets), a few hundred each. Machine-dependent: with `--write ROOT` it
//! writes `ROOT/code/outputs/measured/ch03_handshakes.txt`, which `cargo xtask outputs` does
//! not regenerate. The criterion bench `cargo bench -p uds-benches --bench handshake` measures
//! the same two functions more carefully.
//!
//! Run: `cargo run --release -p uds --example ch03_handshakes`
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use uds::communication::secure_links::bench::{RustlsPair, rustls_handshake, teaching_handshake};
use uds::communication::secure_links::demo::Demo;
use uds::communication::secure_links::key_schedule::{KeySchedule, sha256, traffic_keys};
use uds::experiment::Table;

#[derive(Parser, Debug)]
#[command(about = "Time in-memory handshakes of the teaching protocol and of rustls")]
struct Args {
    /// Handshakes per protocol per round.
    #[arg(long, default_value_t = 200)]
    handshakes: u32,
    /// Rounds; the table reports the best (least disturbed) round.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Write the table under this folder (the repository root to update the book).
    #[arg(long, value_name = "ROOT")]
    write: Option<PathBuf>,
}

const COMMAND: &str = "cargo run --release -p uds --example ch03_handshakes -- --write .";
const FILE: &str = "code/outputs/measured/ch03_handshakes.txt";

/// The best of `rounds` rounds of `n` calls to `f`, as time per call.
fn best_time(rounds: u32, n: u32, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed() / n
        })
        .min()
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.handshakes == 0 || args.rounds == 0 {
        eprintln!("--handshakes and --rounds must be at least 1");
        return ExitCode::FAILURE;
    }
    let mut demo = Demo::new(1);
    let pair = match RustlsPair::new() {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("cannot set up rustls: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (n, rounds) = (args.handshakes, args.rounds);
    let teaching = best_time(rounds, n, || {
        teaching_handshake(&mut demo).expect("handshake")
    });
    let rustls = best_time(rounds, n, || rustls_handshake(&pair).expect("handshake"));

    let mut table = Table::new(&["protocol", "time per handshake (us)", "handshakes/s"]);
    for (name, t) in [
        ("teaching (dalek)", teaching),
        ("rustls 0.23 (ring)", rustls),
    ] {
        table.row(vec![
            name.to_string(),
            format!("{:.1}", t.as_secs_f64() * 1e6),
            format!("{:.0}", 1.0 / t.as_secs_f64()),
        ]);
    }
    let parts = primitives(rounds, n, &mut demo);
    let text = format!(
        "Full handshakes in memory, one core, best of {rounds} rounds of {n}\n\
         (a measurement: it varies by machine and load; regenerate with\n\
         `{COMMAND}`)\n\n{}\n\
         Where the teaching handshake's time goes (dalek primitives, same rounds):\n\n{}",
        table.render(),
        parts.render()
    );
    print!("{text}");
    if let Some(root) = args.write {
        let path = root.join(FILE);
        if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The cost of each primitive the teaching handshake calls, times how often it calls it.
fn primitives(rounds: u32, n: u32, demo: &mut Demo) -> Table {
    use ed25519_dalek::{Signer, SigningKey};
    use x25519_dalek::{PublicKey, StaticSecret};
    let secret = StaticSecret::from(demo.random32());
    let peer = PublicKey::from(&StaticSecret::from(demo.random32()));
    let signing = SigningKey::from_bytes(&demo.random32());
    let verifying = signing.verifying_key();
    let message = sha256(b"transcript");
    let signature = signing.sign(&message);
    let hash = sha256(b"hellos");
    let x25519 = best_time(rounds, n, || {
        std::hint::black_box(PublicKey::from(&secret)); // the key share
        std::hint::black_box(secret.diffie_hellman(&peer)); // the shared secret
    });
    let sign = best_time(rounds, n, || {
        std::hint::black_box(signing.sign(&message));
    });
    let verify = best_time(rounds, n, || {
        verifying
            .verify_strict(&message, &signature)
            .expect("valid");
    });
    let schedule = best_time(rounds, n, || {
        let keys = KeySchedule::derive(&message, &hash, &hash);
        std::hint::black_box(traffic_keys(&keys.client_application));
        std::hint::black_box(traffic_keys(&keys.server_application));
    });
    let mut table = Table::new(&["step", "calls", "each (us)", "per handshake (us)"]);
    let rows = [
        ("X25519 key share + shared secret", 2, x25519),
        ("Ed25519 sign (CertificateVerify)", 1, sign),
        ("Ed25519 verify (cert + CertVerify)", 2, verify),
        ("HKDF key schedule (both sides)", 2, schedule),
    ];
    for (name, calls, t) in rows {
        let us = t.as_secs_f64() * 1e6;
        table.row(vec![
            name.to_string(),
            calls.to_string(),
            format!("{us:.1}"),
            format!("{:.1}", us * calls as f64),
        ]);
    }
    table
}
