//! Timing models: what may be assumed about message delays, as simulator latencies.
//!
//! - **Synchronous**: every message arrives within a bound that is known in advance (and
//!   processes take bounded time per step). Here: a latency uniform in `[min, max]`, so `max`
//!   is the known bound and twice it bounds a round trip (our links lose nothing and our
//!   processes answer in zero time; a lost pong would be a false suspicion even here).
//! - **Asynchronous**: no bound at all; a message arrives eventually, after any finite delay.
//!   Here: a Pareto latency, whose tail falls off so slowly that for any timeout there is a
//!   fair chance, over a long run, of a message taking longer (up to the simulator's cap of one
//!   day per delay). Fischer, Lynch and Paterson
//!   ("Impossibility of distributed consensus with one faulty process", JACM 32(2), 1985)
//!   showed that in this model no deterministic algorithm solves consensus if even one process
//!   may crash: a slow process and a dead one look the same forever.
//! - **Partially synchronous** (Dwork, Lynch and Stockmeyer, "Consensus in the presence of
//!   partial synchrony", JACM 35(2), 1988): a bound exists but holds only after an unknown
//!   *global stabilisation time* (GST); before it, the system is asynchronous. Here: Pareto
//!   latencies until `gst`, then [`Sim::set_link`] switches every link to the bounded
//!   distribution. Algorithms for this model (Paxos, Raft) are always safe and make progress
//!   once the system has been calm long enough.
//!
//! The switch at GST applies to messages *sent* after it, because the simulator decides a
//! message's delay when it is sent; a message sent just before GST may still arrive very late.
//! That is within DLS's model. Their paper has two variants (§1): in one the bound always holds
//! but is unknown to the processes; in the other it is known but holds only from GST on, and
//! messages sent before GST may even be lost (§2). Ours is the second, so claims about partial
//! synchrony are stated for messages sent at or after GST.

use std::time::Duration;

use crate::sim::{InvariantViolation, Latency, LinkConfig, NodeId, Process, Sim, Time};

/// A latency with a known bound: uniform in `[min, max]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounded {
    pub min: Duration,
    /// The known bound on one message's delay.
    pub max: Duration,
}

/// A latency with no bound: Pareto with minimum `scale` and tail index `shape`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unbounded {
    pub scale: Duration,
    /// Smaller is heavier: the chance of a delay above `x` falls like `x^-shape`.
    pub shape: f64,
}

// ANCHOR: timing_model
/// The three timing models, each with the parameters of its delay distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimingModel {
    /// Delays never exceed a known bound.
    Synchronous(Bounded),
    /// Delays have no bound.
    Asynchronous(Unbounded),
    /// Asynchronous until `gst` into the run, synchronous after.
    PartiallySynchronous {
        before: Unbounded,
        gst: Duration,
        after: Bounded,
    },
}
// ANCHOR_END: timing_model

/// The bounded delays the book uses: 1 to 10 ms one way.
pub const BOOK_BOUNDED: Bounded = Bounded {
    min: Duration::from_millis(1),
    max: Duration::from_millis(10),
};

/// The unbounded delays the book uses: Pareto from 2 ms with tail index 1.5. Its median, about
/// 3.2 ms, is lower than the bounded model's 5.5 ms; the difference that matters is the tail.
pub const BOOK_UNBOUNDED: Unbounded = Unbounded {
    scale: Duration::from_millis(2),
    shape: 1.5,
};

// ANCHOR: links
impl TimingModel {
    /// The three models with the book's parameters; partial synchrony stabilises at `gst`.
    pub fn book_models(gst: Duration) -> [TimingModel; 3] {
        [
            TimingModel::Synchronous(BOOK_BOUNDED),
            TimingModel::Asynchronous(BOOK_UNBOUNDED),
            TimingModel::PartiallySynchronous {
                before: BOOK_UNBOUNDED,
                gst,
                after: BOOK_BOUNDED,
            },
        ]
    }

    /// A short name for tables and legends.
    pub fn name(&self) -> &'static str {
        match self {
            TimingModel::Synchronous(_) => "synchronous",
            TimingModel::Asynchronous(_) => "asynchronous",
            TimingModel::PartiallySynchronous { .. } => "partially synchronous",
        }
    }

    /// The link every node starts with: lossless, so that only timing differs between models.
    pub fn initial_link(&self) -> LinkConfig {
        let zero = Duration::ZERO;
        let link = LinkConfig::constant(zero);
        match self {
            TimingModel::Synchronous(b) => link.with_latency(b.latency()),
            TimingModel::Asynchronous(u) => link.with_latency(u.latency()),
            TimingModel::PartiallySynchronous { before, .. } => link.with_latency(before.latency()),
        }
    }

    /// When the links change, and to what: only partial synchrony has a GST.
    pub fn stabilisation(&self) -> Option<(Time, LinkConfig)> {
        match self {
            TimingModel::PartiallySynchronous { gst, after, .. } => {
                let link = LinkConfig::constant(Duration::ZERO).with_latency(after.latency());
                Some((Time::ZERO + *gst, link))
            }
            _ => None,
        }
    }

    /// The round-trip bound a process may rely on from the start, if the model gives one.
    pub fn round_trip_bound(&self) -> Option<Duration> {
        match self {
            TimingModel::Synchronous(b) => Some(b.max * 2),
            _ => None,
        }
    }
}
// ANCHOR_END: links

impl Bounded {
    fn latency(&self) -> Latency {
        Latency::Uniform {
            min: self.min,
            max: self.max,
        }
    }
}

impl Unbounded {
    fn latency(&self) -> Latency {
        Latency::Pareto {
            scale: self.scale,
            shape: self.shape,
        }
    }
}

// ANCHOR: run_until
/// Runs `sim` (built with `model.initial_link()`) up to `until`, switching every link to the
/// bounded distribution when the run crosses the model's GST.
pub fn run_until<P: Process>(
    model: &TimingModel,
    sim: &mut Sim<P>,
    until: Time,
) -> Result<(), InvariantViolation> {
    if let Some((gst, calm)) = model.stabilisation()
        && sim.now() < gst
        && gst <= until
    {
        // Stop just before GST, so that a message sent at GST itself already gets a calm link.
        sim.run_until(gst - Duration::from_nanos(1))?;
        let n = sim.node_count();
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                sim.set_link(NodeId(from), NodeId(to), calm.clone());
            }
        }
    }
    sim.run_until(until)
}
// ANCHOR_END: run_until

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn only_the_synchronous_model_promises_a_round_trip_bound() {
        let [sync, asynchronous, partial] = TimingModel::book_models(Duration::from_secs(60));
        assert_eq!(sync.round_trip_bound(), Some(Duration::from_millis(20)));
        assert_eq!(asynchronous.round_trip_bound(), None);
        assert_eq!(partial.round_trip_bound(), None);
        assert!(sync.stabilisation().is_none());
        assert_eq!(
            partial.stabilisation().map(|(t, _)| t),
            Some(Time::from_millis(60_000))
        );
    }

    #[test]
    fn bounded_delays_stay_within_the_bound_and_unbounded_ones_do_not() {
        let mut rng = SimRng::seed_from_u64(6);
        let bounded = BOOK_BOUNDED.latency();
        let unbounded = BOOK_UNBOUNDED.latency();
        let draws = 100_000;
        let bound = BOOK_BOUNDED.max;
        assert!((0..draws).all(|_| rng.sample(&bounded) <= bound));
        // P(Pareto > 10 ms) = (2/10)^1.5, about 9%: plenty of draws beyond the bound.
        let beyond = (0..draws)
            .filter(|_| rng.sample(&unbounded) > bound)
            .count();
        assert!((8_000..10_000).contains(&beyond), "{beyond} draws beyond");
    }
}
