//! A whole CDN on the simulator: build it from a [`CdnConfig`], run it, summarise the run.
//!
//! Node layout: 0 is the origin, 1 the DNS load balancer, 2 the shield (idle when the config
//! has none), then the edges (`edges_per_region` in each region, region by region), then the
//! clients (`clients_per_region` in each region). The origin and the shield stand in region 0.
//! Every link between two nodes takes half the round-trip time between their regions
//! ([`rtt_ms`]), constant: geography is the only source of latency, so the figures show it
//! alone. The DNS is reached in [`DNS_ONE_WAY_MS`] from anywhere (a nearby recursive
//! resolver; our assumption).

use std::collections::BTreeMap;
use std::time::Duration;

use super::geo::{REGIONS, rtt_ms};
use super::node::{Cache, Client, Dns, EdgeInfo, Node, Origin, Outcome, Source};
use super::tier::{ObjectId, TierStats};
use crate::sim::{Fault, LinkConfig, NodeId, Sim, Time, Zipf};

/// One-way time between any node and the DNS load balancer, in milliseconds.
pub const DNS_ONE_WAY_MS: f64 = 5.0;

/// The origin's node.
pub const ORIGIN: NodeId = NodeId(0);
/// The DNS load balancer's node.
pub const DNS: NodeId = NodeId(1);
/// The shield's node.
pub const SHIELD: NodeId = NodeId(2);

// ANCHOR: config
/// Everything a CDN run depends on besides the seed.
#[derive(Clone, Debug)]
pub struct CdnConfig {
    /// Edges in each region.
    pub edges_per_region: usize,
    /// Whether edges go through a shield next to the origin.
    pub shield: bool,
    /// Objects in the catalogue; their popularity is Zipf with exponent `zipf_s`.
    pub objects: usize,
    /// The Zipf exponent.
    pub zipf_s: f64,
    /// How long a copy stays fresh (the origin's max-age).
    pub ttl: Duration,
    /// Objects an edge holds; the shield holds the whole catalogue.
    pub edge_capacity: usize,
    /// Clients in each region, and the requests per second each sends.
    pub clients_per_region: usize,
    /// Requests per second of each client.
    pub rate_per_client: f64,
    /// The origin's time to produce an object.
    pub origin_service: Duration,
    /// The TTL of DNS answers.
    pub dns_ttl: Duration,
    /// How often the DNS probes the edges, and after how long without an answer it calls an
    /// edge down.
    pub probe_interval: Duration,
    /// See `probe_interval`.
    pub down_after: Duration,
    /// A client gives up on a request after this long.
    pub timeout: Duration,
    /// Clients start requests during this long.
    pub duration: Duration,
    /// Edges that crash, and when (edge index: region * edges_per_region + i).
    pub crashes: Vec<(Duration, usize)>,
}
// ANCHOR_END: config

impl CdnConfig {
    /// The chapter's default CDN: six regions, one edge each, a shield, 10,000 objects.
    pub fn book() -> CdnConfig {
        CdnConfig {
            edges_per_region: 1,
            shield: true,
            objects: 10_000,
            zipf_s: 0.8,
            ttl: Duration::from_secs(60),
            edge_capacity: 2_000,
            clients_per_region: 4,
            rate_per_client: 20.0,
            origin_service: Duration::from_millis(50),
            dns_ttl: Duration::from_secs(30),
            probe_interval: Duration::from_secs(1),
            down_after: Duration::from_millis(2_500),
            timeout: Duration::from_secs(1),
            duration: Duration::from_secs(120),
            crashes: Vec::new(),
        }
    }

    /// Checks the values a user can set; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.edges_per_region == 0 || self.clients_per_region == 0 {
            return Err("edges and clients per region must be at least 1".into());
        }
        if self.objects == 0 || self.objects > 10_000_000 || self.edge_capacity == 0 {
            return Err("objects must be in 1..=10000000 and edge capacity at least 1".into());
        }
        if !(self.zipf_s.is_finite() && self.zipf_s >= 0.0) {
            return Err(format!(
                "zipf exponent must be finite and >= 0, got {}",
                self.zipf_s
            ));
        }
        if !(self.rate_per_client > 0.0 && self.rate_per_client <= 10_000.0) {
            return Err(format!(
                "rate per client must be in (0, 10000], got {}",
                self.rate_per_client
            ));
        }
        if self.ttl.is_zero() || self.probe_interval.is_zero() || self.timeout.is_zero() {
            return Err("ttl, probe interval and timeout must be positive".into());
        }
        let edges = REGIONS.len() * self.edges_per_region;
        if let Some((_, e)) = self.crashes.iter().find(|(_, e)| *e >= edges) {
            return Err(format!("crash of edge {e}, but there are {edges} edges"));
        }
        Ok(())
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct CdnRun {
    /// Every request, sorted by when it was wanted.
    pub outcomes: Vec<Outcome>,
    /// Every origin fetch: (seconds, object), in arrival order.
    pub origin_fetches: Vec<(f64, ObjectId)>,
    /// The edges' counters, added up.
    pub edges: TierStats,
    /// The shield's counters.
    pub shield: TierStats,
    /// The edge nodes, in index order.
    pub edge_nodes: Vec<NodeId>,
    /// DNS questions sent by the clients of each region.
    pub dns_questions: Vec<u64>,
}

/// Builds the CDN of `config` and runs it with `seed` until every request has ended.
pub fn run(config: &CdnConfig, seed: u64) -> Result<CdnRun, String> {
    config.validate()?;
    let zipf = Zipf::new(config.objects, config.zipf_s).ok_or("bad zipf parameters")?;
    let regions = REGIONS.len();
    let first_edge = 3;
    let edge_count = regions * config.edges_per_region;
    let first_client = first_edge + edge_count;
    let upstream = if config.shield { SHIELD } else { ORIGIN };
    let mut nodes = vec![
        Node::Origin(Origin::new(config.origin_service)),
        Node::Dns(Dns::new(
            Vec::new(),
            BTreeMap::new(),
            config.dns_ttl,
            config.probe_interval,
            config.down_after,
        )),
        Node::Cache(Cache::new(config.objects, config.ttl, ORIGIN, true)),
    ];
    let mut region_of = vec![0, 0, 0];
    let mut edges = Vec::new();
    for region in 0..regions {
        for _ in 0..config.edges_per_region {
            let node = NodeId(nodes.len());
            edges.push(EdgeInfo { node, region });
            region_of.push(region);
            nodes.push(Node::Cache(Cache::new(
                config.edge_capacity,
                config.ttl,
                upstream,
                false,
            )));
        }
    }
    let interval = Duration::from_secs_f64(1.0 / config.rate_per_client);
    let stop_at = Time::ZERO + config.duration;
    let mut client_region = BTreeMap::new();
    for region in 0..regions {
        for _ in 0..config.clients_per_region {
            client_region.insert(NodeId(nodes.len()), region);
            region_of.push(region);
            let client = Client::new(region, DNS, interval, zipf.clone(), config.timeout, stop_at);
            nodes.push(Node::Client(client));
        }
    }
    nodes[1] = Node::Dns(Dns::new(
        edges.clone(),
        client_region,
        config.dns_ttl,
        config.probe_interval,
        config.down_after,
    ));
    let half_ms = |ms: f64| LinkConfig::constant(Duration::from_secs_f64(ms / 2e3));
    let mut sim = Sim::new(seed, half_ms(2.0 * DNS_ONE_WAY_MS), nodes);
    let n = region_of.len();
    let mut link = |a: usize, b: usize| {
        let config = half_ms(rtt_ms(region_of[a], region_of[b]));
        sim.set_link(NodeId(a), NodeId(b), config.clone());
        sim.set_link(NodeId(b), NodeId(a), config);
    };
    for e in first_edge..first_client {
        link(e, ORIGIN.0);
        link(e, SHIELD.0);
        for c in first_client..n {
            link(c, e);
        }
    }
    link(SHIELD.0, ORIGIN.0);
    for &(at, e) in &config.crashes {
        sim.schedule_fault(Time::ZERO + at, Fault::Crash(edges[e].node));
    }
    let end = stop_at + config.timeout + Duration::from_secs(1);
    sim.run_until(end).map_err(|v| v.to_string())?;
    collect(&sim, first_edge..first_client, first_client..n)
}

/// Gathers the logs and counters of a finished run.
fn collect(
    sim: &Sim<Node>,
    edges: std::ops::Range<usize>,
    clients: std::ops::Range<usize>,
) -> Result<CdnRun, String> {
    let mut outcomes = Vec::new();
    let mut dns_questions = vec![0; REGIONS.len()];
    for c in clients {
        if let Some(Node::Client(client)) = sim.process(NodeId(c)) {
            outcomes.extend_from_slice(&client.log);
            dns_questions[client.region] += client.dns_questions;
        }
    }
    outcomes.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let origin_fetches = match sim.process(ORIGIN) {
        Some(Node::Origin(o)) => o
            .fetches
            .iter()
            .map(|&(t, obj)| (t.as_secs_f64(), obj))
            .collect(),
        _ => return Err("the origin is gone".into()),
    };
    let stats = |id: usize| match sim.process(NodeId(id)) {
        Some(Node::Cache(c)) => c.tier.stats,
        _ => TierStats::default(), // a crashed edge's counters died with it
    };
    let mut total = TierStats::default();
    for e in edges.clone() {
        let s = stats(e);
        total.hits += s.hits;
        total.fetches += s.fetches;
        total.coalesced += s.coalesced;
        total.evictions += s.evictions;
    }
    Ok(CdnRun {
        outcomes,
        origin_fetches,
        edges: total,
        shield: stats(SHIELD.0),
        edge_nodes: edges.map(NodeId).collect(),
        dns_questions,
    })
}

/// Latency percentiles and counts of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Requests made.
    pub requests: usize,
    /// Requests that failed (timed out, or no edge).
    pub failed: usize,
    /// Median and 99th percentile latency of the successful ones, in milliseconds.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Mean latency of the successful ones, in milliseconds.
    pub mean_ms: f64,
    /// Fraction answered by the edge, by the shield.
    pub edge_hit: f64,
    /// See `edge_hit`.
    pub shield_hit: f64,
}

/// Summarises the outcomes of a run.
pub fn summarize(outcomes: &[Outcome]) -> Summary {
    let mut ms: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.answer.map(|a| a.0))
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| match ms.len() {
        0 => f64::NAN,
        n => ms[((p * n as f64).ceil() as usize).clamp(1, n) - 1],
    };
    let share = |s: Source| {
        let k = outcomes
            .iter()
            .filter(|o| matches!(o.answer, Some((_, x)) if x == s))
            .count();
        k as f64 / outcomes.len().max(1) as f64
    };
    Summary {
        requests: outcomes.len(),
        failed: outcomes.len() - ms.len(),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        mean_ms: ms.iter().sum::<f64>() / ms.len().max(1) as f64,
        edge_hit: share(Source::Edge),
        shield_hit: share(Source::Shield),
    }
}
