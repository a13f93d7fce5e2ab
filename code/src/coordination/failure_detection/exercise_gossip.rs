//! Exercise: how long does gossip take to notice a crash, as the group grows?
//!
//! In gossip-style membership ([`super::gossip`]) a member suspects another once that member's
//! heartbeat counter has stood still for `t_fail` *on the suspecting member's clock*. After a
//! crash, the victim's last counter keeps spreading from member to member for a few rounds, so
//! each member's suspicion begins `t_fail` after the moment the last news reached *it*. The
//! detection delay is therefore `t_fail` plus how long the final news took to travel, and that
//! travel time grows with the size of the group.
//!
//! Implement [`starter::detection_delays`]: build a group of `members` [`GossipMember`]s with
//! [`CONFIG`] over [`link`] in a [`Sim`] seeded with `seed`, crash member 0 at [`CRASH_AT`], run
//! until [`RUN_UNTIL`], and return, for every other member in the order of their ids, the delay
//! from the crash until it begins to suspect member 0: its row for member 0 has an `updated_at`
//! (when the newest counter reached it), so that delay is `updated_at + t_fail - CRASH_AT`. Run
//! the test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_gossip_detection -- --ignored
//! ```
//!
//! Then print the mean and maximum delay for 8, 32 and 128 members (a few seeds each) and
//! compare with your prediction: linear in `n`, logarithmic, or flat? [`solution`] has one
//! answer; its test runs in the normal suite.

use std::time::Duration;

use super::gossip::{GossipConfig, GossipMember};
use crate::sim::{Fault, Latency, LinkConfig, NodeId, Sim, Time};

/// Gossip every 100 ms; suspect after 3 s without news; forget 10 s later (after the run).
pub const CONFIG: GossipConfig = GossipConfig {
    gossip_interval: Duration::from_millis(100),
    t_fail: Duration::from_secs(3),
    t_cleanup: Duration::from_secs(10),
};

/// When member 0 crashes: late enough for every member to have heard of every other.
pub const CRASH_AT: Time = Time::from_millis(5_000);

/// When the run stops: every member suspects the victim by then, and none has dropped it yet
/// (dropping comes `t_fail + t_cleanup` after the last news, which is after this).
pub const RUN_UNTIL: Time = Time::from_millis(10_000);

/// The network: one-way delays log-normal around 5 ms, nothing lost.
pub fn link() -> LinkConfig {
    LinkConfig::constant(Duration::ZERO).with_latency(Latency::LogNormal {
        median: Duration::from_millis(5),
        sigma: 0.5,
    })
}

/// Your version.
pub mod starter {
    use std::time::Duration;

    /// For every member but member 0, in id order: the delay from member 0's crash until the
    /// member begins to suspect it. Needs `members >= 2`.
    pub fn detection_delays(members: usize, seed: u64) -> Vec<Duration> {
        let _ = (members, seed);
        todo!(
            "Sim::new(seed, link(), group of GossipMember::new(ids, CONFIG)); \
             schedule_fault(CRASH_AT, Fault::Crash(NodeId(0))); run_until(RUN_UNTIL); then read \
             each survivor's table[&NodeId(0)].updated_at"
        )
    }
}

/// One answer.
pub mod solution {
    use super::*;

    // ANCHOR: detection_delays
    /// For every member but member 0, in id order: the delay from member 0's crash until the
    /// member begins to suspect it. Needs `members >= 2`.
    pub fn detection_delays(members: usize, seed: u64) -> Vec<Duration> {
        assert!(
            members >= 2,
            "a group of {members} has nobody to watch member 0"
        );
        let group: Vec<NodeId> = (0..members).map(NodeId).collect();
        let processes = group
            .iter()
            .map(|_| GossipMember::new(group.clone(), CONFIG))
            .collect();
        let mut sim = Sim::new(seed, link(), processes);
        let victim = NodeId(0);
        sim.schedule_fault(CRASH_AT, Fault::Crash(victim));
        sim.run_until(RUN_UNTIL)
            .expect("gossip members check no invariants");
        group[1..]
            .iter()
            .map(|&m| {
                let member = sim.process(m).expect("only member 0 crashes");
                let row = member.table[&victim];
                // Suspicion begins once the row has stood still for `t_fail`.
                (row.updated_at + CONFIG.t_fail).since(CRASH_AT)
            })
            .collect()
    }
    // ANCHOR_END: detection_delays
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::CONFIG;

    fn mean(delays: &[Duration]) -> Duration {
        delays.iter().sum::<Duration>() / delays.len() as u32
    }

    /// The exercise's claims, for any implementation.
    fn check_claims(detection_delays: fn(usize, u64) -> Vec<Duration>) {
        let mut means = Vec::new();
        for members in [8, 32] {
            let mut total = Duration::ZERO;
            for seed in 1..=3 {
                let delays = detection_delays(members, seed);
                assert_eq!(delays.len(), members - 1, "one delay per surviving member");
                if seed == 1 {
                    assert_eq!(
                        delays,
                        detection_delays(members, seed),
                        "same seed, same run"
                    );
                }
                for (i, d) in delays.iter().enumerate() {
                    let member = i + 1;
                    // Nobody suspected member 0 before the crash, and news spreads in far
                    // fewer than 20 rounds, so every delay lies in (0, t_fail + 2 s].
                    assert!(
                        !d.is_zero() && *d <= CONFIG.t_fail + Duration::from_secs(2),
                        "seed {seed}, {members} members: member {member} delay {d:?}"
                    );
                }
                total += mean(&delays);
            }
            means.push(total / 3);
        }
        // More members, more rounds for the last news to reach everyone.
        assert!(
            means[1] > means[0],
            "mean delay with 32 members {:?} should exceed that with 8 {:?}",
            means[1],
            means[0]
        );
    }

    #[test]
    fn gossip_detection_delays_are_t_fail_plus_the_spread_of_the_last_news() {
        check_claims(super::solution::detection_delays);
    }

    #[test]
    #[ignore = "exercise: implement starter::detection_delays, then run \
                `cargo test -p uds --release --lib exercise_gossip_detection -- --ignored`"]
    fn exercise_gossip_detection() {
        crate::exercise::starter_or_solution(
            || check_claims(super::starter::detection_delays),
            || check_claims(super::solution::detection_delays),
        );
    }
}
