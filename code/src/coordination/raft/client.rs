//! A client of the replicated store that records what it saw, for the linearizability checker.
//!
//! The client issues its operations one at a time. It sends each to the server it believes
//! leads; a server that does not lead redirects it (§8). When no answer comes within
//! `retry_ms`, the client cannot tell a lost request from a lost answer or a crashed leader, so
//! it sends the *same* command, with the same sequence number, to the next server; the store's
//! sessions make sure it is applied once however many copies reach the log (`kv.rs`).
//!
//! After `max_attempts` sends without an answer the client gives up on the operation and moves
//! on to its next one, as a real client with a deadline would.
//!
//! The client records every operation as an [`Operation`]: when it was called and when its
//! answer arrived, by the simulator's clock (clients have default clocks, which read true time).
//! An operation it gave up on, or still unanswered when the run ends, has an unknown outcome:
//! `output: None`, `return_ns: u64::MAX`. It may have taken effect, even long after the client
//! gave up (a copy may sit in a log), or never; the checker allows both. Its later commands
//! carry higher sequence numbers, so once one of them is applied, a late copy of the abandoned
//! command is ignored by the store's session.
//!
//! Operations are drawn from the client's `ctx.rng()`: gets, puts and appends on a few keys,
//! with values that name the client and the operation, so that a read shows which writes it saw
//! and in what order.

use std::time::Duration;

use super::history::{KvInput, KvOutput, Operation};
use super::kv::Command;
use super::message::{ClientResponse, Message};
use rand::RngExt;
use rand::seq::IndexedRandom;

use crate::sim::{Ctx, NodeId, TimerId};

/// Fires when the current request has waited `retry_ms` without an answer.
const RETRY: TimerId = TimerId(0);

/// The keys clients use: few, so that operations collide.
const KEYS: [&str; 3] = ["x", "y", "z"];

/// One operation in flight.
#[derive(Clone, Debug)]
struct InFlight {
    seq: u64,
    input: KvInput,
    call_ns: u64,
}

/// A client node.
#[derive(Clone, Debug)]
pub struct Client {
    /// This client's id: its node number, which servers use to answer it.
    id: u64,
    /// The servers are nodes `0..servers`.
    servers: usize,
    /// How many operations to issue in all.
    ops: usize,
    /// How long to wait for an answer before retrying elsewhere.
    retry_ms: u64,
    /// How many sends of one operation before giving up on it. At least 1.
    max_attempts: u32,
    /// Sends of the operation in flight so far.
    attempts: u32,
    /// The server the client believes leads.
    leader_guess: NodeId,
    /// The sequence number of the latest operation. Invariant: one in flight at most.
    seq: u64,
    /// The operation awaiting its answer.
    in_flight: Option<InFlight>,
    /// Every finished operation, in the order it finished.
    history: Vec<Operation<KvInput, KvOutput>>,
    /// Whether the pending retry follows a redirect (send to `leader_guess` as is) rather
    /// than a timeout (move on to the next server).
    redirected: bool,
    /// How many times a request was sent again (timeouts and redirects).
    retries: u64,
}

impl Client {
    /// A client with node id `id` that issues `ops` operations against `servers` servers.
    /// Each operation is sent at most `max_attempts` times, `retry_ms` apart.
    pub fn new(id: NodeId, servers: usize, ops: usize, retry_ms: u64, max_attempts: u32) -> Client {
        assert!(servers > 0, "a client needs a server");
        assert!(
            max_attempts > 0,
            "a client sends each operation at least once"
        );
        Client {
            id: id.0 as u64,
            servers,
            ops,
            retry_ms,
            max_attempts,
            attempts: 0,
            leader_guess: NodeId(id.0 % servers),
            seq: 0,
            in_flight: None,
            history: Vec::new(),
            redirected: false,
            retries: 0,
        }
    }

    /// Begins the first operation.
    pub fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.next_operation(ctx);
    }

    /// An answer, or a redirect, from a server.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        let Message::ClientResponse(response) = msg else {
            return;
        };
        let current = self.in_flight.as_ref().map(|op| op.seq);
        match response {
            ClientResponse::Done { seq, output } if Some(seq) == current => {
                let op = self.in_flight.take().expect("checked above");
                self.leader_guess = from;
                self.history.push(Operation {
                    client: self.id,
                    input: op.input,
                    output: Some(output),
                    call_ns: op.call_ns,
                    return_ns: ctx.now().0,
                });
                ctx.count("client.done");
                self.next_operation(ctx);
            }
            ClientResponse::NotLeader { seq, leader } if Some(seq) == current => {
                // Follow the hint, or try the next server; wait a little first, so that a
                // cluster without a leader is not flooded while it elects one.
                self.leader_guess = leader.unwrap_or(NodeId((from.0 + 1) % self.servers));
                self.redirected = true;
                ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms / 10 + 1));
            }
            _ => {} // an answer to an earlier attempt, already handled
        }
    }

    /// The retry timer fired: send the same command again, to another server.
    pub fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        if timer != RETRY {
            return;
        }
        if self.attempts >= self.max_attempts && !self.redirected {
            if let Some(op) = self.in_flight.take() {
                self.history.push(unknown(self.id, op));
                ctx.count("client.gave_up");
            }
            return self.next_operation(ctx);
        }
        if let Some(op) = &self.in_flight {
            let command = Command {
                client: self.id,
                seq: op.seq,
                input: op.input.clone(),
            };
            self.retries += 1;
            if !self.redirected {
                self.leader_guess = NodeId((self.leader_guess.0 + 1) % self.servers);
            }
            self.send(ctx, command);
        }
    }

    fn next_operation(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.seq as usize >= self.ops {
            return;
        }
        self.seq += 1;
        let key = KEYS.choose(ctx.rng()).expect("non-empty").to_string();
        let value = format!("{}.{} ", self.id, self.seq);
        let input = match ctx.rng().random_range(0..3) {
            0 => KvInput::Get { key },
            1 => KvInput::Put { key, value },
            _ => KvInput::Append { key, value },
        };
        let call_ns = ctx.now().0;
        let command = Command {
            client: self.id,
            seq: self.seq,
            input: input.clone(),
        };
        self.in_flight = Some(InFlight {
            seq: self.seq,
            input,
            call_ns,
        });
        self.attempts = 0;
        self.send(ctx, command);
    }

    fn send(&mut self, ctx: &mut Ctx<'_, Message>, command: Command) {
        if !self.redirected {
            self.attempts += 1;
        }
        self.redirected = false;
        ctx.send(self.leader_guess, Message::ClientRequest(command));
        ctx.set_timer(RETRY, Duration::from_millis(self.retry_ms));
    }

    /// Everything this client saw: finished operations, then the one in flight (if any) with
    /// an unknown outcome.
    pub fn history(&self) -> Vec<Operation<KvInput, KvOutput>> {
        let mut history = self.history.clone();
        if let Some(op) = &self.in_flight {
            history.push(unknown(self.id, op.clone()));
        }
        history
    }

    /// Whether every operation has been answered.
    pub fn is_done(&self) -> bool {
        self.in_flight.is_none() && self.seq as usize >= self.ops
    }

    /// How many operations were answered or given up on.
    pub fn completed(&self) -> usize {
        self.history.len()
    }

    /// How many requests were sent again.
    pub fn retries(&self) -> u64 {
        self.retries
    }
}

/// An operation whose outcome the client will never learn.
fn unknown(client: u64, op: InFlight) -> Operation<KvInput, KvOutput> {
    Operation {
        client,
        input: op.input,
        output: None,
        call_ns: op.call_ns,
        return_ns: u64::MAX,
    }
}
