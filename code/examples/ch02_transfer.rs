//! Chapter 2's runnable listing: the transport's sender and receiver moving a message across a
//! tiny in-file link that loses, duplicates and delays segments at random. Change `LOSS` or
//! `DUPLICATE`, run again, and watch the counters move while the message still arrives whole.
//!
//! Run: `cargo run --release -p uds --example ch02_transfer`
//!
//! playground-bundle: communication::reliable_links::segment communication::reliable_links::rto communication::reliable_links::congestion communication::reliable_links::state communication::reliable_links::sender communication::reliable_links::receiver

use std::time::Duration;

use uds::communication::reliable_links::receiver::{Receiver, ReceiverConfig};
use uds::communication::reliable_links::segment::Segment;
use uds::communication::reliable_links::sender::{Sender, SenderConfig};
use uds::communication::reliable_links::state::State;

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
