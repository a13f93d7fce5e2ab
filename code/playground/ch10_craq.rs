// GENERATED from code/examples/ch10_craq.rs and the `uds` modules sim, coordination::chain_replication, coordination::linearizability by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 10 listing: one small chain run three ways, reads at the tail, with CRAQ, and naive.
//!
//! playground-bundle: sim coordination::chain_replication coordination::linearizability
//!
//! Run: `cargo run -p uds --example ch10_craq`
use std::time::Duration;

use crate::coordination::chain_replication::{
    ChainSetup, ReadMode, Workload, check_stale_reads, run,
};
use crate::sim::{Latency, LinkConfig};

// ANCHOR: main
fn main() {
    for read_mode in [ReadMode::Tail, ReadMode::Craq, ReadMode::Naive] {
        let setup = ChainSetup {
            chain_length: 3,
            clients: 16,
            read_mode,
            // Half reads, on two keys, so that reads often meet writes in progress.
            workload: Workload {
                read_fraction: 0.5,
                keys: 2,
                think_time_mean: Duration::from_millis(1),
            },
            // One-way delays between 0.2 and 1 ms: messages overtake each other.
            link: LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
                min: Duration::from_micros(200),
                max: Duration::from_millis(1),
            }),
            service_time: Duration::from_micros(200),
            duration: Duration::from_millis(500),
            read_rule: None,
            failures: None,
        };
        let outcome = run(&setup, 42).expect("a valid setup, and every invariant holds");
        let stale = check_stale_reads(&outcome.history).expect("an append-only history");
        println!("{}:", read_mode.name());
        println!(
            "  {} operations; messages handled per replica (head first): {:?}",
            outcome.history.len(),
            outcome.handled
        );
        println!(
            "  reads answered locally {}, after asking the tail {}",
            outcome.local_reads, outcome.queried_reads
        );
        println!(
            "  stale reads: {} of {} ({} behind a write, {} behind a read)",
            stale.stale, stale.reads, stale.behind_write, stale.behind_read
        );
        if let Some(first) = stale.first {
            println!("  first: {first}");
        }
        println!("  trace hash {:016x}", outcome.trace_hash);
    }
}
// ANCHOR_END: main

mod coordination {

pub mod chain_replication {
//! Chapter 10: chain replication and CRAQ.
//!
//! **What it guarantees.** Chain replication (van Renesse and Schneider, "Chain Replication for
//! Supporting High Throughput and Availability", OSDI 2004) replicates a key-value store on `n`
//! servers arranged in a line and makes it linearizable: every read and write appears to take
//! effect at one instant between its call and its return. CRAQ ("Object Storage on CRAQ", Terrace
//! and Freedman, USENIX ATC 2009) keeps that guarantee while letting *every* replica answer reads,
//! so that read throughput grows with the length of the chain instead of being capped by one
//! server.
//!
//! **How.** Writes enter at the **head**, which orders them, and travel down the chain; each
//! replica applies them in that order. The **tail** applies a write last, so when it has the
//! write, everyone has: the tail then answers the client, and the write is *committed* (§3 of
//! the paper). Classic reads go to the tail, whose state is exactly the committed writes. CRAQ
//! adds acknowledgements that travel back up the chain so each replica learns which of its
//! versions are committed ("clean"); a replica answers a read of a clean key itself, and for a
//! key with uncommitted ("dirty") versions asks the tail which version to return (CRAQ §2.3).
//!
//! ```text
//!  client --write--> head --> middle --> tail --ok--> client
//!                     ^--ack--  ^----ack----'
//!  classic read: client --> tail;   CRAQ read: client --> any replica (--> tail if dirty)
//! ```
//!
//! **Invariants** (checked after every simulated event, see [`run`]): every replica applies the
//! same writes in the same order, and each replica's writes are a prefix of its predecessor's
//! (the paper's update propagation invariant, §3); no replica marks a write clean before the tail
//! has applied it. Offline, on the clients' history: no read under tail or CRAQ reads is stale
//! (see [`history::check_stale_reads`]), with or without replica crashes.
//!
//! **Simplifications, stated plainly.**
//! - **Failures: removal only.** A master ([`master`]) detects crashed replicas by heartbeat
//!   and removes them from the chain (§3 of the paper); the chain then keeps serving with one
//!   replica fewer. There is no chain extension (adding a replacement at the tail), no restart,
//!   and the master itself never fails (the paper replicates it). The master's detector is
//!   accurate only because our links have bounded delays: chain replication assumes fail-stop
//!   servers, and a replica wrongly removed while alive could serve a stale read until it hears
//!   of its removal. The throughput and stale-read experiments run without failures.
//! - Links may reorder (latency jitter) where the paper assumes FIFO channels: replicas buffer
//!   writes that arrive early and apply them in sequence order (see [`replica`]).
//! - Each replica serves messages one at a time with a fixed service time ([`service`]), so
//!   that a saturated tail shows up in throughput; sending is free.
//! - Writes are `Put` and `Append`; the head executes them and forwards the resulting value, as
//!   the paper's head forwards state changes. CRAQ's multi-object and wide-area features (§3-4)
//!   are out of scope.
//!
//! **Files.** [`versions`] holds the per-key versions and the read rules (the heart of CRAQ,
//! pure functions); [`message`] the protocol's messages; [`replica`] the replica state machine;
//! [`master`] the configuration service that removes failed replicas;
//! [`service`] the processor model; [`client`] the closed-loop clients and workload; [`run`] a
//! whole deployment on the simulator; [`history`] histories and the stale-read checker;
//! [`exercise`] the chapter's coding exercise.
//!
//! Everything uses only std and `rand` (as does [`crate::sim`]), so a listing built from it
//! runs on the Rust playground.
//!
//! The history types in [`history`] stand in for those of `coordination::linearizability`
//! (same fields, same meaning); when both modules are merged, `history.rs` re-exports those
//! types instead of defining its own (`Operation` there is `Operation<KvInput, KvOutput>`).

pub mod client {
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
}
pub mod exercise {
//! Exercise: CRAQ's dirty-read rule.
//!
//! A CRAQ replica keeps, per key, its newest clean (committed) version and any dirty versions
//! written after it ([`KeyVersions`]). Implement [`starter::craq_read`], the rule a replica
//! applies to a read (Terrace and Freedman 2009, §2.3):
//!
//! - first pass (`tail_committed == None`): if the key has no dirty version, answer with the
//!   clean value; otherwise return [`ReadDecision::AskTail`];
//! - second pass (`tail_committed == Some(seq)`, the sequence number of the tail's latest
//!   committed write of the key): answer with the value of that version. Careful: between the
//!   question and the answer, an acknowledgement may have made a *newer* version clean and
//!   dropped version `seq` ([`KeyVersions::committed_version`] handles that case).
//!
//! The tests first check the rule on small cases, then run a CRAQ chain on the simulator with
//! your rule in every replica, over many seeds with latency jitter, and check that no read is
//! stale. Run them with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_craq_read -- --ignored
//! ```
//!
//! Then try [`tempting_but_wrong`], which skips the tail and answers with the last clean
//! version: the test `answering_the_last_clean_version_without_asking_the_tail_is_stale` shows
//! why CRAQ does not do that. [`solution`] has one answer; its tests run in the normal suite.

use super::versions::{KeyVersions, ReadDecision};

/// Your version.
pub mod starter {
    use super::{KeyVersions, ReadDecision};

    /// CRAQ's dirty-read rule.
    pub fn craq_read(_key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
        todo!("answer a clean key locally; ask the tail about a dirty one; then answer its version")
    }
}

/// One answer.
pub mod solution {
    use super::{KeyVersions, ReadDecision};

    // ANCHOR: solution
    /// CRAQ's dirty-read rule.
    pub fn craq_read(key: &KeyVersions, tail_committed: Option<u64>) -> ReadDecision {
        match tail_committed {
            None if key.is_dirty() => ReadDecision::AskTail,
            None => ReadDecision::Answer(key.clean().value.clone()),
            Some(seq) => {
                let version = key.committed_version(seq).expect("the tail is never ahead");
                ReadDecision::Answer(version.value.clone())
            }
        }
    }
    // ANCHOR_END: solution
}

// ANCHOR: tempting_but_wrong
/// Never asks the tail: a dirty key is answered with its last clean version. Committed, yes,
/// but possibly older than a write the tail has already acknowledged to its client, because the
/// acknowledgement has not yet climbed back up to this replica.
pub fn tempting_but_wrong(key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
    ReadDecision::Answer(key.clean().value.clone())
}
// ANCHOR_END: tempting_but_wrong

}
pub mod history {
//! Client histories, and a checker for the one anomaly the chapter measures: stale reads.
//!
//! A *history* is what clients saw: for every operation, what was asked, what came back, and
//! when the call and the return happened in true (simulated) time. The types here have the shape
//! of the linearizability checker's (`Operation<KvInput, KvOutput>` of
//! `coordination::linearizability`), so that the same history can be handed to both.
//!
//! The full linearizability check is a search. For the experiment we want something cheaper
//! and more specific: *how many* reads were stale, and why. A read is **stale** when it returns
//! a value older than one that was already visible before the read was issued:
//!
//! - **behind a write**: an append that had been acknowledged to its client before the read
//!   began is missing from the value read; this is the staleness of reading a lagging replica
//!   (a Raft follower, an asynchronous backup);
//! - **behind a read**: a read that had already *returned* before this read began saw a longer
//!   value; this is what happens when a read is served from a write that is not yet committed
//!   and a later read is served from a replica that does not have it: time goes backwards.
//!
//! Either one makes the history non-linearizable (Herlihy and Wing, TOPLAS 12(3), 1990): a
//! linearizable read must reflect every operation that completed before it began.
//!
//! To order values without knowing the system's internals, the checker needs writes that are
//! appends of unique tokens ending in [`TOKEN_END`] (as in MIT 6.5840's key/value tests): then
//! every value of a key is a sequence of tokens, and in a correct execution every value read is
//! a prefix of the longest value read or written. A value that is not such a prefix is reported
//! as **divergent** (replicas applied the writes in different orders). Histories with puts are
//! outside the checker's scope and rejected with an error, not a wrong answer.

use std::collections::BTreeMap;
use std::fmt;

use crate::sim::Time;

// ANCHOR: kv_types
/// The key-value operations and histories are the linearizability checker's own types
/// (chapter 10), so a chain's history can be handed to the checker as it is.
pub use crate::coordination::linearizability::{KvInput, KvOutput};

/// One operation of a client history: who asked what, what came back (`None` if nothing did
/// before the run ended), and when, in true nanoseconds (`return_ns` is `u64::MAX` then).
pub type Operation = crate::coordination::linearizability::Operation<KvInput, KvOutput>;
// ANCHOR_END: kv_types

/// The character that ends every append token the checker understands.
pub const TOKEN_END: char = ';';

/// What the stale-read checker found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleReadReport {
    /// Completed reads examined.
    pub reads: u64,
    /// Reads missing an append acknowledged before they began.
    pub behind_write: u64,
    /// Reads older than a value another read had returned before they began.
    pub behind_read: u64,
    /// Reads that were stale for either reason (each counted once).
    pub stale: u64,
    /// Reads whose value is not a prefix of the key's longest value: writes applied in
    /// different orders. Always zero for a correct chain.
    pub divergent: u64,
    /// A readable account of the first stale or divergent read, if any.
    pub first: Option<String>,
}

impl StaleReadReport {
    /// The fraction of reads that were stale (0 when there were no reads).
    pub fn stale_fraction(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            self.stale as f64 / self.reads as f64
        }
    }

    fn merge(&mut self, other: StaleReadReport) {
        self.reads += other.reads;
        self.behind_write += other.behind_write;
        self.behind_read += other.behind_read;
        self.stale += other.stale;
        self.divergent += other.divergent;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// Why a history cannot be judged by this checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// A put: values are then not ordered by their tokens.
    Put { key: String },
    /// An append whose value is not one token ending in [`TOKEN_END`].
    BadToken { key: String, value: String },
    /// The same token appended twice to a key.
    DuplicateToken { key: String, value: String },
    /// A completed operation whose return precedes its call.
    TimeTravel { client: u64 },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Put { key } => write!(
                f,
                "put on key {key:?}: the stale-read checker needs append-only histories"
            ),
            CheckError::BadToken { key, value } => write!(
                f,
                "append {value:?} on key {key:?} is not one token ending in {TOKEN_END:?}"
            ),
            CheckError::DuplicateToken { key, value } => {
                write!(f, "token {value:?} appended twice to key {key:?}")
            }
            CheckError::TimeTravel { client } => {
                write!(f, "an operation of client {client} returns before its call")
            }
        }
    }
}

impl std::error::Error for CheckError {}

/// The operations of one key, split by kind.
#[derive(Default)]
struct KeyOps<'a> {
    /// Completed appends: (return time, token).
    appends: Vec<(u64, &'a str)>,
    /// Every append token (completed or not), to find the longest value's order.
    all_tokens: Vec<&'a str>,
    /// Completed reads: the operation and the value it returned.
    reads: Vec<(&'a Operation, &'a str)>,
}

// ANCHOR: check_stale_reads
/// Counts the stale reads of an append-only `history`, key by key.
pub fn check_stale_reads(history: &[Operation]) -> Result<StaleReadReport, CheckError> {
    let mut keys: BTreeMap<&str, KeyOps<'_>> = BTreeMap::new();
    for op in history {
        if op.output.is_some() && op.return_ns < op.call_ns {
            return Err(CheckError::TimeTravel { client: op.client });
        }
        let ops = keys.entry(op.input.key()).or_default();
        match (&op.input, &op.output) {
            (KvInput::Put { key, .. }, _) => return Err(CheckError::Put { key: key.clone() }),
            (KvInput::Append { key, value }, output) => {
                let one_token = value.ends_with(TOKEN_END) && value.matches(TOKEN_END).count() == 1;
                if !one_token {
                    let (key, value) = (key.clone(), value.clone());
                    return Err(CheckError::BadToken { key, value });
                }
                ops.all_tokens.push(value);
                if output.is_some() {
                    ops.appends.push((op.return_ns, value));
                }
            }
            (KvInput::Get { .. }, Some(KvOutput::Value(value))) => {
                ops.reads.push((op, value.as_deref().unwrap_or("")));
            }
            (KvInput::Get { .. }, _) => {} // never answered (or answered nonsense): no claim
        }
    }
    let mut report = StaleReadReport::default();
    for (key, ops) in keys {
        report.merge(check_key(key, ops)?);
    }
    Ok(report)
}
// ANCHOR_END: check_stale_reads

/// The stale reads of one key. Runs in O(n log n) for n operations of the key.
fn check_key(key: &str, mut ops: KeyOps<'_>) -> Result<StaleReadReport, CheckError> {
    // The order of the appends: the longest value read, then any token it lacks, in call order.
    let longest = ops.reads.iter().map(|r| r.1).max_by_key(|v| v.len());
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for token in longest.into_iter().flat_map(tokens) {
        let next = position.len();
        position.entry(token).or_insert(next);
    }
    let mut seen = std::collections::BTreeSet::new();
    for token in &ops.all_tokens {
        if !seen.insert(*token) {
            let (key, value) = (key.to_string(), token.to_string());
            return Err(CheckError::DuplicateToken { key, value });
        }
        let next = position.len();
        position.entry(token).or_insert(next);
    }
    let longest = longest.unwrap_or("");

    // For each time t, the furthest position among appends acknowledged before t.
    ops.appends.sort_unstable();
    let mut acked_max = Vec::with_capacity(ops.appends.len());
    let mut furthest = 0;
    for (_, token) in &ops.appends {
        furthest = furthest.max(position[token] + 1);
        acked_max.push(furthest);
    }
    // For each time t, the longest value (in tokens) among reads returned before t.
    let mut by_return: Vec<(u64, usize)> = ops
        .reads
        .iter()
        .map(|(op, v)| (op.return_ns, tokens(v).count()))
        .collect();
    by_return.sort_unstable();
    let mut read_max = Vec::with_capacity(by_return.len());
    let mut longest_read = 0;
    for (_, n) in &by_return {
        longest_read = longest_read.max(*n);
        read_max.push(longest_read);
    }

    let mut report = StaleReadReport::default();
    for (op, value) in &ops.reads {
        report.reads += 1;
        if !longest.starts_with(value) {
            report.divergent += 1;
            report.first.get_or_insert_with(|| {
                let client = op.client;
                format!(
                    "client {client} read {value:?} from key {key:?}: not a prefix of {longest:?}"
                )
            });
            continue;
        }
        let length = tokens(value).count();
        // Appends and reads strictly before the call: `partition_point` counts them.
        let before = ops.appends.partition_point(|(at, _)| *at < op.call_ns);
        let behind_write = before > 0 && acked_max[before - 1] > length;
        let before = by_return.partition_point(|(at, _)| *at < op.call_ns);
        let behind_read = before > 0 && read_max[before - 1] > length;
        report.behind_write += u64::from(behind_write);
        report.behind_read += u64::from(behind_read);
        if behind_write || behind_read {
            report.stale += 1;
            report.first.get_or_insert_with(|| {
                let why = if behind_write {
                    "an append acknowledged"
                } else {
                    "a longer value returned by another read"
                };
                format!(
                    "client {} read key {key:?} at {} ns and got {length} appends, but {why} \
                     before that showed more",
                    op.client, op.call_ns
                )
            });
        }
    }
    Ok(report)
}

/// The tokens of a value, each with its terminator.
fn tokens(value: &str) -> impl Iterator<Item = &str> {
    value.split_inclusive(TOKEN_END)
}

/// A client's history with its unanswered request, if any, appended as an operation of unknown
/// outcome: it may or may not have taken effect, at any time after its call.
pub fn with_unanswered(
    history: &[Operation],
    client: u64,
    unanswered: Option<(&KvInput, Time)>,
) -> Vec<Operation> {
    let mut ops = history.to_vec();
    if let Some((input, call)) = unanswered {
        ops.push(Operation {
            client,
            input: input.clone(),
            output: None,
            call_ns: call.0,
            return_ns: u64::MAX,
        });
    }
    ops
}

}
pub mod master {
//! The master: the configuration service that removes failed replicas from the chain.
//!
//! Chain replication's failure handling (van Renesse and Schneider 2004, §3) relies on a master
//! that detects failed servers and tells the others the new shape of the chain. Removing a
//! server is enough to stay available: the head's successor becomes head, the tail's predecessor
//! becomes tail, and a middle server's predecessor resends to its new successor the writes it
//! sent but has not seen acknowledged (see `Replica::on_new_chain`).
//!
//! The paper assumes **fail-stop** servers: a server that is removed really has stopped. This
//! master pings every replica each `period` and removes one that has not answered for `timeout`.
//! That is accurate only if `timeout` exceeds any round trip, which holds in our runs (bounded
//! link delays, and replicas answer pings outside their service queue); the tests check that
//! every removed replica had in fact crashed. A removed replica that is alive stops serving
//! (`Replica::removed`), but until it hears of its removal it could answer a read, which is why
//! fail-stop matters.
//!
//! Simplifications: the master itself never fails (the paper replicates it with Paxos); it never
//! adds a replica back (no chain extension); it never removes the last replica.

use std::collections::BTreeMap;
use std::time::Duration;

use super::message::ChainMsg;
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// The master's periodic timer: check for silent replicas, then ping.
pub const TICK: TimerId = TimerId(0);

// ANCHOR: master
/// Detects failed replicas by heartbeat and publishes the chain without them.
#[derive(Clone, Debug)]
pub struct Master {
    /// The current chain, head first. Invariant: never empty.
    pub chain: Vec<NodeId>,
    /// Who hears about new configurations besides the replicas.
    pub clients: Vec<NodeId>,
    /// The current configuration's number; increases with each change.
    pub version: u64,
    /// Time between two rounds of pings.
    pub period: Duration,
    /// A replica silent for longer than this is removed.
    pub timeout: Duration,
    /// When each replica of the chain last answered (or the start, before any answer).
    pub last_heard: BTreeMap<NodeId, Time>,
    /// Every removal: when, and whom.
    pub removed: Vec<(Time, NodeId)>,
}
// ANCHOR_END: master

impl Master {
    /// A master for `chain` whose changes are also sent to `clients`.
    pub fn new(
        chain: Vec<NodeId>,
        clients: Vec<NodeId>,
        period: Duration,
        timeout: Duration,
    ) -> Master {
        assert!(!chain.is_empty(), "a master needs a chain");
        Master {
            chain,
            clients,
            version: 0,
            period,
            timeout,
            last_heard: BTreeMap::new(),
            removed: Vec::new(),
        }
    }

    /// Starts the heartbeat.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        for &r in &self.chain {
            self.last_heard.insert(r, ctx.now());
        }
        self.tick(ctx);
    }

    /// A replica answered a ping.
    pub fn on_pong(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId) {
        if let Some(heard) = self.last_heard.get_mut(&from) {
            *heard = ctx.now();
        }
    }

    // ANCHOR: tick
    /// Removes every replica silent for longer than the timeout, publishes the new chain if it
    /// changed, and pings the replicas still in it.
    pub fn tick(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let now = ctx.now();
        let before = self.chain.clone();
        for r in before.clone() {
            let silent = now.since(self.last_heard[&r]) > self.timeout;
            if silent && self.chain.len() > 1 {
                self.chain.retain(|&n| n != r);
                self.last_heard.remove(&r);
                self.removed.push((now, r));
                ctx.count("replicas_removed");
            }
        }
        if self.chain != before {
            self.version += 1;
            let msg = ChainMsg::NewChain {
                version: self.version,
                chain: self.chain.clone(),
            };
            // The removed replicas hear it too, so that a live one (a wrong suspicion) stops.
            for &to in before.iter().chain(&self.clients) {
                ctx.send(to, msg.clone());
            }
        }
        for &r in &self.chain {
            ctx.send(r, ChainMsg::Ping);
        }
        ctx.set_timer(TICK, self.period);
    }
    // ANCHOR_END: tick
}
}
pub mod message {
//! The messages of chain replication and CRAQ.
//!
//! Clients speak [`ChainMsg::Request`] and hear [`ChainMsg::Response`]. Inside the chain, writes
//! travel down as [`ChainMsg::Propagate`] and their acknowledgements travel up as
//! [`ChainMsg::Ack`] (van Renesse and Schneider 2004, §3; CRAQ §2.3). CRAQ adds one round trip,
//! [`ChainMsg::VersionQuery`] / [`ChainMsg::VersionReply`], between a replica holding a dirty key
//! and the tail. [`ChainMsg::Ping`], [`ChainMsg::Pong`] and [`ChainMsg::NewChain`] belong to the
//! master, which removes failed replicas from the chain (see `master.rs`).

use super::history::{KvInput, KvOutput};
use crate::sim::NodeId;

/// A client's number for one of its requests. Invariant: increases with each request.
pub type RequestId = u64;

// ANCHOR: chain_msg
/// Everything nodes of a chain send each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainMsg {
    /// Client to replica: writes go to the head, reads to the tail (or, with CRAQ, anywhere).
    Request { id: RequestId, input: KvInput },
    /// Replica to client: the answer to request `id`. Writes are answered by the tail.
    Response { id: RequestId, output: KvOutput },
    /// A non-head replica passing a write it received by mistake to the head.
    Forward {
        client: NodeId,
        id: RequestId,
        input: KvInput,
    },
    /// Replica to its successor: write number `seq` left `key` with `value`; the tail answers
    /// request `id` of `client` once it has applied it.
    Propagate {
        seq: u64,
        key: String,
        value: String,
        client: NodeId,
        id: RequestId,
    },
    /// Replica to its predecessor: the tail has committed write `seq`, which wrote `key`.
    Ack { seq: u64, key: String },
    /// CRAQ, replica to tail: which write of `key` have you committed? Asked on behalf of
    /// request `id` of `client`.
    VersionQuery {
        key: String,
        client: NodeId,
        id: RequestId,
    },
    /// CRAQ, tail to replica: the latest committed write of `key` is number `seq`.
    VersionReply {
        key: String,
        seq: u64,
        client: NodeId,
        id: RequestId,
    },
    /// Master to replica: are you alive? (Answered at once, outside the service queue.)
    Ping,
    /// Replica to master: yes.
    Pong,
    /// Master to replicas and clients: the chain is now `chain` (head first), configuration
    /// number `version`. Older configurations are ignored.
    NewChain { version: u64, chain: Vec<NodeId> },
}
// ANCHOR_END: chain_msg

impl ChainMsg {
    /// The answer to a write.
    pub fn write_done(id: RequestId) -> ChainMsg {
        ChainMsg::Response {
            id,
            output: KvOutput::Ok,
        }
    }
}
}
pub mod replica {
//! One replica of the chain: head, middle or tail, depending on its position.
//!
//! **Writes** (van Renesse and Schneider 2004, §3). The head gives each write the next
//! sequence number, executes it against its own state, and passes the resulting value to its
//! successor in a `Propagate`. Each replica applies the writes in sequence order and passes them
//! on. The tail applies a write, answers the client, and sends an `Ack` back up; each replica
//! marks the write's version clean and passes the `Ack` to its predecessor. The head orders all
//! writes and every replica applies them in that order, so the replicas' histories of applied
//! writes are prefixes of one another, longest at the head and shortest at the tail: the paper's
//! *update propagation invariant* (§3: `Hist_j ⪯ Hist_i` for `i ≤ j`). A write is committed when
//! the tail has applied it, which is exactly when the client hears "ok".
//!
//! **Reads.** With classic chain replication, only the tail answers reads: its state holds
//! exactly the committed writes, so reads are linearizable. With CRAQ, any replica answers using
//! the rule of `versions.rs`. With the naive rule, any replica answers with what it has.
//!
//! **The network is not FIFO here.** The paper assumes FIFO links (TCP). The simulator's links
//! with latency jitter reorder messages, so a replica holds a `Propagate` that arrives ahead of
//! its turn until the writes before it have arrived (like TCP's out-of-order queue), ignores one
//! it has already applied (a duplicate), and treats acknowledgements as idempotent.
//!
//! **Failures** (§3). A master (`master.rs`) removes a crashed replica and sends everyone the
//! new chain ([`Replica::on_new_chain`]). If the head fails, its successor becomes head: writes
//! the old head had not passed on are lost, never acknowledged, and their clients retry. If the
//! tail fails, its predecessor becomes tail and commits the writes it holds: it has every write
//! the old tail had. If a middle replica fails, its predecessor resends to its new successor
//! every write it has not seen acknowledged (its `sent` list, the paper's `Sent_i`), since the
//! successor may lack some; duplicates are ignored by sequence number. Clients retry with the
//! same request id, and every replica remembers each client's latest write, so a new head
//! recognises a retry and answers it once that write is committed instead of applying it twice.
//!
//! **Simplifications.** Replicas fail by crashing and never come back: there is no chain
//! extension (adding a replica at the tail, §3), and no durable state. Clients have one request
//! in flight at a time with increasing ids, so a replica needs only each client's latest id.

use std::collections::BTreeMap;
use std::time::Duration;

use super::history::{KvInput, KvOutput};
use super::message::{ChainMsg, RequestId};
use super::service::ServiceQueue;
use super::versions::{KeyVersions, ReadDecision, ReadRule};
use crate::sim::{Ctx, Fnv64, NodeId, TimerId};

/// The timer of a replica's processor (see `service.rs`).
pub const SERVICE: TimerId = TimerId(0);

/// A write as it travels down the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// Its position in the total order of writes chosen by the head, from 1.
    pub seq: u64,
    /// The key it wrote.
    pub key: String,
    /// The key's value after it.
    pub value: String,
    /// The client to answer, and its request id.
    pub client: NodeId,
    pub id: RequestId,
}

// ANCHOR: replica
/// A replica of a chain.
#[derive(Clone, Debug)]
pub struct Replica {
    /// The chain, head first. Invariant: contains this replica, at `position`.
    pub chain: Vec<NodeId>,
    /// This replica's index in `chain`: 0 is the head, `chain.len() - 1` the tail.
    pub position: usize,
    /// How this replica answers reads (CRAQ's rule or the naive one). The tail's versions are
    /// always clean, so both rules agree there.
    pub read_rule: ReadRule,
    /// The versions of every key written so far.
    pub store: BTreeMap<String, KeyVersions>,
    /// How many writes this replica has applied. Invariant: it applied writes `1..=applied`,
    /// in that order.
    pub applied: u64,
    /// Writes that arrived before their turn, by sequence number.
    /// Invariant: every key is greater than `applied + 1`.
    pub early: BTreeMap<u64, Write>,
    /// `digests[k]`: a hash of the first `k + 1` writes applied, to check that all replicas
    /// apply the same writes in the same order. Invariant: `digests.len() == applied`.
    pub digests: Vec<u64>,
    /// The largest sequence number this replica has marked clean.
    /// Invariant: at most the tail's `applied` (clean means committed).
    pub max_clean: u64,
    /// For each client, its latest write applied here and that write's sequence number. Every
    /// replica keeps it, so that a replica that becomes head recognises a retried write.
    pub last_request: BTreeMap<NodeId, (RequestId, u64)>,
    /// Writes passed to the successor and not yet acknowledged, by sequence number: the paper's
    /// `Sent` list (§3), resent to a new successor when the old one is removed. Empty at the tail.
    pub sent: BTreeMap<u64, Write>,
    /// Head only: retried writes already applied, by sequence number, to answer once committed.
    pub pending_replies: BTreeMap<u64, Vec<(NodeId, RequestId)>>,
    /// The configuration this replica follows (0: the initial chain).
    pub config_version: u64,
    /// Whether the master removed this replica from the chain; it then serves nothing.
    pub removed: bool,
    /// The processor: messages wait here for their turn.
    pub service: ServiceQueue<ChainMsg>,
}
// ANCHOR_END: replica

impl Replica {
    /// Replica number `position` of `chain`, whose processor takes `service_time` per message.
    pub fn new(
        chain: Vec<NodeId>,
        position: usize,
        read_rule: ReadRule,
        service_time: Duration,
    ) -> Replica {
        assert!(
            position < chain.len(),
            "position {position} outside the chain"
        );
        Replica {
            chain,
            position,
            read_rule,
            store: BTreeMap::new(),
            applied: 0,
            early: BTreeMap::new(),
            digests: Vec::new(),
            max_clean: 0,
            last_request: BTreeMap::new(),
            sent: BTreeMap::new(),
            pending_replies: BTreeMap::new(),
            config_version: 0,
            removed: false,
            service: ServiceQueue::new(service_time, SERVICE),
        }
    }

    /// Whether this replica is the head, which orders writes.
    pub fn is_head(&self) -> bool {
        self.position == 0
    }

    /// Whether this replica is the tail, which commits writes and answers classic reads.
    pub fn is_tail(&self) -> bool {
        self.position + 1 == self.chain.len()
    }

    fn head(&self) -> NodeId {
        self.chain[0]
    }

    fn tail(&self) -> NodeId {
        *self.chain.last().expect("a chain has a replica")
    }

    /// The versions of `key` (an unwritten key has one clean, empty version).
    pub fn versions(&self, key: &str) -> KeyVersions {
        self.store.get(key).cloned().unwrap_or_default()
    }

    /// A message arrived: queue it for the processor (or handle it now if service is free).
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        if msg == ChainMsg::Ping {
            // Heartbeats bypass the queue, so that a busy replica is not taken for a dead one.
            ctx.send(from, ChainMsg::Pong);
            return;
        }
        if let Some((from, msg)) = self.service.arrive(ctx, from, msg) {
            self.handle(ctx, from, msg);
        }
    }

    /// The processor finished serving a message: act on it.
    pub fn on_service_done(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let (from, msg) = self.service.complete(ctx);
        self.handle(ctx, from, msg);
    }

    fn handle(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        if self.removed {
            // Out of the chain: its state is no longer kept up to date, so it must not answer.
            ctx.count("messages_to_removed_replicas");
            return;
        }
        match msg {
            ChainMsg::Request { id, input } => self.on_request(ctx, from, id, input),
            ChainMsg::Forward { client, id, input } => self.on_request(ctx, client, id, input),
            ChainMsg::Propagate {
                seq,
                key,
                value,
                client,
                id,
            } => self.on_propagate(
                ctx,
                Write {
                    seq,
                    key,
                    value,
                    client,
                    id,
                },
            ),
            ChainMsg::Ack { seq, key } => self.on_ack(ctx, seq, key),
            ChainMsg::VersionQuery { key, client, id } => {
                // Only the tail is asked; its clean version is its latest, committed write.
                assert!(self.is_tail(), "version query sent to a non-tail replica");
                let seq = self.store.get(&key).map_or(0, |k| k.clean().seq);
                ctx.send(
                    from,
                    ChainMsg::VersionReply {
                        key,
                        seq,
                        client,
                        id,
                    },
                );
            }
            ChainMsg::VersionReply {
                key,
                seq,
                client,
                id,
            } => self.read(ctx, client, id, &key, Some(seq)),
            ChainMsg::NewChain { version, chain } => self.on_new_chain(ctx, version, chain),
            ChainMsg::Response { .. } | ChainMsg::Ping | ChainMsg::Pong => {
                ctx.count("replica_got_unexpected_message");
            }
        }
    }

    fn on_request(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        input: KvInput,
    ) {
        match input {
            KvInput::Get { key } => self.read(ctx, client, id, &key, None),
            write if !self.is_head() => {
                // Clients send writes to the head; pass a misdirected one on rather than fail it.
                ctx.count("misdirected_writes");
                let msg = ChainMsg::Forward {
                    client,
                    id,
                    input: write,
                };
                ctx.send(self.head(), msg);
            }
            write => self.start_write(ctx, client, id, write),
        }
    }

    // ANCHOR: read
    /// Answers a read of `key` for `client`, or asks the tail first if the rule says so.
    fn read(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        key: &str,
        tail_committed: Option<u64>,
    ) {
        let unwritten = KeyVersions::default();
        let versions = self.store.get(key).unwrap_or(&unwritten);
        match (self.read_rule)(versions, tail_committed) {
            ReadDecision::Answer(value) => {
                ctx.count(if tail_committed.is_some() {
                    "reads_after_version_query"
                } else {
                    "reads_answered_locally"
                });
                let output = KvOutput::Value(value);
                ctx.send(client, ChainMsg::Response { id, output });
            }
            ReadDecision::AskTail => {
                assert!(
                    tail_committed.is_none(),
                    "the read rule asked the tail again after the tail had answered"
                );
                assert!(
                    !self.is_tail(),
                    "the read rule asked the tail to ask itself"
                );
                let key = key.to_string();
                ctx.send(self.tail(), ChainMsg::VersionQuery { key, client, id });
            }
        }
    }
    // ANCHOR_END: read

    // ANCHOR: start_write
    /// The head orders a client's write: next sequence number, executed here, then applied.
    fn start_write(
        &mut self,
        ctx: &mut Ctx<'_, ChainMsg>,
        client: NodeId,
        id: RequestId,
        input: KvInput,
    ) {
        if let Some(&(last, seq)) = self.last_request.get(&client)
            && id <= last
        {
            ctx.count("duplicate_writes");
            if id == last {
                // A retry of a write already ordered: answer it once it is committed.
                if seq <= self.max_clean {
                    ctx.send(client, ChainMsg::write_done(id));
                } else {
                    self.pending_replies
                        .entry(seq)
                        .or_default()
                        .push((client, id));
                }
            }
            return;
        }
        let (key, value) = match input {
            KvInput::Put { key, value } => (key, value),
            KvInput::Append { key, value } => {
                let old = self.store.get(&key).and_then(|k| k.latest().value.clone());
                let new = old.unwrap_or_default() + &value;
                (key, new)
            }
            KvInput::Get { .. } => unreachable!("reads are not writes"),
        };
        // The head has applied every write it ordered, so the next number is `applied + 1`.
        let seq = self.applied + 1;
        self.apply(
            ctx,
            Write {
                seq,
                key,
                value,
                client,
                id,
            },
        );
    }
    // ANCHOR_END: start_write

    // ANCHOR: on_propagate
    /// A write from the predecessor: apply it in sequence order, holding early ones back.
    fn on_propagate(&mut self, ctx: &mut Ctx<'_, ChainMsg>, write: Write) {
        if self.is_head() {
            // From a predecessor that was removed: the head now orders writes itself.
            ctx.count("propagates_from_removed_replicas");
            return;
        }
        if write.seq <= self.applied {
            ctx.count("duplicate_propagates");
            return;
        }
        self.early.insert(write.seq, write);
        while let Some(next) = self.early.remove(&(self.applied + 1)) {
            self.apply(ctx, next);
        }
    }

    /// Applies the next write: a dirty version here, then down the chain, or, at the tail,
    /// committed, answered and acknowledged up the chain.
    fn apply(&mut self, ctx: &mut Ctx<'_, ChainMsg>, w: Write) {
        assert_eq!(w.seq, self.applied + 1, "writes applied out of order");
        self.applied = w.seq;
        let mut digest = Fnv64(self.digests.last().copied().unwrap_or(Fnv64::default().0));
        digest.u64(w.seq);
        digest.bytes(w.key.as_bytes());
        digest.bytes(w.value.as_bytes());
        self.digests.push(digest.0);
        self.last_request.insert(w.client, (w.id, w.seq));
        let is_tail = self.is_tail();
        let versions = self.store.entry(w.key.clone()).or_default();
        versions.push_dirty(w.seq, Some(w.value.clone()));
        if is_tail {
            versions.commit(w.seq);
            self.max_clean = w.seq;
            ctx.send(w.client, ChainMsg::write_done(w.id));
            if let Some(&predecessor) = self.position.checked_sub(1).map(|p| &self.chain[p]) {
                ctx.send(
                    predecessor,
                    ChainMsg::Ack {
                        seq: w.seq,
                        key: w.key,
                    },
                );
            }
        } else {
            let successor = self.chain[self.position + 1];
            ctx.send(successor, propagate(&w));
            self.sent.insert(w.seq, w);
        }
    }
    // ANCHOR_END: on_propagate

    // ANCHOR: on_ack
    /// The tail committed write `seq`: mark it clean here and tell the predecessor.
    fn on_ack(&mut self, ctx: &mut Ctx<'_, ChainMsg>, seq: u64, key: String) {
        assert!(
            seq <= self.applied,
            "ack for write {seq}, never applied here"
        );
        let versions = self
            .store
            .get_mut(&key)
            .expect("an acknowledged key was written here");
        versions.commit(seq);
        self.max_clean = self.max_clean.max(seq);
        // The tail commits in sequence order: every write up to `seq` is committed.
        self.sent = self.sent.split_off(&(seq + 1));
        self.answer_pending(ctx);
        if let Some(p) = self.position.checked_sub(1) {
            ctx.send(self.chain[p], ChainMsg::Ack { seq, key });
        }
    }
    // ANCHOR_END: on_ack

    /// Answers the retried writes whose commit is now known.
    fn answer_pending(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        let later = self.pending_replies.split_off(&(self.max_clean + 1));
        let ready = std::mem::replace(&mut self.pending_replies, later);
        for (client, id) in ready.into_values().flatten() {
            ctx.send(client, ChainMsg::write_done(id));
        }
    }

    // ANCHOR: on_new_chain
    /// The master removed a failed replica (§3): adopt the new chain. A new tail commits the
    /// writes it holds, since nobody downstream can still need them; a replica with a new
    /// successor resends every write not yet acknowledged, since the successor may lack them.
    fn on_new_chain(&mut self, ctx: &mut Ctx<'_, ChainMsg>, version: u64, chain: Vec<NodeId>) {
        if version <= self.config_version {
            return;
        }
        self.config_version = version;
        let Some(position) = chain.iter().position(|&n| n == ctx.id()) else {
            self.removed = true;
            return;
        };
        let old_successor = self.chain.get(self.position + 1).copied();
        self.chain = chain;
        self.position = position;
        if self.is_head() {
            // Writes held for their turn came from the removed head and never reached the tail:
            // nobody else has them, and their clients will retry.
            self.early.clear();
        }
        if self.is_tail() {
            for (seq, w) in std::mem::take(&mut self.sent) {
                let versions = self.store.get_mut(&w.key).expect("a sent key was written");
                versions.commit(seq);
                self.max_clean = seq;
                ctx.send(w.client, ChainMsg::write_done(w.id));
                if let Some(p) = self.position.checked_sub(1) {
                    ctx.send(self.chain[p], ChainMsg::Ack { seq, key: w.key });
                }
            }
            self.answer_pending(ctx);
        } else if self.chain.get(self.position + 1).copied() != old_successor {
            let successor = self.chain[self.position + 1];
            for w in self.sent.values() {
                ctx.send(successor, propagate(w));
            }
        }
    }
    // ANCHOR_END: on_new_chain
}

/// The message that carries write `w` to a successor.
fn propagate(w: &Write) -> ChainMsg {
    ChainMsg::Propagate {
        seq: w.seq,
        key: w.key.clone(),
        value: w.value.clone(),
        client: w.client,
        id: w.id,
    }
}
}
pub mod run {
//! A whole deployment on the simulator: a chain, its clients, the invariants, and the results.
//!
//! Nodes `0 .. chain_length` are the replicas, head first; the clients follow, and the master
//! comes last when the setup has [`Failures`]. [`build`] makes
//! the simulation and registers the invariants checked after every event; [`run`] runs it until
//! the clients stop and every request in flight has been answered, and returns the clients'
//! history with the measurements the chapter reports.
//!
//! Invariants, after every event, over the replicas still in the chain (crashed and removed
//! ones are skipped):
//! - **same order** (van Renesse and Schneider §3, update propagation): for consecutive replicas
//!   `i` and `i + 1`, replica `i` has applied at least as many writes, and the first writes of
//!   both are the same writes in the same order (their prefix digests agree);
//! - **clean means committed** (CRAQ §2.3): no replica marks a write clean before the tail has
//!   applied it.

use std::time::Duration;

use super::client::{Client, RETRY, ReadMode, THINK, Workload};
use super::history::Operation;
use super::master::{self, Master};
use super::message::ChainMsg;
use super::replica::{Replica, SERVICE};
use super::versions::{ReadRule, craq_read, naive_read};
use crate::sim::{Ctx, Fault, InvariantViolation, LinkConfig, NodeId, Process, Sim, Time, TimerId};

/// A node of a chain deployment.
#[derive(Clone, Debug)]
pub enum ChainNode {
    Replica(Replica),
    Client(Client),
    Master(Master),
}

impl Process for ChainNode {
    type Msg = ChainMsg;
    /// Nothing: crashed replicas never come back in this module's runs (see the module essay).
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, ChainMsg>) {
        match self {
            ChainNode::Client(c) => c.on_start(ctx),
            ChainNode::Master(m) => m.on_start(ctx),
            ChainNode::Replica(_) => {}
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, ChainMsg>, from: NodeId, msg: ChainMsg) {
        match (self, msg) {
            (ChainNode::Replica(r), msg) => r.on_message(ctx, from, msg),
            (ChainNode::Client(c), ChainMsg::Response { id, output }) => {
                c.on_response(ctx, id, output);
            }
            (ChainNode::Client(c), ChainMsg::NewChain { version, chain }) => {
                c.on_new_chain(version, chain);
            }
            (ChainNode::Master(m), ChainMsg::Pong) => m.on_pong(ctx, from),
            (ChainNode::Master(_), _) => ctx.count("master_got_unexpected_message"),
            (ChainNode::Client(_), _) => ctx.count("client_got_chain_message"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ChainMsg>, timer: TimerId) {
        match (self, timer) {
            (ChainNode::Replica(r), SERVICE) => r.on_service_done(ctx),
            (ChainNode::Client(c), THINK) => c.on_think_done(ctx),
            (ChainNode::Client(c), RETRY) => c.on_retry(ctx),
            (ChainNode::Master(m), master::TICK) => m.tick(ctx),
            (_, timer) => unreachable!("unknown timer {timer:?}"),
        }
    }

    fn durable(&self) {}
}

// ANCHOR: setup
/// Everything that determines a run, apart from the seed.
#[derive(Clone, Debug)]
pub struct ChainSetup {
    /// Replicas in the chain.
    pub chain_length: usize,
    /// Closed-loop clients.
    pub clients: usize,
    /// Where reads go and how they are answered.
    pub read_mode: ReadMode,
    /// What clients ask.
    pub workload: Workload,
    /// Every link, client-replica and replica-replica alike.
    pub link: LinkConfig,
    /// How long a replica's processor takes per message (zero: infinitely fast replicas).
    pub service_time: Duration,
    /// Clients send requests until this much time has passed.
    pub duration: Duration,
    /// Replaces the read rule of `read_mode` (for the exercise); `None` in normal runs.
    pub read_rule: Option<ReadRule>,
    /// Replica crashes and the master that handles them; `None`: replicas never fail.
    pub failures: Option<Failures>,
}

/// Crashes to inject, and how the master and clients cope with them.
#[derive(Clone, Debug)]
pub struct Failures {
    /// Replica `index` (position in the initial chain) crashes at `at`, for good.
    pub crashes: Vec<(Duration, usize)>,
    /// How often the master pings each replica.
    pub ping_period: Duration,
    /// How long a replica may be silent before the master removes it.
    pub timeout: Duration,
    /// How long a client waits for an answer before sending its request again.
    pub retry_after: Duration,
}
// ANCHOR_END: setup

impl ChainSetup {
    /// Checks the setup, so that bad input is an error rather than a panic deep in a run.
    pub fn validate(&self) -> Result<(), String> {
        if self.chain_length == 0 {
            return Err("a chain needs at least one replica".to_string());
        }
        if self.clients == 0 {
            return Err("a run needs at least one client".to_string());
        }
        self.workload.validate()?;
        if let Some(f) = &self.failures {
            if let Some((_, i)) = f.crashes.iter().find(|(_, i)| *i >= self.chain_length) {
                let n = self.chain_length;
                return Err(format!("crash of replica {i}, outside a chain of {n}"));
            }
            if f.ping_period.is_zero() || f.retry_after.is_zero() {
                return Err("ping period and retry time must be positive".to_string());
            }
        }
        self.link.validate()
    }

    /// The rule replicas use to answer reads.
    pub fn rule(&self) -> ReadRule {
        self.read_rule.unwrap_or(match self.read_mode {
            ReadMode::Craq => craq_read,
            // The tail's versions are always clean, so the rules agree there.
            ReadMode::Tail | ReadMode::Naive => naive_read,
        })
    }

    /// The replicas' node ids, head first.
    pub fn chain(&self) -> Vec<NodeId> {
        (0..self.chain_length).map(NodeId).collect()
    }
}

// ANCHOR: build
/// The simulation of `setup` with `seed`, with the chain invariants registered.
pub fn build(setup: &ChainSetup, seed: u64) -> Result<Sim<ChainNode>, String> {
    setup.validate()?;
    let chain = setup.chain();
    let mut nodes: Vec<ChainNode> = (0..setup.chain_length)
        .map(|i| {
            let r = Replica::new(chain.clone(), i, setup.rule(), setup.service_time);
            ChainNode::Replica(r)
        })
        .collect();
    let stop_at = Time::ZERO + setup.duration;
    let clients: Vec<NodeId> = (0..setup.clients)
        .map(|c| NodeId(setup.chain_length + c))
        .collect();
    let workload = setup.workload;
    for c in 0..setup.clients {
        let mut client = Client::new(c as u64, chain.clone(), setup.read_mode, workload, stop_at);
        client.retry_after = setup.failures.as_ref().map(|f| f.retry_after);
        nodes.push(ChainNode::Client(client));
    }
    // The master, if any, is the last node, so that replicas and clients keep their ids.
    if let Some(f) = &setup.failures {
        let master = Master::new(chain.clone(), clients, f.ping_period, f.timeout);
        nodes.push(ChainNode::Master(master));
    }
    let mut sim = Sim::new(seed, setup.link.clone(), nodes);
    for &(at, i) in setup.failures.iter().flat_map(|f| &f.crashes) {
        sim.schedule_fault(Time::ZERO + at, Fault::Crash(NodeId(i)));
    }
    let n = setup.chain_length;
    sim.add_invariant(
        "replicas apply the same writes in the same order",
        move |sim| check_same_order(&replicas(sim, n)),
    );
    sim.add_invariant("clean means committed", move |sim| {
        let replicas = replicas(sim, n);
        let committed = replicas.last().map_or(0, |tail| tail.applied);
        match replicas.iter().find(|r| r.max_clean > committed) {
            Some(r) => Err(format!(
                "replica {} marked write {} clean, but the tail has applied only {committed}",
                r.position, r.max_clean
            )),
            None => Ok(()),
        }
    });
    Ok(sim)
}
// ANCHOR_END: build

/// The replicas of a run still in the chain (neither crashed nor removed), in chain order.
/// Removal never reorders a chain, so this is the initial order minus the missing ones.
pub fn replicas(sim: &Sim<ChainNode>, chain_length: usize) -> Vec<&Replica> {
    (0..chain_length)
        .filter_map(|i| match sim.process(NodeId(i)) {
            Some(ChainNode::Replica(r)) if !r.removed => Some(r),
            Some(ChainNode::Replica(_)) | None => None,
            Some(_) => unreachable!("node {i} is a replica"),
        })
        .collect()
}

// ANCHOR: check_same_order
/// The update propagation invariant: each replica's applied writes are a prefix of its
/// predecessor's (van Renesse and Schneider 2004, §3).
pub fn check_same_order(chain: &[&Replica]) -> Result<(), String> {
    for pair in chain.windows(2) {
        let (up, down) = (pair[0], pair[1]);
        if up.applied < down.applied {
            return Err(format!(
                "replica {} applied {} writes, more than its predecessor's {}",
                down.position, down.applied, up.applied
            ));
        }
        if let Some(last) = down.applied.checked_sub(1) {
            let last = last as usize;
            if up.digests[last] != down.digests[last] {
                return Err(format!(
                    "replicas {} and {} applied different writes among the first {}",
                    up.position,
                    down.position,
                    last + 1
                ));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: check_same_order

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Every client's operations, by client then completion order.
    pub history: Vec<Operation>,
    /// Messages each replica's processor handled while clients were sending (up to
    /// `duration`), head first: multiplied by the service time, how busy each replica was
    /// (0 for a replica that crashed).
    pub handled: Vec<u64>,
    /// Writes applied at the end by each replica still in the chain, head first (all equal
    /// after draining).
    pub applied: Vec<u64>,
    /// The replicas the master removed (by initial position), in order.
    pub removed: Vec<usize>,
    /// Reads answered from a replica's own versions, and reads that needed a version query.
    pub local_reads: u64,
    pub queried_reads: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
    /// Simulator events processed.
    pub events: u64,
}

/// How long a run continues after the clients stop, so that requests in flight are answered.
pub const DRAIN: Duration = Duration::from_secs(5);

// ANCHOR: run
/// Runs `setup` with `seed` until the clients have stopped and the chain is quiet.
pub fn run(setup: &ChainSetup, seed: u64) -> Result<RunOutcome, String> {
    let mut sim = build(setup, seed)?;
    let n = setup.chain_length;
    let stop = Time::ZERO + setup.duration;
    sim.run_until(stop)
        .map_err(|v: InvariantViolation| v.to_string())?;
    let served = |sim: &Sim<ChainNode>, i: usize| match sim.process(NodeId(i)) {
        Some(ChainNode::Replica(r)) => r.service.served,
        _ => 0,
    };
    let handled = (0..n).map(|i| served(&sim, i)).collect();
    sim.run_until(stop + DRAIN).map_err(|v| v.to_string())?;
    let chain = replicas(&sim, n);
    let applied = chain.iter().map(|r| r.applied).collect();
    let mut history = Vec::new();
    let mut removed = Vec::new();
    for i in n..sim.node_count() {
        if let Some(ChainNode::Master(m)) = sim.process(NodeId(i)) {
            removed = m.removed.iter().map(|&(_, r)| r.0).collect();
        }
        if let Some(ChainNode::Client(c)) = sim.process(NodeId(i)) {
            history.extend(c.full_history());
        }
    }
    let metrics = sim.metrics();
    Ok(RunOutcome {
        history,
        handled,
        applied,
        removed,
        local_reads: metrics.counter("reads_answered_locally"),
        queried_reads: metrics.counter("reads_after_version_query"),
        trace_hash: sim.trace_hash(),
        events: sim.events_processed(),
    })
}
// ANCHOR_END: run

}
pub mod service {
//! A server's processor: one message at a time, each taking a fixed service time.
//!
//! The simulator delivers a message and the process handles it in zero time, so on its own it
//! models servers of infinite capacity: throughput would then depend only on network latency, and
//! no replica could ever be a bottleneck. But the whole point of CRAQ is a bottleneck: with
//! classic chain replication every read lands on the tail, and its processor saturates while the
//! other replicas idle. So each replica puts incoming messages in a FIFO queue and handles them
//! one by one, each after `service_time` of local time (a single-server queue, M/D/1 when
//! arrivals are Poisson). A replica's capacity is then `1 / service_time` messages per second.
//!
//! The queue is generic over the message type so that other protocols (Raft, for the chapter's
//! comparison) can be measured under the same cost model: pass each incoming message through
//! [`ServiceQueue::arrive`], and handle what [`ServiceQueue::complete`] returns when the queue's
//! timer fires.
//!
//! Simplification: sending costs nothing, and every message costs the same, whatever its size.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sim::{Ctx, NodeId, TimerId};

// ANCHOR: service_queue
/// A single-server FIFO queue of messages waiting for a node's processor.
#[derive(Clone, Debug)]
pub struct ServiceQueue<M> {
    /// How long handling one message takes. Zero: messages are handled on arrival.
    pub service_time: Duration,
    /// The timer this queue uses to signal the end of a service.
    pub timer: TimerId,
    /// Messages waiting, oldest first; the first is in service when `busy`.
    /// Invariant: `busy == !waiting.is_empty()` (when `service_time` is non-zero).
    waiting: VecDeque<(NodeId, M)>,
    /// Whether the processor is serving the first waiting message.
    busy: bool,
    /// Messages served so far.
    pub served: u64,
}

impl<M> ServiceQueue<M> {
    /// An idle queue whose services take `service_time` and are timed with `timer`.
    pub fn new(service_time: Duration, timer: TimerId) -> ServiceQueue<M> {
        ServiceQueue {
            service_time,
            timer,
            waiting: VecDeque::new(),
            busy: false,
            served: 0,
        }
    }

    /// A message arrived. Returns it back if it can be handled right away (zero service time);
    /// otherwise queues it, starting its service if the processor is idle.
    pub fn arrive<N>(&mut self, ctx: &mut Ctx<'_, N>, from: NodeId, msg: M) -> Option<(NodeId, M)> {
        if self.service_time.is_zero() {
            self.served += 1;
            return Some((from, msg));
        }
        self.waiting.push_back((from, msg));
        if !self.busy {
            self.busy = true;
            ctx.set_timer(self.timer, self.service_time);
        }
        None
    }

    /// The service timer fired: returns the message whose service is complete, and starts
    /// serving the next one, if any.
    pub fn complete<N>(&mut self, ctx: &mut Ctx<'_, N>) -> (NodeId, M) {
        assert!(self.busy, "service completed on an idle processor");
        let done = self.waiting.pop_front().expect("busy implies a message");
        self.served += 1;
        self.busy = !self.waiting.is_empty();
        if self.busy {
            ctx.set_timer(self.timer, self.service_time);
        }
        done
    }

    /// Messages waiting, including the one in service.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}
// ANCHOR_END: service_queue
}
pub mod versions {
//! The versions a replica keeps of one key, and the rules that pick which one a read returns.
//!
//! Classic chain replication needs one value per key at each replica: reads go to the tail, and
//! the tail's value is by construction committed. CRAQ (Terrace and Freedman, USENIX ATC 2009,
//! §2.3) lets *every* replica answer reads, and for that a replica must know which of its values
//! are committed. It keeps, per key, a list of versions:
//!
//! - when a write passes by on its way down the chain, the replica appends a new version and
//!   marks it **dirty** (not yet known to be committed);
//! - when the acknowledgement for that write comes back up from the tail, the replica marks the
//!   version **clean** and forgets every older version of the key.
//!
//! A read then follows the *dirty-read rule* ([`craq_read`]): if the newest version is clean, the
//! replica answers with it; if it is dirty, the replica cannot tell which of its versions the tail
//! has committed, so it asks the tail for the sequence number of the key's latest committed
//! version (a *version query*, cheaper than a full read because only a number travels back) and
//! answers with that version. Either way the answer is a committed value no older than anything
//! the tail had committed when the read began, which is what makes CRAQ reads linearizable.
//!
//! [`naive_read`] is the rule without the check: it answers with the newest version, dirty or
//! not. In a chain, replicas upstream of the tail are *ahead* of it, so this returns writes that
//! are not committed yet; a later read at the tail can then go back in time. The stale-read table
//! of the chapter measures how often.
//!
//! Invariant of [`KeyVersions`]: never empty; sequence numbers strictly increase; the first
//! version is the newest clean one and every later one is dirty.

/// One value of a key, written by the write with sequence number `seq`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The write's position in the chain's total order of writes (0: the key was never written).
    pub seq: u64,
    /// The key's value after that write (`None` before the first write).
    pub value: Option<String>,
}

// ANCHOR: key_versions
/// The versions of one key at one replica, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersions {
    /// Invariant: non-empty, `seq` strictly increasing, `versions[0]` clean, the rest dirty.
    versions: Vec<Version>,
}
// ANCHOR_END: key_versions

impl Default for KeyVersions {
    /// A key nobody has written: one clean version with no value.
    fn default() -> Self {
        KeyVersions {
            versions: vec![Version {
                seq: 0,
                value: None,
            }],
        }
    }
}

impl KeyVersions {
    /// The newest version, clean or dirty.
    pub fn latest(&self) -> &Version {
        self.versions.last().expect("never empty")
    }

    /// The newest clean version: the latest write of this key known to be committed.
    pub fn clean(&self) -> &Version {
        &self.versions[0]
    }

    /// Whether some version is waiting for its acknowledgement from the tail.
    pub fn is_dirty(&self) -> bool {
        self.versions.len() > 1
    }

    /// How many versions are kept (one clean, the rest dirty).
    pub fn len(&self) -> usize {
        self.versions.len()
    }

    /// Always false: a key has at least its clean version.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Records the write `seq` that left `value`, as dirty. Writes arrive in sequence order
    /// (replicas apply them in order, see `replica.rs`), so `seq` is the newest.
    pub fn push_dirty(&mut self, seq: u64, value: Option<String>) {
        assert!(
            seq > self.latest().seq,
            "write {seq} applied after write {}: out of order",
            self.latest().seq
        );
        self.versions.push(Version { seq, value });
    }

    // ANCHOR: commit
    /// The tail has committed write `seq` of this key: its version becomes the clean one and
    /// every older version is dropped (CRAQ §2.3). An acknowledgement for a version already
    /// superseded by a newer clean one (acknowledgements may overtake each other) changes nothing.
    pub fn commit(&mut self, seq: u64) {
        if seq <= self.clean().seq {
            return;
        }
        let at = self
            .versions
            .iter()
            .position(|v| v.seq == seq)
            .unwrap_or_else(|| panic!("commit of write {seq}, which this replica never applied"));
        self.versions.drain(..at);
    }
    // ANCHOR_END: commit

    /// The version of write `seq` if it is still kept, else the clean version if it is newer
    /// (an acknowledgement for a later write arrived meanwhile and `seq` was dropped).
    pub fn committed_version(&self, seq: u64) -> Option<&Version> {
        if seq <= self.clean().seq {
            return Some(self.clean());
        }
        self.versions.iter().find(|v| v.seq == seq)
    }

    /// All versions kept, oldest (the clean one) first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }
}

/// What a replica does with a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadDecision {
    /// Answer the client with this value.
    Answer(Option<String>),
    /// Ask the tail which version of the key it has committed, and decide again with its answer.
    AskTail,
}

/// A read rule: given the key's versions and, on the second pass, the sequence number of the
/// tail's latest committed version of the key, decide what to answer.
pub type ReadRule = fn(&KeyVersions, Option<u64>) -> ReadDecision;

// ANCHOR: craq_read
/// CRAQ's dirty-read rule (Terrace and Freedman 2009, §2.3). First pass (`tail_committed` is
/// `None`): a clean key is answered locally, a dirty one needs the tail. Second pass: answer
/// with the version the tail named (or a newer clean one, if it has been dropped since).
pub fn craq_read(key: &KeyVersions, tail_committed: Option<u64>) -> ReadDecision {
    match tail_committed {
        None if !key.is_dirty() => ReadDecision::Answer(key.clean().value.clone()),
        None => ReadDecision::AskTail,
        Some(seq) => {
            let version = key
                .committed_version(seq)
                .expect("the tail committed a write this upstream replica never applied");
            ReadDecision::Answer(version.value.clone())
        }
    }
}
// ANCHOR_END: craq_read

// ANCHOR: naive_read
/// Reading without CRAQ's check: the newest version this replica has, committed or not.
pub fn naive_read(key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
    ReadDecision::Answer(key.latest().value.clone())
}
// ANCHOR_END: naive_read

}

pub use client::{Client, ReadMode, Workload};
pub use history::{KvInput, KvOutput, Operation, StaleReadReport, check_stale_reads};
pub use message::ChainMsg;
pub use replica::Replica;
pub use run::{ChainNode, ChainSetup, Failures, RunOutcome, build, run};
pub use versions::{KeyVersions, ReadDecision, ReadRule, Version, craq_read, naive_read};
}

pub mod linearizability {
//! A linearizability checker: did a concurrent object behave like a single copy?
//!
//! An object is *linearizable* if every operation appears to take effect atomically at some
//! instant between its call and its return, so that the operations, in the order of those
//! instants, are a legal sequential run of the object (Herlihy and Wing, "Linearizability: a
//! correctness condition for concurrent objects", ACM TOPLAS 12(3), 1990, §2). Two rules follow.
//! Operations that overlap in time may take effect in either order. An operation that returned
//! before another was called must take effect first: once a write has been acknowledged, no
//! read that starts later may miss it, however many replicas the store keeps.
//!
//! The checker takes a *history*, what the clients saw ([`Operation`]: call time, return time,
//! input, output), and a *model*, the sequential specification ([`Model`]; [`KvModel`] for this
//! book's key-value store), and answers one of three things ([`CheckResult`]):
//!
//! - `Ok`: there is an order of the operations that respects real time and that the model
//!   accepts. Then the clients cannot tell the object from a single copy that served one
//!   operation at a time.
//! - `Illegal(explanation)`: no such order exists. The [`Explanation`] names the partition, the
//!   longest prefix that could be ordered, and the operations that could not come after it.
//! - `Unknown`: the search used up its budget of steps (or memory) without deciding.
//!
//! [`check_report`] says more: for every partition (key), its verdict, the [`Method`] that
//! decided it, and what that cost ([`Report`]).
//!
//! The answer is exact, not a heuristic: `Ok` and `Illegal` are both proofs, up to the budget.
//! The price is time. Deciding linearizability is NP-complete in general (Gibbons and Korach,
//! "Testing shared memories", SIAM J. Comput. 26(4), 1997), and [`search`] is a backtracking
//! search exponential in the number of *mutually concurrent* operations. Histories from real
//! tests stay cheap for two reasons:
//!
//! 1. **Memoisation.** The search (Wing and Gong's, with Lowe's improvement; see [`search`])
//!    remembers every (set of operations placed, model state) pair it reached, and never
//!    explores the same pair twice.
//! 2. **Partitioning.** Linearizability is *local*: a history is linearizable if and only if its
//!    restriction to every object is (Herlihy and Wing 1990, §3.5). So [`Model::partition`] may
//!    split the history, and [`KvModel`] splits it per key, as Porcupine does (Anish Athalye,
//!    <https://github.com/anishathalye/porcupine>). Each key is searched on its own.
//!
//! Operations whose outcome is unknown (`output: None`; the client timed out) are the normal
//! case in a faulty network, and the checker treats them as they are: each may have taken
//! effect at any instant after its call, or never. A write that timed out may therefore explain
//! a later read of its value, and need not explain anything.
//!
//! What this module assumes and simplifies:
//!
//! - Call and return times come from one clock. In the simulator that is the simulated clock,
//!   and exact; against a real cluster, take both times on the client machine, as Jepsen does,
//!   and the recorded interval contains the true one.
//! - Operations whose intervals touch (`return == call`) count as concurrent; see
//!   [`Operation::precedes`].
//! - The budget is per partition, counted in events visited. [`DEFAULT_MAX_STEPS`], a million,
//!   bounds a search to a few seconds in release mode; a linearizable history of a thousand
//!   operations on three keys takes about ten thousand steps per key, milliseconds in all.
//!
//! Three things keep the checker's cost bounded and its answers useful on hard histories:
//!
//! - **Effort spread across partitions.** Searching the keys one after another, each with the
//!   whole budget, lets one hard but legal key eat seconds before an easy illegal key is even
//!   looked at. [`check_report`] deepens iteratively instead: every undecided key gets a small
//!   budget, then twice as much, and so on up to the budget, so a key is decided in the first
//!   round whose budget suffices, whatever the others cost. Checking per key is sound by
//!   locality; Horn and Kroening generalise this splitting to *P-compositionality* ("Faster
//!   linearizability checking via P-compositionality", FORTE 2015, LNCS 9039).
//! - **Bounded memory.** The memo table grows with the steps; past
//!   [`DEFAULT_MAX_CONFIGURATIONS`] entries the search stops and the key is unknown, never an
//!   out-of-memory crash.
//! - **Witnesses.** Where the search gives up, a linearization proposed by the system under
//!   test (for Raft, each command at the instant it was first committed) can be checked in one
//!   pass ([`witness`]); if it holds, the key is linearizable, whoever proposed it.
//!
//! [`exercise`] asks for a model of one more object, a compare-and-set register, which is all
//! it takes to check a history of it.
//!
//! Everything here is std-only, so that a listing built on it runs on the Rust playground.

pub mod exercise {
//! Exercise: a model for a compare-and-set register.
//!
//! The checker knows nothing about keys and values; everything it knows about an object is in
//! its [`Model`](super::Model). Writing a model for a new object is therefore all it takes to
//! check that object, and this exercise does it for the object consensus is usually explained
//! with: a register holding a number (initially 0) with `read`, `write(v)` and
//! `cas(expected, new)`, which sets the register to `new` and answers `true` if it held
//! `expected`, and otherwise changes nothing and answers `false` (Herlihy, "Wait-free
//! synchronization", TOPLAS 13(1), 1991, shows why this operation is strong enough to build
//! consensus from).
//!
//! Implement `step` in [`starter::CasRegister`]. The claims to make true: two concurrent
//! `cas(0, _)` cannot both succeed; a `cas` that fails while the register held `expected`, with
//! nothing concurrent to change it, is illegal; a `cas` whose outcome is unknown may explain a
//! later read. Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_cas_register -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

/// What a client of the register may ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    /// Read the value.
    Read,
    /// Set the value.
    Write(u64),
    /// Set the value to `new` if it is `expected`.
    Cas { expected: u64, new: u64 },
}

/// What the register may answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// The answer to a read.
    Value(u64),
    /// The answer to a write.
    Ok,
    /// The answer to a compare-and-set: whether it swapped.
    Swapped(bool),
}

/// Your version.
pub mod starter {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        fn step(
            &self,
            _state: &u64,
            _input: &RegisterInput,
            _output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            todo!("the state after the input, or None if the register could not have answered so")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{RegisterInput, RegisterOutput};
    use crate::coordination::linearizability::Model;

    /// The register's sequential specification; its state is the value held.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct CasRegister;

    impl Model for CasRegister {
        type State = u64;
        type Input = RegisterInput;
        type Output = RegisterOutput;

        fn init(&self) -> u64 {
            0
        }

        // ANCHOR: cas_step
        fn step(
            &self,
            state: &u64,
            input: &RegisterInput,
            output: Option<&RegisterOutput>,
        ) -> Option<u64> {
            let (next, answer) = match *input {
                RegisterInput::Read => (*state, RegisterOutput::Value(*state)),
                RegisterInput::Write(v) => (v, RegisterOutput::Ok),
                RegisterInput::Cas { expected, new } if *state == expected => {
                    (new, RegisterOutput::Swapped(true))
                }
                RegisterInput::Cas { .. } => (*state, RegisterOutput::Swapped(false)),
            };
            // The register is deterministic: the only possible answer is `answer`.
            match output {
                Some(seen) if *seen != answer => None,
                _ => Some(next),
            }
        }
        // ANCHOR_END: cas_step
    }
}

}
pub mod explain {
//! Explanations: why a history is not linearizable, in terms a reader can check by hand.
//!
//! "Not linearizable" alone is useless in a failing test. An [`Explanation`] names the
//! partition (for the key-value model, the key), the longest sequence the search managed to
//! build, and the operations that could not come next, each with the model state that refused
//! it. That is the point where every order breaks down, so it is where to start reading the
//! history: typically a read that returned a value the state no longer (or not yet) held.
//!
//! Why the operations listed are exactly the ones refused: the search records its longest
//! sequence the first time it reaches that length. At that moment every candidate for the next
//! place was tried, and any candidate the model accepted would have made a longer sequence
//! (its configuration is new, having never been that long before). So each candidate was refused
//! by the model itself, not pruned, and the state shown is the reason.
//!
//! Candidates are the unplaced operations that no other unplaced operation precedes in real
//! time: those called before the earliest return among the unplaced ones.

use std::fmt;

use super::model::{Model, Operation};

/// One operation, described for a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSummary {
    /// Its index in the history.
    pub index: usize,
    /// The client that issued it.
    pub client: u64,
    /// The model's description, such as `get(x) -> Some("1")`.
    pub text: String,
    /// When it was called.
    pub call_ns: u64,
    /// When it returned; `None` if its outcome is unknown.
    pub return_ns: Option<u64>,
}

impl OpSummary {
    /// Describes `history[index]` with `model`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        index: usize,
    ) -> OpSummary {
        let op = &history[index];
        OpSummary {
            index,
            client: op.client,
            text: model.describe_operation(&op.input, op.output.as_ref()),
            call_ns: op.call_ns,
            return_ns: op.output.as_ref().map(|_| op.return_ns),
        }
    }

    /// Its interval, such as `[30..40 ms]`, or `[30 ms..?]` if its outcome is unknown, in the
    /// largest unit (ms, µs or ns) in which its last known time is at least one.
    pub fn interval(&self) -> String {
        let unit = Unit::for_ns(self.return_ns.unwrap_or(self.call_ns));
        let call = unit.format(self.call_ns);
        match self.return_ns {
            Some(r) => format!("[{call}..{} {}]", unit.format(r), unit.name),
            None => format!("[{call} {}..?]", unit.name),
        }
    }
}

impl fmt::Display for OpSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by client {} {}",
            self.text,
            self.client,
            self.interval()
        )
    }
}

/// A unit of time for explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Its symbol.
    pub name: &'static str,
    /// Nanoseconds per unit.
    pub ns: u64,
    /// Decimal digits of a nanosecond count in one unit: `log10(ns)`.
    pub digits: usize,
}

impl Unit {
    /// Milliseconds, the unit of the book's simulations.
    pub const MS: Unit = Unit {
        name: "ms",
        ns: 1_000_000,
        digits: 6,
    };
    /// Microseconds.
    pub const US: Unit = Unit {
        name: "µs",
        ns: 1_000,
        digits: 3,
    };
    /// Nanoseconds.
    pub const NS: Unit = Unit {
        name: "ns",
        ns: 1,
        digits: 0,
    };

    /// The largest unit in which `ns` is at least one (nanoseconds for zero).
    pub fn for_ns(ns: u64) -> Unit {
        [Unit::MS, Unit::US]
            .into_iter()
            .find(|u| ns >= u.ns)
            .unwrap_or(Unit::NS)
    }

    /// `ns` in this unit, with as many decimals as needed: `30`, `30.5`, `0.001`.
    pub fn format(self, ns: u64) -> String {
        let (whole, frac) = (ns / self.ns, ns % self.ns);
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:0width$}", width = self.digits);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// An operation the search could not place next, and the state that refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The operation.
    pub op: OpSummary,
    /// The model's description of the state it met, such as `x = "2"`.
    pub state: String,
}

// ANCHOR: explanation
/// Why one partition of a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The partition, such as `key "x"`.
    pub partition: String,
    /// How many operations the partition has.
    pub operations: usize,
    /// The longest sequence the model accepted in real-time order, in that order.
    pub prefix: Vec<OpSummary>,
    /// The operations that could not come after `prefix`. Invariant: not empty.
    pub stuck: Vec<Stuck>,
}
// ANCHOR_END: explanation

/// How many operations of the prefix [`Explanation`]'s `Display` shows (the last ones).
pub const SHOWN_PREFIX: usize = 6;

impl Explanation {
    /// The explanation for a search of `partition` that ended with its longest sequence
    /// `prefix` (history indexes), leaving the model in `state`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        partition: &[usize],
        prefix: &[usize],
        state: &M::State,
    ) -> Explanation {
        let unplaced: Vec<usize> = partition
            .iter()
            .copied()
            .filter(|i| !prefix.contains(i))
            .collect();
        let first_return = unplaced
            .iter()
            .map(|&i| history[i].effective_return_ns())
            .min();
        let first_return = first_return.expect("an illegal partition has an unplaced operation");
        let stuck: Vec<Stuck> = unplaced
            .iter()
            .filter(|&&i| history[i].call_ns <= first_return)
            .filter(|&&i| {
                let op = &history[i];
                model.step(state, &op.input, op.output.as_ref()).is_none()
            })
            .map(|&i| Stuck {
                op: OpSummary::new(model, history, i),
                state: model.describe_state(state, &history[i].input),
            })
            .collect();
        assert!(
            !stuck.is_empty(),
            "the longest sequence could have been extended"
        );
        Explanation {
            partition: model.describe_partition(history, partition),
            operations: partition.len(),
            prefix: prefix
                .iter()
                .map(|&i| OpSummary::new(model, history, i))
                .collect(),
            stuck,
        }
    }

    /// The operations named as not placeable, as history indexes.
    pub fn offending(&self) -> Vec<usize> {
        self.stuck.iter().map(|s| s.op.index).collect()
    }
}

// ANCHOR: display
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} is not linearizable.", self.partition)?;
        let placed = self.prefix.len();
        writeln!(
            f,
            "The longest linearizable prefix places {placed} of its {} operations:",
            self.operations
        )?;
        let hidden = placed.saturating_sub(SHOWN_PREFIX);
        if hidden > 0 {
            writeln!(f, "  ... {hidden} earlier operations")?;
        }
        for (k, op) in self.prefix.iter().enumerate().skip(hidden) {
            writeln!(f, "  {}. {op}", k + 1)?;
        }
        if placed == 0 {
            writeln!(f, "  (none)")?;
        }
        writeln!(f, "Nothing can come next:")?;
        for s in &self.stuck {
            write!(f, "  {} cannot be linearized: ", s.op)?;
            match self.prefix.last() {
                None => writeln!(f, "initially, {}", s.state)?,
                Some(last) => {
                    let relation = match last.return_ns {
                        Some(r) if r < s.op.call_ns => "completed before it began",
                        _ => "overlaps it",
                    };
                    let (text, interval) = (&last.text, last.interval());
                    writeln!(f, "after {text} {interval}, which {relation}, {}", s.state)?;
                }
            }
        }
        Ok(())
    }
}
// ANCHOR_END: display

}
pub mod generate {
//! Generated histories of a store that is linearizable by construction, for benches and tests.
//!
//! [`atomic_history`] plays `clients` clients against one map, each issuing its operations one
//! after another on `keys` keys (a third each gets, puts and appends, as the chapter 10 clients
//! do). Every operation takes effect at one instant drawn inside its interval, and the outputs
//! are computed by applying the operations to the map in the order of those instants, so the
//! history is linearizable and the instants are a witness. A fraction `unknown` of operations
//! get no answer (the client gave up after a timeout and moved on): each of those took effect
//! or not, at random, and the history records its outcome as unknown. Written values are
//! unique (`client.seq `), so reads show which writes they saw, in which order.
//!
//! One seed fixes the history. The random numbers come from SplitMix64 (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), written out here so
//! that the module needs nothing beyond std.

use std::collections::BTreeMap;

use super::kv::{KvInput, KvOutput};
use super::model::Operation;
use super::witness::Placement;

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Operations in all.
    pub operations: usize,
    /// Clients, each with one operation in flight at a time.
    pub clients: usize,
    /// Keys, named `k0`, `k1`, ...
    pub keys: usize,
    /// The fraction of operations whose outcome is unknown, in `0.0..=1.0`.
    pub unknown: f64,
    /// The seed.
    pub seed: u64,
}

/// SplitMix64: a tiny, good-enough generator for test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), with a bias below 2^-32 for the sizes used here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const MS: u64 = 1_000_000;

/// A history of `shape`, and the instants at which its operations took effect, as a witness
/// in linearization order (the operations that never took effect left out).
pub fn atomic_history(shape: &Shape) -> (Vec<Operation<KvInput, KvOutput>>, Vec<Placement>) {
    let mut rng = SplitMix(shape.seed);
    let clients = shape.clients.max(1);
    let keys = shape.keys.max(1) as u64;
    // (operation, instant, takes effect), in the history's order: client by client.
    let mut ops: Vec<(Operation<KvInput, KvOutput>, u64, bool)> = Vec::new();
    for client in 0..clients {
        let mine = shape.operations / clients + usize::from(client < shape.operations % clients);
        let mut now = rng.below(5 * MS);
        for seq in 1..=mine {
            let key = format!("k{}", rng.below(keys));
            let value = format!("{client}.{seq} ");
            let input = match rng.below(3) {
                0 => KvInput::Get { key },
                1 => KvInput::Put { key, value },
                _ => KvInput::Append { key, value },
            };
            let took = 1 + rng.below(20 * MS);
            let instant = now + rng.below(took + 1);
            let gave_up = rng.chance(shape.unknown);
            let takes_effect = !gave_up || rng.chance(0.5);
            let op = Operation {
                client: client as u64,
                input,
                output: None, // filled in below
                call_ns: now,
                return_ns: if gave_up { u64::MAX } else { now + took },
            };
            ops.push((op, instant, takes_effect));
            // A client that gave up waited for its timeout, 30 ms, before moving on.
            now += if gave_up { 30 * MS } else { took } + rng.below(5 * MS);
        }
    }
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].2).collect();
    order.sort_by_key(|&i| (ops[i].1, i));
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for &i in &order {
        let op = &mut ops[i].0;
        let output = match &op.input {
            KvInput::Get { key } => KvOutput::Value(store.get(key).cloned()),
            KvInput::Put { key, value } => {
                store.insert(key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Append { key, value } => {
                store.entry(key.clone()).or_default().push_str(value);
                KvOutput::Ok
            }
        };
        if op.return_ns != u64::MAX {
            op.output = Some(output);
        }
    }
    let witness = order.iter().map(|&i| (i, ops[i].1)).collect();
    (ops.into_iter().map(|(op, _, _)| op).collect(), witness)
}

}
pub mod kv {
//! The key-value model: the sequential specification of the replicated store.
//!
//! The object is a map from string keys to string values with three operations, those of the
//! key-value service of MIT 6.5840's labs and of this book's Raft store: `get(k)` answers the
//! current value or none, `put(k, v)` replaces it, and `append(k, v)` concatenates `v` to it
//! (to the empty string when `k` is absent). Writes answer `Ok`.
//!
//! Appends are what make the model a sharp test of a replicated store: a value read after a
//! series of appends spells out the order in which the store applied them, so a lost, duplicated
//! or reordered append shows up in the very next read (Kingsbury's Jepsen tests use lists for
//! the same reason). A put only shows that *some* write won.
//!
//! [`KvModel::partition`] groups operations by key, as Porcupine's key-value model does (Anish
//! Athalye, <https://github.com/anishathalye/porcupine>, `kv.go`): operations on different keys
//! commute, so by locality (Herlihy and Wing 1990, §3.5) each key's sub-history is checked on
//! its own, and the whole history is linearizable if and only if every key's is. The state
//! stays a whole map so that the same model also checks an unpartitioned history
//! ([`super::Unpartitioned`]); within one partition it holds at most one key.

use std::collections::BTreeMap;

use super::model::{Model, Operation};

// ANCHOR: kv_types
/// What a client of the store may ask.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvInput {
    /// Read the value of `key`.
    Get { key: String },
    /// Replace the value of `key` with `value`.
    Put { key: String, value: String },
    /// Concatenate `value` to the value of `key` (to the empty string if `key` is absent).
    Append { key: String, value: String },
}

/// What the store may answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvOutput {
    /// The answer to a get: the value, or `None` if the key is absent.
    Value(Option<String>),
    /// The answer to a put or an append.
    Ok,
}
// ANCHOR_END: kv_types

impl KvInput {
    /// The key this input reads or writes.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }

    /// Whether this input changes the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, KvInput::Get { .. })
    }
}

/// The store's sequential specification, partitioned per key.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// The state of the store: every key that has a value, with it. A `BTreeMap` so that equal
/// maps hash equally whatever the order of insertion.
pub type KvState = BTreeMap<String, String>;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::new()
    }

    // ANCHOR: kv_step
    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        match input {
            KvInput::Get { key } => {
                let current = state.get(key);
                match output {
                    None => Some(state.clone()),
                    Some(KvOutput::Value(seen)) if seen.as_ref() == current => Some(state.clone()),
                    Some(_) => None, // a different value, or `Ok` for a get
                }
            }
            KvInput::Put { .. } | KvInput::Append { .. }
                if output == Some(&KvOutput::Value(None)) =>
            {
                None
            }
            KvInput::Put { key, value } => {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                Some(next)
            }
            KvInput::Append { key, value } => {
                let mut next = state.clone();
                next.entry(key.clone()).or_default().push_str(value);
                Some(next)
            }
        }
    }
    // ANCHOR_END: kv_step

    // ANCHOR: kv_partition
    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }
    // ANCHOR_END: kv_partition

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        let call = match input {
            KvInput::Get { key } => format!("get({key})"),
            KvInput::Put { key, value } => format!("put({key}, {value:?})"),
            KvInput::Append { key, value } => format!("append({key}, {value:?})"),
        };
        match output {
            None => format!("{call} -> ?"),
            Some(KvOutput::Ok) => call,
            Some(KvOutput::Value(Some(v))) => format!("{call} -> Some({v:?})"),
            Some(KvOutput::Value(None)) => format!("{call} -> None"),
        }
    }

    fn describe_state(&self, state: &KvState, input: &KvInput) -> String {
        let key = input.key();
        match state.get(key) {
            Some(value) => format!("{key} = {value:?}"),
            None => format!("{key} is absent"),
        }
    }

    fn describe_partition(
        &self,
        history: &[Operation<KvInput, KvOutput>],
        partition: &[usize],
    ) -> String {
        match partition.first() {
            Some(&i) => format!("key {:?}", history[i].input.key()),
            None => "no key".to_string(),
        }
    }
}

}
pub mod model {
//! Histories and models: what the checker is given.
//!
//! A *history* is what the clients of a concurrent object saw, and nothing more: for every
//! operation, who issued it, what it asked, what came back, and two instants measured by a
//! clock common to all clients (in a simulation, the simulator's clock): when the client
//! *called* the operation and when the *response* reached it (Herlihy and Wing, "Linearizability:
//! a correctness condition for concurrent objects", TOPLAS 12(3), 1990, §2). When the client
//! gave up waiting, the outcome is unknown: the operation may have taken effect, at any instant
//! after its call, or never. Such an operation has `output: None` and `return_ns = u64::MAX`.
//!
//! A *model* is the sequential specification the history is judged against: an initial state
//! and a step function saying which outputs each input may produce from each state. The model
//! is deterministic in the sense the search needs: from a given state, an input with a given
//! output leads to at most one next state. The checker never looks inside a state; it clones,
//! compares and hashes states to remember which configurations it has already explored.
//!
//! A model may also cut a history into independent parts ([`Model::partition`]). That is sound
//! when the parts touch disjoint objects, because linearizability is *local*: a history is
//! linearizable if and only if its restriction to each object is (Herlihy and Wing 1990, §3.5,
//! Theorem 1). Checking `k` keys separately turns one search over `n` operations into `k`
//! searches over about `n / k` each, which matters because the search is exponential in the
//! number of mutually concurrent operations.

use std::fmt::Debug;
use std::hash::Hash;

// ANCHOR: operation
/// One operation as a client saw it. Times are nanoseconds on a clock shared by all clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<I, O> {
    /// The client that issued the operation (for explanations only; the checker does not
    /// assume that a client has one operation in flight at a time).
    pub client: u64,
    /// What the client asked for.
    pub input: I,
    /// What came back; `None` if the client gave up, so that the outcome is unknown.
    pub output: Option<O>,
    /// When the client issued the operation. Invariant: `call_ns <= return_ns`.
    pub call_ns: u64,
    /// When the response reached the client; `u64::MAX` when `output` is `None`.
    pub return_ns: u64,
}
// ANCHOR_END: operation

impl<I, O> Operation<I, O> {
    /// The instant after which the operation can no longer take effect: its return, or never
    /// for an operation whose outcome is unknown (whatever `return_ns` says).
    pub fn effective_return_ns(&self) -> u64 {
        if self.output.is_none() {
            u64::MAX
        } else {
            self.return_ns
        }
    }

    /// Whether this operation finished before `other` began: then every linearization must
    /// order it first (the real-time order of Herlihy and Wing 1990, §2). Operations whose
    /// intervals touch (`return == call`) count as concurrent, the lenient choice for clocks
    /// that tick in coarse steps.
    pub fn precedes<J, P>(&self, other: &Operation<J, P>) -> bool {
        self.effective_return_ns() < other.call_ns
    }
}

// ANCHOR: model
/// A sequential specification: the object as if it served one operation at a time.
pub trait Model {
    /// The object's state. `Hash + Eq` because the search memoises visited states.
    type State: Clone + Eq + Hash + Debug;
    /// What a client may ask.
    type Input: Debug;
    /// What the object may answer.
    type Output: Debug + Eq;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// The state after applying `input` to `state`, if the object could have answered
    /// `output`; `None` if that answer is impossible from `state`. With `output = None` (an
    /// operation whose outcome is unknown) any answer is accepted.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// Groups of operation indexes (into `history`) that touch disjoint parts of the state and
    /// can be checked independently. Every index must appear in exactly one group. The default
    /// is a single group holding the whole history.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// A short human description of one operation, such as `get(x) -> Some("1")`.
    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        match output {
            Some(output) => format!("{input:?} -> {output:?}"),
            None => format!("{input:?} -> ?"),
        }
    }

    /// The part of `state` that `input` reads or writes, such as `x = "2"`, for explanations.
    fn describe_state(&self, state: &Self::State, _input: &Self::Input) -> String {
        format!("the state is {state:?}")
    }

    /// A name for one group of [`Model::partition`], such as `key "x"`.
    fn describe_partition(
        &self,
        _history: &[Operation<Self::Input, Self::Output>],
        _partition: &[usize],
    ) -> String {
        "the whole history".to_string()
    }
}
// ANCHOR_END: model

/// `M` with partitioning switched off: the whole history is searched as one. Only useful to
/// show that partitioning does not change a verdict, and how much time it saves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unpartitioned<M>(pub M);

impl<M: Model> Model for Unpartitioned<M> {
    type State = M::State;
    type Input = M::Input;
    type Output = M::Output;

    fn init(&self) -> Self::State {
        self.0.init()
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State> {
        self.0.step(state, input, output)
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        self.0.describe_operation(input, output)
    }

    fn describe_state(&self, state: &Self::State, input: &Self::Input) -> String {
        self.0.describe_state(state, input)
    }
}
}
pub mod render {
//! A history as text: one line per operation, with its interval drawn on a shared time axis.
//!
//! Linearizability is about how intervals overlap, which is hard to see in a list of numbers
//! and easy to see in a picture. [`render_history`] draws each operation as a bar `[====]`
//! from its call to its return, scaled so that the whole history spans [`BAR_WIDTH`] columns;
//! an operation whose outcome is unknown runs off the right edge (`[====>`). Operations are
//! listed by call time, so the picture reads top to bottom as the history unfolded.
//!
//! The scale is linear and coarse: two events closer than one column apart share a column, so
//! the bar shows the shape of the history and the interval printed beside it the exact times.

use super::explain::OpSummary;
use super::model::{Model, Operation};

/// The width of the time axis, in columns.
pub const BAR_WIDTH: usize = 40;

// ANCHOR: render_history
/// The history, one line per operation in call order: client, bar, description, interval.
pub fn render_history<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> String {
    let start = history.iter().map(|op| op.call_ns).min().unwrap_or(0);
    let known_returns = history
        .iter()
        .filter(|op| op.output.is_some())
        .map(|op| op.return_ns);
    let calls = history.iter().map(|op| op.call_ns);
    let end = known_returns.chain(calls).max().unwrap_or(0);
    let span = (end - start).max(1);
    let column = |t: u64| -> usize {
        let t = t.clamp(start, end) - start;
        // u128: `t * (BAR_WIDTH - 1)` may overflow u64 for times near u64::MAX.
        (u128::from(t) * (BAR_WIDTH as u128 - 1) / u128::from(span)) as usize
    };
    let mut order: Vec<usize> = (0..history.len()).collect();
    order.sort_by_key(|&i| (history[i].call_ns, i));
    let mut out = String::new();
    for i in order {
        let op = &history[i];
        let summary = OpSummary::new(model, history, i);
        let from = column(op.call_ns).min(BAR_WIDTH - 2); // room for the closing bracket
        let mut bar = vec![' '; BAR_WIDTH];
        bar[from] = '[';
        match op.output {
            Some(_) => {
                let to = column(op.return_ns).max(from + 1).min(BAR_WIDTH - 1);
                bar[from + 1..to].fill('=');
                bar[to] = ']';
            }
            None => {
                bar[from + 1..].fill('=');
                bar[BAR_WIDTH - 1] = '>';
            }
        }
        let bar: String = bar.into_iter().collect();
        let (client, text, interval) = (op.client, &summary.text, summary.interval());
        out += &format!("client {client:<3} |{bar}| {text} {interval}\n");
    }
    out
}
// ANCHOR_END: render_history
}
pub mod report {
//! Reports: what the checker decided about each partition, how, and at what cost.
//!
//! [`super::check`] answers one word for the whole history; [`super::check_report`] answers a
//! [`Report`] with one line per partition (for the key-value model, per key): its verdict, the
//! [`Method`] that decided it, the steps and memoised configurations the search used over all
//! its rounds, and the time spent. A violation keeps its [`Explanation`]; a witness that failed
//! keeps the operation that broke it ([`WitnessError`]). Steps and configurations are
//! deterministic; times are not, so tables meant to be regenerated byte for byte use
//! [`Report::table`] without them.

use std::fmt;
use std::time::Duration;

use super::CheckResult;
use super::witness::WitnessError;

/// How a partition's verdict was reached, or why there is none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// The search decided it (linearizable or not).
    Search,
    /// The search gave up, and the witness proved it linearizable.
    Witness,
    /// Undecided: the search used its whole budget of steps (and no witness explained it).
    UnknownBudget,
    /// Undecided: the search reached the cap on memoised configurations (and no witness
    /// explained it).
    UnknownMemory,
    /// Not finished: another partition was found illegal first, which decides the history.
    Skipped,
}

impl Method {
    /// Every method, in the order reports list them.
    pub const ALL: [Method; 5] = [
        Method::Search,
        Method::Witness,
        Method::UnknownBudget,
        Method::UnknownMemory,
        Method::Skipped,
    ];

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Search => "search",
            Method::Witness => "witness",
            Method::UnknownBudget => "unknown-budget",
            Method::UnknownMemory => "unknown-memory",
            Method::Skipped => "skipped",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ANCHOR: partition_report
/// What the checker found about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionReport {
    /// The partition, such as `key "x"`.
    pub partition: String,
    /// How many operations it has.
    pub operations: usize,
    /// Its verdict: `Ok`, `Illegal` with the explanation, or `Unknown`.
    pub verdict: CheckResult,
    /// How the verdict was reached.
    pub method: Method,
    /// Events the search visited, over all its rounds.
    pub steps: u64,
    /// The most configurations one round of the search memoised (its memory, in entries).
    pub configurations: usize,
    /// Rounds of iterative deepening the search took part in.
    pub rounds: u32,
    /// Time spent on this partition (search and witness).
    pub time: Duration,
    /// When a witness was tried and failed: why.
    pub witness_error: Option<WitnessError>,
}
// ANCHOR_END: partition_report

/// What the checker found about a whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// One entry per partition, in the model's partition order.
    pub partitions: Vec<PartitionReport>,
    /// Time for the whole check.
    pub time: Duration,
}

impl Report {
    /// The verdict for the whole history: illegal if some partition is, else unknown if some
    /// partition is undecided, else linearizable (locality, Herlihy and Wing 1990, §3.5).
    pub fn result(&self) -> CheckResult {
        let illegal = self
            .partitions
            .iter()
            .find(|p| matches!(p.verdict, CheckResult::Illegal(_)));
        match illegal {
            Some(p) => p.verdict.clone(),
            None if self.partitions.iter().all(|p| p.verdict == CheckResult::Ok) => CheckResult::Ok,
            None => CheckResult::Unknown,
        }
    }

    /// How many partitions `method` decided (or left undecided).
    pub fn count(&self, method: Method) -> usize {
        self.partitions
            .iter()
            .filter(|p| p.method == method)
            .count()
    }

    /// Steps over all partitions.
    pub fn steps(&self) -> u64 {
        self.partitions.iter().map(|p| p.steps).sum()
    }

    /// The report as a table, one row per partition; with times if `times`. Rows are at most
    /// 100 characters for partition names of up to 16.
    pub fn table(&self, times: bool) -> String {
        let mut out = format!(
            "{:<16} {:>6} {:<12} {:<14} {:>11} {:>9} {:>6}",
            "partition", "ops", "verdict", "method", "steps", "configs", "rounds"
        );
        out += if times { "   time ms\n" } else { "\n" };
        for p in &self.partitions {
            let verdict = match p.verdict {
                CheckResult::Ok => "linearizable",
                CheckResult::Illegal(_) => "ILLEGAL",
                CheckResult::Unknown => "unknown",
            };
            out += &format!(
                "{:<16} {:>6} {:<12} {:<14} {:>11} {:>9} {:>6}",
                p.partition, p.operations, verdict, p.method, p.steps, p.configurations, p.rounds
            );
            if times {
                out += &format!(" {:>9.3}", p.time.as_secs_f64() * 1e3);
            }
            out += "\n";
        }
        out
    }
}

impl fmt::Display for Report {
    /// The table with times, then every violation's explanation and every failed witness.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table(true))?;
        for p in &self.partitions {
            if let CheckResult::Illegal(e) = &p.verdict {
                write!(f, "{e}")?;
            }
            if let Some(why) = &p.witness_error {
                writeln!(f, "{}: the witness fails: {why}", p.partition)?;
            }
        }
        let verdict = match self.result() {
            CheckResult::Ok => "linearizable",
            CheckResult::Illegal(_) => "not linearizable",
            CheckResult::Unknown => "unknown",
        };
        writeln!(
            f,
            "{verdict}: {} steps in {:.3} ms",
            self.steps(),
            self.time.as_secs_f64() * 1e3
        )
    }
}
}
pub mod search {
//! The search: Wing and Gong's backtracking, with Lowe's memoisation.
//!
//! A history is linearizable if its operations can be put in one sequence that (1) the model
//! accepts and (2) respects real time: an operation that returned before another was called
//! comes first (Herlihy and Wing 1990, §2). Wing and Gong find such a sequence by search
//! ("Testing and verifying concurrent objects", J. Parallel Distrib. Comput. 17, 1993):
//!
//! 1. Lay the history out as a list of *events*, every call and every return, in time order.
//! 2. Walk the list from the front. At a *call*, try to linearize its operation next: if the
//!    model accepts it from the current state, record the choice on a stack, take its call and
//!    return out of the list, and start again from the front. If not, move on to the next event.
//! 3. At a *return*, stop: that operation returned, so it must come before every operation
//!    called later, and every operation that may come before it has been tried. Undo the last
//!    choice (pop the stack, put its events back) and try the event after the undone call.
//! 4. An empty list means every operation found a place: linearizable. A return with nothing
//!    to undo means no order works: not linearizable.
//!
//! Step 2 only considers operations whose call precedes the first return still in the list:
//! exactly those that no unplaced operation precedes in real time. So every sequence the search
//! builds respects real time, and the search tries them all.
//!
//! The search is exponential: `k` mutually concurrent operations can be ordered `k!` ways.
//! Lowe's improvement ("Testing for linearizability", Concurrency and Computation: Practice and
//! Experience 29(4), 2017) is to remember every *configuration* reached, the set of
//! operations linearized so far (a bitset) together with the model state after them. Two
//! different orders of the same operations that leave the same state have the same future, so
//! the second is pruned. Writes that overwrite each other collapse this way: `n` concurrent puts
//! reach at most `2^n * n` configurations, not `n!` orders. Porcupine (Anish Athalye,
//! <https://github.com/anishathalye/porcupine>) implements the same algorithm; this module
//! follows its structure, a doubly linked list whose entries are unlinked and relinked in place
//! as in Knuth's dancing links.
//!
//! Operations whose outcome is unknown are called at their call time and "return" at
//! `u64::MAX`, so they may be placed anywhere after their call. They need not be placed at all:
//! an operation that never took effect is as good as absent, so the search succeeds as soon as
//! every operation with a known outcome is placed, and an operation with unknown outcome that
//! would leave the state as it is (a read that timed out) is never placed at all.
//!
//! Unknown outcomes are the expensive part of a history. Each write whose outcome is unknown
//! may be placed at any point after its call or not at all, and the configurations multiply
//! accordingly: a history that is *not* linearizable, with a dozen timed-out writes to one
//! key, can exhaust any reasonable budget, because the search must rule out every choice.
//!
//! A search that takes more than `max_steps` steps (one step is one event visited) gives up
//! with [`Verdict::GaveUp`], so that a pathological history costs a bounded amount of time.
//! One that would remember more than `max_configurations` configurations gives up too, with
//! [`Search::out_of_memory`] set, so that it costs a bounded amount of memory as well: the memo
//! table is the only structure that grows with the work done (the stack and the list grow with
//! the history). A step adds at most one configuration, so a search within a budget of `s` steps
//! never holds more than `s`; the cap matters for searches allowed many more steps than fit in
//! memory. [`super::check_report`] turns either into "unknown" for that partition.
//!
//! Simplification: the search keeps the longest sequence it ever built, which is what an
//! explanation shows. It does not minimise the history (Lowe's "just-in-time" linearization and
//! Porcupine's visualisation go further).

use std::collections::HashSet;

use super::model::{Model, Operation};

/// A set of operation indexes, one bit each: the first half of a configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> BitSet {
        BitSet(vec![0; n.div_ceil(64)])
    }

    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }

    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// No entry: the end of the list, or no neighbour.
const NIL: usize = usize::MAX;

/// The history as a doubly linked list of events, with a head sentinel.
struct Events {
    /// For entry `e`, the local index of its operation.
    op: Vec<usize>,
    /// Whether entry `e` is a call (else a return).
    is_call: Vec<bool>,
    /// For a call entry, its matching return entry.
    partner: Vec<usize>,
    /// Links. Invariant: for every linked `e`, `next[prev[e]] == e` and, if `next[e] != NIL`,
    /// `prev[next[e]] == e`. The head sentinel is entry `HEAD` and is never unlinked.
    prev: Vec<usize>,
    /// See `prev`.
    next: Vec<usize>,
}

/// The head sentinel's entry.
const HEAD: usize = 0;

impl Events {
    /// The events of `ops` in time order. At equal times calls come first, so that operations
    /// whose intervals touch count as concurrent (see [`Operation::precedes`]).
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Events {
        // (time, 0 for a call / 1 for a return, local op index)
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            order.push((op.call_ns, 0, i));
            order.push((op.effective_return_ns(), 1, i));
        }
        order.sort_unstable();
        let n = order.len() + 1; // entry 0 is the head
        let mut events = Events {
            op: vec![NIL; n],
            is_call: vec![false; n],
            partner: vec![NIL; n],
            prev: (0..n).map(|e| e.wrapping_sub(1)).collect(),
            next: (1..=n).map(|e| if e == n { NIL } else { e }).collect(),
        };
        let mut call_entry = vec![NIL; ops.len()];
        for (k, &(_, kind, i)) in order.iter().enumerate() {
            let e = k + 1;
            events.op[e] = i;
            events.is_call[e] = kind == 0;
            if kind == 0 {
                call_entry[i] = e;
            } else {
                events.partner[call_entry[i]] = e;
            }
        }
        events
    }

    /// Takes call entry `call` and its return out of the list.
    fn lift(&mut self, call: usize) {
        for e in [call, self.partner[call]] {
            let (p, n) = (self.prev[e], self.next[e]);
            self.next[p] = n;
            if n != NIL {
                self.prev[n] = p;
            }
        }
    }

    /// Puts back what [`Events::lift`] took out; the reverse of the last unmatched lift.
    fn unlift(&mut self, call: usize) {
        for e in [self.partner[call], call] {
            let (p, n) = (self.prev[e], self.next[e]);
            self.next[p] = e;
            if n != NIL {
                self.prev[n] = e;
            }
        }
    }
}

/// What the search concluded about one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<S> {
    /// Every operation with a known outcome found a place.
    Linearizable,
    /// No order works. `prefix` is the longest sequence of history indexes the model accepted
    /// in real-time order, and `state` the model state after it.
    Illegal { prefix: Vec<usize>, state: S },
    /// The search took `max_steps` steps, or reached `max_configurations` configurations
    /// ([`Search::out_of_memory`]), without deciding.
    GaveUp,
}

/// A verdict and what it cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search<S> {
    /// The verdict.
    pub verdict: Verdict<S>,
    /// Events visited.
    pub steps: u64,
    /// Configurations (set of operations, state) memoised.
    pub configurations: usize,
    /// Whether the search gave up because it reached its cap on configurations.
    pub out_of_memory: bool,
}

/// Searches for a linearization of the operations `partition` (indexes into `history`),
/// visiting at most `max_steps` events, with no cap on memory but the one `max_steps` implies.
pub fn search<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    max_steps: u64,
) -> Search<M::State> {
    search_bounded(model, history, partition, max_steps, usize::MAX)
}

// ANCHOR: search
/// Searches for a linearization of the operations `partition` (indexes into `history`),
/// visiting at most `max_steps` events and remembering at most `max_configurations`.
pub fn search_bounded<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    max_steps: u64,
    max_configurations: usize,
) -> Search<M::State> {
    let ops: Vec<&Operation<M::Input, M::Output>> =
        partition.iter().map(|&i| &history[i]).collect();
    let mut events = Events::new(&ops);
    let mut unplaced_known = ops.iter().filter(|op| op.output.is_some()).count();
    let mut placed = BitSet::new(ops.len());
    let mut seen: HashSet<(BitSet, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new(); // (call entry, state before it)
    let mut state = model.init();
    let mut longest: (Vec<usize>, M::State) = (Vec::new(), state.clone());
    let mut entry = events.next[HEAD];
    let mut steps = 0;
    while unplaced_known > 0 {
        if steps == max_steps {
            return Search {
                verdict: Verdict::GaveUp,
                steps,
                configurations: seen.len(),
                out_of_memory: false,
            };
        }
        steps += 1;
        assert!(
            entry != NIL,
            "walked past the last return with operations unplaced"
        );
        let op = events.op[entry];
        if events.is_call[entry] {
            let (input, output) = (&ops[op].input, ops[op].output.as_ref());
            let next = model.step(&state, input, output);
            // An operation with unknown outcome that would not change the state (a read that
            // timed out) never needs a place: leaving it out can only leave more options.
            let useless = output.is_none() && next.as_ref() == Some(&state);
            if let Some(next_state) = next.filter(|_| !useless) {
                placed.insert(op);
                let configuration = (placed.clone(), next_state.clone());
                if seen.len() >= max_configurations && !seen.contains(&configuration) {
                    return Search {
                        verdict: Verdict::GaveUp,
                        steps,
                        configurations: seen.len(),
                        out_of_memory: true,
                    };
                }
                if seen.insert(configuration) {
                    // A new configuration: place the operation and start again from the front.
                    stack.push((entry, std::mem::replace(&mut state, next_state)));
                    events.lift(entry);
                    unplaced_known -= usize::from(ops[op].output.is_some());
                    if stack.len() > longest.0.len() {
                        let prefix = stack.iter().map(|&(e, _)| partition[events.op[e]]);
                        longest = (prefix.collect(), state.clone());
                    }
                    entry = events.next[HEAD];
                    continue;
                }
                placed.remove(op); // explored before, from another order: prune
            }
            entry = events.next[entry];
        } else {
            // A return: its operation must come before everything called later. Backtrack.
            let Some((call, previous)) = stack.pop() else {
                let (prefix, state) = longest;
                return Search {
                    verdict: Verdict::Illegal { prefix, state },
                    steps,
                    configurations: seen.len(),
                    out_of_memory: false,
                };
            };
            let undone = events.op[call];
            placed.remove(undone);
            state = previous;
            events.unlift(call);
            unplaced_known += usize::from(ops[undone].output.is_some());
            entry = events.next[call];
        }
    }
    Search {
        verdict: Verdict::Linearizable,
        steps,
        configurations: seen.len(),
        out_of_memory: false,
    }
}
// ANCHOR_END: search

}
pub mod witness {
//! Witnesses: checking a proposed linearization instead of searching for one.
//!
//! The search of [`super::search`] must rule out, or find, an order of the operations; a
//! *witness* is an order someone else proposes, with the instant at which each operation took
//! effect. Checking it costs one pass over the history, whatever its shape, because the hard
//! part (which order, and which operations with unknown outcome took effect at all) is given.
//! A system that knows when each operation took effect can supply one: in Raft, the instant a
//! command's log entry was first committed (`raft/witness.rs`).
//!
//! [`verify`] accepts a witness for one partition when:
//!
//! 1. every operation it places lies within its interval: at or after its call and at or before
//!    its return (an operation whose outcome is unknown has no return: anywhere after its call);
//! 2. the placements are in order of their instants (ties keep the order given);
//! 3. the model accepts the operations in that order, each known output matching the model's;
//! 4. every operation with a known outcome is placed, once. An operation with unknown outcome
//!    may be left out: it never took effect.
//!
//! Then the witness *is* a linearization (Herlihy and Wing 1990, §2): (3) is the sequential
//! specification, and (1) and (2) give real time, because an operation that returned before
//! another was called has a strictly earlier instant. So an accepted witness proves the
//! partition linearizable, however it was obtained, even from a buggy system. A rejected one
//! proves nothing about the history (another order may work), and the checker reports the
//! partition as unknown, with the reason ([`WitnessError`]) naming the operation that broke it.
//!
//! Reads need no place in Raft's log when they are served by ReadIndex or a lease, so a witness
//! may leave out operations that do not change the state. [`fit_reads`] puts each at the first
//! instant of its interval where the state it read held, which is exact for such operations:
//! given the order of the writes, a read is explained if and only if some instant of its
//! interval sees its answer.

use std::fmt;

use super::explain::OpSummary;
use super::model::{Model, Operation};

/// One operation placed by a witness: its index in the history and the instant (on the
/// history's clock) at which it took effect.
pub type Placement = (usize, u64);

// ANCHOR: witness_error
/// Why a witness does not explain a partition: the first operation that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WitnessError {
    /// Placed at an instant outside its interval.
    OutsideInterval { op: OpSummary, at_ns: u64 },
    /// Placed at an instant earlier than the placement before it.
    OutOfOrder {
        op: OpSummary,
        at_ns: u64,
        previous_ns: u64,
    },
    /// Placed twice.
    PlacedTwice { op: OpSummary },
    /// The model refuses it (or its answer) in the state the operations before it left.
    Refused { op: OpSummary, state: String },
    /// Its outcome is known, so it took effect, but the witness gives it no place.
    Unplaced { op: OpSummary },
}
// ANCHOR_END: witness_error

impl fmt::Display for WitnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WitnessError::OutsideInterval { op, at_ns } => {
                write!(f, "{op} is placed at {at_ns} ns, outside its interval")
            }
            WitnessError::OutOfOrder {
                op,
                at_ns,
                previous_ns,
            } => write!(
                f,
                "{op} is placed at {at_ns} ns, before the previous placement at {previous_ns} ns"
            ),
            WitnessError::PlacedTwice { op } => write!(f, "{op} is placed twice"),
            WitnessError::Refused { op, state } => {
                write!(f, "{op} is refused by the model where {state}")
            }
            WitnessError::Unplaced { op } => {
                write!(f, "{op} has a known outcome but no place")
            }
        }
    }
}

// ANCHOR: verify
/// Whether `order` (placements of operations of `partition`, in order) is a linearization of
/// `partition`; if not, which operation broke it.
pub fn verify<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    order: &[Placement],
) -> Result<(), WitnessError> {
    let summary = |i: usize| OpSummary::new(model, history, i);
    let mut placed = vec![false; history.len()];
    let mut state = model.init();
    let mut previous_ns = 0;
    for &(i, at_ns) in order {
        let op = &history[i];
        if placed[i] {
            return Err(WitnessError::PlacedTwice { op: summary(i) });
        }
        placed[i] = true;
        if at_ns < op.call_ns || at_ns > op.effective_return_ns() {
            return Err(WitnessError::OutsideInterval {
                op: summary(i),
                at_ns,
            });
        }
        if at_ns < previous_ns {
            let op = summary(i);
            return Err(WitnessError::OutOfOrder {
                op,
                at_ns,
                previous_ns,
            });
        }
        previous_ns = at_ns;
        match model.step(&state, &op.input, op.output.as_ref()) {
            Some(next) => state = next,
            None => {
                let state = model.describe_state(&state, &op.input);
                return Err(WitnessError::Refused {
                    op: summary(i),
                    state,
                });
            }
        }
    }
    match partition
        .iter()
        .find(|&&i| !placed[i] && history[i].output.is_some())
    {
        Some(&i) => Err(WitnessError::Unplaced { op: summary(i) }),
        None => Ok(()),
    }
}
// ANCHOR_END: verify

/// The placements of `witness` (over the whole history) that belong to `partition`, in their
/// order, completed with the operations of `partition` that it leaves out, have a known
/// outcome and leave the state as it is (reads): each at the first instant of its interval
/// where the model accepts its answer. Operations that fit nowhere stay out, for [`verify`] to
/// report. Placements beyond the history are dropped.
pub fn fit_reads<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    witness: &[Placement],
) -> Vec<Placement> {
    let mut member = vec![false; history.len()];
    for &i in partition {
        member[i] = true;
    }
    let placed: Vec<Placement> = witness
        .iter()
        .copied()
        .filter(|&(i, _)| i < history.len() && member[i])
        .collect();
    let mut is_placed = vec![false; history.len()];
    for &(i, _) in &placed {
        is_placed[i] = true;
    }
    // states[j]: the state after the first j placements, as long as the model accepts them.
    let mut states = vec![model.init()];
    for &(i, _) in &placed {
        let op = &history[i];
        let before = states.last().expect("starts with the initial state");
        match model.step(before, &op.input, op.output.as_ref()) {
            Some(next) => states.push(next),
            None => break,
        }
    }
    // (segment, instant, operation): the operation goes after placement segment - 1.
    let mut fitted: Vec<(usize, u64, usize)> = Vec::new();
    for &i in partition {
        let op = &history[i];
        if is_placed[i] || op.output.is_none() {
            continue;
        }
        for (j, state) in states.iter().enumerate() {
            let from = if j == 0 { 0 } else { placed[j - 1].1 };
            let to = placed.get(j).map_or(u64::MAX, |p| p.1);
            let at = op.call_ns.max(from);
            if from > op.return_ns {
                break;
            }
            if at > to.min(op.return_ns) {
                continue;
            }
            if model.step(state, &op.input, op.output.as_ref()).as_ref() == Some(state) {
                fitted.push((j, at, i));
                break;
            }
        }
    }
    fitted.sort_unstable();
    let mut order = Vec::with_capacity(placed.len() + fitted.len());
    let mut fitted = fitted.into_iter().peekable();
    for j in 0..=placed.len() {
        while let Some((_, at, i)) = fitted.next_if(|f| f.0 == j) {
            order.push((i, at));
        }
        order.extend(placed.get(j));
    }
    order
}

/// Checks `partition` against `witness` (placements over the whole history, in order), with
/// unplaced reads fitted by [`fit_reads`].
pub fn check_witness<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partition: &[usize],
    witness: &[Placement],
) -> Result<(), WitnessError> {
    let order = fit_reads(model, history, partition, witness);
    verify(model, history, partition, &order)
}
}

use std::fmt;
use std::time::Instant;

pub use explain::{Explanation, OpSummary, Stuck};
pub use kv::{KvInput, KvModel, KvOutput, KvState};
pub use model::{Model, Operation, Unpartitioned};
pub use render::render_history;
pub use report::{Method, PartitionReport, Report};
pub use search::Verdict;
pub use witness::{Placement, WitnessError};

/// The default budget: events a search may visit per partition before it gives up.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// The default cap on configurations one search memoises: 2^19, about half a million. An entry
/// is a bitset of the partition's operations and a model state. For the key-value model it
/// costs about 800 bytes with the hash table's overhead, most of it the map's node (measured:
/// a search that reached 10^6 configurations of one key peaked at 0.8 GB), so the cap holds a
/// search, and the checker, which runs one search at a time, to about 400 MB.
pub const DEFAULT_MAX_CONFIGURATIONS: usize = 1 << 19;

/// The default budget of every partition in the first round of iterative deepening.
pub const DEFAULT_FIRST_ROUND_STEPS: u64 = 1_000;

/// How much work [`check_report`] may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most events one search of a partition may visit: the budget of the last round.
    pub max_steps: u64,
    /// The most configurations one search may memoise.
    pub max_configurations: usize,
    /// Every undecided partition's budget in the first round; it doubles each round.
    pub first_round_steps: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: DEFAULT_MAX_STEPS,
            max_configurations: DEFAULT_MAX_CONFIGURATIONS,
            first_round_steps: DEFAULT_FIRST_ROUND_STEPS,
        }
    }
}

// ANCHOR: check_result
/// The checker's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Every partition has an order that respects real time and that the model accepts.
    Ok,
    /// Some partition has none; the first such partition, explained.
    Illegal(Explanation),
    /// No partition is illegal, but some search ran out of steps before deciding.
    Unknown,
}
// ANCHOR_END: check_result

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckResult::Ok => writeln!(f, "linearizable"),
            CheckResult::Illegal(explanation) => write!(f, "{explanation}"),
            CheckResult::Unknown => writeln!(f, "unknown: the search ran out of steps"),
        }
    }
}

/// Checks `history` against `model` with the default budget.
///
/// # Panics
///
/// If an operation with a known outcome returns before it is called, or if the model's
/// partition does not cover every operation exactly once: both are bugs in the code that
/// recorded the history or wrote the model, not properties of the object under test.
pub fn check<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>]) -> CheckResult {
    check_with_budget(model, history, DEFAULT_MAX_STEPS)
}

// ANCHOR: check_with_budget
/// Checks `history` against `model`, each partition with a budget of `max_steps` events.
/// Panics as [`check`] does.
pub fn check_with_budget<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    max_steps: u64,
) -> CheckResult {
    let limits = Limits {
        max_steps,
        ..Limits::default()
    };
    check_report(model, history, &limits, None).result()
}
// ANCHOR_END: check_with_budget

// ANCHOR: check_report
/// Checks `history` against `model` within `limits`, partition by partition, and reports how
/// each was decided. Where the search gives up, `witness` (placements over the whole history,
/// in linearization order), if any, is checked instead. Panics as [`check`] does.
///
/// The partitions share the effort by *iterative deepening*: in round `r` every undecided
/// partition is searched afresh with a budget of `first_round_steps * 2^r` steps, until every
/// partition is decided or the budget reaches `max_steps`. A partition that is easy to decide
/// is decided in an early round, whatever the others cost, and the first illegal one ends the
/// check. Restarting costs at most as many steps again as the last round (the budgets double),
/// and only one search, with its memo table, is alive at a time.
pub fn check_report<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    limits: &Limits,
    witness: Option<&[Placement]>,
) -> Report {
    let started = Instant::now();
    let partitions = model.partition(history);
    assert_well_formed(history, &partitions);
    let mut reports: Vec<PartitionReport> = partitions
        .iter()
        .map(|p| PartitionReport {
            partition: model.describe_partition(history, p),
            operations: p.len(),
            verdict: CheckResult::Unknown,
            method: Method::Skipped,
            steps: 0,
            configurations: 0,
            rounds: 0,
            time: Default::default(),
            witness_error: None,
        })
        .collect();
    let mut pending: Vec<usize> = (0..partitions.len()).collect();
    let mut budget = limits.first_round_steps.clamp(1, limits.max_steps.max(1));
    'rounds: while !pending.is_empty() {
        let mut undecided = Vec::new();
        for (done, &k) in pending.iter().enumerate() {
            let (partition, report) = (&partitions[k], &mut reports[k]);
            let start = Instant::now();
            let mut illegal = false;
            let max = limits.max_configurations;
            let search = search::search_bounded(model, history, partition, budget, max);
            report.steps += search.steps;
            report.configurations = report.configurations.max(search.configurations);
            report.rounds += 1;
            report.method = Method::Search;
            match search.verdict {
                Verdict::Linearizable => report.verdict = CheckResult::Ok,
                Verdict::Illegal { prefix, state } => {
                    let e = Explanation::new(model, history, partition, &prefix, &state);
                    report.verdict = CheckResult::Illegal(e);
                    illegal = true;
                }
                Verdict::GaveUp if search.out_of_memory => report.method = Method::UnknownMemory,
                Verdict::GaveUp if budget >= limits.max_steps => {
                    report.method = Method::UnknownBudget;
                }
                Verdict::GaveUp => undecided.push(k),
            }
            report.time += start.elapsed();
            if illegal {
                for &k in pending[done + 1..].iter().chain(&undecided) {
                    reports[k].method = Method::Skipped; // the history is decided
                }
                break 'rounds;
            }
        }
        pending = undecided;
        budget = budget.saturating_mul(2).min(limits.max_steps);
    }
    let illegal = reports
        .iter()
        .any(|r| matches!(r.verdict, CheckResult::Illegal(_)));
    if let (Some(witness), false) = (witness, illegal) {
        for (report, partition) in reports.iter_mut().zip(&partitions) {
            if report.verdict != CheckResult::Unknown {
                continue;
            }
            let start = Instant::now();
            match witness::check_witness(model, history, partition, witness) {
                Ok(()) => {
                    report.verdict = CheckResult::Ok;
                    report.method = Method::Witness;
                }
                Err(why) => report.witness_error = Some(why),
            }
            report.time += start.elapsed();
        }
    }
    Report {
        partitions: reports,
        time: started.elapsed(),
    }
}
// ANCHOR_END: check_report

/// Asserts that every interval is ordered and that the partition covers the history once.
fn assert_well_formed<I, O>(history: &[Operation<I, O>], partitions: &[Vec<usize>]) {
    for (i, op) in history.iter().enumerate() {
        assert!(
            op.call_ns <= op.effective_return_ns(),
            "operation {i} returns at {} ns, before its call at {} ns",
            op.return_ns,
            op.call_ns
        );
    }
    let mut covered = vec![0u32; history.len()];
    for &i in partitions.iter().flatten() {
        assert!(
            i < history.len(),
            "the partition names operation {i}, beyond the history"
        );
        covered[i] += 1;
    }
    if let Some(i) = covered.iter().position(|&c| c != 1) {
        panic!(
            "the partition covers operation {i} {} times, not once",
            covered[i]
        );
    }
}
}
}

mod sim {
//! A deterministic discrete-event simulator for distributed protocols.
//!
//! The simulator runs protocols written as sans-I/O state machines (see [`Process`]) on a
//! simulated network and simulated clocks, under faults you script or draw at random. It is the
//! Rust counterpart of the SimPy models a reader may know, with three differences that matter for
//! distributed systems:
//!
//! - **Determinism.** One seed fixes the whole run. Same seed, same trace, byte for byte
//!   ([`Sim::trace_hash`]). A failing run is a seed; a seed is a bug report.
//! - **Faults as first-class input.** Message loss, duplication, reordering, latency tails,
//!   bandwidth, partitions (both ways or one way), crashes with durable state, pauses and clock
//!   drift are all configuration ([`LinkConfig`], [`Fault`], [`Clock`], [`Nemesis`]).
//! - **Invariants after every event.** A check registered with [`Sim::add_invariant`] sees the
//!   whole system between any two events, which no test of a real deployment can.
//!
//! Layout: `rng` (seeded randomness), `time` (virtual time), `process` (the protocol contract),
//! `network` (links and partitions), `clock` (drift), `faults` (schedules and the nemesis),
//! `world` (the event loop), `metrics`, `trace`, `campaign` (many seeds on many cores).

mod campaign {
//! Campaigns: the same simulation over many seeds, on every core.
//!
//! One seed explores one interleaving of messages, timers and faults. Bugs in distributed
//! protocols hide in rare interleavings, so we run thousands of seeds. A campaign hands seeds to
//! worker threads, shows a progress line when a person is watching (nothing when standard error
//! is not a terminal, as in CI), and reports every failing seed together with the exact command
//! that replays it: replaying one seed gives the identical run, under a debugger if need be.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which seeds to run and how to tell a person to replay one.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// A short name for the progress bar and the report.
    pub name: String,
    /// The first seed.
    pub first_seed: u64,
    /// How many consecutive seeds to run.
    pub seeds: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The replay command, with `{seed}` where the seed goes.
    pub replay: String,
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    pub name: String,
    pub passed: u64,
    /// Failing seeds and what went wrong, sorted by seed.
    pub failures: Vec<(u64, String)>,
    pub elapsed: Duration,
    /// The replay command template.
    pub replay: String,
}

impl CampaignReport {
    /// Seeds run per wall-clock second.
    pub fn seeds_per_sec(&self) -> f64 {
        (self.passed + self.failures.len() as u64) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The command that replays `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        self.replay.replace("{seed}", &seed.to_string())
    }

    /// Panics with every failure and its replay command, if there was any failure. For tests.
    pub fn assert_passed(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = format!(
            "campaign `{}`: {} of {} seeds failed\n",
            self.name,
            self.failures.len(),
            self.passed + self.failures.len() as u64
        );
        for (seed, why) in self.failures.iter().take(10) {
            text += &format!(
                "  seed {seed}: {why}\n    replay: {}\n",
                self.replay_command(*seed)
            );
        }
        panic!("{text}");
    }
}

impl Campaign {
    /// A campaign over seeds `0..seeds` on every core, for the test `name` of the integration
    /// test module `module` (pass `module_path!()`: `part2::ch10_chain` is the module
    /// `ch10_chain` of the test binary `code/tests/part2/main.rs`): a failure names the command
    /// that reruns that test.
    pub fn for_test(module: &str, name: &str, seeds: u64) -> Campaign {
        let (binary, filter) = match module.split_once("::") {
            Some((binary, path)) => (binary, format!("{path}::{name}")),
            None => (module, name.to_string()),
        };
        Campaign {
            name: name.to_string(),
            first_seed: 0,
            seeds,
            threads: 0,
            replay: format!("cargo test -p uds --release --test {binary} {filter} (seed {{seed}})"),
        }
    }

    /// Runs `check(seed)` for every seed. `check` returns `Err(explanation)` on failure; a panic
    /// inside it is caught and reported as a failure of that seed too.
    pub fn run<F>(&self, check: F) -> CampaignReport
    where
        F: Fn(u64) -> Result<(), String> + Sync,
    {
        let started = Instant::now();
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let bar = Progress::new(&self.name, self.seeds);
        let next = AtomicU64::new(0);
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.seeds {
                            break;
                        }
                        let seed = self.first_seed + i;
                        let run = std::panic::AssertUnwindSafe(|| check(seed));
                        let outcome = std::panic::catch_unwind(run)
                            .unwrap_or_else(|panic| Err(panic_message(&panic)));
                        if let Err(why) = outcome {
                            bar.println(format!(
                                "seed {seed} failed: {why}\n  replay: {}",
                                self.replay.replace("{seed}", &seed.to_string())
                            ));
                            failures
                                .lock()
                                .expect("no worker panics holding it")
                                .push((seed, why));
                        }
                        bar.inc(1);
                    }
                });
            }
        });
        bar.finish();
        let mut failures = failures.into_inner().expect("workers are done");
        failures.sort();
        CampaignReport {
            name: self.name.clone(),
            passed: self.seeds - failures.len() as u64,
            failures,
            elapsed: started.elapsed(),
            replay: self.replay.clone(),
        }
    }
}

/// A progress line on standard error, drawn only when it is a terminal. Hand-rolled with std
/// (rather than `indicatif`, which the Rust playground does not offer) so that the simulator
/// runs in the playground.
struct Progress {
    name: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
    visible: bool,
}

impl Progress {
    fn new(name: &str, total: u64) -> Progress {
        let visible = std::io::stderr().is_terminal();
        Progress {
            name: name.to_string(),
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            visible,
        }
    }

    fn inc(&self, by: u64) {
        let done = self.done.fetch_add(by, Ordering::Relaxed) + by;
        // Redraw about a hundred times per campaign, not once per seed.
        if self.visible && (done == self.total || done.is_multiple_of((self.total / 100).max(1))) {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: {done}/{} seeds ({rate:.0} seeds/s)",
                self.name, self.total
            );
            let _ = err.flush();
        }
    }

    fn println(&self, line: String) {
        let mut err = std::io::stderr().lock();
        let clear = if self.visible { "\r\x1b[2K" } else { "" };
        let _ = writeln!(err, "{clear}{line}");
    }

    fn finish(&self) {
        if self.visible {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

}
mod clock {
//! Per-node clocks that drift and start offset from true time.
//!
//! A real quartz clock runs a little fast or slow (tens of parts per million is typical, and
//! the rate wanders with temperature), and two machines' clocks disagree by whatever offset
//! their last synchronisation left. The simulator keeps true time; each node reads its own
//! clock, `local = offset + true * (1 + drift)`, and its timers run on that clock: a node whose
//! clock runs fast sees its timeouts expire early in true time.

use std::time::Duration;

use super::time::{Time, nanos};

// ANCHOR: clock
/// How one node's clock relates to true (simulated) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// What the clock reads at true time zero, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// How fast the clock runs, in parts per million: +50 gains 50 µs per true second.
    /// Invariant: greater than -1,000,000 (a clock cannot run backwards or stand still).
    pub drift_ppm: i64,
}

impl Clock {
    /// The clock's reading at true time `t`, clamped at zero.
    pub fn local(&self, t: Time) -> Time {
        let t = i128::from(t.0);
        let drift = t * i128::from(self.drift_ppm) / 1_000_000;
        let reading = t + drift + i128::from(self.offset_ns);
        Time(reading.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn real_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return local;
        }
        assert!(
            self.drift_ppm > -1_000_000,
            "clock drift {} ppm",
            self.drift_ppm
        );
        let ns = u128::from(nanos(local)) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}
// ANCHOR_END: clock

}
mod faults {
//! Faults: what can go wrong, when, scripted by hand or drawn at random.
//!
//! A [`FaultSchedule`] is a list of timed [`Fault`]s. It can be written as text, one fault per
//! line, so that a scenario reads like a transcript:
//!
//! ```text
//! # partition the leader away, then heal
//! at 5s    partition 0 | 1,2
//! at 7.5s  heal
//! at 8s    crash 2
//! at 9s    restart 2
//! at 10s   pause 1
//! at 12s   resume 1
//! at 13s   oneway 0 -> 2
//! ```
//!
//! A [`Nemesis`] (the name Jepsen gave its fault injector) draws such a schedule at random from
//! the run's seed, so a campaign over many seeds explores many different fault patterns.

use std::fmt;
use std::time::Duration;

use super::process::NodeId;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt};

use super::rng::Exponential;
use super::time::{Time, parse_duration};

/// One thing that goes wrong (or is repaired).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node stops; its volatile state is lost, its durable state is kept.
    Crash(NodeId),
    /// A crashed node starts again from its durable state.
    Restart(NodeId),
    /// The node freezes (a long GC pause, a stopped VM): it keeps its state but handles nothing.
    Pause(NodeId),
    /// A paused node continues, handling everything that arrived meanwhile.
    Resume(NodeId),
    /// No message crosses between the two sides, in either direction.
    Partition(Vec<NodeId>, Vec<NodeId>),
    /// No message goes from the first side to the second; the other direction still works.
    OneWay(Vec<NodeId>, Vec<NodeId>),
    /// Every partition is removed.
    Heal,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Fault::Crash(n) => write!(f, "crash {}", n.0),
            Fault::Restart(n) => write!(f, "restart {}", n.0),
            Fault::Pause(n) => write!(f, "pause {}", n.0),
            Fault::Resume(n) => write!(f, "resume {}", n.0),
            Fault::Partition(a, b) => write!(f, "partition {} | {}", list(a), list(b)),
            Fault::OneWay(a, b) => write!(f, "oneway {} -> {}", list(a), list(b)),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

/// Timed faults, in the order they happen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSchedule {
    /// Invariant: sorted by time (stable, so faults at one instant keep their written order).
    pub faults: Vec<(Time, Fault)>,
}

/// A line of a fault script that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScheduleError {}

impl FaultSchedule {
    /// Adds a fault at `at`, keeping the schedule sorted.
    pub fn add(&mut self, at: Time, fault: Fault) {
        let pos = self.faults.partition_point(|(t, _)| *t <= at);
        self.faults.insert(pos, (at, fault));
    }

    /// Parses a script (see the module docs). `nodes` is the number of nodes in the run, so
    /// that a node that does not exist is an error here rather than a panic later.
    pub fn parse(script: &str, nodes: usize) -> Result<FaultSchedule, ScheduleError> {
        let mut schedule = FaultSchedule::default();
        for (i, raw) in script.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| ScheduleError {
                line: i + 1,
                message,
            };
            let (at, fault) = parse_line(line, nodes).map_err(err)?;
            schedule.add(at, fault);
        }
        Ok(schedule)
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, fault) in &self.faults {
            writeln!(f, "at {}ms {fault}", at.0 / 1_000_000)?;
        }
        Ok(())
    }
}

fn parse_line(line: &str, nodes: usize) -> Result<(Time, Fault), String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("at") {
        return Err(format!("`{line}` should start with `at <time>`"));
    }
    let when = words.next().ok_or("missing time after `at`")?;
    let at = Time::ZERO + parse_duration(when)?;
    let verb = words.next().ok_or("missing fault after the time")?;
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    let one = |rest: &str| parse_node(rest.trim(), nodes);
    let fault = match verb {
        "crash" => Fault::Crash(one(&rest)?),
        "restart" => Fault::Restart(one(&rest)?),
        "pause" => Fault::Pause(one(&rest)?),
        "resume" => Fault::Resume(one(&rest)?),
        "heal" if rest.is_empty() => Fault::Heal,
        "heal" => return Err(format!("`heal` takes no arguments, got `{rest}`")),
        "partition" => {
            let (a, b) = rest
                .split_once('|')
                .ok_or("partition needs two sides: `a,b | c`")?;
            Fault::Partition(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        "oneway" => {
            let (a, b) = rest
                .split_once("->")
                .ok_or("oneway needs a direction: `a -> b,c`")?;
            Fault::OneWay(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        other => {
            return Err(format!(
                "unknown fault `{other}` (crash, restart, pause, resume, partition, oneway, heal)"
            ));
        }
    };
    Ok((at, fault))
}

fn parse_side(text: &str, nodes: usize) -> Result<Vec<NodeId>, String> {
    let side = text
        .split(',')
        .map(|n| parse_node(n.trim(), nodes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(side)
}

fn parse_node(text: &str, nodes: usize) -> Result<NodeId, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a node number"))?;
    if n >= nodes {
        return Err(format!(
            "node {n} does not exist (the run has nodes 0..{nodes})"
        ));
    }
    Ok(NodeId(n))
}

// ANCHOR: nemesis
/// A random fault injector: draws a fault schedule from a seed.
#[derive(Clone, Debug)]
pub struct Nemesis {
    /// Mean time between the starts of two faults (exponentially distributed).
    pub mean_interval: Duration,
    /// Mean time a fault lasts before it is repaired (exponentially distributed).
    pub mean_duration: Duration,
    /// Which kinds of fault to draw from.
    pub crash: bool,
    pub pause: bool,
    pub partition: bool,
    /// At most this many nodes are crashed or paused at once (e.g. a minority).
    pub max_down: usize,
}

impl Nemesis {
    /// The schedule of faults between `start` and `end` for nodes `0..nodes`. Every fault is
    /// repaired by `end`, so a run can check that the system recovers afterwards.
    pub fn schedule(
        &self,
        rng: &mut impl Rng,
        nodes: usize,
        start: Time,
        end: Time,
    ) -> FaultSchedule {
        let mut schedule = FaultSchedule::default();
        let mut kinds = Vec::new();
        kinds.extend(self.crash.then_some(0));
        kinds.extend(self.pause.then_some(1));
        kinds.extend(self.partition.then_some(2));
        if kinds.is_empty() || nodes == 0 {
            return schedule;
        }
        let interval = Exponential {
            mean: self.mean_interval.as_secs_f64(),
        };
        let duration = Exponential {
            mean: self.mean_duration.as_secs_f64(),
        };
        // When each node becomes healthy again; a node is not faulted twice at once.
        let mut down_until = vec![Time::ZERO; nodes];
        let mut t = start;
        loop {
            t = t + Duration::from_secs_f64(rng.sample(interval));
            if t >= end {
                break;
            }
            let repair = (t + Duration::from_secs_f64(rng.sample(duration))).min(end);
            match *kinds.choose(rng).expect("kinds is not empty") {
                2 => {
                    let cut = rng.random_range(1..nodes.max(2));
                    let mut ids: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                    ids.shuffle(rng);
                    let (a, b) = ids.split_at(cut.min(nodes));
                    if !b.is_empty() {
                        schedule.add(t, Fault::Partition(a.to_vec(), b.to_vec()));
                        schedule.add(repair, Fault::Heal);
                    }
                }
                kind => {
                    let down = down_until.iter().filter(|u| **u > t).count();
                    let node = rng.random_range(0..nodes);
                    if down >= self.max_down || down_until[node] > t {
                        continue;
                    }
                    down_until[node] = repair;
                    let id = NodeId(node);
                    let (fail, fix) = if kind == 0 {
                        (Fault::Crash(id), Fault::Restart(id))
                    } else {
                        (Fault::Pause(id), Fault::Resume(id))
                    };
                    schedule.add(t, fail);
                    schedule.add(repair, fix);
                }
            }
        }
        schedule
    }
}
// ANCHOR_END: nemesis

}
mod metrics {
//! Counters and histograms that processes and the simulator fill during a run.
//!
//! Histograms keep every sample and compute exact percentiles by the nearest-rank method
//! (the smallest sample with at least p% of samples at or below it). Our runs record at most a
//! few million samples, so exactness is cheaper than explaining a sketch's error here; chapter
//! 31 builds a mergeable sketch for when it is not.

use std::collections::BTreeMap;

// ANCHOR: metrics
/// Named counters and histograms. Names are sorted, so reports list them in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: BTreeMap<&'static str, u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    /// Adds `by` to counter `name` (created at zero).
    pub fn count(&mut self, name: &'static str, by: u64) {
        *self.counters.entry(name).or_insert(0) += by;
    }

    /// Records one sample in histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.histograms.entry(name).or_default().record(value);
    }

    /// The value of counter `name` (zero if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The histogram `name`, if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<&Histogram> {
        self.histograms.get(name)
    }

    /// All counters, by name.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counters.iter().map(|(k, v)| (*k, *v))
    }
}
// ANCHOR_END: metrics

/// Every sample of one quantity, for exact percentiles.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    samples: Vec<f64>,
    /// Invariant: if true, `samples` is sorted ascending.
    sorted: bool,
}

impl Histogram {
    /// Adds a sample. NaN is refused, since it has no place in an order.
    pub fn record(&mut self, value: f64) {
        assert!(!value.is_nan(), "NaN recorded in a histogram");
        self.samples.push(value);
        self.sorted = false;
    }

    /// How many samples were recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The arithmetic mean, or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().sum::<f64>() / self.samples.len() as f64)
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100), or `None` if empty.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        assert!((0.0..=100.0).contains(&p), "percentile {p} outside 0..=100");
        if self.samples.is_empty() {
            return None;
        }
        self.sort();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }

    /// The samples in ascending order (for CDF plots).
    pub fn sorted_samples(&mut self) -> &[f64] {
        self.sort();
        &self.samples
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_by(f64::total_cmp);
            self.sorted = true;
        }
    }
}

}
mod network {
//! The simulated network: what can happen to a message between two nodes.
//!
//! Each directed link `from -> to` has a [`LinkConfig`]: a latency distribution, a probability
//! of losing a message, of duplicating it, of holding it back long enough to reorder it, and an
//! optional bandwidth. Partitions block links, in one direction or both, until healed. A message
//! is judged once, when it is sent: if the link is blocked or the message is lost it never
//! arrives; otherwise it arrives once (or twice, if duplicated) after its sampled delay.
//!
//! Simplification: a partition that starts while a message is in flight does not stop it,
//! just as packets already on the wire still arrive when a cable is pulled at one end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::process::NodeId;
use rand::distr::{Distribution, OpenClosed01};
use rand::{Rng, RngExt};

use super::rng::{Exponential, StandardNormal};
use super::time::{Time, nanos};

// ANCHOR: latency
/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// `min` plus an exponential delay with mean `mean`: memoryless queueing delay.
    Exponential { min: Duration, mean: Duration },
    /// Log-normal with median `median` and shape `sigma`: a long tail, as measured in
    /// datacenters, where the p99 is many times the median.
    LogNormal { median: Duration, sigma: f64 },
    /// Pareto with minimum `scale` and tail index `shape`: the heaviest tail; for
    /// `shape <= 1` even the mean is infinite.
    Pareto { scale: Duration, shape: f64 },
}

/// Drawing one delay: a latency model is a distribution in rand's sense.
impl Distribution<Duration> for Latency {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Latency::Constant(d) => return *d,
            Latency::Uniform { min, max } => {
                secs(min) + rng.random::<f64>() * (secs(max) - secs(min))
            }
            Latency::Exponential { min, mean } => {
                secs(min) + rng.sample(Exponential { mean: secs(mean) })
            }
            Latency::LogNormal { median, sigma } => {
                secs(median) * (sigma * rng.sample(StandardNormal)).exp()
            }
            Latency::Pareto { scale, shape } => {
                let u: f64 = rng.sample(OpenClosed01);
                secs(scale) / u.powf(1.0 / shape)
            }
        };
        // Cap at a day so that a pathological tail cannot overflow the clock.
        Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
    }
}

impl Latency {
    /// The largest delay this distribution can produce, if it is bounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match self {
            Latency::Constant(d) => Some(*d),
            Latency::Uniform { max, .. } => Some(*max),
            _ => None,
        }
    }
}
// ANCHOR_END: latency

// ANCHOR: link_config
/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The delay of a message that is not lost.
    pub latency: Latency,
    /// Probability that a message is silently dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_window` extra.
    pub reorder: f64,
    /// The extra delay of a held-back message is uniform in `[0, reorder_window]`.
    pub reorder_window: Duration,
    /// Bytes per second, or `None` for unlimited. A limited link sends one message at a time,
    /// so a large message delays the ones behind it.
    pub bandwidth: Option<u64>,
}
// ANCHOR_END: link_config

impl LinkConfig {
    /// A perfect link with a constant delay: no loss, duplication or reordering.
    pub fn constant(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency: Latency::Constant(latency),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// This link with a different latency distribution.
    pub fn with_latency(mut self, latency: Latency) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> LinkConfig {
        self.loss = loss;
        self
    }

    /// This link with duplication probability `duplicate`.
    pub fn with_duplicate(mut self, duplicate: f64) -> LinkConfig {
        self.duplicate = duplicate;
        self
    }

    /// This link, holding back a fraction `reorder` of messages by up to `window`.
    pub fn with_reorder(mut self, reorder: f64, window: Duration) -> LinkConfig {
        self.reorder = reorder;
        self.reorder_window = window;
        self
    }

    /// This link with a bandwidth of `bytes_per_sec`.
    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> LinkConfig {
        self.bandwidth = Some(bytes_per_sec);
        self
    }

    /// Checks that every probability is a probability and the bandwidth is not zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".to_string());
        }
        if let Latency::LogNormal { sigma: s, .. } | Latency::Pareto { shape: s, .. } = self.latency
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("latency shape {s} must be positive"));
        }
        Ok(())
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition blocked the link.
    Partition,
    /// The receiver was crashed when it arrived.
    Crashed,
}

/// The fate of one sent message: when its copies arrive, or why none does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Delivered at the first instant, and again at the second if duplicated.
    Arrives(Time, Option<Time>),
    /// Never delivered.
    Dropped(DropReason),
}

/// All links of a run: a default configuration, per-link overrides, and the partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Directed links that a partition currently blocks.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// For bandwidth-limited links: when the link finishes sending what it already has.
    busy_until: BTreeMap<(NodeId, NodeId), Time>,
}

impl Network {
    /// A network in which every link behaves as `default`.
    pub fn new(default: LinkConfig) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            blocked: BTreeSet::new(),
            busy_until: BTreeMap::new(),
        }
    }

    /// Gives the directed link `from -> to` its own configuration.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config);
    }

    /// The configuration of link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        if self.overrides.is_empty() {
            return &self.default;
        }
        self.overrides.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Blocks every link from a node of `from` to a node of `to` (one direction only).
    pub fn block(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks both directions between the two sides.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// True if a partition blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Decides the fate of a message of `size` bytes sent at `now` on `from -> to`.
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        size: usize,
        now: Time,
        rng: &mut impl Rng,
    ) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        // Cloning is cheap: a link configuration holds no heap data.
        let link = self.link(from, to).clone();
        if rng.random_bool(link.loss) {
            return Fate::Dropped(DropReason::Loss);
        }
        // A bandwidth-limited link serialises messages: this one starts when the link is free.
        let mut departs = now;
        if let Some(bytes_per_sec) = link.bandwidth {
            let busy = self.busy_until.entry((from, to)).or_insert(Time::ZERO);
            let start = departs.max(*busy);
            let transmit_ns = (size as u128 * 1_000_000_000).div_ceil(bytes_per_sec as u128);
            departs = Time(start.0.saturating_add(transmit_ns as u64));
            *busy = departs;
        }
        let first = departs + delay(&link, rng);
        let second = rng
            .random_bool(link.duplicate)
            .then(|| departs + delay(&link, rng));
        Fate::Arrives(first, second)
    }
}

/// One message's delay on `link`: its latency, plus a hold-back if it is chosen for reordering.
fn delay(link: &LinkConfig, rng: &mut impl Rng) -> Duration {
    let mut d = link.latency.sample(rng);
    if rng.random_bool(link.reorder) {
        d += Duration::from_nanos(rng.random_range(0..=nanos(link.reorder_window)));
    }
    d
}

}
mod process {
//! The contract between a protocol and whatever runs it.
//!
//! A protocol is written as a *sans-I/O* state machine: it never reads a clock, opens a socket or
//! touches a global random generator. The runtime calls it with one input at a time (the start
//! of the run, a message, a timer) and a [`Ctx`] that carries the node's clock reading and random
//! stream in, and collects the node's effects out: messages to send and timers to set. The same
//! state machine can therefore run on the simulator (virtual time, injected faults) and on the
//! tokio driver (real sockets, real time) without a line changing. This is the shape of
//! etcd-io/raft's `Ready` and of stateright's `Out`.

use std::fmt::{self, Debug};
use std::time::Duration;

use super::metrics::Metrics;
use super::rng::SimRng;
use super::time::Time;

// ANCHOR: node_id
/// The name of a node in a run: its index, from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeId(pub usize);
// ANCHOR_END: node_id

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer of one node. Each node numbers its own timers (e.g. `0` = election, `1` = heartbeat);
/// setting a timer again replaces the pending one, like resetting an alarm clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TimerId(pub u32);

// ANCHOR: process
/// A protocol participant as a deterministic state machine.
pub trait Process {
    /// What nodes of this protocol send each other.
    type Msg: Clone + Debug;
    /// What survives a crash: the node's disk. `()` for a process with no durable state.
    type Durable: Clone + Debug;

    /// Called once when the node starts, and again after each restart.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message from `from` is delivered to this node.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer this node set fires (and was not reset or cancelled since).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId);

    /// The state to keep when the node crashes; it is handed to the restarted node.
    fn durable(&self) -> Self::Durable;

    /// The size of a message on the wire, in bytes (only bandwidth-limited links use it).
    fn message_size(_msg: &Self::Msg) -> usize {
        0
    }
}
// ANCHOR_END: process

// ANCHOR: effect
/// What a process asks its runtime to do: effects are data, not calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<M> {
    /// Send `msg` to node `to`. The network may delay, lose, duplicate or reorder it.
    Send { to: NodeId, msg: M },
    /// Fire `timer` after `after` of this node's local time, replacing a pending one.
    SetTimer { timer: TimerId, after: Duration },
    /// Forget `timer` if it is pending.
    CancelTimer { timer: TimerId },
}
// ANCHOR_END: effect

// ANCHOR: ctx
// ANCHOR: ctx_struct
/// What a process sees of the world while it handles one input.
pub struct Ctx<'a, M> {
    id: NodeId,
    now: Time,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<M>>,
    metrics: &'a mut Metrics,
}
// ANCHOR_END: ctx_struct

impl<'a, M> Ctx<'a, M> {
    /// Assembles a context; runtimes (the simulator, the tokio driver) call this.
    pub fn new(
        id: NodeId,
        now: Time,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<M>>,
        metrics: &'a mut Metrics,
    ) -> Self {
        Ctx {
            id,
            now,
            rng,
            effects,
            metrics,
        }
    }

    /// This node's name.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's *local* clock: it may run fast or slow and be offset from true time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// This node's random stream, derived from the run's seed. It implements `rand::Rng`:
    /// draw with `rand::RngExt` (`random_range`, `random_bool`, `sample`) and
    /// `rand::seq::IndexedRandom` (`choose`).
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sets (or resets) `timer` to fire after `after` of local time.
    pub fn set_timer(&mut self, timer: TimerId, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Cancels `timer` if it is pending.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Adds one to the counter `name`.
    pub fn count(&mut self, name: &'static str) {
        self.metrics.count(name, 1);
    }

    /// Adds `by` to the counter `name`.
    pub fn add(&mut self, name: &'static str, by: u64) {
        self.metrics.count(name, by);
    }

    /// Records `value` in the histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.metrics.observe(name, value);
    }
}
// ANCHOR_END: ctx
}
mod rng {
//! Seeded randomness for simulations, through the `rand` crate's traits.
//!
//! Every random choice in a run (a link's latency, a lost packet, a node's election timeout)
//! comes from a generator derived from the run's single seed. That is what makes a run
//! replayable: the same seed gives the same choices in the same order.
//!
//! Protocol code draws with the API a Rust programmer already knows: `ctx.rng()` is a
//! [`SimRng`], which implements `rand::Rng` and `rand::SeedableRng`, so a handler writes
//! `ctx.rng().random_range(150..=300)`, `random_bool(p)`, `items.choose(ctx.rng())` or
//! `ctx.rng().sample(distribution)` with `rand::RngExt` and `rand::seq::IndexedRandom` in scope.
//!
//! Reproducibility is a promise about two things, the generator and the algorithms that turn
//! its bits into values, and we lean on the `rand` project's written policy for both (The Rust
//! Rand Book, "Reproducibility"). The generator is `rand::rngs::Xoshiro256PlusPlus` (Blackman
//! and Vigna, ACM TOMS 2021; seeded through SplitMix64, Steele, Lea and Flood, OOPSLA 2014), one of
//! rand's *named portable* generators, not `StdRng` or `SmallRng`, which rand documents as free
//! to change algorithm in any release. For portable items rand promises the same values on every
//! platform and across patch releases; a minor release (0.10 to 0.11) may change values and
//! must say so in its changelog. So `code/Cargo.toml` asks for rand 0.10 (patch releases only),
//! and `value_stability` below pins a few draws of every kind we use: an upgrade that changes
//! them fails that test, and then every checked-in output must be regenerated on purpose.
//!
//! Indexes are portable too: rand samples a `usize` range, and chooses and shuffles, through
//! 32-bit draws, so a 32-bit and a 64-bit machine make the same choices. One caveat remains:
//! our floating-point transforms ([`Exponential`], [`StandardNormal`], log-normal and Pareto
//! latencies) call std's `ln`, `cos`, `exp` and `powf`, whose last bit may differ between
//! platforms' maths libraries. The checked-in outputs come from x86-64 Linux.
//!
//! The exponential, normal and Zipf distributions live in `rand_distr`, which the Rust
//! playground does not offer, so the three we need are small types here implementing
//! `rand::distr::Distribution`.

use std::f64::consts::TAU;

use rand::distr::{Distribution, OpenClosed01};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

// ANCHOR: rng
/// The simulator's generator: rand's portable xoshiro256++, seeded through SplitMix64.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream of sub-component `stream` (a node, the network, a fault schedule) of the run
/// `seed`. Different streams of one seed are unrelated, so a random choice added to one node's
/// code does not shift the draws of any other node.
pub fn rng_stream(seed: u64, stream: u64) -> SimRng {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    SimRng::seed_from_u64(splitmix64(&mut state))
}

/// One step of SplitMix64: it mixes `seed ^ stream` so that nearby inputs seed unrelated
/// generators.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: rng

// ANCHOR: distributions
/// The exponential distribution with mean `mean` (memoryless waiting times: think times,
/// arrivals of a Poisson process, queueing delay), sampled by inverting its CDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    pub mean: f64,
}

impl Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // A uniform draw in (0, 1], so that the logarithm is finite.
        let u: f64 = rng.sample(OpenClosed01);
        -self.mean * u.ln()
    }
}

/// The standard normal distribution (mean 0, standard deviation 1), by the Box-Muller
/// transform. Named as in `rand_distr`, so that code moving there changes only an import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardNormal;

impl Distribution<f64> for StandardNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = rng.sample(OpenClosed01);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
// ANCHOR_END: distributions

// ANCHOR: zipf
/// The Zipf distribution over ranks `0..n` (rank 0 the most popular): rank `k` is drawn with
/// probability proportional to `1 / (k + 1)^s`. It is the usual model of popularity skew in
/// caching and partitioning experiments: a few keys get most requests. With `s = 0` every rank is
/// equally likely; around `s = 1` (web objects, Breslau et al., INFOCOM 1999) the head dominates.
/// Sampled by inverting the cumulative weights with a binary search, so building it costs `O(n)`
/// memory once and each draw `O(log n)`. Named as in `rand_distr`, whose `Zipf` yields a float
/// rank starting at 1; this one yields a `usize` index starting at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cumulative[k]` is the total weight of ranks `0..=k`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with exponent `s`. `None` if `n` is 0 or `s` is negative or not finite.
    pub fn new(n: usize, s: f64) -> Option<Zipf> {
        if n == 0 || !s.is_finite() || s < 0.0 {
            return None;
        }
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Some(Zipf { cumulative })
    }

    /// How many ranks there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a `Zipf` has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of rank `k` (0 if `k` is out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        match k {
            0 => self.cumulative[0] / total,
            k if k < self.cumulative.len() => (self.cumulative[k] - self.cumulative[k - 1]) / total,
            _ => 0.0,
        }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u: f64 = rng.random::<f64>() * total;
        // The first rank whose cumulative weight exceeds u.
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}
// ANCHOR_END: zipf

}
mod time {
//! Virtual time.
//!
//! Simulated time is an integer count of nanoseconds since the start of the run. Integers,
//! not floats, so that adding the same delays in the same order always lands on the same
//! instant, and so that two events scheduled for the same instant really compare equal (the
//! event queue then breaks the tie by insertion order, see `world.rs`).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant of virtual time: nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// Later than any event a run can schedule.
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `secs` seconds after the start (fractions allowed).
    pub fn from_secs_f64(secs: f64) -> Time {
        Time((secs * 1e9).round() as u64)
    }

    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    /// Seconds since the start, as a float (for reports and figures).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds since the start, as a float (for reports and figures).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(d)))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

/// A duration as whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Parses a duration written as a number and a unit: `250ms`, `1.5s`, `20us`, `7ns`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (use ns, us, ms or s)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ns, us, ms or s)"
            ));
        }
    };
    let ns = value * scale;
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

}
mod trace {
//! What happened in a run: a fingerprint always, a full record on request.
//!
//! The fingerprint (`trace hash`) is a 64-bit FNV-1a hash of every event the simulator
//! processed, message contents included (through their `Debug` text). Two runs with the same seed
//! must have the same fingerprint; a test checks this for every experiment, so any hidden source
//! of non-determinism (a `HashMap` iteration, a wall-clock read) shows up as a failing test.
//!
//! The full record ([`TraceEvent`]s, serialisable with serde when the `serde` feature is on) feeds figures such as space-time
//! diagrams, and can be written as JSON for replay elsewhere.

use super::time::Time;

/// How much of a run the simulator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for benchmarks.
    Off,
    /// The fingerprint only.
    Hash,
    /// The fingerprint and every event.
    Full,
}

/// One recorded event. Node numbers are plain integers so the JSON stays simple.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of recorded event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum TraceKind {
    /// A node started (or restarted).
    Start { node: usize },
    /// A node handed a message to the network.
    Send { from: usize, to: usize, msg: String },
    /// A message reached its destination and was handled.
    Deliver { from: usize, to: usize, msg: String },
    /// A message was lost, blocked by a partition, or reached a crashed node.
    Drop {
        from: usize,
        to: usize,
        reason: String,
        msg: String,
    },
    /// A timer fired.
    Timer { node: usize, timer: u32 },
    /// A fault was injected or repaired.
    Fault { fault: String },
}

/// A 64-bit FNV-1a hash, fed field by field. Its output is fixed by its definition, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xCBF2_9CE4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    /// Mixes a number into the hash.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// The recorder the simulator owns.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    pub(crate) level: TraceLevel,
    pub(crate) hash: Fnv64,
    pub(crate) events: Vec<TraceEvent>,
}

impl Recorder {
    pub(crate) fn new(level: TraceLevel) -> Recorder {
        Recorder {
            level,
            hash: Fnv64::default(),
            events: Vec::new(),
        }
    }

    /// Records `kind` at `at`: hashes it, and keeps it if the level is `Full`.
    pub(crate) fn record(&mut self, at: Time, kind: TraceKind) {
        self.hash.u64(at.0);
        match &kind {
            TraceKind::Start { node } => {
                self.hash.u64(1);
                self.hash.u64(*node as u64);
            }
            TraceKind::Send { from, to, msg } | TraceKind::Deliver { from, to, msg } => {
                self.hash.u64(if matches!(kind, TraceKind::Send { .. }) {
                    2
                } else {
                    3
                });
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Drop {
                from,
                to,
                reason,
                msg,
            } => {
                self.hash.u64(4);
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(reason.as_bytes());
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Timer { node, timer } => {
                self.hash.u64(5);
                self.hash.u64(*node as u64);
                self.hash.u64(u64::from(*timer));
            }
            TraceKind::Fault { fault } => {
                self.hash.u64(6);
                self.hash.bytes(fault.as_bytes());
            }
        }
        if self.level == TraceLevel::Full {
            self.events.push(TraceEvent { at_ns: at.0, kind });
        }
    }
}

}
mod world {
//! The simulator's event loop.
//!
//! A [`Sim`] owns the processes, the network, the clocks and a priority queue of pending events
//! (deliveries, timers, faults). [`Sim::step`] pops the earliest event, advances virtual time to
//! it, hands it to the process it concerns, turns the effects the process returns into new
//! events, and then checks every invariant. Nothing happens between events, so a run that
//! covers an hour of virtual time can take milliseconds of real time.
//!
//! Determinism: events at the same instant are ordered by a sequence number assigned when they
//! were scheduled, every random choice comes from a stream derived from the one seed, and no
//! iteration depends on hash-map order. The same seed therefore gives the same run, which the
//! trace hash (see `trace.rs`) lets tests check.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::clock::Clock;
use super::faults::{Fault, FaultSchedule};
use super::metrics::Metrics;
use super::network::{DropReason, Fate, LinkConfig, Network};
use super::process::{Ctx, Effect, NodeId, Process, TimerId};
use super::rng::{SimRng, rng_stream};
use super::time::Time;
use super::trace::{Recorder, TraceEvent, TraceKind, TraceLevel};

/// An invariant: a named check of the whole system, run after every event.
type Invariant<P> = (String, Box<dyn Fn(&Sim<P>) -> Result<(), String>>);

/// Builds a fresh process for a restarted node from what it had on disk.
type Restarter<P> = Box<dyn FnMut(NodeId, <P as Process>::Durable) -> P>;

/// What the event loop does next.
enum EventKind<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: M,
    },
    Timer {
        node: NodeId,
        timer: TimerId,
    },
    /// Boxed: faults are rare and large (a partition holds two lists of nodes), and every
    /// entry of the queue is as large as its largest kind. Small entries make the heap's sift
    /// operations, the hot path of every run, move fewer bytes.
    Fault(Box<Fault>),
}

/// A scheduled event. Ordered by time, then by the order in which it was scheduled.
struct Entry<M> {
    at: Time,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed, so that std's max-heap pops the earliest event first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Handling events.
    Up,
    /// Frozen: events wait until it resumes.
    Paused,
    /// Stopped: volatile state lost, deliveries dropped, until restarted.
    Crashed,
}

struct Node<P: Process> {
    /// Invariant: `Some` unless the node is crashed.
    process: Option<P>,
    state: NodeState,
    /// What the node had on disk when it last crashed.
    disk: Option<P::Durable>,
    rng: SimRng,
    clock: Clock,
    /// For each timer id, the sequence number of its pending event (0 = none). A timer event
    /// whose sequence number no longer matches was reset or cancelled, and is ignored.
    timers: Vec<u64>,
    /// Events that arrived while the node was paused, in arrival order.
    deferred: Vec<Entry<P::Msg>>,
    /// Whether `on_start` has run (at its start event, or at a restart that came first).
    /// Invariant: `on_start` runs once per incarnation, never on a crashed or paused node.
    started: bool,
}

/// Counts of what the network did to messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    pub blocked: u64,
    pub to_crashed: u64,
}

/// A broken invariant, with what is needed to replay the run that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    pub name: String,
    pub message: String,
    pub at: Time,
    pub event: u64,
    pub seed: u64,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` broken at {} (event {}) with seed {}: {}",
            self.name, self.at, self.event, self.seed, self.message
        )
    }
}

impl std::error::Error for InvariantViolation {}

// ANCHOR: sim
/// A deterministic discrete-event simulation of processes of type `P`.
pub struct Sim<P: Process> {
    seed: u64,
    now: Time,
    /// The next sequence number; also breaks ties between events at one instant.
    seq: u64,
    queue: BinaryHeap<Entry<P::Msg>>,
    nodes: Vec<Node<P>>,
    network: Network,
    net_rng: SimRng,
    stats: NetStats,
    metrics: Metrics,
    /// Reused for every handler call, so the hot path does not allocate.
    effects: Vec<Effect<P::Msg>>,
    invariants: Vec<Invariant<P>>,
    restarter: Option<Restarter<P>>,
    recorder: Recorder,
    events: u64,
}
// ANCHOR_END: sim

impl<P: Process> Sim<P> {
    /// A run of `processes` (node `i` is `processes[i]`) on a network whose links all behave as
    /// `link`. Every node starts at time zero. Everything random derives from `seed`.
    pub fn new(seed: u64, link: LinkConfig, processes: Vec<P>) -> Sim<P> {
        if let Err(e) = link.validate() {
            panic!("invalid link configuration: {e}");
        }
        let mut sim = Sim {
            seed,
            now: Time::ZERO,
            seq: 1,
            queue: BinaryHeap::new(),
            nodes: Vec::with_capacity(processes.len()),
            network: Network::new(link),
            net_rng: rng_stream(seed, 0),
            stats: NetStats::default(),
            metrics: Metrics::default(),
            effects: Vec::new(),
            invariants: Vec::new(),
            restarter: None,
            recorder: Recorder::new(TraceLevel::Hash),
            events: 0,
        };
        for (i, process) in processes.into_iter().enumerate() {
            sim.nodes.push(Node {
                process: Some(process),
                state: NodeState::Up,
                disk: None,
                rng: rng_stream(seed, i as u64 + 1),
                clock: Clock::default(),
                timers: Vec::new(),
                deferred: Vec::new(),
                started: false,
            });
            sim.push(Time::ZERO, EventKind::Start(NodeId(i)));
        }
        sim
    }

    /// Sets how much of the run is recorded (default: the hash only).
    pub fn set_trace(&mut self, level: TraceLevel) {
        self.recorder.level = level;
    }

    /// Gives node `id` a drifting or offset clock.
    pub fn set_clock(&mut self, id: NodeId, clock: Clock) {
        self.nodes[id.0].clock = clock;
    }

    /// Gives the directed link `from -> to` its own behaviour.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        if let Err(e) = link.validate() {
            panic!("invalid configuration for link {from} -> {to}: {e}");
        }
        self.network.set_link(from, to, link);
    }

    // ANCHOR: callbacks
    /// How a crashed node comes back: `f(id, disk)` builds its fresh process.
    pub fn on_restart(&mut self, f: impl FnMut(NodeId, P::Durable) -> P + 'static) {
        self.restarter = Some(Box::new(f));
    }

    /// Adds an invariant, checked after every event from now on.
    pub fn add_invariant(
        &mut self,
        name: &str,
        check: impl Fn(&Sim<P>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.to_string(), Box::new(check)));
    }
    // ANCHOR_END: callbacks

    /// Schedules `fault` to happen at `at`.
    pub fn schedule_fault(&mut self, at: Time, fault: Fault) {
        self.check_fault(&fault);
        self.push(at.max(self.now), EventKind::Fault(Box::new(fault)));
    }

    /// Schedules every fault of `schedule`.
    pub fn schedule(&mut self, schedule: &FaultSchedule) {
        for (at, fault) in &schedule.faults {
            self.schedule_fault(*at, fault.clone());
        }
    }

    /// Delivers `msg` to `to` at `at` as if `from` had sent it, bypassing the network.
    pub fn inject(&mut self, at: Time, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(to.0 < self.nodes.len(), "inject to unknown node {to}");
        self.push(at.max(self.now), EventKind::Deliver { from, to, msg });
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.check_fault(&fault);
        self.apply_fault(fault);
    }

    /// Runs every event up to and including `until`; virtual time then stands at `until`.
    pub fn run_until(&mut self, until: Time) -> Result<(), InvariantViolation> {
        while self.queue.peek().is_some_and(|e| e.at <= until) {
            self.step()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs for `d` of virtual time from now.
    pub fn run_for(&mut self, d: Duration) -> Result<(), InvariantViolation> {
        self.run_until(self.now + d)
    }

    // ANCHOR: step
    /// Processes the earliest pending event. Returns `Ok(false)` if there was none.
    pub fn step(&mut self) -> Result<bool, InvariantViolation> {
        let Some(entry) = self.queue.pop() else {
            return Ok(false);
        };
        debug_assert!(entry.at >= self.now, "time went backwards");
        self.now = entry.at;
        self.events += 1;
        match entry.kind {
            EventKind::Start(id) => match self.nodes[id.0].state {
                // A fault applied before the start event (`apply` at time zero): a restart
                // has already started the node, a crashed node starts when it restarts, and a
                // paused one starts when it resumes.
                NodeState::Up if !self.nodes[id.0].started => self.start(id),
                NodeState::Paused => {
                    let kind = EventKind::Start(id);
                    self.defer(id, entry.at, entry.seq, kind);
                }
                NodeState::Up | NodeState::Crashed => {
                    self.events -= 1;
                    return Ok(true);
                }
            },
            EventKind::Fault(fault) => self.apply_fault(*fault),
            EventKind::Deliver { from, to, msg } => match self.nodes[to.0].state {
                NodeState::Up => self.deliver(from, to, msg),
                NodeState::Paused => {
                    let kind = EventKind::Deliver { from, to, msg };
                    self.defer(to, entry.at, entry.seq, kind);
                }
                NodeState::Crashed => self.drop_message(from, to, DropReason::Crashed, &msg),
            },
            EventKind::Timer { node, timer } => {
                let index = timer.0 as usize;
                if self.nodes[node.0].timers.get(index) != Some(&entry.seq) {
                    // Reset, cancelled or lost in a crash since it was set: not an event.
                    self.events -= 1;
                    return Ok(true);
                }
                match self.nodes[node.0].state {
                    NodeState::Up => {
                        self.nodes[node.0].timers[index] = 0;
                        self.fire(node, timer);
                    }
                    NodeState::Paused => {
                        let kind = EventKind::Timer { node, timer };
                        self.defer(node, entry.at, entry.seq, kind);
                    }
                    NodeState::Crashed => unreachable!("a crash clears the node's timers"),
                }
            }
        }
        self.check_invariants()?;
        Ok(true)
    }
    // ANCHOR_END: step

    fn push(&mut self, at: Time, kind: EventKind<P::Msg>) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Entry { at, seq, kind });
        seq
    }

    fn start(&mut self, id: NodeId) {
        self.nodes[id.0].started = true;
        if self.recorder.level > TraceLevel::Off {
            self.recorder
                .record(self.now, TraceKind::Start { node: id.0 });
        }
        self.dispatch(id, |p, ctx| p.on_start(ctx));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.stats.delivered += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Deliver {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        self.dispatch(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    fn fire(&mut self, node: NodeId, timer: TimerId) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Timer {
                    node: node.0,
                    timer: timer.0,
                },
            );
        }
        self.dispatch(node, |p, ctx| p.on_timer(ctx, timer));
    }

    /// Runs one handler of node `id` and turns its effects into events.
    fn dispatch(&mut self, id: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>)) {
        let mut effects = std::mem::take(&mut self.effects);
        let node = &mut self.nodes[id.0];
        // A default clock reads true time: skip its 128-bit arithmetic on the hot path.
        let local_now = if node.clock == Clock::default() {
            self.now
        } else {
            node.clock.local(self.now)
        };
        let process = node.process.as_mut().expect("dispatch to a crashed node");
        let mut ctx = Ctx::new(
            id,
            local_now,
            &mut node.rng,
            &mut effects,
            &mut self.metrics,
        );
        handler(process, &mut ctx);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(id, to, msg),
                Effect::SetTimer { timer, after } => self.set_timer(id, timer, after),
                Effect::CancelTimer { timer } => {
                    if let Some(slot) = self.nodes[id.0].timers.get_mut(timer.0 as usize) {
                        *slot = 0;
                    }
                }
            }
        }
        self.effects = effects;
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(
            to.0 < self.nodes.len(),
            "{from} sent to unknown node {to}: {msg:?}"
        );
        self.stats.sent += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Send {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        let size = P::message_size(&msg);
        match self
            .network
            .transmit(from, to, size, self.now, &mut self.net_rng)
        {
            Fate::Arrives(first, second) => {
                if let Some(again) = second {
                    self.stats.duplicated += 1;
                    self.push(
                        again,
                        EventKind::Deliver {
                            from,
                            to,
                            msg: msg.clone(),
                        },
                    );
                }
                self.push(first, EventKind::Deliver { from, to, msg });
            }
            Fate::Dropped(reason) => self.drop_message(from, to, reason, &msg),
        }
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, reason: DropReason, msg: &P::Msg) {
        match reason {
            DropReason::Loss => self.stats.lost += 1,
            DropReason::Partition => self.stats.blocked += 1,
            DropReason::Crashed => self.stats.to_crashed += 1,
        }
        if self.recorder.level > TraceLevel::Off {
            let kind = TraceKind::Drop {
                from: from.0,
                to: to.0,
                reason: format!("{reason:?}"),
                msg: format!("{msg:?}"),
            };
            self.recorder.record(self.now, kind);
        }
    }

    fn set_timer(&mut self, id: NodeId, timer: TimerId, after: Duration) {
        let real = self.nodes[id.0].clock.real_duration(after);
        let seq = self.push(self.now + real, EventKind::Timer { node: id, timer });
        let timers = &mut self.nodes[id.0].timers;
        let index = timer.0 as usize;
        if timers.len() <= index {
            timers.resize(index + 1, 0);
        }
        timers[index] = seq;
    }

    /// Holds an event for a paused node until it resumes.
    fn defer(&mut self, id: NodeId, at: Time, seq: u64, kind: EventKind<P::Msg>) {
        self.nodes[id.0].deferred.push(Entry { at, seq, kind });
    }

    fn check_fault(&self, fault: &Fault) {
        let n = self.nodes.len();
        let ok = |id: &NodeId| id.0 < n;
        let valid = match fault {
            Fault::Crash(id) | Fault::Restart(id) | Fault::Pause(id) | Fault::Resume(id) => ok(id),
            Fault::Partition(a, b) | Fault::OneWay(a, b) => a.iter().chain(b).all(ok),
            Fault::Heal => true,
        };
        assert!(valid, "fault `{fault}` names a node outside 0..{n}");
        if matches!(fault, Fault::Restart(_)) {
            assert!(
                self.restarter.is_some(),
                "restart scheduled but no `on_restart` given"
            );
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Fault {
                    fault: fault.to_string(),
                },
            );
        }
        self.metrics.count("faults", 1);
        match fault {
            Fault::Crash(id) => {
                let node = &mut self.nodes[id.0];
                if let Some(process) = node.process.take() {
                    node.disk = Some(process.durable());
                    node.state = NodeState::Crashed;
                    node.timers.clear();
                    node.deferred.clear();
                }
            }
            Fault::Restart(id) => {
                if self.nodes[id.0].state == NodeState::Crashed {
                    let disk = self.nodes[id.0]
                        .disk
                        .take()
                        .expect("a crashed node has a disk");
                    let restart = self.restarter.as_mut().expect("checked when scheduled");
                    let process = restart(id, disk);
                    let node = &mut self.nodes[id.0];
                    node.process = Some(process);
                    node.state = NodeState::Up;
                    self.start(id);
                }
            }
            Fault::Pause(id) => {
                if self.nodes[id.0].state == NodeState::Up {
                    self.nodes[id.0].state = NodeState::Paused;
                }
            }
            Fault::Resume(id) => {
                if self.nodes[id.0].state == NodeState::Paused {
                    self.nodes[id.0].state = NodeState::Up;
                    // Everything that waited is handled now, in the order it arrived.
                    let deferred = std::mem::take(&mut self.nodes[id.0].deferred);
                    for entry in deferred {
                        let timer = match entry.kind {
                            EventKind::Timer { timer, .. } => Some(timer),
                            _ => None,
                        };
                        let seq = self.push(self.now, entry.kind);
                        if let Some(t) = timer {
                            let slot = &mut self.nodes[id.0].timers[t.0 as usize];
                            if *slot == entry.seq {
                                *slot = seq;
                            }
                        }
                    }
                }
            }
            Fault::Partition(a, b) => self.network.partition(&a, &b),
            Fault::OneWay(from, to) => self.network.block(&from, &to),
            Fault::Heal => self.network.heal(),
        }
    }

    fn check_invariants(&mut self) -> Result<(), InvariantViolation> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let invariants = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for (name, check) in &invariants {
            if let Err(message) = check(self) {
                result = Err(InvariantViolation {
                    name: name.clone(),
                    message,
                    at: self.now,
                    event: self.events,
                    seed: self.seed,
                });
                break;
            }
        }
        self.invariants = invariants;
        result
    }

    /// The seed this run was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time (true time, not any node's clock).
    pub fn now(&self) -> Time {
        self.now
    }

    /// How many nodes the run has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `id`'s process, unless it is crashed.
    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.nodes[id.0].process.as_ref()
    }

    /// Node `id`'s process for inspection or reconfiguration by a test, unless it is crashed.
    pub fn process_mut(&mut self, id: NodeId) -> Option<&mut P> {
        self.nodes[id.0].process.as_mut()
    }

    /// Whether node `id` is up, paused or crashed.
    pub fn state(&self, id: NodeId) -> NodeState {
        self.nodes[id.0].state
    }

    /// What node `id`'s clock reads now.
    pub fn local_time(&self, id: NodeId) -> Time {
        self.nodes[id.0].clock.local(self.now)
    }

    /// Whether a partition currently blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.network.is_blocked(from, to)
    }

    /// The metrics processes recorded.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for percentile queries (which sort samples in place).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// What the network did to messages so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// How many events were processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The fingerprint of everything that happened so far (zero-effort determinism check).
    pub fn trace_hash(&self) -> u64 {
        self.recorder.hash.0
    }

    /// The recorded events (empty unless the trace level is `Full`).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.recorder.events
    }

    /// A one-paragraph account of the run, for error messages and logs.
    pub fn summary(&self) -> String {
        let s = self.stats;
        let mut out = String::new();
        let _ = write!(
            out,
            "seed {} at {}: {} events; messages sent {}, delivered {}, lost {}, blocked {}, \
             to crashed nodes {}, duplicated {}",
            self.seed,
            self.now,
            self.events,
            s.sent,
            s.delivered,
            s.lost,
            s.blocked,
            s.to_crashed,
            s.duplicated
        );
        out
    }
}
}

pub use campaign::{Campaign, CampaignReport};
pub use clock::Clock;
pub use faults::{Fault, FaultSchedule, Nemesis, ScheduleError};
pub use metrics::{Histogram, Metrics};
pub use network::{DropReason, Fate, Latency, LinkConfig, Network};
pub use process::{Ctx, Effect, NodeId, Process, TimerId};
pub use rng::{Exponential, SimRng, StandardNormal, Zipf, rng_stream};
pub use time::{Time, nanos, parse_duration};
pub use trace::{Fnv64, TraceEvent, TraceKind, TraceLevel};
pub use world::{InvariantViolation, NetStats, NodeState, Sim};
}
