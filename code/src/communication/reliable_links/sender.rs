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
