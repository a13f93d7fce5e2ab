//! An iterative resolver on the simulator: root, then TLD, then the authoritative server, with
//! a TTL cache of answers, negative answers and delegations.
//!
//! Clients send a [`DnsMsg::Resolve`] (a recursive query: "find the answer for me") to the
//! resolver; the resolver, on a cache miss, walks the hierarchy itself with iterative queries
//! ([`DnsMsg::Query`]): it asks the closest servers it knows of (the root, unless it has cached
//! a delegation), follows each referral to the delegated zone's servers using the glue
//! addresses, and caches everything with its TTL (RFC 1034 §5.3.3 describes this algorithm).
//!
//! Guarantees, each tested in `code/tests/part1/ch04_discovery.rs`:
//! - an answer is served from the cache while `now < stored + TTL`, and fetched again from
//!   `now >= stored + TTL` on (the convention of `cache.rs`);
//! - a negative answer is cached for `min(SOA TTL, SOA MINIMUM)` (RFC 2308 §5);
//! - every resolution ends, with an answer or a [`ResolveError`]: a referral that does not move
//!   strictly down towards the name (a loop), more referrals than `max_referrals`, a server that
//!   is not authoritative for the zone it was delegated (lame delegation), or no response after
//!   `max_tries` timeouts.
//!
//! Simplifications: the simulator's "addresses" are node numbers (glue `10.0.0.n` is node
//! `n`); a delegation without glue is an error instead of a second resolution of the server's
//! name; concurrent misses for one name are not coalesced; no CNAMEs; no retry of a negative
//! or failed answer at another server.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::cache::{Cached, TtlCache, negative_ttl};
pub use super::node::{Client, DnsNode, Observation};
use super::zone::{self, Lookup, RData, Record, RecordType, Zone, is_under};
use crate::sim::{Ctx, NodeId, TimerId};

/// What the nodes of the DNS model send each other.
#[derive(Clone, Debug, PartialEq)]
pub enum DnsMsg {
    /// Client to resolver: resolve this for me (a recursive query).
    Resolve {
        id: u32,
        qname: String,
        qtype: RecordType,
    },
    /// Resolver to client: the outcome, and how many upstream queries it took.
    Resolved {
        id: u32,
        outcome: Outcome,
        upstream_queries: u32,
    },
    /// Resolver to a name server: an iterative query.
    Query {
        id: u32,
        qname: String,
        qtype: RecordType,
    },
    /// Name server to resolver.
    Response { id: u32, lookup: Lookup },
}

/// What a client learns.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Answer(Vec<Record>),
    NxDomain,
    NoData,
    Failed(ResolveError),
}

/// Why a resolution gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// A referral to a zone that is not strictly closer to the name: following it could loop.
    ReferralLoop,
    /// More referrals than the resolver allows for one name.
    TooManyReferrals,
    /// Every server of a delegated zone said it is not authoritative for it.
    LameDelegation,
    /// A referral without the addresses of its servers.
    NoGlue,
    /// No response after the allowed number of tries.
    Timeout,
}

/// The address of simulated node `n` is `10.0.0.n`.
pub fn address_of(node: NodeId) -> Ipv4Addr {
    let n = u8::try_from(node.0).expect("the DNS model has at most 256 nodes");
    Ipv4Addr::new(10, 0, 0, n)
}

fn node_of(addr: Ipv4Addr) -> Option<NodeId> {
    let [a, b, c, d] = addr.octets();
    ((a, b, c) == (10, 0, 0)).then_some(NodeId(usize::from(d)))
}

/// A name server: answers each query from its zones with [`zone::answer`].
#[derive(Clone, Debug)]
pub struct NameServer {
    pub zones: Vec<Zone>,
}

/// The resolver's limits.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// The root servers' nodes (the "root hints" every resolver ships with).
    pub root_hints: Vec<NodeId>,
    /// How long to wait for a server before trying the next one.
    pub timeout: Duration,
    /// How many queries one step may send before giving up (first try included).
    pub max_tries: u32,
    /// How many referrals one resolution may follow.
    pub max_referrals: u32,
}

impl ResolverConfig {
    /// One root server, a 2 s timeout, 3 tries, 8 referrals.
    pub fn new(root: NodeId) -> ResolverConfig {
        ResolverConfig {
            root_hints: vec![root],
            timeout: Duration::from_secs(2),
            max_tries: 3,
            max_referrals: 8,
        }
    }
}

/// The key of a cached answer.
pub type Question = (String, RecordType);

/// One resolution in progress.
#[derive(Clone, Debug)]
struct Pending {
    client: NodeId,
    client_id: u32,
    qname: String,
    qtype: RecordType,
    /// The zone whose servers we are asking; the next referral must be strictly below it.
    zone: String,
    servers: Vec<NodeId>,
    /// Which of `servers` the current query went to.
    server: usize,
    tries: u32,
    lame: usize,
    referrals: u32,
    upstream_queries: u32,
}

// ANCHOR: resolver
/// A caching, iterative resolver.
#[derive(Clone, Debug)]
pub struct Resolver {
    pub config: ResolverConfig,
    /// Answers and negative answers, by question.
    pub answers: TtlCache<Question, Vec<Record>>,
    /// Delegations: zone name to the nodes of its servers.
    pub delegations: TtlCache<String, Vec<NodeId>>,
    /// Resolutions waiting for an upstream response, by the id of the query in flight.
    pending: BTreeMap<u32, Pending>,
    next_id: u32,
}
// ANCHOR_END: resolver

fn now_of(ctx: &Ctx<'_, DnsMsg>) -> Duration {
    Duration::from_nanos(ctx.now().0)
}

impl Resolver {
    /// A resolver with empty caches.
    pub fn new(config: ResolverConfig) -> Resolver {
        Resolver {
            config,
            answers: TtlCache::new(),
            delegations: TtlCache::new(),
            pending: BTreeMap::new(),
            next_id: 0,
        }
    }

    // ANCHOR: on_resolve
    /// A client's question: from the cache if fresh, else start at the closest known servers.
    pub(super) fn on_resolve(
        &mut self,
        ctx: &mut Ctx<'_, DnsMsg>,
        client: NodeId,
        id: u32,
        q: Question,
    ) {
        let now = now_of(ctx);
        if let Some((cached, _ttl_left)) = self.answers.get(&q, now) {
            ctx.count("dns.cache_hits");
            let outcome = match cached {
                Cached::Positive(records) if records.is_empty() => Outcome::NoData,
                Cached::Positive(records) => Outcome::Answer(records),
                Cached::Negative => Outcome::NxDomain,
            };
            let upstream_queries = 0;
            ctx.send(
                client,
                DnsMsg::Resolved {
                    id,
                    outcome,
                    upstream_queries,
                },
            );
            return;
        }
        ctx.count("dns.cache_misses");
        let (zone, servers) = self.closest_servers(&q.0, now);
        let pending = Pending {
            client,
            client_id: id,
            qname: q.0,
            qtype: q.1,
            zone,
            servers,
            server: 0,
            tries: 0,
            lame: 0,
            referrals: 0,
            upstream_queries: 0,
        };
        self.send_query(ctx, pending);
    }

    /// The deepest zone above `qname` whose servers are cached, or the root.
    fn closest_servers(&mut self, qname: &str, now: Duration) -> (String, Vec<NodeId>) {
        let mut name = Some(qname.to_string());
        while let Some(n) = name {
            if n == "." {
                break;
            }
            if let Some((Cached::Positive(servers), _)) = self.delegations.get(&n, now) {
                return (n, servers);
            }
            name = zone::parent(&n).map(str::to_string);
        }
        (".".to_string(), self.config.root_hints.clone())
    }
    // ANCHOR_END: on_resolve

    /// Sends the pending resolution's query to its current server and arms its timer.
    fn send_query(&mut self, ctx: &mut Ctx<'_, DnsMsg>, mut p: Pending) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        p.tries += 1;
        p.upstream_queries += 1;
        ctx.count("dns.upstream_queries");
        let to = p.servers[p.server % p.servers.len()];
        let query = DnsMsg::Query {
            id,
            qname: p.qname.clone(),
            qtype: p.qtype,
        };
        ctx.send(to, query);
        ctx.set_timer(TimerId(id), self.config.timeout);
        self.pending.insert(id, p);
    }

    fn finish(&mut self, ctx: &mut Ctx<'_, DnsMsg>, p: Pending, outcome: Outcome) {
        let msg = DnsMsg::Resolved {
            id: p.client_id,
            outcome,
            upstream_queries: p.upstream_queries,
        };
        ctx.send(p.client, msg);
    }

    // ANCHOR: on_response
    /// A name server's response: cache it, then answer the client or follow the referral.
    pub(super) fn on_response(&mut self, ctx: &mut Ctx<'_, DnsMsg>, id: u32, lookup: Lookup) {
        let Some(mut p) = self.pending.remove(&id) else {
            return; // a late or duplicated response: its resolution has moved on
        };
        ctx.cancel_timer(TimerId(id));
        let now = now_of(ctx);
        let question = (p.qname.clone(), p.qtype);
        match lookup {
            Lookup::Answer(records) => {
                let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
                self.answers.insert(question, records.clone(), ttl, now);
                self.finish(ctx, p, Outcome::Answer(records));
            }
            Lookup::NxDomain { soa } => {
                self.cache_negative(question, &soa, None, now);
                self.finish(ctx, p, Outcome::NxDomain);
            }
            Lookup::NoData { soa } => {
                self.cache_negative(question, &soa, Some(Vec::new()), now);
                self.finish(ctx, p, Outcome::NoData);
            }
            Lookup::Referral { ns, glue } => match self.follow(&p, &ns, &glue, now) {
                Ok((zone, servers)) => {
                    p.zone = zone;
                    p.servers = servers;
                    (p.server, p.tries, p.lame) = (0, 0, 0);
                    p.referrals += 1;
                    self.send_query(ctx, p);
                }
                Err(e) => self.finish(ctx, p, Outcome::Failed(e)),
            },
            Lookup::NotAuthoritative => {
                p.lame += 1;
                if p.lame >= p.servers.len() {
                    return self.finish(ctx, p, Outcome::Failed(ResolveError::LameDelegation));
                }
                p.server += 1;
                p.tries = 0;
                self.send_query(ctx, p);
            }
        }
    }
    // ANCHOR_END: on_response

    /// Caches a negative answer for the SOA's negative TTL (RFC 2308 §5). NODATA is stored
    /// as an empty answer, NXDOMAIN as a negative entry; a "negative answer" without an SOA
    /// has no TTL and is not cached at all.
    fn cache_negative(
        &mut self,
        q: Question,
        soa: &Record,
        nodata: Option<Vec<Record>>,
        now: Duration,
    ) {
        let RData::Soa(fields) = &soa.data else {
            return;
        };
        let ttl = negative_ttl(soa.ttl, fields.minimum);
        match nodata {
            Some(empty) => self.answers.insert(q, empty, ttl, now),
            None => self.answers.insert_negative(q, ttl, now),
        }
    }

    // ANCHOR: follow
    /// Checks a referral and caches the delegation: the new zone must be strictly below the
    /// zone we asked and contain the name, or following it could go round in circles.
    fn follow(
        &mut self,
        p: &Pending,
        ns: &[Record],
        glue: &[Record],
        now: Duration,
    ) -> Result<(String, Vec<NodeId>), ResolveError> {
        let zone = ns
            .first()
            .map(|r| r.name.clone())
            .ok_or(ResolveError::NoGlue)?;
        let closer = zone != p.zone && is_under(&zone, &p.zone) && is_under(&p.qname, &zone);
        if !closer {
            return Err(ResolveError::ReferralLoop);
        }
        if p.referrals >= self.config.max_referrals {
            return Err(ResolveError::TooManyReferrals);
        }
        let servers: Vec<NodeId> = glue
            .iter()
            .filter_map(|r| match r.data {
                RData::A(addr) => node_of(addr),
                _ => None,
            })
            .collect();
        if servers.is_empty() {
            return Err(ResolveError::NoGlue);
        }
        let ttl = ns.iter().map(|r| r.ttl).min().unwrap_or(0);
        self.delegations
            .insert(zone.clone(), servers.clone(), ttl, now);
        Ok((zone, servers))
    }
    // ANCHOR_END: follow

    /// No response in time: the next server, or give up.
    pub(super) fn on_timeout(&mut self, ctx: &mut Ctx<'_, DnsMsg>, id: u32) {
        let Some(mut p) = self.pending.remove(&id) else {
            return;
        };
        ctx.count("dns.timeouts");
        if p.tries >= self.config.max_tries {
            return self.finish(ctx, p, Outcome::Failed(ResolveError::Timeout));
        }
        p.server += 1;
        self.send_query(ctx, p);
    }

    /// How many resolutions wait for an upstream response.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}
