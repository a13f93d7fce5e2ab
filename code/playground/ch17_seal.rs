// GENERATED from code/examples/ch17_seal.rs and the `uds` modules scalability::file_storage::extent by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 17 listing: three replicas of an extent take appends down a chain, one replica
//! stops in the middle of an append, and the extent is sealed at the length the others agree
//! on, without losing an acknowledged byte.
//!
//! playground-bundle: scalability::file_storage::extent
//!
//! Run: `cargo run -p uds --example ch17_seal`
use crate::scalability::file_storage::extent::{
    AckRule, AppendOutcome, ExtentReplica, may_acknowledge, seal_length,
};

/// The size limit of the extent, in bytes.
const LIMIT: u64 = 64;

// ANCHOR: main
fn main() {
    // Primary, secondary, tail. `up[i]` says whether replica i is still running.
    let mut replicas = vec![ExtentReplica::default(); 3];
    let mut up = [true; 3];
    let mut acknowledged: Vec<(u64, &str)> = Vec::new();
    let blobs = ["cat.jpg", "dog.png", "owl.gif", "fox.svg"];
    for (i, blob) in blobs.iter().enumerate() {
        if i == 2 {
            up[2] = false; // the tail stops before the third append reaches it
            println!("-- the tail stops");
        }
        // The append travels down the chain; each running replica writes it at the offset the
        // primary chose. The primary acknowledges only if every replica wrote it.
        let offset = replicas[0].len();
        let mut holders = 0;
        for (r, replica) in replicas.iter_mut().enumerate() {
            if !up[r] {
                break; // the chain is broken here: the append goes no further
            }
            match replica.append(offset, blob.as_bytes(), LIMIT) {
                AppendOutcome::Appended { .. } => holders += 1,
                other => println!("replica {r} refuses {blob}: {other:?}"),
            }
        }
        if may_acknowledge(AckRule::AllReplicas, holders, replicas.len()) {
            acknowledged.push((offset, blob));
            println!("{blob:>8} at offset {offset:>2}: acknowledged ({holders} of 3 replicas)");
        } else {
            println!("{blob:>8} at offset {offset:>2}: NOT acknowledged ({holders} of 3)");
            break; // the writer asks the stream manager to seal this extent
        }
    }
    // Sealing: ask every replica its length; the stopped one does not answer.
    let reported: Vec<Option<u64>> = replicas
        .iter()
        .zip(up)
        .map(|(r, up)| up.then(|| r.len()))
        .collect();
    let length = seal_length(&reported).expect("two replicas answered");
    println!("-- lengths reported {reported:?}: seal at {length}");
    for (r, replica) in replicas.iter_mut().enumerate().filter(|(r, _)| up[*r]) {
        assert!(replica.seal(length));
        println!(
            "replica {r} sealed: {:?}",
            String::from_utf8_lossy(&replica.data)
        );
    }
    for (offset, blob) in acknowledged {
        let bytes = replicas[1].read(offset, blob.len() as u64);
        assert_eq!(
            bytes,
            Some(blob.as_bytes()),
            "an acknowledged blob survives the seal"
        );
    }
    println!("every acknowledged blob reads back from the sealed extent");
    println!("(owl.gif's bytes survived too, but unacknowledged: no index entry points at them)");
}
// ANCHOR_END: main

mod scalability {

pub mod file_storage {

pub mod extent {
//! The stream layer's rules, as pure functions: one replica's copy of an extent, the
//! acknowledgement rule of an append, and the seal rule.
//!
//! An extent is an append-only byte array with a size limit. Every replica of it keeps its own
//! copy ([`ExtentReplica`]); an append carries the offset the writer expects, so a replica that
//! is behind, ahead or already sealed refuses it instead of writing at the wrong place. Two rules
//! carry the whole durability argument of the chapter:
//!
//! - **Acknowledge only when every replica has the bytes** ([`may_acknowledge`]). Then every
//!   acknowledged append lies below the length of *every* replica.
//! - **Seal at the smallest length among the replicas that answer** ([`seal_length`]). Because of
//!   the first rule, that length is at least the end of every acknowledged append, so sealing
//!   never cuts off acknowledged bytes; anything beyond it was never acknowledged, and is dropped
//!   by every replica, so that all copies of a sealed extent are byte-identical.
//!
//! This file uses only std, so the book's runnable listing bundles it as it is.

/// The name of an extent, unique in the stamp.
pub type ExtentId = u64;

// ANCHOR: replica
/// One replica's copy of one extent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtentReplica {
    /// The bytes appended so far. Invariant: once sealed, `data.len()` equals the seal length.
    pub data: Vec<u8>,
    /// The length at which the extent was sealed; `None` while it still takes appends.
    pub sealed: Option<u64>,
}

/// What a replica did with an append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Written at `offset`; the replica is now `new_len` bytes long.
    Appended { offset: u64, new_len: u64 },
    /// The extent is sealed: no append is ever taken again.
    Sealed,
    /// The writer expected another length (`have` is ours): a lost or repeated append.
    WrongOffset { have: u64 },
    /// The bytes would take the extent past its size limit.
    Full,
}

impl ExtentReplica {
    /// The replica's length in bytes.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// Whether the replica holds no byte.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Appends `bytes` at `offset`, if the extent is open, `offset` is our length, and the
    /// result stays within `limit` bytes.
    pub fn append(&mut self, offset: u64, bytes: &[u8], limit: u64) -> AppendOutcome {
        if self.sealed.is_some() {
            return AppendOutcome::Sealed;
        }
        if offset != self.len() {
            return AppendOutcome::WrongOffset { have: self.len() };
        }
        if self.len() + bytes.len() as u64 > limit {
            return AppendOutcome::Full;
        }
        self.data.extend_from_slice(bytes);
        AppendOutcome::Appended {
            offset,
            new_len: self.len(),
        }
    }

    /// Seals the replica at `length`, dropping any byte past it. Returns `false`, and changes
    /// nothing, if the replica is shorter than `length` (it missed acknowledged appends and
    /// must be copied afresh) or was already sealed at another length.
    pub fn seal(&mut self, length: u64) -> bool {
        match self.sealed {
            Some(at) => at == length,
            None if self.len() < length => false,
            None => {
                self.data.truncate(length as usize);
                self.sealed = Some(length);
                true
            }
        }
    }

    /// The bytes `offset..offset + len`, if the replica has all of them.
    pub fn read(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        Some(&self.data[offset as usize..end as usize])
    }
}
// ANCHOR_END: replica

// ANCHOR: ack_rule
/// When the primary may tell the writer that an append is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckRule {
    /// When every replica of the extent has the bytes: the rule of the stream layer.
    AllReplicas,
    /// As soon as the primary has them. A planted bug, for the campaign to catch: a primary
    /// that fails right after acknowledging takes the only copy with it.
    PrimaryOnly,
}

/// Whether an append that `replicas_with_bytes` of the extent's `replicas` replicas hold
/// (the primary included) may be acknowledged to the writer.
pub fn may_acknowledge(rule: AckRule, replicas_with_bytes: usize, replicas: usize) -> bool {
    match rule {
        AckRule::AllReplicas => replicas_with_bytes >= replicas,
        AckRule::PrimaryOnly => replicas_with_bytes >= 1,
    }
}
// ANCHOR_END: ack_rule

// ANCHOR: seal_length
/// The commit length at which to seal an extent, from the lengths its replicas reported
/// (`None` for a replica that did not answer). The smallest reported length: every
/// acknowledged append is on every replica, so no reachable replica is shorter than the
/// acknowledged prefix, and bytes past the smallest length were never acknowledged.
/// `None` if no replica answered: the extent cannot be sealed yet.
pub fn seal_length(reported: &[Option<u64>]) -> Option<u64> {
    reported.iter().flatten().copied().min()
}
// ANCHOR_END: seal_length

}
}
}
