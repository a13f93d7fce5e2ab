//! The crash campaign behind the chapter's table: the outbox pipeline, the orchestrated saga
//! and the choreographed saga, each crashed at every crash point in turn and under seeded
//! random crash schedules, each run checked for lost events, effects applied twice, and sagas
//! left half done.
//!
//! A run places [`SAGAS`] orders or trips (one of each refusal pattern of
//! [`refusing_step`]), then drives the system round by round until it is quiet; whenever a
//! crash point fires, every component restarts from its database file, and the round is tried
//! again. The client that places orders keeps its own progress, as a real client would retry
//! an unanswered request with the same idempotency key.
//!
//! [`every_step`] first runs with no crash, counting the crash points reached, then runs once
//! per point with a crash at exactly that point. [`random`] runs seeds with a crash at each
//! point with a given probability. Both return summed [`Tally`]s, or the first violation with
//! the schedule that replays it.

use std::path::Path;

use rusqlite::Connection;

use super::bookings::{self, Status};
use super::choreographed::Choreographed;
use super::crash::{Crasher, Halt, Schedule};
use super::db::{effects, open, record_effect};
use super::orchestrator::{Orchestrated, refusing_step};
use super::outbox::{
    Broker, Delivery, Message, consume_once, place_order, place_order_dual_write, relay_once,
};
use super::saga::Step;

/// Orders or trips per run: one refused by each service, and one that commits.
pub const SAGAS: u64 = 5;

/// The three systems of the chapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The broken baseline: commit the order, then publish (no outbox).
    DualWrite,
    /// The other broken baseline: an outbox, but a consumer without a dedup table.
    NoDedup,
    /// Orders through the outbox and relay to an idempotent shipping consumer.
    Outbox,
    /// The trip saga run by an orchestrator with a saga log.
    Orchestrated,
    /// The trip saga choreographed by events through outboxes.
    Choreographed,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::DualWrite,
        Kind::NoDedup,
        Kind::Outbox,
        Kind::Orchestrated,
        Kind::Choreographed,
    ];

    /// The systems that must never lose an event or apply an effect twice.
    pub const SAFE: [Kind; 3] = [Kind::Outbox, Kind::Orchestrated, Kind::Choreographed];

    pub fn name(self) -> &'static str {
        match self {
            Kind::DualWrite => "dual write",
            Kind::NoDedup => "no dedup",
            Kind::Outbox => "outbox",
            Kind::Orchestrated => "orchestrated",
            Kind::Choreographed => "choreographed",
        }
    }
}

/// What runs did, summed. For the orchestrated saga, "messages" are the orchestrator's
/// commands and "duplicates" the commands sent again after a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub runs: u64,
    /// Crash points reached by the crash-free run (only set by [`every_step`]).
    pub points: u64,
    pub crashes: u64,
    /// Messages published to the broker (or commands sent), repeats included.
    pub published: u64,
    /// Distinct messages (or commands).
    pub unique: u64,
    /// Deliveries (or commands) that found their work already done.
    pub duplicates: u64,
    /// Side effects applied (rows of `effects`).
    pub effects: u64,
    /// Side effects applied more than once (must be 0).
    pub twice: u64,
    /// Events never published or never processed (must be 0).
    pub lost: u64,
    pub committed: u64,
    pub compensated: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.runs += o.runs;
        self.crashes += o.crashes;
        self.published += o.published;
        self.unique += o.unique;
        self.duplicates += o.duplicates;
        self.effects += o.effects;
        self.twice += o.twice;
        self.lost += o.lost;
        self.committed += o.committed;
        self.compensated += o.compensated;
    }
}

/// A system that the driver runs round by round and restarts after each crash.
trait System {
    /// One round of work; `Ok(false)` once there is nothing left to do.
    fn round(&mut self, crash: &mut Crasher) -> Result<bool, Halt>;
    /// Drops every connection and reopens it.
    fn restart(&mut self) -> rusqlite::Result<()>;
}

/// The order service, its relay, and a shipping service consuming `placed` events.
struct Shipping {
    orders: Connection,
    shipping: Connection,
    dir: std::path::PathBuf,
    broker: Broker,
    next: u64,
    duplicates: u64,
    /// False: the dual write instead of the outbox.
    outbox: bool,
    /// False: the consumer applies every delivery.
    dedup: bool,
}

/// The consumer without a dedup table, for contrast: every delivery applies its effect.
fn consume_without_dedup(
    conn: &mut Connection,
    broker: &mut Broker,
    crash: &mut Crasher,
) -> Result<Option<Delivery>, Halt> {
    let Some(message) = broker.fetch("shipping") else {
        return Ok(None);
    };
    let tx = conn.transaction()?;
    ship(&tx, &message)?;
    crash.point("consumer: applied, not committed")?;
    tx.commit()?;
    crash.point("consumer: committed, not acked")?;
    broker.ack("shipping");
    Ok(Some(Delivery::Applied))
}

/// The shipping service's effect for an order's event.
fn ship(tx: &rusqlite::Transaction, m: &Message) -> rusqlite::Result<()> {
    record_effect(tx, &format!("ship {}", m.id))
}

impl System for Shipping {
    fn round(&mut self, crash: &mut Crasher) -> Result<bool, Halt> {
        let mut progress = false;
        if self.next < SAGAS {
            if self.outbox {
                place_order(&mut self.orders, self.next, crash)?;
            } else {
                place_order_dual_write(&self.orders, &mut self.broker, self.next, crash)?;
            }
            self.next += 1; // the client got its answer
            progress = true;
        }
        progress |= relay_once(&self.orders, &mut self.broker, crash)? > 0;
        let delivery = if self.dedup {
            consume_once(
                &mut self.shipping,
                &mut self.broker,
                "shipping",
                crash,
                ship,
            )?
        } else {
            consume_without_dedup(&mut self.shipping, &mut self.broker, crash)?
        };
        match delivery {
            Some(Delivery::Duplicate) => {
                self.duplicates += 1;
                progress = true;
            }
            Some(Delivery::Applied) => progress = true,
            None => {}
        }
        Ok(progress)
    }

    fn restart(&mut self) -> rusqlite::Result<()> {
        self.orders = open(&self.dir.join("orders.sqlite"))?;
        self.shipping = open(&self.dir.join("shipping.sqlite"))?;
        Ok(())
    }
}

/// The orchestrator driving every saga one action per round.
struct OrchestratedRun(Orchestrated);

impl System for OrchestratedRun {
    fn round(&mut self, crash: &mut Crasher) -> Result<bool, Halt> {
        let mut progress = false;
        for saga in 0..SAGAS {
            self.0.begin(saga)?;
            progress |= self.0.step(saga, crash)?.is_none();
        }
        Ok(progress)
    }

    fn restart(&mut self) -> rusqlite::Result<()> {
        self.0.restart()
    }
}

/// The choreographed services, with a client placing one trip per round.
struct ChoreographedRun {
    system: Choreographed,
    next: u64,
}

impl System for ChoreographedRun {
    fn round(&mut self, crash: &mut Crasher) -> Result<bool, Halt> {
        let mut progress = false;
        if self.next < SAGAS {
            place_order(self.system.orders(), self.next, crash)?;
            self.next += 1;
            progress = true;
        }
        Ok(self.system.pump(crash)? || progress)
    }

    fn restart(&mut self) -> rusqlite::Result<()> {
        self.system.restart()
    }
}

/// Runs `system` until it is quiet, restarting it after every crash.
fn drive(system: &mut impl System, crash: &mut Crasher) -> Result<(), String> {
    for _ in 0..1_000_000 {
        match system.round(crash) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(Halt::Crash(_)) => system.restart().map_err(|e| format!("reopen: {e}"))?,
            Err(Halt::Db(e)) => return Err(format!("SQLite error: {e}")),
        }
    }
    Err("no end after a million rounds".into())
}

fn sql(e: rusqlite::Error) -> String {
    format!("SQLite error: {e}")
}

/// Counts sagas committed and compensated, and fails on one that is neither, or that ended
/// differently from its plan (committed exactly when no service refuses).
fn outcomes<'a>(
    participants: impl Iterator<Item = (Step, &'a Connection)> + Clone,
) -> Result<(u64, u64), String> {
    let (mut committed, mut compensated) = (0, 0);
    for saga in 0..SAGAS {
        let mut statuses = Vec::new();
        for (step, conn) in participants.clone() {
            statuses.push((step, bookings::status(conn, saga).map_err(sql)?));
        }
        let all_final = statuses.iter().all(|(_, s)| *s == Some(Status::Confirmed));
        let none_held = statuses
            .iter()
            .all(|(_, s)| !s.is_some_and(Status::is_booked));
        let expected = refusing_step(saga).is_none();
        match (all_final, none_held) {
            (true, _) if expected => committed += 1,
            (false, true) if !expected => compensated += 1,
            _ => return Err(format!("saga {saga} ended wrongly: {statuses:?}")),
        }
    }
    Ok((committed, compensated))
}

/// Effects and effects applied twice, summed over `conns`.
fn effect_counts<'a>(conns: impl Iterator<Item = &'a Connection>) -> Result<(u64, u64), String> {
    let (mut total, mut twice) = (0, 0);
    for conn in conns {
        let (n, distinct) = effects(conn).map_err(sql)?;
        total += n;
        twice += n - distinct;
    }
    Ok((total, twice))
}

/// Messages of the broker, distinct ids, and how many events are missing: outbox rows never
/// published, plus messages a consumer group never processed.
fn message_counts<'a>(
    broker: &Broker,
    outboxes: impl Iterator<Item = &'a Connection>,
    consumers: impl Iterator<Item = &'a Connection>,
) -> Result<(u64, u64, u64), String> {
    let ids: std::collections::BTreeSet<&str> = broker.log.iter().map(|m| m.id.as_str()).collect();
    let unique = ids.len() as u64;
    let mut lost = 0;
    for conn in outboxes {
        let mut stmt = conn.prepare("SELECT id FROM outbox").map_err(sql)?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(sql)?
            .collect::<rusqlite::Result<_>>()
            .map_err(sql)?;
        lost += rows.iter().filter(|id| !ids.contains(id.as_str())).count() as u64;
    }
    for conn in consumers {
        let processed: i64 = conn
            .query_row("SELECT COUNT(*) FROM processed", [], |r| r.get(0))
            .map_err(sql)?;
        lost += unique.saturating_sub(processed as u64);
    }
    Ok((broker.log.len() as u64, unique, lost))
}

/// One run of `kind` under `schedule`, in a fresh temporary directory.
pub fn run_once(kind: Kind, schedule: Schedule, semantic_lock: bool) -> Result<Tally, String> {
    let dir = super::db::scratch_dir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut crash = Crasher::new(schedule);
    let mut t = run_in(dir.path(), kind, &mut crash, semantic_lock)
        .map_err(|e| format!("{} under {schedule:?}: {e}", kind.name()))?;
    t.runs = 1;
    t.crashes = crash.crashes;
    t.points = crash.hits;
    if Kind::SAFE.contains(&kind) && (t.twice > 0 || t.lost > 0) {
        return Err(format!("{} under {schedule:?}: {t:?}", kind.name()));
    }
    Ok(t)
}

fn run_in(dir: &Path, kind: Kind, crash: &mut Crasher, lock: bool) -> Result<Tally, String> {
    let mut t = Tally::default();
    match kind {
        Kind::DualWrite | Kind::NoDedup | Kind::Outbox => {
            let mut s = Shipping {
                outbox: kind != Kind::DualWrite,
                dedup: kind != Kind::NoDedup,
                orders: open(&dir.join("orders.sqlite")).map_err(sql)?,
                shipping: open(&dir.join("shipping.sqlite")).map_err(sql)?,
                dir: dir.to_path_buf(),
                broker: Broker::default(),
                next: 0,
                duplicates: 0,
            };
            drive(&mut s, crash)?;
            let (published, unique, _) = message_counts(
                &s.broker,
                [&s.orders].into_iter(),
                [&s.shipping].into_iter(),
            )?;
            (t.published, t.unique) = (published, unique);
            (t.effects, t.twice) = effect_counts([&s.shipping].into_iter())?;
            // Without a dedup table, every redelivery is a duplicate applied a second time.
            t.duplicates = s.duplicates + t.twice;
            // Every order placed must be shipped: the orders table has all SAGAS of them.
            t.lost = SAGAS - (t.effects - t.twice);
        }
        Kind::Orchestrated => {
            let mut run = OrchestratedRun(Orchestrated::open(dir, lock).map_err(sql)?);
            drive(&mut run, crash)?;
            let o = &run.0;
            let participants = Step::TRIP.map(|s| (s, o.participant(s)));
            (t.committed, t.compensated) = outcomes(participants.into_iter())?;
            (t.effects, t.twice) = effect_counts(participants.iter().map(|p| p.1))?;
            t.published = o.calls.sent;
            t.duplicates = o.calls.repeated;
            t.unique = o.calls.distinct.len() as u64;
        }
        Kind::Choreographed => {
            let mut run = ChoreographedRun {
                system: Choreographed::open(dir, lock).map_err(sql)?,
                next: 0,
            };
            drive(&mut run, crash)?;
            let c = &run.system;
            let orders = open(&dir.join("orders.sqlite")).map_err(sql)?;
            let services: Vec<(Step, &Connection)> = c.services().collect();
            (t.committed, t.compensated) = outcomes(services.iter().copied())?;
            (t.effects, t.twice) = effect_counts(services.iter().map(|p| p.1))?;
            let outboxes = services.iter().map(|p| p.1).chain([&orders]);
            let (published, unique, lost) =
                message_counts(&c.broker, outboxes, services.iter().map(|p| p.1))?;
            (t.published, t.unique, t.lost) = (published, unique, lost);
            t.duplicates = c.duplicates;
        }
    }
    Ok(t)
}

/// A crash-free run, then one run per crash point it reached, crashing exactly there.
pub fn every_step(kind: Kind, semantic_lock: bool) -> Result<Tally, String> {
    let clean = run_once(kind, Schedule::Never, semantic_lock)?;
    let mut sum = Tally {
        points: clean.points,
        ..Tally::default()
    };
    for k in 1..=clean.points {
        let t = run_once(kind, Schedule::AtHit(k), semantic_lock)?;
        assert_eq!(
            t.crashes,
            1,
            "crash point {k} of {} not reached",
            kind.name()
        );
        sum.add(&t);
    }
    Ok(sum)
}

/// Seeds `seeds` with a crash at each point with probability `probability`.
pub fn random(kind: Kind, seeds: std::ops::Range<u64>, probability: f64) -> Result<Tally, String> {
    let mut sum = Tally::default();
    for seed in seeds {
        sum.add(&run_once(
            kind,
            Schedule::Random { probability, seed },
            true,
        )?);
    }
    Ok(sum)
}
