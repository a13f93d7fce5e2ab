//! Chapter 4: discovery. How a name becomes an address, and why a changed address takes a while
//! to be seen.
//!
//! - `zone.rs`: zones and the authoritative lookup, a pure function (answer, referral, NODATA,
//!   NXDOMAIN with the SOA whose TTL bounds negative caching, RFC 2308 §3).
//! - `cache.rs`: a TTL cache with negative entries, std only (the chapter's runnable listing).
//! - `resolver.rs`: name servers, an iterative caching resolver and clients as sans-I/O
//!   processes on the simulator.
//! - `node.rs`: the simulated nodes (name server, resolver, client) as one `Process`.
//! - `scenario.rs`: the book's hierarchy on the simulator (latencies, clients, a change).
//! - `server.rs`: the same lookup behind a real UDP socket on 127.0.0.1, speaking the DNS wire
//!   format through hickory-proto, and a `dig`-style client.
//! - `exercise.rs`: the coding exercise (deciding what a response lets a resolver cache).

pub mod cache;
pub mod exercise;
pub mod node;
pub mod resolver;
pub mod scenario;
pub mod server;
pub mod zone;
