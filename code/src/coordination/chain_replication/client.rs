//! A closed-loop client: one request at a time, a think time between an answer and the next
//! request, and a record of everything it saw.
//!
//! Closed-loop means the offered load adapts to the system: a client waits for its answer
//! before it thinks and asks again, so a slow system sees fewer requests (Schroeder, Wierman and
//! Harchol-Balter, "Open versus closed: a cautionary tale", NSDI 2006). With `c` clients, think
//! time `Z` and response time `R`, the throughput is `X = c / (R + Z)` (the interactive response
//! time law): the chapter's throughput numbers are to be read with that law in mind.
//!
//! Each request is drawn from the [`Workload`]: a read with probability `read_fraction`,
//! otherwise an append of a token unique to the client and request (`"<client>.<id>;"`), on a
//! key drawn uniformly from `keys` keys. Appends of unique tokens make every value a record of
//! the writes it reflects, which the stale-read checker needs (see `history.rs`).
//!
//! The client stamps operations with its clock's reading. The runs of this module give clients
//! perfect clocks, so these are true times, as a history for a checker requires.

use std::time::Duration;

use super::history::{KvInput, KvOutput, Operation, TOKEN_END, with_unanswered};
use super::message::{ChainMsg, RequestId};
use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::sim::{Ctx, Exponential, NodeId, Time, TimerId};

/// The client's timer: the think time is over, send the next request.
pub const THINK: TimerId = TimerId(0);
/// The client's timer: no answer yet, send the request again.
pub const RETRY: TimerId = TimerId(1);

// ANCHOR: read_mode
/// Where clients send reads, and how replicas answer them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReadMode {
    /// Classic chain replication: every read goes to the tail (van Renesse and Schneider, §3).
    Tail,
    /// CRAQ: reads go to a replica chosen uniformly at random, which applies the dirty-read rule.
    Craq,
    /// Reads go to a random replica, which answers with its newest version, committed or not.
    Naive,
}
// ANCHOR_END: read_mode

impl ReadMode {
    /// All modes, in the order the experiment reports them.
    pub const ALL: [ReadMode; 3] = [ReadMode::Tail, ReadMode::Craq, ReadMode::Naive];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Tail => "chain (tail reads)",
            ReadMode::Craq => "CRAQ",
            ReadMode::Naive => "chain (naive any-replica reads)",
        }
    }
}

// ANCHOR: workload
/// What clients ask for, and how often.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Workload {
    /// Probability that a request is a read; the rest are appends.
    pub read_fraction: f64,
    /// Keys are `k0 .. k{keys-1}`, each request's key drawn uniformly.
    pub keys: u64,
    /// Mean of the exponentially distributed think time between an answer and the next request.
    pub think_time_mean: Duration,
}
// ANCHOR_END: workload

impl Workload {
    /// Checks the workload makes sense.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.read_fraction) {
            return Err(format!(
                "read fraction {} is not in [0, 1]",
                self.read_fraction
            ));
        }
        if self.keys == 0 {
            return Err("a workload needs at least one key".to_string());
        }
        Ok(())
    }
}

/// The request a client is waiting on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// Its id.
    pub id: RequestId,
    /// What was asked.
    pub input: KvInput,
    /// When it was sent (the client's clock).
    pub call: Time,
}

// ANCHOR: client
/// A closed-loop client of a chain.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's number in histories.
    pub client_id: u64,
    /// The chain, head first.
    pub chain: Vec<NodeId>,
    /// Where reads go.
    pub read_mode: ReadMode,
    /// What to ask.
    pub workload: Workload,
    /// The client sends no request at or after this time.
    pub stop_at: Time,
    /// The id of the next request. Invariant: larger than every id sent so far.
    pub next_id: RequestId,
    /// The request awaiting its answer, if any. Invariant: at most one (closed loop).
    pub in_flight: Option<InFlight>,
    /// Every completed operation, in completion order.
    pub history: Vec<Operation>,
    /// Send a request again if it is unanswered this long (only when replicas may fail).
    pub retry_after: Option<Duration>,
    /// The configuration of `chain` (see `master.rs`).
    pub config_version: u64,
}
// ANCHOR_END: client

impl Client {
    /// Client `client_id` of `chain`, sending requests until `stop_at`.
    pub fn new(
        client_id: u64,
        chain: Vec<NodeId>,
        read_mode: ReadMode,
        workload: Workload,
        stop_at: Time,
    ) -> Client {
        assert!(!chain.is_empty(), "a client needs a chain");
        Client {
            client_id,
            chain,
            read_mode,
            workload,
            stop_at,
            next_id: 1,
            in_flight: None,
            history: Vec::new(),
            retry_after: None,
            config_version: 0,
        }
    }

    /// The whole history, with the unanswered request (if any) as an operation without output.
    pub fn full_history(&self) -> Vec<Operation> {
        let unanswered = self.in_flight.as_ref().map(|f| (&f.input, f.call));
        with_unanswered(&self.history, self.client_id, unanswered)
    }

    /// Starts thinking: clients start at staggered times, not all at once.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        self.think(ctx);
    }

    fn think(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let mean = self.workload.think_time_mean.as_secs_f64();
        let pause = Duration::from_secs_f64(ctx.rng().sample(Exponential { mean }));
        ctx.set_timer(THINK, pause);
    }

    // ANCHOR: send_next
    /// The think time is over: draw the next request and send it where it belongs.
    pub fn on_think_done(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        if ctx.now() >= self.stop_at {
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let key = format!("k{}", ctx.rng().random_range(0..self.workload.keys));
        let is_read = ctx.rng().random_bool(self.workload.read_fraction);
        let input = if is_read {
            KvInput::Get { key }
        } else {
            let value = format!("{}.{id}{TOKEN_END}", self.client_id);
            KvInput::Append { key, value }
        };
        let call = ctx.now();
        self.in_flight = Some(InFlight { id, input, call });
        self.send_in_flight(ctx);
    }
    // ANCHOR_END: send_next

    // ANCHOR: send_in_flight
    /// Sends the request in flight where it belongs: writes to the head, reads by read mode.
    fn send_in_flight(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let f = self.in_flight.as_ref().expect("a request in flight");
        let to = match (&f.input, self.read_mode) {
            (KvInput::Get { .. }, ReadMode::Tail) => *self.chain.last().expect("non-empty"),
            (KvInput::Get { .. }, _) => *self.chain.choose(ctx.rng()).expect("non-empty"),
            _ => self.chain[0],
        };
        let (id, input) = (f.id, f.input.clone());
        ctx.send(to, ChainMsg::Request { id, input });
        if let Some(after) = self.retry_after {
            ctx.set_timer(RETRY, after);
        }
    }
    // ANCHOR_END: send_in_flight

    /// No answer in time: the replica may have failed; send the same request again (same id,
    /// so that the head recognises a write it already ordered).
    pub fn on_retry(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        if self.in_flight.is_some() {
            ctx.count("client_retries");
            self.send_in_flight(ctx);
        }
    }

    /// The master published a new chain.
    pub fn on_new_chain(&mut self, version: u64, chain: Vec<NodeId>) {
        if version > self.config_version && !chain.is_empty() {
            self.config_version = version;
            self.chain = chain;
        }
    }

    /// An answer: record the operation and its latency, then think.
    pub fn on_response(&mut self, ctx: &mut Ctx<'_, ChainMsg>, id: RequestId, output: KvOutput) {
        if self.in_flight.as_ref().is_none_or(|f| f.id != id) {
            // A duplicate answer, or an answer to an old request: nothing waits for it.
            ctx.count("unexpected_responses");
            return;
        }
        let f = self.in_flight.take().expect("checked above");
        if self.retry_after.is_some() {
            ctx.cancel_timer(RETRY);
        }
        let now = ctx.now();
        let latency_ms = now.since(f.call).as_secs_f64() * 1e3;
        let is_write = f.input.is_write();
        ctx.observe(
            if is_write {
                "write_latency_ms"
            } else {
                "read_latency_ms"
            },
            latency_ms,
        );
        ctx.observe("latency_ms", latency_ms);
        self.history.push(Operation {
            client: self.client_id,
            input: f.input,
            output: Some(output),
            call_ns: f.call.0,
            return_ns: now.0,
        });
        self.think(ctx);
    }
}
