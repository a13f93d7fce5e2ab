//! The versions a replica keeps of one key, and the rules that pick which one a read returns.
//!
//! Classic chain replication needs one value per key at each replica: reads go to the tail, and
//! the tail's value is by construction committed. CRAQ (Terrace and Freedman, USENIX ATC 2009,
//! §2.3) lets *every* replica answer reads, and for that a replica must know which of its values
//! are committed. It keeps, per key, a list of versions:
//!
//! - when a write passes by on its way down the chain, the replica appends a new version and
//!   marks it **dirty** (not yet known to be committed);
//! - when the acknowledgement for that write comes back up from the tail, the replica marks the
//!   version **clean** and forgets every older version of the key.
//!
//! A read then follows the *dirty-read rule* ([`craq_read`]): if the newest version is clean, the
//! replica answers with it; if it is dirty, the replica cannot tell which of its versions the tail
//! has committed, so it asks the tail for the sequence number of the key's latest committed
//! version (a *version query*, cheaper than a full read because only a number travels back) and
//! answers with that version. Either way the answer is a committed value no older than anything
//! the tail had committed when the read began, which is what makes CRAQ reads linearizable.
//!
//! [`naive_read`] is the rule without the check: it answers with the newest version, dirty or
//! not. In a chain, replicas upstream of the tail are *ahead* of it, so this returns writes that
//! are not committed yet; a later read at the tail can then go back in time. The stale-read table
//! of the chapter measures how often.
//!
//! Invariant of [`KeyVersions`]: never empty; sequence numbers strictly increase; the first
//! version is the newest clean one and every later one is dirty.

/// One value of a key, written by the write with sequence number `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The write's position in the chain's total order of writes (0: the key was never written).
    pub seq: u64,
    /// The key's value after that write (`None` before the first write).
    pub value: Option<String>,
}

// ANCHOR: key_versions
/// The versions of one key at one replica, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersions {
    /// Invariant: non-empty, `seq` strictly increasing, `versions[0]` clean, the rest dirty.
    versions: Vec<Version>,
}
// ANCHOR_END: key_versions

impl Default for KeyVersions {
    /// A key nobody has written: one clean version with no value.
    fn default() -> Self {
        KeyVersions {
            versions: vec![Version {
                seq: 0,
                value: None,
            }],
        }
    }
}

impl KeyVersions {
    /// The newest version, clean or dirty.
    pub fn latest(&self) -> &Version {
        self.versions.last().expect("never empty")
    }

    /// The newest clean version: the latest write of this key known to be committed.
    pub fn clean(&self) -> &Version {
        &self.versions[0]
    }

    /// Whether some version is waiting for its acknowledgement from the tail.
    pub fn is_dirty(&self) -> bool {
        self.versions.len() > 1
    }

    /// How many versions are kept (one clean, the rest dirty).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Always false: a key has at least its clean version.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Records the write `seq` that left `value`, as dirty. Writes arrive in sequence order
    /// (replicas apply them in order, see `replica.rs`), so `seq` is the newest.
    pub fn push_dirty(&mut self, seq: u64, value: Option<String>) {
        assert!(
            seq > self.latest().seq,
            "write {seq} applied after write {}: out of order",
            self.latest().seq
        );
        self.versions.push(Version { seq, value });
    }

    // ANCHOR: commit
    /// The tail has committed write `seq` of this key: its version becomes the clean one and
    /// every older version is dropped (CRAQ §2.3). An acknowledgement for a version already
    /// superseded by a newer clean one (acknowledgements may overtake each other) changes nothing.
    pub fn commit(&mut self, seq: u64) {
        if seq <= self.clean().seq {
            return;
        }
        let at = self
            .versions
            .iter()
            .position(|v| v.seq == seq)
            .unwrap_or_else(|| panic!("commit of write {seq}, which this replica never applied"));
        self.versions.drain(..at);
    }
    // ANCHOR_END: commit

    /// The version of write `seq` if it is still kept, else the clean version if it is newer
    /// (an acknowledgement for a later write arrived meanwhile and `seq` was dropped).
    pub fn committed_version(&self, seq: u64) -> Option<&Version> {
        if seq <= self.clean().seq {
            return Some(self.clean());
        }
        self.versions.iter().find(|v| v.seq == seq)
    }

    /// All versions kept, oldest (the clean one) first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }
}

/// What a replica does with a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadDecision {
    /// Answer the client with this value.
    Answer(Option<String>),
    /// Ask the tail which version of the key it has committed, and decide again with its answer.
    AskTail,
}

/// A read rule: given the key's versions and, on the second pass, the sequence number of the
/// tail's latest committed version of the key, decide what to answer.
pub type ReadRule = fn(&KeyVersions, Option<u64>) -> ReadDecision;

// ANCHOR: craq_read
/// CRAQ's dirty-read rule (Terrace and Freedman 2009, §2.3). First pass (`tail_committed` is
/// `None`): a clean key is answered locally, a dirty one needs the tail. Second pass: answer
/// with the version the tail named (or a newer clean one, if it has been dropped since).
pub fn craq_read(key: &KeyVersions, tail_committed: Option<u64>) -> ReadDecision {
    match tail_committed {
        None if !key.is_dirty() => ReadDecision::Answer(key.clean().value.clone()),
        None => ReadDecision::AskTail,
        Some(seq) => {
            let version = key
                .committed_version(seq)
                .expect("the tail committed a write this upstream replica never applied");
            ReadDecision::Answer(version.value.clone())
        }
    }
}
// ANCHOR_END: craq_read

// ANCHOR: naive_read
/// Reading without CRAQ's check: the newest version this replica has, committed or not.
pub fn naive_read(key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
    ReadDecision::Answer(key.latest().value.clone())
}
// ANCHOR_END: naive_read

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn an_unwritten_key_is_clean_and_absent() {
        let key = KeyVersions::default();
        assert!(!key.is_dirty());
        assert_eq!(craq_read(&key, None), ReadDecision::Answer(None));
    }

    #[test]
    fn commit_drops_older_versions_and_ignores_late_acknowledgements() {
        let mut key = KeyVersions::default();
        key.push_dirty(3, v("a"));
        key.push_dirty(5, v("ab"));
        key.push_dirty(9, v("abc"));
        key.commit(5);
        assert_eq!(key.clean().seq, 5);
        assert_eq!(key.len(), 2);
        // The acknowledgement of write 3 arrives after that of 5: nothing changes.
        key.commit(3);
        assert_eq!(key.clean().seq, 5);
        key.commit(9);
        assert!(!key.is_dirty());
        assert_eq!(key.latest().value, v("abc"));
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn versions_must_arrive_in_write_order() {
        let mut key = KeyVersions::default();
        key.push_dirty(5, v("a"));
        key.push_dirty(4, v("b"));
    }

    /// CRAQ §2.3: clean reads are local, dirty reads ask the tail and return what it committed.
    #[test]
    fn craq_reads_answer_clean_versions_and_ask_the_tail_for_dirty_ones() {
        let mut key = KeyVersions::default();
        key.push_dirty(1, v("x"));
        key.commit(1);
        assert_eq!(craq_read(&key, None), ReadDecision::Answer(v("x")));
        key.push_dirty(2, v("xy"));
        key.push_dirty(4, v("xyz"));
        assert_eq!(craq_read(&key, None), ReadDecision::AskTail);
        // The tail has committed write 2 but not 4.
        assert_eq!(craq_read(&key, Some(2)), ReadDecision::Answer(v("xy")));
        // The tail has committed nothing newer than the clean version.
        assert_eq!(craq_read(&key, Some(1)), ReadDecision::Answer(v("x")));
        // The naive rule returns the uncommitted write 4.
        assert_eq!(naive_read(&key, None), ReadDecision::Answer(v("xyz")));
    }
}
