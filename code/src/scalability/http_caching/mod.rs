//! Chapter 14, HTTP caching: RFC 9111's freshness and validation rules as pure functions, and a
//! real caching reverse proxy that applies them in front of a real origin.
//!
//! A cache can answer a request without the origin only if it knows the stored response is
//! still good. HTTP makes that knowledge explicit: the origin says how long a response stays
//! fresh (`Cache-Control: max-age`, `Expires`), the cache measures how old its copy is (`Age`,
//! `Date`, its own clock), and once the copy is stale the cache asks the origin whether it
//! changed (`ETag` / `If-None-Match`, answered by `304 Not Modified`). Who may store what is
//! also explicit (`no-store`, `private`, `Authorization`), because a shared cache that serves
//! one user's page to another is a data leak, not a performance bug.
//!
//! - [`freshness`]: freshness lifetime, current age and staleness as arithmetic over seconds
//!   (RFC 9111 §4.2, RFC 5861), std only, the chapter's runnable listing.
//! - [`cache_control`]: a total parser of `Cache-Control` (§5.2, §1.2.2).
//! - [`policy`]: storability (§3, §3.5), `Vary` (§4.1), validation and freshening (§4.3) over
//!   plain header lists.
//! - [`store`]: the bounded LRU store.
//! - [`clock`], [`origin`], [`proxy`], [`forward`], [`serve`]: the real servers on loopback, and
//!   [`workload`]: the hit-ratio experiment that drives them.
//! - [`exercise`]: the chapter's coding exercise (the current-age rule).

pub mod cache_control;
pub mod clock;
pub mod exercise;
pub mod forward;
pub mod freshness;
pub mod origin;
pub mod policy;
pub mod proxy;
pub mod serve;
pub mod store;
pub mod workload;
