//! What happened in a run: a fingerprint always, a full record on request.
//!
//! The fingerprint (`trace hash`) is a 64-bit FNV-1a hash of every event the simulator
//! processed, message contents included (through their `Debug` text). Two runs with the same seed
//! must have the same fingerprint; a test checks this for every experiment, so any hidden source
//! of non-determinism (a `HashMap` iteration, a wall-clock read) shows up as a failing test.
//!
//! The full record ([`TraceEvent`]s, serialisable with serde when the `serde` feature is on) feeds figures such as space-time
//! diagrams, and can be written as JSON for replay elsewhere.

use super::time::Time;

/// How much of a run the simulator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for benchmarks.
    Off,
    /// The fingerprint only.
    Hash,
    /// The fingerprint and every event.
    Full,
}

/// One recorded event. Node numbers are plain integers so the JSON stays simple.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of recorded event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum TraceKind {
    /// A node started (or restarted).
    Start { node: usize },
    /// A node handed a message to the network.
    Send { from: usize, to: usize, msg: String },
    /// A message reached its destination and was handled.
    Deliver { from: usize, to: usize, msg: String },
    /// A message was lost, blocked by a partition, or reached a crashed node.
    Drop {
        from: usize,
        to: usize,
        reason: String,
        msg: String,
    },
    /// A timer fired.
    Timer { node: usize, timer: u32 },
    /// A fault was injected or repaired.
    Fault { fault: String },
}

/// A 64-bit FNV-1a hash, fed field by field. Its output is fixed by its definition, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xCBF2_9CE4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    /// Mixes a number into the hash.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// The recorder the simulator owns.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    pub(crate) level: TraceLevel,
    pub(crate) hash: Fnv64,
    pub(crate) events: Vec<TraceEvent>,
}

impl Recorder {
    pub(crate) fn new(level: TraceLevel) -> Recorder {
        Recorder {
            level,
            hash: Fnv64::default(),
            events: Vec::new(),
        }
    }

    /// Records `kind` at `at`: hashes it, and keeps it if the level is `Full`.
    pub(crate) fn record(&mut self, at: Time, kind: TraceKind) {
        self.hash.u64(at.0);
        match &kind {
            TraceKind::Start { node } => {
                self.hash.u64(1);
                self.hash.u64(*node as u64);
            }
            TraceKind::Send { from, to, msg } | TraceKind::Deliver { from, to, msg } => {
                self.hash.u64(if matches!(kind, TraceKind::Send { .. }) {
                    2
                } else {
                    3
                });
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Drop {
                from,
                to,
                reason,
                msg,
            } => {
                self.hash.u64(4);
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(reason.as_bytes());
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Timer { node, timer } => {
                self.hash.u64(5);
                self.hash.u64(*node as u64);
                self.hash.u64(u64::from(*timer));
            }
            TraceKind::Fault { fault } => {
                self.hash.u64(6);
                self.hash.bytes(fault.as_bytes());
            }
        }
        if self.level == TraceLevel::Full {
            self.events.push(TraceEvent { at_ns: at.0, kind });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        // Test vectors from the FNV reference implementation.
        let mut h = Fnv64::default();
        assert_eq!(h.0, 0xCBF2_9CE4_8422_2325);
        h.bytes(b"a");
        assert_eq!(h.0, 0xAF63_DC4C_8601_EC8C);
        let mut h = Fnv64::default();
        h.bytes(b"foobar");
        assert_eq!(h.0, 0x8594_4171_F739_67E8);
    }
}
