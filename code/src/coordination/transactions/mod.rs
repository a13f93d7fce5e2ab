//! Chapter 12: transactions and isolation.
//!
//! A transaction groups reads and writes so that they take effect together or not at all
//! (atomicity) and so that concurrent transactions interfere with each other only as much as
//! their *isolation level* allows. This module builds a small engine with three levels and
//! runs the test cases of Martin Kleppmann's Hermitage project against it and against a real
//! PostgreSQL server, to show which anomaly each level admits.
//!
//! - [`locks`]: a lock table with row and table granularity (shared, intent-exclusive,
//!   exclusive).
//! - [`deadlock`]: cycle detection on the wait-for graph.
//! - [`engine`]: the engine: read committed, snapshot isolation (MVCC, first-updater-wins) and
//!   serializable (strict two-phase locking); operations return "blocked" as data.
//! - [`statement`]: Hermitage's SQL statements as data, executed on the engine or rendered as
//!   SQL for PostgreSQL.
//! - [`scenario`]: scripted interleavings of sessions, run step by step against any backend,
//!   and the classification of an outcome (anomaly, or prevented by blocking or aborting).
//! - [`hermitage`]: the Hermitage test cases (G0 to G2) and Hermitage's published PostgreSQL
//!   results.
//! - [`postgres`]: the scenario backend that drives real PostgreSQL sessions (not std-only, so
//!   never bundled into a playground program).
//!
//! Durability (write-ahead logging, recovery) and atomic commit across machines (two-phase
//! commit) are the sub-page's: `crate::coordination::atomic_commit`.
//!
//! The isolation anomalies are named after Adya, Liskov and O'Neil, "Generalized Isolation
//! Level Definitions" (ICDE 2000), and Berenson, Bernstein, Gray, Melton, O'Neil and O'Neil,
//! "A Critique of ANSI SQL Isolation Levels" (SIGMOD 1995).

pub mod deadlock;
pub mod engine;
pub mod exercise;
pub mod hermitage;
pub mod locks;
pub mod postgres;
pub mod scenario;
pub mod statement;
