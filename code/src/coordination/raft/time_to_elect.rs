//! How long a cluster is without a leader after its leader crashes (§9.3, Figure 16).
//!
//! One trial: a five-server cluster elects a leader and settles; at a random instant the leader
//! crashes; we measure the time from the crash until some server leads again. That time is
//! roughly one election timeout (the followers must first notice the silence) plus, for every
//! *split vote*, another timeout and another round of `RequestVote`. How often votes split
//! depends on the width of the timeout range: with every timeout equal, followers wake within a
//! message delay of each other and split the vote again and again; a range a few message delays
//! wide already makes one server wake first and win, which is what the paper's Figure 16 shows
//! (its top graph: 150-150 ms has a long tail, 150-155 ms much less, 150-200 ms almost none).
//!
//! The chapter 9 experiment (`code/examples/ch09_time_to_elect.rs`) runs many trials per range
//! and plots the distribution.
//!
//! What the simulator adds to the paper's picture: with *exactly* equal timeouts, as in the
//! 150-150 ms row, nothing but message delays separates the followers. Each follower's timer
//! was last reset by the last heartbeat it received, so they wake in the order and at the
//! offsets at which that heartbeat arrived; every round of a split vote resets each candidate's
//! timer by the same fixed amount, so the same offsets, and often the same split, come back
//! round after round, broken only when the random delays of `RequestVote` happen to favour one
//! candidate. Real servers have more jitter (scheduling, clock drift), which is why the paper's
//! 150-150 ms curve ends; in the simulator many trials never elect within the limit. One
//! millisecond of randomisation already helps; a few message delays of width removes the tail.
//!
//! The first election of each trial uses the default 150-300 ms range, because servers that
//! start at the same instant with equal timeouts would split every vote from the start.

use std::time::Duration;

use super::cluster::{self, Cluster, KvNode};
use super::server::Config;
use crate::sim::{Fault, LinkConfig, NodeId, Time, TraceLevel, rng_stream};
use rand::RngExt;

/// The result of one trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trial {
    /// From the crash to the new leader; `None` if there was none within the limit.
    pub without_leader: Option<Duration>,
    /// How many elections (terms) it took.
    pub elections: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

// ANCHOR: time_to_elect
/// Runs one trial: a cluster elects its first leader with the default timeouts (with equal
/// timeouts, servers that start together would split every vote forever), switches to
/// `config` halfway through `settle`; the leader crashes at a random instant within one
/// heartbeat after that; we wait at most `limit` for a new leader.
pub fn time_to_elect(
    seed: u64,
    config: &Config,
    link: &LinkConfig,
    settle: Duration,
    limit: Duration,
) -> Result<Trial, String> {
    config.validate().map_err(|e| e.to_string())?;
    let shape = Cluster {
        servers: 5,
        clients: 0,
        invariants: false,
        // The default timeouts, but the trial's CheckQuorum and PreVote from the start.
        config: Config {
            check_quorum: config.check_quorum,
            pre_vote: config.pre_vote,
            ..Config::default()
        },
        ..Cluster::default()
    };
    let mut sim = shape.build(seed, link.clone()).map_err(|e| e.to_string())?;
    sim.set_trace(TraceLevel::Hash);
    sim.run_until(Time::ZERO + settle / 2)
        .map_err(|v| v.to_string())?;
    for id in (0..shape.servers).map(NodeId) {
        if let Some(KvNode::Server(server)) = sim.process_mut(id) {
            server
                .reconfigure(config.clone())
                .map_err(|e| e.to_string())?;
        }
    }
    let jitter = rng_stream(seed, u64::MAX).random_range(0..config.heartbeat_ms * 1_000_000);
    sim.run_until(Time::ZERO + settle + Duration::from_nanos(jitter))
        .map_err(|v| v.to_string())?;
    let Some(&(old, old_term)) = cluster::leaders(&sim).first() else {
        return Err(format!("seed {seed}: no leader to crash after {settle:?}"));
    };
    sim.apply(Fault::Crash(old));
    let crashed_at = sim.now();
    let deadline = crashed_at + limit;
    let mut new_leader = None;
    while new_leader.is_none() && sim.now() <= deadline && sim.step().map_err(|v| v.to_string())? {
        new_leader = cluster::leaders(&sim).first().copied();
    }
    let term = new_leader.map(|(_, term)| term);
    Ok(Trial {
        without_leader: new_leader.map(|_| sim.now().since(crashed_at)),
        elections: term.unwrap_or(old_term) - old_term,
        trace_hash: sim.trace_hash(),
    })
}
// ANCHOR_END: time_to_elect

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashed_leader_is_replaced_within_a_few_timeouts_5_2() {
        let config = Config::default();
        let link = LinkConfig::constant(Duration::from_millis(5));
        for seed in 0..20 {
            let t = time_to_elect(
                seed,
                &config,
                &link,
                Duration::from_secs(1),
                Duration::from_secs(5),
            )
            .unwrap();
            let took = t.without_leader.expect("a new leader");
            assert!(took >= Duration::from_millis(100), "seed {seed}: {took:?}");
            assert!(took < Duration::from_millis(2_000), "seed {seed}: {took:?}");
            assert!(t.elections >= 1);
        }
    }
}
