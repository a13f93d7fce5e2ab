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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_append_lands_only_at_the_expected_offset_of_an_open_extent_within_its_limit() {
        let mut r = ExtentReplica::default();
        let ok = AppendOutcome::Appended {
            offset: 0,
            new_len: 3,
        };
        assert_eq!(r.append(0, b"abc", 8), ok);
        assert_eq!(
            r.append(0, b"abc", 8),
            AppendOutcome::WrongOffset { have: 3 }
        );
        assert_eq!(r.append(5, b"x", 8), AppendOutcome::WrongOffset { have: 3 });
        assert_eq!(r.append(3, b"123456", 8), AppendOutcome::Full);
        assert!(r.seal(3));
        assert_eq!(r.append(3, b"d", 8), AppendOutcome::Sealed);
        assert_eq!(r.read(1, 2), Some(&b"bc"[..]));
        assert_eq!(r.read(2, 2), None);
        assert_eq!(r.read(u64::MAX, 2), None);
    }

    #[test]
    fn sealing_truncates_a_longer_replica_and_refuses_a_shorter_one() {
        let mut long = ExtentReplica::default();
        long.append(0, b"abcdef", 64);
        assert!(long.seal(4));
        assert_eq!(long.data, b"abcd");
        assert!(long.seal(4), "sealing again at the same length is a no-op");
        assert!(!long.seal(3), "a sealed extent never changes length");
        let mut short = ExtentReplica::default();
        short.append(0, b"ab", 64);
        assert!(!short.seal(4));
        assert_eq!(short.sealed, None);
    }

    #[test]
    fn the_seal_length_is_the_smallest_length_among_the_replicas_that_answered() {
        let cases: [(&[Option<u64>], Option<u64>); 5] = [
            (&[Some(10), Some(10), Some(10)], Some(10)),
            (&[Some(12), Some(10), None], Some(10)),
            (&[None, Some(7), Some(9)], Some(7)),
            (&[None, None, None], None),
            (&[], None),
        ];
        for (reported, want) in cases {
            assert_eq!(seal_length(reported), want, "{reported:?}");
        }
    }

    #[test]
    fn only_all_replicas_acknowledges_an_append_every_replica_holds() {
        assert!(!may_acknowledge(AckRule::AllReplicas, 2, 3));
        assert!(may_acknowledge(AckRule::AllReplicas, 3, 3));
        assert!(may_acknowledge(AckRule::PrimaryOnly, 1, 3));
    }
}
