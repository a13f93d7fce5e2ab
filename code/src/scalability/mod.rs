//! Part III of the book: scalability.
//!
//! Part II made a few machines agree; part III is about serving more requests with the machines
//! we have, by doing less work per request (caching), spreading the work (partitioning, load
//! balancing) and moving bytes closer to the reader (content delivery networks). Each chapter
//! pairs a model on the simulator of [`crate::sim`], where load, latency and failures are
//! seeded and replayable, with a real component on loopback where a reader would meet one.
//!
//! - [`http_caching`] (chapter 14): RFC 9111's freshness and validation rules as pure
//!   functions, and a real caching reverse proxy in front of a real origin.
//! - [`cdn`] (chapter 15): edge caches in client regions, an origin shield, and global load
//!   balancing by latency, on the simulator.
//! - [`partitioning`] (chapter 16): range partitioning with splits, mod-N, a consistent hash
//!   ring with virtual nodes, rendezvous hashing, jump consistent hash and bounded loads.
//! - [`file_storage`] (chapter 17): a miniature blob store after Azure Storage: a front end, a
//!   partition layer and a stream layer of chain-replicated, sealed extents.
//! - [`load_balancing`] (chapter 18): balancing algorithms from round robin to power of two
//!   choices and Maglev on the simulator, and a real L7 load balancer with health checks.

pub mod cdn;
pub mod file_storage;
pub mod http_caching;
pub mod load_balancing;
pub mod partitioning;
