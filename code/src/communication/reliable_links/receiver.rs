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
