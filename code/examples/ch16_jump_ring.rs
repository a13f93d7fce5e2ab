//! Chapter 16's runnable listing: jump consistent hash and the hash ring, side by side. Both
//! spread keys over nodes; when a node joins, count how many keys move, and where to.
//!
//! playground-bundle: coordination::leaderless::ring scalability::partitioning::jump scalability::partitioning::ring
//!
//! Run: `cargo run --release -p uds --example ch16_jump_ring`
use uds::coordination::leaderless::ring::hash64;
use uds::scalability::partitioning::jump::jump_hash;
use uds::scalability::partitioning::ring::Ring;

// ANCHOR: main
fn main() {
    // 100,000 keys: jump hash wants well-mixed 64-bit keys, so hash the key numbers.
    let keys: Vec<u64> = (0..100_000u64).map(hash64).collect();

    // Jump hash: 10 buckets, then 11.
    let mut per_bucket = [0u32; 11];
    let mut moved = 0;
    for &key in &keys {
        let (before, after) = (jump_hash(key, 10), jump_hash(key, 11));
        per_bucket[after as usize] += 1;
        if before != after {
            assert_eq!(after, 10, "a key moved between old buckets");
            moved += 1;
        }
    }
    println!("jump, 11 buckets: keys per bucket {per_bucket:?}");
    println!("jump, 10 -> 11: {moved} keys moved, all to bucket 10 (ideal 1/11: 9,091)");

    // The ring: 10 nodes with 100 virtual nodes each, then node 10 joins.
    for vnodes in [1, 100] {
        let mut ring = Ring::with_nodes(10, vnodes);
        let before: Vec<usize> = keys.iter().map(|&k| ring.owner(k).unwrap()).collect();
        ring.add_node(10);
        let mut per_node = [0u32; 11];
        let mut moved = 0;
        for (&key, &old) in keys.iter().zip(&before) {
            let now = ring.owner(key).unwrap();
            per_node[now] += 1;
            if now != old {
                assert_eq!(now, 10, "a key moved between old nodes");
                moved += 1;
            }
        }
        println!("ring, {vnodes} vnodes: keys per node {per_node:?}");
        println!("ring, {vnodes} vnodes, 10 -> 11: {moved} keys moved, all to node 10");
    }
}
// ANCHOR_END: main
