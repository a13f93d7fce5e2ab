// GENERATED from code/examples/ch02_transfer.rs and the `uds` modules communication::reliable_links::segment, communication::reliable_links::rto, communication::reliable_links::congestion, communication::reliable_links::state, communication::reliable_links::sender, communication::reliable_links::receiver by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! Chapter 2's runnable listing: the transport's sender and receiver moving a message across a
//! tiny in-file link that loses, duplicates and delays segments at random. Change `LOSS` or
//! `DUPLICATE`, run again, and watch the counters move while the message still arrives whole.
//!
//! Run: `cargo run --release -p uds --example ch02_transfer`
//!
//! playground-bundle: communication::reliable_links::segment communication::reliable_links::rto communication::reliable_links::congestion communication::reliable_links::state communication::reliable_links::sender communication::reliable_links::receiver

use std::time::Duration;

use crate::communication::reliable_links::receiver::{Receiver, ReceiverConfig};
use crate::communication::reliable_links::segment::Segment;
use crate::communication::reliable_links::sender::{Sender, SenderConfig};
use crate::communication::reliable_links::state::State;

// ANCHOR: main
const LOSS: f64 = 0.2; // each segment, either way, is lost with this probability
const DUPLICATE: f64 = 0.05; // ... or delivered twice
const ONE_WAY: Duration = Duration::from_millis(20); // plus up to 10 ms of jitter: reordering

fn main() {
    let message = "Every byte arrives exactly once and in order, or not at all. ".repeat(400);
    let mut sender = Sender::new(SenderConfig::default());
    let mut receiver = Receiver::new(ReceiverConfig::default());
    let mut link = Link::new(1);
    let mut received = Vec::new();
    let mut now = Duration::ZERO;
    sender.connect(now);
    sender.write(message.as_bytes());
    sender.close();
    while now < Duration::from_secs(60) {
        for seg in sender.poll_transmit(now) {
            link.send(now, true, seg);
        }
        for seg in receiver.poll_transmit() {
            link.send(now, false, seg);
        }
        // Advance to the next arrival or timer, whichever comes first.
        let timers = [sender.next_timeout(), receiver.next_timeout()];
        let Some(next) = timers
            .into_iter()
            .flatten()
            .chain(link.next_arrival())
            .min()
        else {
            break; // nothing in flight, no timer: both ends are done
        };
        now = next;
        for (to_server, seg) in link.arrivals(now) {
            if to_server {
                receiver.on_segment(now, seg);
                received.extend(receiver.read(usize::MAX));
                if receiver.state() == State::CloseWait {
                    receiver.close(now);
                }
            } else {
                sender.on_segment(now, seg);
            }
        }
        sender.on_timeout(now);
        receiver.on_timeout(now);
    }
    let s = &sender.stats;
    println!(
        "delivered {} of {} bytes, intact: {}",
        received.len(),
        message.len(),
        received == message.as_bytes()
    );
    println!(
        "segments sent {}, retransmitted {}, timeouts {}, fast retransmits {}",
        s.segments, s.retransmissions, s.timeouts, s.fast_retransmits
    );
    println!("link: {} lost, {} duplicated", link.lost, link.duplicated);
    println!(
        "final states: client {:?}, server {:?}, after {:.2} s of simulated time",
        sender.state(),
        receiver.state(),
        now.as_secs_f64()
    );
}
// ANCHOR_END: main

/// A lossy, duplicating, jittery link in both directions, with its own tiny random generator
/// (xorshift) so that the run is the same every time.
struct Link {
    state: u64,
    in_flight: Vec<(Duration, bool, Segment)>,
    lost: u64,
    duplicated: u64,
}

impl Link {
    fn new(seed: u64) -> Link {
        Link {
            state: seed.max(1),
            in_flight: Vec::new(),
            lost: 0,
            duplicated: 0,
        }
    }

    /// A uniform number in [0, 1).
    fn random(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 11) as f64 / (1u64 << 53) as f64
    }

    fn send(&mut self, now: Duration, to_server: bool, seg: Segment) {
        if self.random() < LOSS {
            self.lost += 1;
            return;
        }
        let copies = if self.random() < DUPLICATE { 2 } else { 1 };
        self.duplicated += copies - 1;
        for _ in 0..copies {
            let jitter = Duration::from_micros((self.random() * 10_000.0) as u64);
            self.in_flight
                .push((now + ONE_WAY + jitter, to_server, seg.clone()));
        }
    }

    fn next_arrival(&self) -> Option<Duration> {
        self.in_flight.iter().map(|(at, _, _)| *at).min()
    }

    /// The segments due by `now`, in arrival order.
    fn arrivals(&mut self, now: Duration) -> Vec<(bool, Segment)> {
        let (mut due, rest): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|(at, _, _)| *at <= now);
        self.in_flight = rest;
        due.sort_by_key(|(at, _, _)| *at);
        due.into_iter()
            .map(|(_, to_server, seg)| (to_server, seg))
            .collect()
    }
}

mod communication {

pub mod reliable_links {

pub mod congestion {
//! Congestion control: how much the sender may have in flight, as RFC 5681 specifies.
//!
//! The receive window protects the receiver; the congestion window `cwnd` protects the network
//! between the two. Nobody tells the sender the network's capacity, so it probes: it grows
//! `cwnd` until a segment is lost, takes the loss as a sign of a full queue somewhere on the
//! path, and shrinks. The rules, all in bytes, with `smss` the largest segment:
//!
//! - the initial window is 2 to 4 segments depending on `smss` (RFC 5681 §3.1);
//! - **slow start** (`cwnd < ssthresh`): each ACK of new data adds at most one `smss`, so the
//!   window doubles every round trip (§3.1);
//! - **congestion avoidance**: each ACK adds `smss * smss / cwnd`, about one segment per round
//!   trip: additive increase (§3.1, equation 3);
//! - **a loss** halves the flight into `ssthresh` (equation 4, multiplicative decrease). A
//!   timeout also drops `cwnd` to one segment and starts slow start again; three duplicate ACKs
//!   instead trigger fast retransmit and fast recovery, which keeps the ACK clock running (§3.2).
//!
//! Together: additive increase, multiplicative decrease (AIMD), the sawtooth of the chapter's
//! figure. These functions are the pure rules; [`super::sender`] decides when each applies.

// ANCHOR: initial_window
/// The initial congestion window for a largest segment of `smss` bytes (RFC 5681 §3.1).
pub fn initial_window(smss: u64) -> u64 {
    let segments = if smss > 2190 {
        2
    } else if smss > 1095 {
        3
    } else {
        4
    };
    segments * smss
}
// ANCHOR_END: initial_window

// ANCHOR: on_ack
/// The congestion window after an ACK that acknowledges `acked` new bytes, outside recovery.
pub fn grow(cwnd: u64, ssthresh: u64, acked: u64, smss: u64) -> u64 {
    if cwnd < ssthresh {
        cwnd + acked.min(smss) // slow start
    } else {
        cwnd + (smss * smss / cwnd).max(1) // congestion avoidance
    }
}

/// The slow-start threshold after a loss with `flight` bytes outstanding (RFC 5681 eq. 4).
pub fn ssthresh_after_loss(flight: u64, smss: u64) -> u64 {
    (flight / 2).max(2 * smss)
}
// ANCHOR_END: on_ack

}

pub mod receiver {
//! The receiving end: the server, which accepts the connection, reassembles the byte stream
//! and closes after the client does.
//!
//! The receiver owns a buffer of `capacity` bytes. Bytes that arrived in order and that the
//! application has not read yet (`unread`) take room in it; the rest is the window it
//! advertises. Segments that arrive ahead of a hole wait in `out_of_order` (they lie inside the
//! window, so the buffer has room for them) until the hole is filled. Every segment that
//! carries something is answered with a cumulative ACK of `rcv_nxt`: the first byte still
//! missing. An ACK that repeats the same `rcv_nxt` is the duplicate ACK that tells the sender
//! about a hole.
//!
//! Invariant: the right edge of the window, `rcv_nxt + window`, never moves left (RFC 9293
//! §3.8.6: a receiver should not shrink its window). Reading moves it right; in-order data
//! moves `rcv_nxt` right and shrinks the window by as much.
//!
//! Simplification: the receiver acknowledges every segment at once (no delayed ACK, which the
//! chapter meets on the real kernel).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::segment::Segment;
use super::state::State;

/// The knobs of a receiver.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverConfig {
    /// The receive buffer, in bytes: the largest window it can advertise.
    pub capacity: u64,
    /// The largest segment, in bytes (window updates are sent when a segment's worth opens).
    pub mss: u64,
    /// The first retransmission timeout of our FIN; it doubles on each retry.
    pub fin_rto: Duration,
    /// How many times to resend the FIN before giving up.
    pub fin_retries: u32,
}

impl Default for ReceiverConfig {
    fn default() -> ReceiverConfig {
        ReceiverConfig {
            capacity: 64 * 1024,
            mss: 1000,
            fin_rto: Duration::from_millis(500),
            fin_retries: 12,
        }
    }
}

/// The receiving end of a connection.
#[derive(Clone, Debug)]
pub struct Receiver {
    config: ReceiverConfig,
    state: State,
    /// The next byte expected: everything before it arrived.
    rcv_nxt: u64,
    /// Bytes that arrived in order and wait for the application.
    unread: VecDeque<u8>,
    /// Segments past a hole, by sequence number. Invariant: all lie in `[rcv_nxt, right edge)`.
    out_of_order: BTreeMap<u64, Vec<u8>>,
    /// The sequence number of the client's FIN, once seen.
    fin_at: Option<u64>,
    /// The right edge in the last ACK sent.
    advertised_edge: u64,
    /// When our FIN is resent, and how many times it was.
    fin_deadline: Option<Duration>,
    fin_sent: u32,
    outbox: Vec<Segment>,
    /// Segments dropped because they lay outside the window.
    pub outside_window: u64,
}

impl Receiver {
    /// A receiver in LISTEN.
    pub fn new(config: ReceiverConfig) -> Receiver {
        assert!(
            config.capacity > 0,
            "a receive buffer holds at least one byte"
        );
        Receiver {
            config,
            state: State::Listen,
            rcv_nxt: 0,
            unread: VecDeque::new(),
            out_of_order: BTreeMap::new(),
            fin_at: None,
            advertised_edge: 0,
            fin_deadline: None,
            fin_sent: 0,
            outbox: Vec::new(),
            outside_window: 0,
        }
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The size of the receive buffer.
    pub fn capacity(&self) -> u64 {
        self.config.capacity
    }

    /// The window: free room in the buffer, counted from `rcv_nxt`.
    pub fn window(&self) -> u64 {
        self.config.capacity - self.unread.len() as u64
    }

    /// One past the last byte the receiver can buffer now. Never moves left.
    pub fn right_edge(&self) -> u64 {
        self.rcv_nxt + self.window()
    }

    /// Bytes held: unread plus out of order. Invariant: at most the capacity.
    pub fn buffered(&self) -> u64 {
        self.unread.len() as u64
            + self
                .out_of_order
                .values()
                .map(|v| v.len() as u64)
                .sum::<u64>()
    }

    /// The earliest time at which [`Receiver::on_timeout`] has something to do.
    pub fn next_timeout(&self) -> Option<Duration> {
        self.fin_deadline
    }

    /// Everything to put on the wire.
    pub fn poll_transmit(&mut self) -> Vec<Segment> {
        std::mem::take(&mut self.outbox)
    }

    /// Handles a segment from the sender.
    pub fn on_segment(&mut self, now: Duration, seg: Segment) {
        match self.state {
            State::Listen if seg.syn => {
                self.rcv_nxt = seg.seq + 1;
                self.state = State::SynReceived;
                self.send_syn_ack();
            }
            State::SynReceived if seg.syn => self.send_syn_ack(), // our SYN+ACK was lost
            State::SynReceived if seg.ack == Some(1) => {
                self.state = State::Established;
                self.on_data(seg);
            }
            State::Established | State::CloseWait if seg.syn => self.send_ack(),
            State::Established | State::CloseWait => self.on_data(seg),
            State::LastAck if seg.ack == Some(2) || seg.rst => {
                self.state = State::Closed;
                self.fin_deadline = None;
            }
            State::LastAck if seg.fin => self.send_fin(now), // the client missed our FIN
            _ => {}
        }
    }

    // ANCHOR: on_data
    /// Takes the part of a segment that lies in the window, and acknowledges.
    fn on_data(&mut self, seg: Segment) {
        let carries = !seg.payload.is_empty() || seg.fin;
        if !carries {
            // A pure ACK needs no answer, unless it is a zero-window probe: an old sequence
            // number, which must be answered with our current window (RFC 9293 §3.10.7.4).
            if seg.seq < self.rcv_nxt {
                self.send_ack();
            }
            return;
        }
        let start = seg.seq;
        let end = start + seg.payload.len() as u64;
        // Keep only what fits in [rcv_nxt, right edge): older bytes are duplicates, and
        // bytes past the edge would overflow the buffer the receiver promised.
        let lo = start.max(self.rcv_nxt);
        let hi = end.min(self.right_edge());
        if lo < hi {
            let bytes = &seg.payload[(lo - start) as usize..(hi - start) as usize];
            if lo == self.rcv_nxt {
                self.unread.extend(bytes);
                self.rcv_nxt = hi;
                self.drain_out_of_order();
            } else {
                self.insert_out_of_order(lo, bytes);
            }
        } else if end > self.rcv_nxt {
            self.outside_window += 1;
        }
        if seg.fin && end <= self.right_edge() {
            self.fin_at = Some(end);
        }
        if self.fin_at == Some(self.rcv_nxt) && self.state == State::Established {
            self.rcv_nxt += 1; // the FIN occupies one sequence number
            self.state = State::CloseWait;
        }
        self.send_ack();
    }
    // ANCHOR_END: on_data

    /// Stores the bytes of `[lo, lo + len)` that no stored segment holds yet.
    fn insert_out_of_order(&mut self, lo: u64, bytes: &[u8]) {
        let hi = lo + bytes.len() as u64;
        let overlapping: Vec<(u64, u64)> = self
            .out_of_order
            .range(..hi)
            .map(|(&s, v)| (s, s + v.len() as u64))
            .filter(|&(_, e)| e > lo)
            .collect();
        let mut cursor = lo;
        let mut gaps = Vec::new();
        for (s, e) in overlapping {
            if s > cursor {
                gaps.push((cursor, s));
            }
            cursor = cursor.max(e);
        }
        if cursor < hi {
            gaps.push((cursor, hi));
        }
        for (a, b) in gaps {
            let part = bytes[(a - lo) as usize..(b - lo) as usize].to_vec();
            self.out_of_order.insert(a, part);
        }
    }

    /// Moves the segments that the last arrival made contiguous into `unread`.
    fn drain_out_of_order(&mut self) {
        while let Some(entry) = self.out_of_order.first_entry() {
            let s = *entry.key();
            if s > self.rcv_nxt {
                break;
            }
            let bytes = entry.remove();
            let e = s + bytes.len() as u64;
            if e > self.rcv_nxt {
                self.unread.extend(&bytes[(self.rcv_nxt - s) as usize..]);
                self.rcv_nxt = e;
            }
        }
    }

    // ANCHOR: read
    /// The application reads up to `max` bytes. If that opens the window by a segment or
    /// more, or opens a window that was shut, the receiver tells the sender (a window update).
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        let n = max.min(self.unread.len());
        let bytes: Vec<u8> = self.unread.drain(..n).collect();
        let was_shut = self.advertised_edge <= self.rcv_nxt;
        let opened = self.right_edge().saturating_sub(self.advertised_edge);
        if n > 0 && (opened >= self.config.mss || (was_shut && opened > 0)) {
            self.send_ack();
        }
        bytes
    }
    // ANCHOR_END: read

    /// Bytes ready for the application.
    pub fn readable(&self) -> usize {
        self.unread.len()
    }

    /// The application closes its end after the client's FIN: send our FIN.
    pub fn close(&mut self, now: Duration) {
        if self.state == State::CloseWait {
            self.state = State::LastAck;
            self.send_fin(now);
        }
    }

    /// Resends our FIN if its ACK is overdue.
    pub fn on_timeout(&mut self, now: Duration) {
        if self.fin_deadline.is_some_and(|d| d <= now) {
            if self.fin_sent > self.config.fin_retries {
                self.state = State::Closed; // give up, as a real stack eventually does
                self.fin_deadline = None;
            } else {
                self.send_fin(now);
            }
        }
    }

    fn send_syn_ack(&mut self) {
        let mut seg = Segment::ack(0, self.rcv_nxt, self.window());
        seg.syn = true;
        self.advertised_edge = self.right_edge();
        self.outbox.push(seg);
    }

    fn send_fin(&mut self, now: Duration) {
        let mut seg = Segment::ack(1, self.rcv_nxt, self.window());
        seg.fin = true;
        self.outbox.push(seg);
        self.fin_deadline = Some(now + self.config.fin_rto * 2u32.pow(self.fin_sent.min(16)));
        self.fin_sent += 1;
    }

    fn send_ack(&mut self) {
        let seq = if self.fin_sent > 0 { 2 } else { 1 };
        self.advertised_edge = self.right_edge();
        self.outbox
            .push(Segment::ack(seq, self.rcv_nxt, self.window()));
    }
}
}

pub mod rto {
//! The retransmission timeout, computed as RFC 6298 specifies.
//!
//! The sender cannot tell a lost segment from a slow one; it can only wait. Waiting too little
//! retransmits segments that were merely late (wasting the link and, worse, shrinking the
//! congestion window for nothing); waiting too long leaves the link idle after a real loss.
//! RFC 6298 §2 sets the timeout from two running estimates: `srtt`, a smoothed round-trip time,
//! and `rttvar`, a smoothed mean deviation, with gains 1/8 and 1/4:
//!
//! - first sample `R`: `srtt = R`, `rttvar = R / 2`;
//! - later samples: `rttvar = 3/4 rttvar + 1/4 |srtt - R|`, then `srtt = 7/8 srtt + 1/8 R`;
//! - `rto = srtt + max(G, 4 rttvar)`, at least `min_rto` (1 s in the RFC, §2.4; Linux uses
//!   200 ms) and at most `max_rto` (the RFC allows any maximum of at least 60 s, §2.5).
//!
//! Before any sample, the timeout is 1 s (§2.1). Each time the timer expires the timeout
//! doubles (§5.5, exponential back-off) and stays doubled until a new sample arrives. Samples
//! come only from segments sent once (Karn's rule, §3): the ACK of a retransmitted segment
//! could answer either copy, so the sample would be ambiguous. The sender enforces that rule;
//! this estimator only does the arithmetic, in `Duration`s (whole nanoseconds; the divisions by
//! 8 and 4 truncate), so the tests can check the RFC's formulas exactly.

use std::time::Duration;

// ANCHOR: rto_estimator
/// RFC 6298's estimator of the retransmission timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct RtoEstimator {
    /// The smoothed round-trip time, `None` before the first sample.
    pub srtt: Option<Duration>,
    /// The smoothed mean deviation of the round-trip time.
    pub rttvar: Duration,
    /// The current timeout, back-off included. Invariant: `min_rto <= rto <= max_rto`.
    pub rto: Duration,
    /// The floor of the timeout.
    pub min_rto: Duration,
    /// The ceiling of the timeout.
    pub max_rto: Duration,
    /// The clock granularity `G`.
    pub granularity: Duration,
}

impl RtoEstimator {
    /// An estimator with RFC 6298's constants and the given floor.
    pub fn new(min_rto: Duration) -> RtoEstimator {
        let max_rto = Duration::from_secs(60);
        RtoEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: Duration::from_secs(1).clamp(min_rto, max_rto), // §2.1
            min_rto,
            max_rto,
            granularity: Duration::from_millis(1),
        }
    }

    /// Takes one round-trip sample `r` of a segment that was sent once (§2.2, §2.3).
    pub fn on_sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                self.rttvar = (self.rttvar * 3 + srtt.abs_diff(r)) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
        let srtt = self.srtt.expect("set above");
        let rto = srtt + self.granularity.max(self.rttvar * 4);
        self.rto = rto.clamp(self.min_rto, self.max_rto);
    }

    /// The timer expired: double the timeout, up to the ceiling (§5.5).
    pub fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max_rto);
    }
}
// ANCHOR_END: rto_estimator

}

pub mod segment {
//! The segment: what the two ends of a connection put on the wire.
//!
//! Like a TCP segment (RFC 9293 §3.1) it carries a sequence number (the position of its first
//! byte in the sender's byte stream), an acknowledgement number (the next byte its sender
//! expects), a receive window, two control flags and a payload. SYN and FIN each occupy one
//! sequence number, so that they are acknowledged like data. Simplifications: sequence numbers
//! are `u64` offsets that start at zero and never wrap (TCP uses 32-bit numbers that wrap and a
//! random initial sequence number), there is no checksum (the simulated link never corrupts a
//! bit) and no options (no SACK, no timestamps, no window scaling).

// ANCHOR: segment
/// One segment of the reliable transport.
#[derive(Clone, PartialEq, Eq)]
pub struct Segment {
    /// The sequence number of the first thing this segment carries (SYN, data or FIN).
    pub seq: u64,
    /// The next sequence number this segment's sender expects from its peer (cumulative:
    /// everything before it has arrived), or `None` on the very first SYN.
    pub ack: Option<u64>,
    /// How many more bytes, counted from `ack`, the sender of this segment can buffer.
    pub window: u64,
    /// Opens a connection; occupies one sequence number.
    pub syn: bool,
    /// Closes this direction of the connection; occupies one sequence number after the data.
    pub fin: bool,
    /// Reset: "I have no such connection". Sent by a closed end that receives a FIN.
    pub rst: bool,
    /// Application bytes, numbered from `seq` (or from `seq + 1` after a SYN).
    pub payload: Vec<u8>,
}
// ANCHOR_END: segment

/// A one-line summary (`SYN seq=0`, `seq=1001 ack=1 win=64000 len=1000`): the simulator
/// fingerprints every message through its `Debug` text, and a kilobyte of payload printed
/// byte by byte would dominate the cost of a run.
impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (flag, name) in [(self.syn, "SYN "), (self.fin, "FIN "), (self.rst, "RST ")] {
            if flag {
                f.write_str(name)?;
            }
        }
        write!(f, "seq={}", self.seq)?;
        if let Some(ack) = self.ack {
            write!(f, " ack={ack}")?;
        }
        write!(f, " win={} len={}", self.window, self.payload.len())
    }
}

/// Bytes of header we charge each segment on a bandwidth-limited link (IPv4 + TCP, no options).
pub const HEADER_BYTES: usize = 40;

impl Segment {
    /// A segment with no flags and no payload: a pure acknowledgement.
    pub fn ack(seq: u64, ack: u64, window: u64) -> Segment {
        Segment {
            seq,
            ack: Some(ack),
            window,
            syn: false,
            fin: false,
            rst: false,
            payload: Vec::new(),
        }
    }

    /// How many sequence numbers the segment occupies: its payload, plus one for SYN and FIN.
    pub fn seq_len(&self) -> u64 {
        self.payload.len() as u64 + u64::from(self.syn) + u64::from(self.fin)
    }

    /// The size of the segment on the wire, in bytes.
    pub fn wire_size(&self) -> usize {
        HEADER_BYTES + self.payload.len()
    }
}

}

pub mod sender {
//! The sending end: the client, which opens the connection, sends a byte stream and closes.
//!
//! The sender keeps three positions in its sequence space: `snd_una` (the oldest byte not yet
//! acknowledged), `snd_nxt` (the next byte to send) and `peer_edge` (one past the last byte the
//! receiver said it can buffer). What it may send is bounded by the smaller of two windows: the
//! receive window (`peer_edge`, flow control) and `snd_una + cwnd` (congestion control).
//!
//! Invariants, checked by the property test after every simulated event:
//! `snd_una <= snd_nxt`, and the data sent never goes past the receiver's right edge.
//!
//! Loss is detected two ways. The retransmission timer ([`RtoEstimator`], RFC 6298) fires when
//! the oldest unacknowledged segment has waited a full RTO: the sender backs off, shrinks
//! `cwnd` to one segment and resends from `snd_una` (go-back-N; without selective
//! acknowledgements it cannot know what else arrived). Three duplicate ACKs (RFC 5681 §3.2)
//! tell it sooner that one segment is missing while later ones arrive: it resends that one
//! segment and halves `cwnd` without waiting. During that recovery, a partial ACK (one that
//! acknowledges some but not all of what was outstanding) means the next segment was lost too,
//! and it is resent at once (NewReno, RFC 6582 §3.2).
//!
//! Simplifications: one segment is timed at a time (no timestamps option), the receiver's
//! window is never scaled, and the sender's own receive side carries nothing but the server's
//! FIN.

use std::collections::VecDeque;
use std::time::Duration;

use super::congestion::{grow, initial_window, ssthresh_after_loss};
use super::rto::RtoEstimator;
use super::segment::Segment;
use super::state::State;

/// The knobs of a sender.
#[derive(Clone, Debug, PartialEq)]
pub struct SenderConfig {
    /// The largest payload of a segment, in bytes.
    pub mss: u64,
    /// How many unacknowledged or unsent bytes the sender buffers for its application.
    pub send_buffer: usize,
    /// The floor of the retransmission timeout (RFC 6298 says 1 s; Linux uses 200 ms).
    pub min_rto: Duration,
    /// How long TIME-WAIT lasts (two maximum segment lifetimes).
    pub time_wait: Duration,
    /// Duplicate ACKs that trigger fast retransmit (3 in RFC 5681; 0 disables it).
    pub dupack_threshold: u32,
}

impl Default for SenderConfig {
    fn default() -> SenderConfig {
        SenderConfig {
            mss: 1000,
            send_buffer: 256 * 1024,
            min_rto: Duration::from_millis(200),
            time_wait: Duration::from_secs(2),
            dupack_threshold: 3,
        }
    }
}

/// What the sender counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Segments sent, first copies and retransmissions.
    pub segments: u64,
    /// Segments sent again.
    pub retransmissions: u64,
    /// Retransmission timer expiries.
    pub timeouts: u64,
    /// Fast retransmits (three duplicate ACKs).
    pub fast_retransmits: u64,
    /// Zero-window probes.
    pub probes: u64,
}

/// The sending end of a connection.
#[derive(Clone, Debug)]
pub struct Sender {
    config: SenderConfig,
    state: State,
    /// The oldest unacknowledged sequence number.
    snd_una: u64,
    /// The next sequence number to send. Invariant: `snd_una <= snd_nxt <= max_sent`.
    snd_nxt: u64,
    /// One past the highest sequence number ever sent; below it, a send is a retransmission.
    max_sent: u64,
    /// The application's bytes from `buffer_start` on: unacknowledged, then unsent.
    buffer: VecDeque<u8>,
    /// The sequence number of `buffer[0]`. Data starts at 1, after the SYN.
    buffer_start: u64,
    /// The sequence number of our FIN, once the application has closed.
    fin_seq: Option<u64>,
    /// One past the last byte the receiver can take: the largest `ack + window` heard.
    peer_edge: u64,
    /// The next sequence number we expect from the server (the `ack` field we send).
    peer_next: u64,
    /// The congestion window, in bytes.
    cwnd: u64,
    /// The slow-start threshold, in bytes.
    ssthresh: u64,
    /// Duplicate ACKs in a row.
    dup_acks: u32,
    /// Whether we are in fast recovery.
    in_recovery: bool,
    /// `snd_nxt` when the last loss was detected; recovery ends when it is acknowledged.
    recover: u64,
    rto: RtoEstimator,
    /// The segment being timed: (sequence number that acknowledges it, when it was sent).
    timed: Option<(u64, Duration)>,
    /// When the retransmission timer fires.
    rto_deadline: Option<Duration>,
    /// When the persist timer sends a zero-window probe.
    persist_deadline: Option<Duration>,
    /// When TIME-WAIT ends.
    time_wait_deadline: Option<Duration>,
    /// Probes sent since the window was last open.
    probes_in_a_row: u32,
    /// Segments waiting to be handed to the driver.
    outbox: Vec<Segment>,
    /// What the sender counted.
    pub stats: SenderStats,
}

/// The window every segment of the client advertises: it receives nothing but a FIN.
const CLIENT_WINDOW: u64 = 65_535;

impl Sender {
    /// A closed sender.
    pub fn new(config: SenderConfig) -> Sender {
        assert!(config.mss > 0, "a segment carries at least one byte");
        let cwnd = initial_window(config.mss);
        Sender {
            rto: RtoEstimator::new(config.min_rto),
            config,
            state: State::Closed,
            snd_una: 0,
            snd_nxt: 0,
            max_sent: 0,
            buffer: VecDeque::new(),
            buffer_start: 1,
            fin_seq: None,
            peer_edge: 0,
            peer_next: 0,
            cwnd,
            ssthresh: u64::MAX,
            dup_acks: 0,
            in_recovery: false,
            recover: 0,
            timed: None,
            rto_deadline: None,
            persist_deadline: None,
            time_wait_deadline: None,
            probes_in_a_row: 0,
            outbox: Vec::new(),
            stats: SenderStats::default(),
        }
    }

    /// Opens the connection: sends SYN (sequence number 0).
    pub fn connect(&mut self, now: Duration) {
        assert_eq!(self.state, State::Closed, "connect on an open sender");
        self.state = State::SynSent;
        self.send_at(0, 0, now);
        self.snd_nxt = 1;
        self.rto_deadline = Some(now + self.rto.rto); // RFC 6298 §5.1
    }

    /// Buffers as much of `data` as the send buffer has room for; returns how much.
    pub fn write(&mut self, data: &[u8]) -> usize {
        assert!(self.fin_seq.is_none(), "write after close");
        let room = self.config.send_buffer.saturating_sub(self.buffer.len());
        let n = room.min(data.len());
        self.buffer.extend(&data[..n]);
        n
    }

    /// Free room in the send buffer.
    pub fn send_buffer_room(&self) -> usize {
        self.config.send_buffer.saturating_sub(self.buffer.len())
    }

    /// The application is done writing: a FIN follows the last byte.
    pub fn close(&mut self) {
        if self.fin_seq.is_none() {
            self.fin_seq = Some(self.data_end());
        }
    }

    /// One past the last byte the application wrote.
    fn data_end(&self) -> u64 {
        self.buffer_start + self.buffer.len() as u64
    }

    /// The connection state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The congestion window and the slow-start threshold, in bytes.
    pub fn cwnd(&self) -> (u64, u64) {
        (self.cwnd, self.ssthresh)
    }

    /// Whether the sender is in fast recovery (its `cwnd` then counts inflation, not capacity).
    pub fn in_recovery(&self) -> bool {
        self.in_recovery
    }

    /// The retransmission timeout estimator.
    pub fn rto(&self) -> &RtoEstimator {
        &self.rto
    }

    /// One past the last data byte sent (the FIN not counted). The property test checks it
    /// never passes the receiver's right edge.
    pub fn data_sent_end(&self) -> u64 {
        match self.fin_seq {
            Some(fin) => self.snd_nxt.min(fin).max(1),
            None => self.snd_nxt.max(1),
        }
    }

    /// `(snd_una, snd_nxt)`.
    pub fn positions(&self) -> (u64, u64) {
        (self.snd_una, self.snd_nxt)
    }

    /// The earliest time at which [`Sender::on_timeout`] has something to do.
    pub fn next_timeout(&self) -> Option<Duration> {
        [
            self.rto_deadline,
            self.persist_deadline,
            self.time_wait_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles a segment from the receiver.
    pub fn on_segment(&mut self, now: Duration, seg: Segment) {
        match self.state {
            State::SynSent => {
                // Only a SYN+ACK that acknowledges our SYN opens the connection.
                if seg.syn && seg.ack == Some(1) {
                    self.peer_next = seg.seq + 1;
                    self.peer_edge = 1 + seg.window;
                    // RFC 5681 §3.1: ssthresh starts "arbitrarily high", e.g. the largest
                    // window the receiver may advertise. Ours is its first window.
                    self.ssthresh = seg.window.max(2 * self.config.mss);
                    self.snd_una = 1;
                    if let Some((1, sent)) = self.timed.take() {
                        self.rto.on_sample(now - sent);
                    }
                    self.rto_deadline = None;
                    self.state = State::Established;
                    self.send_ack();
                }
            }
            State::Established | State::FinWait1 | State::FinWait2 | State::TimeWait => {
                if seg.syn {
                    // Our ACK of the SYN+ACK was lost and the server resent it.
                    self.send_ack();
                    return;
                }
                if let Some(ack) = seg.ack {
                    self.on_ack(now, ack, seg.window, seg.payload.is_empty() && !seg.fin);
                }
                if seg.fin {
                    self.on_fin(now, seg.seq);
                }
            }
            State::Closed if seg.fin && !seg.rst => {
                // TIME-WAIT is over, but the server still resends its FIN: our last ACK was
                // lost too often. A closed end answers with a reset (RFC 9293 §3.5.2).
                let mut rst = Segment::ack(seg.ack.unwrap_or(0), seg.seq + 1, 0);
                rst.rst = true;
                self.outbox.push(rst);
            }
            State::Closed | State::Listen | State::SynReceived | State::CloseWait => {}
            State::LastAck => unreachable!("the client never closes passively"),
        }
    }

    /// The server's FIN at `seq`: acknowledge it, and linger in TIME-WAIT.
    fn on_fin(&mut self, now: Duration, seq: u64) {
        if seq == self.peer_next && self.state == State::FinWait2 {
            self.peer_next += 1;
            self.state = State::TimeWait;
            self.time_wait_deadline = Some(now + self.config.time_wait);
        }
        // Acknowledge it, and again if it comes again: our last ACK may have been lost.
        self.send_ack();
    }

    // ANCHOR: on_ack
    /// Handles the cumulative acknowledgement `ack` and the window advertised with it.
    fn on_ack(&mut self, now: Duration, ack: u64, window: u64, pure_ack: bool) {
        if ack > self.snd_nxt.max(self.max_sent) {
            return; // acknowledges something never sent: ignore it (RFC 9293 §3.10.7.4)
        }
        let old_edge = self.peer_edge;
        // The receiver never moves its right edge left, so the largest edge is the newest.
        self.peer_edge = self.peer_edge.max(ack + window);
        if ack > self.snd_una {
            let acked = ack - self.snd_una;
            self.take_rtt_sample(now, ack);
            self.release(ack);
            self.snd_una = ack;
            self.snd_nxt = self.snd_nxt.max(ack);
            self.dup_acks = 0;
            if self.in_recovery && ack < self.recover {
                // NewReno partial ACK: the next hole was lost too. Resend it at once.
                self.cwnd = self.cwnd.saturating_sub(acked).max(self.config.mss) + self.config.mss;
                self.send_at(self.snd_una, self.config.mss, now);
            } else if self.in_recovery {
                self.in_recovery = false;
                self.cwnd = self.ssthresh; // deflate: recovery is over (RFC 5681 §3.2 step 6)
            } else {
                self.cwnd = grow(self.cwnd, self.ssthresh, acked, self.config.mss);
            }
            // RFC 6298 §5.2, §5.3: stop the timer when all is acknowledged, else restart it.
            self.rto_deadline = (self.snd_una < self.snd_nxt).then(|| now + self.rto.rto);
            self.after_ack_of_fin();
        } else if ack == self.snd_una
            && pure_ack
            && self.snd_una < self.snd_nxt
            && self.peer_edge == old_edge
        {
            self.on_duplicate_ack(now);
        }
    }
    // ANCHOR_END: on_ack

    // ANCHOR: on_duplicate_ack
    /// A duplicate ACK: a segment after a hole arrived. The third in a row starts fast
    /// retransmit (RFC 5681 §3.2); later ones each mean one more segment has left the network.
    fn on_duplicate_ack(&mut self, now: Duration) {
        self.dup_acks += 1;
        let mss = self.config.mss;
        if self.in_recovery {
            self.cwnd += mss; // inflate: keep the ACK clock going (§3.2 step 4)
        } else if self.dup_acks == self.config.dupack_threshold && self.snd_una > self.recover {
            let flight = self.snd_nxt - self.snd_una;
            self.ssthresh = ssthresh_after_loss(flight, mss);
            self.cwnd = self.ssthresh + 3 * mss;
            self.in_recovery = true;
            self.recover = self.snd_nxt;
            self.stats.fast_retransmits += 1;
            self.send_at(self.snd_una, self.config.mss, now);
            self.rto_deadline = Some(now + self.rto.rto);
        }
    }
    // ANCHOR_END: on_duplicate_ack

    /// An RTT sample if `ack` covers the timed segment. The timed segment was sent once: any
    /// retransmission cancels the timing (Karn's rule, RFC 6298 §3).
    fn take_rtt_sample(&mut self, now: Duration, ack: u64) {
        if let Some((end, sent)) = self.timed
            && ack >= end
        {
            self.rto.on_sample(now - sent);
            self.timed = None;
        }
    }

    /// Forgets the application bytes below `ack`: they arrived.
    fn release(&mut self, ack: u64) {
        let upto = ack.min(self.data_end());
        if upto > self.buffer_start {
            self.buffer.drain(..(upto - self.buffer_start) as usize);
            self.buffer_start = upto;
        }
    }

    /// Moves to FIN-WAIT-2 once our FIN is acknowledged.
    fn after_ack_of_fin(&mut self) {
        if self.state == State::FinWait1 && self.fin_seq.is_some_and(|f| self.snd_una > f) {
            self.state = State::FinWait2;
            self.rto_deadline = None;
        }
    }

    // ANCHOR: on_timeout
    /// Handles whichever timers have expired at `now`.
    pub fn on_timeout(&mut self, now: Duration) {
        if self.time_wait_deadline.is_some_and(|d| d <= now) {
            self.time_wait_deadline = None;
            self.state = State::Closed;
            return;
        }
        if self.persist_deadline.is_some_and(|d| d <= now) {
            self.persist_deadline = None;
            self.send_probe(now);
        }
        if self.rto_deadline.is_some_and(|d| d <= now) {
            self.stats.timeouts += 1;
            self.rto.back_off(); // RFC 6298 §5.5
            self.timed = None; // Karn: what we resend now must not be timed
            if self.state == State::SynSent {
                self.send_at(0, 0, now);
            } else {
                // RFC 5681 §3.1 eq. 4 and the loss window of one segment; resend from snd_una.
                let flight = self.snd_nxt - self.snd_una;
                self.ssthresh = ssthresh_after_loss(flight, self.config.mss);
                self.cwnd = self.config.mss;
                self.in_recovery = false;
                self.dup_acks = 0;
                self.recover = self.snd_nxt;
                self.snd_nxt = self.snd_una;
            }
            self.rto_deadline = Some(now + self.rto.rto); // §5.6
        }
    }
    // ANCHOR_END: on_timeout

    /// A zero-window probe: an empty segment with an old sequence number, which the receiver
    /// must answer with an ACK that carries its current window (RFC 9293 §3.10.7.4). The
    /// probe interval backs off like the retransmission timer.
    fn send_probe(&mut self, now: Duration) {
        self.stats.probes += 1;
        self.stats.segments += 1;
        self.outbox.push(Segment::ack(
            self.snd_una - 1,
            self.peer_next,
            CLIENT_WINDOW,
        ));
        self.probes_in_a_row += 1;
        self.persist_deadline = Some(now + self.persist_interval());
    }

    /// The persist timer: the current RTO, doubled for every probe already unanswered by an
    /// opening window, at most 60 s.
    fn persist_interval(&self) -> Duration {
        let doublings = self.probes_in_a_row.min(10);
        (self.rto.rto * 2u32.pow(doublings)).min(Duration::from_secs(60))
    }

    // ANCHOR: poll_transmit
    /// Sends what the windows allow and returns every segment to put on the wire.
    pub fn poll_transmit(&mut self, now: Duration) -> Vec<Segment> {
        if self.state == State::Closed {
            return std::mem::take(&mut self.outbox);
        }
        if matches!(self.state, State::Established | State::FinWait1) {
            self.fill_window(now);
        }
        std::mem::take(&mut self.outbox)
    }

    /// Sends new (or, after a timeout, old) segments while both windows have room.
    fn fill_window(&mut self, now: Duration) {
        loop {
            let limit = self.peer_edge.min(self.snd_una + self.cwnd);
            let data_end = self.data_end();
            if self.snd_nxt < data_end {
                if self.snd_nxt >= limit {
                    break;
                }
                let len = (data_end - self.snd_nxt)
                    .min(limit - self.snd_nxt)
                    .min(self.config.mss);
                // Sender-side silly window avoidance: a short segment only when it is the
                // end of the data or nothing else is in flight (RFC 9293 §3.8.6.2.1).
                let tail = self.snd_nxt + len == data_end;
                if len < self.config.mss && !tail && self.snd_nxt > self.snd_una {
                    break;
                }
                let sent = self.send_at(self.snd_nxt, len, now);
                if sent == 0 {
                    break;
                }
                self.snd_nxt += sent;
            } else if self.fin_seq == Some(self.snd_nxt) {
                self.snd_nxt += self.send_at(self.snd_nxt, 0, now);
                self.state = State::FinWait1;
            } else {
                break;
            }
        }
        if self.snd_una < self.snd_nxt && self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rto.rto); // RFC 6298 §5.1
        }
        // Data waits, nothing is in flight and the window is shut: only a probe can learn
        // that it opened, should the receiver's window update be lost.
        let stalled = self.snd_una == self.snd_nxt
            && self.snd_nxt < self.data_end()
            && self.peer_edge <= self.snd_nxt;
        if !stalled {
            self.persist_deadline = None;
            self.probes_in_a_row = 0;
        } else if self.persist_deadline.is_none() {
            self.persist_deadline = Some(now + self.persist_interval());
        }
    }
    // ANCHOR_END: poll_transmit

    /// Puts the segment that starts at `seq` in the outbox: the SYN, the FIN, or at most
    /// `max_len` data bytes that end within the receive window. Returns the sequence numbers
    /// it occupies (zero if the window leaves no room).
    fn send_at(&mut self, seq: u64, max_len: u64, now: Duration) -> u64 {
        let mut seg = Segment::ack(seq, self.peer_next, CLIENT_WINDOW);
        if seq == 0 {
            seg.syn = true;
            seg.ack = None;
        } else if self.fin_seq == Some(seq) {
            seg.fin = true;
        } else {
            let end = (seq + max_len).min(self.data_end()).min(self.peer_edge);
            if end <= seq {
                return 0;
            }
            let from = (seq - self.buffer_start) as usize;
            let to = (end - self.buffer_start) as usize;
            seg.payload = self.buffer.range(from..to).copied().collect();
        }
        let end = seq + seg.seq_len();
        if seq < self.max_sent {
            self.stats.retransmissions += 1;
            if self.timed.is_some_and(|(t, _)| t > seq) {
                self.timed = None; // Karn's rule: never time a resent segment
            }
        } else if self.timed.is_none() {
            self.timed = Some((end, now));
        }
        self.max_sent = self.max_sent.max(end);
        self.stats.segments += 1;
        self.outbox.push(seg);
        end - seq
    }

    /// A pure ACK of what we received from the server.
    fn send_ack(&mut self) {
        self.outbox
            .push(Segment::ack(self.snd_nxt, self.peer_next, CLIENT_WINDOW));
    }
}
}

pub mod state {
//! The connection's life cycle: the states of RFC 9293 §3.3.2 that this transport uses.
//!
//! The client opens and closes actively; the server opens and closes passively. That covers
//! ten of TCP's eleven states; CLOSING (both ends sending FIN at once) never happens here,
//! because our server closes only after it has received the client's FIN.

// ANCHOR: state
/// Where one end of a connection is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// No connection.
    Closed,
    /// The server waits for a SYN.
    Listen,
    /// The client sent SYN and waits for SYN+ACK.
    SynSent,
    /// The server answered SYN+ACK and waits for the ACK of its SYN.
    SynReceived,
    /// Both SYNs are acknowledged: data flows.
    Established,
    /// The client sent FIN and waits for its ACK.
    FinWait1,
    /// The client's FIN is acknowledged; it waits for the server's FIN.
    FinWait2,
    /// The server received FIN; its application has not closed yet.
    CloseWait,
    /// The server sent its own FIN and waits for its ACK.
    LastAck,
    /// The client acknowledged the server's FIN and lingers, in case that ACK is lost.
    TimeWait,
}
// ANCHOR_END: state
}
}
}
