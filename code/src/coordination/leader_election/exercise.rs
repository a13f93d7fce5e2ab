//! Exercise: a fenced key-value store, one lock (and one token sequence) per key.
//!
//! The chapter's [`Storage`](super::storage::Storage) guards one register with one lock. Real
//! systems guard many resources, each with its own lock: a leader per shard, a writer per file.
//! Each lock's service numbers its own grants, so tokens of different keys are unrelated: token
//! 7 for key `"a"` says nothing about token 3 for key `"b"`. The store must therefore keep the
//! largest accepted token *per key*.
//!
//! Implement [`starter::FencedStore::write`]: accept the write if its token is at least the
//! largest token accepted so far *for that key* (equal tokens come from the same grant, so the
//! same holder writing again), store the value and remember the token; otherwise leave the
//! store unchanged and return [`StaleWrite`] with both tokens. Then make
//! [`starter::FencedStore::read`] return the value. The claims to make true are in this file's
//! tests; run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_fenced_store -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use super::fencing::FencingToken;

/// A write refused because its key has already seen a larger token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleWrite {
    /// The token the write carried.
    pub token: FencingToken,
    /// The largest token accepted for the key.
    pub highest: FencingToken,
}

/// What a fenced key-value store must do, whatever its layout.
pub trait Fenced: Default {
    /// Stores `value` under `key` if `token` is not below the largest token accepted for `key`.
    fn write(&mut self, key: &str, token: FencingToken, value: u64) -> Result<(), StaleWrite>;
    /// The last value accepted for `key`.
    fn read(&self, key: &str) -> Option<u64>;
}

/// Your version.
pub mod starter {
    use std::collections::BTreeMap;

    use super::{Fenced, FencingToken, StaleWrite};

    /// A key-value store that checks fencing tokens per key.
    #[derive(Clone, Debug, Default)]
    pub struct FencedStore {
        /// For each key: the largest token accepted and the value of the last accepted write.
        pub entries: BTreeMap<String, (FencingToken, u64)>,
    }

    impl Fenced for FencedStore {
        fn write(
            &mut self,
            _key: &str,
            _token: FencingToken,
            _value: u64,
        ) -> Result<(), StaleWrite> {
            todo!("refuse a token below the key's highest; otherwise store the value and token")
        }

        fn read(&self, _key: &str) -> Option<u64> {
            todo!("the value of the key's last accepted write")
        }
    }
}

/// One answer.
pub mod solution {
    use std::collections::BTreeMap;

    use super::{Fenced, FencingToken, StaleWrite};
    use crate::coordination::leader_election::fencing::admit;

    // ANCHOR: fenced_store
    /// A key-value store that checks fencing tokens per key.
    #[derive(Clone, Debug, Default)]
    pub struct FencedStore {
        /// For each key: the largest token accepted and the value of the last accepted write.
        pub entries: BTreeMap<String, (FencingToken, u64)>,
    }

    impl Fenced for FencedStore {
        fn write(&mut self, key: &str, token: FencingToken, value: u64) -> Result<(), StaleWrite> {
            let highest = self.entries.get(key).map(|(t, _)| *t);
            if !admit(highest, token) {
                let highest = highest.expect("only a seen key refuses");
                return Err(StaleWrite { token, highest });
            }
            self.entries.insert(key.to_string(), (token, value));
            Ok(())
        }

        fn read(&self, key: &str) -> Option<u64> {
            self.entries.get(key).map(|(_, v)| *v)
        }
    }
    // ANCHOR_END: fenced_store
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Fenced, FencingToken, StaleWrite};
    use crate::sim::SimRng;
    use rand::seq::IndexedRandom;
    use rand::{RngExt, SeedableRng};

    fn t(n: u64) -> FencingToken {
        FencingToken(n)
    }

    /// The chapter's story on one key: the paused ex-leader's write (token 1) after the new
    /// leader's (token 2) is refused, and the new leader's value survives.
    fn paused_ex_leader_is_refused<S: Fenced>() {
        let mut store = S::default();
        assert_eq!(store.write("leader-data", t(1), 10), Ok(()));
        assert_eq!(store.write("leader-data", t(2), 20), Ok(()));
        let refused = StaleWrite {
            token: t(1),
            highest: t(2),
        };
        assert_eq!(store.write("leader-data", t(1), 11), Err(refused));
        assert_eq!(store.read("leader-data"), Some(20));
    }

    /// Tokens of different keys are unrelated: a large token on one key fences nothing else.
    fn keys_are_fenced_independently<S: Fenced>() {
        let mut store = S::default();
        assert_eq!(store.write("a", t(7), 1), Ok(()));
        assert_eq!(store.write("b", t(3), 2), Ok(()));
        assert_eq!(store.write("b", t(3), 3), Ok(()), "same grant, same holder");
        assert!(store.write("a", t(6), 4).is_err());
        assert_eq!((store.read("a"), store.read("b")), (Some(1), Some(3)));
        assert_eq!(store.read("c"), None);
    }

    /// Against a model: random writes to three keys, each checked against the rule itself.
    fn agrees_with_the_rule_on_random_histories<S: Fenced>() {
        for seed in 0..100 {
            let mut rng = SimRng::seed_from_u64(seed);
            let mut store = S::default();
            let mut model: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
            for value in 0..200 {
                let key = *["x", "y", "z"].choose(&mut rng).expect("non-empty");
                let token = rng.random_range(1..20);
                let highest = model.get(key).map(|(h, _)| *h);
                let ok = highest.is_none_or(|h| token >= h);
                let got = store.write(key, t(token), value);
                assert_eq!(got.is_ok(), ok, "seed {seed}: {key} token {token}");
                if ok {
                    model.insert(key, (token, value));
                }
                assert_eq!(store.read(key), model.get(key).map(|(_, v)| *v));
            }
        }
    }

    fn check_claims<S: Fenced>() {
        paused_ex_leader_is_refused::<S>();
        keys_are_fenced_independently::<S>();
        agrees_with_the_rule_on_random_histories::<S>();
    }

    #[test]
    fn fenced_store_refuses_stale_tokens_per_key() {
        check_claims::<super::solution::FencedStore>();
    }

    #[test]
    #[ignore = "exercise: implement starter::FencedStore, then run \
                `cargo test -p uds --release --lib exercise_fenced_store -- --ignored`"]
    fn exercise_fenced_store() {
        crate::exercise::starter_or_solution(
            check_claims::<super::starter::FencedStore>,
            check_claims::<super::solution::FencedStore>,
        );
    }
}
