//! The stream manager: the stream layer's metadata, and the one process that seals extents and
//! rebuilds lost replicas.
//!
//! **What it knows.** Which extents make up each stream, which extent nodes hold each extent
//! (primary first), and whether and at what length each extent is sealed. It does *not* know
//! blob names or where a blob starts: that is the partition layer's index. It does not sit on
//! the data path either: appends go from the writer straight to the extent's primary.
//!
//! **What it does.** It hands a writer a new extent (placed on randomly chosen live extent
//! nodes); it seals an extent when the writer asks (the extent is full, or an append failed):
//! it asks every replica for its length and seals at [`super::extent::seal_length`] of the answers, waiting
//! at most `seal_timeout` for a replica that may be down. It watches heartbeats, and when an
//! extent node falls silent for `failure_timeout`, it copies each sealed extent that had a
//! replica there from a surviving replica to another node, until every sealed extent has its
//! full replica count again; an open extent with a replica there is sealed first. Sealing
//! without the writer is safe only because the dead node is really dead (fail-stop): an append
//! it does not have can never be acknowledged, and one it has is on every replica.
//!
//! **Simplifications.** One process that never fails (Azure replicates the stream manager with
//! Paxos, Calder et al. 2011); extent nodes fail by stopping for good (a node that comes back
//! would be told which of its extents are stale; we do not model it); a copy in progress is not
//! retried if its source or target fails too (the campaign fails one node at a time).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::sim::{Ctx, NodeId, Time, TimerId};

use super::extent::ExtentId;
use super::message::{BlobMsg, StreamId};

/// What the stream manager records about one extent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtentMeta {
    pub stream: StreamId,
    /// The extent nodes holding it, primary first. Replicas on dead nodes stay listed until
    /// a copy replaces them.
    pub replicas: Vec<NodeId>,
    /// The commit length it was sealed at; `None` while open.
    pub sealed: Option<u64>,
}

/// A seal in progress: the lengths reported so far.
#[derive(Clone, Debug)]
struct Sealing {
    /// The writer waiting for a new extent, if a writer asked for the seal.
    writer: Option<NodeId>,
    reports: BTreeMap<NodeId, u64>,
}

/// The stream manager.
#[derive(Clone, Debug)]
pub struct StreamManager {
    pub extent_nodes: Vec<NodeId>,
    /// Replicas per extent (the length of the chain).
    pub replication_factor: usize,
    /// Silence after which an extent node is declared dead.
    pub failure_timeout: Duration,
    /// How long a seal waits for the lengths of replicas that may be down.
    pub seal_timeout: Duration,
    /// The seal rule: [`super::extent::seal_length`] unless an exercise swaps it.
    pub seal_rule: fn(&[Option<u64>]) -> Option<u64>,
    /// Every extent, by id.
    pub extents: BTreeMap<ExtentId, ExtentMeta>,
    /// When each extent node was last heard from.
    last_heard: BTreeMap<NodeId, Time>,
    /// Extent nodes declared dead. Invariant: never leaves the set (nodes stop for good).
    pub dead: BTreeSet<NodeId>,
    sealing: BTreeMap<ExtentId, Sealing>,
    /// Copies in progress: extent -> the node receiving it.
    copying: BTreeMap<ExtentId, NodeId>,
    next_extent: ExtentId,
    /// When the first extent node was declared dead.
    pub failure_detected_at: Option<Time>,
    /// When every extent had its full replica count again after that.
    pub fully_replicated_at: Option<Time>,
}

const CHECK: TimerId = TimerId(0);
/// Seal timers are numbered from here by extent id.
const SEAL_TIMER_BASE: u32 = 1;

impl StreamManager {
    pub fn new(
        extent_nodes: Vec<NodeId>,
        replication_factor: usize,
        failure_timeout: Duration,
        seal_timeout: Duration,
        seal_rule: fn(&[Option<u64>]) -> Option<u64>,
    ) -> StreamManager {
        StreamManager {
            extent_nodes,
            replication_factor,
            failure_timeout,
            seal_timeout,
            seal_rule,
            extents: BTreeMap::new(),
            last_heard: BTreeMap::new(),
            dead: BTreeSet::new(),
            sealing: BTreeMap::new(),
            copying: BTreeMap::new(),
            next_extent: 0,
            failure_detected_at: None,
            fully_replicated_at: None,
        }
    }

    /// Extents with fewer live replicas than the replication factor.
    pub fn under_replicated(&self) -> usize {
        let live = |m: &ExtentMeta| m.replicas.iter().filter(|r| !self.dead.contains(r)).count();
        let want = self.replication_factor.min(self.extent_nodes.len());
        self.extents.values().filter(|m| live(m) < want).count()
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        for n in &self.extent_nodes {
            self.last_heard.insert(*n, ctx.now());
        }
        ctx.set_timer(CHECK, self.failure_timeout / 4);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, BlobMsg>, timer: TimerId) {
        if timer == CHECK {
            self.detect_failures(ctx);
            ctx.set_timer(CHECK, self.failure_timeout / 4);
        } else {
            let extent = ExtentId::from(timer.0 - SEAL_TIMER_BASE);
            self.finish_seal(ctx, extent);
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, from: NodeId, msg: BlobMsg) {
        match msg {
            BlobMsg::Heartbeat => {
                self.last_heard.insert(from, ctx.now());
            }
            BlobMsg::NewExtent { stream, seal: None } => self.allocate(ctx, from, stream),
            BlobMsg::NewExtent {
                seal: Some(extent), ..
            } => self.start_seal(ctx, Some(from), extent),
            BlobMsg::Length { extent, length } => {
                let Some(s) = self.sealing.get_mut(&extent) else {
                    return;
                };
                s.reports.insert(from, length);
                let meta = &self.extents[&extent];
                let waiting = meta
                    .replicas
                    .iter()
                    .any(|r| !self.dead.contains(r) && !s.reports.contains_key(r));
                if !waiting {
                    self.finish_seal(ctx, extent);
                }
            }
            BlobMsg::ReplicaCreated { extent } => self.replica_created(ctx, from, extent),
            _ => {}
        }
    }

    /// A new open extent for `stream` on `replication_factor` random live nodes.
    fn allocate(&mut self, ctx: &mut Ctx<'_, BlobMsg>, writer: NodeId, stream: StreamId) {
        let mut live: Vec<NodeId> = self.live_nodes();
        live.shuffle(ctx.rng());
        live.truncate(self.replication_factor);
        let extent = self.next_extent;
        self.next_extent += 1;
        let meta = ExtentMeta {
            stream,
            replicas: live.clone(),
            sealed: None,
        };
        self.extents.insert(extent, meta);
        let msg = BlobMsg::ExtentAllocated {
            stream,
            extent,
            replicas: live,
        };
        ctx.send(writer, msg);
    }

    fn live_nodes(&self) -> Vec<NodeId> {
        let alive = |n: &&NodeId| !self.dead.contains(n);
        self.extent_nodes.iter().filter(alive).copied().collect()
    }

    // ANCHOR: start_seal
    /// The writer of `stream` gave up on `extent` (full, or an append failed): ask every
    /// replica that may be alive how long its copy is.
    fn start_seal(&mut self, ctx: &mut Ctx<'_, BlobMsg>, writer: Option<NodeId>, e: u64) {
        let Some(meta) = self.extents.get(&e) else {
            return; // not an extent we made: ignore
        };
        if meta.sealed.is_some() {
            if let Some(writer) = writer {
                self.allocate(ctx, writer, meta.stream);
            }
            return;
        }
        if let Some(s) = self.sealing.get_mut(&e) {
            s.writer = s.writer.or(writer); // already sealing it: answer the writer at the end
            return;
        }
        let sealing = Sealing {
            writer,
            reports: BTreeMap::new(),
        };
        self.sealing.insert(e, sealing);
        for r in meta.replicas.clone() {
            if !self.dead.contains(&r) {
                ctx.send(r, BlobMsg::QueryLength { extent: e });
            }
        }
        ctx.set_timer(seal_timer(e), self.seal_timeout);
    }

    /// Every replica that may be alive answered, or the wait is over: seal at the smallest
    /// reported length, then give the writer a fresh extent and rebuild lost replicas.
    fn finish_seal(&mut self, ctx: &mut Ctx<'_, BlobMsg>, extent: ExtentId) {
        let Some(s) = self.sealing.get(&extent) else {
            return;
        };
        let meta = &self.extents[&extent];
        let reported: Vec<Option<u64>> = meta
            .replicas
            .iter()
            .map(|r| s.reports.get(r).copied())
            .collect();
        let Some(length) = (self.seal_rule)(&reported) else {
            // Nobody answered yet: ask again after another wait.
            ctx.set_timer(seal_timer(extent), self.seal_timeout);
            return;
        };
        let s = self.sealing.remove(&extent).expect("checked above");
        ctx.cancel_timer(seal_timer(extent));
        let meta = self
            .extents
            .get_mut(&extent)
            .expect("sealing a known extent");
        meta.sealed = Some(length);
        let stream = meta.stream;
        for r in meta.replicas.clone() {
            ctx.send(r, BlobMsg::Seal { extent, length });
        }
        ctx.count("file_storage.seals");
        if let Some(writer) = s.writer {
            self.allocate(ctx, writer, stream);
        }
        self.repair(ctx, extent);
    }
    // ANCHOR_END: start_seal

    /// Declares dead every extent node silent for longer than `failure_timeout`, and starts
    /// rebuilding the sealed extents that had a replica there.
    fn detect_failures(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        let now = ctx.now();
        let silent: Vec<NodeId> = self
            .last_heard
            .iter()
            .filter(|(n, at)| !self.dead.contains(n) && now.since(**at) > self.failure_timeout)
            .map(|(n, _)| *n)
            .collect();
        for n in silent {
            self.dead.insert(n);
            self.failure_detected_at.get_or_insert(now);
            self.fully_replicated_at = None;
            ctx.count("file_storage.nodes_declared_dead");
            let hit: Vec<ExtentId> = self
                .extents
                .iter()
                .filter(|(_, m)| m.replicas.contains(&n))
                .map(|(e, _)| *e)
                .collect();
            for e in hit {
                if self.extents[&e].sealed.is_none() {
                    // Safe without its writer: an append not yet on the dead replica can
                    // never be acknowledged now, and one that is there is on every replica.
                    self.start_seal(ctx, None, e);
                } else {
                    self.repair(ctx, e);
                }
            }
            if self.under_replicated() == 0 {
                self.fully_replicated_at = Some(now); // the node held nothing
            }
        }
    }

    // ANCHOR: repair
    /// If sealed `extent` has fewer live replicas than it should, copies it from a live
    /// replica to a live node that does not hold it yet (one copy at a time per extent).
    fn repair(&mut self, ctx: &mut Ctx<'_, BlobMsg>, extent: ExtentId) {
        let meta = &self.extents[&extent];
        let Some(length) = meta.sealed else {
            return; // open: its writer will seal it at its next failed append
        };
        let live: Vec<NodeId> = meta
            .replicas
            .iter()
            .filter(|r| !self.dead.contains(r))
            .copied()
            .collect();
        if live.len() >= self.replication_factor || self.copying.contains_key(&extent) {
            return;
        }
        let mut spare: Vec<NodeId> = self
            .live_nodes()
            .into_iter()
            .filter(|n| !meta.replicas.contains(n))
            .collect();
        spare.shuffle(ctx.rng());
        let (Some(&source), Some(&target)) = (live.first(), spare.first()) else {
            return; // every replica lost, or no node left to copy to
        };
        self.copying.insert(extent, target);
        let msg = BlobMsg::Replicate {
            extent,
            length,
            source,
        };
        ctx.send(target, msg);
    }
    // ANCHOR_END: repair

    fn replica_created(&mut self, ctx: &mut Ctx<'_, BlobMsg>, from: NodeId, extent: ExtentId) {
        if self.copying.get(&extent) != Some(&from) {
            return;
        }
        self.copying.remove(&extent);
        let meta = self
            .extents
            .get_mut(&extent)
            .expect("copying a known extent");
        match meta.replicas.iter().position(|r| self.dead.contains(r)) {
            Some(i) => meta.replicas[i] = from,
            None => meta.replicas.push(from),
        }
        ctx.count("file_storage.replicas_rebuilt");
        self.repair(ctx, extent);
        if self.failure_detected_at.is_some() && self.under_replicated() == 0 {
            self.fully_replicated_at.get_or_insert(ctx.now());
        }
    }
}

fn seal_timer(extent: ExtentId) -> TimerId {
    TimerId(SEAL_TIMER_BASE + u32::try_from(extent).expect("fewer than 2^32 extents"))
}
