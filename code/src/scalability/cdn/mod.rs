//! Chapter 15, Content delivery networks: edge caches near the readers, a shield in front of
//! the origin, and DNS-based global load balancing, on the simulator.
//!
//! **What it models.** Clients in six regions ([`geo`]) fetch objects whose popularity follows
//! a Zipf law. DNS sends each client to the nearest healthy edge of the CDN; an edge answers
//! from its cache or asks the tier above: the shield if there is one, else the origin. The
//! shield is one more cache, next to the origin, that all edges share ([`node`],
//! [`scenario`]).
//!
//! **What it guarantees.** Each cache tier ([`tier`]) keeps a copy until the copy's age
//! reaches the TTL (ages add up across tiers, as HTTP's `Age` header makes them) and
//! coalesces concurrent misses, so a tier has at most one fetch of an object in flight. With a
//! shield that can hold the catalogue, the origin therefore sees at most one request per object
//! per TTL, however many edges there are: two fetches of one object arrive at least a TTL
//! apart (`code/tests/part3/ch15_cdn.rs` checks it on 1,000 seeds). Without a shield the bound
//! is one per object per TTL *per edge*.
//!
//! **Failover.** The DNS load balancer probes the edges and stops naming one that misses
//! probes, but clients keep a DNS answer for its TTL: after an edge dies, its clients fail
//! until their cached answer expires, then move to the next-nearest edge. So the outage a
//! client sees lasts at most detection time plus DNS TTL.
//!
//! **Simplifications.** Links have constant latency (geography only: no queueing, loss or
//! bandwidth); the origin serves any number of requests in parallel; every object has the same
//! TTL and size; clients do not retry a failed request elsewhere (browsers with several
//! addresses would); the DNS is reached in a fixed 5 ms. No anycast or BGP: the chapter
//! explains what they change. The overlay routing of real CDNs (Nygren, Sitaraman and Sun,
//! "The Akamai Network", ACM SIGOPS OSR 2010) is not modelled either: edge-to-origin paths are
//! the same great-circle estimate as every other.

pub mod exercise;
pub mod geo;
pub mod node;
pub mod scenario;
pub mod tier;
