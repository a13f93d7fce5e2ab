//! Partitioning: our jump consistent hash and hash ring lookup (`uds::scalability::partitioning`)
//! against the `jumpch` and `hashring` crates, on the same keys.
//!
//! `cargo bench -p uds-benches --bench partitioning -- --noplot`. Each iteration looks up 1,024
//! pseudo-random 64-bit keys. Jump hash: both crates run the paper's loop, so the times should
//! match; the bucket counts are 10, 1,000 and 100,000 (the loop runs about `ln(buckets)` times).
//! Ring: `nodes` nodes with 100 virtual nodes each; ours places `(position, node)` pairs and
//! hashes a key with a 64-bit mixer, `hashring` places one entry per `(node, vnode)` value and
//! hashes the key with SipHash-2-4; both then binary-search a sorted vector. Short runs: small
//! sample sizes. The results table is `code/outputs/measured/ch16_partitioning_bench.txt`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use uds::scalability::partitioning::measure::random_keys;
use uds::scalability::partitioning::{Ring, jump_hash};

/// Virtual nodes per node of both rings.
const VNODES: usize = 100;

fn benches(c: &mut Criterion) {
    let keys = random_keys(1, 1_024);
    let mut jump = c.benchmark_group("jump");
    jump.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for buckets in [10u32, 1_000, 100_000] {
        jump.bench_with_input(BenchmarkId::new("uds", buckets), &buckets, |b, &n| {
            b.iter(|| {
                keys.iter()
                    .map(|&k| jump_hash(black_box(k), n))
                    .sum::<u32>()
            })
        });
        jump.bench_with_input(BenchmarkId::new("jumpch", buckets), &buckets, |b, &n| {
            b.iter(|| {
                keys.iter()
                    .map(|&k| jumpch::hash(black_box(k), n))
                    .sum::<u32>()
            })
        });
    }
    jump.finish();

    let mut ring = c.benchmark_group("ring");
    ring.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for nodes in [10usize, 100] {
        let ours = Ring::with_nodes(nodes, VNODES);
        let mut theirs = hashring::HashRing::new();
        theirs.batch_add(
            (0..nodes)
                .flat_map(|n| (0..VNODES).map(move |v| (n, v)))
                .collect(),
        );
        ring.bench_with_input(BenchmarkId::new("uds", nodes), &nodes, |b, _| {
            b.iter(|| {
                keys.iter()
                    .map(|&k| ours.owner(black_box(k)).unwrap())
                    .sum::<usize>()
            })
        });
        ring.bench_with_input(BenchmarkId::new("hashring", nodes), &nodes, |b, _| {
            b.iter(|| {
                keys.iter()
                    .map(|k| theirs.get(black_box(k)).unwrap().0)
                    .sum::<usize>()
            })
        });
    }
    ring.finish();
}

criterion_group!(partitioning, benches);
criterion_main!(partitioning);
