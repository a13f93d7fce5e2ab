//! Handshakes per second: the teaching handshake (dalek + RustCrypto) and rustls 0.23 (ring),
//! side by side, both in memory: each side's bytes are handed to the other through buffers,
//! no sockets, no threads (`uds::communication::secure_links::bench`). Every iteration is a
//! full handshake with fresh ephemeral keys; rustls runs TLS 1.3 with resumption off.
//!
//! `cargo bench -p uds-benches --bench handshake`. The quick version, which writes the table
//! the chapter includes, is `cargo run --release -p uds --example ch03_handshakes`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use uds::communication::secure_links::bench::{RustlsPair, rustls_handshake, teaching_handshake};
use uds::communication::secure_links::demo::Demo;

fn handshakes(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Elements(1));
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(3));
    let mut demo = Demo::new(1);
    group.bench_function("teaching (dalek)", |b| {
        b.iter(|| black_box(teaching_handshake(&mut demo)).expect("handshake"))
    });
    let pair = RustlsPair::new().expect("rcgen and rustls configs");
    group.bench_function("rustls 0.23 (ring)", |b| {
        b.iter(|| black_box(rustls_handshake(&pair)).expect("handshake"))
    });
    group.finish();
}

criterion_group!(benches, handshakes);
criterion_main!(benches);
