//! Chapter 10 listing: one small chain run three ways, reads at the tail, with CRAQ, and naive.
//!
//! playground-bundle: sim coordination::chain_replication coordination::linearizability
//!
//! Run: `cargo run -p uds --example ch10_craq`
use std::time::Duration;

use uds::coordination::chain_replication::{
    ChainSetup, ReadMode, Workload, check_stale_reads, run,
};
use uds::sim::{Latency, LinkConfig};

// ANCHOR: main
fn main() {
    for read_mode in [ReadMode::Tail, ReadMode::Craq, ReadMode::Naive] {
        let setup = ChainSetup {
            chain_length: 3,
            clients: 16,
            read_mode,
            // Half reads, on two keys, so that reads often meet writes in progress.
            workload: Workload {
                read_fraction: 0.5,
                keys: 2,
                think_time_mean: Duration::from_millis(1),
            },
            // One-way delays between 0.2 and 1 ms: messages overtake each other.
            link: LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
                min: Duration::from_micros(200),
                max: Duration::from_millis(1),
            }),
            service_time: Duration::from_micros(200),
            duration: Duration::from_millis(500),
            read_rule: None,
            failures: None,
        };
        let outcome = run(&setup, 42).expect("a valid setup, and every invariant holds");
        let stale = check_stale_reads(&outcome.history).expect("an append-only history");
        println!("{}:", read_mode.name());
        println!(
            "  {} operations; messages handled per replica (head first): {:?}",
            outcome.history.len(),
            outcome.handled
        );
        println!(
            "  reads answered locally {}, after asking the tail {}",
            outcome.local_reads, outcome.queried_reads
        );
        println!(
            "  stale reads: {} of {} ({} behind a write, {} behind a read)",
            stale.stale, stale.reads, stale.behind_write, stale.behind_read
        );
        if let Some(first) = stale.first {
            println!("  first: {first}");
        }
        println!("  trace hash {:016x}", outcome.trace_hash);
    }
}
// ANCHOR_END: main
