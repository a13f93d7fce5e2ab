//! Clients of the store: closed-loop clients that record what they saw, and a probe that the
//! PBS experiment and the scenario tests drive by hand.
//!
//! A client reads and writes random keys through a random server. It remembers, per key, the
//! context of its last read (or the clock of its last write) and sends it with its next put, so
//! that the new version descends from what the client has seen: that is how siblings get
//! resolved (Dynamo §4.4). Every operation, with its start and end times and outcome, goes into
//! the client's history, which the checks of [`super::run`] read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;

use super::message::StoreMsg;
use super::ring::Key;
use super::version::{Siblings, Value};
use crate::coordination::time::vector::VectorClock;
use crate::sim::{Ctx, Exponential, NodeId, Time, TimerId};

const THINK: TimerId = TimerId(0);
const GIVE_UP: TimerId = TimerId(1);

/// What clients do.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Keys `0..keys`.
    pub keys: u64,
    /// Share of puts among operations.
    pub put_fraction: f64,
    /// Mean pause between an answer and the next request (exponential).
    pub think_mean: Duration,
    /// How long a client waits for an answer before giving up on a request.
    pub timeout: Duration,
    /// No request starts after this time.
    pub stop_at: Duration,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// A put that `w` replicas acknowledged, with its version's clock.
    Written(VectorClock),
    /// A get and the siblings it returned.
    Read(Siblings),
    /// No answer, or `Failed`: a put may or may not have landed somewhere.
    Unknown,
}

/// One operation of a client's history.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub client: usize,
    pub key: Key,
    /// The value written, for a put.
    pub put: Option<Value>,
    pub start: Time,
    pub end: Time,
    pub outcome: Outcome,
}

/// A request in flight.
#[derive(Clone, Debug)]
struct InFlight {
    req: u64,
    key: Key,
    put: Option<Value>,
    start: Time,
}

/// A closed-loop client.
#[derive(Clone, Debug)]
pub struct Client {
    id: usize,
    servers: usize,
    workload: Arc<Workload>,
    /// Per key, the clock the client's next put descends from.
    contexts: BTreeMap<Key, VectorClock>,
    current: Option<InFlight>,
    next_req: u64,
    /// Everything this client did, in order.
    pub history: Vec<Op>,
}

impl Client {
    pub fn new(id: usize, servers: usize, workload: Arc<Workload>) -> Client {
        Client {
            id,
            servers,
            workload,
            contexts: BTreeMap::new(),
            current: None,
            next_req: 0,
            history: Vec::new(),
        }
    }

    pub fn on_start(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        self.think(ctx);
    }

    fn think(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        let mean = self.workload.think_mean.as_secs_f64();
        let pause = ctx.rng().sample(Exponential { mean });
        ctx.set_timer(THINK, Duration::from_secs_f64(pause));
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, StoreMsg>, timer: TimerId) {
        match timer {
            THINK => self.send_request(ctx),
            GIVE_UP => self.complete(ctx, Outcome::Unknown),
            other => unreachable!("unknown client timer {other:?}"),
        }
    }

    fn send_request(&mut self, ctx: &mut Ctx<'_, StoreMsg>) {
        if ctx.now() >= Time::ZERO + self.workload.stop_at {
            return;
        }
        let key = ctx.rng().random_range(0..self.workload.keys);
        let server = NodeId(ctx.rng().random_range(0..self.servers));
        let req = self.next_req;
        self.next_req += 1;
        let put = ctx.rng().random_bool(self.workload.put_fraction);
        let put = put.then_some(((self.id as u64) << 32) | req);
        let msg = match put {
            Some(value) => {
                let context = self.contexts.get(&key).cloned().unwrap_or_default();
                StoreMsg::Put {
                    req,
                    key,
                    value,
                    context,
                }
            }
            None => StoreMsg::Get { req, key },
        };
        ctx.send(server, msg);
        ctx.set_timer(GIVE_UP, self.workload.timeout);
        let start = ctx.now();
        self.current = Some(InFlight {
            req,
            key,
            put,
            start,
        });
    }

    pub fn on_message(&mut self, ctx: &mut Ctx<'_, StoreMsg>, msg: StoreMsg) {
        let (req, outcome) = match msg {
            StoreMsg::GetOk { req, siblings } => (req, Outcome::Read(siblings)),
            StoreMsg::PutOk { req, clock } => (req, Outcome::Written(clock)),
            StoreMsg::Failed { req } => (req, Outcome::Unknown),
            _ => return,
        };
        if self.current.as_ref().is_some_and(|c| c.req == req) {
            ctx.cancel_timer(GIVE_UP);
            self.complete(ctx, outcome);
        }
    }

    fn complete(&mut self, ctx: &mut Ctx<'_, StoreMsg>, outcome: Outcome) {
        let Some(c) = self.current.take() else {
            return;
        };
        match &outcome {
            Outcome::Read(siblings) => {
                self.contexts.insert(c.key, siblings.context());
            }
            Outcome::Written(clock) => {
                self.contexts.insert(c.key, clock.clone());
            }
            Outcome::Unknown => {}
        }
        self.history.push(Op {
            client: self.id,
            key: c.key,
            put: c.put,
            start: c.start,
            end: ctx.now(),
            outcome,
        });
        self.think(ctx);
    }
}

/// A node that sends nothing by itself and records every answer it gets, with its arrival
/// time. Tests and the PBS experiment inject requests "from" it with `Sim::inject`.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    pub answers: Vec<(Time, StoreMsg)>,
}

impl Probe {
    /// The answer to request `req`, if it came.
    pub fn answer(&self, req: u64) -> Option<&(Time, StoreMsg)> {
        self.answers.iter().find(|(_, m)| match m {
            StoreMsg::GetOk { req: r, .. }
            | StoreMsg::PutOk { req: r, .. }
            | StoreMsg::Failed { req: r } => *r == req,
            _ => false,
        })
    }
}
