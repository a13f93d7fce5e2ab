//! A whole blob store on the simulator: clients, one front end, partition servers, the stream
//! manager and extent nodes, built from a [`Setup`]; and the checks the tests and experiments
//! run on it afterwards.
//!
//! Node ids: `0` is the stream manager, `1` the front end, then the partition servers, then the
//! extent nodes, then the clients ([`Layout`]). Every client writes its planned blobs one after
//! the other through the front end, then, at `read_at`, reads back every blob it was told is
//! stored. [`check_read_back`] compares the bytes; [`check_replication`] checks that every
//! extent has its full replica count again and that all copies of a sealed extent agree.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;

use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId, rng_stream};

use super::extent::AckRule;
use super::extent_node::ExtentNode;
use super::message::{BlobMsg, Replication};
use super::partition::{FrontEnd, PartitionMap, PartitionServer};
use super::stream_manager::StreamManager;

/// Everything that shapes a run.
#[derive(Clone, Debug)]
pub struct Setup {
    pub partitions: usize,
    pub extent_nodes: usize,
    /// Replicas per extent: the length of the append chain.
    pub replication_factor: usize,
    pub replication: Replication,
    pub ack_rule: AckRule,
    /// The stream manager's seal rule ([`super::extent::seal_length`]; the exercise swaps it).
    pub seal_rule: fn(&[Option<u64>]) -> Option<u64>,
    /// Size limit of an extent, in bytes; a full extent is sealed and a new one started.
    pub extent_limit: u64,
    pub clients: usize,
    pub blobs_per_client: usize,
    /// Smallest and largest blob, in bytes (uniform in between).
    pub blob_size: (usize, usize),
    /// A client's pause between one answer and its next put.
    pub think: Duration,
    /// When clients start reading back what they wrote.
    pub read_at: Duration,
    /// Every link (latency distribution, bandwidth).
    pub link: LinkConfig,
    pub heartbeat: Duration,
    pub failure_timeout: Duration,
    pub seal_timeout: Duration,
    pub op_timeout: Duration,
}

impl Default for Setup {
    fn default() -> Setup {
        let latency = crate::sim::Latency::Exponential {
            min: Duration::from_micros(100),
            mean: Duration::from_micros(200),
        };
        Setup {
            partitions: 2,
            extent_nodes: 6,
            replication_factor: 3,
            replication: Replication::Chain,
            ack_rule: AckRule::AllReplicas,
            seal_rule: super::extent::seal_length,
            extent_limit: 16 * 1024,
            clients: 2,
            blobs_per_client: 60,
            blob_size: (256, 2048),
            think: Duration::from_millis(2),
            read_at: Duration::from_secs(3),
            link: LinkConfig::constant(Duration::ZERO)
                .with_latency(latency)
                .with_bandwidth(100_000_000),
            heartbeat: Duration::from_millis(50),
            failure_timeout: Duration::from_millis(300),
            seal_timeout: Duration::from_millis(100),
            op_timeout: Duration::from_millis(50),
        }
    }
}

impl Setup {
    /// Explains the first setting that cannot work.
    pub fn validate(&self) -> Result<(), String> {
        let (lo, hi) = self.blob_size;
        if self.partitions == 0 || self.partitions > 26 {
            return Err(format!(
                "partitions must be 1..=26, not {}",
                self.partitions
            ));
        }
        if self.replication_factor == 0 || self.replication_factor > self.extent_nodes {
            return Err(format!(
                "the replication factor ({}) must be 1..=extent nodes ({})",
                self.replication_factor, self.extent_nodes
            ));
        }
        if lo == 0 || lo > hi || hi as u64 > self.extent_limit {
            return Err(format!(
                "blob sizes {lo}..={hi} must be non-empty and fit an extent of {} bytes",
                self.extent_limit
            ));
        }
        self.link.validate()
    }
}

/// Which node is which.
#[derive(Clone, Debug)]
pub struct Layout {
    pub stream_manager: NodeId,
    pub front_end: NodeId,
    pub partition_servers: Vec<NodeId>,
    pub extent_nodes: Vec<NodeId>,
    pub clients: Vec<NodeId>,
}

/// A client: writes its blobs in order, then reads them all back.
#[derive(Clone, Debug)]
pub struct Client {
    pub front_end: NodeId,
    /// The blobs to write, in order.
    pub plan: Vec<(String, Vec<u8>)>,
    pub think: Duration,
    pub read_at: Time,
    next: usize,
    req: u64,
    sent_at: Time,
    reading: bool,
    to_read: Vec<String>,
    /// Every blob the store said it stored, with its bytes.
    pub acked: BTreeMap<String, Vec<u8>>,
    /// When each acknowledged put was answered, and how long it took.
    pub put_log: Vec<(Time, Duration)>,
    /// What each read returned.
    pub read_back: BTreeMap<String, Option<Vec<u8>>>,
    /// Whether every read was answered.
    pub done: bool,
}

const NEXT: TimerId = TimerId(0);

impl Client {
    fn issue(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        self.req += 1;
        self.sent_at = ctx.now();
        let (client, req) = (ctx.id(), self.req);
        if let Some((name, data)) = self.plan.get(self.next) {
            let (name, data) = (name.clone(), data.clone());
            return ctx.send(
                self.front_end,
                BlobMsg::Put {
                    client,
                    req,
                    name,
                    data,
                },
            );
        }
        if !self.reading {
            self.reading = true;
            self.to_read = self.acked.keys().rev().cloned().collect();
            let wait = self.read_at.since(ctx.now()).max(Duration::from_nanos(1));
            return ctx.set_timer(NEXT, wait);
        }
        match self.to_read.last() {
            Some(name) => {
                let name = name.clone();
                ctx.send(self.front_end, BlobMsg::Get { client, req, name });
            }
            None => self.done = true,
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, msg: BlobMsg) {
        match msg {
            BlobMsg::PutOk { req, .. } | BlobMsg::PutRejected { req, .. } if req == self.req => {
                if matches!(msg, BlobMsg::PutOk { .. }) {
                    let (name, data) = self.plan[self.next].clone();
                    self.acked.insert(name, data);
                    self.put_log
                        .push((ctx.now(), ctx.now().since(self.sent_at)));
                }
                self.next += 1;
                ctx.set_timer(NEXT, self.think);
            }
            BlobMsg::GetReply { req, data, .. } if req == self.req => {
                let name = self.to_read.pop().expect("a read is in flight");
                self.read_back.insert(name, data);
                self.issue(ctx);
            }
            _ => {}
        }
    }
}

/// Every kind of node of the blob store, so one simulation runs them all.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum BlobNode {
    StreamManager(StreamManager),
    FrontEnd(FrontEnd),
    Partition(PartitionServer),
    Extent(ExtentNode),
    Client(Client),
}

impl Process for BlobNode {
    type Msg = BlobMsg;
    /// Nodes stop for good in this model (see the module doc), so nothing is kept.
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        match self {
            BlobNode::StreamManager(m) => m.on_start(ctx),
            BlobNode::Extent(n) => n.on_start(ctx),
            BlobNode::Client(c) => c.issue(ctx),
            BlobNode::FrontEnd(_) | BlobNode::Partition(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, from: NodeId, msg: BlobMsg) {
        match self {
            BlobNode::StreamManager(m) => m.on_message(ctx, from, msg),
            BlobNode::FrontEnd(f) => f.on_message(ctx, msg),
            BlobNode::Partition(p) => p.on_message(ctx, from, msg),
            BlobNode::Extent(n) => n.on_message(ctx, from, msg),
            BlobNode::Client(c) => c.on_message(ctx, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, BlobMsg>, timer: TimerId) {
        match self {
            BlobNode::StreamManager(m) => m.on_timer(ctx, timer),
            BlobNode::Partition(p) => p.on_timer(ctx, timer),
            BlobNode::Extent(n) => n.on_timer(ctx, timer),
            BlobNode::Client(c) => c.issue(ctx),
            BlobNode::FrontEnd(_) => {}
        }
    }

    fn durable(&self) {}

    fn message_size(msg: &BlobMsg) -> usize {
        msg.size()
    }
}

/// Builds the store of `setup`; the clients' blobs are drawn from `seed`.
pub fn build(seed: u64, setup: &Setup) -> Result<(Sim<BlobNode>, Layout), String> {
    setup.validate()?;
    let ids = |from: usize, n: usize| (from..from + n).map(NodeId).collect::<Vec<_>>();
    let layout = Layout {
        stream_manager: NodeId(0),
        front_end: NodeId(1),
        partition_servers: ids(2, setup.partitions),
        extent_nodes: ids(2 + setup.partitions, setup.extent_nodes),
        clients: ids(2 + setup.partitions + setup.extent_nodes, setup.clients),
    };
    // The partition manager's assignment: the alphabet cut into equal ranges.
    let splits: Vec<String> = (1..setup.partitions)
        .map(|k| char::from(b'a' + (26 * k / setup.partitions) as u8).to_string())
        .collect();
    let splits: Vec<&str> = splits.iter().map(String::as_str).collect();
    let map = PartitionMap::assign(&splits, &layout.partition_servers)?;
    let mut nodes = vec![
        BlobNode::StreamManager(StreamManager::new(
            layout.extent_nodes.clone(),
            setup.replication_factor,
            setup.failure_timeout,
            setup.seal_timeout,
            setup.seal_rule,
        )),
        BlobNode::FrontEnd(FrontEnd { map }),
    ];
    for (stream, _) in layout.partition_servers.iter().enumerate() {
        let ps = PartitionServer::new(
            stream as u64,
            layout.stream_manager,
            setup.extent_limit,
            setup.op_timeout,
        );
        nodes.push(BlobNode::Partition(ps));
    }
    for _ in &layout.extent_nodes {
        nodes.push(BlobNode::Extent(ExtentNode::new(
            layout.stream_manager,
            setup.heartbeat,
            setup.extent_limit,
            setup.replication,
            setup.ack_rule,
        )));
    }
    let mut rng = rng_stream(seed, 0xB10B);
    for c in 0..setup.clients {
        let plan = (0..setup.blobs_per_client)
            .map(|i| {
                let letter = char::from(b'a' + rng.random_range(0..26u8));
                let size = rng.random_range(setup.blob_size.0..=setup.blob_size.1);
                let data: Vec<u8> = (0..size).map(|_| rng.random()).collect();
                (format!("{letter}/client{c}/blob{i:04}"), data)
            })
            .collect();
        nodes.push(BlobNode::Client(Client {
            front_end: layout.front_end,
            plan,
            think: setup.think,
            read_at: Time::ZERO + setup.read_at,
            next: 0,
            req: 0,
            sent_at: Time::ZERO,
            reading: false,
            to_read: Vec::new(),
            acked: BTreeMap::new(),
            put_log: Vec::new(),
            read_back: BTreeMap::new(),
            done: false,
        }));
    }
    let mut sim = Sim::new(seed, setup.link.clone(), nodes);
    // The trace would format every message, bytes included: far slower than the run itself.
    sim.set_trace(crate::sim::TraceLevel::Off);
    Ok((sim, layout))
}

/// The stream manager of a run.
pub fn stream_manager<'a>(sim: &'a Sim<BlobNode>, layout: &Layout) -> &'a StreamManager {
    match sim.process(layout.stream_manager) {
        Some(BlobNode::StreamManager(m)) => m,
        _ => panic!("node {} is the stream manager", layout.stream_manager),
    }
}

/// The clients of a run.
pub fn clients<'a>(sim: &'a Sim<BlobNode>, layout: &Layout) -> Vec<&'a Client> {
    let client = |id: &NodeId| match sim.process(*id) {
        Some(BlobNode::Client(c)) => c,
        _ => panic!("node {id} is a client that never fails"),
    };
    layout.clients.iter().map(client).collect()
}

/// The primary of the extent partition server `p` appends to now, if it has one.
pub fn open_primary(sim: &Sim<BlobNode>, layout: &Layout, p: usize) -> Option<NodeId> {
    match sim.process(layout.partition_servers[p]) {
        Some(BlobNode::Partition(ps)) => ps.open_replicas().map(|r| r[0]),
        _ => None,
    }
}

// ANCHOR: check_read_back
/// Every blob the store acknowledged reads back byte for byte.
pub fn check_read_back(sim: &Sim<BlobNode>, layout: &Layout) -> Result<(), String> {
    for (client, id) in clients(sim, layout).iter().zip(&layout.clients) {
        if !client.done {
            return Err(format!("client {id} did not finish by {:?}", sim.now()));
        }
        for (name, data) in &client.acked {
            match client.read_back.get(name) {
                Some(Some(read)) if read == data => {}
                Some(Some(read)) => {
                    let n = read.len();
                    return Err(format!(
                        "acknowledged blob {name} read back changed ({n} bytes)"
                    ));
                }
                _ => return Err(format!("acknowledged blob {name} is lost")),
            }
        }
    }
    Ok(())
}
// ANCHOR_END: check_read_back

/// Every extent has its full replica count on live nodes, and every live copy of a sealed
/// extent holds exactly its sealed bytes, the same on each replica.
pub fn check_replication(sim: &Sim<BlobNode>, layout: &Layout) -> Result<(), String> {
    let manager = stream_manager(sim, layout);
    let missing = manager.under_replicated();
    if missing > 0 {
        return Err(format!(
            "{missing} extents are still under-replicated at {:?}",
            sim.now()
        ));
    }
    for (extent, meta) in &manager.extents {
        let Some(length) = meta.sealed else { continue };
        let mut copies = Vec::new();
        for r in meta.replicas.iter().filter(|r| !manager.dead.contains(r)) {
            let Some(BlobNode::Extent(node)) = sim.process(*r) else {
                return Err(format!(
                    "replica {r} of extent {extent} is down but not declared dead"
                ));
            };
            match node.extents.get(extent) {
                Some(copy) if copy.sealed == Some(length) => copies.push(&copy.data),
                _ => return Err(format!("{r} lacks the sealed copy of extent {extent}")),
            }
        }
        if copies.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("the copies of sealed extent {extent} differ"));
        }
    }
    Ok(())
}

/// What one seed of the one-failure campaign did.
#[derive(Clone, Debug)]
pub struct OneFailure {
    /// The extent node that stopped, and when.
    pub victim: NodeId,
    pub at: Time,
    /// Blobs acknowledged, and replicas rebuilt afterwards.
    pub acked: usize,
    pub rebuilt: u64,
}

// ANCHOR: one_failure
/// One seed of the campaign: an extent node drawn from the seed stops for good at a moment
/// drawn from the seed while the clients write; afterwards every acknowledged blob must read
/// back byte for byte and every extent must have its full replica count again.
pub fn run_with_one_failure(seed: u64, setup: &Setup) -> Result<OneFailure, String> {
    let (mut sim, layout) = build(seed, setup)?;
    let (victim, at) = failure_drawn_from(seed, &layout);
    sim.schedule_fault(at, crate::sim::Fault::Crash(victim));
    let end = Time::ZERO + setup.read_at + Duration::from_secs(3);
    sim.run_until(end).map_err(|v| format!("{v:?}"))?;
    let why = |e: String| format!("{victim} stopped at {:.4} s: {e}", at.as_secs_f64());
    check_read_back(&sim, &layout).map_err(why)?;
    check_replication(&sim, &layout).map_err(why)?;
    let acked = clients(&sim, &layout).iter().map(|c| c.acked.len()).sum();
    let rebuilt = sim.metrics().counter("file_storage.replicas_rebuilt");
    Ok(OneFailure {
        victim,
        at,
        acked,
        rebuilt,
    })
}
// ANCHOR_END: one_failure

/// The campaign's failures fall in the first this many seconds, while the default clients
/// are still writing.
pub const FAILURE_WINDOW_SECS: f64 = 0.4;

/// The extent node that stops in seed `seed` of the campaign, and when.
pub fn failure_drawn_from(seed: u64, layout: &Layout) -> (NodeId, Time) {
    let mut rng = rng_stream(seed, 0xFA11);
    let victim = layout.extent_nodes[rng.random_range(0..layout.extent_nodes.len())];
    let at = Time::from_secs_f64(rng.random_range(0.0..FAILURE_WINDOW_SECS));
    (victim, at)
}

/// The story of seed `seed` of the campaign, for a reader who wants to know why a blob was
/// lost: which node stopped and when, and for the first acknowledged blob that does not read
/// back, when it was acknowledged, where the index put it, and the failed node's place in
/// that extent's chain. `None` for the last part if every blob reads back.
pub fn lost_blob_story(seed: u64, setup: &Setup) -> Result<Vec<String>, String> {
    let (mut sim, layout) = build(seed, setup)?;
    let (victim, at) = failure_drawn_from(seed, &layout);
    sim.schedule_fault(at, crate::sim::Fault::Crash(victim));
    sim.run_until(Time::ZERO + setup.read_at + Duration::from_secs(3))
        .map_err(|v| format!("{v:?}"))?;
    let mut story = vec![format!(
        "seed {seed}: extent node {victim} stopped at {:.4} s",
        at.as_secs_f64()
    )];
    for client in clients(&sim, &layout) {
        // Puts go one at a time, in plan order, and only oversized ones are refused (never
        // in a valid setup): the i-th acknowledgement is the i-th planned blob's.
        for ((name, data), (acked_at, _)) in client.plan.iter().zip(&client.put_log) {
            if !client.read_back.contains_key(name) && !client.done {
                continue; // never read back: the client did not get that far
            }
            if client.read_back.get(name) == Some(&Some(data.clone())) {
                continue;
            }
            let place = layout
                .partition_servers
                .iter()
                .find_map(|ps| match sim.process(*ps) {
                    Some(BlobNode::Partition(p)) => p.index.get(name).map(|loc| (p, *loc)),
                    _ => None,
                });
            let Some((ps, loc)) = place else {
                story.push(format!("{name}: acknowledged but in no index"));
                return Ok(story);
            };
            let chain = ps.chain_of(loc.extent).unwrap_or(&[]);
            let role = match chain.iter().position(|n| *n == victim) {
                Some(0) => "its primary",
                Some(i) if i + 1 == chain.len() => "its tail",
                Some(_) => "a secondary",
                None => "not one of its replicas",
            };
            let chain: Vec<String> = chain.iter().map(|n| n.to_string()).collect();
            story.push(format!(
                "lost: {name}, acknowledged at {:.4} s, extent {} bytes {}..{}",
                acked_at.as_secs_f64(),
                loc.extent,
                loc.offset,
                loc.offset + loc.len
            ));
            story.push(format!(
                "extent {}'s chain: {}; {victim} was {role}",
                loc.extent,
                chain.join(" -> ")
            ));
            return Ok(story);
        }
    }
    story.push("every acknowledged blob reads back".into());
    Ok(story)
}
