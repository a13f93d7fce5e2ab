//! One chaos run: a Raft cluster under a random nemesis and a hostile network, then judged.
//!
//! This is the unit of the chapter 10 campaign (`code/tests/part2/ch10_raft_campaign.rs`). One seed
//! fixes everything: the nemesis's schedule of crashes, restarts, pauses and partitions among
//! the servers, every lost, duplicated and reordered message, every election timeout, and every
//! client operation. A run has three phases:
//!
//! 1. **Chaos** (`0..chaos`): clients issue operations while the nemesis strikes. The four
//!    safety invariants of [`invariants`](super::invariants) are checked after every event.
//! 2. **Calm** (`chaos..chaos + calm`): every fault has been repaired (the nemesis guarantees
//!    it); the network still loses, duplicates and reorders. A majority is up and connected, so
//!    Raft must make progress: every client must finish, and the cluster must answer the last
//!    operation of each (liveness, §5.6). Clients may give up on operations during the chaos.
//! 3. **Judgement**: the clients' histories, unknown outcomes included, go to the
//!    linearizability checker with the key-value model.
//!
//! Any failure is returned as text naming the seed's run; the campaign prints the replay command.

use std::time::Duration;

use super::cluster::{self, Cluster, KvNode};
use super::server::Config;
use crate::coordination::linearizability::{CheckResult, KvModel, check};
use crate::sim::{FaultSchedule, Latency, LinkConfig, Nemesis, NodeId, Sim, Time, rng_stream};

/// The knobs of a chaos run.
#[derive(Clone, Debug)]
pub struct Chaos {
    /// The cluster: servers, clients, operations, Raft configuration.
    pub cluster: Cluster,
    /// Every link's behaviour, for the whole run.
    pub link: LinkConfig,
    /// The fault injector, active during the chaos phase.
    pub nemesis: Nemesis,
    /// How long the nemesis is active.
    pub chaos: Duration,
    /// How long the repaired cluster has to finish every client's operations.
    pub calm: Duration,
}

impl Default for Chaos {
    /// Five servers, four clients, a lossy, duplicating, reordering network, and a nemesis
    /// that crashes, pauses and partitions servers, at most two (a minority) down at once.
    fn default() -> Chaos {
        let ms = Duration::from_millis;
        Chaos {
            cluster: Cluster {
                servers: 5,
                clients: 4,
                ops_per_client: 40,
                client_max_attempts: 5,
                config: Config {
                    max_entries_per_message: 2,
                    ..Config::default()
                },
                ..Cluster::default()
            },
            link: LinkConfig::constant(ms(1))
                .with_latency(Latency::Exponential {
                    min: ms(1),
                    mean: ms(3),
                })
                .with_loss(0.05)
                .with_duplicate(0.02)
                .with_reorder(0.05, ms(20)),
            nemesis: Nemesis {
                mean_interval: ms(300),
                mean_duration: ms(500),
                crash: true,
                pause: true,
                partition: true,
                max_down: 2,
            },
            chaos: ms(8_000),
            calm: ms(4_000),
        }
    }
}

/// What a passing run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChaosOutcome {
    /// Simulator events processed.
    pub events: u64,
    /// Faults the nemesis injected (repairs included).
    pub faults: usize,
    /// Client operations, and how many had an unknown outcome.
    pub operations: usize,
    pub unknown: usize,
    /// The highest term any server reached.
    pub max_term: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
    /// Snapshots the servers installed from a leader (§7), and crashes between a step's disk
    /// write and its sends.
    pub snapshots_installed: u64,
    pub crashes_between_persist_and_send: u64,
}

/// Runs seed `seed` of `chaos`; `Err` says what broke.
pub fn run_chaos(seed: u64, chaos: &Chaos) -> Result<ChaosOutcome, String> {
    run_chaos_with(seed, chaos, &FaultSchedule::default())
}

/// [`run_chaos`] with `extra` faults on top of the nemesis's (e.g. a slow follower cut off for
/// a while); every one of them must be repaired before the end of the chaos.
pub fn run_chaos_with(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
) -> Result<ChaosOutcome, String> {
    run_chaos_prepared(seed, chaos, extra, |_| {})
}

// ANCHOR: run_chaos
/// Runs seed `seed` of `chaos` with `extra` faults, after `prepare` has set up the simulation
/// (clocks that drift, say).
pub fn run_chaos_prepared(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
    prepare: impl FnOnce(&mut Sim<KvNode>),
) -> Result<ChaosOutcome, String> {
    let mut sim = chaos
        .cluster
        .build(seed, chaos.link.clone())
        .map_err(|e| e.to_string())?;
    prepare(&mut sim);
    let servers = chaos.cluster.servers;
    let end_of_chaos = Time::ZERO + chaos.chaos;
    let mut rng = rng_stream(seed, u64::MAX); // a stream no node uses
    let schedule = chaos
        .nemesis
        .schedule(&mut rng, servers, Time::ZERO, end_of_chaos);
    sim.schedule(&schedule);
    sim.schedule(extra);
    sim.run_until(end_of_chaos + chaos.calm)
        .map_err(|v| v.to_string())?;

    let history = cluster::histories(&sim);
    let unknown = history.iter().filter(|op| op.output.is_none()).count();
    let clients = chaos.cluster.clients;
    let finished = (servers..servers + clients)
        .filter_map(|i| sim.process(NodeId(i)).and_then(|n| n.client()))
        .filter(|c| c.is_done())
        .count();
    if finished < clients {
        return Err(format!(
            "liveness: {finished} of {clients} clients finished after {:?} of calm; {}",
            chaos.calm,
            sim.summary()
        ));
    }
    // A second after the last repair, a client whose every operation goes unanswered means the
    // cluster did not recover.
    let recovered = (end_of_chaos + Duration::from_secs(1)).0;
    for client in 0..clients as u64 {
        let mine = || {
            history
                .iter()
                .filter(|op| op.client == servers as u64 + client)
        };
        let late = mine().filter(|op| op.call_ns >= recovered);
        let answered = mine().filter(|op| op.call_ns >= recovered && op.output.is_some());
        if late.count() > 0 && answered.count() == 0 {
            let (id, at) = (servers as u64 + client, Time(recovered));
            return Err(format!(
                "liveness: no operation of client {id} called after {at} answered"
            ));
        }
    }
    match check(&KvModel, &history) {
        CheckResult::Ok => {}
        CheckResult::Illegal(why) => return Err(format!("history not linearizable:\n{why}")),
        CheckResult::Unknown => return Err("the linearizability search ran out of steps".into()),
    }
    let max_term = (0..servers)
        .filter_map(|i| cluster::server(&sim, NodeId(i)))
        .map(|s| s.current_term())
        .max()
        .unwrap_or(0);
    Ok(ChaosOutcome {
        events: sim.events_processed(),
        faults: schedule.faults.len(),
        operations: history.len(),
        unknown,
        max_term,
        trace_hash: sim.trace_hash(),
        snapshots_installed: sim.metrics().counter("raft.snapshots_installed"),
        crashes_between_persist_and_send: sim
            .metrics()
            .counter("raft.crashes_between_persist_and_send"),
    })
}
// ANCHOR_END: run_chaos
