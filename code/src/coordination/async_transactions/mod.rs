//! Chapter 13: asynchronous transactions. The outbox pattern on SQLite, idempotent consumers,
//! and the trip-booking saga, orchestrated and choreographed, crashed at every step.
//!
//! When one business operation spans services that each own their database, the previous
//! chapter's two-phase commit would make every service's availability depend on every other's
//! and on a coordinator that can block them. The patterns here give up atomic visibility
//! instead, and keep the other guarantees with local transactions only:
//!
//! - [`outbox`]: the state change and the event in one local transaction, a relay that
//!   publishes at least once, and a consumer that records processed message ids in the
//!   transaction of its effect, so that every effect happens once (effectively once).
//! - [`saga`]: the orchestrator's state machine (std only, effects as data, the chapter's
//!   runnable listing); [`orchestrator`] persists it in a saga log and calls the participants,
//!   whose idempotent local transactions are in [`bookings`].
//! - [`choreography`]: the same saga as rules by which each service reacts to events;
//!   [`choreographed`] runs them over outboxes and idempotent consumers.
//! - [`isolation`]: the dirty read that sagas allow, and the semantic lock that stops it.
//! - [`crash`] and [`scenarios`]: crash points, crash schedules, and the campaign that crashes
//!   each system at every point and checks that no event is lost, no effect applied twice, and
//!   every saga ends all committed or all compensated.
//!
//! Every database is a real SQLite file (rusqlite, bundled) in a temporary directory, one per
//! service ([`db`]); the broker is an in-process log, standing for Kafka or a queue.
//! Citations: Hector Garcia-Molina and Kenneth Salem, "Sagas", SIGMOD 1987; Pat Helland, "Life
//! beyond Distributed Transactions: an Apostate's Opinion", CIDR 2007; Chris Richardson,
//! *Microservices Patterns* (Manning, 2018), for the names "transactional outbox", "semantic
//! lock", "pivot transaction" and "retriable transaction".

pub mod bookings;
pub mod choreographed;
pub mod choreography;
pub mod crash;
pub mod db;
pub mod exercise;
pub mod isolation;
pub mod orchestrator;
pub mod outbox;
pub mod saga;
pub mod scenarios;
