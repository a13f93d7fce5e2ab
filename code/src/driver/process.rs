//! One Raft server per OS process: the `raft-node` binary, with its disk in a real file.
//!
//! Chapter 10's live cluster runs every server as a task of one process, and "crash" there
//! means aborting a task whose memory the driver keeps. Here each server is an operating-system
//! process of its own, and a crash is `kill -9`: the process's memory is gone, and what it
//! comes back with is what its data directory holds, nothing else. That is the test Jepsen puts
//! databases to, and the one a simulator snapshot cannot fake.
//!
//! A node process ([`run`], behind [`NodeArgs`]' flags):
//!
//! 1. opens its write-ahead file `<data>/raft.wal` ([`FileStorage`]) and replays it into the
//!    term, vote, log and snapshot it had persisted, cutting off a torn last record (the
//!    append a kill interrupted) and saying so on standard error;
//! 2. restarts the Raft [`Server`] from that state (a fresh server when the file is new), inside
//!    the `Ready` loop of [`ServerNode`]: after every handler it appends what changed to the file,
//!    `fsync`s, and only then sends;
//! 3. binds 127.0.0.1 port 0, writes the address it got to `<data>/addr` (written to a
//!    temporary name, then renamed, so a reader never sees half an address), and runs the node
//!    over TCP with the driver's frames and Raft's input checks ([`tcp::Standalone`],
//!    [`validate`]), sending to its
//!    peers at the addresses it was given (proxies, in the real-fault test) and answering
//!    clients, which are the nodes after the servers.
//!
//! It runs until killed. A storage error (a full disk, a failed `fsync`) stops the server from
//! sending anything more (fail-stop), which is safe; the process reports it and exits.
//!
//! Simplifications: a fixed membership given on the command line; no authentication of peers
//! (see chapter 4 for mutual TLS); the node's own clock for timeouts (elections need no
//! synchronised clocks).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;

use super::file_storage::FileStorage;
use super::tcp::{self, Hooks, NodeSpec};
use super::validate::{self, Membership, Receiver};
use crate::coordination::raft::message::Message;
use crate::coordination::raft::storage::ServerNode;
use crate::coordination::raft::{Config, Server};
use crate::sim::{Ctx, NodeId, Process, TimerId};

// ANCHOR: args
/// One Raft server over TCP on 127.0.0.1, persisting to a write-ahead file.
#[derive(Parser, Debug, Clone)]
#[command(name = "raft-node")]
pub struct NodeArgs {
    /// This server's number, from 0.
    #[arg(long)]
    pub id: usize,
    /// Every server's address, comma-separated, in server order (this server's own entry is
    /// not used: it binds 127.0.0.1 port 0 and reports the port in `<data>/addr`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub peers: Vec<SocketAddr>,
    /// Every client's address, comma-separated: clients are the nodes after the servers.
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<SocketAddr>,
    /// The data directory: the write-ahead file, the address file.
    #[arg(long)]
    pub data: PathBuf,
    /// The seed of the server's random stream (election timeouts).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The shortest election timeout, in milliseconds.
    #[arg(long, default_value_t = 150)]
    pub election_min_ms: u64,
    /// The longest election timeout, in milliseconds.
    #[arg(long, default_value_t = 300)]
    pub election_max_ms: u64,
    /// How often a leader sends heartbeats, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Take a snapshot and compact the log once this many applied entries follow the last
    /// snapshot (off when absent); a follower left behind is caught up by `InstallSnapshot`.
    #[arg(long)]
    pub compaction_threshold: Option<u64>,
}
// ANCHOR_END: args

impl NodeArgs {
    /// Checks what clap cannot: the id is a server, addresses are loopback, the timeouts work.
    pub fn validate(&self) -> Result<Config, String> {
        let servers = self.peers.len();
        if self.id >= servers {
            return Err(format!(
                "--id {} is not a server: --peers lists {servers} (ids 0 to {})",
                self.id,
                servers.saturating_sub(1)
            ));
        }
        if let Some(a) = self
            .peers
            .iter()
            .chain(&self.clients)
            .find(|a| !a.ip().is_loopback())
        {
            return Err(format!(
                "{a} is not a loopback address; this node talks to 127.0.0.1 only"
            ));
        }
        let config = Config {
            election_timeout_ms_min: self.election_min_ms,
            election_timeout_ms_max: self.election_max_ms,
            heartbeat_ms: self.heartbeat_ms,
            log_compaction_threshold: self.compaction_threshold,
            ..Config::default()
        };
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }
}

/// A server on its file, as a driver process.
pub struct FileNode(pub ServerNode<FileStorage>);

impl Process for FileNode {
    type Msg = Message;
    /// The disk is the file; the driver never restarts a node in this process.
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.0.on_start(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        self.0.on_message(ctx, from, msg);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        self.0.on_timer(ctx, timer);
    }

    fn durable(&self) {}
}

// ANCHOR: recover
/// Opens the node's write-ahead file and rebuilds its server, with a line saying what was
/// recovered (and what torn tail was cut off).
pub fn recover(args: &NodeArgs, config: Config) -> Result<(FileNode, String), String> {
    fs::create_dir_all(&args.data).map_err(|e| format!("{}: {e}", args.data.display()))?;
    let storage = FileStorage::open(&args.data).map_err(|e| e.to_string())?;
    let disk = storage.contents().clone();
    let r = storage.recovery();
    let mut line = format!(
        "n{}: recovered term {}, vote {:?}, log up to {} ({} records, {} bytes) from {}",
        args.id,
        disk.current_term,
        disk.voted_for.map(|v| v.0),
        disk.log.last_index(),
        r.records,
        r.valid_bytes,
        FileStorage::path(&args.data).display()
    );
    if let Some(torn) = &r.truncated {
        line += &format!(
            "; cut off a torn last record of {} bytes at offset {}",
            torn.bytes, torn.offset
        );
    }
    let server = Server::restart(NodeId(args.id), args.peers.len(), config, disk);
    Ok((FileNode(ServerNode::new(server, storage)), line))
}
// ANCHOR_END: recover

/// Writes `addr` to `<data>/addr` atomically (temporary file, then rename).
fn publish_addr(data: &Path, addr: SocketAddr) -> Result<(), String> {
    let tmp = data.join("addr.tmp");
    fs::write(&tmp, addr.to_string()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, data.join("addr")).map_err(|e| format!("{}: {e}", data.display()))
}

// ANCHOR: run
/// Runs the node until the process is killed; returns only on an error.
pub async fn run(args: NodeArgs) -> Result<(), String> {
    let config = args.validate()?;
    let (node, recovered) = recover(&args, config)?;
    eprintln!("{recovered}");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot bind 127.0.0.1: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut addrs = args.peers.clone();
    addrs.extend(&args.clients);
    let spec = NodeSpec {
        id: NodeId(args.id),
        addrs,
        seed: args.seed,
        incarnation: 0,
    };
    // The driver's checks of every frame, with Raft's rules for who may send what.
    let members = Membership {
        servers: args.peers.len(),
        nodes: spec.addrs.len(),
    };
    let hooks = Hooks {
        validate: Some(validate::validator(members, |n: &FileNode| {
            Receiver::Server(&n.0.server)
        })),
        ..Hooks::default()
    };
    let node = tcp::Standalone::start(spec, listener, node, hooks)
        .map_err(|e| format!("cannot start the node: {e}"))?;
    publish_addr(&args.data, local)?;
    eprintln!("n{}: listening on {local}", args.id);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(why) = node.inspect(|n| n.0.failed.clone()) {
            return Err(format!("n{}: {why}; stopping", args.id));
        }
        if !node.is_running() {
            return Err(format!("n{}: the event loop stopped", args.id));
        }
    }
}
// ANCHOR_END: run

/// The node's `main`: parses flags (clap prints usage and exits on bad ones), runs, and turns
/// an error into a message and exit status 1.
pub fn main_with(args: NodeArgs) -> std::process::ExitCode {
    let runtime = match crate::experiment::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
