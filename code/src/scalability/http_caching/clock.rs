//! The clock the proxy and the origin read, behind a trait so that experiments and tests can
//! drive time themselves.
//!
//! HTTP dates have one-second resolution and every freshness rule is in whole seconds, so
//! the clock returns whole seconds since the Unix epoch. [`SystemClock`] reads the machine's
//! clock; [`ManualClock`] returns whatever the experiment last set, which makes a run through
//! real sockets deterministic: requests sent one after another, with the clock advanced
//! between them, see exactly the same ages, hits and misses on every machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

// ANCHOR: clock
/// A source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> u64;
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    secs: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `secs`.
    pub fn at(secs: u64) -> ManualClock {
        ManualClock {
            secs: Arc::new(AtomicU64::new(secs)),
        }
    }

    /// Moves the clock forward by `secs` (saturating).
    pub fn advance(&self, secs: u64) {
        let now = self.secs.load(Ordering::SeqCst);
        self.secs.store(now.saturating_add(secs), Ordering::SeqCst);
    }

    /// Sets the clock to `secs`.
    pub fn set(&self, secs: u64) {
        self.secs.store(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.secs.load(Ordering::SeqCst)
    }
}
// ANCHOR_END: clock

/// An arbitrary, fixed starting time for experiments: 2024-01-01T00:00:00Z.
pub const EXPERIMENT_EPOCH: u64 = 1_704_067_200;
