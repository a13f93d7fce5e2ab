//! The transactional outbox, its relay, the broker, and the idempotent consumer, on SQLite.
//!
//! The dual-write problem: a service that must both change its database and tell other
//! services about it cannot do the two atomically, because the database and the message broker
//! share no transaction. Write first and crash before publishing, and the event is lost;
//! publish first and crash before committing, and the world hears of a change that never
//! happened. The outbox removes the second write from the request path: the event is inserted
//! into an `outbox` table *in the same local transaction* as the state change ([`place_order`]),
//! so both commit or neither does. A separate relay ([`relay_once`]) reads unpublished rows,
//! publishes them, and then marks them published. A crash between those two steps publishes the
//! row again after the restart: the relay is *at least once*, never at most once.
//!
//! The consumer makes that harmless ([`consume_once`]): in one local transaction it checks the
//! `processed` table for the message's id, applies the effect, and records the id. A redelivered
//! message finds its id and has no second effect; a crash before the commit rolls back effect
//! and id together, and the message is delivered again. At-least-once delivery plus an
//! idempotent consumer gives *effectively once* processing: each effect is applied exactly once,
//! although some messages are delivered more than once.
//!
//! The broker is an in-process log ([`Broker`]) with one committed offset per consumer group,
//! like a single-partition Kafka topic. It is not a process of ours, so our crashes do not touch
//! it; a consumer commits its offset (`ack`) only after its database commit, so a crash between
//! the two redelivers the message. Invariant: every message of the log carries the id of an
//! outbox row, and a consumer's offset never passes a message it has not committed.

use rusqlite::{Connection, OptionalExtension, Transaction};

use super::crash::{Crasher, Halt};

/// A message: the outbox row's id (the idempotency key) and its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub body: String,
}

/// An in-process message log with a committed offset per consumer group.
#[derive(Clone, Debug, Default)]
pub struct Broker {
    /// Every message ever published, duplicates included, in publication order.
    pub log: Vec<Message>,
    /// The next offset each consumer group will read.
    offsets: std::collections::BTreeMap<String, usize>,
}

impl Broker {
    pub fn publish(&mut self, message: Message) {
        self.log.push(message);
    }

    /// The next message for `group`, if any; it stays next until [`Broker::ack`].
    pub fn fetch(&self, group: &str) -> Option<Message> {
        let offset = self.offsets.get(group).copied().unwrap_or(0);
        self.log.get(offset).cloned()
    }

    /// Commits `group`'s offset past the message it fetched.
    pub fn ack(&mut self, group: &str) {
        *self.offsets.entry(group.to_string()).or_default() += 1;
    }

    /// Whether `group` has read every message.
    pub fn caught_up(&self, group: &str) -> bool {
        self.fetch(group).is_none()
    }
}

// ANCHOR: place_order
/// The order service's request handler: the order row and its outbox row in one transaction.
/// A retried request (same `order` id) changes nothing: the id is the client's idempotency key.
pub fn place_order(conn: &mut Connection, order: u64, crash: &mut Crasher) -> Result<(), Halt> {
    let tx = conn.transaction()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO orders (id, item) VALUES (?1, 'book')",
        [order as i64],
    )?;
    if inserted == 1 {
        crash.point("order: order row written, outbox row not")?;
        let id = format!("order-{order}");
        enqueue(&tx, &id, &format!("{order} placed"))?;
    }
    tx.commit()?;
    crash.point("order: committed, client not answered")?;
    Ok(())
}

// ANCHOR: dual_write
/// The dual write, for contrast: commit the order, then publish its event. A crash between the
/// two loses the event for good: the retried request finds the order and does nothing.
pub fn place_order_dual_write(
    conn: &Connection,
    broker: &mut Broker,
    order: u64,
    crash: &mut Crasher,
) -> Result<(), Halt> {
    let inserted = conn.execute(
        "INSERT OR IGNORE INTO orders (id, item) VALUES (?1, 'book')",
        [order as i64],
    )?;
    crash.point("dual write: committed, not published")?;
    if inserted == 1 {
        let body = format!("{order} placed");
        broker.publish(Message {
            id: format!("order-{order}"),
            body,
        });
    }
    Ok(())
}
// ANCHOR_END: dual_write

/// Adds a message to the outbox, inside the caller's transaction.
pub fn enqueue(tx: &Transaction, id: &str, body: &str) -> rusqlite::Result<()> {
    tx.execute("INSERT INTO outbox (id, body) VALUES (?1, ?2)", [id, body])?;
    Ok(())
}
// ANCHOR_END: place_order

// ANCHOR: relay
/// One pass of the relay: publish every unpublished outbox row, oldest first, then mark it.
/// Returns how many rows it published.
pub fn relay_once(
    conn: &Connection,
    broker: &mut Broker,
    crash: &mut Crasher,
) -> Result<u64, Halt> {
    let mut select =
        conn.prepare("SELECT seq, id, body FROM outbox WHERE published = 0 ORDER BY seq")?;
    let pending: Vec<(i64, Message)> = select
        .query_map([], |r| {
            let message = Message {
                id: r.get(1)?,
                body: r.get(2)?,
            };
            Ok((r.get(0)?, message))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut published = 0;
    for (seq, message) in pending {
        crash.point("relay: row read, not published")?;
        broker.publish(message);
        // A crash here publishes the row again after the restart: at least once.
        crash.point("relay: published, not marked")?;
        conn.execute("UPDATE outbox SET published = 1 WHERE seq = ?1", [seq])?;
        published += 1;
    }
    Ok(published)
}
// ANCHOR_END: relay

// ANCHOR: apply_once
/// The idempotent consumer's core, inside the caller's transaction: if `message` was not
/// processed yet, run `effect` and record the id; returns whether the effect ran.
pub fn apply_once<F>(tx: &Transaction, message: &Message, effect: F) -> rusqlite::Result<bool>
where
    F: FnOnce(&Transaction, &Message) -> rusqlite::Result<()>,
{
    let seen = tx
        .query_row(
            "SELECT 1 FROM processed WHERE id = ?1",
            [&message.id],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if seen {
        return Ok(false);
    }
    effect(tx, message)?;
    tx.execute("INSERT INTO processed (id) VALUES (?1)", [&message.id])?;
    Ok(true)
}
// ANCHOR_END: apply_once

/// What one delivery did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// First delivery: the effect was applied.
    Applied,
    /// A redelivery of a processed message: nothing changed.
    Duplicate,
}

// ANCHOR: consume_once
/// One delivery to consumer group `group`: fetch, dedup and apply in one transaction, commit,
/// then ack. Returns `None` when the group has read everything.
pub fn consume_once<F>(
    conn: &mut Connection,
    broker: &mut Broker,
    group: &str,
    crash: &mut Crasher,
    effect: F,
) -> Result<Option<Delivery>, Halt>
where
    F: FnOnce(&Transaction, &Message) -> rusqlite::Result<()>,
{
    let Some(message) = broker.fetch(group) else {
        return Ok(None);
    };
    let tx = conn.transaction()?;
    let applied = apply_once(&tx, &message, effect)?;
    // A crash here drops `tx`: effect and dedup row roll back together.
    crash.point("consumer: applied, not committed")?;
    tx.commit()?;
    // A crash here redelivers the message: the dedup row makes it a no-op.
    crash.point("consumer: committed, not acked")?;
    broker.ack(group);
    Ok(Some(if applied {
        Delivery::Applied
    } else {
        Delivery::Duplicate
    }))
}
// ANCHOR_END: consume_once
