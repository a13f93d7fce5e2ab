//! The book's DNS scenario on the simulator: a root server, a `com.` server, the `example.com.`
//! server, one resolver and a few clients, with fixed one-way latencies that put the root
//! farther than the resolver's own clients. The experiment (`examples/ch04_ttl.rs`) and the
//! chapter's tests build their runs here.

use std::net::Ipv4Addr;
use std::time::Duration;

use rand::RngExt;

use super::resolver::{Client, DnsNode, NameServer, Resolver, ResolverConfig};
use super::zone::{RData, RecordType, book_zones};
use crate::sim::{Exponential, LinkConfig, NodeId, Sim, Time, rng_stream};

/// The root server.
pub const ROOT: NodeId = NodeId(0);
/// The `com.` server (glue 10.0.0.1).
pub const COM: NodeId = NodeId(1);
/// The `example.com.` server (glue 10.0.0.2).
pub const EXAMPLE: NodeId = NodeId(2);
/// The resolver.
pub const RESOLVER: NodeId = NodeId(3);
/// The first client; clients are numbered from here.
pub const FIRST_CLIENT: usize = 4;

// ANCHOR: latencies
/// One-way latencies of the scenario, in milliseconds: clients sit next to their resolver,
/// the name servers are farther away.
pub const CLIENT_MS: u64 = 1;
pub const ROOT_MS: u64 = 20;
pub const COM_MS: u64 = 30;
pub const EXAMPLE_MS: u64 = 40;
// ANCHOR_END: latencies

/// The address `www.example.com.` has at the start of a run.
pub const WWW_BEFORE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// The scenario with `www.example.com.` at TTL `www_ttl` and `clients` querying the resolver.
pub fn book_sim(seed: u64, www_ttl: u32, clients: Vec<Client>) -> Sim<DnsNode> {
    let (root, com, example) = book_zones(www_ttl);
    let mut nodes = vec![
        DnsNode::Server(NameServer { zones: vec![root] }),
        DnsNode::Server(NameServer { zones: vec![com] }),
        DnsNode::Server(NameServer {
            zones: vec![example],
        }),
        DnsNode::Resolver(Box::new(Resolver::new(ResolverConfig::new(ROOT)))),
    ];
    nodes.extend(clients.into_iter().map(DnsNode::Client));
    let ms = |m| LinkConfig::constant(Duration::from_millis(m));
    let mut sim = Sim::new(seed, ms(CLIENT_MS), nodes);
    for (server, m) in [(ROOT, ROOT_MS), (COM, COM_MS), (EXAMPLE, EXAMPLE_MS)] {
        sim.set_link(RESOLVER, server, ms(m));
        sim.set_link(server, RESOLVER, ms(m));
    }
    sim
}

/// The operator's change: `www.example.com.` moves to `to` on the authoritative server.
pub fn move_www(sim: &mut Sim<DnsNode>, to: Ipv4Addr) {
    let server = sim
        .process_mut(EXAMPLE)
        .and_then(DnsNode::as_server_mut)
        .expect("node 2 is the example.com server");
    let changed = server.zones[0].update("www.example.com.", RData::A(to));
    assert_eq!(changed, 1, "www.example.com has one A record");
}

/// A client's questions: Poisson arrivals at `per_sec` until `until`, each for
/// `www.example.com. A` or, with probability `missing`, for a name that does not exist.
pub fn poisson_schedule(
    seed: u64,
    stream: u64,
    per_sec: f64,
    until: Time,
    missing: f64,
) -> Vec<(Time, String, RecordType)> {
    assert!(per_sec > 0.0, "a client asks at a positive rate");
    let mut rng = rng_stream(seed, 1_000 + stream);
    let mut schedule = Vec::new();
    let mut t = 0.0;
    loop {
        t += rng.sample(Exponential {
            mean: 1.0 / per_sec,
        });
        let at = Time::from_secs_f64(t);
        if at >= until {
            return schedule;
        }
        let name = if rng.random_bool(missing) {
            "nope.example.com."
        } else {
            "www.example.com."
        };
        schedule.push((at, name.to_string(), RecordType::A));
    }
}
