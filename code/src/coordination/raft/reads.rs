//! Reads without a log append: ReadIndex, lease reads, and proposal batching.
//!
//! A read through the log (the default, [`ReadMode::Log`]) is linearizable because the read
//! takes a place in the log like a write: it costs an append, a round of `AppendEntries` to a
//! majority and a commit. Ongaro's thesis (§6.4) keeps the guarantee with less work. What a
//! read needs is (1) a *read index*, a commit index at least as high as that of every write
//! acknowledged before the read arrived, and (2) proof that no other leader could have
//! committed anything newer by then. Then any state applied up to the read index answers it.
//!
//! **ReadIndex** ([`ReadMode::ReadIndex`]). On a read, the leader
//! 1. checks that it has committed an entry of its own term (its no-op, §8): only then is its
//!    commit index at least every committed index of earlier terms. Until then the read goes
//!    through the log, as in `Log` mode;
//! 2. records its commit index as the read's index;
//! 3. starts a *round*: a [`ReadHeartbeat`] to every follower, carrying the round number; a
//!    round acknowledged by a majority in the leader's term proves that at the round's start
//!    no server had been elected in a later term (a majority would have had to vote for it, and
//!    one of them would have answered with the higher term). Reads that arrive while a round is
//!    in flight wait for the next round, so that every read's round starts after it arrived;
//!    one round serves every read waiting for it;
//! 4. answers once its state machine has applied the read index.
//!
//! **Lease reads** ([`ReadMode::Lease`], also §6.4). A round acknowledged by a majority also
//! gives the leader a *lease*: each acknowledging follower, having heard from the leader,
//! ignores `RequestVote` for an election timeout (`election_timeout_ms_min`) by its own clock,
//! so no other leader can be elected until the earliest of those ends. While the lease holds,
//! the leader answers reads at once from its state, with no message at all; a lease-mode
//! leader starts a round every heartbeat to keep it. The assumption is about clock *rates*:
//! with every clock running at most `1 + ε` times faster or slower than true time
//! (`ε = max_drift_ppm / 10^6`), a follower's block lasts at least `min / (1 + ε)` of true
//! time and the leader's lease, measured on its own clock, at most `(1 + ε)` times what it
//! reads; so the lease is `min / (1 + ε)^2` from the round's start ([`lease_duration`]). A
//! clock that drifts more than the bound breaks the argument, and a test shows a stale read
//! when it does (`code/tests/part2/ch10_raft_reads.rs`). Offsets do not matter: only durations
//! are compared.
//!
//! **Batching** ([`Config::batching`](super::server::Config)). By default a leader sends an
//! `AppendEntries` to every follower for every command. With batching, it keeps at most one
//! message with entries in flight per follower: commands that arrive meanwhile wait and leave
//! together, up to `max_entries_per_message`, when the follower answers (or at the next
//! heartbeat, if a message was lost). Under load one message carries many commands; at low
//! load nothing waits, because nothing is in flight.
//!
//! Invariants: a read is answered only by the leader of the term it arrived in, only after a
//! round that started after it arrived was acknowledged by a majority in that term (or under
//! a valid lease), and only once `last_applied >= read_index`. Pending reads are dropped when
//! the server stops leading; their clients retry. Simplifications: a read that arrives before
//! the leader's no-op committed goes through the log rather than waiting; followers do not
//! serve reads (the thesis's follower read-index is left out).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::history::{KvInput, KvOutput};
use super::kv::Command;
use super::log::{LogIndex, Term};
use super::message::{ClientResponse, Message, ReadHeartbeat, ReadHeartbeatResponse};
use super::rules::majority;
use super::server::{Role, Server};
use crate::sim::{Ctx, NodeId, Time};

// ANCHOR: read_mode
/// How a leader answers a client's `Get`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Append the read to the log like a write; answer when it is applied.
    #[default]
    Log,
    /// Confirm leadership with a round of heartbeats, then answer at the read index (§6.4).
    ReadIndex,
    /// Answer at once while a lease holds (§6.4). Safe only if no clock runs more than
    /// `1 + max_drift_ppm / 10^6` times faster or slower than true time.
    Lease { max_drift_ppm: u64 },
}
// ANCHOR_END: read_mode

// ANCHOR: lease_duration
/// How long a lease lasts on the leader's clock, from the start of the round that earned it:
/// `election_timeout_min / (1 + ε)^2`, with `ε = max_drift_ppm / 10^6`.
pub fn lease_duration(election_timeout_ms_min: u64, max_drift_ppm: u64) -> Duration {
    let rho = 1.0 + max_drift_ppm as f64 / 1e6;
    Duration::from_secs_f64(election_timeout_ms_min as f64 / 1e3 / (rho * rho))
}
// ANCHOR_END: lease_duration

/// A read waiting for its round or for the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PendingRead {
    client: NodeId,
    seq: u64,
    key: String,
    /// The commit index when the read arrived.
    read_index: LogIndex,
    /// The first round that started after the read arrived.
    round: u64,
}

// ANCHOR: read_state
/// A server's bookkeeping for reads outside the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The term the rounds and reads below belong to; a new term starts afresh.
    term: Term,
    /// The latest round started (rounds are numbered from 1 in each term).
    round: u64,
    /// Rounds in flight: when each started (local clock) and who acknowledged it.
    rounds: BTreeMap<u64, (Time, BTreeSet<NodeId>)>,
    /// The highest round acknowledged by a majority.
    confirmed: u64,
    /// Reads not answered yet.
    pending: Vec<PendingRead>,
    /// Lease mode: the leader may answer reads locally before this instant of its clock.
    lease_until: Option<Time>,
    /// Follower side: when (local clock) it last heard from a leader, or started.
    last_contact: Option<Time>,
}
// ANCHOR_END: read_state

impl Server {
    /// Called when the server starts: a restarted follower may have acknowledged a round
    /// before it crashed, so it keeps away from elections as if it had just heard a leader.
    /// (A server that has never seen a term has acknowledged nothing.)
    pub(super) fn reads_on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.current_term > 0 {
            self.reads.last_contact = Some(ctx.now());
        }
    }

    // ANCHOR: lease_blocks_vote
    /// Called before any handler. Records contact with a leader, and in lease mode drops a
    /// `RequestVote` that arrives within an election timeout of that contact: the promise
    /// that makes the leader's lease safe. Returns whether to drop the message.
    pub(super) fn reads_before_message(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        msg: &Message,
    ) -> bool {
        let now = ctx.now();
        match msg {
            Message::AppendEntries(m) if m.term >= self.current_term => {
                self.reads.last_contact = Some(now);
            }
            Message::ReadHeartbeat(m) if m.term >= self.current_term => {
                self.reads.last_contact = Some(now);
            }
            Message::RequestVote(m) if matches!(self.config.read_mode, ReadMode::Lease { .. }) => {
                let min = Duration::from_millis(self.config.election_timeout_ms_min);
                let recent = self.reads.last_contact.is_some_and(|t| now < t + min);
                if recent && self.role != Role::Leader && m.candidate != self.id {
                    ctx.count("raft.votes_ignored_in_lease");
                    return true;
                }
            }
            _ => {}
        }
        false
    }
    // ANCHOR_END: lease_blocks_vote

    /// Starts afresh when the term has changed since the last read.
    fn reads_for_this_term(&mut self) {
        if self.reads.term != self.current_term {
            let last_contact = self.reads.last_contact;
            self.reads = ReadState {
                term: self.current_term,
                last_contact,
                ..ReadState::default()
            };
        }
    }

    // ANCHOR: try_read_without_log
    /// A leader's `Get` outside the log. Returns `false` when the read must go through the log
    /// instead: `Log` mode, or no entry of this term committed yet.
    pub(super) fn try_read_without_log(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        command: &Command,
    ) -> bool {
        let KvInput::Get { key } = &command.input else {
            return false;
        };
        let own_term_committed = self.log.term_at(self.commit_index) == Some(self.current_term);
        if self.config.read_mode == ReadMode::Log || !own_term_committed {
            return false;
        }
        self.reads_for_this_term();
        let now = ctx.now();
        if self.reads.lease_until.is_some_and(|until| now < until) {
            ctx.count("raft.lease_reads");
            let output = KvOutput::Value(self.kv.get(key).map(str::to_string));
            self.answer_read(from, command.seq, output);
            return true;
        }
        // A round already in flight started before this read: wait for the next one.
        let in_flight = self.reads.rounds.contains_key(&self.reads.round);
        let round = self.reads.round + 1;
        self.reads.pending.push(PendingRead {
            client: from,
            seq: command.seq,
            key: key.clone(),
            read_index: self.commit_index,
            round,
        });
        if !in_flight {
            self.start_read_round(ctx);
        }
        true
    }
    // ANCHOR_END: try_read_without_log

    /// Sends a `ReadHeartbeat` of a new round to every follower.
    fn start_read_round(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.reads_for_this_term();
        self.reads.round += 1;
        let round = self.reads.round;
        let me = BTreeSet::from([self.id]);
        // Rounds whose messages were lost are forgotten after a few newer ones.
        self.reads.rounds.retain(|r, _| r + 8 > round);
        self.reads.rounds.insert(round, (ctx.now(), me));
        ctx.count("raft.read_rounds");
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            let m = ReadHeartbeat {
                term: self.current_term,
                leader: self.id,
                round,
            };
            self.send(peer, Message::ReadHeartbeat(m));
        }
        self.check_round(ctx, round); // a cluster of one confirms at once
    }

    // ANCHOR: on_read_heartbeat
    /// A follower's side: acknowledge a leader of the current term, as for `AppendEntries`.
    pub(super) fn on_read_heartbeat(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: ReadHeartbeat,
    ) {
        if m.term == self.current_term && self.role != Role::Leader {
            if self.role == Role::Candidate || self.leader.is_none() {
                self.become_follower(ctx, m.term, Some(m.leader));
            }
            self.reset_election_timer(ctx);
        }
        let response = ReadHeartbeatResponse {
            term: self.current_term,
            round: m.round,
        };
        self.send(from, Message::ReadHeartbeatResponse(response));
    }

    /// The leader's side: count an acknowledgement of this term's round.
    pub(super) fn on_read_heartbeat_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: ReadHeartbeatResponse,
    ) {
        if self.role != Role::Leader || m.term != self.current_term {
            return;
        }
        self.reads_for_this_term();
        if let Some((_, acks)) = self.reads.rounds.get_mut(&m.round) {
            acks.insert(from);
            self.check_round(ctx, m.round);
        }
    }
    // ANCHOR_END: on_read_heartbeat

    /// Confirms `round` once a majority (the leader included) acknowledged it: extends the
    /// lease, serves the reads it covers, and starts the next round if reads wait for one.
    fn check_round(&mut self, ctx: &mut Ctx<'_, Message>, round: u64) {
        let Some((started, acks)) = self.reads.rounds.get(&round) else {
            return;
        };
        if acks.len() < majority(self.servers) {
            return;
        }
        let started = *started;
        self.reads.confirmed = self.reads.confirmed.max(round);
        self.reads.rounds.retain(|r, _| *r > round);
        if let ReadMode::Lease { max_drift_ppm } = self.config.read_mode {
            let lease = lease_duration(self.config.election_timeout_ms_min, max_drift_ppm);
            let until = started + lease;
            self.reads.lease_until = Some(self.reads.lease_until.map_or(until, |u| u.max(until)));
        }
        self.serve_reads(ctx);
        let waiting = self
            .reads
            .pending
            .iter()
            .any(|r| r.round > self.reads.round);
        if waiting && !self.reads.rounds.contains_key(&self.reads.round) {
            self.start_read_round(ctx);
        }
    }

    // ANCHOR: serve_reads
    /// Answers every pending read whose round is confirmed and whose index is applied.
    pub(super) fn serve_reads(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.reads.pending.is_empty() {
            return;
        }
        if self.role != Role::Leader || self.reads.term != self.current_term {
            self.reads.pending.clear(); // deposed: the clients will retry elsewhere
            return;
        }
        let (confirmed, applied) = (self.reads.confirmed, self.last_applied);
        let (ready, waiting) = std::mem::take(&mut self.reads.pending)
            .into_iter()
            .partition(|r| r.round <= confirmed && r.read_index <= applied);
        self.reads.pending = waiting;
        for read in ready {
            let output = KvOutput::Value(self.kv.get(&read.key).map(str::to_string));
            ctx.count("raft.read_index_reads");
            self.answer_read(read.client, read.seq, output);
        }
    }
    // ANCHOR_END: serve_reads

    /// The heartbeat timer fired on a leader: keep a lease alive, and retry a round that may
    /// have lost its messages.
    pub(super) fn reads_on_heartbeat(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader {
            return;
        }
        self.reads_for_this_term();
        let lease = matches!(self.config.read_mode, ReadMode::Lease { .. });
        let waiting = self
            .reads
            .pending
            .iter()
            .any(|r| r.round > self.reads.confirmed);
        if lease || waiting {
            self.start_read_round(ctx);
        }
    }

    // ANCHOR: replicate_new_entry
    /// A leader appended a client's command: send it now, or, with batching, only to the
    /// followers that have no entries in flight (the others get it with the next message).
    pub(super) fn replicate_new_entry(&mut self, ctx: &mut Ctx<'_, Message>) {
        if !self.config.batching {
            return self.broadcast_append_entries(ctx);
        }
        let me = self.id.0;
        for peer in (0..self.servers).filter(|p| *p != me) {
            if self.next_index[peer] == self.match_index[peer] + 1 {
                self.send_append_entries(ctx, NodeId(peer));
            } else {
                ctx.count("raft.batched");
            }
        }
    }
    // ANCHOR_END: replicate_new_entry

    /// Queues a read's answer for its client.
    fn answer_read(&mut self, client: NodeId, seq: u64, output: KvOutput) {
        let done = ClientResponse::Done { seq, output };
        self.send(client, Message::ClientResponse(done));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_shrinks_with_the_square_of_the_drift_bound() {
        let ms = Duration::from_millis;
        assert_eq!(lease_duration(150, 0), ms(150));
        // Clocks up to twice fast or slow: a quarter of the election timeout.
        assert_eq!(
            lease_duration(150, 1_000_000),
            Duration::from_micros(37_500)
        );
        assert!(lease_duration(150, 100) < ms(150));
        assert!(lease_duration(150, 100) > ms(149));
    }
}
