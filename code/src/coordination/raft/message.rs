//! The messages of Raft (Figure 2) and of its clients (§8).
//!
//! Two RPCs make all of Raft: `RequestVote`, sent by candidates (§5.2), and `AppendEntries`,
//! sent by leaders to replicate entries and, empty, as heartbeats (§5.3). The paper describes
//! them as remote procedure calls; here a call and its result are two independent messages,
//! because the simulated network may lose, duplicate, delay and reorder either one. Every
//! response therefore carries what the receiver needs to use it without remembering the call:
//! the responder's term, and for `AppendEntries` the index up to which the follower's log now
//! matches the leader's (or a hint where to retry).
//!
//! Every Raft message carries the sender's term, and every server obeys one rule before
//! anything else (§5.1): a message with a higher term makes the receiver adopt that term and
//! become a follower; a message with a lower term is stale and is rejected or ignored.

use super::history::KvOutput;
use super::kv::Command;
use super::log::{Entry, LogIndex, Term};
use super::snapshot::Snapshot;
use crate::sim::NodeId;

// ANCHOR: request_vote
/// A candidate asks for a vote (§5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestVote {
    /// The candidate's term.
    pub term: Term,
    /// The candidate.
    pub candidate: NodeId,
    /// The index of the candidate's last log entry (§5.4.1).
    pub last_log_index: LogIndex,
    /// The term of the candidate's last log entry (§5.4.1).
    pub last_log_term: Term,
}

/// A server's answer to a `RequestVote`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestVoteResponse {
    /// The voter's term, for the candidate to update itself.
    pub term: Term,
    /// Whether the voter granted its vote in `term`.
    pub vote_granted: bool,
}
// ANCHOR_END: request_vote

// ANCHOR: append_entries
/// A leader replicates entries, or just asserts its leadership when `entries` is empty (§5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AppendEntries {
    /// The leader's term.
    pub term: Term,
    /// The leader, so that followers can redirect clients.
    pub leader: NodeId,
    /// The index of the entry just before `entries`.
    pub prev_log_index: LogIndex,
    /// The term of that entry: the consistency check (§5.3).
    pub prev_log_term: Term,
    /// The entries to store, starting at `prev_log_index + 1`.
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub leader_commit: LogIndex,
}

/// A follower's answer to an `AppendEntries`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AppendEntriesResponse {
    /// The follower's term.
    pub term: Term,
    /// Whether the consistency check passed and the entries are stored.
    pub success: bool,
    /// On success: the follower's log matches the leader's up to here.
    pub match_index: LogIndex,
    /// On failure: where the leader should try next (the first index of the conflicting term,
    /// or just past the follower's log when it is too short), the optimisation of §5.3.
    pub conflict_index: LogIndex,
}
// ANCHOR_END: append_entries

// ANCHOR: read_heartbeat
/// A leader confirms it still leads before answering reads outside the log (§6.4): round
/// `round` of its term (`reads.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadHeartbeat {
    /// The leader's term.
    pub term: Term,
    /// The leader.
    pub leader: NodeId,
    /// The round, numbered from 1 in each term.
    pub round: u64,
}

/// A server's answer to a `ReadHeartbeat`: its term, and the round it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReadHeartbeatResponse {
    /// The responder's term: equal to the leader's if it acknowledges the leader.
    pub term: Term,
    /// The round answered.
    pub round: u64,
}
// ANCHOR_END: read_heartbeat
// ANCHOR: install_snapshot
/// A leader sends its snapshot to a follower that needs entries the leader has compacted away
/// (§7). Simplification: in one message, not in chunks. The follower answers with an
/// [`AppendEntriesResponse`] whose `match_index` is the snapshot's last index.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InstallSnapshot {
    /// The leader's term.
    pub term: Term,
    /// The leader, so that followers can redirect clients.
    pub leader: NodeId,
    /// The snapshot: last included index and term, and the state machine.
    pub snapshot: Snapshot,
}
// ANCHOR_END: install_snapshot

/// A server's answer to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ClientResponse {
    /// The command with this sequence number was applied (once) and produced `output`.
    Done { seq: u64, output: KvOutput },
    /// This server is not the leader; `leader` is its best guess of who is (§8).
    NotLeader { seq: u64, leader: Option<NodeId> },
}

/// Everything that travels between servers and clients.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Message {
    RequestVote(RequestVote),
    RequestVoteResponse(RequestVoteResponse),
    AppendEntries(AppendEntries),
    AppendEntriesResponse(AppendEntriesResponse),
    /// A client asks the cluster to apply a command.
    ClientRequest(Command),
    ClientResponse(ClientResponse),
    /// PreVote (thesis §9.6): "would you vote for me in `term`?", where `term` is the asker's
    /// current term plus one, a term that does not exist yet.
    PreVote(RequestVote),
    /// The answer to a `PreVote`; its `term` is the voter's real current term.
    PreVoteResponse(RequestVoteResponse),
    /// A leader's round for reads outside the log (`reads.rs`).
    ReadHeartbeat(ReadHeartbeat),
    ReadHeartbeatResponse(ReadHeartbeatResponse),
    /// A leader's snapshot for a follower that lags behind its compacted log (§7).
    InstallSnapshot(InstallSnapshot),
}

impl Message {
    /// The sender's term, for Raft messages.
    pub fn term(&self) -> Option<Term> {
        match self {
            Message::RequestVote(m) => Some(m.term),
            Message::RequestVoteResponse(m) => Some(m.term),
            Message::AppendEntries(m) => Some(m.term),
            Message::AppendEntriesResponse(m) => Some(m.term),
            Message::ReadHeartbeat(m) => Some(m.term),
            Message::ReadHeartbeatResponse(m) => Some(m.term),
            Message::InstallSnapshot(m) => Some(m.term),
            Message::ClientRequest(_) | Message::ClientResponse(_) => None,
            // The proposed term must not be adopted: asking writes nothing (§9.6).
            Message::PreVote(_) => None,
            Message::PreVoteResponse(m) => Some(m.term),
        }
    }
}
