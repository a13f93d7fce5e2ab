//! The φ (phi) function of the accrual failure detector, and the normal tail it is built on.
//!
//! Hayashibara, Défago, Yared and Katayama ("The φ Accrual Failure Detector", SRDS 2004)
//! model the time between two heartbeats as a normal random variable whose mean μ and standard
//! deviation σ are estimated from recent inter-arrival times. If the last heartbeat arrived
//! `elapsed` ago, the probability that the next one is *still* to come is
//! `P_later(elapsed) = 1 - F(elapsed)`, with `F` the normal CDF, and the suspicion level is
//!
//! ```text
//! φ(elapsed) = -log10(P_later(elapsed))
//! ```
//!
//! φ = 1 means "a heartbeat this late happens one time in ten", φ = 3 "one time in a thousand".
//! An application that suspects when φ exceeds a threshold Φ therefore accepts a false-suspicion
//! probability of about 10^-Φ per heartbeat, *if* the normal model fits.
//!
//! **The approximation.** `F` has no closed form. We compute the upper tail
//! `P(Z > z) = erfc(z / √2) / 2` with the Chebyshev-fitted `erfcc` of Press, Teukolsky,
//! Vetterling and Flannery (*Numerical Recipes in C*, 2nd ed., 1992, §6.2), whose *relative*
//! error is below 1.2e-7 everywhere. Relative error is what matters here: the tail at φ = 10 is
//! 1e-10, and an approximation with a small *absolute* error (such as the logistic one Akka uses,
//! absolute error about 1e-4) cannot resolve it. Better still, the formula is
//! `t · exp(polynomial(t) - x²)`, so we take its logarithm term by term and never form the tiny
//! number itself: φ stays finite and increasing even at elapsed times where the tail underflows
//! an `f64`, which is exactly what happens after a crash.
//!
//! Everything here is pure and std-only, and table-tested against reference values of the
//! normal distribution.

/// `log10(P(Z > z))` for a standard normal `Z`, with relative error below about 1.2e-7 in the
/// tail itself (Numerical Recipes §6.2). Finite for every finite `z`.
// ANCHOR: log10_normal_tail
pub fn log10_normal_tail(z: f64) -> f64 {
    assert!(z.is_finite(), "normal tail of a non-finite value {z}");
    let x = z.abs() / std::f64::consts::SQRT_2;
    // erfc(x) = t * exp(-x^2 + p(t)) for x >= 0, with t = 1 / (1 + x/2).
    let t = 1.0 / (1.0 + 0.5 * x);
    let p = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ln_erfc = t.ln() - x * x + p;
    if z >= 0.0 {
        // P(Z > z) = erfc(x) / 2, taken in logarithms so it never underflows.
        (ln_erfc - std::f64::consts::LN_2) / std::f64::consts::LN_10
    } else {
        // P(Z > z) = 1 - P(Z > |z|): between one half and one, no underflow possible.
        (1.0 - 0.5 * ln_erfc.exp()).log10()
    }
}
// ANCHOR_END: log10_normal_tail

// ANCHOR: phi
/// The suspicion level φ after `elapsed` without a heartbeat, when inter-arrival times look
/// normal with mean `mean` and standard deviation `stddev` (all in the same unit).
/// Hayashibara et al. 2004: φ = -log10(1 - F(elapsed)).
pub fn phi(elapsed: f64, mean: f64, stddev: f64) -> f64 {
    assert!(
        stddev > 0.0 && stddev.is_finite(),
        "phi needs a positive standard deviation, got {stddev}"
    );
    -log10_normal_tail((elapsed - mean) / stddev)
}
// ANCHOR_END: phi

// ANCHOR: z_for_phi
/// The number of standard deviations above the mean at which φ reaches `threshold`: the `z`
/// with `-log10(P(Z > z)) = threshold`. A detector with threshold Φ suspects exactly when
/// `elapsed > mean + z_for_phi(Φ) * stddev`, so for a fixed threshold the accrual detector is
/// a timeout that follows the estimated distribution. Found by bisection on the same tail
/// function `phi` uses, so the two agree to the last bit that matters.
pub fn z_for_phi(threshold: f64) -> Result<f64, String> {
    if !(threshold > 0.0 && threshold <= 300.0) {
        return Err(format!(
            "phi threshold {threshold} must be in (0, 300] (a tail probability of 10^-threshold)"
        ));
    }
    // -log10 tail is increasing in z: about 0.0 at z = -10 and above 300 at z = 40.
    let (mut lo, mut hi) = (-10.0_f64, 40.0_f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if -log10_normal_tail(mid) < threshold {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}
// ANCHOR_END: z_for_phi

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference upper-tail probabilities of the standard normal distribution (from the
    /// complementary error function, e.g. Abramowitz and Stegun, table 26.1).
    const TAILS: [(f64, f64); 8] = [
        (-2.0, 0.977_249_868_051_820_8),
        (-1.0, 0.841_344_746_068_542_9),
        (0.0, 0.5),
        (1.0, 0.158_655_253_931_457_05),
        (2.0, 0.022_750_131_948_179_2),
        (3.0, 0.001_349_898_031_630_094_6),
        (5.0, 2.866_515_718_791_939e-7),
        (8.0, 6.220_960_574_271_785e-16),
    ];

    #[test]
    fn normal_tail_matches_reference_values_to_a_relative_error_of_1e_6() {
        for (z, expected) in TAILS {
            let got = 10f64.powf(log10_normal_tail(z));
            let relative = (got - expected).abs() / expected;
            assert!(relative < 1e-6, "z = {z}: {got} vs {expected}");
        }
    }

    #[test]
    fn phi_is_minus_log10_of_the_tail_in_table_cases() {
        // (elapsed, mean, stddev, expected phi)
        let cases = [
            (100.0, 100.0, 10.0, std::f64::consts::LOG10_2), // at the mean: P_later = 1/2
            (110.0, 100.0, 10.0, 0.799_53),                  // one sigma late
            (130.0, 100.0, 10.0, 2.869_70),                  // three sigma late
            (150.0, 100.0, 10.0, 6.542_72),                  // five sigma late
            (50.0, 100.0, 10.0, 1.24e-7), // five sigma early: almost no suspicion
            (1_100.0, 1_000.0, 100.0, 0.799_53), // scale-free: only (e - m) / s counts
        ];
        for (elapsed, mean, stddev, expected) in cases {
            let got = phi(elapsed, mean, stddev);
            assert!(
                (got - expected).abs() < 1e-4 * expected.max(1.0),
                "phi({elapsed}, {mean}, {stddev}) = {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn phi_keeps_rising_long_after_the_tail_underflows() {
        let mut last = 0.0;
        for elapsed in [200.0, 500.0, 1_000.0, 5_000.0, 50_000.0] {
            let p = phi(elapsed, 100.0, 10.0);
            assert!(p.is_finite() && p > last, "phi({elapsed}) = {p}");
            last = p;
        }
    }

    #[test]
    fn z_for_phi_inverts_phi() {
        for threshold in [0.1, 0.5, 1.0, 2.0, 3.0, 8.0, 16.0, 100.0] {
            let z = z_for_phi(threshold).expect("valid threshold");
            let back = phi(100.0 + z * 10.0, 100.0, 10.0);
            assert!(
                (back - threshold).abs() < 1e-9,
                "{threshold}: z {z} -> {back}"
            );
        }
        // Well-known quantiles: 10^-1 at z = 1.2816, 10^-3 at z = 3.0902.
        assert!((z_for_phi(1.0).unwrap() - 1.281_551_6).abs() < 1e-5);
        assert!((z_for_phi(3.0).unwrap() - 3.090_232_3).abs() < 1e-5);
    }

    #[test]
    fn bad_thresholds_are_errors() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 301.0] {
            assert!(z_for_phi(bad).is_err(), "{bad}");
        }
    }
}
