//! Three reference models, to measure the simulator against SimPy.
//!
//! SimPy is the discrete-event simulator most readers know, so it is the yardstick. The three
//! models below are small on purpose: each one stresses a single part of an event loop, and each
//! has a twin in `benches/simpy/models.py` that does the same work in SimPy.
//!
//! - [`timeouts`] (model A): 1,000 processes that each wait 1,000 times for a timeout of one
//!   second. Nothing but the event queue and timer bookkeeping: the raw events per second.
//! - [`ping_pong`] (model B): two processes bounce a message back and forth, the receiver
//!   holding it for one second each time. Message delivery plus a timer: the cost of one
//!   round trip of a protocol.
//! - [`mm1`] (model C): the M/M/1 queue, the "hello world" of queueing theory. Random arrivals
//!   and service times, a FIFO queue, and an answer that theory knows exactly
//!   (`1 / (mu - lambda)`), so the model checks the simulator's correctness as well as its speed.
//!
//! Every model runs with tracing off ([`TraceLevel::Off`](crate::sim::TraceLevel)) when
//! benchmarked, as a SimPy model records nothing it is not asked to. `cargo run --release -p
//! uds-benches --bin simpy_compare` times both sides and writes
//! `code/outputs/measured/simpy_comparison.txt`.

pub mod mm1;
pub mod ping_pong;
pub mod timeouts;
