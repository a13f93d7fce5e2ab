//! Heartbeats on the simulator: a sender, and monitors that watch it through a detector.
//!
//! A [`HeartbeatSender`] sends a numbered `Heartbeat` to every monitor every `interval`,
//! unasked. A [`Monitor`] never sends anything: it learns from what arrives. That is the
//! difference from chapter 6's ping, where the monitor asks and waits for a pong; heartbeats
//! halve the messages and put the sender in charge of its own rhythm, at the price of the
//! monitor having to know (or learn) that rhythm.
//!
//! The monitor's logic lives in [`Watch`], a pure state machine with no context at all, so that
//! the experiment can replay a recorded trace through exactly the code the simulated monitor
//! runs. A watch:
//!
//! - accepts a heartbeat only if its number is higher than any seen (*fresh*). A late
//!   heartbeat overtaken by a newer one carries no news about the present; counting its
//!   arrival as an interval would teach the detector a gap that never happened.
//! - feeds the detector the gap between consecutive fresh arrivals (not before the first
//!   heartbeat: there is no gap yet).
//! - suspects the sender once more than `suspicion_delay()` has passed since the last fresh
//!   arrival (or since the watch started, if nothing arrived yet: a sender dead from the start
//!   must be suspected too), and trusts it again at the next fresh heartbeat.
//!
//! Guarantee (strong completeness, Chandra and Toueg, JACM 1996): if the sender crashes,
//! no fresh heartbeat arrives after the ones already in flight, so every monitor that stays up
//! suspects it from `last arrival + suspicion_delay` on, forever. Accuracy is not guaranteed: a
//! heartbeat later than the delay makes a correct sender suspected, which is what the
//! chapter's experiment counts.

use std::time::Duration;

use super::detector::{AnyDetector, Detector};
use crate::sim::{Ctx, NodeId, Process, Time, TimerId};

/// The sender's timer: send the next heartbeat.
const BEAT: TimerId = TimerId(0);
/// The monitor's timer: the instant just past the suspicion deadline.
const DEADLINE: TimerId = TimerId(1);

/// The one message of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeartbeatMsg {
    /// "I am alive", the `seq`-th time.
    Heartbeat { seq: u64 },
}

// ANCHOR: sender
/// Sends `Heartbeat { seq }` to every monitor every `interval`, `seq` counting from zero.
#[derive(Clone, Debug)]
pub struct HeartbeatSender {
    /// Who receives the heartbeats.
    pub monitors: Vec<NodeId>,
    /// Time between two heartbeats.
    pub interval: Duration,
    /// The number of the next heartbeat. Invariant: heartbeats `0..next_seq` were sent.
    pub next_seq: u64,
}

impl HeartbeatSender {
    fn beat(&mut self, ctx: &mut Ctx<'_, HeartbeatMsg>) {
        for &monitor in &self.monitors {
            ctx.send(monitor, HeartbeatMsg::Heartbeat { seq: self.next_seq });
        }
        self.next_seq += 1;
        ctx.set_timer(BEAT, self.interval);
    }
}
// ANCHOR_END: sender

// ANCHOR: watch
/// A monitor's view of one sender, as a pure state machine.
#[derive(Clone, Debug)]
pub struct Watch<D> {
    /// Turns the arrival history into a suspicion delay.
    pub detector: D,
    /// The highest heartbeat number seen, if any. Only higher numbers are fresh.
    pub highest_seq: Option<u64>,
    /// When the last fresh heartbeat arrived (or the watch started, before any).
    pub last_arrival: Time,
    /// Whether the sender is suspected now.
    pub suspected: bool,
    /// The instants at which suspicion began, in order.
    pub suspicions: Vec<Time>,
    /// Heartbeats that arrived after a higher-numbered one, and were ignored.
    pub stale: u64,
}

impl<D: Detector> Watch<D> {
    /// A watch started at `now`, trusting the sender.
    pub fn new(detector: D, now: Time) -> Watch<D> {
        Watch {
            detector,
            highest_seq: None,
            last_arrival: now,
            suspected: false,
            suspicions: Vec::new(),
            stale: 0,
        }
    }

    /// The last instant at which the sender is still trusted without news.
    pub fn deadline(&self) -> Time {
        self.last_arrival + self.detector.suspicion_delay()
    }

    /// Handles heartbeat `seq` arriving at `now`. Returns whether it was fresh.
    pub fn on_heartbeat(&mut self, seq: u64, now: Time) -> bool {
        if self.highest_seq.is_some_and(|h| seq <= h) {
            self.stale += 1;
            return false;
        }
        if self.highest_seq.is_some() {
            self.detector.record(now.since(self.last_arrival));
        }
        self.highest_seq = Some(seq);
        self.last_arrival = now;
        self.suspected = false;
        true
    }

    /// Suspects the sender if the deadline has passed at `now` and it is not suspected yet.
    pub fn check(&mut self, now: Time) {
        if !self.suspected && now > self.deadline() {
            self.suspected = true;
            self.suspicions.push(now);
        }
    }
}
// ANCHOR_END: watch

// ANCHOR: monitor
/// A simulated monitor: a [`Watch`] on the sender, driven by messages and one timer.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// The monitor's view of the sender.
    pub watch: Watch<AnyDetector>,
    /// Every heartbeat that arrived, `(seq, local time)`, if recording is on.
    pub arrivals: Option<Vec<(u64, Time)>>,
}

impl Monitor {
    /// A monitor using `detector`; with `record`, it keeps every arrival for later replay.
    pub fn new(detector: AnyDetector, record: bool) -> Monitor {
        Monitor {
            watch: Watch::new(detector, Time::ZERO),
            arrivals: record.then(Vec::new),
        }
    }

    /// Sets the timer for one nanosecond past the deadline: suspicion starts strictly after.
    fn arm(&self, ctx: &mut Ctx<'_, HeartbeatMsg>) {
        let fire_at = self.watch.deadline() + Duration::from_nanos(1);
        ctx.set_timer(DEADLINE, fire_at.since(ctx.now()));
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, HeartbeatMsg>, seq: u64) {
        let now = ctx.now();
        if let Some(arrivals) = &mut self.arrivals {
            arrivals.push((seq, now));
        }
        let was_suspected = self.watch.suspected;
        if self.watch.on_heartbeat(seq, now) {
            if was_suspected {
                ctx.count("trust_restored");
            }
            self.arm(ctx);
        } else {
            ctx.count("stale_heartbeats");
        }
    }
}
// ANCHOR_END: monitor

/// A node of a heartbeat run: the sender or a monitor.
#[derive(Clone, Debug)]
pub enum HeartbeatNode {
    Sender(HeartbeatSender),
    Monitor(Monitor),
}

impl Process for HeartbeatNode {
    type Msg = HeartbeatMsg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, HeartbeatMsg>) {
        match self {
            HeartbeatNode::Sender(s) => s.beat(ctx),
            HeartbeatNode::Monitor(m) => {
                m.watch = Watch::new(m.watch.detector.clone(), ctx.now());
                m.arm(ctx);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, HeartbeatMsg>, _from: NodeId, msg: HeartbeatMsg) {
        match (self, msg) {
            (HeartbeatNode::Monitor(m), HeartbeatMsg::Heartbeat { seq }) => {
                m.on_heartbeat(ctx, seq)
            }
            (HeartbeatNode::Sender(_), msg) => panic!("{msg:?} reached the sender"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, HeartbeatMsg>, timer: TimerId) {
        match (self, timer) {
            (HeartbeatNode::Sender(s), BEAT) => s.beat(ctx),
            (HeartbeatNode::Monitor(m), DEADLINE) => {
                m.watch.check(ctx.now());
                assert!(
                    m.watch.suspected,
                    "the deadline timer fired before the deadline"
                );
                ctx.count("suspicions");
            }
            (_, other) => unreachable!("unknown timer {other:?}"),
        }
    }

    fn durable(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::failure_detection::detector::FixedTimeout;

    fn ms(n: u64) -> Time {
        Time::from_millis(n)
    }

    /// A transcript: heartbeats and checks, with a 150 ms fixed timeout.
    #[test]
    fn watch_suspects_after_the_delay_ignores_stale_heartbeats_and_trusts_again() {
        let timeout = FixedTimeout {
            timeout: Duration::from_millis(150),
        };
        let mut w = Watch::new(timeout, ms(0));
        w.check(ms(150)); // exactly at the deadline: still trusted
        assert!(!w.suspected);
        w.check(ms(151));
        assert_eq!(w.suspicions, vec![ms(151)], "nothing arrived within 150 ms");
        assert!(w.on_heartbeat(1, ms(160)));
        assert!(!w.suspected, "a fresh heartbeat restores trust");
        assert!(!w.on_heartbeat(0, ms(170)), "heartbeat 0 is older than 1");
        assert_eq!((w.stale, w.last_arrival), (1, ms(160)));
        w.check(ms(300));
        assert!(!w.suspected, "160 + 150 = 310 is the new deadline");
        w.check(ms(311));
        assert!(w.suspected);
        assert_eq!(w.suspicions.len(), 2);
    }
}
