//! Leader election (§5.2), with the election restriction (§5.4.1).
//!
//! A follower that hears no leader for its election timeout increments its term, votes for
//! itself and asks every other server for a vote ([`Server::become_candidate`]). With PreVote
//! on (the default) it first asks whether it could win, without changing any term
//! ([`leadership`](super::leadership)); chapter 9's experiments switch PreVote off. A server grants
//! at most one vote per term, first come first served, and only to a candidate whose log is at
//! least as up to date as its own ([`is_log_up_to_date`]). A candidate with votes from a
//! majority becomes leader ([`Server::become_leader`]); one that hears from a leader of its term
//! or later steps down; one whose timeout fires again (a *split vote*: no one got a majority)
//! starts a new election in the next term.
//!
//! Why it is safe. *Election safety*: two candidates winning the same term would need two
//! majorities, which share a server, which would have voted twice in that term; `voted_for` is
//! durable, so not even a crash lets it. *Leader completeness* (§5.4.3) takes two rules, not one.
//! The election restriction compares *up-to-dateness*, not completeness: the later last term
//! wins, and with equal last terms the longer log (§5.4.1). A committed entry is on a majority,
//! every winner got votes from a majority, and the two share a voter, which voted only for a log
//! at least as up to date as its own. A log can outrank the voter's without holding the entry
//! (a later last term is enough), so the proof needs the commit rule too (§5.4.2): a leader
//! commits by counting replicas only for an entry of its own term. Then a winner's log either
//! ends in the same term as the voter's and is at least as long, so it holds the voter's
//! entries (Log Matching), or ends in a later term, written by a later leader, which by
//! induction over terms already held the committed entry. Without that rule, the paper's Figure 8 loses
//! a committed entry; chapter 10 plants the bug and its campaign catches it.
//!
//! Why it is live. If all servers timed out together they would split the vote forever.
//! Timeouts drawn at random from a range (150-300 ms in the paper) make it likely that one
//! server times out, asks and wins before the others wake; the chapter 9 experiment measures how
//! the width of that range sets the time to elect (the paper's Figure 16).

use std::collections::BTreeSet;
use std::time::Duration;

use super::log::Entry;
use super::message::{Message, RequestVote, RequestVoteResponse};
use super::rules::{is_log_up_to_date, majority};
use super::server::{HEARTBEAT, Role, Server};
use crate::sim::{Ctx, NodeId};

impl Server {
    /// The election timer fired: no leader was heard from for a whole timeout.
    pub(super) fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader && self.config.pre_vote {
            self.start_pre_vote(ctx); // see leadership.rs
        } else if self.role != Role::Leader {
            self.become_candidate(ctx);
        }
    }

    // ANCHOR: become_candidate
    /// Starts an election in the next term (§5.2).
    pub fn become_candidate(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.current_term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.votes = BTreeSet::from([self.id]);
        self.leader = None;
        // A fresh random timeout: if this election splits, the next one starts at a random time.
        self.reset_election_timer(ctx);
        ctx.count("raft.elections");
        if self.votes.len() >= majority(self.servers) {
            return self.become_leader(ctx); // a cluster of one
        }
        let request = RequestVote {
            term: self.current_term,
            candidate: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            self.send(peer, Message::RequestVote(request.clone()));
        }
    }
    // ANCHOR_END: become_candidate

    // ANCHOR: on_request_vote
    /// Decides whether to vote for a candidate. Terms were already reconciled: if the request's
    /// term was higher, this server is now a follower of it with no vote cast.
    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVote,
    ) {
        let vote_granted = m.term == self.current_term
            && self.voted_for.is_none_or(|v| v == m.candidate)
            && is_log_up_to_date(
                m.last_log_term,
                m.last_log_index,
                self.log.last_term(),
                self.log.last_index(),
            );
        if vote_granted {
            self.voted_for = Some(m.candidate);
            // Granting a vote is hearing from a plausible leader: do not compete with it.
            self.reset_election_timer(ctx);
        }
        let term = self.current_term;
        self.send(
            from,
            Message::RequestVoteResponse(RequestVoteResponse { term, vote_granted }),
        );
    }
    // ANCHOR_END: on_request_vote

    // ANCHOR: on_request_vote_response
    /// Counts a vote. Votes from an earlier term, or arriving after the election is decided,
    /// are ignored; a duplicated vote counts once because `votes` is a set.
    pub(super) fn on_request_vote_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVoteResponse,
    ) {
        if self.role != Role::Candidate || m.term != self.current_term || !m.vote_granted {
            return;
        }
        self.votes.insert(from);
        if self.votes.len() >= majority(self.servers) {
            self.become_leader(ctx);
        }
    }
    // ANCHOR_END: on_request_vote_response

    // ANCHOR: become_leader
    /// Takes office: resets the replication state and asserts leadership at once (§5.3). The
    /// new leader appends a no-op entry of its own term, because it may commit by counting only
    /// entries of its current term (§5.4.2); the no-op lets it commit, and with it everything
    /// before it, without waiting for a client (§8).
    pub fn become_leader(&mut self, ctx: &mut Ctx<'_, Message>) {
        assert_eq!(
            self.role,
            Role::Candidate,
            "only a candidate can win an election"
        );
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.votes.clear();
        ctx.count("raft.leaders");
        let last = self.log.append(Entry {
            term: self.current_term,
            command: None,
        });
        self.next_index = vec![last; self.servers];
        self.match_index = vec![0; self.servers];
        self.match_index[self.id.0] = last;
        self.next_index[self.id.0] = last + 1;
        self.broadcast_append_entries(ctx);
        if self.servers == 1 {
            self.maybe_commit(ctx);
        }
        ctx.set_timer(HEARTBEAT, Duration::from_millis(self.config.heartbeat_ms));
        self.start_check_quorum(ctx); // see leadership.rs
    }
    // ANCHOR_END: become_leader
}
