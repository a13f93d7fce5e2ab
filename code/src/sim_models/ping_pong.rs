//! Model B: ping-pong, one message round trip at a time.
//!
//! Two processes and two one-way queues between them. The pinger sends `Ping(k)`; the ponger
//! holds it for one second of virtual time (think of it as service time) and sends `Pong(k)`
//! back; when the pong arrives the pinger counts a round trip and sends the next ping. In
//! SimPy the queues are two `simpy.Store`s and each round trip is a `put`, a `get`, a
//! `timeout(1)` and a `put` back (and the matching `get`). Here the queues are the network's two
//! directed links with zero latency, and the hold is a timer, so a round trip is three events:
//! two deliveries and one timer.
//!
//! What it measures: the path of a message through the simulator (the effect buffer, the
//! network's decision about its fate, the event queue, the delivery) plus one timer, which is
//! the skeleton of every request-response protocol in the book. With 200,000 round trips
//! virtual time ends at 200,000 s.

use std::time::Duration;

use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId, TraceLevel};

/// The pinger is node 0, the ponger node 1.
const PINGER: NodeId = NodeId(0);
const PONGER: NodeId = NodeId(1);
/// The ponger's timer for the one-second hold.
const HOLD: TimerId = TimerId(0);

/// What the two processes send each other; the number is the round trip it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg {
    Ping(u64),
    Pong(u64),
}

/// One of the two ends.
#[derive(Clone, Debug)]
pub enum Player {
    /// Starts each round trip and counts the finished ones.
    Pinger {
        /// How many round trips to make.
        target: u64,
        /// Round trips finished. Invariant: `round_trips <= target`.
        round_trips: u64,
    },
    /// Holds each ping for a second, then answers it.
    Ponger {
        /// The ping being held, if any. Invariant: at most one, as the pinger waits.
        held: Option<u64>,
    },
}

// ANCHOR: ping_pong
impl Process for Player {
    type Msg = Msg;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        if let Player::Pinger { target, .. } = self
            && *target > 0
        {
            ctx.send(PONGER, Msg::Ping(0));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _from: NodeId, msg: Msg) {
        match (self, msg) {
            (Player::Ponger { held }, Msg::Ping(k)) => {
                assert!(held.is_none(), "ping {k} arrived while another was held");
                *held = Some(k);
                ctx.set_timer(HOLD, Duration::from_secs(1));
            }
            (
                Player::Pinger {
                    target,
                    round_trips,
                },
                Msg::Pong(k),
            ) => {
                assert_eq!(k, *round_trips, "pongs arrive in order");
                *round_trips += 1;
                if *round_trips < *target {
                    ctx.send(PONGER, Msg::Ping(k + 1));
                }
            }
            (_, msg) => panic!("{msg:?} sent to the wrong player"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Msg>, _timer: TimerId) {
        if let Player::Ponger { held } = self {
            let k = held
                .take()
                .expect("the hold timer runs only while a ping is held");
            ctx.send(PINGER, Msg::Pong(k));
        }
    }

    fn durable(&self) {}
}
// ANCHOR_END: ping_pong

/// What a run of model B did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Every event the simulator processed: two starts, then two deliveries and a timer per
    /// round trip.
    pub events: u64,
    /// Round trips the pinger completed.
    pub round_trips: u64,
    /// Virtual time when the last pong arrived.
    pub end: Time,
}

/// Runs `round_trips` round trips over zero-latency links, tracing off.
pub fn run(round_trips: u64) -> Report {
    let players = vec![
        Player::Pinger {
            target: round_trips,
            round_trips: 0,
        },
        Player::Ponger { held: None },
    ];
    // Zero latency and no faults: the link is a plain FIFO queue, like a SimPy `Store`.
    let mut sim = Sim::new(0, LinkConfig::constant(Duration::ZERO), players);
    sim.set_trace(TraceLevel::Off);
    while sim.step().expect("model B has no invariants") {}
    let done = match sim.process(PINGER) {
        Some(Player::Pinger { round_trips, .. }) => *round_trips,
        _ => unreachable!("node 0 is the pinger"),
    };
    Report {
        events: sim.events_processed(),
        round_trips: done,
        end: sim.now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_trip_completes() {
        let report = run(200_000);
        assert_eq!(report.round_trips, 200_000);
        // Two starts, then two deliveries and one timer per round trip.
        assert_eq!(report.events, 2 + 3 * 200_000);
        // Each round trip holds the ping one second; the messages themselves take no time.
        assert_eq!(report.end, Time::from_millis(200_000_000));
    }
}
