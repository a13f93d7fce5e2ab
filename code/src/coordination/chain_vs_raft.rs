//! Raft under the chain's workload and cost model, for the chapter's comparison.
//!
//! **What it is for.** Chapter 10 compares chain replication and CRAQ with the other way to
//! replicate a store, a Raft log (Ongaro and Ousterhout, USENIX ATC 2014). To make the
//! comparison fair, this module runs the Raft of `uds::coordination::raft`, unchanged,
//! under exactly what the chain runs under (`chain_replication::run`): the same closed-loop clients
//! and [`Workload`] (think time, key mix, appends of unique tokens), the same links, and the
//! same processor model: every message a Raft server receives (client requests,
//! `AppendEntries`, their answers, votes) waits in a [`ServiceQueue`] and costs `service_time`,
//! as every message a chain replica receives does. Sending and timers are free in both.
//!
//! **Two ways to read** ([`RaftReadMode`]):
//! - [`RaftReadMode::Leader`]: a get is a command like any other; the leader appends it to the
//!   log and answers once it is committed and applied (the module's Raft, §8 of the paper: the
//!   simplest linearizable read, no read-index, no leases).
//! - [`RaftReadMode::Follower`]: the client sends a get to a server chosen uniformly at random,
//!   which answers at once from its own applied state, without asking the leader. A follower
//!   learns that an entry is committed only from the leader's next `AppendEntries`, so its state
//!   lags the leader's acknowledgements: such reads can be stale, and the histories are not
//!   linearizable. This is the mode that etcd's and ZooKeeper's "serializable" reads offer
//!   (ZooKeeper: Hunt et al., USENIX ATC 2010, §2.3).
//!
//! Writes always go to the leader. The mode lives in this wrapper, not in the Raft server: a
//! follower read touches only `Server::kv`, so Raft itself needs no change.
//!
//! **Start-up.** To measure the steady state rather than the first election, server 0 starts an
//! election as soon as it starts (as if its first timeout were zero) and wins it within a
//! round trip; the other servers keep their random timeouts (150-300 ms by default) and never
//! fire while the leader's heartbeats arrive. Clients first guess that server 0 leads, and
//! follow redirects otherwise.
//!
//! **Invariants.** After the run drains, every server has applied the same commands to the same
//! state ([`run_raft`] returns an error otherwise). The per-event safety invariants of
//! `raft::invariants` are typed on `raft::KvNode` and are not registered here; the Raft
//! campaigns check them on the same server code.
//!
//! **Where it lives.** Beside `chain_replication` rather than inside it: `chain_replication` is
//! bundled for the Rust playground on its own (`examples/ch10_craq.rs`), and this module needs
//! `coordination::raft` and `coordination::linearizability` as well. The experiment
//! (`examples/ch10_chain.rs`) and its tests (`tests/part2/ch10_compare.rs`) use it.
//!
//! **Simplifications.** No failures; a client resends an unanswered request after
//! [`RETRY_AFTER`] (a request lost in a leader change would otherwise block its client), which
//! never fires in a run with a stable leader.

use std::time::Duration;

use rand::RngExt;

use crate::coordination::chain_replication::client::{THINK, Workload};
use crate::coordination::chain_replication::history::{
    KvInput, Operation, TOKEN_END, with_unanswered,
};
use crate::coordination::chain_replication::run::DRAIN;
use crate::coordination::chain_replication::service::ServiceQueue;
use crate::coordination::linearizability as lin;
use crate::coordination::raft::kv::Command;
use crate::coordination::raft::message::{ClientResponse, Message};
use crate::coordination::raft::{Config, Server};
use crate::sim::{
    Ctx, Exponential, InvariantViolation, LinkConfig, NodeId, Process, Sim, Time, TimerId,
};

/// A server's timer: its processor finished a message. Raft's own timers are 0 and 1.
pub const RAFT_SERVICE: TimerId = TimerId(2);
/// A client's timer: no answer yet, send the request again.
pub const RAFT_RETRY: TimerId = TimerId(1);
/// How long a client waits before sending an unanswered request again.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

// ANCHOR: raft_read_mode
/// Where Raft clients send reads, and who answers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RaftReadMode {
    /// Reads go through the leader's log, like writes: linearizable.
    Leader,
    /// Reads go to a random server, which answers from its applied state: may be stale.
    Follower,
}
// ANCHOR_END: raft_read_mode

/// Everything that determines a Raft run, apart from the seed: the fields of
/// `ChainSetup` that apply to Raft.
#[derive(Clone, Debug)]
pub struct RaftSetup {
    /// Raft servers.
    pub servers: usize,
    /// Closed-loop clients.
    pub clients: usize,
    /// Where reads go.
    pub read_mode: RaftReadMode,
    /// What clients ask.
    pub workload: Workload,
    /// Every link, client-server and server-server alike.
    pub link: LinkConfig,
    /// How long a server's processor takes per message received.
    pub service_time: Duration,
    /// Clients send requests until this much time has passed.
    pub duration: Duration,
    /// The Raft servers' timeouts.
    pub config: Config,
}

impl RaftSetup {
    /// Checks the setup, so that bad input is an error rather than a panic in a run.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("a Raft cluster needs at least one server".to_string());
        }
        if self.clients == 0 {
            return Err("a run needs at least one client".to_string());
        }
        self.workload.validate()?;
        self.config.validate().map_err(|e| e.to_string())?;
        self.link.validate()
    }
}

// ANCHOR: raft_server_node
/// A Raft server behind a processor queue, answering follower reads if asked to.
#[derive(Clone, Debug)]
pub struct QueuedServer {
    /// The unchanged Raft server.
    pub server: Box<Server>,
    /// Messages waiting for the processor; every received message passes through it.
    pub queue: ServiceQueue<Message>,
    /// Whether this server answers gets itself from its applied state.
    pub read_mode: RaftReadMode,
}

impl QueuedServer {
    /// Handles a message whose service is over.
    fn handle(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match msg {
            Message::ClientRequest(Command {
                seq,
                input: lin::KvInput::Get { key },
                ..
            }) if self.read_mode == RaftReadMode::Follower => {
                // A follower read: the local state machine, whatever the leader has committed.
                let value = self.server.kv().get(&key).map(str::to_string);
                let output = lin::KvOutput::Value(value);
                ctx.count("follower_reads");
                ctx.send(
                    from,
                    Message::ClientResponse(ClientResponse::Done { seq, output }),
                );
            }
            msg => self.server.on_message(ctx, from, msg),
        }
    }

    /// Sends what the server queued. No server crashes in these runs, so its disk writes
    /// are dropped (see `raft::storage` for the runtime that persists them first).
    fn flush(&mut self, ctx: &mut Ctx<'_, Message>) {
        let (_writes, messages) = self.server.take_ready().into_parts();
        for (to, msg) in messages {
            ctx.send(to, msg);
        }
    }
}
// ANCHOR_END: raft_server_node

/// The request a Raft client is waiting on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct InFlight {
    /// Its sequence number, the same on every resend (the store's session dedupes).
    seq: u64,
    /// What was asked.
    input: KvInput,
    /// When it was first sent.
    call: Time,
}

// ANCHOR: raft_client
/// A closed-loop client of a Raft cluster, drawing requests as the chain's clients do.
#[derive(Clone, Debug)]
pub struct RaftClient {
    /// This client's node number: servers answer it there, and it names its tokens.
    pub client_id: u64,
    /// The servers are nodes `0..servers`.
    pub servers: usize,
    /// Where reads go.
    pub read_mode: RaftReadMode,
    /// What to ask.
    pub workload: Workload,
    /// The client sends no new request at or after this time.
    pub stop_at: Time,
    /// The server believed to lead.
    pub leader_guess: NodeId,
    /// The sequence number of the latest request. Invariant: at most one in flight.
    pub seq: u64,
    /// The request awaiting its answer.
    in_flight: Option<InFlight>,
    /// Every completed operation, in completion order.
    pub history: Vec<Operation>,
}
// ANCHOR_END: raft_client

impl RaftClient {
    /// Client node `id` of a cluster of `servers`, sending requests until `stop_at`.
    pub fn new(
        id: NodeId,
        servers: usize,
        read_mode: RaftReadMode,
        workload: Workload,
        stop_at: Time,
    ) -> RaftClient {
        assert!(servers > 0, "a client needs a server");
        RaftClient {
            client_id: id.0 as u64,
            servers,
            read_mode,
            workload,
            stop_at,
            leader_guess: NodeId(0),
            seq: 0,
            in_flight: None,
            history: Vec::new(),
        }
    }

    /// The whole history, with the unanswered request (if any) as an operation without output.
    pub fn full_history(&self) -> Vec<Operation> {
        let unanswered = self.in_flight.as_ref().map(|f| (&f.input, f.call));
        with_unanswered(&self.history, self.client_id, unanswered)
    }

    fn think(&mut self, ctx: &mut Ctx<'_, Message>) {
        let mean = self.workload.think_time_mean.as_secs_f64();
        let pause = Duration::from_secs_f64(ctx.rng().sample(Exponential { mean }));
        ctx.set_timer(THINK, pause);
    }

    /// The think time is over: draw the next request exactly as the chain's client does.
    fn on_think_done(&mut self, ctx: &mut Ctx<'_, Message>) {
        if ctx.now() >= self.stop_at {
            return;
        }
        self.seq += 1;
        let key = format!("k{}", ctx.rng().random_range(0..self.workload.keys));
        let is_read = ctx.rng().random_bool(self.workload.read_fraction);
        let input = if is_read {
            KvInput::Get { key }
        } else {
            let value = format!("{}.{}{TOKEN_END}", self.client_id, self.seq);
            KvInput::Append { key, value }
        };
        let call = ctx.now();
        self.in_flight = Some(InFlight {
            seq: self.seq,
            input,
            call,
        });
        self.send_in_flight(ctx);
    }

    /// Sends the request in flight: writes (and leader reads) to the believed leader, follower
    /// reads to a random server.
    fn send_in_flight(&mut self, ctx: &mut Ctx<'_, Message>) {
        let f = self.in_flight.as_ref().expect("a request in flight");
        let to = match (&f.input, self.read_mode) {
            (KvInput::Get { .. }, RaftReadMode::Follower) => {
                NodeId(ctx.rng().random_range(0..self.servers))
            }
            _ => self.leader_guess,
        };
        let command = Command {
            client: self.client_id,
            seq: f.seq,
            input: f.input.clone(),
        };
        ctx.send(to, Message::ClientRequest(command));
        ctx.set_timer(RAFT_RETRY, RETRY_AFTER);
    }

    /// An answer or a redirect.
    fn on_response(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, response: ClientResponse) {
        let current = self.in_flight.as_ref().map(|f| f.seq);
        match response {
            ClientResponse::Done { seq, output } if Some(seq) == current => {
                let f = self.in_flight.take().expect("checked above");
                ctx.cancel_timer(RAFT_RETRY);
                if f.input.is_write() {
                    self.leader_guess = from;
                }
                self.history.push(Operation {
                    client: self.client_id,
                    input: f.input,
                    output: Some(output),
                    call_ns: f.call.0,
                    return_ns: ctx.now().0,
                });
                self.think(ctx);
            }
            ClientResponse::NotLeader { seq, leader } if Some(seq) == current => {
                ctx.count("client_redirects");
                self.leader_guess = leader.unwrap_or(NodeId((from.0 + 1) % self.servers));
                self.send_in_flight(ctx);
            }
            _ => ctx.count("unexpected_responses"),
        }
    }
}

/// A node of a Raft run under the chain's workload.
#[derive(Clone, Debug)]
pub enum RaftNode {
    Server(QueuedServer),
    Client(RaftClient),
}

impl Process for RaftNode {
    type Msg = Message;
    /// Nothing: no server crashes in these runs.
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        match self {
            RaftNode::Server(s) => {
                s.server.on_start(ctx);
                if s.server.id() == NodeId(0) {
                    s.server.become_candidate(ctx); // a leader from the start (module essay)
                }
                s.flush(ctx);
            }
            RaftNode::Client(c) => c.think(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match (self, msg) {
            (RaftNode::Server(s), msg) => {
                if let Some((from, msg)) = s.queue.arrive(ctx, from, msg) {
                    s.handle(ctx, from, msg);
                    s.flush(ctx);
                }
            }
            (RaftNode::Client(c), Message::ClientResponse(r)) => c.on_response(ctx, from, r),
            (RaftNode::Client(_), _) => ctx.count("client_got_raft_message"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match (self, timer) {
            (RaftNode::Server(s), RAFT_SERVICE) => {
                let (from, msg) = s.queue.complete(ctx);
                s.handle(ctx, from, msg);
                s.flush(ctx);
            }
            (RaftNode::Server(s), timer) => {
                s.server.on_timer(ctx, timer);
                s.flush(ctx);
            }
            (RaftNode::Client(c), THINK) => c.on_think_done(ctx),
            (RaftNode::Client(c), RAFT_RETRY) => {
                if c.in_flight.is_some() {
                    ctx.count("client_retries");
                    c.send_in_flight(ctx);
                }
            }
            (RaftNode::Client(_), timer) => unreachable!("unknown client timer {timer:?}"),
        }
    }

    fn durable(&self) {}
}

/// What a Raft run produced, in the terms of `RunOutcome`.
#[derive(Clone, Debug)]
pub struct RaftOutcome {
    /// Every client's operations, by client then completion order.
    pub history: Vec<Operation>,
    /// Messages each server's processor handled while clients were sending (up to
    /// `duration`), server 0 first.
    pub handled: Vec<u64>,
    /// Elections started (1 when the first leader kept its place).
    pub elections: u64,
    /// Requests sent again after [`RETRY_AFTER`].
    pub retries: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

// ANCHOR: build_raft
/// The simulation of `setup` with `seed`: servers `0..servers`, then the clients.
pub fn build_raft(setup: &RaftSetup, seed: u64) -> Result<Sim<RaftNode>, String> {
    setup.validate()?;
    let n = setup.servers;
    let mut nodes: Vec<RaftNode> = (0..n)
        .map(|i| {
            RaftNode::Server(QueuedServer {
                server: Box::new(Server::new(NodeId(i), n, setup.config.clone())),
                queue: ServiceQueue::new(setup.service_time, RAFT_SERVICE),
                read_mode: setup.read_mode,
            })
        })
        .collect();
    let stop_at = Time::ZERO + setup.duration;
    for c in 0..setup.clients {
        let (mode, workload) = (setup.read_mode, setup.workload);
        let client = RaftClient::new(NodeId(n + c), n, mode, workload, stop_at);
        nodes.push(RaftNode::Client(client));
    }
    Ok(Sim::new(seed, setup.link.clone(), nodes))
}
// ANCHOR_END: build_raft

/// Runs `setup` with `seed` until the clients have stopped and the cluster is quiet, then
/// checks that every server applied the same commands.
pub fn run_raft(setup: &RaftSetup, seed: u64) -> Result<RaftOutcome, String> {
    let mut sim = build_raft(setup, seed)?;
    let n = setup.servers;
    let stop = Time::ZERO + setup.duration;
    sim.run_until(stop)
        .map_err(|v: InvariantViolation| v.to_string())?;
    let server = |sim: &Sim<RaftNode>, i: usize| match sim.process(NodeId(i)) {
        Some(RaftNode::Server(s)) => s.clone(),
        _ => unreachable!("node {i} is a server, and servers never crash here"),
    };
    let handled = (0..n).map(|i| server(&sim, i).queue.served).collect();
    // Longer than a heartbeat, so that followers learn the final commit index.
    sim.run_until(stop + DRAIN).map_err(|v| v.to_string())?;
    let first = server(&sim, 0);
    for i in 1..n {
        let other = server(&sim, i);
        if other.server.kv() != first.server.kv() {
            return Err(format!(
                "servers 0 and {i} applied different commands (seed {seed})"
            ));
        }
    }
    let mut history = Vec::new();
    for i in n..sim.node_count() {
        if let Some(RaftNode::Client(c)) = sim.process(NodeId(i)) {
            history.extend(c.full_history());
        }
    }
    let metrics = sim.metrics();
    Ok(RaftOutcome {
        history,
        handled,
        elections: metrics.counter("raft.elections"),
        retries: metrics.counter("client_retries"),
        trace_hash: sim.trace_hash(),
    })
}
