//! A Raft cluster on the simulator: servers and clients as one process type, and a builder.
//!
//! The simulator runs one process type per run, so [`KvNode`] is either a Raft [`Server`] or a
//! [`Client`]. Nodes `0..servers` are servers and the rest are clients; a fault schedule or a
//! nemesis drawn for `servers` nodes therefore never touches a client, whose history must
//! survive the run.
//!
//! [`Cluster::build`] assembles a run: the processes, the restart rule (a crashed server comes
//! back from what its [`MemStorage`] holds: exactly what it persisted, see
//! [`storage`](super::storage)), and, when asked, the safety invariants of
//! [`invariants`](super::invariants), checked after every event.

use super::client::Client;
use super::history::{KvInput, KvOutput, Operation};
use super::invariants::add_safety_invariants;
use super::message::Message;
use super::server::{Config, ConfigError, Durable, Server};
use super::storage::{MemStorage, PersistOrder, ServerNode};
use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, TimerId};

/// A node of a Raft run: a server or a client.
#[derive(Clone, Debug)]
pub enum KvNode {
    /// A server on its simulated disk (it dereferences to the [`Server`]).
    Server(Box<ServerNode>),
    Client(Client),
}

/// What a node keeps on disk.
#[derive(Clone, Debug)]
pub enum Disk {
    Server(Durable),
    /// Clients keep nothing; they are never crashed in this book's runs.
    Client,
}

impl Process for KvNode {
    type Msg = Message;
    type Durable = Disk;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        match self {
            KvNode::Server(s) => s.on_start(ctx),
            KvNode::Client(c) => c.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match self {
            KvNode::Server(s) => s.on_message(ctx, from, msg),
            KvNode::Client(c) => c.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        match self {
            KvNode::Server(s) => s.on_timer(ctx, timer),
            KvNode::Client(c) => c.on_timer(ctx, timer),
        }
    }

    fn durable(&self) -> Disk {
        match self {
            KvNode::Server(s) => Disk::Server(s.storage.contents().clone()),
            KvNode::Client(_) => Disk::Client,
        }
    }
}

impl KvNode {
    /// The server, if this node is one.
    pub fn server(&self) -> Option<&Server> {
        match self {
            KvNode::Server(s) => Some(&s.server),
            KvNode::Client(_) => None,
        }
    }

    /// The client, if this node is one.
    pub fn client(&self) -> Option<&Client> {
        match self {
            KvNode::Client(c) => Some(c),
            KvNode::Server(_) => None,
        }
    }
}

// ANCHOR: cluster
/// The shape of a run.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// How many Raft servers (nodes `0..servers`).
    pub servers: usize,
    /// How many clients (the nodes after the servers).
    pub clients: usize,
    /// Operations each client issues.
    pub ops_per_client: usize,
    /// How long a client waits for an answer before retrying, in milliseconds.
    pub client_retry_ms: u64,
    /// How many times a client sends one operation before giving up on it.
    pub client_max_attempts: u32,
    /// The servers' configuration.
    pub config: Config,
    /// Whether to check the safety invariants after every event.
    pub invariants: bool,
    /// The chance that a server's step ends in a crash between its disk write and its sends
    /// (it restarts at once from its disk). 0: never.
    pub crash_between_persist_and_send: f64,
    /// Persist then send (correct), or the planted bug [`PersistOrder::SendFirst`].
    pub persist_order: PersistOrder,
}
// ANCHOR_END: cluster

impl Default for Cluster {
    fn default() -> Cluster {
        Cluster {
            servers: 5,
            clients: 3,
            ops_per_client: 10,
            client_retry_ms: 200,
            client_max_attempts: 10,
            config: Config::default(),
            invariants: true,
            crash_between_persist_and_send: 0.0,
            persist_order: PersistOrder::PersistFirst,
        }
    }
}

impl Cluster {
    /// A run with this shape on links that behave as `link`, from `seed`.
    pub fn build(&self, seed: u64, link: LinkConfig) -> Result<Sim<KvNode>, ConfigError> {
        self.config.validate()?;
        if self.servers == 0 || self.client_max_attempts == 0 {
            return Err(ConfigError::EmptyCluster);
        }
        let servers = self.servers;
        let (order, crash_between) = (self.persist_order, self.crash_between_persist_and_send);
        let node = move |server: Server, disk: Durable| {
            let mut node = ServerNode::new(server, MemStorage::new(disk));
            node.order = order;
            node.crash_between = crash_between;
            KvNode::Server(Box::new(node))
        };
        let mut nodes = Vec::with_capacity(servers + self.clients);
        for i in 0..servers {
            let server = Server::new(NodeId(i), servers, self.config.clone());
            nodes.push(node(server, Durable::empty()));
        }
        for i in servers..servers + self.clients {
            let (ops, retry) = (self.ops_per_client, self.client_retry_ms);
            let client = Client::new(NodeId(i), servers, ops, retry, self.client_max_attempts);
            nodes.push(KvNode::Client(client));
        }
        let mut sim = Sim::new(seed, link, nodes);
        let config = self.config.clone();
        let (ops, retry) = (self.ops_per_client, self.client_retry_ms);
        let attempts = self.client_max_attempts;
        sim.on_restart(move |id, disk| match disk {
            Disk::Server(disk) => node(
                Server::restart(id, servers, config.clone(), disk.clone()),
                disk,
            ),
            // Not used by the book's runs; a restarted client has forgotten its history.
            Disk::Client => KvNode::Client(Client::new(id, servers, ops, retry, attempts)),
        });
        if self.invariants {
            add_safety_invariants(&mut sim, servers);
        }
        Ok(sim)
    }
}

/// Every client's history, concatenated in client order.
pub fn histories(sim: &Sim<KvNode>) -> Vec<Operation<KvInput, KvOutput>> {
    (0..sim.node_count())
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::client))
        .flat_map(Client::history)
        .collect()
}

/// The servers that are up and lead their term, with their terms.
pub fn leaders(sim: &Sim<KvNode>) -> Vec<(NodeId, u64)> {
    (0..sim.node_count())
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::server))
        .filter(|s| s.is_leader())
        .map(|s| (s.id(), s.current_term()))
        .collect()
}

/// The server `id`, unless it is crashed or not a server.
pub fn server(sim: &Sim<KvNode>, id: NodeId) -> Option<&Server> {
    sim.process(id).and_then(KvNode::server)
}
