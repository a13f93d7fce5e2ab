//! Active health checks: eject a backend after `k` failed probes in a row, re-admit it after `m`
//! successful probes in a row.
//!
//! A balancer probes every backend on a fixed interval (an HTTP `GET /health`, a TCP connect)
//! and feeds each outcome to that backend's [`HealthCheck`]. Requiring several failures in a row
//! before ejecting keeps one lost probe from taking a healthy server out of rotation; requiring
//! several successes before re-admitting keeps a flapping server (one that crashes again as soon
//! as it gets traffic) out until it has stayed up for a while. HAProxy's `fall` and `rise`
//! parameters and Envoy's `unhealthy_threshold` and `healthy_threshold` are these two numbers.
//!
//! The price is the detection window: a backend that dies right after a successful probe keeps
//! receiving requests for up to `k` probe intervals (plus the probe timeout), and those requests
//! fail unless the balancer retries them elsewhere. Passive checks (counting errors on real
//! traffic) shorten the window when traffic is heavy; the chapter discusses both.
//!
//! This is a pure state machine: it never reads a clock or sends a probe. The simulator's
//! balancer and the real L7 balancer (`real.rs`) both drive it. It uses only std.

// ANCHOR: health
/// Whether the balancer sends a backend traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// In rotation.
    Healthy,
    /// Out of rotation, still probed.
    Ejected,
}

/// One backend's health-check state.
#[derive(Clone, Debug)]
pub struct HealthCheck {
    /// Failed probes in a row that eject a healthy backend (`k`, at least 1).
    pub eject_after: u32,
    /// Successful probes in a row that re-admit an ejected backend (`m`, at least 1).
    pub readmit_after: u32,
    /// The current state; backends start healthy.
    pub health: Health,
    /// The current run of equal outcomes that go against `health` (failures while healthy,
    /// successes while ejected). Invariant: below the threshold that would flip `health`.
    pub streak: u32,
}

impl HealthCheck {
    /// A healthy backend with thresholds `k` and `m` (both clamped to at least 1).
    pub fn new(eject_after: u32, readmit_after: u32) -> HealthCheck {
        HealthCheck {
            eject_after: eject_after.max(1),
            readmit_after: readmit_after.max(1),
            health: Health::Healthy,
            streak: 0,
        }
    }

    /// Records one probe's outcome; returns the new state if it changed.
    pub fn observe(&mut self, probe_ok: bool) -> Option<Health> {
        let (against, threshold, flip_to) = match self.health {
            Health::Healthy => (!probe_ok, self.eject_after, Health::Ejected),
            Health::Ejected => (probe_ok, self.readmit_after, Health::Healthy),
        };
        if !against {
            // An outcome that agrees with the state breaks the streak.
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < threshold {
            return None;
        }
        self.health = flip_to;
        self.streak = 0;
        Some(flip_to)
    }

    /// Whether the balancer may send this backend traffic.
    pub fn is_healthy(&self) -> bool {
        self.health == Health::Healthy
    }
}
// ANCHOR_END: health

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a transcript of probe outcomes (`+` ok, `-` failed) and returns the state after
    /// each one (`H` healthy, `E` ejected).
    fn run(k: u32, m: u32, probes: &str) -> String {
        let mut check = HealthCheck::new(k, m);
        probes
            .chars()
            .map(|c| {
                check.observe(c == '+');
                if check.is_healthy() { 'H' } else { 'E' }
            })
            .collect()
    }

    #[test]
    fn ejects_after_k_failures_in_a_row_and_readmits_after_m_successes() {
        // k = 3, m = 2: two failures are forgiven, the third in a row ejects.
        assert_eq!(run(3, 2, "+--+---++"), "HHHHHHEEH");
        // One success while ejected is not enough; a failure restarts the count.
        assert_eq!(run(1, 3, "-++-+++"), "EEEEEEH");
    }

    #[test]
    fn thresholds_of_zero_behave_as_one() {
        assert_eq!(run(0, 0, "-+"), "EH");
    }
}
