//! The clients of the real-fault test: concurrent sessions over TCP that record a history.
//!
//! Each [`WorkloadClient`] is one session of the replicated store (§8 of Ongaro and
//! Ousterhout's Raft paper): a node number that the servers know, a listener on 127.0.0.1 where
//! servers deliver their answers, and one operation in flight at a time, retried with the same
//! sequence number until an answer comes or a deadline passes. It speaks the driver's wire
//! format ([`encode_frame`], [`read_frame`]): a 4-byte big-endian length, then the JSON of
//! `{"from": node, "msg": message}`, the same frames the servers exchange.
//!
//! **The history.** Like Jepsen's clients, it records for every operation the instant it was
//! called and the instant its answer arrived, both on the test's one clock, and its answer or
//! `None` when the client gave up: the outcome is then *unknown*, the operation may take effect
//! at any later time or never, and the checker treats it so. Clocks of the servers play no part.
//!
//! Invariants: a session never has two operations in flight (the store keeps one answer per
//! session); an answer counts only if it carries the sequence number in flight, so a late answer
//! to an earlier copy, or to an abandoned operation, is ignored; written values are unique
//! (`c<client>.<seq>`), so a read names the write it saw.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::coordination::raft::history::{KvInput, KvOutput, Operation};
use crate::coordination::raft::kv::Command;
use crate::coordination::raft::message::{ClientResponse, Message};
use crate::sim::{NodeId, SimRng};

/// The largest frame a client accepts, as the servers' driver does.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// What goes in one frame (the driver's envelope), as sent.
#[derive(serde::Serialize)]
struct EnvelopeOut<'a> {
    from: NodeId,
    msg: &'a Message,
}

/// What goes in one frame, as received.
#[derive(serde::Deserialize)]
struct Envelope {
    from: NodeId,
    msg: Message,
}

/// One frame: the length prefix and the JSON envelope.
pub fn encode_frame(from: NodeId, msg: &Message) -> Vec<u8> {
    // A message of plain data always serialises; an empty body would be refused by the peer.
    let body = serde_json::to_vec(&EnvelopeOut { from, msg }).unwrap_or_default();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Reads one frame; `Ok(None)` when the peer closed cleanly, an error for a bad frame.
pub async fn read_frame(stream: &mut TcpStream) -> io::Result<Option<(NodeId, Message)>> {
    let len = match stream.read_u32().await {
        Ok(len) => len as usize,
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame too large",
        ));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await?;
    let env: Envelope = serde_json::from_slice(&buf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(Some((env.from, env.msg)))
}

/// The knobs of the workload.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    /// Keys the clients read and write (`k0`, `k1`, ...).
    pub keys: usize,
    /// Share of operations that are reads, in percent; the rest are puts and appends.
    pub read_percent: u32,
    /// Share of the writes that are appends, in percent.
    pub append_percent: u32,
    /// How long a client waits for an answer before sending to the next server.
    pub retry: Duration,
    /// How long a client tries one operation before giving up (unknown outcome).
    pub deadline: Duration,
    /// The longest pause between two operations of one client (drawn uniformly).
    pub think: Duration,
}

impl Default for WorkloadOptions {
    fn default() -> WorkloadOptions {
        WorkloadOptions {
            keys: 3,
            read_percent: 50,
            append_percent: 20,
            retry: Duration::from_millis(150),
            deadline: Duration::from_millis(1_500),
            think: Duration::from_millis(20),
        }
    }
}

/// A history of the key-value store.
pub type History = Vec<Operation<KvInput, KvOutput>>;

// ANCHOR: workload_client
/// One client session, with its listener for answers.
pub struct WorkloadClient {
    /// Its node number, which is also its session id.
    id: NodeId,
    /// Where server `i` is reached (through its client proxy).
    servers: Vec<SocketAddr>,
    /// Answers from servers, fed by the listener's readers.
    answers: mpsc::UnboundedReceiver<(NodeId, ClientResponse)>,
    /// The accept loop; aborted on drop.
    accept: tokio::task::JoinHandle<()>,
    /// Open connections to servers, opened on first use.
    conns: Vec<Option<TcpStream>>,
    /// The server believed to lead.
    guess: usize,
    /// The latest sequence number used.
    seq: u64,
    rng: SimRng,
    options: WorkloadOptions,
}
// ANCHOR_END: workload_client

impl WorkloadClient {
    /// Binds the client's listener on 127.0.0.1; servers must be told [`Self::listener_addr`].
    pub async fn bind(id: NodeId, rng: SimRng, options: WorkloadOptions) -> io::Result<Listening> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        Ok(Listening {
            id,
            listener,
            addr,
            rng,
            options,
        })
    }

    /// Runs operations until `stop` is set, then returns itself and its history. `clock` is
    /// the test's clock: every call and return instant is measured from it.
    pub async fn run(mut self, clock: Instant, stop: Arc<AtomicBool>) -> (Self, History) {
        let mut history = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let input = self.next_input();
            history.push(self.invoke(clock, input).await);
            let pause = self
                .rng
                .random_range(0..=self.options.think.as_micros() as u64);
            tokio::time::sleep(Duration::from_micros(pause)).await;
        }
        (self, history)
    }

    /// A read, put or append on a random key; written values are unique.
    fn next_input(&mut self) -> KvInput {
        let key = format!("k{}", self.rng.random_range(0..self.options.keys.max(1)));
        let value = format!("c{}.{};", self.id.0, self.seq + 1);
        if self.rng.random_range(0..100) < self.options.read_percent {
            KvInput::Get { key }
        } else if self.rng.random_range(0..100) < self.options.append_percent {
            KvInput::Append { key, value }
        } else {
            KvInput::Put { key, value }
        }
    }

    // ANCHOR: invoke
    /// Issues one operation and waits for its answer, retrying with the same sequence number;
    /// after the deadline its outcome is unknown.
    pub async fn invoke(&mut self, clock: Instant, input: KvInput) -> Operation<KvInput, KvOutput> {
        self.seq += 1;
        let seq = self.seq;
        let call_ns = clock.elapsed().as_nanos() as u64;
        let give_up = Instant::now() + self.options.deadline;
        let command = Command {
            client: self.id.0 as u64,
            seq,
            input: input.clone(),
        };
        let mut output = None;
        'retry: while Instant::now() < give_up {
            self.send(&Message::ClientRequest(command.clone())).await;
            let wait = (Instant::now() + self.options.retry).min(give_up);
            loop {
                match tokio::time::timeout_at(wait, self.answers.recv()).await {
                    Ok(Some((_, ClientResponse::Done { seq: s, output: o }))) if s == seq => {
                        output = Some(o);
                        break 'retry;
                    }
                    Ok(Some((from, ClientResponse::NotLeader { seq: s, leader }))) if s == seq => {
                        // Follow the hint after a short pause; without one, try the next.
                        let next = (from.0 + 1) % self.servers.len();
                        self.guess = leader.map_or(next, |l| l.0 % self.servers.len());
                        tokio::time::sleep(self.options.retry / 10).await;
                        continue 'retry;
                    }
                    Ok(Some(_)) => {} // an answer to an earlier operation
                    Ok(None) => break 'retry,
                    Err(_) => {
                        // No answer in time: the server may be down or cut off.
                        self.guess = (self.guess + 1) % self.servers.len();
                        continue 'retry;
                    }
                }
            }
        }
        let return_ns = match output {
            Some(_) => clock.elapsed().as_nanos() as u64,
            None => u64::MAX,
        };
        Operation {
            client: self.id.0 as u64,
            input,
            output,
            call_ns,
            return_ns,
        }
    }
    // ANCHOR_END: invoke

    /// Sends `msg` to the server believed to lead; a failure drops it (the retry covers it).
    async fn send(&mut self, msg: &Message) {
        let to = self.guess;
        if self.conns[to].is_none() {
            let connect = TcpStream::connect(self.servers[to]);
            if let Ok(Ok(stream)) = tokio::time::timeout(self.options.retry, connect).await {
                let _ = stream.set_nodelay(true);
                self.conns[to] = Some(stream);
            }
        }
        if let Some(stream) = &mut self.conns[to] {
            let frame = encode_frame(self.id, msg);
            let write = tokio::time::timeout(self.options.retry, stream.write_all(&frame));
            if !matches!(write.await, Ok(Ok(()))) {
                self.conns[to] = None; // reconnect on the next send
            }
        }
    }
}

impl Drop for WorkloadClient {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A client whose listener is bound but which does not yet know the servers.
pub struct Listening {
    id: NodeId,
    listener: TcpListener,
    addr: SocketAddr,
    rng: SimRng,
    options: WorkloadOptions,
}

impl Listening {
    /// Where servers deliver this client's answers.
    pub fn listener_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts accepting answers; `servers[i]` is where server `i` is reached.
    pub fn connect(self, servers: Vec<SocketAddr>) -> WorkloadClient {
        let (tx, answers) = mpsc::unbounded_channel();
        let accept = tokio::spawn(accept_answers(self.listener, tx));
        WorkloadClient {
            id: self.id,
            conns: servers.iter().map(|_| None).collect(),
            guess: 0,
            servers,
            answers,
            accept,
            seq: 0,
            rng: self.rng,
            options: self.options,
        }
    }
}

/// Accepts servers' connections and forwards every client answer they carry.
async fn accept_answers(
    listener: TcpListener,
    answers: mpsc::UnboundedSender<(NodeId, ClientResponse)>,
) {
    let mut readers = tokio::task::JoinSet::new();
    while let Ok((mut stream, _)) = listener.accept().await {
        while readers.try_join_next().is_some() {}
        let answers = answers.clone();
        readers.spawn(async move {
            while let Ok(Some((from, msg))) = read_frame(&mut stream).await {
                if let Message::ClientResponse(r) = msg
                    && answers.send((from, r)).is_err()
                {
                    return;
                }
            }
        });
    }
}
