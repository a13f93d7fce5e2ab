//! Partitioning: our jump consistent hash and hash ring lookup (`uds::scalability::partitioning`)
//! against the `jumpch` and `hashring` crates. Being written (issue 10, chapter 16).

use criterion::{Criterion, criterion_group, criterion_main};

fn benches(_c: &mut Criterion) {}

criterion_group!(partitioning, benches);
criterion_main!(partitioning);
