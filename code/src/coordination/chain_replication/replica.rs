//! One replica of the chain: head, middle or tail, depending on its position.
//!
//! **Writes** (van Renesse and Schneider 2004, §3). The head gives each write the next
//! sequence number, executes it against its own state, and passes the resulting value to its
//! successor in a `Propagate`. Each replica applies the writes in sequence order and passes them
//! on. The tail applies a write, answers the client, and sends an `Ack` back up; each replica
//! marks the write's version clean and passes the `Ack` to its predecessor. The head orders all
//! writes and every replica applies them in that order, so the replicas' histories of applied
//! writes are prefixes of one another, longest at the head and shortest at the tail: the paper's
//! *update propagation invariant* (§3: `Hist_j ⪯ Hist_i` for `i ≤ j`). A write is committed when
//! the tail has applied it, which is exactly when the client hears "ok".
//!
//! **Reads.** With classic chain replication, only the tail answers reads: its state holds
//! exactly the committed writes, so reads are linearizable. With CRAQ, any replica answers using
//! the rule of `versions.rs`. With the naive rule, any replica answers with what it has.
//!
//! **The network is not FIFO here.** The paper assumes FIFO links (TCP). The simulator's links
//! with latency jitter reorder messages, so a replica holds a `Propagate` that arrives ahead of
//! its turn until the writes before it have arrived (like TCP's out-of-order queue), ignores one
//! it has already applied (a duplicate), and treats acknowledgements as idempotent.
//!
//! **Failures** (§3). A master (`master.rs`) removes a crashed replica and sends everyone the
//! new chain ([`Replica::on_new_chain`]). If the head fails, its successor becomes head: writes
//! the old head had not passed on are lost, never acknowledged, and their clients retry. If the
//! tail fails, its predecessor becomes tail and commits the writes it holds: it has every write
//! the old tail had. If a middle replica fails, its predecessor resends to its new successor
//! every write it has not seen acknowledged (its `sent` list, the paper's `Sent_i`), since the
//! successor may lack some; duplicates are ignored by sequence number. Clients retry with the
//! same request id, and every replica remembers each client's latest write, so a new head
//! recognises a retry and answers it once that write is committed instead of applying it twice.
//!
//! **Simplifications.** Replicas fail by crashing and never come back: there is no chain
//! extension (adding a replica at the tail, §3), and no durable state. Clients have one request
//! in flight at a time with increasing ids, so a replica needs only each client's latest id.

use std::collections::BTreeMap;
use std::time::Duration;

use super::history::{KvInput, KvOutput};
use super::message::{ChainMsg, RequestId};
use super::service::ServiceQueue;
use super::versions::{KeyVersions, ReadDecision, ReadRule};
use crate::sim::{Ctx, Fnv64, NodeId, TimerId};

/// The timer of a replica's processor (see `service.rs`).
pub const SERVICE: TimerId = TimerId(0);

/// A write as it travels down the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// Its position in the total order of writes chosen by the head, from 1.
    pub seq: u64,
    /// The key it wrote.
    pub key: String,
    /// The key's value after it.
    pub value: String,
    /// The client to answer, and its request id.
    pub client: NodeId,
    pub id: RequestId,
}

// ANCHOR: replica
/// A replica of a chain.
#[derive(Clone, Debug)]
pub struct Replica {
    /// The chain, head first. Invariant: contains this replica, at `position`.
    pub chain: Vec<NodeId>,
    /// This replica's index in `chain`: 0 is the head, `chain.len() - 1` the tail.
    pub position: usize,
    /// How this replica answers reads (CRAQ's rule or the naive one). The tail's versions are
    /// always clean, so both rules agree there.
    pub read_rule: ReadRule,
    /// The versions of every key written so far.
    pub store: BTreeMap<String, KeyVersions>,
    /// How many writes this replica has applied. Invariant: it applied writes `1..=applied`,
    /// in that order.
    pub applied: u64,
    /// Writes that arrived before their turn, by sequence number.
    /// Invariant: every key is greater than `applied + 1`.
    pub early: BTreeMap<u64, Write>,
    /// `digests[k]`: a hash of the first `k + 1` writes applied, to check that all replicas
    /// apply the same writes in the same order. Invariant: `digests.len() == applied`.
    pub digests: Vec<u64>,
    /// The largest sequence number this replica has marked clean.
    /// Invariant: at most the tail's `applied` (clean means committed).
    pub max_clean: u64,
    /// For each client, its latest write applied here and that write's sequence number. Every
    /// replica keeps it, so that a replica that becomes head recognises a retried write.
    pub last_request: BTreeMap<NodeId, (RequestId, u64)>,
    /// Writes passed to the successor and not yet acknowledged, by sequence number: the paper's
    /// `Sent` list (§3), resent to a new successor when the old one is removed. Empty at the tail.
    pub sent: BTreeMap<u64, Write>,
    /// Head only: retried writes already applied, by sequence number, to answer once committed.
    pub pending_replies: BTreeMap<u64, Vec<(NodeId, RequestId)>>,
    /// The configuration this replica follows (0: the initial chain).
    pub config_version: u64,
    /// Whether the master removed this replica from the chain; it then serves nothing.
    pub removed: bool,
    /// The processor: messages wait here for their turn.
    pub service: ServiceQueue<ChainMsg>,
}
// ANCHOR_END: replica

impl Replica {
    /// Replica number `position` of `chain`, whose processor takes `service_time` per message.
    pub fn new(
        chain: Vec<NodeId>,
        position: usize,
        read_rule: ReadRule,
        service_time: Duration,
    ) -> Replica {
        assert!(
            position < chain.len(),
            "position {position} outside the chain"
        );
        Replica {
            chain,
            position,
            read_rule,
            store: BTreeMap::new(),
            applied: 0,
            early: BTreeMap::new(),
            digests: Vec::new(),
            max_clean: 0,
            last_request: BTreeMap::new(),
            sent: BTreeMap::new(),
            pending_replies: BTreeMap::new(),
            config_version: 0,
            removed: false,
            service: ServiceQueue::new(service_time, SERVICE),
        }
    }

    /// Whether this replica is the head, which orders writes.
    pub fn is_head(&self) -> bool {
        self.position == 0
    }

    /// Whether this replica is the tail, which commits writes and answers classic reads.
    pub fn is_tail(&self) -> bool {
        self.position + 1 == self.chain.len()
    }

    fn head(&self) -> NodeId {
        self.chain[0]
    }

    fn tail(&self) -> NodeId {
        *self.chain.last().expect("a chain has a replica")
    }

    /// The versions of `key` (an unwritten key has one clean, empty version).
    pub fn versions(&self, key: &str) -> KeyVersions {
        self.store.get(key).cloned().unwrap_or_default()
    }

    /// A message arrived: queue it for the processor (or handle it now if service is free).
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        if msg == ChainMsg::Ping {
            // Heartbeats bypass the queue, so that a busy replica is not taken for a dead one.
            ctx.send(from, ChainMsg::Pong);
            return;
        }
        if let Some((from, msg)) = self.service.arrive(ctx, from, msg) {
            self.handle(ctx, from, msg);
        }
    }

    /// The processor finished serving a message: act on it.
    pub fn on_service_done(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let (from, msg) = self.service.complete(ctx);
        self.handle(ctx, from, msg);
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        if self.removed {
            // Out of the chain: its state is no longer kept up to date, so it must not answer.
            ctx.count("messages_to_removed_replicas");
            return;
        }
        match msg {
            ChainMsg::Request { id, input } => self.on_request(ctx, from, id, input),
            ChainMsg::Forward { client, id, input } => self.on_request(ctx, client, id, input),
            ChainMsg::Propagate {
                seq,
                key,
                value,
                client,
                id,
            } => self.on_propagate(
                ctx,
                Write {
                    seq,
                    key,
                    value,
                    client,
                    id,
                },
            ),
            ChainMsg::Ack { seq, key } => self.on_ack(ctx, seq, key),
            ChainMsg::VersionQuery { key, client, id } => {
                // Only the tail is asked; its clean version is its latest, committed write.
                assert!(self.is_tail(), "version query sent to a non-tail replica");
                let seq = self.store.get(&key).map_or(0, |k| k.clean().seq);
                ctx.send(
                    from,
                    ChainMsg::VersionReply {
                        key,
                        seq,
                        client,
                        id,
                    },
                );
            }
            ChainMsg::VersionReply {
                key,
                seq,
                client,
                id,
            } => self.read(ctx, client, id, &key, Some(seq)),
            ChainMsg::NewChain { version, chain } => self.on_new_chain(ctx, version, chain),
            ChainMsg::Response { .. } | ChainMsg::Ping | ChainMsg::Pong => {
                ctx.count("replica_got_unexpected_message");
            }
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        input: KvInput,
    ) {
        match input {
            KvInput::Get { key } => self.read(ctx, client, id, &key, None),
            write if !self.is_head() => {
                // Clients send writes to the head; pass a misdirected one on rather than fail it.
                ctx.count("misdirected_writes");
                let msg = ChainMsg::Forward {
                    client,
                    id,
                    input: write,
                };
                ctx.send(self.head(), msg);
            }
            write => self.start_write(ctx, client, id, write),
        }
    }

    // ANCHOR: read
    /// Answers a read of `key` for `client`, or asks the tail first if the rule says so.
    fn read(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        key: &str,
        tail_committed: Option<u64>,
    ) {
        let unwritten = KeyVersions::default();
        let versions = self.store.get(key).unwrap_or(&unwritten);
        match (self.read_rule)(versions, tail_committed) {
            ReadDecision::Answer(value) => {
                ctx.count(if tail_committed.is_some() {
                    "reads_after_version_query"
                } else {
                    "reads_answered_locally"
                });
                let output = KvOutput::Value(value);
                ctx.send(client, ChainMsg::Response { id, output });
            }
            ReadDecision::AskTail => {
                assert!(
                    tail_committed.is_none(),
                    "the read rule asked the tail again after the tail had answered"
                );
                assert!(
                    !self.is_tail(),
                    "the read rule asked the tail to ask itself"
                );
                let key = key.to_string();
                ctx.send(self.tail(), ChainMsg::VersionQuery { key, client, id });
            }
        }
    }
    // ANCHOR_END: read

    // ANCHOR: start_write
    /// The head orders a client's write: next sequence number, executed here, then applied.
    fn start_write(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        input: KvInput,
    ) {
        if let Some(&(last, seq)) = self.last_request.get(&client)
            && id <= last
        {
            ctx.count("duplicate_writes");
            if id == last {
                // A retry of a write already ordered: answer it once it is committed.
                if seq <= self.max_clean {
                    ctx.send(client, ChainMsg::write_done(id));
                } else {
                    self.pending_replies
                        .entry(seq)
                        .or_default()
                        .push((client, id));
                }
            }
            return;
        }
        let (key, value) = match input {
            KvInput::Put { key, value } => (key, value),
            KvInput::Append { key, value } => {
                let old = self.store.get(&key).and_then(|k| k.latest().value.clone());
                let new = old.unwrap_or_default() + &value;
                (key, new)
            }
            KvInput::Get { .. } => unreachable!("reads are not writes"),
        };
        // The head has applied every write it ordered, so the next number is `applied + 1`.
        let seq = self.applied + 1;
        self.apply(
            ctx,
            Write {
                seq,
                key,
                value,
                client,
                id,
            },
        );
    }
    // ANCHOR_END: start_write

    // ANCHOR: on_propagate
    /// A write from the predecessor: apply it in sequence order, holding early ones back.
    fn on_propagate(&mut self, ctx: &mut Ctx<'_, ChainMsg>, write: Write) {
        if self.is_head() {
            // From a predecessor that was removed: the head now orders writes itself.
            ctx.count("propagates_from_removed_replicas");
            return;
        }
        if write.seq <= self.applied {
            ctx.count("duplicate_propagates");
            return;
        }
        self.early.insert(write.seq, write);
        while let Some(next) = self.early.remove(&(self.applied + 1)) {
            self.apply(ctx, next);
        }
    }

    /// Applies the next write: a dirty version here, then down the chain, or, at the tail,
    /// committed, answered and acknowledged up the chain.
    fn apply(&mut self, ctx: &mut Ctx<'_, ChainMsg>, w: Write) {
        assert_eq!(w.seq, self.applied + 1, "writes applied out of order");
        self.applied = w.seq;
        let mut digest = Fnv64(self.digests.last().copied().unwrap_or(Fnv64::default().0));
        digest.u64(w.seq);
        digest.bytes(w.key.as_bytes());
        digest.bytes(w.value.as_bytes());
        self.digests.push(digest.0);
        self.last_request.insert(w.client, (w.id, w.seq));
        let is_tail = self.is_tail();
        let versions = self.store.entry(w.key.clone()).or_default();
        versions.push_dirty(w.seq, Some(w.value.clone()));
        if is_tail {
            versions.commit(w.seq);
            self.max_clean = w.seq;
            ctx.send(w.client, ChainMsg::write_done(w.id));
            if let Some(&predecessor) = self.position.checked_sub(1).map(|p| &self.chain[p]) {
                ctx.send(
                    predecessor,
                    ChainMsg::Ack {
                        seq: w.seq,
                        key: w.key,
                    },
                );
            }
        } else {
            let successor = self.chain[self.position + 1];
            ctx.send(successor, propagate(&w));
            self.sent.insert(w.seq, w);
        }
    }
    // ANCHOR_END: on_propagate

    // ANCHOR: on_ack
    /// The tail committed write `seq`: mark it clean here and tell the predecessor.
    fn on_ack(&mut self, ctx: &mut Ctx<'_, ChainMsg>, seq: u64, key: String) {
        assert!(
            seq <= self.applied,
            "ack for write {seq}, never applied here"
        );
        let versions = self
            .store
            .get_mut(&key)
            .expect("an acknowledged key was written here");
        versions.commit(seq);
        self.max_clean = self.max_clean.max(seq);
        // The tail commits in sequence order: every write up to `seq` is committed.
        self.sent = self.sent.split_off(&(seq + 1));
        self.answer_pending(ctx);
        if let Some(p) = self.position.checked_sub(1) {
            ctx.send(self.chain[p], ChainMsg::Ack { seq, key });
        }
    }
    // ANCHOR_END: on_ack

    /// Answers the retried writes whose commit is now known.
    fn answer_pending(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let later = self.pending_replies.split_off(&(self.max_clean + 1));
        let ready = std::mem::replace(&mut self.pending_replies, later);
        for (client, id) in ready.into_values().flatten() {
            ctx.send(client, ChainMsg::write_done(id));
        }
    }

    // ANCHOR: on_new_chain
    /// The master removed a failed replica (§3): adopt the new chain. A new tail commits the
    /// writes it holds, since nobody downstream can still need them; a replica with a new
    /// successor resends every write not yet acknowledged, since the successor may lack them.
    fn on_new_chain(&mut self, ctx: &mut Ctx<'_, ChainMsg>, version: u64, chain: Vec<NodeId>) {
        if version <= self.config_version {
            return;
        }
        self.config_version = version;
        let Some(position) = chain.iter().position(|&n| n == ctx.id()) else {
            self.removed = true;
            return;
        };
        let old_successor = self.chain.get(self.position + 1).copied();
        self.chain = chain;
        self.position = position;
        if self.is_head() {
            // Writes held for their turn came from the removed head and never reached the tail:
            // nobody else has them, and their clients will retry.
            self.early.clear();
        }
        if self.is_tail() {
            for (seq, w) in std::mem::take(&mut self.sent) {
                let versions = self.store.get_mut(&w.key).expect("a sent key was written");
                versions.commit(seq);
                self.max_clean = seq;
                ctx.send(w.client, ChainMsg::write_done(w.id));
                if let Some(p) = self.position.checked_sub(1) {
                    ctx.send(self.chain[p], ChainMsg::Ack { seq, key: w.key });
                }
            }
            self.answer_pending(ctx);
        } else if self.chain.get(self.position + 1).copied() != old_successor {
            let successor = self.chain[self.position + 1];
            for w in self.sent.values() {
                ctx.send(successor, propagate(w));
            }
        }
    }
    // ANCHOR_END: on_new_chain
}

/// The message that carries write `w` to a successor.
fn propagate(w: &Write) -> ChainMsg {
    ChainMsg::Propagate {
        seq: w.seq,
        key: w.key.clone(),
        value: w.value.clone(),
        client: w.client,
        id: w.id,
    }
}
