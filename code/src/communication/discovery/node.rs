//! The nodes of the DNS model on the simulator: name servers, the resolver, and clients that
//! ask the resolver questions on a schedule and log what they get back.

use std::collections::BTreeMap;

use super::resolver::{DnsMsg, NameServer, Outcome, Resolver};
use super::zone::{self, RecordType};
use crate::sim::{Ctx, NodeId, Process, Time, TimerId};

/// What a client saw of one resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub sent_at: Time,
    pub received_at: Time,
    pub qname: String,
    pub outcome: Outcome,
    pub upstream_queries: u32,
}

/// A client that sends the questions of its schedule to a resolver and logs the outcomes.
#[derive(Clone, Debug)]
pub struct Client {
    pub resolver: NodeId,
    /// (when, name, type), sorted by time.
    pub schedule: Vec<(Time, String, RecordType)>,
    next: usize,
    /// Questions in flight, by id: (sent at, name).
    sent: BTreeMap<u32, (Time, String)>,
    pub log: Vec<Observation>,
    /// Replies to no question in flight (the network duplicated a question or a reply).
    pub duplicates: u64,
}

impl Client {
    /// A client with `schedule`, which it sorts by time.
    pub fn new(resolver: NodeId, mut schedule: Vec<(Time, String, RecordType)>) -> Client {
        schedule.sort_by_key(|s| s.0);
        Client {
            resolver,
            schedule,
            next: 0,
            sent: BTreeMap::new(),
            log: Vec::new(),
            duplicates: 0,
        }
    }

    /// Registers a question that someone else delivers to the resolver for this client (a
    /// test's `Sim::inject`), so that its reply is logged.
    pub fn expect_reply(&mut self, id: u32, sent_at: Time, qname: &str) {
        self.sent.insert(id, (sent_at, zone::fqdn(qname)));
    }

    fn arm(&self, ctx: &mut Ctx<'_, DnsMsg>) {
        if let Some((at, _, _)) = self.schedule.get(self.next) {
            ctx.set_timer(TimerId(0), at.since(ctx.now()));
        }
    }

    /// Sends every question that is due, and arms the timer for the next one.
    fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsMsg>) {
        let now = ctx.now();
        while let Some((at, qname, qtype)) = self.schedule.get(self.next).cloned() {
            if at > now {
                break;
            }
            let id = u32::try_from(self.next).expect("fewer than 2^32 questions");
            self.sent.insert(id, (now, zone::fqdn(&qname)));
            ctx.send(self.resolver, DnsMsg::Resolve { id, qname, qtype });
            self.next += 1;
        }
        self.arm(ctx);
    }

    /// Logs the reply to a question in flight; counts any other reply as a duplicate.
    fn on_resolved(&mut self, ctx: &mut Ctx<'_, DnsMsg>, id: u32, outcome: Outcome, n: u32) {
        let Some((sent_at, qname)) = self.sent.remove(&id) else {
            self.duplicates += 1;
            return;
        };
        let latency = ctx.now().since(sent_at);
        ctx.observe("dns.latency_ms", latency.as_secs_f64() * 1e3);
        self.log.push(Observation {
            sent_at,
            received_at: ctx.now(),
            qname,
            outcome,
            upstream_queries: n,
        });
    }
}

/// A node of the DNS model.
#[derive(Clone, Debug)]
pub enum DnsNode {
    Server(NameServer),
    Resolver(Box<Resolver>),
    Client(Client),
}

impl Process for DnsNode {
    type Msg = DnsMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, DnsMsg>) {
        if let DnsNode::Client(c) = self {
            c.arm(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, DnsMsg>, from: NodeId, msg: DnsMsg) {
        match (self, msg) {
            (DnsNode::Server(s), DnsMsg::Query { id, qname, qtype }) => {
                let lookup = zone::answer(&s.zones, &qname, qtype);
                ctx.send(from, DnsMsg::Response { id, lookup });
            }
            (DnsNode::Resolver(r), DnsMsg::Resolve { id, qname, qtype }) => {
                r.on_resolve(ctx, from, id, (zone::fqdn(&qname), qtype));
            }
            (DnsNode::Resolver(r), DnsMsg::Response { id, lookup }) => {
                r.on_response(ctx, id, lookup);
            }
            (
                DnsNode::Client(c),
                DnsMsg::Resolved {
                    id,
                    outcome,
                    upstream_queries,
                },
            ) => c.on_resolved(ctx, id, outcome, upstream_queries),
            _ => {} // anything else is not for this kind of node: ignore it
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, DnsMsg>, timer: TimerId) {
        match self {
            DnsNode::Resolver(r) => r.on_timeout(ctx, timer.0),
            DnsNode::Client(c) => c.on_timer(ctx),
            DnsNode::Server(_) => {}
        }
    }

    fn durable(&self) {}
}

impl DnsNode {
    /// The resolver inside this node, if it is one.
    pub fn as_resolver(&self) -> Option<&Resolver> {
        match self {
            DnsNode::Resolver(r) => Some(r),
            _ => None,
        }
    }

    /// The client inside this node, if it is one.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            DnsNode::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The client inside this node, if it is one, to change.
    pub fn as_client_mut(&mut self) -> Option<&mut Client> {
        match self {
            DnsNode::Client(c) => Some(c),
            _ => None,
        }
    }

    /// The name server inside this node, if it is one.
    pub fn as_server_mut(&mut self) -> Option<&mut NameServer> {
        match self {
            DnsNode::Server(s) => Some(s),
            _ => None,
        }
    }
}
