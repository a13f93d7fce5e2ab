//! Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
//! Algorithm", 2014, arXiv:1406.2294).
//!
//! `jump_hash(key, n)` maps a 64-bit key to a bucket in `0..n` with no table at all: it
//! simulates the key's walk through `n` buckets, where bucket `b + 1` would steal the key from
//! the buckets before it with probability `1 / (b + 1)`, and jumps straight to the next bucket
//! that does, using one step of a linear congruential generator seeded by the key. Guarantees:
//! every bucket receives `1/n` of the keys in expectation, and going from `n` to `n + 1`
//! buckets moves only the keys that land in the new bucket, `1/(n + 1)` of them.
//!
//! The price: buckets are numbered `0..n`, and only the last one can be removed. A service
//! that loses server 3 of 10 cannot say so to jump hash; it must map bucket numbers to
//! servers itself (and renumber, moving keys) or keep bucket 3 alive with a replica.
//!
//! This file uses only std, so the chapter's runnable listing bundles it.

// ANCHOR: jump
/// The bucket in `0..buckets` of `key`: a line-by-line transcription of the paper's C++
/// function `JumpConsistentHash` (Lamping and Veach 2014, Figure 1).
///
/// Panics if `buckets` is 0 (the C++ version returns -1, which is no bucket either).
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    assert!(buckets > 0, "jump_hash needs at least one bucket");
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}
// ANCHOR_END: jump

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bucket_takes_every_key() {
        for key in [0, 1, 42, u64::MAX] {
            assert_eq!(jump_hash(key, 1), 0);
        }
    }

    #[test]
    fn growing_by_one_bucket_moves_keys_only_into_the_new_bucket() {
        for key in 0..10_000u64 {
            for n in 1..40 {
                let (before, after) = (jump_hash(key, n), jump_hash(key, n + 1));
                assert!(
                    after == before || after == n,
                    "key {key}: {before} -> {after}"
                );
            }
        }
    }
}
