//! Chapter 13: the outbox pattern on SQLite, idempotent consumers, and sagas (orchestrated and choreographed).
//!
//! Work in progress (issue 8).
