//! Real servers that tests and experiments start for themselves, each in a temporary directory
//! on this machine, reachable only from it, and stopped and deleted when its guard drops.
//!
//! - [`postgres`]: a throw-away PostgreSQL cluster (chapter 12's anomaly table).

pub mod postgres;
