//! A server of the store: replica of the keys the ring gives it, coordinator of any request a
//! client sends it, stand-in for unreachable owners, and anti-entropy partner.
//!
//! This file holds the state, the configuration and the replica side (what a server does with
//! a `Write`, `Read` or `Repair`). The coordinator side is in [`super::coordinator`]; hinted
//! handoff and Merkle anti-entropy are in [`super::repair`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::coordinator::Pending;
use super::message::StoreMsg;
use super::quorum::Quorum;
use super::ring::{Key, Ring};
use super::version::Siblings;
use crate::sim::{Ctx, NodeId, TimerId};

/// Checks a coordinator's requests for deadlines.
pub const TICK: TimerId = TimerId(0);
/// Starts one anti-entropy exchange.
pub const ANTI_ENTROPY: TimerId = TimerId(1);
/// Offers held hints to their owners.
pub const HINTS: TimerId = TimerId(2);

// ANCHOR: config
/// How the store behaves; the same for every server.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Replicas per key and quorum sizes.
    pub quorum: Quorum,
    /// Sloppy quorums: after `stand_in_after`, unanswered owners are replaced by the next
    /// servers of the extended preference list, which keep the write as a hint.
    pub sloppy: bool,
    /// How long a coordinator waits for an owner before asking a stand-in.
    pub stand_in_after: Duration,
    /// How long a coordinator waits for a quorum before answering `Failed`.
    pub request_timeout: Duration,
    /// After a read, push the merged versions to the replicas whose replies lacked some.
    pub read_repair: bool,
    /// Start a Merkle exchange of one range this often (`None`: no anti-entropy).
    pub anti_entropy_every: Option<Duration>,
    /// Leaves of each range's Merkle tree (a power of two).
    pub merkle_leaves: usize,
    /// Offer hints to their owners this often.
    pub hint_retry_every: Duration,
}
// ANCHOR_END: config

impl StoreConfig {
    /// Rejects settings the store cannot run with.
    pub fn validate(&self, servers: usize) -> Result<(), String> {
        self.quorum.validate()?;
        if self.quorum.n > servers {
            return Err(format!(
                "n = {} replicas but only {servers} servers",
                self.quorum.n
            ));
        }
        if !self.merkle_leaves.is_power_of_two() {
            return Err(format!(
                "merkle_leaves = {} is not a power of two",
                self.merkle_leaves
            ));
        }
        let zero = [
            self.stand_in_after,
            self.request_timeout,
            self.hint_retry_every,
        ];
        if zero.iter().any(Duration::is_zero) || self.anti_entropy_every == Some(Duration::ZERO) {
            return Err("every period and timeout must be positive".to_string());
        }
        Ok(())
    }
}

/// What a server keeps on disk: it survives crashes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Disk {
    /// The versions of each key this server owns (is in the preference list of).
    pub store: BTreeMap<Key, Siblings>,
    /// Versions held for an unreachable owner: `(owner, key)`.
    pub hints: BTreeMap<(usize, Key), Siblings>,
    /// The largest value this server has put in its own entry of a vector clock.
    pub counter: u64,
}

/// A server of the store.
#[derive(Clone, Debug)]
pub struct Server {
    pub(super) id: usize,
    pub(super) servers: usize,
    pub(super) ring: Arc<Ring>,
    pub(super) config: Arc<StoreConfig>,
    /// Durable state.
    pub disk: Disk,
    /// Requests this server coordinates, by operation number. Lost in a crash.
    pub(super) pending: BTreeMap<u64, Pending>,
    pub(super) next_op: u64,
    /// Whether the `TICK` timer is set. Invariant: set whenever `pending` is not empty.
    pub(super) ticking: bool,
    /// Which of its ranges this server compares next.
    pub(super) ae_cursor: usize,
}

impl Server {
    /// Server `id` of `servers`, starting from `disk` (empty for a new server).
    pub fn new(
        id: usize,
        servers: usize,
        ring: Arc<Ring>,
        config: Arc<StoreConfig>,
        disk: Disk,
    ) -> Server {
        Server {
            id,
            servers,
            ring,
            config,
            disk,
            pending: BTreeMap::new(),
            next_op: 0,
            ticking: false,
            ae_cursor: id,
        }
    }

    /// The owners of `key`.
    pub(super) fn owners(&self, key: Key) -> Vec<usize> {
        self.ring.preference_list(key, self.config.quorum.n)
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        if let Some(every) = self.config.anti_entropy_every {
            // Servers start their rounds at different times.
            let first = every.mul_f64((self.id as f64 + 1.0) / self.servers as f64);
            ctx.set_timer(ANTI_ENTROPY, first);
        }
        ctx.set_timer(HINTS, self.config.hint_retry_every);
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, StoreMsg>, timer: TimerId) {
        match timer {
            TICK => self.tick(ctx),
            ANTI_ENTROPY => self.start_anti_entropy(ctx),
            HINTS => self.offer_hints(ctx),
            other => unreachable!("unknown timer {other:?}"),
        }
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, StoreMsg>, from: NodeId, msg: StoreMsg) {
        match msg {
            StoreMsg::Get { req, key } => self.coordinate_get(ctx, from, req, key),
            StoreMsg::Put {
                req,
                key,
                value,
                context,
            } => self.coordinate_put(ctx, from, req, key, value, &context),
            StoreMsg::Write {
                op,
                key,
                siblings,
                hint,
            } => self.on_write(ctx, from, op, key, &siblings, hint),
            StoreMsg::WriteAck { op } => self.on_write_ack(ctx, from, op),
            StoreMsg::Read { op, key } => self.on_read(ctx, from, op, key),
            StoreMsg::ReadReply { op, siblings } => self.on_read_reply(ctx, from, op, siblings),
            StoreMsg::Repair { key, siblings } => {
                if self.owners(key).contains(&self.id) {
                    let stored = self.disk.store.entry(key).or_default();
                    if stored.merge(&siblings) {
                        ctx.count("read_repairs_applied");
                    }
                }
            }
            StoreMsg::Handoff { key, siblings } => self.on_handoff(ctx, from, key, siblings),
            StoreMsg::HandoffAck { key, digest } => self.on_handoff_ack(from, key, digest),
            StoreMsg::AeCompare {
                range,
                level,
                hashes,
            } => self.on_ae_compare(ctx, from, range, level, &hashes),
            StoreMsg::AeLeaves {
                range,
                leaves,
                items,
                reply,
            } => self.on_ae_leaves(ctx, from, range, &leaves, items, reply),
            StoreMsg::GetOk { .. } | StoreMsg::PutOk { .. } | StoreMsg::Failed { .. } => {
                ctx.count("server_got_client_reply");
            }
        }
    }

    // ANCHOR: replica
    /// A coordinator's write: merge the versions into the store, or into the hints when this
    /// server stands in for `hint`; then acknowledge.
    fn on_write(
        &mut self,
        ctx: &mut Ctx<'_, StoreMsg>,
        from: NodeId,
        op: u64,
        key: Key,
        siblings: &Siblings,
        hint: Option<usize>,
    ) {
        match hint {
            Some(owner) if owner < self.servers && owner != self.id => {
                ctx.count("hinted_writes");
                self.disk
                    .hints
                    .entry((owner, key))
                    .or_default()
                    .merge(siblings);
            }
            _ => {
                self.disk.store.entry(key).or_default().merge(siblings);
            }
        }
        ctx.send(from, StoreMsg::WriteAck { op });
    }

    /// A coordinator's read: everything held for `key`, hints included.
    fn on_read(&mut self, ctx: &mut Ctx<'_, StoreMsg>, from: NodeId, op: u64, key: Key) {
        let mut siblings = self.disk.store.get(&key).cloned().unwrap_or_default();
        for ((_, k), held) in &self.disk.hints {
            if *k == key {
                siblings.merge(held);
            }
        }
        ctx.send(from, StoreMsg::ReadReply { op, siblings });
    }
    // ANCHOR_END: replica
}
