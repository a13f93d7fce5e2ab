//! The secure link on the simulator: a client completes the handshake with a server, then
//! streams numbered records over a link that may duplicate, reorder or lose them, or through
//! an on-path attacker that flips bits. The server counts what its record layer did with each
//! arrival. Chapter 3's experiment (`ch03_attacks`) runs this under each fault.
//!
//! The handshake runs over a clean link; the faults start once both sides hold their keys
//! ([`run`] switches the link then). The attacker is modelled at the client's output (it
//! flips one random bit of a record with probability `tamper`), which is what an on-path
//! router could do to the packet.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::RngExt;

use super::demo::Demo;
use super::error::SecureLinkError;
use super::exercise::Window;
use super::exercise::solution::ReplayWindow;
use super::handshake::{Client, SecureLink, Server};
use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId};

/// What travels between the two nodes.
#[derive(Clone, Debug)]
pub enum Wire {
    /// A handshake message.
    Handshake(Vec<u8>),
    /// A sealed record.
    Record(Vec<u8>),
}

/// How the server's record layer treats order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// TLS over TCP: only the next sequence number is accepted ([`RecordOpener::open`]).
    ///
    /// [`RecordOpener::open`]: super::record::RecordOpener::open
    InOrder,
    /// DTLS: any authentic number not seen before within a window of this size.
    Window(u64),
}

/// The client: handshake, then `records` records, one every `interval`.
pub struct ClientNode {
    client: Client,
    hello: Vec<u8>,
    link: Option<SecureLink>,
    records: u64,
    sent: u64,
    interval: Duration,
    /// Probability that the attacker flips a bit of a record.
    tamper: f64,
}

/// The server: answers the handshake, then opens records and counts the outcomes.
pub struct ServerNode {
    server: Server,
    link: Option<SecureLink>,
    receiver: Receiver,
    window: ReplayWindow,
    /// How many arrivals ended how: "accepted" or the name of the error.
    pub outcomes: BTreeMap<&'static str, u64>,
}

/// The two nodes of a run.
pub enum LinkNode {
    /// Node 0 (boxed: the two halves differ much in size).
    Client(Box<ClientNode>),
    /// Node 1.
    Server(Box<ServerNode>),
}

const CLIENT: NodeId = NodeId(0);
const SERVER: NodeId = NodeId(1);
const SEND: TimerId = TimerId(0);

/// The name of an outcome, for the table.
pub fn outcome_name(result: &Result<Vec<u8>, SecureLinkError>) -> &'static str {
    match result {
        Ok(_) => "accepted",
        Err(SecureLinkError::Tampered { .. }) => "tampered",
        Err(SecureLinkError::Replayed { .. }) => "replayed",
        Err(SecureLinkError::OutOfOrder { .. }) => "out of order",
        Err(SecureLinkError::TooOld { .. }) => "too old",
        Err(SecureLinkError::Truncated { .. } | SecureLinkError::Malformed(_)) => "malformed",
        Err(_) => "other",
    }
}

impl ServerNode {
    fn open(&mut self, record: &[u8]) -> Result<Vec<u8>, SecureLinkError> {
        let link = self
            .link
            .as_mut()
            .expect("records come after the handshake");
        match self.receiver {
            Receiver::InOrder => link.open(record),
            Receiver::Window(_) => {
                let (seq, plaintext) = link.opener.authenticate(record)?;
                self.window.check_and_mark(seq)?;
                Ok(plaintext)
            }
        }
    }
}

impl Process for LinkNode {
    type Msg = Wire;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Wire>) {
        if let LinkNode::Client(c) = self {
            ctx.send(SERVER, Wire::Handshake(c.hello.clone()));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Wire>, from: NodeId, msg: Wire) {
        match (self, msg) {
            (LinkNode::Client(c), Wire::Handshake(bytes)) => {
                let replies = c.client.on_message(&bytes).expect("clean handshake");
                for reply in replies {
                    ctx.send(from, Wire::Handshake(reply));
                }
                if let Some(link) = c.client.take_link() {
                    c.link = Some(link);
                    ctx.set_timer(SEND, c.interval);
                }
            }
            (LinkNode::Server(s), Wire::Handshake(bytes)) => {
                let replies = s.server.on_message(&bytes).expect("clean handshake");
                for reply in replies {
                    ctx.send(from, Wire::Handshake(reply));
                }
                if let Some(link) = s.server.take_link() {
                    s.link = Some(link);
                }
            }
            (LinkNode::Server(s), Wire::Record(record)) => {
                let result = s.open(&record);
                *s.outcomes.entry(outcome_name(&result)).or_default() += 1;
            }
            (LinkNode::Client(_), Wire::Record(_)) => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Wire>, _timer: TimerId) {
        let LinkNode::Client(c) = self else { return };
        let link = c
            .link
            .as_mut()
            .expect("the timer starts after the handshake");
        let text = format!("record {}", c.sent);
        let mut record = link.seal(text.as_bytes()).expect("far from 2^64 records");
        if ctx.rng().random_bool(c.tamper) {
            let bit = ctx.rng().random_range(0..record.len() * 8);
            record[bit / 8] ^= 1 << (bit % 8);
        }
        ctx.send(SERVER, Wire::Record(record));
        c.sent += 1;
        if c.sent < c.records {
            ctx.set_timer(SEND, c.interval);
        }
    }

    fn durable(&self) {}
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The row's name.
    pub name: &'static str,
    /// The link during the record phase.
    pub link: LinkConfig,
    /// Probability that the attacker flips a bit of a record.
    pub tamper: f64,
}

/// Runs `scenario` with `records` records and the given receiver; the server's outcomes.
pub fn run(
    scenario: &Scenario,
    receiver: Receiver,
    records: u64,
    seed: u64,
) -> BTreeMap<&'static str, u64> {
    let mut demo = Demo::new(seed);
    let (client, hello) = Client::start(demo.config.clone(), demo.entropy());
    let server = Server::new(demo.identity.clone(), demo.entropy());
    let window_size = match receiver {
        Receiver::Window(size) => size,
        Receiver::InOrder => 64,
    };
    let nodes = vec![
        LinkNode::Client(Box::new(ClientNode {
            client,
            hello,
            link: None,
            records,
            sent: 0,
            interval: Duration::from_millis(1),
            tamper: scenario.tamper,
        })),
        LinkNode::Server(Box::new(ServerNode {
            server,
            link: None,
            receiver,
            window: ReplayWindow::with_size(window_size),
            outcomes: BTreeMap::new(),
        })),
    ];
    let clean = LinkConfig::constant(Duration::from_millis(5));
    let mut sim = Sim::new(seed, clean, nodes);
    // ClientHello arrives at 5 ms, the server's flight at 10 ms; the client's Finished leaves
    // then and the first record at 11 ms. Switch the link between the two.
    sim.run_until(Time::from_secs_f64(0.0105))
        .expect("no invariants");
    sim.set_link(CLIENT, SERVER, scenario.link.clone());
    let end = Time::from_millis(11 + records * 2 + 1_000);
    sim.run_until(end).expect("no invariants");
    match sim.process(SERVER) {
        Some(LinkNode::Server(s)) => s.outcomes.clone(),
        _ => unreachable!("node 1 is the server"),
    }
}
