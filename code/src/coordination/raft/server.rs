//! A Raft server: its state (Figure 2), its roles, and how inputs reach the right handler.
//!
//! A server is a follower, a candidate or a leader (§5.1). It starts as a follower; a follower
//! that hears nothing from a leader for an *election timeout* becomes a candidate
//! (`election.rs`); a candidate that collects votes from a majority becomes the leader, which
//! replicates its log and sends heartbeats (`replication.rs`). Any message carrying a higher
//! term turns any server back into a follower of that term.
//!
//! **Persistence.** `current_term`, `voted_for`, the log and the last snapshot survive a crash
//! ([`Durable`]); the rest (role, commit index, the state machine) is rebuilt: the restarted
//! server is a follower that restores its snapshot, relearns the commit index from the next
//! leader and replays its log into the store. Handlers do not write to disk nor send: they
//! change memory and queue messages ([`Server::send`]); the runtime then takes a
//! [`Ready`](super::storage::Ready) with [`Server::take_ready`], persists its writes and only
//! then sends (Figure 2, "Updated on stable storage before responding"; see
//! [`storage`](super::storage)).
//!
//! Timers: [`ELECTION`] fires after a random timeout drawn from
//! `election_timeout_ms_min..=election_timeout_ms_max` with the node's `ctx.rng()`, and is reset
//! whenever the server hears from the current leader or grants a vote (§5.2). [`HEARTBEAT`] fires
//! every `heartbeat_ms` on a leader.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::kv::KvStore;
use super::leadership::{CHECK_QUORUM, Leadership};
use super::log::{Log, LogIndex, Term};
use super::message::{ClientResponse, Message};
use super::reads::{ReadMode, ReadState};
use super::snapshot::Snapshot;
use rand::RngExt;

use crate::sim::{Ctx, NodeId, TimerId};

/// A follower or candidate starts an election when this fires.
pub const ELECTION: TimerId = TimerId(0);
/// A leader sends its heartbeats when this fires.
pub const HEARTBEAT: TimerId = TimerId(1);

// ANCHOR: config
/// The knobs of a Raft server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The shortest election timeout, in milliseconds.
    pub election_timeout_ms_min: u64,
    /// The longest election timeout, in milliseconds (inclusive). The width of
    /// `min..=max` is what breaks split votes (§5.2, §9.3).
    pub election_timeout_ms_max: u64,
    /// How often a leader sends `AppendEntries` to every follower, in milliseconds.
    pub heartbeat_ms: u64,
    /// The most entries one `AppendEntries` carries.
    pub max_entries_per_message: usize,
    /// How a leader decides that an entry is committed. Always
    /// [`CommitRule::CurrentTermOnly`] (§5.4.2) except in tests that plant the Figure 8 bug to
    /// show that the campaign catches it.
    pub commit_rule: CommitRule,
    /// CheckQuorum: a leader that has not heard from a majority within the longest election
    /// timeout steps down (thesis §6.2, [`leadership`](super::leadership)).
    pub check_quorum: bool,
    /// PreVote: a server asks whether it could win before it increments its term (§9.6).
    pub pre_vote: bool,
    /// How a leader answers reads: through the log (the default), ReadIndex or a lease.
    pub read_mode: ReadMode,
    /// Whether a leader batches new entries: at most one `AppendEntries` with entries in
    /// flight per follower (`reads.rs`). Off by default: one message per command.
    pub batching: bool,
    /// Take a snapshot and compact the log once this many applied entries follow the last
    /// snapshot (§7). `None`: never, the log grows for the whole run.
    pub log_compaction_threshold: Option<u64>,
}
// ANCHOR_END: config

/// The leader's commit rule: the correct one, and a planted bug kept so that a test can show
/// the campaign of `code/tests/part2/ch10_figure8_campaign.rs` finds it. Never use the bug otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitRule {
    /// Commit the highest index stored on a majority only if its entry is from the leader's
    /// current term; earlier entries then commit with it (§5.4.2). Correct.
    #[default]
    CurrentTermOnly,
    /// The planted bug: commit the highest index stored on a majority whatever its term. An
    /// entry of an earlier term can be on a majority and still be overwritten (Figure 8), so
    /// this breaks leader completeness and state machine safety.
    CountAnyTerm,
}

impl Default for Config {
    /// The paper's suggestion: timeouts of 150-300 ms (§9.3), heartbeats well below them.
    fn default() -> Config {
        Config {
            election_timeout_ms_min: 150,
            election_timeout_ms_max: 300,
            heartbeat_ms: 50,
            max_entries_per_message: 64,
            commit_rule: CommitRule::CurrentTermOnly,
            check_quorum: true,
            pre_vote: true,
            read_mode: ReadMode::Log,
            batching: false,
            log_compaction_threshold: None,
        }
    }
}

/// A configuration that cannot work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `election_timeout_ms_min > election_timeout_ms_max`, or the minimum is zero.
    TimeoutRange { min: u64, max: u64 },
    /// Heartbeats must come more often than the shortest election timeout, or followers
    /// would start elections against a healthy leader.
    HeartbeatTooSlow { heartbeat_ms: u64, min: u64 },
    /// `max_entries_per_message` must be at least 1.
    NoEntriesPerMessage,
    /// A cluster needs a server, and a client must send each operation at least once.
    EmptyCluster,
    /// `log_compaction_threshold` must be at least 1.
    NoCompactionThreshold,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::TimeoutRange { min, max } => {
                write!(
                    f,
                    "election timeout range {min}..={max} ms is empty or starts at 0"
                )
            }
            ConfigError::HeartbeatTooSlow { heartbeat_ms, min } => write!(
                f,
                "heartbeat every {heartbeat_ms} ms is not below the {min} ms election timeout"
            ),
            ConfigError::NoEntriesPerMessage => write!(f, "max_entries_per_message is 0"),
            ConfigError::EmptyCluster => write!(f, "no servers, or clients that never send"),
            ConfigError::NoCompactionThreshold => write!(f, "log_compaction_threshold is 0"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Checks that the configuration can work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (min, max) = (self.election_timeout_ms_min, self.election_timeout_ms_max);
        if min == 0 || min > max {
            return Err(ConfigError::TimeoutRange { min, max });
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms >= min {
            let heartbeat_ms = self.heartbeat_ms;
            return Err(ConfigError::HeartbeatTooSlow { heartbeat_ms, min });
        }
        if self.max_entries_per_message == 0 {
            return Err(ConfigError::NoEntriesPerMessage);
        }
        if self.log_compaction_threshold == Some(0) {
            return Err(ConfigError::NoCompactionThreshold);
        }
        Ok(())
    }
}

/// What a server is doing in its current term (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

// ANCHOR: durable
/// What a server keeps on disk (Figure 2, "persistent state on all servers").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durable {
    /// The latest term the server has seen.
    pub current_term: Term,
    /// Whom it voted for in `current_term`, if anyone. Kept so that it never votes twice in
    /// one term, even across a crash (§5.2).
    pub voted_for: Option<NodeId>,
    /// Its log.
    pub log: Log,
    /// The last snapshot it took or installed (§7); the log starts at or before its end.
    pub snapshot: Option<Snapshot>,
}
// ANCHOR_END: durable

impl Durable {
    /// An empty disk: term 0, no vote, no log, no snapshot.
    pub fn empty() -> Durable {
        Durable {
            current_term: 0,
            voted_for: None,
            log: Log::new(),
            snapshot: None,
        }
    }
}

// ANCHOR: server
/// One Raft server with its key-value state machine.
#[derive(Clone, Debug)]
pub struct Server {
    /// This server. Servers are nodes `0..servers` of the simulation.
    pub(super) id: NodeId,
    /// How many servers the cluster has (a fixed membership, no reconfiguration).
    pub(super) servers: usize,
    /// Timeouts and batching.
    pub(super) config: Config,
    /// Durable: the latest term seen. Invariant: never decreases, even across restarts.
    pub(super) current_term: Term,
    /// Durable: the candidate voted for in `current_term`.
    pub(super) voted_for: Option<NodeId>,
    /// Durable: the log.
    pub(super) log: Log,
    /// Follower, candidate or leader.
    pub(super) role: Role,
    /// The leader of `current_term`, when known: where to redirect clients (§8).
    pub(super) leader: Option<NodeId>,
    /// A candidate's votes in `current_term`, itself included.
    pub(super) votes: BTreeSet<NodeId>,
    /// Leader only, per server: the next index to send. Invariant: `match_index < next_index`.
    pub(super) next_index: Vec<LogIndex>,
    /// Leader only, per server: the highest index known to match the leader's log.
    pub(super) match_index: Vec<LogIndex>,
    /// The highest index known committed. Invariant: never decreases while the server is up.
    pub(super) commit_index: LogIndex,
    /// The highest index applied to `kv`. Invariant: `last_applied <= commit_index`.
    pub(super) last_applied: LogIndex,
    /// The state machine.
    pub(super) kv: KvStore,
    /// CheckQuorum and PreVote bookkeeping (not durable).
    pub(super) leadership: Leadership,
    /// Reads outside the log: rounds, pending reads, the lease (`reads.rs`).
    pub(super) reads: ReadState,
    /// The last snapshot taken or installed. Invariant: `log.offset() <= its last index <=
    /// last_applied`.
    pub(super) snapshot: Option<Snapshot>,
    /// Whether `snapshot` is newer than what the disk holds.
    pub(super) snapshot_unpersisted: bool,
    /// The term and vote the disk holds.
    pub(super) persisted_hard_state: (Term, Option<NodeId>),
    /// Messages queued by handlers, sent by the runtime after the next persist.
    pub(super) outbox: Vec<(NodeId, Message)>,
}
// ANCHOR_END: server

impl Server {
    /// A fresh server with an empty disk. The configuration must be valid.
    pub fn new(id: NodeId, servers: usize, config: Config) -> Server {
        Server::restart(id, servers, config, Durable::empty())
    }

    /// A server rebuilt from what it had on disk: a follower, nothing committed or applied yet.
    pub fn restart(id: NodeId, servers: usize, config: Config, disk: Durable) -> Server {
        if let Err(e) = config.validate() {
            panic!("invalid Raft configuration: {e}");
        }
        assert!(
            id.0 < servers,
            "server {id} outside the cluster of {servers}"
        );
        let mut log = disk.log;
        // The snapshot's entries are committed and applied: restore the store from it.
        let (kv, applied) = match &disk.snapshot {
            Some(s) => {
                log.install(s.last_index, s.last_term);
                (s.state.clone(), s.last_index)
            }
            None => (KvStore::default(), 0),
        };
        Server {
            id,
            servers,
            config,
            current_term: disk.current_term,
            voted_for: disk.voted_for,
            log,
            role: Role::Follower,
            leader: None,
            votes: BTreeSet::new(),
            next_index: vec![1; servers],
            match_index: vec![0; servers],
            leadership: Leadership::default(),
            reads: ReadState::default(),
            commit_index: applied,
            last_applied: applied,
            kv,
            snapshot: disk.snapshot,
            snapshot_unpersisted: false,
            persisted_hard_state: (disk.current_term, disk.voted_for),
            outbox: Vec::new(),
        }
    }

    /// What survives a crash once the pending [`Ready`](super::storage::Ready) is persisted.
    pub fn durable(&self) -> Durable {
        Durable {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.clone(),
            snapshot: self.snapshot.clone(),
        }
    }

    /// The server starts (or restarts) as a follower waiting for a leader.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.reset_election_timer(ctx);
        self.reads_on_start(ctx);
    }

    /// One message from `from`.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        if self.reads_before_message(ctx, &msg) {
            return; // a vote request inside a lease (reads.rs)
        }
        // ANCHOR: adopt_higher_term
        // §5.1: a higher term, from anyone, makes this server a follower of that term, before
        // the handler below sees the message.
        if let Some(term) = msg.term()
            && term > self.current_term
        {
            self.become_follower(ctx, term, None);
        }
        // ANCHOR_END: adopt_higher_term
        self.note_contact(ctx, from, &msg);
        match msg {
            Message::RequestVote(m) => self.on_request_vote(ctx, from, m),
            Message::RequestVoteResponse(m) => self.on_request_vote_response(ctx, from, m),
            Message::AppendEntries(m) => self.on_append_entries(ctx, from, m),
            Message::AppendEntriesResponse(m) => self.on_append_entries_response(ctx, from, m),
            Message::ClientRequest(command) => self.on_client_request(ctx, from, command),
            Message::ReadHeartbeat(m) => self.on_read_heartbeat(ctx, from, m),
            Message::ReadHeartbeatResponse(m) => self.on_read_heartbeat_response(ctx, from, m),
            Message::InstallSnapshot(m) => self.on_install_snapshot(ctx, from, m),
            Message::ClientResponse(_) => {} // servers are not clients
            Message::PreVote(m) => self.on_pre_vote(ctx, from, m),
            Message::PreVoteResponse(m) => self.on_pre_vote_response(ctx, from, m),
        }
    }

    /// One timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match timer {
            ELECTION => self.on_election_timeout(ctx),
            HEARTBEAT => self.on_heartbeat(ctx),
            CHECK_QUORUM => self.on_check_quorum(ctx),
            _ => {}
        }
    }

    // ANCHOR: become_follower
    /// Adopts `term` (which must not be older) as a follower; `leader` if known. A leader or
    /// candidate stepping down starts waiting for the next leader again.
    pub fn become_follower(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        term: Term,
        leader: Option<NodeId>,
    ) {
        assert!(term >= self.current_term, "terms never go back");
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
        }
        if self.role == Role::Leader {
            ctx.cancel_timer(HEARTBEAT);
            self.reset_election_timer(ctx);
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
    }
    // ANCHOR_END: become_follower

    /// Draws a fresh election timeout from the configured range (§5.2).
    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Message>) {
        let min = self.config.election_timeout_ms_min;
        let max = self.config.election_timeout_ms_max;
        let ms = ctx.rng().random_range(min..=max);
        ctx.set_timer(ELECTION, Duration::from_millis(ms));
    }

    /// Tells a client this server cannot serve it, with the best guess of who can.
    pub(super) fn redirect(&mut self, _ctx: &mut Ctx<'_, Message>, client: NodeId, seq: u64) {
        let leader = self.leader.filter(|l| *l != self.id);
        self.send(
            client,
            Message::ClientResponse(ClientResponse::NotLeader { seq, leader }),
        );
    }

    /// This server's id.
    pub fn id(&self) -> NodeId {
        self.id
    }
    /// Its current term.
    pub fn current_term(&self) -> Term {
        self.current_term
    }
    /// Whom it voted for in its current term.
    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }
    /// Its role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether it is the leader of its current term.
    pub fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
    /// The leader it knows of in its current term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Its log.
    pub fn log(&self) -> &Log {
        &self.log
    }
    /// Its commit index.
    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }
    /// The last index it applied.
    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }
    /// Its state machine.
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }
    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the configuration of a running server; timers already set keep their
    /// durations, the next ones use the new values.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.config = config;
        Ok(())
    }
}
