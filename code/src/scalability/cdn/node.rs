//! The CDN's machines as simulator processes: clients, the DNS load balancer, caches (edges
//! and the shield) and the origin.
//!
//! - A [`Client`] sends requests at a fixed rate for objects drawn from a Zipf popularity. It
//!   asks the DNS which edge to use and keeps the answer for the DNS TTL, like a stub resolver
//!   and a browser do; while the answer is cached it keeps sending to that edge, even a dead
//!   one. A request with no answer within `timeout` counts as failed (no retry elsewhere).
//!   Its first answer is kept for a random part of the TTL, as if it came from a shared
//!   resolver's cache, so that clients do not all ask again at the same moment.
//! - The [`Dns`] is the global load balancer: it probes every edge each `probe_interval`,
//!   calls an edge down when it has not answered a probe for `down_after`, and answers a
//!   client with the nearest healthy edge of the client's region ([`nearest_healthy_edge`]).
//! - A [`Cache`] is an edge or the shield: a [`Tier`] whose misses go to its upstream.
//! - The [`Origin`] answers every request after a service time, and logs each fetch.
//!
//! Every reply carries the copy's age and which tier served it; latency is measured by the
//! client from the moment it wanted the object, so DNS lookups count.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;

use super::geo::rtt_ms;
use super::tier::{Lookup, ObjectId, Tier};
use crate::sim::{Ctx, NodeId, Process, Time, TimerId, Zipf};

/// Which tier answered a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A hit at the edge.
    Edge,
    /// A miss at the edge, a hit at the shield.
    Shield,
    /// It came from the origin.
    Origin,
}

/// What the CDN's nodes send each other.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Client to DNS: which edge should I use?
    Resolve,
    /// DNS to client: use `edge` (`None`: no edge is healthy) for `ttl`.
    Resolved { edge: Option<NodeId>, ttl: Duration },
    /// A request for `obj`; `req` is the sender's number for it.
    Get { obj: ObjectId, req: u64 },
    /// The answer to request `req`: a copy of `obj`, `age` old, served by `source`.
    Object {
        obj: ObjectId,
        req: u64,
        age: Duration,
        source: Source,
    },
    /// DNS to edge: are you alive?
    Probe,
    /// Edge to DNS: yes.
    ProbeAck,
}

/// Simulated time as the duration since the start, the clock the tiers use.
fn since_start(t: Time) -> Duration {
    Duration::from_nanos(t.0)
}

/// One request as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// When the client wanted the object, in seconds.
    pub at_s: f64,
    /// The client's region.
    pub region: usize,
    /// The edge it sent the request to (`None`: it had no healthy edge to ask).
    pub edge: Option<NodeId>,
    /// Its latency in milliseconds and the tier that answered; `None` if it failed.
    pub answer: Option<(f64, Source)>,
}

/// Timer of a client's next request.
const NEXT_REQUEST: TimerId = TimerId(0);

/// A client in one region.
#[derive(Clone, Debug)]
pub struct Client {
    /// Its region (index into [`super::geo::REGIONS`]).
    pub region: usize,
    /// The DNS load balancer.
    dns: NodeId,
    /// Time between two requests.
    interval: Duration,
    /// Object popularity.
    zipf: Zipf,
    /// How long to wait for an answer.
    timeout: Duration,
    /// No request is started at or after this time.
    stop_at: Time,
    /// The cached DNS answer and when it expires.
    answer: Option<(Option<NodeId>, Time)>,
    /// Objects wanted while the DNS question is out, with when they were wanted.
    queued: Vec<(ObjectId, Time)>,
    /// Requests sent, by number: (when wanted, edge). Their timeout timer is `TimerId(req)`.
    pending: BTreeMap<u64, (Time, Option<NodeId>)>,
    /// Number of the last request (request numbers start at 1, timer 0 is [`NEXT_REQUEST`]).
    last_req: u64,
    /// Every request it made, in the order they ended.
    pub log: Vec<Outcome>,
    /// How many DNS questions it sent.
    pub dns_questions: u64,
}

impl Client {
    /// A client of `region` that asks `dns`, sending a request every `interval` until `stop_at`.
    pub fn new(
        region: usize,
        dns: NodeId,
        interval: Duration,
        zipf: Zipf,
        timeout: Duration,
        stop_at: Time,
    ) -> Client {
        Client {
            region,
            dns,
            interval,
            zipf,
            timeout,
            stop_at,
            answer: None,
            queued: Vec::new(),
            pending: BTreeMap::new(),
            last_req: 0,
            log: Vec::new(),
            dns_questions: 0,
        }
    }

    fn send_get(
        &mut self,
        ctx: &mut Ctx<'_, Msg>,
        obj: ObjectId,
        wanted: Time,
        edge: Option<NodeId>,
    ) {
        self.last_req += 1;
        let req = self.last_req;
        match edge {
            Some(edge) => {
                ctx.send(edge, Msg::Get { obj, req });
                self.pending.insert(req, (wanted, Some(edge)));
                let waited = ctx.now().since(wanted);
                ctx.set_timer(TimerId(req as u32), self.timeout.saturating_sub(waited));
            }
            None => self.finish(wanted, None, None),
        }
    }

    fn finish(&mut self, wanted: Time, edge: Option<NodeId>, answer: Option<(f64, Source)>) {
        let region = self.region;
        self.log.push(Outcome {
            at_s: wanted.as_secs_f64(),
            region,
            edge,
            answer,
        });
    }
}

// ANCHOR: client_dns_cache
impl Client {
    /// The client wants `obj` now: use the cached DNS answer while it lasts, else ask.
    fn want(&mut self, ctx: &mut Ctx<'_, Msg>, obj: ObjectId) {
        match self.answer {
            Some((edge, expires)) if ctx.now() < expires => {
                self.send_get(ctx, obj, ctx.now(), edge);
            }
            _ => {
                if self.queued.is_empty() {
                    ctx.send(self.dns, Msg::Resolve);
                    self.dns_questions += 1;
                }
                self.queued.push((obj, ctx.now()));
            }
        }
    }
}
// ANCHOR_END: client_dns_cache

impl Process for Client {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        // Spread the clients' first requests over one interval.
        let first = ctx.rng().random_range(0..self.interval.as_nanos() as u64);
        ctx.set_timer(NEXT_REQUEST, Duration::from_nanos(first));
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Resolved { edge, ttl } => {
                // The first answer comes from a shared resolver's cache, where part of its TTL
                // has already run out: clients' answers expire at independent moments.
                let ttl = match self.answer {
                    None => ttl.mul_f64(ctx.rng().random::<f64>()),
                    Some(_) => ttl,
                };
                self.answer = Some((edge, ctx.now() + ttl));
                for (obj, wanted) in std::mem::take(&mut self.queued) {
                    self.send_get(ctx, obj, wanted, edge);
                }
            }
            Msg::Object { req, source, .. } => {
                if let Some((wanted, edge)) = self.pending.remove(&req) {
                    ctx.cancel_timer(TimerId(req as u32));
                    let ms = ctx.now().since(wanted).as_secs_f64() * 1e3;
                    self.finish(wanted, edge, Some((ms, source)));
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if timer == NEXT_REQUEST {
            if ctx.now() >= self.stop_at {
                return;
            }
            let obj = ctx.rng().sample(&self.zipf) as ObjectId;
            self.want(ctx, obj);
            ctx.set_timer(NEXT_REQUEST, self.interval);
        } else if let Some((wanted, edge)) = self.pending.remove(&u64::from(timer.0)) {
            self.finish(wanted, edge, None);
        }
    }

    fn durable(&self) {}
}

/// An edge as the DNS knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeInfo {
    /// The edge node.
    pub node: NodeId,
    /// Its region.
    pub region: usize,
}

// ANCHOR: nearest_healthy_edge
/// The edge with the lowest round-trip time from `region` among the healthy ones. Several
/// equally near edges (one region's) share the clients: `client` picks among them.
pub fn nearest_healthy_edge(
    region: usize,
    client: NodeId,
    edges: &[EdgeInfo],
    healthy: impl Fn(NodeId) -> bool,
) -> Option<NodeId> {
    let up: Vec<&EdgeInfo> = edges.iter().filter(|e| healthy(e.node)).collect();
    let best = up
        .iter()
        .map(|e| rtt_ms(region, e.region))
        .min_by(f64::total_cmp)?;
    let nearest: Vec<NodeId> = up
        .iter()
        .filter(|e| rtt_ms(region, e.region) == best)
        .map(|e| e.node)
        .collect();
    Some(nearest[client.0 % nearest.len()])
}
// ANCHOR_END: nearest_healthy_edge

/// Timer of the DNS's probe round.
const PROBE: TimerId = TimerId(0);

/// The DNS-based global load balancer.
#[derive(Clone, Debug)]
pub struct Dns {
    /// Every edge.
    edges: Vec<EdgeInfo>,
    /// The TTL it gives its answers.
    ttl: Duration,
    /// Time between probe rounds.
    probe_interval: Duration,
    /// An edge silent for this long is down.
    down_after: Duration,
    /// When each edge last answered a probe (all count as answered at the start).
    last_ack: BTreeMap<NodeId, Time>,
    /// The region of each client that asked (clients are placed once, so this never changes).
    pub client_region: BTreeMap<NodeId, usize>,
}

impl Dns {
    /// A load balancer over `edges`; `client_region` says where each client is.
    pub fn new(
        edges: Vec<EdgeInfo>,
        client_region: BTreeMap<NodeId, usize>,
        ttl: Duration,
        probe_interval: Duration,
        down_after: Duration,
    ) -> Dns {
        let last_ack = edges.iter().map(|e| (e.node, Time::ZERO)).collect();
        Dns {
            edges,
            ttl,
            probe_interval,
            down_after,
            last_ack,
            client_region,
        }
    }
}

impl Process for Dns {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        ctx.set_timer(PROBE, Duration::ZERO);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::ProbeAck => {
                self.last_ack.insert(from, ctx.now());
            }
            Msg::Resolve => {
                let Some(&region) = self.client_region.get(&from) else {
                    return; // not one of our clients: no answer
                };
                let now = ctx.now();
                let healthy = |e: NodeId| now.since(self.last_ack[&e]) < self.down_after;
                let edge = nearest_healthy_edge(region, from, &self.edges, healthy);
                ctx.send(
                    from,
                    Msg::Resolved {
                        edge,
                        ttl: self.ttl,
                    },
                );
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
        for e in &self.edges {
            ctx.send(e.node, Msg::Probe);
        }
        ctx.set_timer(PROBE, self.probe_interval);
    }

    fn durable(&self) {}
}

/// An edge or the shield: a cache tier in front of `upstream`.
#[derive(Clone, Debug)]
pub struct Cache {
    /// The cache and the waiting requests: (who asked, their request number).
    pub tier: Tier<(NodeId, u64)>,
    /// Where misses go: the shield or the origin.
    upstream: NodeId,
    /// True for the shield: a hit here is a [`Source::Shield`].
    is_shield: bool,
    /// Number of the last request sent upstream.
    last_req: u64,
}

impl Cache {
    /// A cache of `capacity` objects for `ttl` whose misses go to `upstream`.
    pub fn new(capacity: usize, ttl: Duration, upstream: NodeId, is_shield: bool) -> Cache {
        Cache {
            tier: Tier::new(capacity, ttl),
            upstream,
            is_shield,
            last_req: 0,
        }
    }
}

// ANCHOR: cache_on_message
impl Process for Cache {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        let now = since_start(ctx.now());
        match msg {
            Msg::Probe => ctx.send(from, Msg::ProbeAck),
            Msg::Get { obj, req } => match self.tier.request(obj, (from, req), now) {
                Lookup::Hit { age } => {
                    let source = if self.is_shield {
                        Source::Shield
                    } else {
                        Source::Edge
                    };
                    ctx.send(
                        from,
                        Msg::Object {
                            obj,
                            req,
                            age,
                            source,
                        },
                    );
                }
                Lookup::Fetch => {
                    self.last_req += 1;
                    ctx.send(
                        self.upstream,
                        Msg::Get {
                            obj,
                            req: self.last_req,
                        },
                    );
                }
                Lookup::Wait => {} // coalesced: the fetch in flight will answer it too
            },
            Msg::Object {
                obj, age, source, ..
            } => {
                for (to, req) in self.tier.fill(obj, age, now) {
                    ctx.send(
                        to,
                        Msg::Object {
                            obj,
                            req,
                            age,
                            source,
                        },
                    );
                }
            }
            _ => {}
        }
    }
    // ANCHOR_END: cache_on_message

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {}

    fn durable(&self) {}
}

/// The origin: answers every request after `service`, and remembers each fetch.
#[derive(Clone, Debug)]
pub struct Origin {
    /// How long it takes to produce an object.
    service: Duration,
    /// Requests being served, by timer.
    serving: BTreeMap<u32, (NodeId, ObjectId, u64)>,
    /// Number of the last timer used.
    last_timer: u32,
    /// Every fetch: (when it arrived, object).
    pub fetches: Vec<(Time, ObjectId)>,
}

impl Origin {
    /// An origin that needs `service` per request.
    pub fn new(service: Duration) -> Origin {
        Origin {
            service,
            serving: BTreeMap::new(),
            last_timer: 0,
            fetches: Vec::new(),
        }
    }
}

impl Process for Origin {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        if let Msg::Get { obj, req } = msg {
            self.fetches.push((ctx.now(), obj));
            self.last_timer += 1;
            self.serving.insert(self.last_timer, (from, obj, req));
            ctx.set_timer(TimerId(self.last_timer), self.service);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if let Some((to, obj, req)) = self.serving.remove(&timer.0) {
            let source = Source::Origin;
            ctx.send(
                to,
                Msg::Object {
                    obj,
                    req,
                    age: Duration::ZERO,
                    source,
                },
            );
        }
    }

    fn durable(&self) {}
}

/// Any node of the CDN (the simulator runs one process type).
#[derive(Clone, Debug)]
pub enum Node {
    /// A client.
    Client(Client),
    /// The DNS load balancer.
    Dns(Dns),
    /// An edge or the shield.
    Cache(Cache),
    /// The origin.
    Origin(Origin),
}

impl Process for Node {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self {
            Node::Client(p) => p.on_start(ctx),
            Node::Dns(p) => p.on_start(ctx),
            Node::Cache(p) => p.on_start(ctx),
            Node::Origin(p) => p.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match self {
            Node::Client(p) => p.on_message(ctx, from, msg),
            Node::Dns(p) => p.on_message(ctx, from, msg),
            Node::Cache(p) => p.on_message(ctx, from, msg),
            Node::Origin(p) => p.on_message(ctx, from, msg),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        match self {
            Node::Client(p) => p.on_timer(ctx, timer),
            Node::Dns(p) => p.on_timer(ctx, timer),
            Node::Cache(p) => p.on_timer(ctx, timer),
            Node::Origin(p) => p.on_timer(ctx, timer),
        }
    }

    fn durable(&self) {}
}
