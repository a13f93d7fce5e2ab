//! Two-phase commit clusters on the simulator: the agreement check, the fault campaign's run,
//! and the blocking-window measurement.

use std::collections::BTreeMap;
use std::time::Duration;

use super::super::wal::TxnId;
use super::message::{Config, ParticipantRecord};
use super::{Coordinator, Disk, Node, Participant};
use crate::sim::{Fault, LinkConfig, Nemesis, NodeId, NodeState, Sim, Time, rng_stream};

/// A simulation of a coordinator (node 0) and `config.participants` participants, whose
/// restarted nodes are rebuilt from their logs alone.
pub fn cluster(seed: u64, config: &Config, link: LinkConfig) -> Sim<Node> {
    let mut nodes = vec![Node::Coordinator(Coordinator::new(
        config.clone(),
        Vec::new(),
    ))];
    for _ in 0..config.participants {
        let participant = Participant::new(config.clone(), NodeId(0), Vec::new());
        nodes.push(Node::Participant(participant));
    }
    let mut sim = Sim::new(seed, link, nodes);
    let config = config.clone();
    sim.on_restart(move |_, disk| match disk {
        Disk::Coordinator(log) => Node::Coordinator(Coordinator::new(config.clone(), log)),
        Disk::Participant(log) => {
            Node::Participant(Participant::new(config.clone(), NodeId(0), log))
        }
    });
    sim
}

/// The outcome each running participant logged for each transaction: `true` for commit.
fn outcomes(sim: &Sim<Node>) -> BTreeMap<TxnId, Vec<(NodeId, bool)>> {
    let mut outcomes: BTreeMap<TxnId, Vec<(NodeId, bool)>> = BTreeMap::new();
    for id in (1..sim.node_count()).map(NodeId) {
        let Some(Node::Participant(p)) = sim.process(id) else {
            continue;
        };
        for record in &p.log {
            let commit = match record {
                ParticipantRecord::Committed { .. } => true,
                ParticipantRecord::Aborted { .. } => false,
                ParticipantRecord::Prepared { .. } => continue,
            };
            outcomes.entry(record.txn()).or_default().push((id, commit));
        }
    }
    outcomes
}

// ANCHOR: check_agreement
/// Atomic commit's safety: no transaction commits at one participant and aborts at another,
/// and a participant commits only what the coordinator decided to commit.
pub fn check_agreement(sim: &Sim<Node>) -> Result<(), String> {
    let coordinator = match sim.process(NodeId(0)) {
        Some(Node::Coordinator(c)) => Some(c),
        _ => None,
    };
    for (txn, seen) in outcomes(sim) {
        let committed: Vec<NodeId> = seen.iter().filter(|(_, c)| *c).map(|(n, _)| *n).collect();
        let aborted: Vec<NodeId> = seen.iter().filter(|(_, c)| !*c).map(|(n, _)| *n).collect();
        if !committed.is_empty() && !aborted.is_empty() {
            return Err(format!(
                "txn {txn} committed at {committed:?}, aborted at {aborted:?}"
            ));
        }
        // The coordinator's log survives its crashes, so this is checked whenever it is up.
        let Some(c) = coordinator else { continue };
        if !committed.is_empty() && c.decision(txn) != Some(true) {
            let decided = c.decision(txn);
            return Err(format!(
                "txn {txn} committed at {committed:?}; coordinator: {decided:?}"
            ));
        }
    }
    Ok(())
}
// ANCHOR_END: check_agreement

/// Every running participant holds its lock for the transaction it has prepared: at most one
/// transaction is in doubt at a participant, and it keeps the lock until it learns the outcome.
pub fn check_locks(sim: &Sim<Node>) -> Result<(), String> {
    for id in (1..sim.node_count()).map(NodeId) {
        let Some(Node::Participant(p)) = sim.process(id) else {
            continue;
        };
        let in_doubt: Vec<TxnId> = p.in_doubt().collect();
        if in_doubt.len() > 1 || in_doubt.first().is_some_and(|t| p.lock != Some(*t)) {
            return Err(format!(
                "{id}: in doubt {in_doubt:?}, lock held by {:?}",
                p.lock
            ));
        }
    }
    Ok(())
}

/// The fault model of a campaign run.
#[derive(Clone, Debug)]
pub struct Faults {
    /// One-way delay, uniform between these bounds.
    pub latency: (Duration, Duration),
    /// Probability that a message is lost.
    pub loss: f64,
    /// Crashes and restarts, of the coordinator and the participants alike.
    pub nemesis: Nemesis,
    /// The nemesis acts during this first part of the run; every node is up after it.
    pub fault_window: Duration,
    /// How long the run lasts in all.
    pub run_for: Duration,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            latency: (Duration::from_millis(1), Duration::from_millis(10)),
            loss: 0.05,
            nemesis: Nemesis {
                mean_interval: Duration::from_millis(150),
                mean_duration: Duration::from_millis(300),
                crash: true,
                pause: false,
                partition: false,
                max_down: 2,
            },
            fault_window: Duration::from_secs(3),
            run_for: Duration::from_secs(8),
        }
    }
}

/// What one campaign run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CampaignRun {
    pub committed: u64,
    pub aborted: u64,
    /// Crashes of the coordinator and of participants.
    pub coordinator_crashes: u64,
    pub participant_crashes: u64,
    /// Transactions that were in doubt at some participant.
    pub in_doubt: u64,
    /// WORK refused because the lock was held by a transaction in doubt at that participant.
    pub refused_in_doubt: u64,
    /// WORK refused because the lock was held by a transaction not yet prepared there.
    pub refused_working: u64,
}

// ANCHOR: campaign_run
/// One seed of the campaign: checks agreement after every event, then that once every node is
/// back, every transaction was decided by the coordinator and by every participant alike.
pub fn campaign_run(seed: u64, config: &Config, faults: &Faults) -> Result<CampaignRun, String> {
    let (min, max) = faults.latency;
    let link = LinkConfig::constant(min)
        .with_latency(crate::sim::Latency::Uniform { min, max })
        .with_loss(faults.loss);
    let mut sim = cluster(seed, config, link);
    let nodes = config.participants + 1;
    let end = Time::ZERO + faults.fault_window;
    let schedule = faults
        .nemesis
        .schedule(&mut rng_stream(seed, 1_000), nodes, Time::ZERO, end);
    sim.schedule(&schedule);
    sim.add_invariant("agreement", check_agreement);
    sim.add_invariant("prepared transactions hold their locks", check_locks);
    sim.run_until(Time::ZERO + faults.run_for)
        .map_err(|v| v.to_string())?;
    let mut run = CampaignRun::default();
    for (_, fault) in &schedule.faults {
        match fault {
            Fault::Crash(NodeId(0)) => run.coordinator_crashes += 1,
            Fault::Crash(_) => run.participant_crashes += 1,
            _ => {}
        }
    }
    run.refused_in_doubt = sim.metrics().counter("2pc.refused_in_doubt");
    run.refused_working = sim.metrics().counter("2pc.refused_working");
    check_termination(&sim, config, &mut run)?;
    Ok(run)
}
// ANCHOR_END: campaign_run

/// Every node is up, the coordinator decided every transaction, and every participant logged
/// that same decision.
fn check_termination(
    sim: &Sim<Node>,
    config: &Config,
    run: &mut CampaignRun,
) -> Result<(), String> {
    if let Some(down) = (0..sim.node_count()).find(|&i| sim.state(NodeId(i)) != NodeState::Up) {
        return Err(format!("node {down} is not up at the end"));
    }
    let Some(Node::Coordinator(c)) = sim.process(NodeId(0)) else {
        unreachable!("node 0 is the coordinator")
    };
    let outcomes = outcomes(sim);
    for txn in 1..=config.txns {
        let Some(commit) = c.decision(txn) else {
            return Err(format!("the coordinator never decided txn {txn}"));
        };
        let seen = outcomes.get(&txn).map_or(0, Vec::len);
        if seen != config.participants {
            return Err(format!(
                "txn {txn}: only {seen} participants learned the decision"
            ));
        }
        if outcomes[&txn].iter().any(|(_, c)| *c != commit) {
            return Err(format!(
                "txn {txn}: a participant disagrees with the coordinator"
            ));
        }
        *if commit {
            &mut run.committed
        } else {
            &mut run.aborted
        } += 1;
    }
    for id in (1..sim.node_count()).map(NodeId) {
        let Some(Node::Participant(p)) = sim.process(id) else {
            continue;
        };
        run.in_doubt += in_doubt_times(p).len() as u64;
    }
    Ok(())
}

/// For every transaction a participant prepared, how long it stayed in doubt (from PREPARED
/// to the outcome, in its log).
pub fn in_doubt_times(p: &Participant) -> Vec<(TxnId, Duration)> {
    let mut prepared = BTreeMap::new();
    let mut times = Vec::new();
    for record in &p.log {
        match *record {
            ParticipantRecord::Prepared { txn, at } => {
                prepared.insert(txn, at);
            }
            ParticipantRecord::Committed { txn, at } | ParticipantRecord::Aborted { txn, at } => {
                if let Some(since) = prepared.remove(&txn) {
                    times.push((txn, at.since(since)));
                }
            }
        }
    }
    times
}

// ANCHOR: crash_point
/// Where in one transaction the coordinator crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPoint {
    /// The participants did the work; PREPARE was not sent yet.
    BeforePrepare,
    /// PREPARE was delivered and the participants voted yes; the votes are in flight.
    AfterPrepare,
    /// Every vote is in; the commit decision is being forced to the log.
    DuringForce,
    /// The commit decision is logged and on its way to the participants.
    AfterDecision,
}
// ANCHOR_END: crash_point

impl CrashPoint {
    pub const ALL: [CrashPoint; 4] = [
        CrashPoint::BeforePrepare,
        CrashPoint::AfterPrepare,
        CrashPoint::DuringForce,
        CrashPoint::AfterDecision,
    ];

    /// A short label for tables and legends.
    pub fn label(self) -> &'static str {
        match self {
            CrashPoint::BeforePrepare => "before PREPARE",
            CrashPoint::AfterPrepare => "after PREPARE",
            CrashPoint::DuringForce => "during decision force",
            CrashPoint::AfterDecision => "after decision sent",
        }
    }

    /// When the crash happens, for a constant one-way `latency` and the config's force time:
    /// WORK arrives at L, WORK_DONE at 2L, PREPARE at 3L, the votes at 4L, and the decision
    /// is sent at 4L + force.
    pub fn at(self, latency: Duration, config: &Config) -> Time {
        let half = latency / 2;
        let t = match self {
            CrashPoint::BeforePrepare => latency + half,
            CrashPoint::AfterPrepare => latency * 3 + half,
            CrashPoint::DuringForce => latency * 4 + config.log_force / 2,
            CrashPoint::AfterDecision => latency * 4 + config.log_force + half,
        };
        Time::ZERO + t
    }
}

/// What one blocking-window run measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockingRun {
    /// The longest time a participant stayed prepared without knowing the outcome.
    pub in_doubt_max: Duration,
    /// The longest time a participant held the transaction's lock.
    pub lock_held_max: Duration,
    /// The outcome.
    pub committed: bool,
}

// ANCHOR: blocking_run
/// One transaction, every participant voting yes, no message lost; the coordinator crashes at
/// `crash` and restarts `downtime` later. Measures how long participants block.
pub fn blocking_run(
    config: &Config,
    latency: Duration,
    crash: CrashPoint,
    downtime: Duration,
) -> BlockingRun {
    let config = Config {
        txns: 1,
        no_vote_probability: 0.0,
        ..config.clone()
    };
    let mut sim = cluster(0, &config, LinkConfig::constant(latency));
    let at = crash.at(latency, &config);
    sim.schedule_fault(at, Fault::Crash(NodeId(0)));
    sim.schedule_fault(at + downtime, Fault::Restart(NodeId(0)));
    let horizon = at + downtime + config.work_timeout + Duration::from_secs(1);
    sim.run_until(horizon).expect("no invariants registered");
    let mut in_doubt_max = Duration::ZERO;
    let mut committed = None;
    for id in (1..sim.node_count()).map(NodeId) {
        let Some(Node::Participant(p)) = sim.process(id) else {
            unreachable!("up")
        };
        for (_, d) in in_doubt_times(p) {
            in_doubt_max = in_doubt_max.max(d);
        }
        let commit = p
            .log
            .iter()
            .any(|r| matches!(r, ParticipantRecord::Committed { .. }));
        assert!(
            committed.is_none_or(|c| c == commit),
            "participants disagree"
        );
        committed = Some(commit);
    }
    let mut held = sim
        .metrics()
        .histogram("2pc.lock_held_ms")
        .cloned()
        .unwrap_or_default();
    let lock_held_ms = held.percentile(100.0).unwrap_or(0.0);
    BlockingRun {
        in_doubt_max,
        lock_held_max: Duration::from_secs_f64(lock_held_ms / 1e3),
        committed: committed.unwrap_or(false),
    }
}
// ANCHOR_END: blocking_run
