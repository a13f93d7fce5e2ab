//! Chapter 17: file storage, a miniature blob store after Windows Azure Storage.
//!
//! **What it guarantees.** A blob the store acknowledges is on every replica of its extent, so
//! it survives the failure of any one storage node and reads back byte for byte (checked by the
//! campaign in `code/tests/part3/ch17_file_storage.rs`, every seed, with one extent node failing
//! at a random moment). Each blob name has one owner that orders its writes and reads, so reads
//! see the latest acknowledged write.
//!
//! **How.** Three layers, as in Calder et al., "Windows Azure Storage: A Highly Available Cloud
//! Storage Service with Strong Consistency" (SOSP 2011):
//!
//! - a **front end** ([`partition::FrontEnd`]), stateless, routes a request by blob name with
//!   the partition map;
//! - the **partition layer** ([`partition`]): the namespace is cut into key ranges, each owned by
//!   one partition server that keeps the index from blob name to (extent, offset, length);
//! - the **stream layer**: the [`stream_manager`] keeps the metadata (which extents make a
//!   stream, which nodes hold each one, which are sealed), and [`extent_node`]s store the bytes.
//!   A stream is a list of extents; only its last extent is open, and it only grows at the end.
//!   Appends go to the extent's primary and are replicated down a chain (or fanned out, to
//!   compare) and acknowledged only when every replica has them. A full extent, or one whose
//!   append failed, is sealed at the commit length the reachable replicas agree on
//!   ([`extent::seal_length`]), and the writer moves on to a new extent. Sealed extents never
//!   change, so rebuilding a lost replica is a plain copy.
//!
//! **Invariants.** Only acknowledged appends enter the index; an acknowledged append is below
//! the length of every replica; a sealed extent has one length and identical bytes on every
//! replica ([`run::check_replication`]).
//!
//! **Simplifications.** The stream manager, the front end and the partition servers do not
//! fail (Azure replicates the first and moves the ranges of the last); extent nodes fail by
//! stopping for good; the partition map is fixed at startup; one append at a time per
//! partition server; blobs are single appends (no blocks, no metadata, no deletes or garbage
//! collection); disks are as fast as needed, so latency is network latency.
//!
//! **Files.** [`extent`] the pure rules (append, ack, seal); [`message`]; [`extent_node`];
//! [`stream_manager`]; [`partition`] (partition map, front end, partition server); [`run`] a
//! whole store on the simulator and its checks; [`exercise`] the chapter's coding exercise.

pub mod exercise;
pub mod extent;
pub mod extent_node;
pub mod message;
pub mod partition;
pub mod run;
pub mod stream_manager;

pub use extent::{AckRule, AppendOutcome, ExtentId, ExtentReplica, may_acknowledge, seal_length};
pub use message::{BlobMsg, Location, Replication, StreamId};
pub use partition::PartitionMap;
pub use run::{BlobNode, Layout, Setup, build, check_read_back, check_replication};
