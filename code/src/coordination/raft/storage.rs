//! Persistence as an effect: what a server must write to disk before it may speak.
//!
//! Raft's safety rests on three things surviving a crash (Figure 2, "Updated on stable storage
//! before responding to RPCs"): the current term, the vote cast in it, and the log, to which
//! this module adds the snapshot (§7). A server that answers a `RequestVote` and then crashes
//! before its vote reached the disk may vote again in the same term after the restart, and two
//! candidates can then win one term; a follower that acknowledges entries it has not stored can
//! make a leader count a replica that a crash erases, and a committed entry can be lost.
//!
//! Like every protocol in this book the server does no I/O: it *describes* what must reach the
//! disk. Each step of a [`Server`] (a message, a timer) changes its state in memory and queues
//! the messages it wants to send; the runtime then calls [`Server::take_ready`], which returns
//! a [`Ready`]: the [`PersistOp`]s that bring the disk up to date with memory, and the messages.
//! The only way to get the messages out of a `Ready` is [`Ready::persist`], which applies the
//! operations to a [`Storage`] first and returns the messages only if that worked: the runtime
//! cannot send what persistence does not cover. This is the shape of etcd's raft library
//! (`Ready`, then `Advance`), with the advance folded into `persist`.
//!
//! Two storages exist. [`MemStorage`] is the simulator's disk: what the simulator hands to a
//! restarted server is its contents, so a crash loses exactly what was not persisted. The TCP
//! driver's file-backed storage (a write-ahead file of checksummed records, synced before the
//! messages go out) implements the same trait.
//!
//! [`ServerNode`] is the runtime loop around one server: run a handler, take the `Ready`,
//! persist, send. Its knobs let the simulator crash a server *between* persisting and sending
//! (the messages are lost, the disk is not), and plant the converse bug, sending before
//! persisting ([`PersistOrder::SendFirst`]), so that a test can show that the order matters.

use std::io;

use super::log::{Entry, LogIndex, Term};
use super::message::Message;
use super::server::{Durable, Server};
use super::snapshot::Snapshot;
use crate::sim::{Ctx, NodeId, TimerId};
use rand::RngExt;

// ANCHOR: persist_op
/// One change to a server's disk. A [`Ready`] lists them in the order they must be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PersistOp {
    /// The term and the vote in it changed (written together: a vote belongs to a term).
    HardState {
        term: Term,
        voted_for: Option<NodeId>,
    },
    /// The log from index `from` on is now `entries`: anything stored at `from` or after is
    /// replaced (an empty `entries` is a truncation). Entries a stored snapshot already covers
    /// are skipped.
    Append { from: LogIndex, entries: Vec<Entry> },
    /// A snapshot (taken or installed) replaces the one stored; the stored log keeps only what
    /// follows it, if it holds the snapshot's last entry, and is emptied otherwise (§7).
    Snapshot(Snapshot),
}
// ANCHOR_END: persist_op

// ANCHOR: ready
/// What one step of a server produced: disk writes, and the messages they allow to send.
#[derive(Debug, Default)]
#[must_use = "a Ready holds messages that are sent only through persist()"]
pub struct Ready {
    ops: Vec<PersistOp>,
    messages: Vec<(NodeId, Message)>,
}

impl Ready {
    /// Applies the disk writes to `storage` and, once it reports them durable, hands back the
    /// messages to send. On an error nothing may be sent: the messages are dropped.
    pub fn persist(self, storage: &mut dyn Storage) -> io::Result<Vec<(NodeId, Message)>> {
        if !self.ops.is_empty() {
            storage.persist(&self.ops)?;
        }
        Ok(self.messages)
    }
    // ANCHOR_END: ready

    /// The disk writes, to look at.
    pub fn ops(&self) -> &[PersistOp] {
        &self.ops
    }

    /// The messages, to look at (send them through [`Ready::persist`]).
    pub fn messages(&self) -> &[(NodeId, Message)] {
        &self.messages
    }

    /// Whether the step changed nothing on disk and sent nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.messages.is_empty()
    }

    /// Splits the `Ready` without persisting. Only for the planted bug
    /// ([`PersistOrder::SendFirst`]) and for tests; a correct runtime uses `persist`.
    pub fn into_parts(self) -> (Vec<PersistOp>, Vec<(NodeId, Message)>) {
        (self.ops, self.messages)
    }
}

impl Server {
    /// Queues `msg` for `to`; it leaves with the next [`Ready`], after the disk writes.
    pub fn send(&mut self, to: NodeId, msg: Message) {
        self.outbox.push((to, msg));
    }

    // ANCHOR: take_ready
    /// Everything this server's last steps produced: what the disk lacks (term and vote, the
    /// changed log suffix, a new snapshot) and the queued messages. Call after every handler.
    pub fn take_ready(&mut self) -> Ready {
        if !self.snapshot_unpersisted {
            self.finish_compaction(); // only once the disk holds the snapshot
        }
        let mut ops = Vec::new();
        let hard = (self.current_term, self.voted_for);
        if hard != self.persisted_hard_state {
            self.persisted_hard_state = hard;
            let (term, voted_for) = hard;
            ops.push(PersistOp::HardState { term, voted_for });
        }
        if std::mem::take(&mut self.snapshot_unpersisted)
            && let Some(snapshot) = &self.snapshot
        {
            ops.push(PersistOp::Snapshot(snapshot.clone()));
        }
        if let Some((from, entries)) = self.log.take_unpersisted() {
            ops.push(PersistOp::Append { from, entries });
        }
        let messages = std::mem::take(&mut self.outbox);
        Ready { ops, messages }
    }
    // ANCHOR_END: take_ready
}

// ANCHOR: storage
/// A server's disk.
pub trait Storage {
    /// Applies `ops` in order; when this returns `Ok`, they survive a crash (a file-backed
    /// storage writes and syncs). An `Err` leaves the server unable to continue safely.
    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()>;

    /// What a restarting server starts from: everything persisted so far.
    fn load(&mut self) -> io::Result<Durable>;
}
// ANCHOR_END: storage

/// The simulator's disk: a [`Durable`] kept up to date by [`PersistOp`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemStorage {
    disk: Durable,
    /// How many `persist` calls wrote something (one sync each on a real disk).
    syncs: u64,
}

impl Default for MemStorage {
    fn default() -> MemStorage {
        MemStorage::new(Durable::empty())
    }
}

impl MemStorage {
    /// A disk holding `disk`.
    pub fn new(disk: Durable) -> MemStorage {
        MemStorage { disk, syncs: 0 }
    }

    /// What the disk holds now.
    pub fn contents(&self) -> &Durable {
        &self.disk
    }

    /// How many times something was written (each would be one fsync on a file).
    pub fn syncs(&self) -> u64 {
        self.syncs
    }
}

impl Storage for MemStorage {
    fn persist(&mut self, ops: &[PersistOp]) -> io::Result<()> {
        for op in ops {
            apply_op(&mut self.disk, op);
        }
        self.syncs += 1;
        Ok(())
    }

    fn load(&mut self) -> io::Result<Durable> {
        Ok(self.disk.clone())
    }
}

/// Applies one operation to a durable state: the meaning of [`PersistOp`], shared by every
/// storage that keeps a [`Durable`] in memory (a file-backed one replays its records with it).
pub fn apply_op(disk: &mut Durable, op: &PersistOp) {
    match op {
        PersistOp::HardState { term, voted_for } => {
            disk.current_term = *term;
            disk.voted_for = *voted_for;
        }
        PersistOp::Append { from, entries } => disk.log.write_from(*from, entries),
        PersistOp::Snapshot(snapshot) => {
            disk.log.install(snapshot.last_index, snapshot.last_term);
            disk.snapshot = Some(snapshot.clone());
        }
    }
}

// ANCHOR: persist_order
/// The order in which a [`ServerNode`] persists and sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PersistOrder {
    /// Write, sync, then send. Correct.
    #[default]
    PersistFirst,
    /// The planted bug: send, then write. Harmless until a crash falls in between; then the
    /// server forgets a vote or entries it already told others about. Only for the test that
    /// shows the campaign catches it.
    SendFirst,
}
// ANCHOR_END: persist_order

/// A server with its disk: the runtime's loop of handler, `Ready`, persist, send.
#[derive(Clone, Debug)]
pub struct ServerNode<S = MemStorage> {
    /// The state machine.
    pub server: Server,
    /// Its disk.
    pub storage: S,
    /// Persist then send (correct), or the planted bug.
    pub order: PersistOrder,
    /// The chance that a step with messages to send ends in a crash between the disk write and
    /// the sends (the server restarts at once from its disk). 0 in normal runs.
    pub crash_between: f64,
    /// Set when the storage failed: the server stops (fail-stop) rather than run on unsafely.
    pub failed: Option<String>,
}

impl<S: Storage> ServerNode<S> {
    /// `server` on `storage`, which must hold what the server was started from.
    pub fn new(server: Server, storage: S) -> ServerNode<S> {
        ServerNode {
            server,
            storage,
            order: PersistOrder::PersistFirst,
            crash_between: 0.0,
            failed: None,
        }
    }

    /// The server starts (or restarts).
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.server.on_start(ctx);
        self.flush(ctx);
    }

    /// One message.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        if self.failed.is_none() {
            self.server.on_message(ctx, from, msg);
            self.flush(ctx);
        }
    }

    /// One timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        if self.failed.is_none() {
            self.server.on_timer(ctx, timer);
            self.flush(ctx);
        }
    }

    // ANCHOR: flush
    /// Takes the server's `Ready`, persists it, sends its messages; or, at a simulated crash
    /// point, loses what a crash there would lose and restarts the server from its disk.
    fn flush(&mut self, ctx: &mut Ctx<'_, Message>) {
        let ready = self.server.take_ready();
        let crash = self.crash_between > 0.0
            && !ready.messages().is_empty()
            && ctx.rng().random_bool(self.crash_between);
        match (self.order, crash) {
            (PersistOrder::PersistFirst, _) => match ready.persist(&mut self.storage) {
                Ok(messages) if !crash => send_all(ctx, messages),
                Ok(_lost) => self.restart(ctx),
                Err(e) => self.failed = Some(format!("storage failed: {e}")),
            },
            (PersistOrder::SendFirst, _) => {
                let (ops, messages) = ready.into_parts();
                send_all(ctx, messages);
                if crash {
                    return self.restart(ctx); // the writes never happen
                }
                if let Err(e) = self.storage.persist(&ops) {
                    self.failed = Some(format!("storage failed: {e}"));
                }
            }
        }
    }
    // ANCHOR_END: flush

    /// A crash at this instant, and an immediate restart from what the disk holds.
    fn restart(&mut self, ctx: &mut Ctx<'_, Message>) {
        ctx.count("raft.crashes_between_persist_and_send");
        let (id, servers) = (self.server.id(), self.server.servers);
        let config = self.server.config().clone();
        match self.storage.load() {
            Ok(disk) => {
                self.server = Server::restart(id, servers, config, disk);
                self.on_start(ctx);
            }
            Err(e) => self.failed = Some(format!("storage failed on restart: {e}")),
        }
    }
}

fn send_all(ctx: &mut Ctx<'_, Message>, messages: Vec<(NodeId, Message)>) {
    for (to, msg) in messages {
        ctx.send(to, msg);
    }
}

impl<S> std::ops::Deref for ServerNode<S> {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl<S> std::ops::DerefMut for ServerNode<S> {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}
