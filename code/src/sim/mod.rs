//! A deterministic discrete-event simulator for distributed protocols.
//!
//! The simulator runs protocols written as sans-I/O state machines (see [`Process`]) on a
//! simulated network and simulated clocks, under faults you script or draw at random. It is the
//! Rust counterpart of the SimPy models a reader may know, with three differences that matter for
//! distributed systems:
//!
//! - **Determinism.** One seed fixes the whole run. Same seed, same trace, byte for byte
//!   ([`Sim::trace_hash`]). A failing run is a seed; a seed is a bug report.
//! - **Faults as first-class input.** Message loss, duplication, reordering, latency tails,
//!   bandwidth, partitions (both ways or one way), crashes with durable state, pauses and clock
//!   drift are all configuration ([`LinkConfig`], [`Fault`], [`Clock`], [`Nemesis`]).
//! - **Invariants after every event.** A check registered with [`Sim::add_invariant`] sees the
//!   whole system between any two events, which no test of a real deployment can.
//!
//! Layout: `rng` (seeded randomness), `time` (virtual time), `process` (the protocol contract),
//! `network` (links and partitions), `clock` (drift), `faults` (schedules and the nemesis),
//! `world` (the event loop), `metrics`, `trace`, `campaign` (many seeds on many cores).

mod campaign;
mod clock;
mod faults;
mod metrics;
mod network;
mod process;
mod rng;
mod time;
mod trace;
mod world;

pub use campaign::{Campaign, CampaignReport};
pub use clock::Clock;
pub use faults::{Fault, FaultSchedule, Nemesis, ScheduleError};
pub use metrics::{Histogram, Metrics};
pub use network::{DropReason, Fate, Latency, LinkConfig, Network};
pub use process::{Ctx, Effect, NodeId, Process, TimerId};
pub use rng::{Exponential, SimRng, StandardNormal, Zipf, rng_stream};
pub use time::{Time, nanos, parse_duration};
pub use trace::{Fnv64, TraceEvent, TraceKind, TraceLevel};
pub use world::{InvariantViolation, NetStats, NodeState, Sim};
