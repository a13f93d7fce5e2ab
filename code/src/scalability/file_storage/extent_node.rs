//! An extent node: stores replicas of extents, takes part in append chains, answers reads,
//! seals when the stream manager says so, and copies sealed extents to rebuild lost replicas.
//!
//! **The append path.** The writer sends an append to the extent's primary (the first of its
//! replica list). Each replica writes it with [`ExtentReplica::append`], which refuses a wrong
//! offset, a full extent or a sealed one. In [`Replication::Chain`] mode each replica passes it
//! to the next one; the last replica answers `Replicated` to its predecessor, and each replica
//! passes that answer up, so when the primary hears it, every replica holds the bytes. In
//! [`Replication::FanOut`] mode the primary sends the append to every secondary at once and
//! counts their answers. Either way the primary acknowledges the writer only when
//! [`may_acknowledge`] says so.
//!
//! **Invariant.** A sealed replica never changes: appends are refused, and answers about
//! appends still in flight are dropped, so an acknowledgement can never escape for bytes that
//! sealing cut off.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::sim::{Ctx, NodeId, TimerId};

use super::extent::{AckRule, AppendOutcome, ExtentId, ExtentReplica, may_acknowledge};
use super::message::{BlobMsg, Replication};

/// An append this replica has written and passed on, waiting for the replicas after it.
#[derive(Clone, Debug)]
struct Pending {
    /// Whom to tell when they all have it: the predecessor, or (at the primary) the writer.
    reply_to: NodeId,
    /// Whether this replica is the primary (it then answers `AppendOk` to the writer).
    primary: bool,
    /// Replicas known to hold the bytes, this one included (fan-out counting at the primary).
    holders: usize,
    /// How many replicas the extent has.
    replicas: usize,
    /// Answers still awaited from the replicas this one passed the append to.
    awaiting: usize,
}

/// An extent node.
#[derive(Clone, Debug)]
pub struct ExtentNode {
    /// Where heartbeats go.
    pub stream_manager: NodeId,
    /// How often to send one.
    pub heartbeat: Duration,
    /// The size limit of an extent, in bytes.
    pub extent_limit: u64,
    pub replication: Replication,
    pub ack_rule: AckRule,
    /// The replicas this node holds.
    pub extents: BTreeMap<ExtentId, ExtentReplica>,
    /// Appends passed on and not yet answered, by (extent, offset).
    pending: BTreeMap<(ExtentId, u64), Pending>,
    /// Copies being fetched for the stream manager: extent -> (length, who asked).
    fetching: BTreeMap<ExtentId, (u64, NodeId)>,
}

const HEARTBEAT: TimerId = TimerId(0);

impl ExtentNode {
    /// An empty extent node.
    pub fn new(
        stream_manager: NodeId,
        heartbeat: Duration,
        extent_limit: u64,
        replication: Replication,
        ack_rule: AckRule,
    ) -> ExtentNode {
        ExtentNode {
            stream_manager,
            heartbeat,
            extent_limit,
            replication,
            ack_rule,
            extents: BTreeMap::new(),
            pending: BTreeMap::new(),
            fetching: BTreeMap::new(),
        }
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        ctx.send(self.stream_manager, BlobMsg::Heartbeat);
        ctx.set_timer(HEARTBEAT, self.heartbeat);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, BlobMsg>, _timer: TimerId) {
        self.on_start(ctx);
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, from: NodeId, msg: BlobMsg) {
        match msg {
            BlobMsg::Append {
                writer,
                extent,
                offset,
                data,
                replicas,
            } => self.on_append(ctx, from, writer, extent, offset, data, replicas),
            BlobMsg::Replicated { extent, offset } => self.on_replicated(ctx, extent, offset),
            BlobMsg::Read {
                req,
                extent,
                offset,
                len,
            } => {
                let data = self.extents.get(&extent).and_then(|r| r.read(offset, len));
                let data = data.map(<[u8]>::to_vec);
                ctx.send(from, BlobMsg::ReadReply { req, data });
            }
            BlobMsg::QueryLength { extent } => {
                let length = self.extents.get(&extent).map_or(0, ExtentReplica::len);
                ctx.send(from, BlobMsg::Length { extent, length });
            }
            BlobMsg::Seal { extent, length } => {
                let replica = self.extents.entry(extent).or_default();
                if !replica.seal(length) {
                    // Shorter than the commit length: this copy missed appends that were
                    // acknowledged, so it is not a replica any more (only possible for a node
                    // too slow to answer the length query; the stream manager copies afresh).
                    self.extents.remove(&extent);
                    ctx.count("file_storage.replicas_dropped_at_seal");
                }
                // Answers about appends still in flight must not escape any more.
                self.pending.retain(|(e, _), _| *e != extent);
            }
            BlobMsg::Replicate {
                extent,
                length,
                source,
            } => {
                self.fetching.insert(extent, (length, from));
                ctx.send(source, BlobMsg::Fetch { extent, length });
            }
            BlobMsg::Fetch { extent, length } => {
                // An extent sealed empty may have no entry here yet: the `Seal` can arrive
                // after the `Fetch`, since links reorder.
                let empty = ExtentReplica::default();
                let copy = self.extents.get(&extent).unwrap_or(&empty);
                let data = copy.read(0, length);
                let data = data.map(<[u8]>::to_vec);
                ctx.send(from, BlobMsg::ExtentData { extent, data });
            }
            BlobMsg::ExtentData {
                extent,
                data: Some(data),
            } => {
                let Some((length, manager)) = self.fetching.remove(&extent) else {
                    return;
                };
                let mut copy = ExtentReplica { data, sealed: None };
                if copy.seal(length) {
                    self.extents.insert(extent, copy);
                    ctx.send(manager, BlobMsg::ReplicaCreated { extent });
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        ctx: &mut Ctx<'_, BlobMsg>,
        from: NodeId,
        writer: NodeId,
        extent: ExtentId,
        offset: u64,
        data: Vec<u8>,
        replicas: Vec<NodeId>,
    ) {
        let me = ctx.id();
        let Some(position) = replicas.iter().position(|r| *r == me) else {
            return;
        };
        let primary = position == 0;
        let outcome =
            self.extents
                .entry(extent)
                .or_default()
                .append(offset, &data, self.extent_limit);
        if !matches!(outcome, AppendOutcome::Appended { .. }) {
            if primary {
                ctx.send(writer, BlobMsg::AppendFailed { extent, offset });
            }
            return;
        }
        ctx.count("file_storage.replica_appends");
        let pending = Pending {
            reply_to: if primary { writer } else { from },
            primary,
            holders: 1,
            replicas: replicas.len(),
            awaiting: 0,
        };
        // Who gets the append next: the next replica (chain), or every secondary (fan-out,
        // sent by the primary only; a secondary of a fan-out answers at once).
        let next: Vec<NodeId> = match (self.replication, primary) {
            (Replication::Chain, _) => replicas.get(position + 1).into_iter().copied().collect(),
            (Replication::FanOut, true) => replicas[1..].to_vec(),
            (Replication::FanOut, false) => Vec::new(),
        };
        for to in &next {
            let msg = BlobMsg::Append {
                writer,
                extent,
                offset,
                data: data.clone(),
                replicas: replicas.clone(),
            };
            ctx.send(*to, msg);
        }
        self.pending.insert(
            (extent, offset),
            Pending {
                awaiting: next.len(),
                ..pending
            },
        );
        if next.is_empty() || primary {
            // The last replica of a chain, a fan-out secondary, or a primary that may answer
            // before anyone else has the bytes (a chain of one, or the planted bug).
            self.maybe_answer(ctx, extent, offset);
        }
    }

    fn on_replicated(&mut self, ctx: &mut Ctx<'_, BlobMsg>, extent: ExtentId, offset: u64) {
        let Some(p) = self.pending.get_mut(&(extent, offset)) else {
            return; // sealed meanwhile, or already answered
        };
        p.awaiting = p.awaiting.saturating_sub(1);
        // In a chain, one answer from the successor vouches for every replica after us.
        p.holders = match self.replication {
            Replication::Chain => p.replicas,
            Replication::FanOut => p.holders + 1,
        };
        self.maybe_answer(ctx, extent, offset);
    }

    /// Answers the predecessor (or the writer) once the append may be acknowledged.
    fn maybe_answer(&mut self, ctx: &mut Ctx<'_, BlobMsg>, extent: ExtentId, offset: u64) {
        let Some(p) = self.pending.get(&(extent, offset)) else {
            return;
        };
        if !p.primary {
            // A secondary answers once the replicas it passed the append to have it: at once
            // at the end of a chain or in a fan-out, when its successor answers in the middle.
            if p.awaiting == 0 {
                let reply_to = p.reply_to;
                self.pending.remove(&(extent, offset));
                ctx.send(reply_to, BlobMsg::Replicated { extent, offset });
            }
            return;
        }
        if may_acknowledge(self.ack_rule, p.holders, p.replicas) {
            let writer = p.reply_to;
            // A primary that answered early keeps no record: later answers are ignored.
            self.pending.remove(&(extent, offset));
            ctx.send(writer, BlobMsg::AppendOk { extent, offset });
        }
    }
}
