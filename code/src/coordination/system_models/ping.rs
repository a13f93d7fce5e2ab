//! The ping/timeout protocol: the simplest failure detector, and the chapter's probe.
//!
//! A [`Monitor`] sends its [`Target`] a `Ping` every `period` and waits `timeout` for the
//! matching `Pong`. A ping whose pong has not arrived by then is *missed*, and the monitor
//! starts to *suspect* the target. Any pong that does arrive, even a late one, proves the target
//! was running after that ping was sent, so the monitor trusts it again: it is an *eventually
//! perfect* detector in the making (Chandra and Toueg, "Unreliable failure detectors for
//! reliable distributed systems", JACM 43(2), 1996), whose suspicions may be wrong but are
//! revised.
//!
//! Whether a suspicion is *right* is not something the monitor can know; that is the point of
//! the chapter. Under a synchronous model with a known round-trip bound, a timeout at or above
//! the bound makes every suspicion right. Under an asynchronous model no timeout does: a pong
//! can always be later. [`scenario`](super::scenario) runs this protocol under each timing model
//! and judges each suspicion against what really happened to the target.
//!
//! The deadline is inclusive: a pong that arrives exactly `timeout` after its ping is on time.
//! The monitor's deadline timer therefore fires one nanosecond after the deadline, so that a pong
//! arriving at the deadline itself is handled first.
//!
//! Pongs carry the target's *incarnation*, a counter it keeps on disk and increments on every
//! restart, so that the monitor can tell a target that came back from one that never left. This
//! is closer to the *generation* that Cassandra's gossip keeps on disk and bumps on restart than
//! to SWIM's incarnation number (Das, Gupta and Motivala, DSN 2002, §4.2), which a member bumps
//! itself, while running, to refute a suspicion about it that it hears gossiped.

use std::collections::VecDeque;
use std::time::Duration;

use super::process_models::Conduct;
use crate::sim::{Ctx, NodeId, Process, Time, TimerId};

/// The monitor is node 0, the target node 1, in every run of this module.
pub const MONITOR: NodeId = NodeId(0);
/// The monitored node.
pub const TARGET: NodeId = NodeId(1);

/// The monitor's periodic timer: send the next ping.
const TICK: TimerId = TimerId(0);
/// The monitor's timer for the oldest unanswered ping's deadline.
const DEADLINE: TimerId = TimerId(1);

/// The two messages of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingMsg {
    /// "Are you there?", numbered by the monitor.
    Ping { seq: u64 },
    /// "Yes", answering ping `seq`, from the target's `incarnation`.
    Pong { seq: u64, incarnation: u64 },
}

// ANCHOR: pong_is_late
/// Whether a pong arriving at `arrived_at` is too late for a ping sent at `sent_at`.
/// The deadline is inclusive: arriving exactly `timeout` after the ping is on time.
pub fn pong_is_late(sent_at: Time, timeout: Duration, arrived_at: Time) -> bool {
    arrived_at > sent_at + timeout
}
// ANCHOR_END: pong_is_late

/// One time the monitor began to suspect the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suspicion {
    /// When the monitor started suspecting (its local clock).
    pub at: Time,
    /// The ping whose missing pong triggered it.
    pub ping: u64,
    /// When that ping was sent (the monitor's local clock).
    pub ping_sent_at: Time,
}

// ANCHOR: monitor
/// Pings the target every `period`; suspects it when a pong is later than `timeout`.
#[derive(Clone, Debug)]
pub struct Monitor {
    /// Who is monitored.
    pub target: NodeId,
    /// Time between two pings.
    pub period: Duration,
    /// How long a pong may take, round trip included.
    pub timeout: Duration,
    /// The number of the next ping. Invariant: every ping sent so far has a smaller number.
    pub next_seq: u64,
    /// Pings not yet answered nor missed, oldest first, with their sending times.
    /// Invariant: sorted by number and by sending time.
    pub outstanding: VecDeque<(u64, Time)>,
    /// Whether the monitor currently suspects the target.
    pub suspected: bool,
    /// Every time suspicion began, in order.
    pub suspicions: Vec<Suspicion>,
    /// Pongs that came after their ping was already declared missed.
    pub late_pongs: u64,
    /// Pongs for pings never sent: impossible from an honest target.
    pub bogus_pongs: u64,
    /// The highest incarnation of the target seen in a pong.
    pub incarnation_seen: u64,
}
// ANCHOR_END: monitor

impl Monitor {
    /// A monitor of `target`, trusting it at first.
    pub fn new(target: NodeId, period: Duration, timeout: Duration) -> Monitor {
        Monitor {
            target,
            period,
            timeout,
            next_seq: 0,
            outstanding: VecDeque::new(),
            suspected: false,
            suspicions: Vec::new(),
            late_pongs: 0,
            bogus_pongs: 0,
            incarnation_seen: 0,
        }
    }

    // ANCHOR: tick
    /// Sends the next ping and schedules the one after it.
    fn tick(&mut self, ctx: &mut Ctx<'_, PingMsg>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        ctx.send(self.target, PingMsg::Ping { seq });
        self.outstanding.push_back((seq, ctx.now()));
        if self.outstanding.len() == 1 {
            self.arm_deadline(ctx);
        }
        ctx.set_timer(TICK, self.period);
    }

    /// Sets the deadline timer for the oldest waiting ping, or cancels it if none waits.
    fn arm_deadline(&mut self, ctx: &mut Ctx<'_, PingMsg>) {
        match self.outstanding.front() {
            Some(&(_, sent_at)) => {
                // One nanosecond past the inclusive deadline; see the module comment.
                let fire_at = sent_at + self.timeout + Duration::from_nanos(1);
                ctx.set_timer(DEADLINE, fire_at.since(ctx.now()));
            }
            None => ctx.cancel_timer(DEADLINE),
        }
    }
    // ANCHOR_END: tick

    // ANCHOR: expire
    /// Declares missed every ping whose deadline has passed, suspecting the target if it was
    /// trusted, then re-arms the deadline timer for the oldest ping still waiting.
    fn expire(&mut self, ctx: &mut Ctx<'_, PingMsg>) {
        let now = ctx.now();
        while let Some(&(seq, sent_at)) = self.outstanding.front() {
            if !pong_is_late(sent_at, self.timeout, now) {
                break;
            }
            self.outstanding.pop_front();
            ctx.count("missed_pings");
            if !self.suspected {
                self.suspected = true;
                let suspicion = Suspicion {
                    at: now,
                    ping: seq,
                    ping_sent_at: sent_at,
                };
                self.suspicions.push(suspicion);
                ctx.count("suspicions");
                ctx.observe("suspicion_at_s", now.as_secs_f64());
            }
        }
        self.arm_deadline(ctx);
    }
    // ANCHOR_END: expire

    // ANCHOR: on_pong
    fn on_pong(&mut self, ctx: &mut Ctx<'_, PingMsg>, seq: u64, incarnation: u64) {
        if seq >= self.next_seq {
            // An answer to a question never asked: the target is lying (or buggy). Ignore it.
            self.bogus_pongs += 1;
            ctx.count("bogus_pongs");
            return;
        }
        // First settle every deadline that has passed. The pong and the deadline timer can fall
        // at the same instant, and the simulator may hand us the pong first; expiring here makes
        // the verdict the same whichever of the two events runs first.
        self.expire(ctx);
        match self.outstanding.iter().position(|&(s, _)| s == seq) {
            Some(i) => {
                self.outstanding.remove(i);
                if i == 0 {
                    self.arm_deadline(ctx);
                }
            }
            None => {
                self.late_pongs += 1;
                ctx.count("late_pongs");
            }
        }
        self.incarnation_seen = self.incarnation_seen.max(incarnation);
        if self.suspected {
            // The target was alive after this ping was sent: the suspicion was premature.
            self.suspected = false;
            ctx.count("trust_restored");
        }
    }
    // ANCHOR_END: on_pong
}

// ANCHOR: target
/// Answers every ping with a pong, as its conduct dictates.
#[derive(Clone, Debug)]
pub struct Target {
    /// How many times this target has restarted. Kept on disk.
    pub incarnation: u64,
    /// Honest, or one of the lies of a Byzantine target.
    pub conduct: Conduct,
}

impl Target {
    /// A target in its first incarnation.
    pub fn new(conduct: Conduct) -> Target {
        Target {
            incarnation: 0,
            conduct,
        }
    }

    /// The target that comes back after a crash: what was on disk, one incarnation later.
    pub fn restarted(incarnation_on_disk: u64, conduct: Conduct) -> Target {
        Target {
            incarnation: incarnation_on_disk + 1,
            conduct,
        }
    }
}
// ANCHOR_END: target

/// A node of a ping run: the monitor or the target.
#[derive(Clone, Debug)]
pub enum PingNode {
    Monitor(Monitor),
    Target(Target),
}

impl Process for PingNode {
    type Msg = PingMsg;
    /// The target's incarnation (the monitor keeps nothing).
    type Durable = u64;

    fn on_start(&mut self, ctx: &mut Ctx<'_, PingMsg>) {
        if let PingNode::Monitor(m) = self {
            m.tick(ctx);
        }
    }

    // ANCHOR: on_message
    fn on_message(&mut self, ctx: &mut Ctx<'_, PingMsg>, from: NodeId, msg: PingMsg) {
        match (self, msg) {
            (PingNode::Target(t), PingMsg::Ping { seq }) => {
                let pong = t.conduct.pong_for(seq, t.incarnation);
                ctx.send(from, pong);
            }
            (PingNode::Monitor(m), PingMsg::Pong { seq, incarnation }) => {
                m.on_pong(ctx, seq, incarnation);
            }
            (_, msg) => panic!("{msg:?} reached the wrong node"),
        }
    }
    // ANCHOR_END: on_message

    // ANCHOR: on_timer
    fn on_timer(&mut self, ctx: &mut Ctx<'_, PingMsg>, timer: TimerId) {
        let PingNode::Monitor(m) = self else {
            unreachable!("only the monitor sets timers")
        };
        match timer {
            TICK => m.tick(ctx),
            DEADLINE => m.expire(ctx),
            other => unreachable!("unknown timer {other:?}"),
        }
    }
    // ANCHOR_END: on_timer

    fn durable(&self) -> u64 {
        match self {
            PingNode::Monitor(_) => 0,
            PingNode::Target(t) => t.incarnation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_is_late_only_strictly_after_the_deadline() {
        let ms = Time::from_millis;
        let timeout = Duration::from_millis(20);
        // (sent at, arrived at, late?)
        let cases = [
            (ms(0), ms(0), false),
            (ms(0), ms(19), false),
            (ms(0), ms(20), false),
            (ms(0), Time(20_000_001), true),
            (ms(100), ms(110), false),
            (ms(100), ms(121), true),
            (ms(100), ms(50), false),
        ];
        for (sent, arrived, late) in cases {
            assert_eq!(
                pong_is_late(sent, timeout, arrived),
                late,
                "sent {sent}, arrived {arrived}"
            );
        }
    }
}
