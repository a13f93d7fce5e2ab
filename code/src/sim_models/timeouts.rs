//! Model A: many processes waiting for timeouts.
//!
//! The simplest possible load on an event loop: `processes` processes each set a timer of one
//! second, wake up, and set it again, `timeouts_each` times. With 1,000 processes and 1,000
//! timeouts each, the simulator handles exactly 1,000,000 timer events (plus one start event per
//! process), and virtual time ends at 1,000 s. In SimPy the same model is a generator that does
//! `yield env.timeout(1)` in a loop, so both sides pay for one scheduled event per timeout.
//!
//! What it measures: pushing and popping the event queue (a binary heap of 1,000 pending
//! timers), the per-node timer table that recognises stale timers, and dispatching a handler.
//! What it leaves out: messages, randomness, and any work in the handler.

use std::time::Duration;

use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId, TraceLevel};

/// The one timer each process uses.
const WAKE: TimerId = TimerId(0);

// ANCHOR: waiter
/// A process that waits for a one-second timeout, `target` times in a row.
#[derive(Clone, Debug)]
pub struct Waiter {
    /// How many timeouts to wait for in all.
    target: u32,
    /// How many have fired so far. Invariant: `fired <= target`.
    fired: u32,
}

impl Process for Waiter {
    type Msg = ();
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, ()>) {
        if self.target > 0 {
            ctx.set_timer(WAKE, Duration::from_secs(1));
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, ()>, _from: NodeId, _msg: ()) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_, ()>, _timer: TimerId) {
        self.fired += 1;
        if self.fired < self.target {
            ctx.set_timer(WAKE, Duration::from_secs(1));
        }
    }

    fn durable(&self) {}
}
// ANCHOR_END: waiter

/// What a run of model A did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Every event the simulator processed: one start per process plus every timeout.
    pub events: u64,
    /// Timeouts that fired, summed over the processes (the events SimPy also counts).
    pub timeouts: u64,
    /// Virtual time when the last timeout fired.
    pub end: Time,
}

/// Runs `processes` waiters of `timeouts_each` one-second timeouts each, tracing off.
pub fn run(processes: usize, timeouts_each: u32) -> Report {
    let waiters = vec![
        Waiter {
            target: timeouts_each,
            fired: 0,
        };
        processes
    ];
    // No messages are sent, so the link and the seed play no part.
    let mut sim = Sim::new(0, LinkConfig::constant(Duration::ZERO), waiters);
    sim.set_trace(TraceLevel::Off);
    while sim.step().expect("model A has no invariants") {}
    let timeouts = (0..processes)
        .map(|i| u64::from(sim.process(NodeId(i)).expect("never crashed").fired))
        .sum();
    Report {
        events: sim.events_processed(),
        timeouts,
        end: sim.now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_timeouts_are_a_million_timer_events() {
        let report = run(1_000, 1_000);
        assert_eq!(report.timeouts, 1_000_000);
        // One start event per process, and nothing else besides the timers.
        assert_eq!(report.events, 1_000_000 + 1_000);
        assert_eq!(report.end, Time::from_millis(1_000_000));
    }

    #[test]
    fn zero_timeouts_is_only_the_starts() {
        let report = run(3, 0);
        assert_eq!((report.events, report.timeouts), (3, 0));
        assert_eq!(report.end, Time::ZERO);
    }
}
