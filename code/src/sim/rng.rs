//! Seeded randomness for simulations, through the `rand` crate's traits.
//!
//! Every random choice in a run (a link's latency, a lost packet, a node's election timeout)
//! comes from a generator derived from the run's single seed. That is what makes a run
//! replayable: the same seed gives the same choices in the same order.
//!
//! Protocol code draws with the API a Rust programmer already knows: `ctx.rng()` is a
//! [`SimRng`], which implements `rand::Rng` and `rand::SeedableRng`, so a handler writes
//! `ctx.rng().random_range(150..=300)`, `random_bool(p)`, `items.choose(ctx.rng())` or
//! `ctx.rng().sample(distribution)` with `rand::RngExt` and `rand::seq::IndexedRandom` in scope.
//!
//! Reproducibility is a promise about two things, the generator and the algorithms that turn
//! its bits into values, and we lean on the `rand` project's written policy for both (The Rust
//! Rand Book, "Reproducibility"). The generator is `rand::rngs::Xoshiro256PlusPlus` (Blackman
//! and Vigna, ACM TOMS 2021; seeded through SplitMix64, Steele, Lea and Flood, OOPSLA 2014), one of
//! rand's *named portable* generators, not `StdRng` or `SmallRng`, which rand documents as free
//! to change algorithm in any release. For portable items rand promises the same values on every
//! platform and across patch releases; a minor release (0.10 to 0.11) may change values and
//! must say so in its changelog. So `code/Cargo.toml` asks for rand 0.10 (patch releases only),
//! and `value_stability` below pins a few draws of every kind we use: an upgrade that changes
//! them fails that test, and then every checked-in output must be regenerated on purpose.
//!
//! Indexes are portable too: rand samples a `usize` range, and chooses and shuffles, through
//! 32-bit draws, so a 32-bit and a 64-bit machine make the same choices. One caveat remains:
//! our floating-point transforms ([`Exponential`], [`StandardNormal`], log-normal and Pareto
//! latencies) call std's `ln`, `cos`, `exp` and `powf`, whose last bit may differ between
//! platforms' maths libraries. The checked-in outputs come from x86-64 Linux.
//!
//! The exponential, normal and Zipf distributions live in `rand_distr`, which the Rust
//! playground does not offer, so the three we need are small types here implementing
//! `rand::distr::Distribution`.

use std::f64::consts::TAU;

use rand::distr::{Distribution, OpenClosed01};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

// ANCHOR: rng
/// The simulator's generator: rand's portable xoshiro256++, seeded through SplitMix64.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream of sub-component `stream` (a node, the network, a fault schedule) of the run
/// `seed`. Different streams of one seed are unrelated, so a random choice added to one node's
/// code does not shift the draws of any other node.
pub fn rng_stream(seed: u64, stream: u64) -> SimRng {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    SimRng::seed_from_u64(splitmix64(&mut state))
}

/// One step of SplitMix64: it mixes `seed ^ stream` so that nearby inputs seed unrelated
/// generators.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: rng

// ANCHOR: distributions
/// The exponential distribution with mean `mean` (memoryless waiting times: think times,
/// arrivals of a Poisson process, queueing delay), sampled by inverting its CDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    pub mean: f64,
}

impl Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // A uniform draw in (0, 1], so that the logarithm is finite.
        let u: f64 = rng.sample(OpenClosed01);
        -self.mean * u.ln()
    }
}

/// The standard normal distribution (mean 0, standard deviation 1), by the Box-Muller
/// transform. Named as in `rand_distr`, so that code moving there changes only an import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardNormal;

impl Distribution<f64> for StandardNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = rng.sample(OpenClosed01);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
// ANCHOR_END: distributions

// ANCHOR: zipf
/// The Zipf distribution over ranks `0..n` (rank 0 the most popular): rank `k` is drawn with
/// probability proportional to `1 / (k + 1)^s`. It is the usual model of popularity skew in
/// caching and partitioning experiments: a few keys get most requests. With `s = 0` every rank is
/// equally likely; around `s = 1` (web objects, Breslau et al., INFOCOM 1999) the head dominates.
/// Sampled by inverting the cumulative weights with a binary search, so building it costs `O(n)`
/// memory once and each draw `O(log n)`. Named as in `rand_distr`, whose `Zipf` yields a float
/// rank starting at 1; this one yields a `usize` index starting at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cumulative[k]` is the total weight of ranks `0..=k`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with exponent `s`. `None` if `n` is 0 or `s` is negative or not finite.
    pub fn new(n: usize, s: f64) -> Option<Zipf> {
        if n == 0 || !s.is_finite() || s < 0.0 {
            return None;
        }
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Some(Zipf { cumulative })
    }

    /// How many ranks there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a `Zipf` has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of rank `k` (0 if `k` is out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        match k {
            0 => self.cumulative[0] / total,
            k if k < self.cumulative.len() => (self.cumulative[k] - self.cumulative[k - 1]) / total,
            _ => 0.0,
        }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u: f64 = rng.random::<f64>() * total;
        // The first rank whose cumulative weight exceeds u.
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}
// ANCHOR_END: zipf

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::{IndexedRandom, SliceRandom};

    #[test]
    fn same_seed_gives_same_stream() {
        let mut a = SimRng::seed_from_u64(7);
        let mut b = SimRng::seed_from_u64(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    /// Every kind of draw the crate makes, from one stream, pinned. If this fails after a
    /// change to `rand` in Cargo.lock, rand has changed the values of a portable item (allowed
    /// in a minor release, and listed in its CHANGELOG): every checked-in output of the book
    /// would silently change. Either keep the old rand, or regenerate every output with
    /// `cargo xtask outputs`, re-check the numbers quoted in the chapters, and then update the
    /// values here.
    #[test]
    fn value_stability() {
        let mut rng = rng_stream(42, 1);
        let bits = rng.next_u64();
        let small = rng.random_range(0..10u64);
        let wide = rng.random_range(150..=300u64);
        let coin = [
            rng.random_bool(0.5),
            rng.random_bool(0.1),
            rng.random_bool(0.9),
        ];
        let unit: f64 = rng.random();
        let picked = *[10, 20, 30, 40, 50].choose(&mut rng).expect("not empty");
        let mut order = [1, 2, 3, 4, 5, 6];
        order.shuffle(&mut rng);
        let exp = rng.sample(Exponential { mean: 2.0 });
        let normal = rng.sample(StandardNormal);
        let drawn = format!("{bits:#018x} {small} {wide} {coin:?} {unit:.12} {picked} {order:?}");
        let drawn = format!("{drawn} {exp:.12} {normal:.12}");
        let pinned = "0x43f97fcbead50290 8 241 [false, false, true] 0.908276275543 20 \
                      [4, 3, 5, 2, 6, 1] 4.202076382942 0.285910986481";
        assert_eq!(
            drawn, pinned,
            "rand's values changed: see this test's doc comment"
        );
    }

    #[test]
    fn derived_streams_differ() {
        let mut a = rng_stream(1, 0);
        let mut b = rng_stream(1, 1);
        assert_ne!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn exponential_samples_have_the_requested_mean() {
        let mut r = SimRng::seed_from_u64(4);
        let n = 200_000;
        let mean = (0..n)
            .map(|_| r.sample(Exponential { mean: 2.0 }))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 2.0).abs() < 0.03, "mean {mean}");
    }

    #[test]
    fn normal_samples_have_mean_zero_and_unit_variance() {
        let mut r = SimRng::seed_from_u64(5);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.sample(StandardNormal)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
    }

    #[test]
    fn zipf_frequencies_match_its_probabilities() {
        let zipf = Zipf::new(50, 1.1).expect("valid");
        let mut r = SimRng::seed_from_u64(6);
        let n = 200_000;
        let mut counts = vec![0u32; zipf.len()];
        for _ in 0..n {
            counts[r.sample(&zipf)] += 1;
        }
        for (k, &c) in counts.iter().enumerate() {
            let expected = zipf.probability(k) * n as f64;
            let sd = expected.sqrt().max(1.0);
            assert!(
                (c as f64 - expected).abs() < 5.0 * sd,
                "rank {k}: {c} vs {expected}"
            );
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[9]);
        let sum: f64 = (0..zipf.len()).map(|k| zipf.probability(k)).sum();
        assert!((sum - 1.0).abs() < 1e-9);
    }

    #[test]
    fn zipf_rejects_bad_parameters() {
        assert!(Zipf::new(0, 1.0).is_none());
        assert!(Zipf::new(10, -0.5).is_none());
        assert!(Zipf::new(10, f64::NAN).is_none());
        let uniform = Zipf::new(4, 0.0).expect("valid");
        assert!((uniform.probability(3) - 0.25).abs() < 1e-12);
        assert_eq!(uniform.probability(4), 0.0);
    }
}
