//! Chapter 18 listing: Maglev fills a lookup table, then loses a backend.
//!
//! playground-bundle: scalability::load_balancing::maglev
//!
//! Run: `cargo run -p uds --example ch18_maglev_table`
use uds::scalability::load_balancing::maglev::{
    disruption, entries_per_backend, offset_and_skip, populate,
};

// ANCHOR: main
fn main() {
    let backends = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    let m = 13; // prime, larger than the number of backends
    for b in backends {
        let (offset, skip) = offset_and_skip(b, m);
        let prefs: Vec<usize> = (0..m).map(|j| (offset + j * skip) % m).collect();
        println!("{b}: offset {offset:>2}, skip {skip:>2}, preferences {prefs:?}");
    }
    let before = populate(&backends, m).expect("m is prime and larger than 3");
    println!(
        "table: {before:?}, entries each {:?}",
        entries_per_backend(&before, 3)
    );

    let after = populate(&backends[..2], m).expect("m is prime and larger than 2");
    let (changed, needless) = disruption(&before, &after, 2);
    println!("without {}: {after:?}", backends[2]);
    println!("{changed} of {m} entries changed owner, {needless} of them needlessly");

    // A production-sized table: 65,537 entries for 100 backends, then one removed.
    let names: Vec<String> = (0..100).map(|i| format!("10.1.{i}.1")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = populate(&refs, 65_537).expect("65,537 is prime");
    let counts = entries_per_backend(&big, 100);
    let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    println!("100 backends, M = 65537: each holds {lo} to {hi} entries");
    let smaller = populate(&refs[1..], 65_537).expect("65,537 is prime");
    let (changed, needless) = disruption(&big, &smaller, 0);
    println!("removing one: {changed} entries changed, {needless} needlessly");
}
// ANCHOR_END: main
