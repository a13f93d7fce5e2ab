//! The messages of the blob store, by the layer they cross.

use crate::sim::NodeId;

use super::extent::ExtentId;

/// The name of a stream: one per partition server here (its blob log).
pub type StreamId = u64;

/// Where a blob's bytes live in the stream layer: the partition layer's index entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub extent: ExtentId,
    pub offset: u64,
    pub len: u64,
}

/// How the primary passes an append on to the other replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replication {
    /// Down a chain: primary, then each secondary in turn; acknowledgements climb back up.
    Chain,
    /// From the primary to every secondary at once; each acknowledges to the primary.
    FanOut,
}

/// Every message of the blob store.
#[derive(Clone, Debug, PartialEq)]
pub enum BlobMsg {
    // Client <-> front end <-> partition server. `client` rides along so the front end
    // keeps no state about requests in flight.
    /// Store `data` under `name`.
    Put {
        client: NodeId,
        req: u64,
        name: String,
        data: Vec<u8>,
    },
    /// The blob is durable: every replica of its extent holds it.
    PutOk { client: NodeId, req: u64 },
    /// The blob is larger than an extent: it cannot be stored.
    PutRejected { client: NodeId, req: u64 },
    /// Read the blob `name`.
    Get {
        client: NodeId,
        req: u64,
        name: String,
    },
    /// The blob's bytes, or `None` if it does not exist or could not be read.
    GetReply {
        client: NodeId,
        req: u64,
        data: Option<Vec<u8>>,
    },

    // Partition server <-> stream manager.
    /// Give `stream` a new extent to append to, sealing `seal` first if given.
    NewExtent {
        stream: StreamId,
        seal: Option<ExtentId>,
    },
    /// `extent` is the stream's new last extent, replicated on `replicas` (primary first).
    ExtentAllocated {
        stream: StreamId,
        extent: ExtentId,
        replicas: Vec<NodeId>,
    },

    // Partition server <-> extent nodes (appends and reads).
    /// Append `data` at `offset` of `extent`, whose replicas are `replicas` (primary first).
    Append {
        writer: NodeId,
        extent: ExtentId,
        offset: u64,
        data: Vec<u8>,
        replicas: Vec<NodeId>,
    },
    /// Extent node to its predecessor (chain) or to the primary (fan-out): I have it.
    Replicated { extent: ExtentId, offset: u64 },
    /// Primary to writer: every replica has the append.
    AppendOk { extent: ExtentId, offset: u64 },
    /// Primary to writer: the append was refused (sealed, wrong offset, full).
    AppendFailed { extent: ExtentId, offset: u64 },
    /// Read `len` bytes at `offset` of `extent`.
    Read {
        req: u64,
        extent: ExtentId,
        offset: u64,
        len: u64,
    },
    /// The bytes, or `None` if this replica does not have them.
    ReadReply { req: u64, data: Option<Vec<u8>> },

    // Stream manager <-> extent nodes.
    /// Extent node to stream manager: I am alive.
    Heartbeat,
    /// How long is your copy of `extent`? (The first step of sealing.)
    QueryLength { extent: ExtentId },
    /// My copy of `extent` is `length` bytes long.
    Length { extent: ExtentId, length: u64 },
    /// Seal `extent` at `length`.
    Seal { extent: ExtentId, length: u64 },
    /// Make a copy of the sealed `extent` (`length` bytes) by fetching it from `source`.
    Replicate {
        extent: ExtentId,
        length: u64,
        source: NodeId,
    },
    /// New replica to source: send me the sealed extent.
    Fetch { extent: ExtentId, length: u64 },
    /// Source to new replica: the sealed extent's bytes (`None` if the source lacks them).
    ExtentData {
        extent: ExtentId,
        data: Option<Vec<u8>>,
    },
    /// New replica to stream manager: I hold a full copy of sealed `extent`.
    ReplicaCreated { extent: ExtentId },
}

impl BlobMsg {
    /// Bytes on the wire: the payload plus a 64-byte header, so that a bandwidth-limited link
    /// takes longer for big appends and extent copies.
    pub fn size(&self) -> usize {
        64 + match self {
            BlobMsg::Put { data, .. } | BlobMsg::Append { data, .. } => data.len(),
            BlobMsg::GetReply { data, .. }
            | BlobMsg::ReadReply { data, .. }
            | BlobMsg::ExtentData { data, .. } => data.as_ref().map_or(0, Vec::len),
            _ => 0,
        }
    }
}
