//! A whole deployment on the simulator: a chain, its clients, the invariants, and the results.
//!
//! Nodes `0 .. chain_length` are the replicas, head first; the clients follow. [`build`] makes
//! the simulation and registers the invariants checked after every event; [`run`] runs it until
//! the clients stop and every request in flight has been answered, and returns the clients'
//! history with the measurements the chapter reports.
//!
//! Invariants, after every event:
//! - **same order** (van Renesse and Schneider §3, update propagation): for consecutive replicas
//!   `i` and `i + 1`, replica `i` has applied at least as many writes, and the first writes of
//!   both are the same writes in the same order (their prefix digests agree);
//! - **clean means committed** (CRAQ §2.3): no replica marks a write clean before the tail has
//!   applied it.

use std::time::Duration;

use super::client::{Client, ReadMode, THINK, Workload};
use super::history::Operation;
use super::message::ChainMsg;
use super::replica::{Replica, SERVICE};
use super::versions::{ReadRule, craq_read, naive_read};
use crate::sim::{Ctx, InvariantViolation, LinkConfig, NodeId, Process, Sim, Time, TimerId};

/// A node of a chain deployment.
#[derive(Clone, Debug)]
pub enum ChainNode {
    Replica(Replica),
    Client(Client),
}

impl Process for ChainNode {
    type Msg = ChainMsg;
    /// Nothing: replicas never crash in this module's runs (see the module essay).
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        if let ChainNode::Client(c) = self {
            c.on_start(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        match (self, msg) {
            (ChainNode::Replica(r), msg) => r.on_message(ctx, from, msg),
            (ChainNode::Client(c), ChainMsg::Response { id, output }) => {
                c.on_response(ctx, id, output);
            }
            (ChainNode::Client(_), _) => ctx.count("client_got_chain_message"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ChainMsg>, timer: TimerId) {
        match (self, timer) {
            (ChainNode::Replica(r), SERVICE) => r.on_service_done(ctx),
            (ChainNode::Client(c), THINK) => c.on_think_done(ctx),
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
    for c in 0..setup.clients {
        let client = Client::new(
            c as u64,
            chain.clone(),
            setup.read_mode,
            setup.workload,
            stop_at,
        );
        nodes.push(ChainNode::Client(client));
    }
    let mut sim = Sim::new(seed, setup.link.clone(), nodes);
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

/// The replicas of a run, head first.
pub fn replicas(sim: &Sim<ChainNode>, chain_length: usize) -> Vec<&Replica> {
    (0..chain_length)
        .map(|i| match sim.process(NodeId(i)) {
            Some(ChainNode::Replica(r)) => r,
            _ => unreachable!("node {i} is a running replica"),
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
    /// `duration`), head first: multiplied by the service time, how busy each replica was.
    pub handled: Vec<u64>,
    /// Writes applied at each replica at the end, head first (all equal after draining).
    pub applied: Vec<u64>,
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
    let handled = replicas(&sim, n).iter().map(|r| r.service.served).collect();
    sim.run_until(stop + DRAIN).map_err(|v| v.to_string())?;
    let chain = replicas(&sim, n);
    let applied = chain.iter().map(|r| r.applied).collect();
    let mut history = Vec::new();
    for i in n..sim.node_count() {
        if let Some(ChainNode::Client(c)) = sim.process(NodeId(i)) {
            history.extend(c.full_history());
        }
    }
    let metrics = sim.metrics();
    Ok(RunOutcome {
        history,
        handled,
        applied,
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
    use crate::sim::Rng;

    /// A replica that applied `writes` (key, value) in this order, as write numbers 1, 2, ...
    fn replica_with(position: usize, writes: &[(&str, &str)]) -> Replica {
        let chain = vec![NodeId(0), NodeId(1), NodeId(2)];
        let mut replica = Replica::new(chain, position, naive_read, Duration::ZERO);
        let mut effects = Vec::new();
        let mut metrics = crate::sim::Metrics::default();
        let mut rng = Rng::new(0);
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
        let (mut effects, mut metrics, mut rng) =
            (Vec::new(), crate::sim::Metrics::default(), Rng::new(0));
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
