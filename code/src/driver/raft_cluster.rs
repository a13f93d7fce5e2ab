//! A live Raft cluster on loopback, driven from a prompt: chapter 10's servers over real TCP.
//!
//! [`RaftCluster::start`] runs `n` unmodified Raft [`Server`]s
//! ([`crate::coordination::raft`]) with the tokio driver ([`super::tcp`]), one TCP listener each
//! on `127.0.0.1`, plus one more node: a [`ConsoleClient`], the client a person (or a script)
//! drives. The protocol code is the code the simulator checks; only the runtime changed: real
//! sockets, real timers, real scheduling.
//!
//! **The client (§8 of Ongaro and Ousterhout, "In Search of an Understandable Consensus
//! Algorithm", USENIX ATC 2014).** The console client is itself a sans-I/O
//! [`Process`]; the prompt hands it a command with [`tcp::Cluster::inject`]. It sends the command
//! to the server it believes leads; a server that does not lead answers with its guess of who
//! does, and the client follows it. When no answer comes within `client_retry_ms` it sends the
//! *same* command, with the *same* sequence number, to the next server: the store's sessions
//! apply it once however many copies reach the log (`kv.rs`). After `client_deadline_ms`
//! without an answer it gives up and says the outcome is unknown, which is the truth: the
//! command may sit in a log and be applied later, or never.
//!
//! **Crashes.** `kill` aborts a server's tasks; `restart` rebuilds it from the
//! [`Durable`](crate::coordination::raft::Durable) state it had when it crashed (term, vote,
//! log), exactly the simulator's restart rule, and it catches up from the leader.
//!
//! **Watching.** An observer hook, called by the driver after every handler, compares each
//! server's role and term with the last ones seen and reports elections as [`Event`]s.
//!
//! **Bad input.** [`parse`] turns a line into a [`ConsoleCommand`] or a [`ParseError`] whose
//! message says exactly what is wrong; [`RaftCluster::execute`] refuses impossible requests
//! (killing a killed node) with an [`ExecError`]. Nothing a user types can panic. Nothing a
//! socket receives can either: besides the driver's frame checks, every message passes Raft's
//! rules ([`super::validate`]: servers send Raft messages, clients send requests in their own
//! session, ids, terms and indexes in range) before a server or the client handles it; a
//! refused one is dropped and counted (`bad_frames.<reason>` in [`RaftCluster::metrics`]). The
//! driver's locks survive a panicking handler, so `status` always answers; a server stopped by
//! one shows as `failed` and can be restarted.
//!
//! Simplifications: one client, one command in flight; the durable state lives in the driver's
//! memory (a real server would fsync it before answering, Figure 2); elections use the paper's
//! timeouts (150-300 ms, §9.3), which loopback easily meets.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::tcp::{self, Hooks, NodeError};
use super::validate::{self, Membership, Receiver};
use crate::coordination::raft::cluster::Disk;
use crate::coordination::raft::history::{KvInput, KvOutput};
use crate::coordination::raft::kv::Command;
use crate::coordination::raft::message::{ClientResponse, Message};
use crate::coordination::raft::storage::{MemStorage, ServerNode};
use crate::coordination::raft::{Config, LogIndex, Role, Server, Term};
use crate::experiment::Table;
use crate::sim::{Ctx, Metrics, NodeId, Process, Time, TimerId};

/// The console client's retry timer.
const RETRY: TimerId = TimerId(0);

/// The longest key accepted at the prompt, in bytes.
pub const MAX_KEY_BYTES: usize = 64;
/// The longest value accepted at the prompt, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// The longest `sleep`, in milliseconds.
pub const MAX_SLEEP_MS: u64 = 60_000;

/// The largest cluster the prompt starts.
pub const MAX_SERVERS: usize = 15;

/// The finished command of a [`ConsoleClient`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The command's sequence number.
    pub seq: u64,
    /// The store's answer, or `None` when the client gave up (the outcome is unknown).
    pub output: Option<KvOutput>,
    /// From the command to its answer (or to giving up), by the client's clock.
    pub took: Duration,
    /// How many times the command was sent (1 when the first server asked answered).
    pub sends: u32,
    /// The server that answered.
    pub answered_by: Option<NodeId>,
}

/// The command in flight.
#[derive(Clone, Debug)]
struct Pending {
    /// Its sequence number; every copy sent carries it.
    seq: u64,
    /// What it asks for.
    input: KvInput,
    /// When it was submitted.
    since: Time,
    /// Copies sent so far.
    sends: u32,
    /// Whether the pending retry follows a redirect (send to `leader_guess` as is) rather than
    /// a timeout (move on to the next server).
    redirected: bool,
}

// ANCHOR: console_client
/// The client behind the prompt: one command at a time, retried with its sequence number (§8).
#[derive(Clone, Debug)]
pub struct ConsoleClient {
    /// This client's node; servers answer it here, and its number is its session id.
    id: NodeId,
    /// The servers are nodes `0..servers`.
    servers: usize,
    /// How long to wait for an answer before sending the command to the next server.
    retry_ms: u64,
    /// How long to try in all before giving up on a command.
    deadline_ms: u64,
    /// The server the client believes leads.
    leader_guess: NodeId,
    /// The sequence number of the latest command. Invariant: increases by one per command.
    seq: u64,
    /// The command awaiting its answer, if any. Invariant: at most one.
    pending: Option<Pending>,
    /// The latest finished command.
    last: Option<Outcome>,
}
// ANCHOR_END: console_client

impl ConsoleClient {
    /// A client at node `id` of a cluster whose servers are nodes `0..servers`.
    pub fn new(id: NodeId, servers: usize, retry_ms: u64, deadline_ms: u64) -> ConsoleClient {
        assert!(servers > 0, "a client needs a server");
        ConsoleClient {
            id,
            servers,
            retry_ms: retry_ms.max(1),
            deadline_ms,
            leader_guess: NodeId(0),
            seq: 0,
            pending: None,
            last: None,
        }
    }

    /// Starts a new command and returns its sequence number. A command still in flight is
    /// abandoned (its outcome stays unknown): the prompt waits for each one first.
    pub fn submit(&mut self, ctx: &mut Ctx<'_, Message>, input: KvInput) -> u64 {
        self.seq += 1;
        self.pending = Some(Pending {
            seq: self.seq,
            input,
            since: ctx.now(),
            sends: 0,
            redirected: false,
        });
        self.send(ctx);
        self.seq
    }

    /// The outcome of command `seq`, once it has one.
    pub fn outcome(&self, seq: u64) -> Option<&Outcome> {
        self.last.as_ref().filter(|o| o.seq == seq)
    }

    /// The server this client currently believes leads.
    pub fn leader_guess(&self) -> NodeId {
        self.leader_guess
    }

    // ANCHOR: client_send
    /// Sends the pending command (same sequence number every time) and arms the retry timer.
    fn send(&mut self, ctx: &mut Ctx<'_, Message>) {
        let Some(pending) = &mut self.pending else {
            return;
        };
        pending.sends += 1;
        pending.redirected = false;
        let command = Command {
            client: self.id.0 as u64,
            seq: pending.seq,
            input: pending.input.clone(),
        };
        ctx.send(self.leader_guess, Message::ClientRequest(command));
        ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms));
    }
    // ANCHOR_END: client_send

    /// Records the end of the pending command.
    fn finish(&mut self, ctx: &mut Ctx<'_, Message>, output: Option<KvOutput>, by: Option<NodeId>) {
        if let Some(p) = self.pending.take() {
            self.last = Some(Outcome {
                seq: p.seq,
                output,
                took: ctx.now().since(p.since),
                sends: p.sends,
                answered_by: by,
            });
        }
        ctx.cancel_timer(RETRY);
    }
}

impl Process for ConsoleClient {
    type Msg = Message;
    type Durable = ();

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Message>) {}

    // ANCHOR: client_on_message
    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        let Message::ClientResponse(response) = msg else {
            return;
        };
        let current = self.pending.as_ref().map(|p| p.seq);
        match response {
            ClientResponse::Done { seq, output } if Some(seq) == current => {
                self.leader_guess = from;
                self.finish(ctx, Some(output), Some(from));
            }
            ClientResponse::NotLeader { seq, leader } if Some(seq) == current => {
                // Follow the hint, or try the next server, after a short pause so that a
                // cluster in the middle of an election is not flooded.
                self.leader_guess = leader.unwrap_or(NodeId((from.0 + 1) % self.servers));
                if let Some(p) = &mut self.pending {
                    p.redirected = true;
                }
                ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms / 10 + 1));
            }
            _ => {} // an answer to an earlier copy or an abandoned command
        }
    }
    // ANCHOR_END: client_on_message

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        let Some(p) = &self.pending else {
            return;
        };
        if timer != RETRY {
            return;
        }
        if ctx.now().since(p.since) >= Duration::from_millis(self.deadline_ms) {
            return self.finish(ctx, None, None);
        }
        if !p.redirected {
            // No answer in time: the server may be down or cut off. Try the next one.
            self.leader_guess = NodeId((self.leader_guess.0 + 1) % self.servers);
        }
        self.send(ctx);
    }

    fn durable(&self) {}
}

/// A node of the live cluster: a Raft server, or the console client.
#[derive(Clone, Debug)]
pub enum RaftNode {
    /// A server persisting to an in-memory disk before it sends (the `Ready` loop).
    Server(Box<ServerNode>),
    Client(ConsoleClient),
}

impl Process for RaftNode {
    type Msg = Message;
    type Durable = Disk;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        match self {
            RaftNode::Server(s) => s.on_start(ctx),
            RaftNode::Client(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match self {
            RaftNode::Server(s) => s.on_message(ctx, from, msg),
            RaftNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match self {
            RaftNode::Server(s) => s.on_timer(ctx, timer),
            RaftNode::Client(c) => c.on_timer(ctx, timer),
        }
    }

    fn durable(&self) -> Disk {
        match self {
            RaftNode::Server(s) => Disk::Server(s.storage.contents().clone()),
            RaftNode::Client(_) => Disk::Client,
        }
    }
}

impl RaftNode {
    /// The server, if this node is one.
    pub fn server(&self) -> Option<&Server> {
        match self {
            RaftNode::Server(s) => Some(&s.server),
            RaftNode::Client(_) => None,
        }
    }

    /// The client, if this node is the client.
    pub fn client(&self) -> Option<&ConsoleClient> {
        match self {
            RaftNode::Client(c) => Some(c),
            RaftNode::Server(_) => None,
        }
    }
}

/// Something worth telling the person at the prompt, seen by the observer hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A server's election timer fired and it stands for election.
    Candidate { node: NodeId, term: Term },
    /// A server won the election of `term`.
    Leader { node: NodeId, term: Term },
    /// A leader learned of a higher term and stepped down.
    SteppedDown { node: NodeId, term: Term },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Candidate { node, term } => {
                write!(
                    f,
                    "{node} heard no leader and stands for election in term {term}"
                )
            }
            Event::Leader { node, term } => write!(f, "{node} is now leader of term {term}"),
            Event::SteppedDown { node, term } => {
                write!(f, "{node} stepped down: it saw term {term}")
            }
        }
    }
}

/// The knobs of a live cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The servers' configuration (timeouts, batching).
    pub config: Config,
    /// How long the client waits for an answer before trying the next server.
    pub client_retry_ms: u64,
    /// How long the client tries one command before giving up on it.
    pub client_deadline_ms: u64,
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            config: Config::default(),
            client_retry_ms: 300,
            client_deadline_ms: 5_000,
        }
    }
}

/// One server as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The server.
    pub node: NodeId,
    /// Whether it runs (false: killed).
    pub up: bool,
    /// Its role; meaningless while killed (it is whatever it was when it crashed).
    pub role: Role,
    /// Its current term (durable: kept across a crash).
    pub term: Term,
    /// Its commit index (volatile: relearned after a restart).
    pub commit_index: LogIndex,
    /// How many entries its log holds (durable).
    pub log_len: LogIndex,
    /// The leader it knows of in its term.
    pub leader: Option<NodeId>,
}

/// A line typed at the prompt, understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsoleCommand {
    /// Send a command to the replicated store.
    Kv(KvInput),
    /// Crash a server.
    Kill(NodeId),
    /// Bring a killed server back from its durable state.
    Restart(NodeId),
    /// Show every server's state.
    Status,
    /// Wait, so that a script can let an election happen.
    Sleep(Duration),
    /// Show the commands.
    Help,
    /// Leave.
    Quit,
}

/// What is wrong with a line typed at the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The first word is not a command.
    Unknown(String),
    /// Too few or too many arguments for the command.
    Usage { usage: &'static str, got: usize },
    /// A node argument that is not a number.
    NotANode { arg: String, servers: usize },
    /// A node number outside the cluster.
    NoSuchNode { node: usize, servers: usize },
    /// A key or value containing a control character.
    ControlCharacter { what: &'static str, ch: char },
    /// A key or value too long.
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A `sleep` argument that is not a whole number of milliseconds in range.
    NotMillis(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Unknown(word) => {
                write!(f, "unknown command `{word}`; type `help` for the commands")
            }
            ParseError::Usage { usage, got } => {
                let s = if *got == 1 { "" } else { "s" };
                write!(f, "usage: `{usage}` (got {got} argument{s})")
            }
            ParseError::NotANode { arg, servers } => write!(
                f,
                "`{arg}` is not a node: use a number from 0 to {} (or n0 to n{0})",
                servers - 1
            ),
            ParseError::NoSuchNode { node, servers } => write!(
                f,
                "there is no node {node}: the servers are n0 to n{}",
                servers - 1
            ),
            ParseError::ControlCharacter { what, ch } => {
                write!(
                    f,
                    "the {what} contains the control character U+{:04X}",
                    *ch as u32
                )
            }
            ParseError::TooLong { what, len, max } => {
                write!(
                    f,
                    "the {what} is {len} bytes long; at most {max} are allowed"
                )
            }
            ParseError::NotMillis(arg) => write!(
                f,
                "`{arg}` is not a whole number of milliseconds from 0 to {MAX_SLEEP_MS}"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// The commands, one per line, as `help` prints them.
pub const HELP: &str = "\
put <key> <value>     replace the value of <key>
append <key> <value>  append <value> to the value of <key>
get <key>             read <key> (through the log, so the read is linearizable)
kill <node>           crash server <node> (0.. or n0..): it loses everything but its disk
restart <node>        bring a killed server back from its disk (term, vote, log)
status                every server's role, term, commit index and log length
sleep <ms>            wait, e.g. to let an election happen in a script
help                  this list
quit                  stop the cluster and leave (end of input does the same)
Keys and values are single words without control characters. Lines starting with # are ignored.";

// ANCHOR: parse
/// Understands one line for a cluster of `servers` servers. `Ok(None)` for a blank line or a
/// `#` comment.
pub fn parse(line: &str, servers: usize) -> Result<Option<ConsoleCommand>, ParseError> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&first, args)) = words.split_first() else {
        return Ok(None);
    };
    if first.starts_with('#') {
        return Ok(None);
    }
    let arity = |usage: &'static str, n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(ParseError::Usage {
                usage,
                got: args.len(),
            })
        }
    };
    let command = match first {
        "put" | "append" => {
            let usage = if first == "put" {
                "put <key> <value>"
            } else {
                "append <key> <value>"
            };
            arity(usage, 2)?;
            let key = text("key", args[0], MAX_KEY_BYTES)?;
            let value = text("value", args[1], MAX_VALUE_BYTES)?;
            ConsoleCommand::Kv(if first == "put" {
                KvInput::Put { key, value }
            } else {
                KvInput::Append { key, value }
            })
        }
        "get" => {
            arity("get <key>", 1)?;
            let key = text("key", args[0], MAX_KEY_BYTES)?;
            ConsoleCommand::Kv(KvInput::Get { key })
        }
        "kill" => {
            arity("kill <node>", 1)?;
            ConsoleCommand::Kill(node(args[0], servers)?)
        }
        "restart" => {
            arity("restart <node>", 1)?;
            ConsoleCommand::Restart(node(args[0], servers)?)
        }
        "sleep" => {
            arity("sleep <ms>", 1)?;
            let ms = args[0]
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_SLEEP_MS)
                .ok_or_else(|| ParseError::NotMillis(args[0].to_string()))?;
            ConsoleCommand::Sleep(Duration::from_millis(ms))
        }
        "status" => arity("status", 0).map(|()| ConsoleCommand::Status)?,
        "help" => arity("help", 0).map(|()| ConsoleCommand::Help)?,
        "quit" | "exit" => arity("quit", 0).map(|()| ConsoleCommand::Quit)?,
        other => return Err(ParseError::Unknown(other.to_string())),
    };
    Ok(Some(command))
}
// ANCHOR_END: parse

/// A key or value: no control characters, not too long.
fn text(what: &'static str, word: &str, max: usize) -> Result<String, ParseError> {
    if let Some(ch) = word.chars().find(|c| c.is_control()) {
        return Err(ParseError::ControlCharacter { what, ch });
    }
    if word.len() > max {
        let len = word.len();
        return Err(ParseError::TooLong { what, len, max });
    }
    Ok(word.to_string())
}

/// A server's number, written `3` or `n3`.
fn node(word: &str, servers: usize) -> Result<NodeId, ParseError> {
    let digits = word.strip_prefix('n').unwrap_or(word);
    let not_a_node = || ParseError::NotANode {
        arg: word.to_string(),
        servers,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_node());
    }
    let node = digits.parse::<usize>().map_err(|_| not_a_node())?;
    if node >= servers {
        return Err(ParseError::NoSuchNode { node, servers });
    }
    Ok(NodeId(node))
}

/// Why a well-formed command could not be carried out.
#[derive(Debug)]
pub enum ExecError {
    /// `kill` of a server already killed.
    AlreadyKilled(NodeId),
    /// `restart` of a server that is running.
    AlreadyUp(NodeId),
    /// The client gave up: no answer within its deadline.
    NoAnswer { took: Duration, sends: u32 },
    /// The driver refused (a port that cannot be bound again, for instance).
    Driver(NodeError),
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::AlreadyKilled(id) => write!(f, "{id} is already killed"),
            ExecError::AlreadyUp(id) => write!(f, "{id} is running; kill it first"),
            ExecError::NoAnswer { took, sends } => write!(
                f,
                "no answer after {:.1} s and {sends} sends; the command may or may not have \
                 been applied (is a majority of servers up?)",
                took.as_secs_f64()
            ),
            ExecError::Driver(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ExecError {}

impl From<NodeError> for ExecError {
    fn from(e: NodeError) -> ExecError {
        ExecError::Driver(e)
    }
}

/// Per server, the (role, term) the observer saw last; `None` before its first handler.
type Seen = Arc<Mutex<Vec<Option<(Role, Term)>>>>;

/// A running cluster: `servers` Raft servers and the console client, over TCP on loopback.
pub struct RaftCluster {
    /// The driver's cluster: nodes `0..servers` are servers, node `servers` is the client.
    cluster: tcp::Cluster<RaftNode>,
    /// How many servers.
    servers: usize,
    /// The options it was started with.
    options: ClusterOptions,
    /// What the observer saw last, to report changes only.
    seen: Seen,
}

impl RaftCluster {
    // ANCHOR: start
    /// Starts `servers` Raft servers and a console client on 127.0.0.1, and returns the
    /// cluster with the stream of its [`Event`]s. Must be called inside a tokio runtime.
    pub async fn start(
        servers: usize,
        seed: u64,
        options: ClusterOptions,
    ) -> io::Result<(RaftCluster, mpsc::UnboundedReceiver<Event>)> {
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        if servers == 0 || servers > MAX_SERVERS {
            return Err(invalid(format!(
                "{servers} servers: use 1 to {MAX_SERVERS}"
            )));
        }
        options
            .config
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        let config = options.config.clone();
        let mut nodes: Vec<RaftNode> = (0..servers)
            .map(|i| Server::new(NodeId(i), servers, config.clone()))
            .map(|s| RaftNode::Server(Box::new(ServerNode::new(s, MemStorage::default()))))
            .collect();
        let (retry, deadline) = (options.client_retry_ms, options.client_deadline_ms);
        let client = ConsoleClient::new(NodeId(servers), servers, retry, deadline);
        nodes.push(RaftNode::Client(client));

        let members = Membership {
            servers,
            nodes: servers + 1,
        };
        let seen: Seen = Arc::new(Mutex::new(vec![None; servers]));
        let (events, rx) = mpsc::unbounded_channel();
        let observe = {
            let seen = seen.clone();
            Arc::new(move |id: NodeId, node: &RaftNode| {
                if let Some(server) = node.server() {
                    observe(&seen, &events, id, server);
                }
            })
        };
        // The simulator's restart rule: a crashed server comes back from its disk.
        let restart = Arc::new(move |id: NodeId, disk: Disk| match disk {
            Disk::Server(disk) => {
                let server = Server::restart(id, servers, config.clone(), disk.clone());
                RaftNode::Server(Box::new(ServerNode::new(server, MemStorage::new(disk))))
            }
            Disk::Client => RaftNode::Client(ConsoleClient::new(id, servers, retry, deadline)),
        });
        let hooks = Hooks {
            observe: Some(observe),
            restart: Some(restart),
            validate: Some(validate::validator(members, receiver)),
        };
        let cluster = tcp::Cluster::start_with(nodes, seed, hooks).await?;
        let raft = RaftCluster {
            cluster,
            servers,
            options,
            seen,
        };
        Ok((raft, rx))
    }
    // ANCHOR_END: start

    /// How many servers the cluster has.
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// The client's node.
    pub fn client(&self) -> NodeId {
        NodeId(self.servers)
    }

    /// The address node `id` (a server, or the client) listens on.
    pub fn addr(&self, id: NodeId) -> std::net::SocketAddr {
        self.cluster.addr(id)
    }

    /// The metrics of every node: Raft's counters, and the driver's (`bad_frames.<reason>`
    /// for every refused frame, `handler_panics`, `send_failures`).
    pub fn metrics(&self) -> Metrics {
        self.cluster.metrics()
    }

    /// Whether server `id` stopped because a handler panicked (a bug), rather than by `kill`.
    pub fn has_failed(&self, id: NodeId) -> bool {
        self.cluster.has_failed(id)
    }

    // ANCHOR: submit
    /// Hands `input` to the client and waits for its outcome: the answer with the time it took,
    /// or [`ExecError::NoAnswer`] once the client's deadline has passed.
    pub async fn submit(&self, input: KvInput) -> Result<Outcome, ExecError> {
        let client = self.client();
        let (tx, rx) = oneshot::channel();
        self.cluster.inject(client, move |node, ctx| {
            if let RaftNode::Client(c) = node {
                let _ = tx.send(c.submit(ctx, input));
            }
        })?;
        let seq = rx.await.map_err(|_| NodeError::Down(client))?;
        // The client always finishes by its deadline; the margin covers a slow machine.
        let limit = Instant::now() + Duration::from_millis(self.options.client_deadline_ms * 2);
        loop {
            let outcome = self.cluster.inspect(client, |node| {
                node.client().and_then(|c| c.outcome(seq)).cloned()
            })?;
            match outcome {
                Some(o) if o.output.is_some() => return Ok(o),
                Some(o) => {
                    return Err(ExecError::NoAnswer {
                        took: o.took,
                        sends: o.sends,
                    });
                }
                None if Instant::now() >= limit => {
                    let took = Duration::from_millis(self.options.client_deadline_ms * 2);
                    return Err(ExecError::NoAnswer { took, sends: 0 });
                }
                None => tokio::time::sleep(Duration::from_millis(2)).await,
            }
        }
    }
    // ANCHOR_END: submit

    /// Crashes server `id`.
    pub async fn kill(&mut self, id: NodeId) -> Result<(), ExecError> {
        self.check_server(id)?;
        match self.cluster.kill(id).await {
            Err(NodeError::Down(id)) => Err(ExecError::AlreadyKilled(id)),
            other => Ok(other?),
        }
    }

    /// Restarts killed server `id` from its durable state.
    pub async fn restart(&mut self, id: NodeId) -> Result<(), ExecError> {
        self.check_server(id)?;
        if self.cluster.is_up(id) {
            return Err(ExecError::AlreadyUp(id));
        }
        // Forget what the crashed incarnation was, so that it does not "step down".
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)[id.0] = None;
        Ok(self.cluster.restart(id).await?)
    }

    fn check_server(&self, id: NodeId) -> Result<(), ExecError> {
        if id.0 >= self.servers {
            let nodes = self.servers;
            return Err(ExecError::Driver(NodeError::NoSuchNode { id, nodes }));
        }
        Ok(())
    }

    /// Every server's state now.
    pub fn status(&self) -> Vec<NodeStatus> {
        (0..self.servers)
            .filter_map(|i| {
                let id = NodeId(i);
                let up = self.cluster.is_up(id);
                let status = self.cluster.inspect(id, |node| {
                    node.server().map(|s| NodeStatus {
                        node: id,
                        up,
                        role: s.role(),
                        term: s.current_term(),
                        commit_index: s.commit_index(),
                        log_len: s.log().last_index(),
                        leader: s.leader(),
                    })
                });
                status.ok().flatten()
            })
            .collect()
    }

    /// The running leader with the highest term, if any.
    pub fn leader(&self) -> Option<(NodeId, Term)> {
        self.status()
            .into_iter()
            .filter(|s| s.up && s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| (s.node, s.term))
    }

    /// Waits until a running server leads a term above `after_term`; `None` after `timeout`.
    pub async fn wait_for_leader(
        &self,
        after_term: Term,
        timeout: Duration,
    ) -> Option<(NodeId, Term)> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.leader() {
                Some((id, term)) if term > after_term => return Some((id, term)),
                _ if Instant::now() >= deadline => return None,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }

    // ANCHOR: execute
    /// Carries out one command and returns what to print.
    pub async fn execute(&mut self, command: ConsoleCommand) -> Result<String, ExecError> {
        match command {
            ConsoleCommand::Kv(input) => {
                let outcome = self.submit(input).await?;
                Ok(describe(&outcome))
            }
            ConsoleCommand::Kill(id) => {
                let was_leader = self.leader().is_some_and(|(l, _)| l == id);
                self.kill(id).await?;
                let role = if was_leader {
                    " (it was the leader)"
                } else {
                    ""
                };
                Ok(format!("killed {id}{role}"))
            }
            ConsoleCommand::Restart(id) => {
                self.restart(id).await?;
                Ok(format!(
                    "restarted {id} from its disk; it rejoins as a follower"
                ))
            }
            ConsoleCommand::Status => Ok(self.render_status()),
            ConsoleCommand::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(format!("slept {} ms", d.as_millis()))
            }
            ConsoleCommand::Help => Ok(HELP.to_string()),
            ConsoleCommand::Quit => Ok("bye".to_string()),
        }
    }
    // ANCHOR_END: execute

    /// The `status` table and who leads.
    pub fn render_status(&self) -> String {
        let mut table = Table::new(&["node", "state", "role", "term", "commit", "log", "leader"]);
        let statuses = self.status();
        for s in &statuses {
            let dash = || "-".to_string();
            let role = match s.role {
                Role::Follower => "follower",
                Role::Candidate => "candidate",
                Role::Leader => "leader",
            };
            table.row(vec![
                s.node.to_string(),
                match (s.up, self.has_failed(s.node)) {
                    (true, _) => "up",
                    (false, true) => "failed",
                    (false, false) => "killed",
                }
                .to_string(),
                if s.up { role.to_string() } else { dash() },
                s.term.to_string(),
                if s.up {
                    s.commit_index.to_string()
                } else {
                    dash()
                },
                s.log_len.to_string(),
                match (s.up, s.leader) {
                    (true, Some(l)) => l.to_string(),
                    _ => dash(),
                },
            ]);
        }
        let leader = match self.leader() {
            Some((id, term)) => format!("leader: {id} (term {term})"),
            None => "no running server leads right now".to_string(),
        };
        let up = statuses.iter().filter(|s| s.up).count();
        format!(
            "{}{leader}; {up} of {} servers up (a majority is {})",
            table.render(),
            self.servers,
            self.servers / 2 + 1
        )
    }
}

/// One finished command, for the prompt.
pub fn describe(outcome: &Outcome) -> String {
    let answer = match &outcome.output {
        Some(KvOutput::Ok) => "ok".to_string(),
        Some(KvOutput::Value(Some(v))) => format!("{v:?}"),
        Some(KvOutput::Value(None)) => "(no value)".to_string(),
        None => "(unknown)".to_string(),
    };
    let by = outcome
        .answered_by
        .map_or_else(String::new, |n| format!(", from {n}"));
    let sends = match outcome.sends {
        1 => String::new(),
        n => format!(", {n} sends"),
    };
    let ms = outcome.took.as_secs_f64() * 1e3;
    format!("{answer}  ({ms:.1} ms{by}{sends})")
}

// ANCHOR: observe
/// The observer hook: compares a server's role and term with what was seen last and reports
/// an election started, won, or a leader stepping down.
fn observe(seen: &Seen, events: &mpsc::UnboundedSender<Event>, id: NodeId, server: &Server) {
    let now = (server.role(), server.current_term());
    let before = seen.lock().unwrap_or_else(PoisonError::into_inner)[id.0].replace(now);
    if before == Some(now) {
        return;
    }
    let (node, term) = (id, now.1);
    let event = match (before.map(|b| b.0), now.0) {
        (_, Role::Candidate) => Event::Candidate { node, term },
        (_, Role::Leader) => Event::Leader { node, term },
        (Some(Role::Leader), Role::Follower) => Event::SteppedDown { node, term },
        _ => return,
    };
    let _ = events.send(event); // nobody listening is fine
}
// ANCHOR_END: observe

/// What kind of node a process is, for the message check ([`validate::check`]).
pub fn receiver(node: &RaftNode) -> Receiver<'_> {
    match node.server() {
        Some(server) => Receiver::Server(server),
        None => Receiver::Client,
    }
}
