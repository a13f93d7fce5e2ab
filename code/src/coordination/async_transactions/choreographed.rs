//! The choreographed trip saga on SQLite: five services, each an outbox plus an idempotent
//! consumer, talking only through the broker.
//!
//! The order service places a trip (its order row and a `placed` event, one transaction,
//! [`super::outbox::place_order`]). Each of the four participants consumes every event of the
//! log as its own consumer group, and, in one local transaction per delivery, records the
//! message as processed, applies its reaction ([`super::choreography::react`]) to its bookings
//! and puts the event it emits into its own outbox. The relays publish those events, which
//! wake the next service. This is the inbox/outbox pair that makes a choreography
//! crash-safe: whatever a delivery does happens once, whatever it emits is emitted once, and
//! only relays and redeliveries repeat, harmlessly.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction};

use super::bookings;
use super::choreography::{decode, emitted, encode, react};
use super::crash::{Crasher, Halt};
use super::db::open;
use super::orchestrator::refusing_step;
use super::outbox::{Broker, Delivery, Message, consume_once, enqueue, relay_once};
use super::saga::Step;

/// The order service, the four participants, and the broker between them.
pub struct Choreographed {
    dir: PathBuf,
    orders: Connection,
    services: Vec<(Step, Connection)>,
    semantic_lock: bool,
    /// The broker is not one of our processes: it survives their crashes.
    pub broker: Broker,
    /// Redeliveries that found their message already processed (harness counter).
    pub duplicates: u64,
}

// ANCHOR: reaction
/// One participant's handling of one message, inside the consumer's transaction.
fn on_message(tx: &Transaction, me: Step, m: &Message, lock: bool) -> rusqlite::Result<()> {
    let Some((saga, event)) = decode(&m.body) else {
        return Ok(()); // not an event of this saga protocol: nothing to do
    };
    let Some(action) = react(me, &Step::TRIP, event, lock) else {
        return Ok(());
    };
    let refuses = refusing_step(saga) == Some(me);
    let (reply, _) = bookings::handle(tx, me, action, saga, refuses, lock)?;
    if let Some(event) = emitted(me, action, reply) {
        let body = encode(saga, event);
        enqueue(tx, &body, &body)?;
    }
    Ok(())
}
// ANCHOR_END: reaction

impl Choreographed {
    pub fn open(dir: &Path, semantic_lock: bool) -> rusqlite::Result<Choreographed> {
        let services = Step::TRIP
            .iter()
            .map(|&s| Ok((s, open(&dir.join(format!("{}.sqlite", s.name())))?)))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Choreographed {
            dir: dir.to_path_buf(),
            orders: open(&dir.join("orders.sqlite"))?,
            services,
            semantic_lock,
            broker: Broker::default(),
            duplicates: 0,
        })
    }

    /// A crash: every connection dropped and reopened; the broker and counters stay.
    pub fn restart(&mut self) -> rusqlite::Result<()> {
        let broker = std::mem::take(&mut self.broker);
        let duplicates = self.duplicates;
        *self = Choreographed::open(&self.dir.clone(), self.semantic_lock)?;
        self.broker = broker;
        self.duplicates = duplicates;
        Ok(())
    }

    /// The order service's connection (orders and their outbox).
    pub fn orders(&mut self) -> &mut Connection {
        &mut self.orders
    }

    /// Every participant with its connection.
    pub fn services(&self) -> impl Iterator<Item = (Step, &Connection)> {
        self.services.iter().map(|(s, c)| (*s, c))
    }

    /// One round: each relay runs once, then each participant takes one delivery. Returns
    /// whether anything was published or delivered (false: the system is quiet).
    pub fn pump(&mut self, crash: &mut Crasher) -> Result<bool, Halt> {
        let Choreographed {
            orders,
            services,
            broker,
            semantic_lock,
            duplicates,
            ..
        } = self;
        let lock = *semantic_lock;
        let mut progress = relay_once(orders, broker, crash)? > 0;
        for (_, conn) in services.iter() {
            progress |= relay_once(conn, broker, crash)? > 0;
        }
        for (step, conn) in services.iter_mut() {
            let me = *step;
            let handler = |tx: &Transaction, m: &Message| on_message(tx, me, m, lock);
            match consume_once(conn, broker, me.name(), crash, handler)? {
                Some(Delivery::Applied) => progress = true,
                Some(Delivery::Duplicate) => {
                    *duplicates += 1;
                    progress = true;
                }
                None => {}
            }
        }
        Ok(progress)
    }
}
