//! The transport on the simulator: a client that streams bytes to a server over a faulty link.
//!
//! [`Endpoint`] wraps the sans-I/O [`Sender`] and [`Receiver`] as a [`Process`]: it feeds them
//! the simulator's clock, hands their segments to the network and keeps one simulator timer
//! at their earliest deadline. The client's application writes a deterministic byte pattern
//! ([`pattern_byte`]) as fast as the send buffer takes it and closes at the end; the server's
//! application reads (at once, or at a limited rate to exercise flow control) and checks every
//! byte against the pattern, so a byte lost, duplicated or reordered shows up as a mismatch.

use std::time::Duration;

use super::receiver::{Receiver, ReceiverConfig};
use super::segment::Segment;
use super::sender::{Sender, SenderConfig};
use super::state::State;
use crate::sim::{Ctx, NodeId, Process, TimerId};

/// The client is node 0, the server node 1.
pub const CLIENT: NodeId = NodeId(0);
/// The server's node id.
pub const SERVER: NodeId = NodeId(1);
const TRANSPORT_TIMER: TimerId = TimerId(0);
const READ_TIMER: TimerId = TimerId(1);

/// The `i`-th byte of the stream (counting from zero): a hash of the position (the splitmix64
/// finaliser), with no period. A periodic pattern would let a bug hide: with period 251, two
/// swapped or repeated segments of 502 bytes would read back exactly as the pattern. Here a
/// misplaced byte matches by accident with probability 1/256, so a misplaced segment of the
/// property test's sizes (100 bytes or more) is always caught in practice.
pub fn pattern_byte(i: u64) -> u8 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as u8
}

/// How the server's application reads: everything at once, or `bytes` every `every`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ReadRate {
    /// Reads whatever arrives, immediately.
    Immediate,
    /// Reads at most `bytes` every `every` (a slow consumer).
    Limited { bytes: usize, every: Duration },
}

/// A cwnd sample or a loss event, for the congestion-window figure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trace {
    /// At `at` seconds, `cwnd` and `ssthresh` in bytes, and whether in fast recovery (where
    /// `cwnd` is inflated by one segment per duplicate ACK, RFC 5681 §3.2).
    Window {
        at: f64,
        cwnd: u64,
        ssthresh: u64,
        recovering: bool,
    },
    /// Fast retransmit at `at` seconds, with the window before it.
    FastRetransmit { at: f64, cwnd: u64 },
    /// Retransmission timeout at `at` seconds, with the window before it.
    Timeout { at: f64, cwnd: u64 },
}

/// The client's side: the transport and its application.
#[derive(Clone, Debug)]
pub struct Client {
    pub sender: Sender,
    /// Bytes the application will write in all.
    pub total: u64,
    /// Bytes written so far.
    pub written: u64,
    /// The window trace, if recording.
    pub trace: Option<Vec<Trace>>,
}

/// The server's side: the transport and its application.
#[derive(Clone, Debug)]
pub struct Server {
    pub receiver: Receiver,
    pub read_rate: ReadRate,
    /// Bytes the application has read, each checked against the pattern.
    pub delivered: u64,
    /// The first byte that did not match the pattern, if any.
    pub mismatch: Option<String>,
    /// When the application stops reading (to test a shut window), if ever.
    pub stop_reading_at: Option<Duration>,
    /// When the last byte was read.
    pub last_read_at: Duration,
}

/// One end of the connection, as a simulator process.
#[derive(Clone, Debug)]
pub enum Endpoint {
    Client(Box<Client>),
    Server(Box<Server>),
}

impl Endpoint {
    /// A client that will send `total` bytes.
    pub fn client(config: SenderConfig, total: u64, trace: bool) -> Endpoint {
        Endpoint::Client(Box::new(Client {
            sender: Sender::new(config),
            total,
            written: 0,
            trace: trace.then(Vec::new),
        }))
    }

    /// A server reading at `read_rate`.
    pub fn server(config: ReceiverConfig, read_rate: ReadRate) -> Endpoint {
        Endpoint::Server(Box::new(Server {
            receiver: Receiver::new(config),
            read_rate,
            delivered: 0,
            mismatch: None,
            stop_reading_at: None,
            last_read_at: Duration::ZERO,
        }))
    }

    /// The client, if this is it.
    pub fn as_client(&self) -> Option<&Client> {
        match self {
            Endpoint::Client(c) => Some(c),
            Endpoint::Server(_) => None,
        }
    }

    /// The server, if this is it.
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            Endpoint::Server(s) => Some(s),
            Endpoint::Client(_) => None,
        }
    }

    /// The server, mutably.
    pub fn as_server_mut(&mut self) -> Option<&mut Server> {
        match self {
            Endpoint::Server(s) => Some(s),
            Endpoint::Client(_) => None,
        }
    }

    /// The connection state of this end.
    pub fn state(&self) -> State {
        match self {
            Endpoint::Client(c) => c.sender.state(),
            Endpoint::Server(s) => s.receiver.state(),
        }
    }
}

fn now(ctx: &Ctx<'_, Segment>) -> Duration {
    Duration::from_nanos(ctx.now().0)
}

impl Client {
    /// After any input: write what fits, close at the end, send, and set the timer.
    fn pump(&mut self, ctx: &mut Ctx<'_, Segment>) {
        let now = now(ctx);
        while self.written < self.total && self.sender.send_buffer_room() > 0 {
            let n = (self.total - self.written).min(self.sender.send_buffer_room() as u64);
            let n = n.min(64 * 1024);
            let chunk: Vec<u8> = (self.written..self.written + n).map(pattern_byte).collect();
            self.written += self.sender.write(&chunk) as u64;
        }
        if self.written == self.total {
            self.sender.close();
        }
        for seg in self.sender.poll_transmit(now) {
            ctx.send(SERVER, seg);
        }
        match self.sender.next_timeout() {
            Some(at) => ctx.set_timer(TRANSPORT_TIMER, at.saturating_sub(now)),
            None => ctx.cancel_timer(TRANSPORT_TIMER),
        }
        self.record(now, None);
    }

    /// Appends a window sample (and the loss event before it) to the trace, if recording.
    fn record(&mut self, now: Duration, loss: Option<(bool, u64)>) {
        let Some(trace) = &mut self.trace else {
            return;
        };
        let at = now.as_secs_f64();
        if let Some((timeout, cwnd)) = loss {
            trace.push(if timeout {
                Trace::Timeout { at, cwnd }
            } else {
                Trace::FastRetransmit { at, cwnd }
            });
        }
        let (cwnd, ssthresh) = self.sender.cwnd();
        let changed = !matches!(trace.last(), Some(Trace::Window { cwnd: c, .. }) if *c == cwnd);
        if changed {
            let recovering = self.sender.in_recovery();
            trace.push(Trace::Window {
                at,
                cwnd,
                ssthresh,
                recovering,
            });
        }
    }

    /// Runs `f` on the sender and records a loss event if it detected one.
    fn with_loss_detection(&mut self, ctx: &mut Ctx<'_, Segment>, f: impl FnOnce(&mut Sender)) {
        let before = self.sender.stats.clone();
        let (cwnd, _) = self.sender.cwnd();
        f(&mut self.sender);
        let loss = if self.sender.stats.timeouts > before.timeouts
            && self.sender.state() != State::SynSent
        {
            Some((true, cwnd))
        } else if self.sender.stats.fast_retransmits > before.fast_retransmits {
            Some((false, cwnd))
        } else {
            None
        };
        if loss.is_some() {
            self.record(now(ctx), loss);
        }
        self.pump(ctx);
    }
}

impl Server {
    /// After any input: read what the application reads, close after the FIN, send, timers.
    fn pump(&mut self, ctx: &mut Ctx<'_, Segment>) {
        let now = now(ctx);
        let reading = self.stop_reading_at.is_none_or(|t| now < t);
        if self.read_rate == ReadRate::Immediate && reading {
            let n = self.receiver.readable();
            self.consume(now, n);
        }
        if self.receiver.state() == State::CloseWait && self.receiver.readable() == 0 {
            self.receiver.close(now);
        }
        for seg in self.receiver.poll_transmit() {
            ctx.send(CLIENT, seg);
        }
        match self.receiver.next_timeout() {
            Some(at) => ctx.set_timer(TRANSPORT_TIMER, at.saturating_sub(now)),
            None => ctx.cancel_timer(TRANSPORT_TIMER),
        }
    }

    /// The application reads up to `max` bytes and checks each against the pattern.
    fn consume(&mut self, now: Duration, max: usize) {
        let bytes = self.receiver.read(max);
        if !bytes.is_empty() {
            self.last_read_at = now;
        }
        for b in bytes {
            let expected = pattern_byte(self.delivered);
            if b != expected && self.mismatch.is_none() {
                self.mismatch = Some(format!(
                    "byte {} is {b}, expected {expected}",
                    self.delivered
                ));
            }
            self.delivered += 1;
        }
    }
}

impl Process for Endpoint {
    type Msg = Segment;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Segment>) {
        match self {
            Endpoint::Client(c) => {
                c.sender.connect(now(ctx));
                c.pump(ctx);
            }
            Endpoint::Server(s) => {
                if let ReadRate::Limited { every, .. } = s.read_rate {
                    ctx.set_timer(READ_TIMER, every);
                }
                s.pump(ctx);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Segment>, _from: NodeId, seg: Segment) {
        let t = now(ctx);
        match self {
            Endpoint::Client(c) => c.with_loss_detection(ctx, |s| s.on_segment(t, seg)),
            Endpoint::Server(s) => {
                s.receiver.on_segment(t, seg);
                s.pump(ctx);
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Segment>, timer: TimerId) {
        let t = now(ctx);
        match self {
            Endpoint::Client(c) => c.with_loss_detection(ctx, |s| s.on_timeout(t)),
            Endpoint::Server(s) => {
                if timer == READ_TIMER {
                    if let ReadRate::Limited { bytes, every } = s.read_rate {
                        if s.stop_reading_at.is_none_or(|at| t < at) {
                            s.consume(t, bytes);
                        }
                        if s.receiver.state() != State::Closed {
                            ctx.set_timer(READ_TIMER, every);
                        }
                    }
                } else {
                    s.receiver.on_timeout(t);
                }
                s.pump(ctx);
            }
        }
    }

    fn durable(&self) {}

    fn message_size(seg: &Segment) -> usize {
        seg.wire_size()
    }
}
