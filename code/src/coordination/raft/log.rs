//! The replicated log: Raft's one data structure, and the vocabulary around it.
//!
//! A Raft log is a sequence of [`Entry`]s numbered from 1 ([`LogIndex`]); each entry carries the
//! [`Term`] in which a leader created it and the command it will apply to the state machine.
//! Index 0 is a sentinel with term 0, so that "the entry before the first one" always exists and
//! the consistency check of `AppendEntries` needs no special case (Ongaro and Ousterhout, "In
//! Search of an Understandable Consensus Algorithm", USENIX ATC 2014, §5.3, Figure 2).
//!
//! Two facts make the log easy to reason about:
//!
//! - **An entry is named by its index and term.** Only one leader exists per term (§5.2) and a
//!   leader never overwrites or moves its own entries, so `(index, term)` identifies at most one
//!   command over the whole run.
//! - **Log Matching (§5.3).** If two logs hold an entry with the same index and term, they are
//!   identical up to that index. The consistency check enforces it inductively: a follower
//!   accepts entries only after the entry just before them matches the leader's.
//!
//! The only way a log shrinks is [`Log::truncate_from`], called by a follower whose suffix
//! conflicts with its leader's; Raft's safety argument (§5.4) shows a committed entry is never
//! in such a suffix. [`Log::truncations`] counts those calls, so the invariant checkers can
//! re-examine a log only when it actually lost entries.
//!
//! **Compaction (§7).** A snapshot replaces a prefix of the log ([`Log::compact_to`],
//! [`Log::install`]): the log then starts after an *offset*, the last index the snapshot covers,
//! and remembers that entry's term, so the consistency check works at the boundary. Indexes stay
//! absolute: [`Log::term_at`] answers for the offset and after, `None` below it.
//!
//! **Persistence.** The log remembers the lowest index it changed since the runtime last took
//! its changes ([`Log::take_unpersisted`]), so that a server can tell its storage exactly which
//! suffix to write (see [`storage`](super::storage)).

use super::kv::Command;

// ANCHOR: vocabulary
/// A term: Raft's logical clock. Each term begins with an election and has at most one leader
/// (§5.1). Terms only grow on every node.
pub type Term = u64;

/// A position in the log, from 1. Index 0 is the empty prefix.
pub type LogIndex = u64;

/// One log entry: a command and the term of the leader that created it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Entry {
    /// The term in which a leader appended this entry.
    pub term: Term,
    /// The command to apply, or `None` for the no-op a new leader appends (§8).
    pub command: Option<Command>,
}
// ANCHOR_END: vocabulary

/// A node's log.
#[derive(Clone, Debug, Default)]
pub struct Log {
    /// `entries[i - offset - 1]` is the entry at index `i`.
    entries: Vec<Entry>,
    /// The last index a snapshot covers (0: nothing compacted). Invariant: only grows.
    offset: LogIndex,
    /// The term of the entry at `offset` (0 when `offset` is 0).
    offset_term: Term,
    /// How many times a suffix was removed. Monotonic; survives restarts with the log.
    truncations: u64,
    /// The lowest index written or removed since [`Log::take_unpersisted`] (not compared).
    unpersisted_from: Option<LogIndex>,
}

impl PartialEq for Log {
    fn eq(&self, other: &Log) -> bool {
        (
            self.offset,
            self.offset_term,
            self.truncations,
            &self.entries,
        ) == (
            other.offset,
            other.offset_term,
            other.truncations,
            &other.entries,
        )
    }
}

impl Eq for Log {}

impl Log {
    /// An empty log.
    pub fn new() -> Log {
        Log::default()
    }

    /// The index of the last entry (0 when empty; the offset when compacted to nothing).
    pub fn last_index(&self) -> LogIndex {
        self.offset + self.entries.len() as LogIndex
    }

    /// The term of the last entry (0 when empty).
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.offset_term, |e| e.term)
    }

    /// The last index compacted into a snapshot (0 if none): entries start after it.
    pub fn offset(&self) -> LogIndex {
        self.offset
    }

    /// The term of the entry at `index`; 0 for index 0, the snapshot's term at the offset.
    /// `None` if the log is shorter, or if `index` was compacted away.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index <= self.offset {
            return (index == self.offset).then_some(self.offset_term);
        }
        self.entries
            .get((index - self.offset) as usize - 1)
            .map(|e| e.term)
    }

    /// The entry at `index`, if the log holds one there (never at or below the offset).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        if index <= self.offset {
            return None;
        }
        self.entries.get((index - self.offset) as usize - 1)
    }

    /// Up to `max` entries starting at `from`, which must be past the offset.
    pub fn entries_from(&self, from: LogIndex, max: usize) -> &[Entry] {
        assert!(
            from > self.offset,
            "entries up to {} were compacted",
            self.offset
        );
        let start = ((from - self.offset) as usize - 1).min(self.entries.len());
        let end = start.saturating_add(max).min(self.entries.len());
        &self.entries[start..end]
    }

    /// The first index holding an entry of `term`, searching back from `index` (the hint a
    /// follower returns on a conflict, §5.3). Returns `index` itself if the entry there is the
    /// first of its term.
    pub fn first_index_of_term_at(&self, index: LogIndex) -> LogIndex {
        let term = self.term_at(index).expect("index is inside the log");
        let mut first = index;
        while first > self.offset + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// Appends one entry; returns its index.
    pub fn append(&mut self, entry: Entry) -> LogIndex {
        debug_assert!(
            entry.term >= self.last_term(),
            "terms in a log never decrease"
        );
        self.entries.push(entry);
        self.mark(self.last_index());
        self.last_index()
    }

    /// Removes the entries at `index` and after.
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index > self.offset, "cannot truncate into the snapshot");
        if index <= self.last_index() {
            self.entries.truncate((index - self.offset) as usize - 1);
            self.truncations += 1;
            self.mark(index);
        }
    }

    fn mark(&mut self, index: LogIndex) {
        self.unpersisted_from = Some(self.unpersisted_from.map_or(index, |i| i.min(index)));
    }

    /// Drops the entries up to `index`, which the log holds (or is the offset): a snapshot now
    /// covers them. Not a truncation: nothing the log said is contradicted.
    pub fn compact_to(&mut self, index: LogIndex) {
        let term = self.term_at(index).expect("compacting inside the log");
        self.entries.drain(..(index - self.offset) as usize);
        self.offset = index;
        self.offset_term = term;
    }

    /// Makes the log start after a snapshot ending at `(index, term)` (§7): if the log holds
    /// that entry, the entries after it stay (Log Matching: the prefix is the same); otherwise
    /// the whole log is replaced by the snapshot, which counts as a truncation.
    pub fn install(&mut self, index: LogIndex, term: Term) {
        if index < self.offset {
            return; // an older snapshot than the one the log already starts after
        }
        if self.term_at(index) == Some(term) {
            return self.compact_to(index);
        }
        if !self.entries.is_empty() {
            self.truncations += 1;
        }
        self.entries.clear();
        self.offset = index;
        self.offset_term = term;
    }

    /// The suffix changed since the last call, as `(from, entries)`: the log from index `from`
    /// on is now `entries` (possibly none: a truncation). `None` if nothing changed.
    pub fn take_unpersisted(&mut self) -> Option<(LogIndex, Vec<Entry>)> {
        let from = self.unpersisted_from.take()?.max(self.offset + 1);
        let entries = if from <= self.last_index() {
            self.entries_from(from, usize::MAX).to_vec()
        } else {
            Vec::new()
        };
        Some((from, entries))
    }

    /// Storage's side of [`Log::take_unpersisted`]: the log from `from` on becomes `entries`
    /// (entries at or below the offset are already in the snapshot and skipped).
    pub fn write_from(&mut self, from: LogIndex, entries: &[Entry]) {
        let skip = (self.offset + 1)
            .saturating_sub(from)
            .min(entries.len() as LogIndex);
        let from = from + skip;
        if from <= self.last_index() {
            self.truncate_from(from);
        }
        assert!(
            from <= self.last_index() + 1,
            "a gap in the stored log at {from}"
        );
        for entry in &entries[skip as usize..] {
            self.append(entry.clone());
        }
        self.unpersisted_from = None;
    }

    /// How many times a suffix was removed from this log.
    pub fn truncations(&self) -> u64 {
        self.truncations
    }

    // ANCHOR: merge
    /// Stores `entries`, which a leader sent to follow the entry at `prev`, and returns the index
    /// of the last of them. An entry already present with the same term is kept (the same
    /// entry, by Log Matching); the first one whose term differs, and everything after it, is
    /// replaced (§5.3). A stale or duplicated message therefore never removes entries that a
    /// newer message from the same leader already added.
    pub fn merge(&mut self, prev: LogIndex, entries: &[Entry]) -> LogIndex {
        assert!(prev <= self.last_index(), "the consistency check passed");
        let last = prev + entries.len() as LogIndex;
        // Entries a snapshot already covers are committed, hence the same: skip them.
        let skip = self
            .offset
            .saturating_sub(prev)
            .min(entries.len() as LogIndex);
        let (prev, entries) = (prev + skip, &entries[skip as usize..]);
        for (offset, entry) in entries.iter().enumerate() {
            let index = prev + 1 + offset as LogIndex;
            match self.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => self.truncate_from(index),
                None => {}
            }
            self.append(entry.clone());
        }
        last
    }
    // ANCHOR_END: merge
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(terms: &[Term]) -> Log {
        let mut log = Log::new();
        for &term in terms {
            log.append(Entry {
                term,
                command: None,
            });
        }
        log
    }

    fn terms(log: &Log) -> Vec<Term> {
        (1..=log.last_index())
            .map(|i| log.term_at(i).unwrap())
            .collect()
    }

    #[test]
    fn index_zero_is_a_sentinel_with_term_zero() {
        let log = log(&[]);
        assert_eq!(log.term_at(0), Some(0));
        assert_eq!((log.last_index(), log.last_term()), (0, 0));
        assert_eq!(log.term_at(1), None);
    }

    #[test]
    fn merge_keeps_matching_entries_and_replaces_the_first_conflict_onwards_5_3() {
        // (existing log, prev, incoming terms, expected log, truncated?)
        type Case<'a> = (&'a [Term], LogIndex, &'a [Term], &'a [Term], bool);
        let cases: [Case; 5] = [
            (&[1, 1], 2, &[2], &[1, 1, 2], false),
            (&[1, 1, 2], 1, &[1, 2], &[1, 1, 2], false), // duplicate: nothing changes
            (&[1, 1, 2, 2], 1, &[1], &[1, 1, 2, 2], false), // stale, shorter: keep the suffix
            (&[1, 2, 2], 1, &[3], &[1, 3], true),        // conflict at 2: suffix replaced
            (&[1, 1, 1], 0, &[1, 2], &[1, 2], true),
        ];
        for (existing, prev, incoming, expected, truncated) in cases {
            let mut l = log(existing);
            let incoming: Vec<Entry> = log(incoming).entries;
            let last = l.merge(prev, &incoming);
            assert_eq!(terms(&l), expected, "{existing:?} + {prev}:{incoming:?}");
            assert_eq!(last, prev + incoming.len() as LogIndex);
            assert_eq!(l.truncations() > 0, truncated);
        }
    }

    #[test]
    fn conflict_hint_is_the_first_index_of_the_conflicting_term() {
        let l = log(&[1, 2, 2, 2, 3]);
        assert_eq!(l.first_index_of_term_at(4), 2);
        assert_eq!(l.first_index_of_term_at(2), 2);
        assert_eq!(l.first_index_of_term_at(1), 1);
        assert_eq!(l.first_index_of_term_at(5), 5);
    }

    #[test]
    fn entries_from_is_bounded_by_max_and_the_log() {
        let l = log(&[1, 1, 1, 1]);
        assert_eq!(l.entries_from(2, 2).len(), 2);
        assert_eq!(l.entries_from(4, 10).len(), 1);
        assert_eq!(l.entries_from(5, 10).len(), 0);
        assert_eq!(l.entries_from(9, 10).len(), 0);
    }
}
