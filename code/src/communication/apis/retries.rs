//! Clients retrying over a lossy network, with and without idempotency keys, on the simulator.
//!
//! Each client performs operations one after another ("create a note"). It sends a request,
//! and if no response arrives within `timeout` it sends the same request again, up to
//! `max_attempts` times. The network drops each message, request or response, with
//! probability `loss`. A dropped *request* is harmless to retry; a dropped *response* is not:
//! the server already created the note, and without a key it creates another on the retry.
//!
//! The server runs the chapter's [`IdempotencyStore`] unchanged. With keys, each operation
//! carries one key for all its attempts, and the store replays the first response. Without
//! keys, every request that arrives is executed.
//!
//! With unlimited attempts and a timeout longer than any round trip, an operation takes a
//! geometric number of attempts with success probability `(1-p)^2`, and each failed attempt
//! reached the server with probability `(1-p)p / (1-(1-p)^2)`, so the expected executions per
//! operation are `1 + p/(1-p)`: [`expected_duplicates_per_op`]. The experiment checks the
//! simulator against that line. Both runs of one seed (keys or not) exchange exactly the same
//! messages, since the server answers the same either way; so each table row compares the two
//! designs on identical losses.

use std::collections::BTreeMap;
use std::time::Duration;

use super::idempotency::{Begin, IdempotencyStore, fingerprint};
use crate::sim::{Ctx, Latency, LinkConfig, NodeId, Process, Sim, Time, TimerId};

/// The server is node 0; clients are nodes 1 and up.
pub const SERVER: NodeId = NodeId(0);
/// A client's retry timer.
const RETRY: TimerId = TimerId(0);

/// The two messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// "Create a note": operation `op` of the sending client, attempt `attempt` (from 1).
    Create {
        op: u64,
        attempt: u32,
        key: Option<String>,
    },
    /// The note created for operation `op`.
    Created { op: u64, note: u64 },
}

/// The experiment's knobs.
#[derive(Clone, Debug)]
pub struct Setup {
    /// Number of clients.
    pub clients: usize,
    /// Operations per client.
    pub ops_per_client: u64,
    /// Whether requests carry idempotency keys.
    pub keys: bool,
    /// Probability that any one message is dropped.
    pub loss: f64,
    /// One-way delay, uniform between these bounds.
    pub latency_min: Duration,
    /// See `latency_min`.
    pub latency_max: Duration,
    /// How long a client waits for a response before it retries.
    pub timeout: Duration,
    /// Attempts per operation before the client gives up on it.
    pub max_attempts: u32,
}

impl Setup {
    /// The book's defaults: 10 clients of 100 operations, 1-10 ms each way, 50 ms timeout.
    pub fn book(keys: bool, loss: f64) -> Setup {
        Setup {
            clients: 10,
            ops_per_client: 100,
            keys,
            loss,
            latency_min: Duration::from_millis(1),
            latency_max: Duration::from_millis(10),
            timeout: Duration::from_millis(50),
            max_attempts: 30,
        }
    }

    /// Refuses settings that make the experiment meaningless.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.loss) {
            return Err(format!("loss {} must be in [0, 1)", self.loss));
        }
        if self.clients == 0 || self.ops_per_client == 0 || self.max_attempts == 0 {
            return Err("clients, operations and attempts must be positive".into());
        }
        if self.latency_min > self.latency_max || self.timeout.is_zero() {
            return Err("need latency_min <= latency_max and a positive timeout".into());
        }
        // Bounds that keep the run's horizon (timeouts x attempts x operations) far from
        // overflowing a Duration or the simulator's clock.
        let minute = Duration::from_secs(60);
        if self.timeout > minute || self.latency_max > minute || self.max_attempts > 1_000 {
            return Err("timeout and one-way delay at most 60 s, at most 1,000 attempts".into());
        }
        Ok(())
    }
}

/// `p/(1-p)`: expected extra executions per operation without keys (module docs).
pub fn expected_duplicates_per_op(loss: f64) -> f64 {
    loss / (1.0 - loss)
}

// ANCHOR: server
/// The server: creates notes, consulting the key store when a request has a key.
#[derive(Clone, Debug, Default)]
pub struct Server {
    /// The chapter's store, unchanged: note ids by key.
    pub keys: IdempotencyStore<u64>,
    /// Notes created so far; the next note's id is this plus one.
    pub notes: u64,
    /// Responses replayed from the store.
    pub replays: u64,
    /// Ground truth for the experiment, never read by the protocol: how many times each
    /// (client, operation) was executed.
    pub executions: BTreeMap<(NodeId, u64), u32>,
}

impl Server {
    fn on_create(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, op: u64, key: Option<String>) {
        let note = match key {
            None => self.execute(from, op),
            Some(key) => {
                let request = format!("create note for op {op}");
                match self.keys.begin(&key, fingerprint(request.as_bytes())) {
                    Begin::Execute => {
                        let note = self.execute(from, op);
                        self.keys.complete(&key, note);
                        note
                    }
                    Begin::Replay(note) => {
                        self.replays += 1;
                        note
                    }
                    // The effect runs within this one step, so a key is never seen in
                    // progress; and each client makes its keys unique.
                    other => panic!("impossible {other:?} for key {key}"),
                }
            }
        };
        ctx.send(from, Msg::Created { op, note });
    }

    /// The side effect: one more note.
    fn execute(&mut self, from: NodeId, op: u64) -> u64 {
        self.notes += 1;
        *self.executions.entry((from, op)).or_default() += 1;
        self.notes
    }
}
// ANCHOR_END: server

// ANCHOR: client
/// A client: operations one at a time, each retried until answered or out of attempts.
#[derive(Clone, Debug)]
pub struct Client {
    /// Whether to send an idempotency key.
    pub keys: bool,
    /// Operations to perform.
    pub ops: u64,
    /// The current operation, from 0; `ops` once done.
    pub op: u64,
    /// Attempts made for the current operation.
    pub attempt: u32,
    /// Retry after this long without a response.
    pub timeout: Duration,
    /// Give up on an operation after this many attempts.
    pub max_attempts: u32,
    /// Operations answered.
    pub answered: u64,
    /// Operations abandoned after `max_attempts`.
    pub gave_up: u64,
    /// Requests sent, retries included.
    pub sent: u64,
}

impl Client {
    fn send_attempt(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.attempt += 1;
        self.sent += 1;
        // One key per operation, the same for all its attempts: a retry is the same request.
        let key = self
            .keys
            .then(|| format!("client-{}-op-{}", ctx.id().0, self.op));
        let (op, attempt) = (self.op, self.attempt);
        ctx.send(SERVER, Msg::Create { op, attempt, key });
        ctx.set_timer(RETRY, self.timeout);
    }

    fn next_op(&mut self, ctx: &mut Ctx<'_, Msg>) {
        self.op += 1;
        self.attempt = 0;
        if self.op < self.ops {
            self.send_attempt(ctx);
        } else {
            ctx.cancel_timer(RETRY);
        }
    }

    fn on_created(&mut self, ctx: &mut Ctx<'_, Msg>, op: u64) {
        // A response to an earlier operation (a late duplicate of an answered one) is ignored.
        if op == self.op && self.op < self.ops {
            self.answered += 1;
            self.next_op(ctx);
        }
    }

    fn on_retry_timer(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if self.op >= self.ops {
            return;
        }
        if self.attempt < self.max_attempts {
            self.send_attempt(ctx);
        } else {
            self.gave_up += 1;
            self.next_op(ctx);
        }
    }
}
// ANCHOR_END: client

/// A node of the experiment.
#[derive(Clone, Debug)]
pub enum Node {
    /// Node 0.
    Server(Server),
    /// Nodes 1 and up.
    Client(Client),
}

impl Process for Node {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Node::Client(c) = self {
            c.send_attempt(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match (self, msg) {
            (Node::Server(s), Msg::Create { op, key, .. }) => s.on_create(ctx, from, op, key),
            (Node::Client(c), Msg::Created { op, .. }) => c.on_created(ctx, op),
            (node, msg) => panic!("{msg:?} cannot reach {node:?}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, timer: TimerId) {
        if let (Node::Client(c), RETRY) = (self, timer) {
            c.on_retry_timer(ctx);
        }
    }

    fn durable(&self) {}
}

/// What one run measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Operations the clients performed (answered or given up).
    pub ops: u64,
    /// Operations answered.
    pub answered: u64,
    /// Operations abandoned.
    pub gave_up: u64,
    /// Requests sent, retries included.
    pub attempts: u64,
    /// Times the side effect ran.
    pub executions: u64,
    /// Executions beyond the first of an operation: duplicate side effects.
    pub duplicates: u64,
    /// Responses the server replayed from its key store.
    pub replays: u64,
    /// The simulator's trace hash, to pin determinism.
    pub trace_hash: u64,
}

impl Outcome {
    /// Adds another run's counts (hashes are combined).
    pub fn add(&mut self, other: &Outcome) {
        self.ops += other.ops;
        self.answered += other.answered;
        self.gave_up += other.gave_up;
        self.attempts += other.attempts;
        self.executions += other.executions;
        self.duplicates += other.duplicates;
        self.replays += other.replays;
        self.trace_hash = self.trace_hash.rotate_left(5) ^ other.trace_hash;
    }
}

// ANCHOR: run
/// Runs one seed until every client is done, and counts duplicate side effects.
pub fn run(setup: &Setup, seed: u64) -> Outcome {
    let link = LinkConfig::constant(setup.latency_min)
        .with_latency(Latency::Uniform {
            min: setup.latency_min,
            max: setup.latency_max,
        })
        .with_loss(setup.loss);
    let mut nodes = vec![Node::Server(Server::default())];
    for _ in 0..setup.clients {
        nodes.push(Node::Client(Client {
            keys: setup.keys,
            ops: setup.ops_per_client,
            op: 0,
            attempt: 0,
            timeout: setup.timeout,
            max_attempts: setup.max_attempts,
            answered: 0,
            gave_up: 0,
            sent: 0,
        }));
    }
    let mut sim = Sim::new(seed, link, nodes);
    // Every operation ends within max_attempts timeouts, plus a round trip for the last one.
    let per_op = setup.timeout * setup.max_attempts + setup.latency_max * 2;
    let horizon = per_op * u32::try_from(setup.ops_per_client).unwrap_or(u32::MAX);
    sim.run_until(Time::ZERO + horizon + Duration::from_secs(1))
        .expect("no invariants are registered");
    let mut out = Outcome {
        trace_hash: sim.trace_hash(),
        ..Outcome::default()
    };
    for i in 0..sim.node_count() {
        match sim.process(NodeId(i)).expect("every node exists") {
            Node::Server(s) => {
                out.executions = s.executions.values().map(|&n| u64::from(n)).sum();
                out.duplicates = s.executions.values().map(|&n| u64::from(n) - 1).sum();
                out.replays = s.replays;
            }
            Node::Client(c) => {
                assert_eq!(c.op, c.ops, "seed {seed}: a client did not finish");
                out.ops += c.ops;
                out.answered += c.answered;
                out.gave_up += c.gave_up;
                out.attempts += c.sent;
            }
        }
    }
    out
}
// ANCHOR_END: run

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_loss_nothing_is_duplicated_either_way() {
        for keys in [false, true] {
            let out = run(&Setup::book(keys, 0.0), 1);
            assert_eq!((out.ops, out.answered, out.duplicates), (1_000, 1_000, 0));
        }
    }

    #[test]
    fn keys_turn_every_duplicate_into_a_replay_on_the_same_losses() {
        let without = run(&Setup::book(false, 0.2), 3);
        let with = run(&Setup::book(true, 0.2), 3);
        assert!(without.duplicates > 0);
        assert_eq!(with.duplicates, 0);
        assert_eq!(
            with.replays, without.duplicates,
            "same messages, same losses"
        );
    }

    #[test]
    fn a_timeout_shorter_than_the_round_trip_duplicates_even_without_loss() {
        let setup = Setup {
            timeout: Duration::from_millis(5),
            ..Setup::book(false, 0.0)
        };
        assert!(run(&setup, 1).duplicates > 0);
    }
}
