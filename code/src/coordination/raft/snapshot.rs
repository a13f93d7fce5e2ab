//! Snapshots and log compaction (Raft paper §7; Ongaro's thesis, chapter 5).
//!
//! A log that only grows makes a server's disk fill up and its restart replay every command
//! ever written. Once the state machine has applied a prefix of the log, that prefix is
//! redundant: the state it produced says everything a future reader needs. A server therefore
//! writes a [`Snapshot`] (the key-value store *with its client sessions*, so that a retried
//! command is still answered once, plus the index and term of the last entry it covers) and
//! drops the log up to that index. The log keeps the snapshot's last index and term as its
//! new starting point, so the consistency check of `AppendEntries` still works at the boundary.
//!
//! **When.** Compaction is driven by a size threshold ([`Config::log_compaction_threshold`]):
//! once the server has applied that many entries past its last snapshot, it takes a new one at
//! its `last_applied`. `None` keeps the whole log (the behaviour of chapter 10). Each server
//! compacts on its own; snapshots cover only applied, hence committed, entries, so compaction
//! never removes an entry that could still change.
//!
//! **InstallSnapshot.** A leader that has compacted past a follower's `next_index` can no longer
//! send the entries that follower lacks. It sends its snapshot instead ([`InstallSnapshot`]).
//! The follower keeps the part of its log that follows the snapshot if its log holds the
//! snapshot's last entry with the same term (by Log Matching its prefix is then the same);
//! otherwise it discards its whole log. Either way it replaces its state machine with the
//! snapshot's and answers as it would an `AppendEntries` that brought its log up to the
//! snapshot's last index. A snapshot older than what the follower has already committed is
//! ignored (it is answered, so that the leader moves on).
//!
//! **Invariants.** `log.offset() <= snapshot.last_index <= last_applied <= commit_index`; the
//! log's term at `offset()` is the term of the entry there. A server takes a snapshot at the end
//! of a step and drops the covered log prefix from memory at the next one (the disk drops it at
//! once): that way the simulator's safety checkers, which run between steps, see every applied
//! entry once.
//!
//! Simplifications: the snapshot travels in one message (the paper sends it in chunks with an
//! offset and a `done` flag, Figure 13) and is a full copy of the store, taken synchronously
//! (real servers write it in the background, copy-on-write; thesis §5.2).
//!
//! [`Config::log_compaction_threshold`]: super::server::Config::log_compaction_threshold
//! [`InstallSnapshot`]: super::message::InstallSnapshot

use super::kv::KvStore;
use super::log::{LogIndex, Term};
use super::message::{AppendEntriesResponse, InstallSnapshot, Message};
use super::server::Server;
use crate::sim::{Ctx, NodeId};

// ANCHOR: snapshot
/// The state machine at one index of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// The index of the last entry the snapshot covers.
    pub last_index: LogIndex,
    /// The term of that entry: the consistency check at the log's new start.
    pub last_term: Term,
    /// The key-value store and its client sessions after applying every entry up to
    /// `last_index`.
    pub state: KvStore,
}
// ANCHOR_END: snapshot

impl Server {
    /// The last snapshot this server took or installed.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// The index the last snapshot covers (0 without one).
    pub(super) fn snapshot_index(&self) -> LogIndex {
        self.snapshot.as_ref().map_or(0, |s| s.last_index)
    }

    // ANCHOR: maybe_snapshot
    /// Takes a snapshot at `last_applied` once the log holds `log_compaction_threshold` applied
    /// entries past the last one. The disk drops the covered prefix when it stores the
    /// snapshot; memory drops it at the next step ([`Server::finish_compaction`]).
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Message>) {
        let Some(threshold) = self.config.log_compaction_threshold else {
            return;
        };
        if self.last_applied - self.snapshot_index() < threshold {
            return;
        }
        let last_term = self
            .log
            .term_at(self.last_applied)
            .expect("applied entries exist");
        self.snapshot = Some(Snapshot {
            last_index: self.last_applied,
            last_term,
            state: self.kv.clone(),
        });
        self.snapshot_unpersisted = true;
        ctx.count("raft.snapshots_taken");
    }
    // ANCHOR_END: maybe_snapshot

    /// Drops from memory the log prefix that the last snapshot covers (the second half of a
    /// compaction begun at an earlier step).
    pub(super) fn finish_compaction(&mut self) {
        if let Some(s) = &self.snapshot
            && self.log.offset() < s.last_index
            && self.log.term_at(s.last_index) == Some(s.last_term)
        {
            self.log.compact_to(s.last_index);
        }
    }

    // ANCHOR: send_snapshot
    /// Sends `peer` the snapshot, because the entries it needs next were compacted away, and
    /// moves its `next_index` past the snapshot (optimistically, as for entries).
    pub(super) fn send_snapshot(&mut self, ctx: &mut Ctx<'_, Message>, peer: NodeId) {
        let snapshot = self
            .snapshot
            .clone()
            .expect("a compacted log has a snapshot");
        self.next_index[peer.0] = snapshot.last_index + 1;
        ctx.count("raft.snapshots_sent");
        let message = InstallSnapshot {
            term: self.current_term,
            leader: self.id,
            snapshot,
        };
        self.send(peer, Message::InstallSnapshot(message));
    }
    // ANCHOR_END: send_snapshot

    // ANCHOR: on_install_snapshot
    /// A follower's side of InstallSnapshot (§7): the term check as for `AppendEntries`, then
    /// keep the log's suffix if it follows the snapshot, replace the state machine, answer.
    pub(super) fn on_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: InstallSnapshot,
    ) {
        let term = self.current_term;
        let reply = |s: &mut Server, success, match_index| {
            let response = AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_index: 0,
            };
            s.send(from, Message::AppendEntriesResponse(response));
        };
        if m.term < self.current_term {
            return reply(self, false, 0); // a deposed leader: the term tells it to step down
        }
        if self.role == super::server::Role::Candidate || self.leader.is_none() {
            self.become_follower(ctx, m.term, Some(m.leader));
        }
        self.reset_election_timer(ctx);
        let last = m.snapshot.last_index;
        if last > self.commit_index {
            self.log.install(last, m.snapshot.last_term);
            self.kv = m.snapshot.state.clone();
            self.commit_index = last;
            self.last_applied = last;
            self.snapshot = Some(m.snapshot);
            self.snapshot_unpersisted = true;
            ctx.count("raft.snapshots_installed");
        }
        // Committed entries up to `last` are in this log or in its snapshot: it matches there.
        reply(self, true, last)
    }
    // ANCHOR_END: on_install_snapshot
}
