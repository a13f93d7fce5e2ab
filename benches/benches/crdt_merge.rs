//! CRDT merge: our OR-Set and MV-Register (`uds::coordination::crdt`) against the `crdts`
//! crate's `Orswot` and `MVReg`, on the same histories.
//!
//! `cargo bench -p uds-benches --bench crdt_merge`. The OR-Set history: replica 0 adds `size`
//! elements, replica 1 receives them, then during a "partition" each removes a different tenth
//! of them and adds `size / 10` new ones. The bench times replica 0 merging replica 1's state.
//! The MV-Register history: `siblings` replicas each write once, concurrently, and one replica
//! merges all the others' states. Merges are timed on fresh copies (`iter_batched`): `crdts`
//! merges take the other state by value, ours by reference, and neither copy is counted.
//! Vector clock merges are in the `vector_clock` bench. Short runs: small sample sizes.

use std::hint::black_box;
use std::time::Duration;

use crdts::{CmRDT, CvRDT, MVReg, Orswot};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use uds::coordination::crdt::StateCrdt;
use uds::coordination::crdt::mvregister::MvRegister;
use uds::coordination::crdt::orset::OrSet;

/// The OR-Set history above, ours.
fn our_sets(size: u32) -> (OrSet<u32>, OrSet<u32>) {
    let mut a = OrSet::new();
    for e in 0..size {
        a.add(0, e);
    }
    let mut b = a.clone();
    for e in (0..size).filter(|e| e.is_multiple_of(10)) {
        a.remove(&e);
    }
    for e in (0..size).filter(|e| e % 10 == 5) {
        b.remove(&e);
    }
    for e in size..size + size / 10 {
        a.add(0, e);
        b.add(1, e + size);
    }
    (a, b)
}

/// The same history, `crdts`' `Orswot` (actors 0 and 1).
fn their_sets(size: u32) -> (Orswot<u32, u8>, Orswot<u32, u8>) {
    let add = |s: &mut Orswot<u32, u8>, actor: u8, e: u32| {
        let op = s.add(e, s.read_ctx().derive_add_ctx(actor));
        s.apply(op);
    };
    let remove = |s: &mut Orswot<u32, u8>, e: u32| {
        let op = s.rm(e, s.contains(&e).derive_rm_ctx());
        s.apply(op);
    };
    let mut a = Orswot::new();
    for e in 0..size {
        add(&mut a, 0, e);
    }
    let mut b = a.clone();
    for e in (0..size).filter(|e| e.is_multiple_of(10)) {
        remove(&mut a, e);
    }
    for e in (0..size).filter(|e| e % 10 == 5) {
        remove(&mut b, e);
    }
    for e in size..size + size / 10 {
        add(&mut a, 0, e);
        add(&mut b, 1, e + size);
    }
    (a, b)
}

fn or_sets(c: &mut Criterion) {
    let mut group = c.benchmark_group("or_set_merge");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for size in [100u32, 1_000, 10_000] {
        let (a, b) = our_sets(size);
        let (ta, tb) = their_sets(size);
        let mut ours = a.clone();
        ours.merge(&b);
        let mut theirs = ta.clone();
        theirs.merge(tb.clone());
        assert_eq!(
            ours.value().len(),
            theirs.read().val.len(),
            "same history, same set"
        );

        group.bench_with_input(BenchmarkId::new("uds", size), &size, |bench, _| {
            bench.iter_batched(
                || a.clone(),
                |mut x| {
                    x.merge(black_box(&b));
                    x
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("crdts", size), &size, |bench, _| {
            bench.iter_batched(
                || (ta.clone(), tb.clone()),
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

fn mv_registers(c: &mut Criterion) {
    let mut group = c.benchmark_group("mv_register_merge");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for siblings in [2usize, 8] {
        let ours: Vec<MvRegister<u64>> = (0..siblings)
            .map(|r| {
                let mut reg = MvRegister::new();
                reg.set(r, r as u64);
                reg
            })
            .collect();
        let theirs: Vec<MVReg<u64, u8>> = (0..siblings)
            .map(|r| {
                let mut reg = MVReg::new();
                let op = reg.write(r as u64, reg.read_ctx().derive_add_ctx(r as u8));
                reg.apply(op);
                reg
            })
            .collect();
        group.bench_with_input(BenchmarkId::new("uds", siblings), &siblings, |bench, _| {
            bench.iter_batched(
                || ours[0].clone(),
                |mut x| {
                    for other in &ours[1..] {
                        x.merge(black_box(other));
                    }
                    x
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(
            BenchmarkId::new("crdts", siblings),
            &siblings,
            |bench, _| {
                bench.iter_batched(
                    || theirs.clone(),
                    |all| {
                        let mut all = all.into_iter();
                        let mut x = all.next().expect("at least one");
                        for other in all {
                            x.merge(black_box(other));
                        }
                        x
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

criterion_group!(benches, or_sets, mv_registers);
criterion_main!(benches);
