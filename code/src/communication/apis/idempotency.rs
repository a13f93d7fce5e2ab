//! The idempotency-key store: what makes a retried POST safe.
//!
//! A client that sends a request and hears nothing back cannot tell a lost request from a lost
//! response. If it retries, a non-idempotent operation (create an order, charge a card) may run
//! twice. The fix, used by payment APIs and being standardised as the `Idempotency-Key` HTTP
//! header (IETF draft-ietf-httpapi-idempotency-key-header), is to let the client name the
//! *operation* with a unique key and have the server remember, per key, the response it gave.
//! A retry with the same key gets the stored response instead of a second effect.
//!
//! The store keeps one [`Entry`] per key, with a *fingerprint* of the request it was first
//! used with. [`IdempotencyStore::begin`] decides what a request with a key should do:
//!
//! - an unknown key: run the operation ([`Begin::Execute`]), then record its response with
//!   [`IdempotencyStore::complete`];
//! - a key whose operation finished, with the same fingerprint: send the stored response again
//!   ([`Begin::Replay`]), with no new effect;
//! - a key whose operation is still running: [`Begin::InProgress`] (the caller waits or answers
//!   409 Conflict);
//! - a key first used with a different request: [`Begin::Mismatch`]. Reusing a key for another
//!   request is a client bug; replaying the first response would hide it, and running the new
//!   request would break the promise that one key means one effect.
//!
//! Invariant: for every key, the operation runs at most once between `begin` returning
//! `Execute` and `complete` or `abandon`. The store is sans-I/O and std-only: the HTTP server,
//! the simulator experiment and the playground listing all run this same code. What it
//! simplifies: entries live in memory and never expire (a real store keeps keys for a bounded
//! time, in the same database transaction as the effect; the chapter's coding exercise adds
//! expiry).

use std::collections::HashMap;

// ANCHOR: fingerprint
/// A 64-bit FNV-1a hash of a request's bytes: enough to tell two different bodies apart by
/// accident, not against an adversary (an adversary can only confuse its own keys).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
// ANCHOR_END: fingerprint

// ANCHOR: entry
/// What the store remembers about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<R> {
    /// The fingerprint of the request the key was first used with.
    pub fingerprint: u64,
    /// `None` while the operation runs, then the response it produced.
    pub response: Option<R>,
}

/// What a request carrying an idempotency key must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin<R> {
    /// First use of the key: run the operation, then call `complete`.
    Execute,
    /// The operation already ran: send this response again.
    Replay(R),
    /// The operation is running for an earlier request with this key.
    InProgress,
    /// The key was first used with a different request (this fingerprint was stored).
    Mismatch {
        /// The fingerprint of the first request.
        stored: u64,
    },
}
// ANCHOR_END: entry

// ANCHOR: store
/// Responses remembered per idempotency key. `R` is whatever the caller replays: an HTTP
/// status and body in the server, a message in the simulator.
#[derive(Clone, Debug)]
pub struct IdempotencyStore<R> {
    /// One entry per key ever begun and not abandoned.
    entries: HashMap<String, Entry<R>>,
}

impl<R: Clone> IdempotencyStore<R> {
    /// An empty store.
    pub fn new() -> IdempotencyStore<R> {
        IdempotencyStore {
            entries: HashMap::new(),
        }
    }

    /// Decides what a request with `key` and `fingerprint` does, and reserves the key if it is
    /// new. Only the caller that received `Execute` may `complete` or `abandon` the key.
    pub fn begin(&mut self, key: &str, fingerprint: u64) -> Begin<R> {
        match self.entries.get(key) {
            None => {
                let entry = Entry {
                    fingerprint,
                    response: None,
                };
                self.entries.insert(key.to_string(), entry);
                Begin::Execute
            }
            Some(entry) if entry.fingerprint != fingerprint => Begin::Mismatch {
                stored: entry.fingerprint,
            },
            Some(Entry { response: None, .. }) => Begin::InProgress,
            Some(Entry {
                response: Some(r), ..
            }) => Begin::Replay(r.clone()),
        }
    }

    /// Records the response of the operation begun with `key`.
    pub fn complete(&mut self, key: &str, response: R) {
        let entry = self.entries.get_mut(key);
        let entry = entry.expect("complete() of a key that was never begun");
        assert!(entry.response.is_none(), "key {key:?} completed twice");
        entry.response = Some(response);
    }
}
// ANCHOR_END: store

impl<R: Clone> IdempotencyStore<R> {
    /// Forgets a key whose operation failed before any effect (so a retry may run it again).
    pub fn abandon(&mut self, key: &str) {
        if let Some(Entry { response: None, .. }) = self.entries.get(key) {
            self.entries.remove(key);
        }
    }

    /// The number of keys remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<R: Clone> Default for IdempotencyStore<R> {
    fn default() -> Self {
        IdempotencyStore::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_executes_then_retries_replay_the_stored_response() {
        let mut store = IdempotencyStore::new();
        let fp = fingerprint(b"{\"title\":\"a\"}");
        assert_eq!(store.begin("k1", fp), Begin::Execute);
        assert_eq!(store.begin("k1", fp), Begin::InProgress);
        store.complete("k1", "201 note 1");
        assert_eq!(store.begin("k1", fp), Begin::Replay("201 note 1"));
        assert_eq!(store.begin("k1", fp), Begin::Replay("201 note 1"));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn a_key_reused_with_another_body_is_a_mismatch() {
        let mut store = IdempotencyStore::new();
        let first = fingerprint(b"a");
        assert_eq!(store.begin("k", first), Begin::Execute);
        store.complete("k", 1);
        let second = fingerprint(b"b");
        assert_eq!(store.begin("k", second), Begin::Mismatch { stored: first });
        // The stored response is untouched.
        assert_eq!(store.begin("k", first), Begin::Replay(1));
    }

    #[test]
    fn abandoning_frees_the_key_but_never_a_completed_one() {
        let mut store = IdempotencyStore::new();
        assert_eq!(store.begin("k", 7), Begin::Execute);
        store.abandon("k");
        assert_eq!(store.begin("k", 7), Begin::Execute);
        store.complete("k", ());
        store.abandon("k");
        assert_eq!(store.begin("k", 7), Begin::Replay(()));
    }

    #[test]
    fn fingerprints_differ_for_different_bytes() {
        assert_eq!(fingerprint(b""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(fingerprint(b"ab"), fingerprint(b"ba"));
    }
}
