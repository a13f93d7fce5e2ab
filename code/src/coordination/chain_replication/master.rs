//! The master: the configuration service that removes failed replicas from the chain.
//!
//! Chain replication's failure handling (van Renesse and Schneider 2004, §3) relies on a master
//! that detects failed servers and tells the others the new shape of the chain. Removing a
//! server is enough to stay available: the head's successor becomes head, the tail's predecessor
//! becomes tail, and a middle server's predecessor resends to its new successor the writes it
//! sent but has not seen acknowledged (see `Replica::on_new_chain`).
//!
//! The paper assumes **fail-stop** servers: a server that is removed really has stopped. This
//! master pings every replica each `period` and removes one that has not answered for `timeout`.
//! That is accurate only if `timeout` exceeds any round trip, which holds in our runs (bounded
//! link delays, and replicas answer pings outside their service queue); the tests check that
//! every removed replica had in fact crashed. A removed replica that is alive stops serving
//! (`Replica::removed`), but until it hears of its removal it could answer a read, which is why
//! fail-stop matters.
//!
//! Simplifications: the master itself never fails (the paper replicates it with Paxos); it never
//! adds a replica back (no chain extension); it never removes the last replica.

use std::collections::BTreeMap;
use std::time::Duration;

use super::message::ChainMsg;
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// The master's periodic timer: check for silent replicas, then ping.
pub const TICK: TimerId = TimerId(0);

// ANCHOR: master
/// Detects failed replicas by heartbeat and publishes the chain without them.
#[derive(Clone, Debug)]
pub struct Master {
    /// The current chain, head first. Invariant: never empty.
    pub chain: Vec<NodeId>,
    /// Who hears about new configurations besides the replicas.
    pub clients: Vec<NodeId>,
    /// The current configuration's number; increases with each change.
    pub version: u64,
    /// Time between two rounds of pings.
    pub period: Duration,
    /// A replica silent for longer than this is removed.
    pub timeout: Duration,
    /// When each replica of the chain last answered (or the start, before any answer).
    pub last_heard: BTreeMap<NodeId, Time>,
    /// Every removal: when, and whom.
    pub removed: Vec<(Time, NodeId)>,
}
// ANCHOR_END: master

impl Master {
    /// A master for `chain` whose changes are also sent to `clients`.
    pub fn new(
        chain: Vec<NodeId>,
        clients: Vec<NodeId>,
        period: Duration,
        timeout: Duration,
    ) -> Master {
        assert!(!chain.is_empty(), "a master needs a chain");
        Master {
            chain,
            clients,
            version: 0,
            period,
            timeout,
            last_heard: BTreeMap::new(),
            removed: Vec::new(),
        }
    }

    /// Starts the heartbeat.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        for &r in &self.chain {
            self.last_heard.insert(r, ctx.now());
        }
        self.tick(ctx);
    }

    /// A replica answered a ping.
    pub fn on_pong(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId) {
        if let Some(heard) = self.last_heard.get_mut(&from) {
            *heard = ctx.now();
        }
    }

    // ANCHOR: tick
    /// Removes every replica silent for longer than the timeout, publishes the new chain if it
    /// changed, and pings the replicas still in it.
    pub fn tick(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let now = ctx.now();
        let before = self.chain.clone();
        for r in before.clone() {
            let silent = now.since(self.last_heard[&r]) > self.timeout;
            if silent && self.chain.len() > 1 {
                self.chain.retain(|&n| n != r);
                self.last_heard.remove(&r);
                self.removed.push((now, r));
                ctx.count("replicas_removed");
            }
        }
        if self.chain != before {
            self.version += 1;
            let msg = ChainMsg::NewChain {
                version: self.version,
                chain: self.chain.clone(),
            };
            // The removed replicas hear it too, so that a live one (a wrong suspicion) stops.
            for &to in before.iter().chain(&self.clients) {
                ctx.send(to, msg.clone());
            }
        }
        for &r in &self.chain {
            ctx.send(r, ChainMsg::Ping);
        }
        ctx.set_timer(TICK, self.period);
    }
    // ANCHOR_END: tick
}
