//! Chapter 18, network load balancing: spreading requests over a fleet of servers.
//!
//! A load balancer stands between clients and a pool of interchangeable backends and decides,
//! per connection (layer 4) or per request (layer 7), which backend serves. It has to answer
//! two questions all the time: which backends are alive (health checks), and which live backend
//! should take the next request (the balancing algorithm). This module answers both, twice: as
//! pure functions and a simulator model for experiments, and as a real L7 balancer on tokio.
//!
//! - [`health`]: active health checks, eject after `k` failed probes, re-admit after `m`
//!   successes (pure; std only).
//! - [`picker`]: round robin, random, least connections, power of two choices, consistent
//!   hashing (helper ch16's ring) and Maglev, as one function of loads, flow key and randomness.
//! - [`maglev`]: Maglev's lookup-table population (Eisenbud et al., NSDI 2016, §3.4) and the
//!   disruption measure (std only, runnable on the playground).
//! - [`p2c`]: the power of two choices on a toy fleet of counters (std and rand only).
//! - [`fleet`]: a balancer in front of heterogeneous FIFO servers on the simulator, with stale
//!   load views, health checks and crashes.
//! - [`real`]: a real HTTP load balancer (axum + reqwest) in front of real backends on
//!   127.0.0.1, with active health checks and one retry of idempotent requests.
//! - [`kill_test`]: a bounded loopback load test that kills a backend behind [`real`]'s
//!   balancer and records errors and recovery per time slice.
//! - [`exercise`]: the chapter's coding exercise.

pub mod exercise;
pub mod fleet;
pub mod health;
pub mod kill_test;
pub mod maglev;
pub mod p2c;
pub mod picker;
pub mod real;
