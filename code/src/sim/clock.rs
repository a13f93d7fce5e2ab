//! Per-node clocks that drift and start offset from true time.
//!
//! A real quartz clock runs a little fast or slow (tens of parts per million is typical, and
//! the rate wanders with temperature), and two machines' clocks disagree by whatever offset
//! their last synchronisation left. The simulator keeps true time; each node reads its own
//! clock, `local = offset + true * (1 + drift)`, and its timers run on that clock: a node whose
//! clock runs fast sees its timeouts expire early in true time.

use std::time::Duration;

use super::time::{Time, nanos};

// ANCHOR: clock
/// How one node's clock relates to true (simulated) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// What the clock reads at true time zero, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// How fast the clock runs, in parts per million: +50 gains 50 µs per true second.
    /// Invariant: greater than -1,000,000 (a clock cannot run backwards or stand still).
    pub drift_ppm: i64,
}

impl Clock {
    /// The clock's reading at true time `t`, clamped at zero.
    pub fn local(&self, t: Time) -> Time {
        let t = i128::from(t.0);
        let drift = t * i128::from(self.drift_ppm) / 1_000_000;
        let reading = t + drift + i128::from(self.offset_ns);
        Time(reading.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn real_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return local;
        }
        assert!(
            self.drift_ppm > -1_000_000,
            "clock drift {} ppm",
            self.drift_ppm
        );
        let ns = u128::from(nanos(local)) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}
// ANCHOR_END: clock

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_gains_time() {
        let fast = Clock {
            offset_ns: 0,
            drift_ppm: 100,
        };
        // After 10 true seconds, a clock 100 ppm fast reads 10.001 s.
        assert_eq!(
            fast.local(Time::from_millis(10_000)),
            Time::from_millis(10_001)
        );
    }

    #[test]
    fn offsets_shift_and_clamp_readings() {
        let behind = Clock {
            offset_ns: -5_000_000,
            drift_ppm: 0,
        };
        assert_eq!(behind.local(Time::from_millis(7)), Time::from_millis(2));
        assert_eq!(behind.local(Time::from_millis(1)), Time::ZERO);
    }

    #[test]
    fn timers_on_a_fast_clock_fire_early_in_true_time() {
        let fast = Clock {
            offset_ns: 0,
            drift_ppm: 250_000,
        }; // 25% fast, exaggerated
        assert_eq!(
            fast.real_duration(Duration::from_millis(125)),
            Duration::from_millis(100)
        );
        let slow = Clock {
            offset_ns: 0,
            drift_ppm: -500_000,
        };
        assert_eq!(
            slow.real_duration(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }
}
