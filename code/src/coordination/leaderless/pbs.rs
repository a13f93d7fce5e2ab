//! Probabilistically bounded staleness, measured on the simulated store and predicted by the
//! WARS model.
//!
//! The measurement runs the real store: `n` servers, one key, read repair and anti-entropy
//! off (they would make later reads fresher and hide the effect being measured), sloppy
//! quorums off (no failures here anyway). A probe writes a new version through server 0; when
//! the put is acknowledged (after `w` acknowledgements), it issues one get per delay `t` of
//! the experiment, `t` after the acknowledgement, through the same coordinator. A get is
//! *stale* if its siblings do not cover the write. The probe's own links are instantaneous, so
//! "time since the write completed" is the same at the probe and at the coordinator, as in
//! the model; every link between servers (including the coordinator's link to itself, since
//! it is one of the replicas) draws its delay from the same distribution, so W, A, R and S of
//! the WARS model are independent draws from it (Bailis et al. 2012 allow four different
//! distributions; one link model cannot tell a write from a read).
//!
//! The prediction is [`super::quorum::stale_probability`] over those delays.

use std::time::Duration;

use super::client::{Probe, Workload};
use super::message::StoreMsg;
use super::node::StoreConfig;
use super::quorum::{Quorum, Wars, stale_probability};
use super::run::{StoreNode, StoreSetup, build};
use crate::coordination::time::vector::VectorClock;
use crate::sim::{Latency, LinkConfig, NodeId, Time, rng_stream};

/// One curve of the experiment.
#[derive(Clone, Debug)]
pub struct PbsSetup {
    pub quorum: Quorum,
    /// Delay of every message between servers.
    pub latency: Latency,
    /// The delays between the write's acknowledgement and the reads, in milliseconds.
    pub since_commit_ms: Vec<f64>,
    /// Writes measured (each followed by one read per delay).
    pub trials: usize,
}

/// The store's settings for the measurement: strict quorums, no repair of any kind.
pub fn store_setup(quorum: Quorum, latency: Latency) -> StoreSetup {
    let long = Duration::from_secs(3600);
    StoreSetup {
        servers: quorum.n,
        vnodes: 1,
        clients: 0,
        config: StoreConfig {
            quorum,
            sloppy: false,
            stand_in_after: long,
            request_timeout: long,
            read_repair: false,
            anti_entropy_every: None,
            merkle_leaves: 1,
            hint_retry_every: long,
        },
        workload: Workload {
            keys: 1,
            put_fraction: 0.0,
            think_mean: long,
            timeout: long,
            stop_at: Duration::ZERO,
        },
        link: LinkConfig::constant(Duration::ZERO).with_latency(latency),
        nemesis: None,
        settle: Duration::ZERO,
    }
}

// ANCHOR: measure
/// The share of stale reads at each delay, measured on the store over `trials` writes.
pub fn measure(setup: &PbsSetup, seed: u64) -> Result<Vec<f64>, String> {
    let store = store_setup(setup.quorum, setup.latency.clone());
    let probe = NodeId(store.servers);
    let coordinator = NodeId(0);
    let mut stale = vec![0usize; setup.since_commit_ms.len()];
    for trial in 0..setup.trials {
        let mut sim = build(
            &store,
            seed.wrapping_mul(1_000_003).wrapping_add(trial as u64),
        )?;
        for s in 0..store.servers {
            sim.set_link(probe, NodeId(s), LinkConfig::constant(Duration::ZERO));
            sim.set_link(NodeId(s), probe, LinkConfig::constant(Duration::ZERO));
        }
        let put = StoreMsg::Put {
            req: 0,
            key: 0,
            value: 1,
            context: VectorClock::default(),
        };
        sim.inject(Time::ZERO, probe, coordinator, put);
        let (committed, clock) = loop {
            if !sim.step().map_err(|e| e.to_string())? {
                return Err("the put was never acknowledged".to_string());
            }
            if let Some((at, StoreMsg::PutOk { clock, .. })) = probe_of(&sim).answer(0) {
                break (*at, clock.clone());
            }
        };
        for (j, t) in setup.since_commit_ms.iter().enumerate() {
            let at = committed + Duration::from_secs_f64(t / 1e3);
            let get = StoreMsg::Get {
                req: j as u64 + 1,
                key: 0,
            };
            sim.inject(at, probe, coordinator, get);
        }
        let last = setup.since_commit_ms.iter().copied().fold(0.0, f64::max);
        while probe_of(&sim).answers.len() < setup.since_commit_ms.len() + 1 {
            if !sim.step().map_err(|e| e.to_string())? || sim.now().as_secs_f64() > 3600.0 {
                return Err(format!("reads unanswered {last} ms after the write"));
            }
        }
        for (j, count) in stale.iter_mut().enumerate() {
            match probe_of(&sim).answer(j as u64 + 1) {
                Some((_, StoreMsg::GetOk { siblings, .. })) => {
                    *count += usize::from(!siblings.covers(&clock));
                }
                other => return Err(format!("read {j}: unexpected answer {other:?}")),
            }
        }
    }
    Ok(stale
        .into_iter()
        .map(|s| s as f64 / setup.trials.max(1) as f64)
        .collect())
}
// ANCHOR_END: measure

/// The WARS model's prediction for the same setup, by Monte Carlo over `trials` writes.
pub fn predict(setup: &PbsSetup, seed: u64) -> Vec<f64> {
    let wars = Wars::iid(setup.latency.clone());
    let mut rng = rng_stream(seed, 0x5042_5300);
    stale_probability(
        setup.quorum,
        &wars,
        &setup.since_commit_ms,
        setup.trials,
        &mut rng,
    )
}

fn probe_of(sim: &crate::sim::Sim<StoreNode>) -> &Probe {
    let last = NodeId(sim.node_count() - 1);
    match sim.process(last) {
        Some(StoreNode::Probe(p)) => p,
        _ => unreachable!("the last node of a deployment is the probe"),
    }
}
