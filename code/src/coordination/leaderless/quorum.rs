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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn quorum_arithmetic() {
        let cases = [
            // n, r, w, overlapping, write tolerance, read tolerance
            (3, 1, 1, false, 2, 2),
            (3, 2, 2, true, 1, 1),
            (3, 1, 3, true, 0, 2),
            (3, 1, 2, false, 1, 2),
            (5, 3, 3, true, 2, 2),
            (5, 2, 3, false, 2, 3),
        ];
        for (n, r, w, overlap, wt, rt) in cases {
            let q = Quorum { n, r, w };
            assert!(q.validate().is_ok());
            assert_eq!(q.overlapping(), overlap, "{q}");
            assert_eq!((q.write_tolerance(), q.read_tolerance()), (wt, rt), "{q}");
        }
        for (n, r, w) in [(3, 0, 1), (3, 4, 1), (0, 0, 0), (3, 1, 4)] {
            assert!(Quorum { n, r, w }.validate().is_err());
        }
    }

    fn rng() -> Xoshiro256PlusPlus {
        Xoshiro256PlusPlus::seed_from_u64(7)
    }

    #[test]
    fn overlapping_quorums_are_never_stale() {
        let wars = Wars::iid(UniformMs {
            min_ms: 0.0,
            max_ms: 10.0,
        });
        for q in [Quorum { n: 3, r: 2, w: 2 }, Quorum { n: 3, r: 1, w: 3 }] {
            let p = stale_probability(q, &wars, &[0.0, 1.0], 2000, &mut rng());
            assert_eq!(p, vec![0.0, 0.0], "{q}");
        }
    }

    #[test]
    fn partial_quorums_grow_fresher_with_time() {
        let wars = Wars::iid(UniformMs {
            min_ms: 0.0,
            max_ms: 10.0,
        });
        let q = Quorum { n: 3, r: 1, w: 1 };
        let p = stale_probability(q, &wars, &[0.0, 2.0, 5.0, 20.0], 5000, &mut rng());
        assert!(p[0] > 0.1 && p[0] > p[1] && p[1] > p[2], "{p:?}");
        // After the longest possible write delay, every replica has it.
        assert_eq!(p[3], 0.0);
    }

    #[test]
    fn constant_delays_make_partial_quorums_consistent() {
        // Equal delays: the write reaches every replica before any read request can.
        let wars = Wars::iid(UniformMs {
            min_ms: 1.0,
            max_ms: 1.0,
        });
        let p = stale_probability(Quorum { n: 3, r: 1, w: 1 }, &wars, &[0.0], 100, &mut rng());
        assert_eq!(p, vec![0.0]);
    }
}
