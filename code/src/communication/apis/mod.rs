//! Chapter 5: APIs. A notes service over HTTP whose retries are safe and whose updates are
//! never lost, with the parts that decide correctness kept free of I/O.
//!
//! - [`idempotency`]: the idempotency-key store (std only, also in the playground listing and
//!   the simulator experiment);
//! - [`collection`]: the notes, with versions, `If-Match` preconditions and keyset pages;
//! - [`cursor`]: opaque, checked pagination cursors;
//! - [`types`] and [`problem`]: the JSON bodies and the RFC 9457 error bodies;
//! - [`server`] and [`openapi`]: the axum service on loopback and its generated OpenAPI
//!   document;
//! - [`retries`]: clients retrying over a lossy simulated network, with and without keys;
//! - [`load`]: a bounded loopback load generator with HdrHistogram latencies;
//! - [`exercise`]: the chapter's coding exercise.
//!
//! HTTP semantics follow RFC 9110 (methods §9, conditional requests §13, status codes §15);
//! problem bodies follow RFC 9457; the key header follows the IETF httpapi working group's
//! Idempotency-Key draft, except that a concurrent duplicate waits for the first request's
//! response instead of getting 409 (the effect is local, so it runs under the lock).

pub mod collection;
pub mod cursor;
pub mod exercise;
pub mod idempotency;
pub mod load;
pub mod openapi;
pub mod problem;
pub mod retries;
pub mod server;
pub mod types;
