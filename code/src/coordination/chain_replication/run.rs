//! A whole deployment on the simulator: a chain, its clients, the invariants, and the results.
//!
//! Nodes `0 .. chain_length` are the replicas, head first; the clients follow, and the master
//! comes last when the setup has [`Failures`]. [`build`] makes
//! the simulation and registers the invariants checked after every event; [`run`] runs it until
//! the clients stop and every request in flight has been answered, and returns the clients'
//! history with the measurements the chapter reports.
//!
//! Invariants, after every event, over the replicas still in the chain (crashed and removed
//! ones are skipped):
//! - **same order** (van Renesse and Schneider §3, update propagation): for consecutive replicas
//!   `i` and `i + 1`, replica `i` has applied at least as many writes, and the first writes of
//!   both are the same writes in the same order (their prefix digests agree);
//! - **clean means committed** (CRAQ §2.3): no replica marks a write clean before the tail has
//!   applied it.

use std::time::Duration;

use super::client::{Client, RETRY, ReadMode, THINK, Workload};
use super::history::Operation;
use super::master::{self, Master};
use super::message::ChainMsg;
use super::replica::{Replica, SERVICE};
use super::versions::{ReadRule, craq_read, naive_read};
use crate::sim::{Ctx, Fault, InvariantViolation, LinkConfig, NodeId, Process, Sim, Time, TimerId};

/// A node of a chain deployment.
#[derive(Clone, Debug)]
pub enum ChainNode {
    Replica(Replica),
    Client(Client),
    Master(Master),
}

impl Process for ChainNode {
    type Msg = ChainMsg;
    /// Nothing: crashed replicas never come back in this module's runs (see the module essay).
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        match self {
            ChainNode::Client(c) => c.on_start(ctx),
            ChainNode::Master(m) => m.on_start(ctx),
            ChainNode::Replica(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        match (self, msg) {
            (ChainNode::Replica(r), msg) => r.on_message(ctx, from, msg),
            (ChainNode::Client(c), ChainMsg::Response { id, output }) => {
                c.on_response(ctx, id, output);
            }
            (ChainNode::Client(c), ChainMsg::NewChain { version, chain }) => {
                c.on_new_chain(version, chain);
            }
            (ChainNode::Master(m), ChainMsg::Pong) => m.on_pong(ctx, from),
            (ChainNode::Master(_), _) => ctx.count("master_got_unexpected_message"),
            (ChainNode::Client(_), _) => ctx.count("client_got_chain_message"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ChainMsg>, timer: TimerId) {
        match (self, timer) {
            (ChainNode::Replica(r), SERVICE) => r.on_service_done(ctx),
            (ChainNode::Client(c), THINK) => c.on_think_done(ctx),
            (ChainNode::Client(c), RETRY) => c.on_retry(ctx),
            (ChainNode::Master(m), master::TICK) => m.tick(ctx),
            (_, timer) => unreachable!("unknown timer {timer:?}"),
        }
    }

    fn durable(&self) {}
}

// ANCHOR: setup
/// Everything that determines a run, apart from the seed.
#[derive(Clone, Debug)]
pub struct ChainSetup {
    /// Replicas in the chain.
    pub chain_length: usize,
    /// Closed-loop clients.
    pub clients: usize,
    /// Where reads go and how they are answered.
    pub read_mode: ReadMode,
    /// What clients ask.
    pub workload: Workload,
    /// Every link, client-replica and replica-replica alike.
    pub link: LinkConfig,
    /// How long a replica's processor takes per message (zero: infinitely fast replicas).
    pub service_time: Duration,
    /// Clients send requests until this much time has passed.
    pub duration: Duration,
    /// Replaces the read rule of `read_mode` (for the exercise); `None` in normal runs.
    pub read_rule: Option<ReadRule>,
    /// Replica crashes and the master that handles them; `None`: replicas never fail.
    pub failures: Option<Failures>,
}

/// Crashes to inject, and how the master and clients cope with them.
#[derive(Clone, Debug)]
pub struct Failures {
    /// Replica `index` (position in the initial chain) crashes at `at`, for good.
    pub crashes: Vec<(Duration, usize)>,
    /// How often the master pings each replica.
    pub ping_period: Duration,
    /// How long a replica may be silent before the master removes it.
    pub timeout: Duration,
    /// How long a client waits for an answer before sending its request again.
    pub retry_after: Duration,
}
// ANCHOR_END: setup

impl ChainSetup {
    /// Checks the setup, so that bad input is an error rather than a panic deep in a run.
    pub fn validate(&self) -> Result<(), String> {
        if self.chain_length == 0 {
            return Err("a chain needs at least one replica".to_string());
        }
        if self.clients == 0 {
            return Err("a run needs at least one client".to_string());
        }
        self.workload.validate()?;
        if let Some(f) = &self.failures {
            if let Some((_, i)) = f.crashes.iter().find(|(_, i)| *i >= self.chain_length) {
                let n = self.chain_length;
                return Err(format!("crash of replica {i}, outside a chain of {n}"));
            }
            if f.ping_period.is_zero() || f.retry_after.is_zero() {
                return Err("ping period and retry time must be positive".to_string());
            }
        }
        self.link.validate()
    }

    /// The rule replicas use to answer reads.
    pub fn rule(&self) -> ReadRule {
        self.read_rule.unwrap_or(match self.read_mode {
            ReadMode::Craq => craq_read,
            // The tail's versions are always clean, so the rules agree there.
            ReadMode::Tail | ReadMode::Naive => naive_read,
        })
    }

    /// The replicas' node ids, head first.
    pub fn chain(&self) -> Vec<NodeId> {
        (0..self.chain_length).map(NodeId).collect()
    }
}

// ANCHOR: build
/// The simulation of `setup` with `seed`, with the chain invariants registered.
pub fn build(setup: &ChainSetup, seed: u64) -> Result<Sim<ChainNode>, String> {
    setup.validate()?;
    let chain = setup.chain();
    let mut nodes: Vec<ChainNode> = (0..setup.chain_length)
        .map(|i| {
            let r = Replica::new(chain.clone(), i, setup.rule(), setup.service_time);
            ChainNode::Replica(r)
        })
        .collect();
    let stop_at = Time::ZERO + setup.duration;
    let clients: Vec<NodeId> = (0..setup.clients)
        .map(|c| NodeId(setup.chain_length + c))
        .collect();
    let workload = setup.workload;
    for c in 0..setup.clients {
        let mut client = Client::new(c as u64, chain.clone(), setup.read_mode, workload, stop_at);
        client.retry_after = setup.failures.as_ref().map(|f| f.retry_after);
        nodes.push(ChainNode::Client(client));
    }
    // The master, if any, is the last node, so that replicas and clients keep their ids.
    if let Some(f) = &setup.failures {
        let master = Master::new(chain.clone(), clients, f.ping_period, f.timeout);
        nodes.push(ChainNode::Master(master));
    }
    let mut sim = Sim::new(seed, setup.link.clone(), nodes);
    for &(at, i) in setup.failures.iter().flat_map(|f| &f.crashes) {
        sim.schedule_fault(Time::ZERO + at, Fault::Crash(NodeId(i)));
    }
    let n = setup.chain_length;
    sim.add_invariant(
        "replicas apply the same writes in the same order",
        move |sim| check_same_order(&replicas(sim, n)),
    );
    sim.add_invariant("clean means committed", move |sim| {
        let replicas = replicas(sim, n);
        let committed = replicas.last().map_or(0, |tail| tail.applied);
        match replicas.iter().find(|r| r.max_clean > committed) {
            Some(r) => Err(format!(
                "replica {} marked write {} clean, but the tail has applied only {committed}",
                r.position, r.max_clean
            )),
            None => Ok(()),
        }
    });
    Ok(sim)
}
// ANCHOR_END: build

/// The replicas of a run still in the chain (neither crashed nor removed), in chain order.
/// Removal never reorders a chain, so this is the initial order minus the missing ones.
pub fn replicas(sim: &Sim<ChainNode>, chain_length: usize) -> Vec<&Replica> {
    (0..chain_length)
        .filter_map(|i| match sim.process(NodeId(i)) {
            Some(ChainNode::Replica(r)) if !r.removed => Some(r),
            Some(ChainNode::Replica(_)) | None => None,
            Some(_) => unreachable!("node {i} is a replica"),
        })
        .collect()
}

// ANCHOR: check_same_order
/// The update propagation invariant: each replica's applied writes are a prefix of its
/// predecessor's (van Renesse and Schneider 2004, §3).
pub fn check_same_order(chain: &[&Replica]) -> Result<(), String> {
    for pair in chain.windows(2) {
        let (up, down) = (pair[0], pair[1]);
        if up.applied < down.applied {
            return Err(format!(
                "replica {} applied {} writes, more than its predecessor's {}",
                down.position, down.applied, up.applied
            ));
        }
        if let Some(last) = down.applied.checked_sub(1) {
            let last = last as usize;
            if up.digests[last] != down.digests[last] {
                return Err(format!(
                    "replicas {} and {} applied different writes among the first {}",
                    up.position,
                    down.position,
                    last + 1
                ));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: check_same_order

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Every client's operations, by client then completion order.
    pub history: Vec<Operation>,
    /// Messages each replica's processor handled while clients were sending (up to
    /// `duration`), head first: multiplied by the service time, how busy each replica was
    /// (0 for a replica that crashed).
    pub handled: Vec<u64>,
    /// Writes applied at the end by each replica still in the chain, head first (all equal
    /// after draining).
    pub applied: Vec<u64>,
    /// The replicas the master removed (by initial position), in order.
    pub removed: Vec<usize>,
    /// Reads answered from a replica's own versions, and reads that needed a version query.
    pub local_reads: u64,
    pub queried_reads: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
    /// Simulator events processed.
    pub events: u64,
}

/// How long a run continues after the clients stop, so that requests in flight are answered.
pub const DRAIN: Duration = Duration::from_secs(5);

// ANCHOR: run
/// Runs `setup` with `seed` until the clients have stopped and the chain is quiet.
pub fn run(setup: &ChainSetup, seed: u64) -> Result<RunOutcome, String> {
    let mut sim = build(setup, seed)?;
    let n = setup.chain_length;
    let stop = Time::ZERO + setup.duration;
    sim.run_until(stop)
        .map_err(|v: InvariantViolation| v.to_string())?;
    let served = |sim: &Sim<ChainNode>, i: usize| match sim.process(NodeId(i)) {
        Some(ChainNode::Replica(r)) => r.service.served,
        _ => 0,
    };
    let handled = (0..n).map(|i| served(&sim, i)).collect();
    sim.run_until(stop + DRAIN).map_err(|v| v.to_string())?;
    let chain = replicas(&sim, n);
    let applied = chain.iter().map(|r| r.applied).collect();
    let mut history = Vec::new();
    let mut removed = Vec::new();
    for i in n..sim.node_count() {
        if let Some(ChainNode::Master(m)) = sim.process(NodeId(i)) {
            removed = m.removed.iter().map(|&(_, r)| r.0).collect();
        }
        if let Some(ChainNode::Client(c)) = sim.process(NodeId(i)) {
            history.extend(c.full_history());
        }
    }
    let metrics = sim.metrics();
    Ok(RunOutcome {
        history,
        handled,
        applied,
        removed,
        local_reads: metrics.counter("reads_answered_locally"),
        queried_reads: metrics.counter("reads_after_version_query"),
        trace_hash: sim.trace_hash(),
        events: sim.events_processed(),
    })
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sim::SimRng;
    use rand::SeedableRng;

    /// A replica that applied `writes` (key, value) in this order, as write numbers 1, 2, ...
    fn replica_with(position: usize, writes: &[(&str, &str)]) -> Replica {
        let chain = vec![NodeId(0), NodeId(1), NodeId(2)];
        let mut replica = Replica::new(chain, position, naive_read, Duration::ZERO);
        let mut effects = Vec::new();
        let mut metrics = crate::sim::Metrics::default();
        let mut rng = SimRng::seed_from_u64(0);
        for (i, (key, value)) in writes.iter().enumerate() {
            let mut ctx = Ctx::new(
                NodeId(position),
                Time::ZERO,
                &mut rng,
                &mut effects,
                &mut metrics,
            );
            let msg = ChainMsg::Propagate {
                seq: i as u64 + 1,
                key: key.to_string(),
                value: value.to_string(),
                client: NodeId(3),
                id: i as u64,
            };
            replica.on_message(&mut ctx, NodeId(position.saturating_sub(1)), msg);
        }
        replica
    }

    #[test]
    fn the_order_invariant_accepts_prefixes_and_rejects_divergence() {
        let upstream = replica_with(1, &[("a", "1;"), ("b", "2;"), ("a", "1;3;")]);
        let behind = replica_with(2, &[("a", "1;"), ("b", "2;")]);
        assert_eq!(check_same_order(&[&upstream, &behind]), Ok(()));
        // The successor is ahead of its predecessor: impossible in a chain.
        assert!(
            check_same_order(&[&behind, &upstream])
                .unwrap_err()
                .contains("more than")
        );
        // Same number of writes, but the second differs.
        let swapped = replica_with(2, &[("a", "1;"), ("a", "1;3;")]);
        assert!(
            check_same_order(&[&upstream, &swapped])
                .unwrap_err()
                .contains("different writes")
        );
    }

    #[test]
    fn writes_that_arrive_early_wait_for_their_turn() {
        let chain = vec![NodeId(0), NodeId(1), NodeId(2)];
        let mut replica = Replica::new(chain, 1, naive_read, Duration::ZERO);
        let (mut effects, mut metrics, mut rng) = (
            Vec::new(),
            crate::sim::Metrics::default(),
            SimRng::seed_from_u64(0),
        );
        for seq in [2, 3, 1, 2] {
            let mut ctx = Ctx::new(NodeId(1), Time::ZERO, &mut rng, &mut effects, &mut metrics);
            let msg = ChainMsg::Propagate {
                seq,
                key: "k".into(),
                value: format!("{seq};"),
                client: NodeId(3),
                id: seq,
            };
            replica.on_message(&mut ctx, NodeId(0), msg);
            if seq == 3 {
                assert_eq!(replica.applied, 0, "writes 2 and 3 wait for write 1");
            }
        }
        assert_eq!(replica.applied, 3);
        assert!(replica.early.is_empty());
        assert_eq!(metrics.counter("duplicate_propagates"), 1);
        // Passed on to the successor in order, once each.
        let passed: Vec<u64> = effects
            .iter()
            .filter_map(|e| match e {
                crate::sim::Effect::Send {
                    msg: ChainMsg::Propagate { seq, .. },
                    ..
                } => Some(*seq),
                _ => None,
            })
            .collect();
        assert_eq!(passed, vec![1, 2, 3]);
    }
}
