//! The key-value model: the sequential specification of the replicated store.
//!
//! The object is a map from string keys to string values with three operations, those of the
//! key-value service of MIT 6.5840's labs and of this book's Raft store: `get(k)` answers the
//! current value or none, `put(k, v)` replaces it, and `append(k, v)` concatenates `v` to it
//! (to the empty string when `k` is absent). Writes answer `Ok`.
//!
//! Appends are what make the model a sharp test of a replicated store: a value read after a
//! series of appends spells out the order in which the store applied them, so a lost, duplicated
//! or reordered append shows up in the very next read (Kingsbury's Jepsen tests use lists for
//! the same reason). A put only shows that *some* write won.
//!
//! [`KvModel::partition`] groups operations by key, as Porcupine's key-value model does (Anish
//! Athalye, <https://github.com/anishathalye/porcupine>, `kv.go`): operations on different keys
//! commute, so by locality (Herlihy and Wing 1990, §3.5) each key's sub-history is checked on
//! its own, and the whole history is linearizable if and only if every key's is. The state
//! stays a whole map so that the same model also checks an unpartitioned history
//! ([`super::Unpartitioned`]); within one partition it holds at most one key.

use std::collections::BTreeMap;

use super::model::{Model, Operation};

// ANCHOR: kv_types
/// What a client of the store may ask.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvInput {
    /// Read the value of `key`.
    Get { key: String },
    /// Replace the value of `key` with `value`.
    Put { key: String, value: String },
    /// Concatenate `value` to the value of `key` (to the empty string if `key` is absent).
    Append { key: String, value: String },
}

/// What the store may answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KvOutput {
    /// The answer to a get: the value, or `None` if the key is absent.
    Value(Option<String>),
    /// The answer to a put or an append.
    Ok,
}
// ANCHOR_END: kv_types

impl KvInput {
    /// The key this input reads or writes.
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }

    /// Whether this input changes the store.
    pub fn is_write(&self) -> bool {
        !matches!(self, KvInput::Get { .. })
    }
}

/// The store's sequential specification, partitioned per key.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// The state of the store: every key that has a value, with it. A `BTreeMap` so that equal
/// maps hash equally whatever the order of insertion.
pub type KvState = BTreeMap<String, String>;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::new()
    }

    // ANCHOR: kv_step
    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Option<KvState> {
        match input {
            KvInput::Get { key } => {
                let current = state.get(key);
                match output {
                    None => Some(state.clone()),
                    Some(KvOutput::Value(seen)) if seen.as_ref() == current => Some(state.clone()),
                    Some(_) => None, // a different value, or `Ok` for a get
                }
            }
            KvInput::Put { .. } | KvInput::Append { .. }
                if output == Some(&KvOutput::Value(None)) =>
            {
                None
            }
            KvInput::Put { key, value } => {
                let mut next = state.clone();
                next.insert(key.clone(), value.clone());
                Some(next)
            }
            KvInput::Append { key, value } => {
                let mut next = state.clone();
                next.entry(key.clone()).or_default().push_str(value);
                Some(next)
            }
        }
    }
    // ANCHOR_END: kv_step

    // ANCHOR: kv_partition
    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }
    // ANCHOR_END: kv_partition

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        let call = match input {
            KvInput::Get { key } => format!("get({key})"),
            KvInput::Put { key, value } => format!("put({key}, {value:?})"),
            KvInput::Append { key, value } => format!("append({key}, {value:?})"),
        };
        match output {
            None => format!("{call} -> ?"),
            Some(KvOutput::Ok) => call,
            Some(KvOutput::Value(Some(v))) => format!("{call} -> Some({v:?})"),
            Some(KvOutput::Value(None)) => format!("{call} -> None"),
        }
    }

    fn describe_state(&self, state: &KvState, input: &KvInput) -> String {
        let key = input.key();
        match state.get(key) {
            Some(value) => format!("{key} = {value:?}"),
            None => format!("{key} is absent"),
        }
    }

    fn describe_partition(
        &self,
        history: &[Operation<KvInput, KvOutput>],
        partition: &[usize],
    ) -> String {
        match partition.first() {
            Some(&i) => format!("key {:?}", history[i].input.key()),
            None => "no key".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str) -> KvInput {
        KvInput::Get {
            key: key.to_string(),
        }
    }

    fn value(v: &str) -> KvOutput {
        KvOutput::Value(Some(v.to_string()))
    }

    #[test]
    fn append_to_an_absent_key_starts_from_the_empty_string() {
        let m = KvModel;
        let append = KvInput::Append {
            key: "x".into(),
            value: "a".into(),
        };
        let s = m.step(&m.init(), &append, Some(&KvOutput::Ok)).unwrap();
        let s = m.step(&s, &append, Some(&KvOutput::Ok)).unwrap();
        assert!(m.step(&s, &get("x"), Some(&value("aa"))).is_some());
        assert!(m.step(&s, &get("x"), Some(&value("a"))).is_none());
    }

    #[test]
    fn a_get_with_unknown_output_is_possible_from_every_state() {
        let m = KvModel;
        assert_eq!(m.step(&m.init(), &get("x"), None), Some(m.init()));
    }

    #[test]
    fn descriptions_read_like_calls() {
        let m = KvModel;
        assert_eq!(
            m.describe_operation(&get("x"), Some(&value("1"))),
            "get(x) -> Some(\"1\")"
        );
        let mut s = m.init();
        assert_eq!(m.describe_state(&s, &get("x")), "x is absent");
        s.insert("x".into(), "2".into());
        assert_eq!(m.describe_state(&s, &get("x")), "x = \"2\"");
    }
}
