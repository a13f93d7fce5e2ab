//! Fencing tokens and the client's conservative view of its lease: the two pure rules of the
//! lease-based lock, small enough to test exhaustively.
//!
//! **Leases** (Gray and Cheriton, "Leases: an efficient fault-tolerant mechanism for distributed
//! file cache consistency", SOSP 1989, §2) are locks with a time limit: the lock service grants
//! a lease for a *time-to-live* (TTL), and if the holder neither renews nor releases it, the
//! lease simply runs out and the service may grant it to someone else. That is what makes a
//! lease tolerate a crashed holder: nobody has to detect the crash, the clock does it. The price
//! is that two clocks are involved, the service's (which decides when the lease *has* expired)
//! and the holder's (which decides when the holder *stops acting*), and they are different
//! machines. [`local_lease_expiry`] is the holder's side: it counts the TTL from the moment it
//! *sent* its request, which is before the service received it, and subtracts a safety margin
//! meant to cover clock drift and the time a write spends between the check and the storage.
//! Chubby's client library keeps the same conservative estimate (Burrows, "The Chubby lock
//! service for loosely-coupled distributed systems", OSDI 2006, §2.8).
//!
//! A conservative estimate is still an estimate. It assumes the holder's clock runs at about
//! the service's rate (bounded drift, Gray and Cheriton §2) and that nothing freezes the holder
//! between checking the lease and acting on it. A garbage-collection pause, a stopped VM, a
//! swapped-out page or a slow network breaks the second assumption, and no margin helps, because
//! the pause can be longer than any margin.
//!
//! **Fencing tokens** close that gap from the other side (Kleppmann, "How to do distributed
//! locking", 2016; Chubby's *sequencers*, Burrows §2.4). Every grant of the lock carries a
//! number larger than every earlier grant's. The holder attaches it to every write, and the
//! resource being protected (here, the storage service) remembers the largest token it has
//! accepted and refuses any write that carries a smaller one: [`admit`]. A deposed holder that
//! wakes up from a pause still believes it leads, but its token is old, and the storage, which
//! has seen the new holder's larger token, turns it away. Safety no longer depends on anybody's
//! clock: only on the tokens being monotonic (the lock service's job) and the check being made
//! at the resource (the storage's job).
//!
//! What fencing does *not* give: a deposed holder may still write if its successor has not
//! written yet (its token is then still the largest the storage has seen), so the storage's
//! history is ordered by token, not free of writes by ex-leaders. And the resource must take
//! part: a storage system that cannot compare tokens cannot be fenced this way.

use std::fmt;
use std::time::Duration;

use crate::sim::Time;

// ANCHOR: token
/// A fencing token: the number the lock service attaches to one grant of a lock.
///
/// Invariant (kept by the lock service): every grant of a lock carries a larger token than
/// every earlier grant of the same lock. Chubby calls it a sequencer (§2.4); etcd uses the
/// revision of the lock key; ZooKeeper the zxid or the znode's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FencingToken(pub u64);
// ANCHOR_END: token

impl fmt::Display for FencingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}", self.0)
    }
}

// ANCHOR: admit
/// Whether a resource that has accepted writes up to token `highest` (`None`: no write yet)
/// may accept a write carrying `token`. Equal tokens are admitted: they come from the same
/// grant, so the same holder writing again.
pub fn admit(highest: Option<FencingToken>, token: FencingToken) -> bool {
    match highest {
        None => true,
        Some(highest) => token >= highest,
    }
}
// ANCHOR_END: admit

// ANCHOR: local_lease_expiry
/// Until when, on its own clock, a client may act on a lease it asked for at local time
/// `sent_at` and was granted for `ttl`: the TTL counted from the request (which the service
/// received later, so the service's lease outlasts this one), minus `margin`.
///
/// The client acts while `now < local_lease_expiry(..)`. The margin has to cover the drift
/// between the two clocks over one TTL, plus the time a write may take from the client's check
/// to the storage. It cannot cover a pause of unknown length; that is what fencing is for.
pub fn local_lease_expiry(sent_at: Time, ttl: Duration, margin: Duration) -> Time {
    sent_at + ttl.saturating_sub(margin)
}
// ANCHOR_END: local_lease_expiry

#[cfg(test)]
mod tests {
    use super::*;

    fn t(n: u64) -> FencingToken {
        FencingToken(n)
    }

    /// Kleppmann 2016, "Making the lock safe with fencing": a smaller token is refused.
    #[test]
    fn admit_refuses_exactly_the_tokens_below_the_highest_accepted() {
        let cases = [
            (None, 1, true),
            (None, 0, true),
            (Some(1), 1, true),
            (Some(1), 2, true),
            (Some(2), 1, false),
            (Some(34), 33, false),
            (Some(34), 35, true),
        ];
        for (highest, token, expected) in cases {
            assert_eq!(
                admit(highest.map(t), t(token)),
                expected,
                "highest {highest:?}, token {token}"
            );
        }
    }

    /// Chubby §2.8: the client's lease timeout is counted from when it sent the request.
    #[test]
    fn local_expiry_counts_from_the_request_minus_the_margin() {
        let ms = Duration::from_millis;
        let sent = Time::from_millis(300);
        assert_eq!(
            local_lease_expiry(sent, ms(1_000), ms(100)),
            Time::from_millis(1_200)
        );
        // A margin larger than the TTL leaves no lease at all, rather than underflowing.
        assert_eq!(local_lease_expiry(sent, ms(100), ms(500)), sent);
    }
}
