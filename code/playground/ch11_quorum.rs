// GENERATED from code/examples/ch11_quorum.rs and the `uds` modules coordination::leaderless::ring, coordination::leaderless::quorum by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 11 (leaderless replication) listing: a ring's preference lists, quorum arithmetic,
//! and the PBS model's stale-read probability, with delays uniform between 0 and 2 ms.
//!
//! playground-bundle: coordination::leaderless::ring coordination::leaderless::quorum
//!
//! Run: `cargo run -p uds --example ch11_quorum`
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use crate::coordination::leaderless::quorum::{Quorum, UniformMs, Wars, stale_probability};
use crate::coordination::leaderless::ring::Ring;

// ANCHOR: main
fn main() {
    // Five servers with two tokens each; every key lives on three of them.
    let ring = Ring::new(5, 2);
    for key in 0..4 {
        let owners = ring.preference_list(key, 3);
        let stand_ins = &ring.preference_list(key, 5)[3..];
        println!("key {key}: owners {owners:?}, stand-ins in order {stand_ins:?}");
    }

    // Which (R, W) overlap, and how stale do the others read?
    let wars = Wars::iid(UniformMs {
        min_ms: 0.0,
        max_ms: 2.0,
    });
    let since_ms = [0.0, 0.5, 1.0, 2.0];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    println!("\nN R W  overlap  P(stale) at {since_ms:?} ms after the write");
    for (r, w) in [(1, 1), (1, 2), (2, 1), (2, 2), (1, 3)] {
        let q = Quorum { n: 3, r, w };
        let p = stale_probability(q, &wars, &since_ms, 20_000, &mut rng);
        let p: Vec<String> = p.iter().map(|x| format!("{x:.3}")).collect();
        println!("3 {r} {w}  {:<7}  {}", q.overlapping(), p.join("  "));
    }
}
// ANCHOR_END: main

mod coordination {

pub mod leaderless {

pub mod quorum {
//! Quorum arithmetic, and the PBS model of how stale a partial quorum reads.
//!
//! A key lives on `n` replicas. A write returns once `w` of them acknowledge it, a read once
//! `r` of them answer (Dynamo §4.5). If `r + w > n`, every read quorum shares at least one
//! replica with every write quorum, so a read hears from some replica that holds the last
//! completed write. If `r + w <= n` the quorums may miss each other, and a read may be stale.
//!
//! How stale, and for how long? Bailis, Venkataraman, Franklin, Hellerstein and Stoica,
//! "Probabilistically Bounded Staleness for Practical Partial Quorums" (PVLDB, VLDB 2012),
//! answer with the **WARS** model: a write travels to each replica `i` in `W_i`, its
//! acknowledgement comes back in `A_i`; a read request travels in `R_i` and its response in
//! `S_i`. The write *commits* when the `w`-th acknowledgement arrives; a read issued `t` later
//! sees the write at replica `i` if the write got there before the read request did, and the
//! read returns the first `r` responses. [`stale_probability`] computes the chance of a stale
//! read by Monte Carlo over those four delays, which is how the paper evaluates the model.
//!
//! Uses only std and `rand`, so the runnable listing of the chapter bundles it.

use std::time::Duration;

use rand::distr::Distribution;
use rand::{Rng, RngExt};

// ANCHOR: quorum
/// Replication factor and quorum sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// Replicas of each key.
    pub n: usize,
    /// Replies a read waits for.
    pub r: usize,
    /// Acknowledgements a write waits for.
    pub w: usize,
}

impl Quorum {
    /// Checks `1 <= r, w <= n`.
    pub fn validate(&self) -> Result<(), String> {
        let Quorum { n, r, w } = *self;
        if n == 0 || r == 0 || w == 0 || r > n || w > n {
            return Err(format!("need 1 <= r, w <= n, got n={n} r={r} w={w}"));
        }
        Ok(())
    }

    /// Every read quorum meets every write quorum: `r + w > n`.
    pub fn overlapping(&self) -> bool {
        self.r + self.w > self.n
    }

    /// Replicas that may be down while writes still succeed (strict quorums).
    pub fn write_tolerance(&self) -> usize {
        self.n - self.w
    }

    /// Replicas that may be down while reads still succeed (strict quorums).
    pub fn read_tolerance(&self) -> usize {
        self.n - self.r
    }
}
// ANCHOR_END: quorum

impl std::fmt::Display for Quorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "N={} R={} W={}", self.n, self.r, self.w)
    }
}

/// The four delay distributions of the WARS model.
#[derive(Clone, Debug)]
pub struct Wars<D> {
    /// Coordinator to replica, carrying the write.
    pub w: D,
    /// Replica to coordinator, the write's acknowledgement.
    pub a: D,
    /// Coordinator to replica, the read request.
    pub r: D,
    /// Replica to coordinator, the read's response.
    pub s: D,
}

impl<D: Clone> Wars<D> {
    /// The same distribution for all four delays.
    pub fn iid(d: D) -> Wars<D> {
        Wars {
            w: d.clone(),
            a: d.clone(),
            r: d.clone(),
            s: d,
        }
    }
}

// ANCHOR: wars_trial
/// One WARS trial: for each `t` in `since_commit`, is a read issued `t` after the write
/// committed stale? The write starts at time zero on all `n` replicas.
pub fn wars_trial<D, R>(q: Quorum, wars: &Wars<D>, since_commit: &[f64], rng: &mut R) -> Vec<bool>
where
    D: Distribution<Duration>,
    R: Rng + ?Sized,
{
    let ms = |d: &D, rng: &mut R| d.sample(rng).as_secs_f64() * 1e3;
    let mut arrives = Vec::with_capacity(q.n); // when the write reaches replica i
    let mut acked = Vec::with_capacity(q.n); // when replica i's acknowledgement is back
    for _ in 0..q.n {
        let w = ms(&wars.w, rng);
        arrives.push(w);
        acked.push(w + ms(&wars.a, rng));
    }
    acked.sort_by(f64::total_cmp);
    let commit = acked[q.w - 1];
    let mut stale = Vec::with_capacity(since_commit.len());
    for &t in since_commit {
        // (time the response is back, whether that replica had the write)
        let mut replies: Vec<(f64, bool)> = (0..q.n)
            .map(|i| {
                let request_arrives = commit + t + ms(&wars.r, rng);
                let has_write = arrives[i] <= request_arrives;
                (request_arrives + ms(&wars.s, rng), has_write)
            })
            .collect();
        replies.sort_by(|a, b| a.0.total_cmp(&b.0));
        stale.push(!replies[..q.r].iter().any(|&(_, has)| has));
    }
    stale
}
// ANCHOR_END: wars_trial

/// The probability of a stale read `t` milliseconds after commit, for each `t`, over `trials`
/// WARS trials.
pub fn stale_probability<D, R>(
    q: Quorum,
    wars: &Wars<D>,
    since_commit_ms: &[f64],
    trials: usize,
    rng: &mut R,
) -> Vec<f64>
where
    D: Distribution<Duration>,
    R: Rng + ?Sized,
{
    let mut stale = vec![0usize; since_commit_ms.len()];
    for _ in 0..trials {
        let outcome = wars_trial(q, wars, since_commit_ms, rng);
        for (count, s) in stale.iter_mut().zip(outcome) {
            *count += usize::from(s);
        }
    }
    stale
        .into_iter()
        .map(|s| s as f64 / trials.max(1) as f64)
        .collect()
}

/// Uniform delays between `min_ms` and `max_ms` milliseconds: the runnable listing's model,
/// which needs no other crate.
#[derive(Clone, Copy, Debug)]
pub struct UniformMs {
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Distribution<Duration> for UniformMs {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let ms = self.min_ms + rng.random::<f64>() * (self.max_ms - self.min_ms);
        Duration::from_secs_f64(ms.max(0.0) / 1e3)
    }
}

}

pub mod ring {
//! The consistent-hash ring: which servers hold a key.
//!
//! Dynamo (DeCandia et al., SOSP 2007, §4.2) places servers on a circle of hash values. Each
//! server owns several *tokens* (virtual nodes) at pseudo-random positions; a key hashes to a
//! position, and the first token clockwise from it names the key's *coordinator*. Walking on
//! clockwise and skipping servers already chosen gives the key's **preference list**: the `n`
//! distinct servers that store it (§4.3). Every key between two consecutive tokens has the same
//! preference list, so those keys form a *range*, the unit that anti-entropy compares.
//!
//! Walking past the first `n` gives the *extended* preference list: the servers that stand in,
//! in that order, when one of the first `n` is unreachable and sloppy quorums are on (§4.6).
//!
//! This file uses only std, so the runnable listing of the chapter bundles it.

/// A key of the store (a client names keys by number).
pub type Key = u64;

/// A 64-bit mixer (SplitMix64's finaliser): spreads keys and tokens evenly over the ring.
/// Deterministic, unlike std's randomly keyed `HashMap` hasher.
pub fn hash64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// ANCHOR: ring
/// Servers' tokens on a circle of `u64` positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    /// `(position, server)`, sorted by position. Invariant: positions are distinct.
    tokens: Vec<(u64, usize)>,
}

impl Ring {
    /// `servers` servers with `vnodes` tokens each, at hashed positions.
    pub fn new(servers: usize, vnodes: usize) -> Ring {
        let mut tokens = Vec::new();
        for server in 0..servers {
            for v in 0..vnodes {
                tokens.push((hash64(((server as u64) << 32) | v as u64), server));
            }
        }
        Ring::from_tokens(tokens)
    }

    /// A ring with the given tokens (for tests and drawings). Duplicate positions keep the first.
    pub fn from_tokens(mut tokens: Vec<(u64, usize)>) -> Ring {
        tokens.sort_by_key(|&(position, _)| position);
        tokens.dedup_by_key(|&mut (position, _)| position);
        Ring { tokens }
    }

    /// Where `key` sits on the ring.
    pub fn position(key: Key) -> u64 {
        hash64(key)
    }

    /// The index of the first token at or clockwise after `position`: the key's *range*.
    pub fn range_at(&self, position: u64) -> usize {
        assert!(
            !self.tokens.is_empty(),
            "a ring without tokens owns nothing"
        );
        let i = self.tokens.partition_point(|&(p, _)| p < position);
        if i == self.tokens.len() { 0 } else { i }
    }

    /// The first `n` distinct servers met walking clockwise from token `range`.
    pub fn range_preference(&self, range: usize, n: usize) -> Vec<usize> {
        let mut list = Vec::with_capacity(n.min(self.tokens.len()));
        for step in 0..self.tokens.len() {
            let (_, server) = self.tokens[(range + step) % self.tokens.len()];
            if list.len() == n {
                break;
            }
            if !list.contains(&server) {
                list.push(server);
            }
        }
        list
    }
}
// ANCHOR_END: ring

impl Ring {
    /// The range (token index) that holds `key`.
    pub fn range_of(&self, key: Key) -> usize {
        self.range_at(Ring::position(key))
    }

    /// The key's coordinator: the owner of the first token clockwise.
    pub fn owner(&self, key: Key) -> usize {
        self.tokens[self.range_of(key)].1
    }

    /// The key's preference list: the first `n` distinct servers clockwise (fewer if the ring
    /// has fewer servers). Pass the number of servers for the extended list of stand-ins.
    pub fn preference_list(&self, key: Key, n: usize) -> Vec<usize> {
        self.range_preference(self.range_of(key), n)
    }

    /// How many ranges (tokens) the ring has.
    pub fn ranges(&self) -> usize {
        self.tokens.len()
    }

    /// The tokens, sorted by position.
    pub fn tokens(&self) -> &[(u64, usize)] {
        &self.tokens
    }
}

}
}
}
