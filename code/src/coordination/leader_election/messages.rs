//! What the lock service, the clients and the storage service say to each other.
//!
//! Three conversations, each a request and its answers:
//!
//! - client and lock service: `Acquire` or `Renew`, answered by `Granted` or `Denied`;
//! - client and storage: `Write`, answered by `Written` or `Refused`.
//!
//! Requests to the lock service carry the client's clock reading when it sent them
//! (`sent_at`), and the answer echoes it back. The client needs that reading to count its lease
//! from the request (see [`local_lease_expiry`](super::fencing::local_lease_expiry)); echoing it
//! keeps the client free of a table of outstanding requests, and makes a late or duplicated
//! answer harmless: it computes an expiry that has already passed. The service never
//! interprets `sent_at`, which is on a clock it does not share.

use std::fmt;
use std::time::Duration;

use super::fencing::FencingToken;
use crate::sim::Time;

// ANCHOR: lease_msg
/// A message of the lease-based lock protocol.
#[derive(Clone, PartialEq, Eq)]
pub enum LeaseMsg {
    /// Client to lock service: grant me `lock` (or extend it, if I already hold it).
    Acquire { lock: String, sent_at: Time },
    /// Client to lock service: extend my lease on `lock`, granted with `token`.
    Renew {
        lock: String,
        token: FencingToken,
        sent_at: Time,
    },
    /// Lock service to client: you hold `lock` with `token` for `ttl` from when I got your
    /// request (sent at your `sent_at`).
    Granted {
        lock: String,
        token: FencingToken,
        ttl: Duration,
        sent_at: Time,
    },
    /// Lock service to client: no. `token` is the lease a renewal asked for (now expired or
    /// taken); `None` answers an `Acquire` while someone else holds the lock.
    Denied {
        lock: String,
        token: Option<FencingToken>,
    },
    /// Client to storage: write the client's `seq`-th value, under the lease with `token`.
    Write { token: FencingToken, seq: u64 },
    /// Storage to client: the write with `token` and `seq` was accepted.
    Written { token: FencingToken, seq: u64 },
    /// Storage to client: the write with `token` was refused, because the storage has
    /// already accepted a write with the larger token `highest`.
    Refused {
        token: FencingToken,
        highest: FencingToken,
    },
}
// ANCHOR_END: lease_msg

/// Compact on purpose: traces and transcripts print messages with `{:?}`, and a reader should
/// see `Write(token 1, seq 5)`, not every field's name and the echoed timestamps.
impl fmt::Debug for LeaseMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaseMsg::Acquire { lock, .. } => write!(f, "Acquire({lock})"),
            LeaseMsg::Renew { lock, token, .. } => write!(f, "Renew({lock}, {token})"),
            LeaseMsg::Granted {
                lock, token, ttl, ..
            } => write!(f, "Granted({lock}, {token}, ttl {} ms)", ttl.as_millis()),
            LeaseMsg::Denied { lock, token: None } => write!(f, "Denied({lock}, held by another)"),
            LeaseMsg::Denied {
                lock,
                token: Some(t),
            } => write!(f, "Denied({lock}, {t} expired)"),
            LeaseMsg::Write { token, seq } => write!(f, "Write({token}, seq {seq})"),
            LeaseMsg::Written { token, seq } => write!(f, "Written({token}, seq {seq})"),
            LeaseMsg::Refused { token, highest } => {
                write!(f, "Refused({token} < highest {})", highest.0)
            }
        }
    }
}
