//! Vector clock compare and merge: ours (`uds::coordination::time::vector`, a dense `Vec<u64>`)
//! against the `crdts` crate's `VClock` (a `BTreeMap` from actor to counter).
//!
//! `cargo bench -p uds-benches --bench vector_clock`. For 3, 16 and 128 processes, two clocks
//! where the second dominates the first (every entry equal or one more), so that `compare` must
//! look at every entry before answering `Before`. `merge` is timed on a fresh copy each time
//! (`iter_batched`), so the copy is not counted. Short runs: small sample sizes.

use std::hint::black_box;
use std::time::Duration;

use crdts::{CvRDT, Dot, VClock};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use uds::coordination::time::vector::{Causality, VectorClock};
use uds::sim::SimRng;

/// Two clocks of `n` entries, `later` dominating `earlier`, ours and crdts'.
fn pair(n: usize) -> ((VectorClock, VectorClock), (VClock<u32>, VClock<u32>)) {
    let mut rng = SimRng::seed_from_u64(n as u64);
    let earlier: Vec<u64> = (0..n).map(|_| rng.random_range(1..1_000)).collect();
    let mut later: Vec<u64> = earlier
        .iter()
        .map(|&x| x + rng.random_range(0..2))
        .collect();
    later[n - 1] = earlier[n - 1] + 1;
    let ours = |v: &[u64]| VectorClock {
        entries: v.to_vec(),
    };
    let theirs = |v: &[u64]| -> VClock<u32> {
        v.iter()
            .enumerate()
            .map(|(actor, &counter)| Dot::new(actor as u32, counter))
            .collect()
    };
    (
        (ours(&earlier), ours(&later)),
        (theirs(&earlier), theirs(&later)),
    )
}

fn vector_clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("vector_clock");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for n in [3usize, 16, 128] {
        let ((a, b), (ca, cb)) = pair(n);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(ca.partial_cmp(&cb), Some(std::cmp::Ordering::Less));

        group.bench_with_input(BenchmarkId::new("compare/uds", n), &n, |bench, _| {
            bench.iter(|| black_box(&a).compare(black_box(&b)))
        });
        group.bench_with_input(BenchmarkId::new("compare/crdts", n), &n, |bench, _| {
            bench.iter(|| black_box(&ca).partial_cmp(black_box(&cb)))
        });
        group.bench_with_input(BenchmarkId::new("merge/uds", n), &n, |bench, _| {
            bench.iter_batched(
                || a.clone(),
                |mut x| {
                    x.merge(black_box(&b));
                    x
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("merge/crdts", n), &n, |bench, _| {
            bench.iter_batched(
                || (ca.clone(), cb.clone()),
                |(mut x, y)| {
                    x.merge(black_box(y));
                    x
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, vector_clocks);
criterion_main!(benches);
