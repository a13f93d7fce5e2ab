//! Exercise: the idempotent consumer's dedup, in the consumer's own transaction.
//!
//! Implement `starter::apply_once`: if `message.id` is not in the `processed` table, run
//! `effect` and insert the id, all inside `tx`; return whether the effect ran. The test
//! delivers messages several times, and rolls one delivery back as a crash would, and checks
//! that every message's effect is applied exactly once.

use rusqlite::Transaction;

use super::outbox::Message;

/// The effect a consumer applies for a message, inside the consumer's transaction.
pub type Effect<'a> = &'a dyn Fn(&Transaction, &Message) -> rusqlite::Result<()>;

/// The reader's version.
pub mod starter {
    use super::*;

    /// Runs `effect` for `message` unless its id is in `processed`; records the id.
    pub fn apply_once(
        tx: &Transaction,
        message: &Message,
        effect: Effect,
    ) -> rusqlite::Result<bool> {
        let _ = (tx, message, effect);
        todo!("look the id up in `processed`; if absent, run the effect and insert the id")
    }
}

/// One answer.
pub mod solution {
    use rusqlite::OptionalExtension;

    use super::*;

    /// Runs `effect` for `message` unless its id is in `processed`; records the id.
    pub fn apply_once(
        tx: &Transaction,
        message: &Message,
        effect: Effect,
    ) -> rusqlite::Result<bool> {
        let seen: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM processed WHERE id = ?1",
                [&message.id],
                |r| r.get(0),
            )
            .optional()?;
        if seen.is_some() {
            return Ok(false);
        }
        effect(tx, message)?;
        tx.execute("INSERT INTO processed (id) VALUES (?1)", [&message.id])?;
        Ok(true)
    }
}

/// The claims, for either version: deliveries `a b a c b a`, plus one delivery of `d` rolled
/// back before it commits and then delivered again, apply each of `a b c d` exactly once.
pub fn check_apply_once(
    apply_once: fn(&Transaction, &Message, Effect) -> rusqlite::Result<bool>,
) -> Result<(), String> {
    let dir = super::db::scratch_dir().map_err(|e| e.to_string())?;
    let mut conn =
        super::db::open(&dir.path().join("consumer.sqlite")).map_err(|e| e.to_string())?;
    let effect: Effect = &|tx, m| super::db::record_effect(tx, &m.id);
    let message = |id: &str| Message {
        id: id.into(),
        body: format!("{id} placed"),
    };
    let mut applied = Vec::new();
    for id in ["a", "b", "a", "c", "b", "a"] {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        applied.push(apply_once(&tx, &message(id), effect).map_err(|e| e.to_string())?);
        tx.commit().map_err(|e| e.to_string())?;
    }
    let expected = [true, true, false, true, false, false];
    if applied != expected {
        return Err(format!("applied {applied:?}, expected {expected:?}"));
    }
    {
        let tx = conn.transaction().map_err(|e| e.to_string())?;
        apply_once(&tx, &message("d"), effect).map_err(|e| e.to_string())?;
        // dropped without commit: the crash rolls back the effect and the dedup row together
    }
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    let again = apply_once(&tx, &message("d"), effect).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())?;
    if !again {
        return Err("after a rolled-back delivery, the redelivery must apply the effect".into());
    }
    let (total, distinct) = super::db::effects(&conn).map_err(|e| e.to_string())?;
    if (total, distinct) != (4, 4) {
        return Err(format!(
            "{total} effects ({distinct} distinct), expected 4 (4 distinct)"
        ));
    }
    Ok(())
}
