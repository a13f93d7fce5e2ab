//! Log replication (§5.3), the commit rule (§5.4.2) and applying committed entries.
//!
//! The leader appends each client command to its own log and sends it to every follower in an
//! `AppendEntries` that also names the entry just before it, `(prev_log_index, prev_log_term)`.
//! A follower accepts only if its log holds that very entry: the *consistency check*. By
//! induction the follower's log then equals the leader's up to the new entries (Log Matching).
//! On a mismatch the follower answers where to retry, and the leader backs `next_index` off
//! and sends again, earlier, until the logs meet; the follower then replaces its conflicting
//! suffix with the leader's ([`Log::merge`](super::log::Log::merge)).
//!
//! Replication is *pipelined*: after sending entries up to index `i`, the leader moves
//! `next_index` past `i` without waiting, so a busy leader keeps several messages in flight per
//! follower. A lost or reordered message shows up as a failed consistency check of the next
//! one, which backs `next_index` off again. Heartbeats are the same message, usually empty.
//!
//! **Committing (§5.4.2).** An entry is committed once the leader that created it has stored it
//! on a majority. The leader computes the highest index on a majority from its `match_index`
//! ([`commit_index`]) but commits it *only if that entry is from its current term*; earlier
//! entries are then committed indirectly, by Log Matching. Figure 8 of the paper shows why
//! counting replicas of an older entry is not enough: an entry of term 2 stored on a majority
//! can still be overwritten by a leader of term 3 whose log lacks it, because voters compare
//! last terms, not counts. The scenario test
//! `figure_8_leader_does_not_commit_previous_term_entry_by_counting` replays it, and
//! `code/tests/part2/ch10_figure8_campaign.rs` shows that a campaign finds the bug when the rule is
//! switched off ([`CommitRule::CountAnyTerm`], a planted bug that exists only for that test).
//!
//! **Applying.** Every server applies committed entries in index order to its state machine.
//! The leader of the term in which an entry was created answers the client when it applies it.

use super::history::KvOutput;
use super::kv::Command;
use super::log::{Entry, LogIndex};
use super::message::{AppendEntries, AppendEntriesResponse, ClientResponse, Message};
use super::rules::commit_index;
use super::server::{CommitRule, HEARTBEAT, Role, Server};
use crate::sim::{Ctx, NodeId};
use std::time::Duration;

impl Server {
    /// The heartbeat timer fired: a leader sends `AppendEntries` to every follower.
    pub(super) fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role == Role::Leader {
            self.broadcast_append_entries(ctx);
            self.reads_on_heartbeat(ctx);
            ctx.set_timer(HEARTBEAT, Duration::from_millis(self.config.heartbeat_ms));
        }
    }

    /// Sends every follower what it lacks, or an empty heartbeat.
    pub(super) fn broadcast_append_entries(&mut self, ctx: &mut Ctx<'_, Message>) {
        for peer in 0..self.servers {
            if peer != self.id.0 {
                self.send_append_entries(ctx, NodeId(peer));
            }
        }
    }

    // ANCHOR: send_append_entries
    /// Sends `peer` the entries from its `next_index` on (at most one message's worth), then
    /// moves `next_index` past them: the pipeline's optimistic step.
    pub(super) fn send_append_entries(&mut self, ctx: &mut Ctx<'_, Message>, peer: NodeId) {
        let next = self.next_index[peer.0];
        if next <= self.log.offset() {
            return self.send_snapshot(ctx, peer); // compacted away: InstallSnapshot (§7)
        }
        let prev_log_index = next - 1;
        let prev_log_term = self
            .log
            .term_at(prev_log_index)
            .expect("next_index <= last + 1");
        let max = self.config.max_entries_per_message;
        let entries = self.log.entries_from(next, max).to_vec();
        self.next_index[peer.0] = next + entries.len() as LogIndex;
        let message = AppendEntries {
            term: self.current_term,
            leader: self.id,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.send(peer, Message::AppendEntries(message));
    }
    // ANCHOR_END: send_append_entries

    // ANCHOR: on_append_entries
    /// A follower's side: the term check, the consistency check, storing, committing.
    pub(super) fn on_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: AppendEntries,
    ) {
        let reply = |s: &mut Server, term, success, match_index, conflict_index| {
            let response = AppendEntriesResponse {
                term,
                success,
                match_index,
                conflict_index,
            };
            s.send(from, Message::AppendEntriesResponse(response));
        };
        if m.term < self.current_term {
            // A deposed leader: the term in the answer tells it to step down (§5.1).
            return reply(self, self.current_term, false, 0, 0);
        }
        assert!(
            self.role != Role::Leader,
            "two leaders in term {}: {} and {}",
            m.term,
            self.id,
            m.leader
        );
        if self.role == Role::Candidate || self.leader.is_none() {
            // A leader of this term exists: this server lost the election or missed it (§5.2).
            self.become_follower(ctx, m.term, Some(m.leader));
        }
        self.reset_election_timer(ctx);
        let term = self.current_term;
        // The consistency check (§5.3).
        if m.prev_log_index > self.log.last_index() {
            return reply(self, term, false, 0, self.log.last_index() + 1);
        }
        // Below the offset the entries are committed and in the snapshot: they match.
        if m.prev_log_index >= self.log.offset()
            && self.log.term_at(m.prev_log_index) != Some(m.prev_log_term)
        {
            let conflict = self.log.first_index_of_term_at(m.prev_log_index);
            return reply(self, term, false, 0, conflict);
        }
        let last_new = self.log.merge(m.prev_log_index, &m.entries);
        // Only the prefix this message vouched for is known to match the leader's log; entries
        // beyond `last_new` may be stale leftovers, so the commit index stops there (Figure 2).
        let commit = m.leader_commit.min(last_new);
        if commit > self.commit_index {
            self.commit_index = commit;
            self.apply_committed(ctx);
        }
        reply(self, term, true, last_new, 0);
    }
    // ANCHOR_END: on_append_entries

    // ANCHOR: on_append_entries_response
    /// The leader's side: advance on success, back off on a failed consistency check.
    pub(super) fn on_append_entries_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: AppendEntriesResponse,
    ) {
        if self.role != Role::Leader || m.term != self.current_term {
            return; // stale: from an earlier term, or this server no longer leads
        }
        let peer = from.0;
        if m.success {
            // Responses may arrive reordered or twice: only ever move forward.
            self.match_index[peer] = self.match_index[peer].max(m.match_index);
            self.next_index[peer] = self.next_index[peer].max(self.match_index[peer] + 1);
            self.maybe_commit(ctx);
            if self.next_index[peer] <= self.log.last_index() {
                self.send_append_entries(ctx, from); // more than one message's worth behind
            }
        } else {
            // Never back off below what is known to match, nor below 1.
            let retry = m.conflict_index.max(self.match_index[peer] + 1).max(1);
            if retry < self.next_index[peer] {
                self.next_index[peer] = retry;
                self.send_append_entries(ctx, from);
            }
        }
    }
    // ANCHOR_END: on_append_entries_response

    // ANCHOR: maybe_commit
    /// Commits the highest index stored on a majority, if it is from the current term
    /// (§5.4.2, Figure 8); everything before it is then committed too. (Unless the planted
    /// bug [`CommitRule::CountAnyTerm`] is configured, which skips the term test.)
    pub(super) fn maybe_commit(&mut self, ctx: &mut Ctx<'_, Message>) {
        let candidate = commit_index(&self.match_index);
        let own_term = self.log.term_at(candidate) == Some(self.current_term);
        let allowed = match self.config.commit_rule {
            CommitRule::CurrentTermOnly => own_term,
            CommitRule::CountAnyTerm => true,
        };
        if candidate > self.commit_index && allowed {
            self.commit_index = candidate;
            self.apply_committed(ctx);
        }
    }
    // ANCHOR_END: maybe_commit

    // ANCHOR: apply_committed
    /// Applies every committed entry not yet applied, in order; the leader that created an
    /// entry answers its client.
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<'_, Message>) {
        while self.last_applied < self.commit_index {
            self.last_applied += 1;
            let entry = self
                .log
                .entry(self.last_applied)
                .expect("committed entries exist");
            ctx.count("raft.applied");
            let Some(command) = &entry.command else {
                continue; // a leader's no-op
            };
            let output = self.kv.apply(command);
            let created_here = self.role == Role::Leader && entry.term == self.current_term;
            if let (true, Some(output)) = (created_here, output) {
                let client = NodeId(command.client as usize);
                self.reply_done(client, command.seq, output);
            }
        }
        self.serve_reads(ctx); // reads waiting for their index (reads.rs)
        self.maybe_snapshot(ctx);
    }
    // ANCHOR_END: apply_committed

    // ANCHOR: on_client_request
    /// A client's command: a leader appends it and replicates it at once; anyone else redirects
    /// the client (§8). A retry of a command already applied is answered from the session.
    pub(super) fn on_client_request(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        command: Command,
    ) {
        if self.role != Role::Leader {
            return self.redirect(ctx, from, command.seq);
        }
        if let Some(output) = self.kv.cached(command.client, command.seq) {
            return self.reply_done(from, command.seq, output.clone());
        }
        if self.try_read_without_log(ctx, from, &command) {
            return; // ReadIndex or lease (reads.rs)
        }
        let index = self.log.append(Entry {
            term: self.current_term,
            command: Some(command),
        });
        self.match_index[self.id.0] = index;
        self.next_index[self.id.0] = index + 1;
        self.replicate_new_entry(ctx); // at once, or batched (reads.rs)
        self.maybe_commit(ctx); // a cluster of one commits at once
    }
    // ANCHOR_END: on_client_request
}

impl Server {
    fn reply_done(&mut self, client: NodeId, seq: u64, output: KvOutput) {
        self.send(
            client,
            Message::ClientResponse(ClientResponse::Done { seq, output }),
        );
    }
}
