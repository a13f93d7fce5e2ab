//! The lock service: grants leases on named locks, each grant with a larger fencing token.
//!
//! **An honest stand-in.** In production this role is played by a strongly consistent,
//! replicated store: etcd (leases and the revision of the lock key), ZooKeeper (ephemeral
//! znodes and session timeouts), Consul or Chubby. Their replication (Raft, Zab, Paxos) is what
//! makes the lock itself survive crashes and partitions; chapter 10 builds that. Here the
//! service is a *single process* that never fails, so that this module can isolate the
//! question the chapter asks: given a correct lock service, is the lock safe for the clients
//! that use it? (It is not, without fencing.)
//!
//! **What it guarantees**, measured on its own clock (the only clock it reads):
//!
//! 1. *Mutual exclusion of leases.* At any instant of the service's clock, a lock has at most
//!    one holder whose lease has not expired. A lease granted at service time `t` expires at
//!    `t + ttl`; until then every other client's `Acquire` is `Denied`.
//! 2. *Monotonic tokens.* Every new grant of a lock carries a token larger than all earlier
//!    grants of that lock. A renewal keeps the token: the same lease, extended.
//! 3. *No resurrection.* A lease that has expired cannot be renewed, even if nobody took it
//!    meanwhile: the client must `Acquire` again and gets a new token. So a token names one
//!    uninterrupted period of holding the lock, which is what the storage's check relies on.
//!
//! The service asserts (1) and (2) after every grant. What it cannot guarantee is anything
//! about what the *clients* believe: a lease that has expired here may still look valid to a
//! paused or slow-clocked holder. That gap is the subject of [`scenario`](super::scenario).
//!
//! Simplifications: no `Release` (a leader steps down by letting its lease run out), no
//! waiting queue (a client that is denied polls again), no persistence (the service never
//! crashes in this chapter's runs).

use std::collections::BTreeMap;
use std::time::Duration;

use super::fencing::FencingToken;
use super::messages::LeaseMsg;
use crate::sim::{Ctx, NodeId, Time};

/// The current lease on one lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it.
    pub holder: NodeId,
    /// The token of the grant this lease extends.
    pub token: FencingToken,
    /// When it expires, on the service's clock. Invariant: at most `ttl` after now.
    pub expires_at: Time,
}

/// One lock's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LockState {
    /// The last lease granted, expired or not. `None` until the first grant.
    pub lease: Option<Lease>,
    /// The token of the last grant; 0 before the first (tokens start at 1).
    /// Invariant: never decreases; equals `lease.token` whenever `lease` is `Some`.
    pub last_token: u64,
}

/// One grant of a lock, for the record (the scenario judges writes against it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// When, on the service's clock.
    pub at: Time,
    /// Which lock.
    pub lock: String,
    /// To whom.
    pub holder: NodeId,
    /// With which token.
    pub token: FencingToken,
}

// ANCHOR: lock_service
/// A single-process lock service granting leases of `ttl` with fencing tokens.
#[derive(Clone, Debug)]
pub struct LockService {
    /// How long a lease lasts after the service receives the request that granted or renewed
    /// it, on the service's clock.
    pub ttl: Duration,
    /// Every lock ever asked for, by name.
    pub locks: BTreeMap<String, LockState>,
    /// Every new grant (not renewals), in order. Invariant: tokens of one lock increase.
    pub grants: Vec<Grant>,
}
// ANCHOR_END: lock_service

impl LockService {
    /// A service granting leases of `ttl`.
    pub fn new(ttl: Duration) -> LockService {
        LockService {
            ttl,
            locks: BTreeMap::new(),
            grants: Vec::new(),
        }
    }

    /// The lease on `lock` that has not expired at service time `now`, if any.
    pub fn live_lease(&self, lock: &str, now: Time) -> Option<Lease> {
        let lease = self.locks.get(lock)?.lease?;
        (now < lease.expires_at).then_some(lease)
    }

    /// Handles one message from a client.
    pub fn on_message(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, msg: LeaseMsg) {
        match msg {
            LeaseMsg::Acquire { lock, sent_at } => self.acquire(ctx, from, lock, sent_at),
            LeaseMsg::Renew {
                lock,
                token,
                sent_at,
            } => self.renew(ctx, from, lock, token, sent_at),
            // Answers are for clients; a service that receives one ignores it.
            _ => ctx.count("lock_service_ignored"),
        }
    }

    // ANCHOR: acquire
    /// Grants `lock` to `from` if nobody else holds a live lease on it: a new lease with a new,
    /// larger token, or (if `from` already holds it) the same lease extended.
    fn acquire(&mut self, ctx: &mut Ctx<'_, LeaseMsg>, from: NodeId, lock: String, sent_at: Time) {
        let now = ctx.now();
        let state = self.locks.entry(lock.clone()).or_default();
        let token = match state.lease {
            Some(lease) if now < lease.expires_at && lease.holder != from => {
                ctx.send(from, LeaseMsg::Denied { lock, token: None });
                return;
            }
            Some(lease) if now < lease.expires_at => lease.token,
            // Free, or the last lease ran out: a new grant with the next token.
            _ => {
                state.last_token += 1;
                let token = FencingToken(state.last_token);
                let grant = Grant {
                    at: now,
                    lock: lock.clone(),
                    holder: from,
                    token,
                };
                self.grants.push(grant);
                ctx.count("lock_grants");
                token
            }
        };
        self.extend(ctx, from, lock, token, sent_at);
    }
    // ANCHOR_END: acquire

    // ANCHOR: renew
    /// Extends `from`'s lease on `lock` if it is still live and still the one granted with
    /// `token`; otherwise denies, and the client must acquire again (guarantee 3).
    fn renew(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        from: NodeId,
        lock: String,
        token: FencingToken,
        sent_at: Time,
    ) {
        let live = self.live_lease(&lock, ctx.now());
        if live.is_some_and(|l| l.holder == from && l.token == token) {
            self.extend(ctx, from, lock, token, sent_at);
        } else {
            ctx.count("lock_renewals_denied");
            let token = Some(token);
            ctx.send(from, LeaseMsg::Denied { lock, token });
        }
    }
    // ANCHOR_END: renew

    /// Sets `from`'s lease on `lock` to expire `ttl` from now and tells it so.
    fn extend(
        &mut self,
        ctx: &mut Ctx<'_, LeaseMsg>,
        from: NodeId,
        lock: String,
        token: FencingToken,
        sent_at: Time,
    ) {
        let now = ctx.now();
        let state = self.locks.get_mut(&lock).expect("the caller created it");
        if let Some(old) = state.lease {
            // Guarantee 1: a live lease is only ever extended for its own holder and token.
            assert!(
                now >= old.expires_at || (old.holder == from && old.token == token),
                "lock {lock}: {from} granted {token} while {} holds {} until {}",
                old.holder,
                old.token,
                old.expires_at
            );
        }
        // Guarantee 2: the lease carries the newest token.
        assert_eq!(
            token.0, state.last_token,
            "lock {lock}: stale token granted"
        );
        state.lease = Some(Lease {
            holder: from,
            token,
            expires_at: now + self.ttl,
        });
        let ttl = self.ttl;
        ctx.send(
            from,
            LeaseMsg::Granted {
                lock,
                token,
                ttl,
                sent_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Effect, Metrics, SimRng};
    use rand::SeedableRng;

    const A: NodeId = NodeId(2);
    const B: NodeId = NodeId(3);

    /// Delivers `msg` from `from` at service time `ms` and returns the service's answer.
    fn ask(service: &mut LockService, ms: u64, from: NodeId, msg: LeaseMsg) -> LeaseMsg {
        let (mut rng, mut effects, mut metrics) =
            (SimRng::seed_from_u64(0), Vec::new(), Metrics::default());
        let now = Time::from_millis(ms);
        let mut ctx = Ctx::new(NodeId(0), now, &mut rng, &mut effects, &mut metrics);
        service.on_message(&mut ctx, from, msg);
        match effects.as_slice() {
            [Effect::Send { to, msg }] if *to == from => msg.clone(),
            other => panic!("expected one answer to {from}, got {other:?}"),
        }
    }

    fn acquire() -> LeaseMsg {
        let lock = "leader".to_string();
        LeaseMsg::Acquire {
            lock,
            sent_at: Time::ZERO,
        }
    }

    fn renew(token: u64) -> LeaseMsg {
        let lock = "leader".to_string();
        let token = FencingToken(token);
        LeaseMsg::Renew {
            lock,
            token,
            sent_at: Time::ZERO,
        }
    }

    fn granted(answer: &LeaseMsg) -> Option<u64> {
        match answer {
            LeaseMsg::Granted { token, .. } => Some(token.0),
            _ => None,
        }
    }

    /// Guarantees 1 and 2 of the module essay: one live holder; new grants, new tokens.
    #[test]
    fn a_live_lease_excludes_others_and_each_new_grant_has_a_larger_token() {
        let mut s = LockService::new(Duration::from_millis(1_000));
        assert_eq!(granted(&ask(&mut s, 0, A, acquire())), Some(1));
        assert_eq!(
            granted(&ask(&mut s, 999, B, acquire())),
            None,
            "A's lease is live"
        );
        assert_eq!(
            granted(&ask(&mut s, 500, A, renew(1))),
            Some(1),
            "renewal keeps it"
        );
        assert_eq!(
            granted(&ask(&mut s, 1_400, B, acquire())),
            None,
            "renewed to 1,500"
        );
        assert_eq!(
            granted(&ask(&mut s, 1_500, B, acquire())),
            Some(2),
            "expired at 1,500"
        );
        assert_eq!(granted(&ask(&mut s, 1_600, A, acquire())), None);
        let tokens: Vec<u64> = s.grants.iter().map(|g| g.token.0).collect();
        assert_eq!(tokens, [1, 2]);
    }

    /// Guarantee 3: an expired lease is not renewed, even if nobody took it; the holder must
    /// acquire again, and gets a new token, so a token names one unbroken tenure.
    #[test]
    fn an_expired_lease_cannot_be_renewed_even_if_nobody_took_it() {
        let mut s = LockService::new(Duration::from_millis(1_000));
        assert_eq!(granted(&ask(&mut s, 0, A, acquire())), Some(1));
        let denied = ask(&mut s, 1_000, A, renew(1));
        let expected = LeaseMsg::Denied {
            lock: "leader".into(),
            token: Some(FencingToken(1)),
        };
        assert_eq!(denied, expected);
        assert_eq!(granted(&ask(&mut s, 1_001, A, acquire())), Some(2));
    }
}
