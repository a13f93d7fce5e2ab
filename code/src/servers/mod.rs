//! Real servers that tests and experiments start for themselves (PostgreSQL), each in a temporary directory on this machine, stopped when its guard drops.
//!
//! Work in progress (issue 8).
