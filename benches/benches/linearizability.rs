//! The linearizability checker (`uds::coordination::linearizability`) on generated histories of
//! 100 to 2,000 operations: the search, and the check of a witness of the same history.
//!
//! `cargo bench -p uds-benches --bench linearizability -- --noplot`. The histories come from
//! `linearizability::generate::atomic_history` (seed 0): 8 clients, each with one operation in
//! flight, on 4 keys (a third each gets, puts and appends), and a tenth of the operations with
//! unknown outcome, close to the chapter 10 campaign with a majority crashing. They are
//! linearizable by construction, so the search must find an order for every key, and the
//! generator's instants are a witness. Each history is checked once before it is timed, and
//! the bench fails if the checker does not answer "linearizable". Short runs: 10 samples.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use uds::coordination::linearizability::generate::{Shape, atomic_history};
use uds::coordination::linearizability::witness::check_witness;
use uds::coordination::linearizability::{CheckResult, KvModel, Limits, Model, check_report};

/// The sizes of the bench, in operations.
const SIZES: [usize; 5] = [100, 250, 500, 1_000, 2_000];

fn shape(operations: usize) -> Shape {
    Shape {
        operations,
        clients: 8,
        keys: 4,
        unknown: 0.1,
        seed: 0,
    }
}

fn search(c: &mut Criterion) {
    let mut group = c.benchmark_group("linearizability_search");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for size in SIZES {
        let (history, _) = atomic_history(&shape(size));
        let report = check_report(&KvModel, &history, &Limits::default(), None);
        assert_eq!(report.result(), CheckResult::Ok, "{report}");
        println!("{size} operations: {} steps", report.steps());
        group.bench_with_input(BenchmarkId::new("search", size), &size, |bench, _| {
            bench.iter(|| check_report(&KvModel, black_box(&history), &Limits::default(), None))
        });
    }
    group.finish();
}

fn witness(c: &mut Criterion) {
    let mut group = c.benchmark_group("linearizability_witness");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(1));
    for size in SIZES {
        let (history, witness) = atomic_history(&shape(size));
        let partitions = KvModel.partition(&history);
        let verify = || {
            partitions
                .iter()
                .all(|p| check_witness(&KvModel, &history, p, &witness).is_ok())
        };
        assert!(verify(), "the generator's witness explains its history");
        group.bench_with_input(BenchmarkId::new("witness", size), &size, |bench, _| {
            bench.iter(|| black_box(verify()))
        });
    }
    group.finish();
}

criterion_group!(benches, search, witness);
criterion_main!(benches);
