//! Chapter 5's coding exercise: an idempotency store that forgets.
//!
//! The chapter's [`IdempotencyStore`](super::idempotency::IdempotencyStore) remembers every
//! key forever and trusts that an operation in progress will complete. A real store does
//! neither: it keeps keys for a *retention* period (payment APIs keep them for about a day) so
//! that it does not grow without bound, and it gives a request that began an operation a
//! *lease*, so that a key whose handler crashed half-way is not stuck "in progress" forever.
//!
//! The specification, with times in milliseconds on the server's clock:
//!
//! 1. `begin` on a key never seen, or whose operation completed at `t` with
//!    `now >= t + retention_ms`, returns `Execute` and reserves the key as begun at `now`.
//! 2. Otherwise, if the key was first used with another fingerprint, `Mismatch`.
//! 3. A key completed within the retention period returns `Replay` of the stored response.
//! 4. A key begun at `t` and not completed returns `InProgress` while `now < t + lease_ms`,
//!    and from `t + lease_ms` on returns `Execute` again (the earlier handler is presumed dead)
//!    and re-reserves the key as begun at `now`.
//! 5. `complete` records the response and the completion time `now`.
//!
//! The sums above are mathematical: times and durations may be as large as `u64::MAX`, so
//! `t + retention_ms` must not overflow (with the book's overflow checks it would panic; the
//! test tries a huge clock). Compare `now.saturating_sub(t)` with the duration instead.

use super::idempotency::Begin;

/// What both versions implement.
pub trait ExpiringStore {
    /// An empty store that keeps completed keys `retention_ms` and leases `lease_ms`.
    fn new(retention_ms: u64, lease_ms: u64) -> Self;
    /// Rules 1-4 of the module documentation.
    fn begin(&mut self, key: &str, fingerprint: u64, now_ms: u64) -> Begin<String>;
    /// Rule 5.
    fn complete(&mut self, key: &str, response: String, now_ms: u64);
}

/// The reader's version.
pub mod starter {
    use super::{Begin, ExpiringStore};

    /// An idempotency store with retention and leases.
    pub struct Store {
        // Add the fields you need.
    }

    impl ExpiringStore for Store {
        fn new(_retention_ms: u64, _lease_ms: u64) -> Self {
            todo!("exercise: create an empty store")
        }

        fn begin(&mut self, _key: &str, _fingerprint: u64, _now_ms: u64) -> Begin<String> {
            todo!("exercise: rules 1-4")
        }

        fn complete(&mut self, _key: &str, _response: String, _now_ms: u64) {
            todo!("exercise: rule 5")
        }
    }
}

/// One answer.
pub mod solution {
    use std::collections::HashMap;

    use super::{Begin, ExpiringStore};

    /// Where an operation is.
    #[derive(Clone, Debug)]
    enum State {
        /// Begun at this time, not completed.
        Running { since_ms: u64 },
        /// Completed at this time with this response.
        Done { at_ms: u64, response: String },
    }

    /// An idempotency store with retention and leases.
    pub struct Store {
        retention_ms: u64,
        lease_ms: u64,
        /// Per key: the first request's fingerprint and where its operation is.
        entries: HashMap<String, (u64, State)>,
    }

    // ANCHOR: solution
    impl ExpiringStore for Store {
        fn new(retention_ms: u64, lease_ms: u64) -> Self {
            Store {
                retention_ms,
                lease_ms,
                entries: HashMap::new(),
            }
        }

        fn begin(&mut self, key: &str, fingerprint: u64, now_ms: u64) -> Begin<String> {
            let running = (fingerprint, State::Running { since_ms: now_ms });
            let Some((stored, state)) = self.entries.get(key) else {
                self.entries.insert(key.to_string(), running);
                return Begin::Execute;
            };
            if let State::Done { at_ms, .. } = state
                && now_ms.saturating_sub(*at_ms) >= self.retention_ms
            {
                self.entries.insert(key.to_string(), running);
                return Begin::Execute;
            }
            if *stored != fingerprint {
                return Begin::Mismatch { stored: *stored };
            }
            match state {
                State::Done { response, .. } => Begin::Replay(response.clone()),
                State::Running { since_ms } if now_ms.saturating_sub(*since_ms) < self.lease_ms => {
                    Begin::InProgress
                }
                State::Running { .. } => {
                    self.entries.insert(key.to_string(), running);
                    Begin::Execute
                }
            }
        }

        fn complete(&mut self, key: &str, response: String, now_ms: u64) {
            if let Some((_, state)) = self.entries.get_mut(key) {
                *state = State::Done {
                    at_ms: now_ms,
                    response,
                };
            }
        }
    }
    // ANCHOR_END: solution
}

/// The claims, over either version.
pub fn check_claims<S: ExpiringStore>() {
    let (fp, other) = (11, 22);
    let mut s = S::new(1_000, 100);
    // Rule 1 and 4: a new key executes; a second request within the lease waits.
    assert_eq!(s.begin("a", fp, 0), Begin::Execute, "a new key executes");
    assert_eq!(s.begin("a", fp, 99), Begin::InProgress, "inside the lease");
    assert_eq!(s.begin("a", other, 50), Begin::Mismatch { stored: fp });
    // Rule 4: past the lease the key is taken over, and the lease restarts.
    assert_eq!(
        s.begin("a", fp, 100),
        Begin::Execute,
        "lease over at exactly 100 ms"
    );
    assert_eq!(
        s.begin("a", fp, 150),
        Begin::InProgress,
        "the new lease runs from 100"
    );
    // Rules 3 and 5: completed keys replay until the retention ends, exactly.
    s.complete("a", "201 note 1".into(), 200);
    assert_eq!(s.begin("a", fp, 250), Begin::Replay("201 note 1".into()));
    assert_eq!(s.begin("a", fp, 1_199), Begin::Replay("201 note 1".into()));
    assert_eq!(s.begin("a", other, 1_199), Begin::Mismatch { stored: fp });
    // Rule 1: after retention the key is new, whatever the fingerprint.
    assert_eq!(s.begin("a", other, 1_200), Begin::Execute, "retention over");
    assert_eq!(s.begin("a", fp, 1_201), Begin::Mismatch { stored: other });
    // Keys are independent.
    assert_eq!(s.begin("b", fp, 1_201), Begin::Execute);
    s.complete("b", "201 note 2".into(), 1_202);
    assert_eq!(s.begin("b", fp, 1_203), Begin::Replay("201 note 2".into()));
    // A completed key never expires early, even with a huge clock.
    let mut s = S::new(u64::MAX, u64::MAX);
    assert_eq!(s.begin("k", fp, u64::MAX - 1), Begin::Execute);
    s.complete("k", "r".into(), u64::MAX - 1);
    assert_eq!(s.begin("k", fp, u64::MAX), Begin::Replay("r".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_keeps_the_specification() {
        check_claims::<solution::Store>();
    }

    #[test]
    #[ignore = "exercise: implement starter::Store, then run \
                `cargo test -p uds --release --lib exercise_expiring_idempotency_store -- --ignored`"]
    fn exercise_expiring_idempotency_store() {
        crate::exercise::starter_or_solution(
            check_claims::<starter::Store>,
            check_claims::<solution::Store>,
        );
    }
}
