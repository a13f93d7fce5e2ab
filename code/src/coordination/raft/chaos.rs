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
use super::witness;
use crate::coordination::linearizability::{CheckResult, Limits, Method};
use crate::sim::{
    Fault, FaultSchedule, Latency, LinkConfig, Nemesis, NodeId, Sim, Time, rng_stream,
};
use rand::RngExt;

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
    /// Turn about half of the nemesis's partitions into one-way cuts (the first side's
    /// messages to the second are dropped, the other direction flows). Off by default.
    pub one_way: bool,
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
            one_way: false,
        }
    }
}

impl Chaos {
    /// The default campaign with one-way cuts among its partitions: the faults that CheckQuorum
    /// and PreVote exist for (see [`leadership`](super::leadership)). Shorter than the default
    /// (4 s of chaos, 3 s of calm), so that a second campaign of 1,000 seeds stays cheap.
    pub fn with_one_way_partitions() -> Chaos {
        let ms = Duration::from_millis;
        Chaos {
            one_way: true,
            chaos: ms(4_000),
            calm: ms(3_000),
            ..Chaos::default()
        }
    }
}

impl Chaos {
    /// The default run with a nemesis that may crash or pause a *majority* (three of five) at
    /// once, with faults twice as frequent and four times as long. While a majority is down
    /// the cluster cannot commit, clients time out and give up, and the history holds many
    /// operations of unknown outcome: the histories that are hardest for the linearizability
    /// search, and the reason for the witness of [`witness`].
    pub fn majority_crashes() -> Chaos {
        let mut chaos = Chaos::default();
        chaos.nemesis.max_down = 3;
        chaos.nemesis.mean_interval /= 2;
        chaos.nemesis.mean_duration *= 4;
        chaos
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
    /// Keys the linearizability search decided, and keys only Raft's witness decided.
    pub keys_by_search: usize,
    pub keys_by_witness: usize,
}

/// Runs seed `seed` of `chaos`; `Err` says what broke.
pub fn run_chaos(seed: u64, chaos: &Chaos) -> Result<ChaosOutcome, String> {
    run_chaos_full(
        seed,
        chaos,
        &FaultSchedule::default(),
        &Limits::default(),
        |_| {},
    )
}

/// [`run_chaos`] with `extra` faults on top of the nemesis's (e.g. a slow follower cut off for
/// a while); every one of them must be repaired before the end of the chaos.
pub fn run_chaos_with(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, extra, &Limits::default(), |_| {})
}

/// [`run_chaos`] with the linearizability checker's search held to `limits`.
pub fn run_chaos_checked(
    seed: u64,
    chaos: &Chaos,
    limits: &Limits,
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, &FaultSchedule::default(), limits, |_| {})
}

/// [`run_chaos`] with `extra` faults, after `prepare` has set up the simulation (clocks that
/// drift, say).
pub fn run_chaos_prepared(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
    prepare: impl FnOnce(&mut Sim<KvNode>),
) -> Result<ChaosOutcome, String> {
    run_chaos_full(seed, chaos, extra, &Limits::default(), prepare)
}

// ANCHOR: run_chaos
/// Runs seed `seed` of `chaos` with `extra` faults on top of the nemesis's, after `prepare` has
/// set up the simulation, and judges it with the search held to `limits`.
pub fn run_chaos_full(
    seed: u64,
    chaos: &Chaos,
    extra: &FaultSchedule,
    limits: &Limits,
    prepare: impl FnOnce(&mut Sim<KvNode>),
) -> Result<ChaosOutcome, String> {
    let mut sim = chaos
        .cluster
        .build(seed, chaos.link.clone())
        .map_err(|e| e.to_string())?;
    prepare(&mut sim);
    let servers = chaos.cluster.servers;
    let commits = witness::record_commits(&mut sim, servers);
    let end_of_chaos = Time::ZERO + chaos.chaos;
    let mut rng = rng_stream(seed, u64::MAX); // a stream no node uses
    let mut schedule = chaos
        .nemesis
        .schedule(&mut rng, servers, Time::ZERO, end_of_chaos);
    if chaos.one_way {
        for (_, fault) in &mut schedule.faults {
            if let Fault::Partition(a, b) = fault
                && rng.random_bool(0.5)
            {
                *fault = Fault::OneWay(std::mem::take(a), std::mem::take(b));
            }
        }
    }
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
    // The search, and where it gives up, the log's witness (each command at its first commit).
    let report = witness::judge(&history, &commits, limits);
    match report.result() {
        CheckResult::Ok => {}
        CheckResult::Illegal(why) => return Err(format!("history not linearizable:\n{why}")),
        CheckResult::Unknown => return Err(format!("linearizability undecided:\n{report}")),
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
        keys_by_search: report.count(Method::Search),
        keys_by_witness: report.count(Method::Witness),
    })
}
// ANCHOR_END: run_chaos
