//! The partition layer and the front end: blob names, range partitions and the index from a
//! blob's name to the bytes in the stream layer.
//!
//! **Range partitioning.** The blob namespace is cut into key ranges ([`PartitionMap`]); the
//! partition manager gives each range to one partition server, and every front end keeps a copy
//! of the map. A name belongs to exactly one range, so exactly one partition server orders all
//! writes and reads of a blob: that single owner is where the store's strong consistency comes
//! from, as in Azure Storage (Calder et al. 2011). Ranges keep neighbouring names together, so
//! a listing of names by prefix touches few servers; a hot range is split (chapter 16).
//!
//! **The partition server** appends each blob's bytes to the open extent of its stream, and
//! when the primary acknowledges (every replica has them) records the blob's [`Location`] in its
//! index and answers the client. It does one append at a time. If an append fails or times
//! out, it asks the stream manager to seal the extent and give it a new one, and appends the
//! blob again there: the abandoned bytes, if they survived the seal, are garbage no index entry
//! points to. Reads look the name up and fetch the range from a replica, trying the next
//! replica if one does not answer.
//!
//! **Simplifications.** The partition manager runs once, at setup ([`PartitionMap::assign`]);
//! partition servers and front ends do not fail (in Azure a partition server keeps its index in
//! the stream layer too, as a log plus checkpoints, so another server can take the range over).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::sim::{Ctx, NodeId, TimerId};

use super::extent::ExtentId;
use super::message::{BlobMsg, Location, StreamId};

// ANCHOR: partition_map
/// Which partition server owns which range of blob names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMap {
    /// Lower bound (inclusive) of each range and its server. Invariant: sorted, starts at "".
    ranges: Vec<(String, NodeId)>,
}

impl PartitionMap {
    /// The partition manager's job at startup: cut the namespace at `split_points` (sorted,
    /// distinct, non-empty) and give the ranges to `servers` in turn.
    pub fn assign(split_points: &[&str], servers: &[NodeId]) -> Result<PartitionMap, String> {
        if servers.is_empty() {
            return Err("at least one partition server is needed".into());
        }
        if split_points.windows(2).any(|w| w[0] >= w[1]) || split_points.contains(&"") {
            return Err(format!(
                "split points must be sorted, distinct, non-empty: {split_points:?}"
            ));
        }
        let bounds = std::iter::once("").chain(split_points.iter().copied());
        let ranges = bounds
            .zip(servers.iter().cycle())
            .map(|(b, s)| (b.to_string(), *s))
            .collect();
        Ok(PartitionMap { ranges })
    }

    /// The server that owns `name`: the last range starting at or before it.
    pub fn owner(&self, name: &str) -> NodeId {
        let i = self
            .ranges
            .partition_point(|(lower, _)| lower.as_str() <= name);
        self.ranges[i - 1].1 // i >= 1: the first bound, "", is <= every name
    }
}
// ANCHOR_END: partition_map

/// A stateless front end: routes each request to the partition server owning its name and
/// passes the answer back.
#[derive(Clone, Debug)]
pub struct FrontEnd {
    pub map: PartitionMap,
}

impl FrontEnd {
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, msg: BlobMsg) {
        match &msg {
            BlobMsg::Put { name, .. } | BlobMsg::Get { name, .. } => {
                ctx.send(self.map.owner(name), msg.clone());
            }
            BlobMsg::PutOk { client, .. }
            | BlobMsg::PutRejected { client, .. }
            | BlobMsg::GetReply { client, .. } => {
                ctx.send(*client, msg.clone());
            }
            _ => {}
        }
    }
}

/// A client request as the partition server queues it.
#[derive(Clone, Debug)]
struct Request {
    /// The front end that forwarded it, where the answer goes.
    front_end: NodeId,
    msg: BlobMsg,
}

/// What the partition server waits for.
#[derive(Clone, Debug)]
enum Waiting {
    Nothing,
    /// A new extent from the stream manager.
    Extent,
    /// The primary's answer to the append of the front request at `offset` of `extent`.
    Append {
        extent: ExtentId,
        offset: u64,
    },
    /// A replica's answer to read `read` of the front request; `tried` replicas asked so far.
    Read {
        read: u64,
        loc: Location,
        tried: usize,
    },
}

/// The open extent the server appends to.
#[derive(Clone, Debug)]
struct OpenExtent {
    extent: ExtentId,
    replicas: Vec<NodeId>,
    /// Bytes acknowledged so far.
    len: u64,
}

/// A partition server: owns some ranges of blob names and the stream their bytes go to.
#[derive(Clone, Debug)]
pub struct PartitionServer {
    pub stream: StreamId,
    pub stream_manager: NodeId,
    pub extent_limit: u64,
    /// How long to wait for an append or a read before giving up on that replica.
    pub op_timeout: Duration,
    /// The index: blob name -> where its bytes are. Only acknowledged appends enter it.
    pub index: BTreeMap<String, Location>,
    /// The replicas of every extent of the stream, as allocated.
    chains: BTreeMap<ExtentId, Vec<NodeId>>,
    open: Option<OpenExtent>,
    queue: VecDeque<Request>,
    waiting: Waiting,
    next_read: u64,
    /// Extent nodes that let an append or a read time out: reads try them last.
    suspected: std::collections::BTreeSet<NodeId>,
}

const OP: TimerId = TimerId(0);

impl PartitionServer {
    pub fn new(
        stream: StreamId,
        stream_manager: NodeId,
        extent_limit: u64,
        op_timeout: Duration,
    ) -> Self {
        PartitionServer {
            stream,
            stream_manager,
            extent_limit,
            op_timeout,
            index: BTreeMap::new(),
            chains: BTreeMap::new(),
            open: None,
            queue: VecDeque::new(),
            waiting: Waiting::Nothing,
            next_read: 0,
            suspected: std::collections::BTreeSet::new(),
        }
    }

    /// The replicas of `extent` as they were allocated, primary first (the chain its appends
    /// took), if the extent belongs to this server's stream.
    pub fn chain_of(&self, extent: ExtentId) -> Option<&[NodeId]> {
        self.chains.get(&extent).map(Vec::as_slice)
    }

    /// The replicas of the extent the server appends to now, primary first.
    pub fn open_replicas(&self) -> Option<&[NodeId]> {
        self.open.as_ref().map(|o| o.replicas.as_slice())
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, BlobMsg>, from: NodeId, msg: BlobMsg) {
        match msg {
            BlobMsg::Put { .. } | BlobMsg::Get { .. } => {
                self.queue.push_back(Request {
                    front_end: from,
                    msg,
                });
            }
            BlobMsg::ExtentAllocated {
                extent, replicas, ..
            } if matches!(self.waiting, Waiting::Extent) => {
                self.chains.insert(extent, replicas.clone());
                self.open = Some(OpenExtent {
                    extent,
                    replicas,
                    len: 0,
                });
                self.waiting = Waiting::Nothing;
            }
            BlobMsg::AppendOk { extent, offset } => self.on_append_ok(ctx, extent, offset),
            BlobMsg::AppendFailed { extent, offset } => {
                if matches!(self.waiting, Waiting::Append { extent: e, offset: o } if e == extent && o == offset)
                {
                    self.abandon_extent(ctx);
                }
            }
            BlobMsg::ReadReply { req, data } => {
                if matches!(self.waiting, Waiting::Read { read, .. } if read == req) {
                    match data {
                        Some(data) => self.answer_get(ctx, Some(data)),
                        None => self.next_replica(ctx),
                    }
                }
            }
            _ => {}
        }
        self.pump(ctx);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, BlobMsg>, _timer: TimerId) {
        match self.waiting {
            Waiting::Append { .. } => {
                if let Some(open) = &self.open {
                    self.suspected.insert(open.replicas[0]);
                }
                self.abandon_extent(ctx)
            }
            Waiting::Read { loc, tried, .. } => {
                self.suspected.insert(self.read_order(loc.extent)[tried]);
                self.next_replica(ctx)
            }
            _ => {}
        }
        self.pump(ctx);
    }

    // ANCHOR: append_ok
    /// The primary says every replica has the append: index the blob, answer the client.
    fn on_append_ok(&mut self, ctx: &mut Ctx<'_, BlobMsg>, extent: ExtentId, offset: u64) {
        let Waiting::Append {
            extent: e,
            offset: o,
        } = self.waiting
        else {
            return;
        };
        if (e, o) != (extent, offset) {
            return; // an answer about an append we gave up on: its bytes are garbage
        }
        let request = self
            .queue
            .pop_front()
            .expect("the append's request is queued");
        let BlobMsg::Put {
            client,
            req,
            name,
            data,
            ..
        } = request.msg
        else {
            unreachable!("only puts append")
        };
        let open = self.open.as_mut().expect("appending to an open extent");
        let len = data.len() as u64;
        open.len += len;
        self.index.insert(
            name,
            Location {
                extent,
                offset,
                len,
            },
        );
        ctx.cancel_timer(OP);
        self.waiting = Waiting::Nothing;
        ctx.send(request.front_end, BlobMsg::PutOk { client, req });
    }
    // ANCHOR_END: append_ok

    /// The append failed or timed out: ask for the extent to be sealed and for a new one; the
    /// put stays at the head of the queue and is appended again there.
    fn abandon_extent(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        ctx.cancel_timer(OP);
        ctx.count("file_storage.appends_abandoned");
        let seal = self.open.take().map(|o| o.extent);
        self.waiting = Waiting::Extent;
        let msg = BlobMsg::NewExtent {
            stream: self.stream,
            seal,
        };
        ctx.send(self.stream_manager, msg);
    }

    /// Starts the request at the head of the queue, if the server is idle.
    fn pump(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        while matches!(self.waiting, Waiting::Nothing) {
            let Some(request) = self.queue.front() else {
                return;
            };
            match &request.msg {
                BlobMsg::Put { data, .. } => {
                    let len = data.len() as u64;
                    if len > self.extent_limit {
                        let request = self.queue.pop_front().expect("it is the front");
                        if let BlobMsg::Put { client, req, .. } = request.msg {
                            let msg = BlobMsg::PutRejected { client, req };
                            ctx.send(request.front_end, msg);
                        }
                        continue;
                    }
                    let full = self.open.as_ref().map(|o| o.len + len > self.extent_limit);
                    if full != Some(false) {
                        // No open extent, or this blob does not fit: seal (if any) and renew.
                        return self.abandon_extent(ctx);
                    }
                    let open = self.open.as_ref().expect("checked above");
                    let msg = BlobMsg::Append {
                        writer: ctx.id(),
                        extent: open.extent,
                        offset: open.len,
                        data: data.clone(),
                        replicas: open.replicas.clone(),
                    };
                    self.waiting = Waiting::Append {
                        extent: open.extent,
                        offset: open.len,
                    };
                    ctx.send(open.replicas[0], msg);
                    ctx.set_timer(OP, self.op_timeout);
                }
                BlobMsg::Get { name, .. } => match self.index.get(name).copied() {
                    None => self.answer_get(ctx, None),
                    Some(loc) => {
                        self.next_read += 1;
                        self.waiting = Waiting::Read {
                            read: self.next_read,
                            loc,
                            tried: 0,
                        };
                        self.send_read(ctx);
                    }
                },
                _ => unreachable!("only puts and gets are queued"),
            }
        }
    }

    fn send_read(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        let Waiting::Read { read, loc, tried } = self.waiting else {
            return;
        };
        let chain = self.read_order(loc.extent);
        if tried >= chain.len() {
            return self.answer_get(ctx, None); // no replica could serve it
        }
        let msg = BlobMsg::Read {
            req: read,
            extent: loc.extent,
            offset: loc.offset,
            len: loc.len,
        };
        ctx.send(chain[tried], msg);
        ctx.set_timer(OP, self.op_timeout);
    }

    /// The replicas of `extent` in the order reads try them: unsuspected ones first.
    fn read_order(&self, extent: ExtentId) -> Vec<NodeId> {
        let mut chain = self.chains[&extent].clone();
        chain.sort_by_key(|r| self.suspected.contains(r)); // stable: keeps chain order
        chain
    }

    fn next_replica(&mut self, ctx: &mut Ctx<'_, BlobMsg>) {
        if let Waiting::Read { tried, .. } = &mut self.waiting {
            *tried += 1;
        }
        self.send_read(ctx);
    }

    fn answer_get(&mut self, ctx: &mut Ctx<'_, BlobMsg>, data: Option<Vec<u8>>) {
        ctx.cancel_timer(OP);
        self.waiting = Waiting::Nothing;
        let request = self.queue.pop_front().expect("the get's request is queued");
        let BlobMsg::Get { client, req, .. } = request.msg else {
            unreachable!("only gets read")
        };
        ctx.send(request.front_end, BlobMsg::GetReply { client, req, data });
    }
}
