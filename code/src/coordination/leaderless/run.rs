//! A whole deployment on the simulator, and the checks the chapter's campaign makes.
//!
//! Nodes `0 .. servers` are servers, then come the clients, then one [`Probe`]. [`run`] runs
//! the clients' workload under a random fault schedule (crashes and restarts of servers,
//! partitions of anyone), heals everything, lets hinted handoff and anti-entropy work for a
//! while with no client traffic, and returns the clients' histories and the servers' disks.
//!
//! The checks:
//! - [`check_fresh_reads`]: a get returns the version of every put that completed before the
//!   get started, or a version descending from it (it *covers* that put). This is what
//!   `r + w > n` buys with strict quorums; sloppy quorums break it.
//! - [`check_convergence`]: after healing and anti-entropy, all owners of a key hold the same
//!   siblings, no hint is left, and every completed put is covered there (none was lost).

use std::sync::Arc;
use std::time::Duration;

use super::client::{Client, Op, Outcome, Probe, Workload};
use super::message::StoreMsg;
use super::node::{Disk, Server, StoreConfig};
use super::ring::Ring;
use crate::sim::{
    Ctx, Fault, LinkConfig, Nemesis, NodeId, Process, Sim, Time, TimerId, rng_stream,
};

/// A node of a deployment.
#[derive(Clone, Debug)]
pub enum StoreNode {
    Server(Server),
    Client(Client),
    Probe(Probe),
}

impl Process for StoreNode {
    type Msg = StoreMsg;
    /// A server's disk; clients and the probe never crash (the nemesis crashes servers only).
    type Durable = Disk;

    fn on_start(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        match self {
            StoreNode::Server(s) => s.on_start(ctx),
            StoreNode::Client(c) => c.on_start(ctx),
            StoreNode::Probe(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, StoreMsg>, from: NodeId, msg: StoreMsg) {
        match self {
            StoreNode::Server(s) => s.on_message(ctx, from, msg),
            StoreNode::Client(c) => c.on_message(ctx, msg),
            StoreNode::Probe(p) => p.answers.push((ctx.now(), msg)),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, StoreMsg>, timer: TimerId) {
        match self {
            StoreNode::Server(s) => s.on_timer(ctx, timer),
            StoreNode::Client(c) => c.on_timer(ctx, timer),
            StoreNode::Probe(_) => {}
        }
    }

    fn durable(&self) -> Disk {
        match self {
            StoreNode::Server(s) => s.disk.clone(),
            _ => Disk::default(),
        }
    }
}

// ANCHOR: setup
/// Everything that determines a run, apart from the seed.
#[derive(Clone, Debug)]
pub struct StoreSetup {
    pub servers: usize,
    /// Tokens per server on the ring.
    pub vnodes: usize,
    pub clients: usize,
    pub config: StoreConfig,
    pub workload: Workload,
    /// Every link's behaviour.
    pub link: LinkConfig,
    /// Random faults until `workload.stop_at`; `None` for a fault-free run.
    pub nemesis: Option<Nemesis>,
    /// Quiet time after the workload (and every fault) ended, for repair to finish.
    pub settle: Duration,
}
// ANCHOR_END: setup

impl StoreSetup {
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 || self.vnodes == 0 {
            return Err("a store needs servers with at least one token each".to_string());
        }
        if self.workload.keys == 0 || !(0.0..=1.0).contains(&self.workload.put_fraction) {
            return Err("the workload needs keys and a put fraction in [0, 1]".to_string());
        }
        self.config.validate(self.servers)?;
        self.link.validate()
    }

    /// The ring of this setup.
    pub fn ring(&self) -> Ring {
        Ring::new(self.servers, self.vnodes)
    }
}

/// Builds the simulation: servers, clients, the probe (the last node), and the restart rule.
pub fn build(setup: &StoreSetup, seed: u64) -> Result<Sim<StoreNode>, String> {
    setup.validate()?;
    let ring = Arc::new(setup.ring());
    let config = Arc::new(setup.config.clone());
    let workload = Arc::new(setup.workload.clone());
    let servers = setup.servers;
    let mut nodes: Vec<StoreNode> = (0..servers)
        .map(|i| {
            let server = Server::new(i, servers, ring.clone(), config.clone(), Disk::default());
            StoreNode::Server(server)
        })
        .collect();
    for c in 0..setup.clients {
        let client = Client::new(servers + c, servers, workload.clone());
        nodes.push(StoreNode::Client(client));
    }
    nodes.push(StoreNode::Probe(Probe::default()));
    let mut sim = Sim::new(seed, setup.link.clone(), nodes);
    sim.on_restart(move |id, disk| {
        StoreNode::Server(Server::new(
            id.0,
            servers,
            ring.clone(),
            config.clone(),
            disk,
        ))
    });
    Ok(sim)
}

/// What a run left behind.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Every client operation, client by client.
    pub history: Vec<Op>,
    /// Each server's disk at the end.
    pub disks: Vec<Disk>,
    /// Anti-entropy traffic: hashes and keys sent.
    pub ae_hashes: u64,
    pub ae_keys: u64,
    pub trace_hash: u64,
}

// ANCHOR: run
/// Runs the workload under the nemesis, then heals and lets repair work for `settle`.
pub fn run(setup: &StoreSetup, seed: u64) -> Result<RunOutcome, String> {
    let mut sim = build(setup, seed)?;
    let end = Time::ZERO + setup.workload.stop_at;
    for (at, fault) in faults(setup, seed) {
        sim.schedule_fault(at, fault);
    }
    let stop = end + setup.workload.timeout + setup.settle;
    sim.run_until(stop).map_err(|e| e.to_string())?;
    let mut history = Vec::new();
    let mut disks = Vec::new();
    for i in 0..sim.node_count() {
        match sim.process(NodeId(i)) {
            Some(StoreNode::Server(s)) => disks.push(s.disk.clone()),
            Some(StoreNode::Client(c)) => history.extend(c.history.iter().cloned()),
            Some(StoreNode::Probe(_)) => {}
            None => return Err(format!("server {i} is still down at the end of the run")),
        }
    }
    Ok(RunOutcome {
        history,
        disks,
        ae_hashes: sim.metrics().counter("ae_hashes"),
        ae_keys: sim.metrics().counter("ae_keys"),
        trace_hash: sim.trace_hash(),
    })
}
// ANCHOR_END: run

/// The faults of a run with `seed`, in time order: crashes and restarts of servers only,
/// partitions of anyone (clients included, the probe excepted), and a final heal.
pub fn faults(setup: &StoreSetup, seed: u64) -> Vec<(Time, Fault)> {
    let Some(nemesis) = &setup.nemesis else {
        return Vec::new();
    };
    let end = Time::ZERO + setup.workload.stop_at;
    let mut rng = rng_stream(seed, u64::MAX);
    let crashes = Nemesis {
        partition: false,
        ..nemesis.clone()
    };
    let cuts = Nemesis {
        crash: false,
        pause: false,
        ..nemesis.clone()
    };
    let total = setup.servers + setup.clients; // the probe stays out of it
    let mut all = crashes
        .schedule(&mut rng, setup.servers, Time::ZERO, end)
        .faults;
    all.extend(cuts.schedule(&mut rng, total, Time::ZERO, end).faults);
    all.push((end, Fault::Heal));
    all.sort_by_key(|(at, _)| *at); // stable: faults at one instant keep their order
    all
}

// ANCHOR: check_fresh_reads
/// Every get covers every put of its key that completed before the get started. Returns the
/// number of (get, earlier put) pairs checked.
pub fn check_fresh_reads(history: &[Op]) -> Result<usize, String> {
    let mut checked = 0;
    for get in history {
        let Outcome::Read(siblings) = &get.outcome else {
            continue;
        };
        for put in history {
            let Outcome::Written(clock) = &put.outcome else {
                continue;
            };
            if put.key != get.key || put.end >= get.start {
                continue;
            }
            checked += 1;
            if !siblings.covers(clock) {
                return Err(format!(
                    "stale read: client {} read key {} at {} and got values {:?}, but the put \
                     of {:?} (clock {clock}) by client {} had completed at {}",
                    get.client,
                    get.key,
                    get.start,
                    siblings.values(),
                    put.put,
                    put.client,
                    put.end
                ));
            }
        }
    }
    Ok(checked)
}
// ANCHOR_END: check_fresh_reads

/// After repair: the owners of every key agree, no hint is left, and no completed put is lost.
pub fn check_convergence(setup: &StoreSetup, out: &RunOutcome) -> Result<(), String> {
    let ring = setup.ring();
    let n = setup.config.quorum.n;
    for (i, disk) in out.disks.iter().enumerate() {
        if let Some(((owner, key), _)) = disk.hints.iter().next() {
            return Err(format!(
                "server {i} still holds a hint of key {key} for {owner}"
            ));
        }
    }
    for key in 0..setup.workload.keys {
        let owners = ring.preference_list(key, n);
        let first = out.disks[owners[0]].store.get(&key);
        for &o in &owners[1..] {
            let other = out.disks[o].store.get(&key);
            if other != first {
                let show = |s: Option<&super::version::Siblings>| s.map(|s| s.values());
                return Err(format!(
                    "key {key}: owner {} holds {:?} but owner {o} holds {:?}",
                    owners[0],
                    show(first),
                    show(other)
                ));
            }
        }
        for put in out.history.iter().filter(|p| p.key == key) {
            let Outcome::Written(clock) = &put.outcome else {
                continue;
            };
            if !first.is_some_and(|s| s.covers(clock)) {
                return Err(format!(
                    "key {key}: the completed put of {:?} is lost",
                    put.put
                ));
            }
        }
    }
    Ok(())
}

// ANCHOR: campaign_setup
/// The campaign's deployment: five servers, three replicas per key, three clients on eight
/// keys for 600 ms of crashes, restarts and partitions, then one quiet second.
pub fn campaign_setup(quorum: super::quorum::Quorum, sloppy: bool) -> StoreSetup {
    let ms = Duration::from_millis;
    StoreSetup {
        servers: 5,
        vnodes: 2,
        clients: 3,
        config: StoreConfig {
            quorum,
            sloppy,
            stand_in_after: ms(4),
            request_timeout: ms(20),
            read_repair: true,
            anti_entropy_every: Some(ms(40)),
            merkle_leaves: 8,
            hint_retry_every: ms(40),
        },
        workload: Workload {
            keys: 8,
            put_fraction: 0.5,
            think_mean: ms(5),
            timeout: ms(30),
            stop_at: ms(600),
        },
        link: LinkConfig::constant(Duration::ZERO).with_latency(crate::sim::Latency::Exponential {
            min: Duration::from_micros(200),
            mean: Duration::from_micros(500),
        }),
        nemesis: Some(Nemesis {
            mean_interval: ms(100),
            mean_duration: ms(100),
            crash: true,
            pause: false,
            partition: true,
            max_down: 2,
        }),
        settle: ms(1000),
    }
}
// ANCHOR_END: campaign_setup
