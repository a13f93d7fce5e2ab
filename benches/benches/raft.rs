//! Raft on the simulator under criterion: simulated commits per wall-clock second.
//!
//! `cargo bench -p uds-benches --bench raft`. Three servers on 1 ms links, 32 clients each
//! with one command in flight at a time, no faults, no invariant checks and no trace: the cost
//! measured is the protocol's own handlers plus the simulator's event loop. Throughput is
//! reported per command committed and applied by the leader (each one a client request, two
//! `AppendEntries`, two responses and an answer). Measured at 225,000 commits per second on
//! the 2-core CI-sized machine while it was shared (load average 6.6).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uds::coordination::raft::cluster::{self, Cluster};
use uds::coordination::raft::server::Config;
use uds::sim::{LinkConfig, NodeId, Time, TraceLevel};

/// Commands each iteration commits.
const COMMANDS: u64 = 51_200; // 1,600 per client
const CLIENTS: usize = 32;

/// Runs a cluster until `COMMANDS` commands are applied; returns how many the leader applied.
fn commit(seed: u64) -> u64 {
    let shape = Cluster {
        servers: 3,
        clients: CLIENTS,
        ops_per_client: COMMANDS as usize / CLIENTS,
        client_retry_ms: 1_000,
        config: Config::default(),
        invariants: false,
        ..Cluster::default()
    };
    let link = LinkConfig::constant(Duration::from_millis(1));
    let mut sim = shape.build(seed, link).expect("valid configuration");
    sim.set_trace(TraceLevel::Off); // no fingerprint: it formats every message
    sim.run_until(Time::from_millis(600_000))
        .expect("no invariants");
    let applied = (0..3)
        .filter_map(|i| cluster::server(&sim, NodeId(i)))
        .map(|s| s.kv().applied())
        .max()
        .unwrap_or(0);
    assert_eq!(applied, COMMANDS, "every command committed");
    applied
}

fn raft(c: &mut Criterion) {
    let mut group = c.benchmark_group("raft");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(COMMANDS));
    group.bench_function("commits_3_nodes_32_clients", |b| {
        b.iter(|| black_box(commit(black_box(1))))
    });
    group.finish();
}

criterion_group!(benches, raft);
criterion_main!(benches);
