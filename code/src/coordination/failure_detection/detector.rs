//! The two detectors: a fixed timeout, and the φ accrual detector.
//!
//! A [`Detector`] turns the history of heartbeat arrivals into one number: how long after the
//! last heartbeat it starts to suspect the sender (its *suspicion delay*). That shape fits both:
//!
//! - [`FixedTimeout`] ignores the history: the delay is a constant chosen by an operator.
//! - [`PhiAccrual`] (Hayashibara et al., SRDS 2004) keeps a window of inter-arrival times and
//!   reports a suspicion *level* φ that grows with the time since the last heartbeat
//!   ([`PhiAccrual::phi`]). Applications may compare φ with different thresholds; the monitor
//!   of this module uses one, `threshold`, and suspects when φ exceeds it. Because φ is
//!   increasing in the elapsed time, "φ > Φ" is the same as "elapsed > mean + z(Φ)·stddev"
//!   (see [`z_for_phi`]), so the suspicion delay has a closed form and the monitor can set one
//!   timer instead of polling φ.
//!
//! Two safeguards follow Akka's implementation of the paper (the `akka.cluster.failure-detector`
//! settings): the estimated standard deviation is floored at `min_stddev` (a perfectly regular
//! sender would otherwise make σ zero, and any jitter an infinite φ), and the window is seeded
//! with two samples around `first_heartbeat_estimate` (its mean ± a quarter), so that the
//! detector has a distribution before the first real interval arrives.
//!
//! Neither detector can tell a crashed sender from a slow network; the chapter's experiment
//! measures what each costs in false suspicions for a given detection time.

use std::time::Duration;

use super::phi::{phi, z_for_phi};
use super::window::InterArrivalWindow;

// ANCHOR: detector
/// What a monitor needs from a failure detector.
pub trait Detector {
    /// Learns one inter-arrival time: the gap between two consecutive fresh heartbeats.
    fn record(&mut self, interval: Duration);
    /// How long after the last heartbeat the detector starts to suspect (strictly after).
    fn suspicion_delay(&self) -> Duration;
}
// ANCHOR_END: detector

// ANCHOR: fixed_timeout
/// Suspects when no heartbeat arrived for longer than `timeout`, whatever the history.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedTimeout {
    /// The constant suspicion delay.
    pub timeout: Duration,
}

impl Detector for FixedTimeout {
    fn record(&mut self, _interval: Duration) {}

    fn suspicion_delay(&self) -> Duration {
        self.timeout
    }
}
// ANCHOR_END: fixed_timeout

/// The settings of a [`PhiAccrual`] detector.
#[derive(Clone, Debug, PartialEq)]
pub struct PhiConfig {
    /// Suspect when φ exceeds this. Must be in (0, 300].
    pub threshold: f64,
    /// How many inter-arrival times to keep (Akka's default `max-sample-size` is 1,000).
    pub window: usize,
    /// Floor on the estimated standard deviation. Must be positive.
    pub min_stddev: Duration,
    /// The interval assumed before any heartbeat arrived. Must be positive.
    pub first_heartbeat_estimate: Duration,
    /// Added to the estimated mean: a silence this much longer than usual is not yet
    /// suspicious (Akka's `acceptable-heartbeat-pause`). Zero in the paper.
    pub acceptable_pause: Duration,
}

impl PhiConfig {
    /// A window of 1,000 samples (Akka's default), a 10 ms floor on σ, and heartbeats expected
    /// every `interval`, with threshold `threshold`.
    pub fn new(threshold: f64, interval: Duration) -> PhiConfig {
        PhiConfig {
            threshold,
            window: 1_000,
            min_stddev: Duration::from_millis(10),
            first_heartbeat_estimate: interval,
            acceptable_pause: Duration::ZERO,
        }
    }
}

// ANCHOR: phi_accrual
/// The φ accrual failure detector (Hayashibara, Défago, Yared and Katayama, SRDS 2004).
#[derive(Clone, Debug, PartialEq)]
pub struct PhiAccrual {
    /// Recent inter-arrival times. Invariant: never empty (seeded at construction).
    window: InterArrivalWindow,
    /// Suspect when φ exceeds this.
    threshold: f64,
    /// `z_for_phi(threshold)`: suspect beyond `mean + z · stddev`.
    z: f64,
    /// Floor on the standard deviation, in milliseconds. Invariant: positive.
    min_stddev_ms: f64,
    /// Added to the estimated mean, in milliseconds. Invariant: not negative.
    acceptable_pause_ms: f64,
}

impl PhiAccrual {
    /// A detector with these settings, or a description of what is wrong with them.
    pub fn new(config: &PhiConfig) -> Result<PhiAccrual, String> {
        let z = z_for_phi(config.threshold)?;
        if config.min_stddev.is_zero() || config.first_heartbeat_estimate.is_zero() {
            return Err("min_stddev and first_heartbeat_estimate must be positive".to_string());
        }
        let mut window = InterArrivalWindow::new(config.window)?;
        // Akka's bootstrap: two samples at the estimate plus and minus a quarter of it.
        let quarter = config.first_heartbeat_estimate / 4;
        window.push(config.first_heartbeat_estimate - quarter);
        window.push(config.first_heartbeat_estimate + quarter);
        Ok(PhiAccrual {
            window,
            threshold: config.threshold,
            z,
            min_stddev_ms: config.min_stddev.as_secs_f64() * 1e3,
            acceptable_pause_ms: config.acceptable_pause.as_secs_f64() * 1e3,
        })
    }

    /// The mean (plus the acceptable pause) and the floored standard deviation of
    /// inter-arrival times, in milliseconds: the normal distribution φ is computed from.
    pub fn estimate_ms(&self) -> (f64, f64) {
        let mean = self.window.mean_ms().expect("the window is seeded");
        let stddev = self.window.stddev_ms().expect("the window is seeded");
        (
            mean + self.acceptable_pause_ms,
            stddev.max(self.min_stddev_ms),
        )
    }

    /// The suspicion level after `elapsed` without a heartbeat.
    pub fn phi(&self, elapsed: Duration) -> f64 {
        let (mean, stddev) = self.estimate_ms();
        phi(elapsed.as_secs_f64() * 1e3, mean, stddev)
    }

    /// The threshold this detector suspects above.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }
}

impl Detector for PhiAccrual {
    fn record(&mut self, interval: Duration) {
        self.window.push(interval);
    }

    fn suspicion_delay(&self) -> Duration {
        // φ(elapsed) > threshold  <=>  elapsed > mean + z · stddev (φ is increasing).
        let (mean, stddev) = self.estimate_ms();
        let ms = (mean + self.z * stddev).clamp(0.0, 86_400_000.0);
        Duration::from_secs_f64(ms / 1e3)
    }
}
// ANCHOR_END: phi_accrual

/// Either detector, so that one run can mix monitors of both kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyDetector {
    Fixed(FixedTimeout),
    Phi(PhiAccrual),
}

impl Detector for AnyDetector {
    fn record(&mut self, interval: Duration) {
        match self {
            AnyDetector::Fixed(d) => d.record(interval),
            AnyDetector::Phi(d) => d.record(interval),
        }
    }

    fn suspicion_delay(&self) -> Duration {
        match self {
            AnyDetector::Fixed(d) => d.suspicion_delay(),
            AnyDetector::Phi(d) => d.suspicion_delay(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn phi_exceeds_the_threshold_exactly_beyond_the_suspicion_delay() {
        let mut d = PhiAccrual::new(&PhiConfig::new(3.0, ms(100))).expect("valid");
        for gap in [90, 110, 95, 105, 100, 120, 80] {
            d.record(ms(gap));
        }
        let delay = d.suspicion_delay();
        let just_before = delay - Duration::from_micros(10);
        let just_after = delay + Duration::from_micros(10);
        assert!(d.phi(just_before) < 3.0, "phi {}", d.phi(just_before));
        assert!(d.phi(just_after) > 3.0, "phi {}", d.phi(just_after));
    }

    #[test]
    fn phi_rises_with_silence_and_a_jittery_sender_gets_a_longer_delay() {
        let mut steady = PhiAccrual::new(&PhiConfig::new(8.0, ms(100))).expect("valid");
        let mut jittery = steady.clone();
        for i in 0..1_000 {
            steady.record(ms(100 + i % 3));
            jittery.record(ms(if i % 2 == 0 { 40 } else { 160 }));
        }
        assert!(steady.phi(ms(150)) < steady.phi(ms(200)));
        assert!(jittery.suspicion_delay() > steady.suspicion_delay() + ms(200));
        // The floor on sigma: a near-perfect sender still gets mean + z * 10 ms.
        let (_, sd) = steady.estimate_ms();
        assert_eq!(sd, 10.0);
    }

    #[test]
    fn a_fixed_timeout_ignores_history() {
        let mut d = FixedTimeout { timeout: ms(250) };
        d.record(ms(5_000));
        assert_eq!(d.suspicion_delay(), ms(250));
    }

    #[test]
    fn bad_phi_settings_are_errors() {
        let good = PhiConfig::new(8.0, ms(100));
        let bad = [
            PhiConfig {
                threshold: 0.0,
                ..good.clone()
            },
            PhiConfig {
                window: 0,
                ..good.clone()
            },
            PhiConfig {
                min_stddev: Duration::ZERO,
                ..good.clone()
            },
            PhiConfig {
                first_heartbeat_estimate: Duration::ZERO,
                ..good.clone()
            },
        ];
        for config in bad {
            assert!(PhiAccrual::new(&config).is_err(), "{config:?}");
        }
        assert!(PhiAccrual::new(&good).is_ok());
    }
}
