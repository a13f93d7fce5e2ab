// GENERATED from code/examples/ch18_maglev_table.rs and the `uds` modules scalability::load_balancing::maglev by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 18 listing: Maglev fills a lookup table, then loses a backend.
//!
//! playground-bundle: scalability::load_balancing::maglev
//!
//! Run: `cargo run -p uds --example ch18_maglev_table`
use crate::scalability::load_balancing::maglev::{
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

mod scalability {

pub mod load_balancing {

pub mod maglev {
//! Maglev's lookup table: consistent hashing that balances almost perfectly.
//!
//! Maglev (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI
//! 2016, §3.4) spreads connections over backends with a table of `M` entries, `M` prime: a
//! packet's 5-tuple hash picks an entry, the entry names a backend. Each backend `i` has its own
//! *preference list*, a permutation of the table's slots built from two hashes of its name,
//! `offset = h1(name) mod M` and `skip = h2(name) mod (M - 1) + 1`, so that its `j`-th
//! preference is `(offset + j * skip) mod M`. Because `M` is prime and `0 < skip < M`, this
//! visits every slot exactly once.
//!
//! The table is filled in rounds: in each round every backend, in turn, takes its most preferred
//! slot that is still empty. Two properties follow, and `tests/part3/ch18_load_balancing.rs`
//! checks both over random backend sets:
//! - **Balance.** Every round gives each backend one slot until the table is full, so any two
//!   backends' counts differ by at most one: each holds `floor(M / N)` or `ceil(M / N)` entries.
//! - **Small disruption.** Removing a backend frees its slots; the others mostly refill the same
//!   preferences they had, so most entries that did not belong to the removed backend keep their
//!   owner. The guarantee is not minimal (a ring moves none of them): an early grab by one backend
//!   can push another to a later preference, and the chain of displacements moves a few entries.
//!   The paper accepts that trade for balance; chapter 18's figure measures how many move.
//!
//! Simplifications: our two hashes are FNV-1a with two seeds followed by a 64-bit finaliser, not
//! the paper's; backends have no weights; the connection-tracking table that shields live
//! connections from table changes is modelled by the chapter's experiment, not here. This file
//! uses only std, so the playground can run it.

// ANCHOR: hash
/// A 64-bit hash of `name` with a `seed`: FNV-1a over the bytes, then SplitMix64's finaliser
/// so that similar names (`backend-1`, `backend-2`) land far apart.
pub fn hash64(name: &str, seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for byte in name.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}
// ANCHOR_END: hash

/// Whether `n` is prime (trial division; table sizes are at most a few million).
pub fn is_prime(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}

// ANCHOR: preferences
/// Backend `name`'s preference list in a table of `m` slots, as `(offset, skip)`: its `j`-th
/// choice is `(offset + j * skip) % m`.
pub fn offset_and_skip(name: &str, m: usize) -> (usize, usize) {
    let m64 = m as u64;
    let offset = hash64(name, 0x6d61_676c) % m64;
    let skip = hash64(name, 0x736b_6970) % (m64 - 1) + 1;
    (offset as usize, skip as usize)
}
// ANCHOR_END: preferences

// ANCHOR: populate
/// Fills a table of `m` slots (`m` prime, larger than the number of backends) for `backends`;
/// entry `e` holds the index in `backends` of the backend that owns slot `e`.
/// Returns `None` when the parameters are unusable: no backends, `m` not prime, or `m` not larger
/// than the number of backends.
pub fn populate(backends: &[&str], m: usize) -> Option<Vec<usize>> {
    if backends.is_empty() || !is_prime(m) || m <= backends.len() {
        return None;
    }
    let prefs: Vec<(usize, usize)> = backends.iter().map(|b| offset_and_skip(b, m)).collect();
    // next[i]: how far down its preference list backend i has looked.
    let mut next = vec![0usize; backends.len()];
    let mut entry = vec![usize::MAX; m];
    let mut filled = 0;
    loop {
        for (i, &(offset, skip)) in prefs.iter().enumerate() {
            // Walk i's preferences to the first empty slot; the walk ends because the table
            // has an empty slot (it is not full yet) and the list visits every slot.
            let mut slot = (offset + next[i] * skip) % m;
            while entry[slot] != usize::MAX {
                next[i] += 1;
                slot = (offset + next[i] * skip) % m;
            }
            entry[slot] = i;
            next[i] += 1;
            filled += 1;
            if filled == m {
                return Some(entry);
            }
        }
    }
}
// ANCHOR_END: populate

/// How many entries each of `n` backends owns in `table`.
pub fn entries_per_backend(table: &[usize], n: usize) -> Vec<usize> {
    let mut counts = vec![0; n];
    for &owner in table {
        counts[owner] += 1;
    }
    counts
}

// ANCHOR: disruption
/// Compares the table before and after removing backend `removed` (whose index in `before` is
/// `removed`; in `after` the backends above it have shifted down by one). Returns how many
/// entries changed owner in total, and how many of those had *not* belonged to the removed
/// backend: those moves are the disruption a perfect scheme would avoid.
pub fn disruption(before: &[usize], after: &[usize], removed: usize) -> (usize, usize) {
    assert_eq!(before.len(), after.len(), "tables of different sizes");
    let mut changed = 0;
    let mut needless = 0;
    for (&old, &new) in before.iter().zip(after) {
        // Renumber the old owner as it is named in `after`.
        let old_renamed = if old > removed { old - 1 } else { old };
        if old == removed {
            changed += 1;
        } else if old_renamed != new {
            changed += 1;
            needless += 1;
        }
    }
    (changed, needless)
}
// ANCHOR_END: disruption

}
}
}
