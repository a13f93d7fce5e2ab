//! The simulator's three reference models (`uds::sim_models`) under criterion.
//!
//! `cargo bench -p uds-benches --bench simulator`. Throughput is reported per unit of work
//! that the SimPy twins in `benches/simpy/models.py` also do: timeouts for model A, round trips
//! for model B, customers for model C. `simpy_compare` (see `src/bin/simpy_compare.rs`) puts
//! the two side by side. Few samples: each iteration is already a million events.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uds::sim_models::{mm1, ping_pong, timeouts};

fn models(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_models");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.throughput(Throughput::Elements(1_000_000));
    group.bench_function("A_timeouts_1000x1000", |b| {
        b.iter(|| black_box(timeouts::run(black_box(1_000), 1_000)))
    });

    group.throughput(Throughput::Elements(200_000));
    group.bench_function("B_ping_pong_200k", |b| {
        b.iter(|| black_box(ping_pong::run(black_box(200_000))))
    });

    let config = mm1::Config {
        arrival_rate: 1.0,
        service_rate: 1.1,
        customers: 200_000,
        seed: 1,
    };
    group.throughput(Throughput::Elements(config.customers));
    group.bench_function("C_mm1_200k", |b| {
        b.iter(|| black_box(mm1::run(black_box(&config))))
    });
    group.finish();
}

criterion_group!(benches, models);
criterion_main!(benches);
