//! The replicated state machine: a key-value store that applies each client command once.
//!
//! Raft replicates a log; what gives the log meaning is the deterministic state machine every
//! server applies it to, in index order (§5, Figure 1). Here that machine is a map from string
//! keys to string values with `Get`, `Put` and `Append`, the inputs of the linearizability
//! checker's key-value model, so that what the clients observed can be checked against it.
//!
//! **Exactly-once application (§8).** A client that times out cannot know whether its command
//! was committed, so it sends it again, perhaps to another server, and the command may end up in
//! the log twice. Each [`Command`] therefore carries its client's id and a sequence number that
//! the client increments per operation; the store remembers, per client, the last sequence
//! number it applied and what that returned (a *session*), and answers a repeat from the session
//! instead of applying it again. Because the sessions are part of the replicated state, every
//! server filters the same duplicates at the same indexes. A client has at most one operation
//! in flight, so one remembered answer per client is enough.
//!
//! Reads go through the log like writes. That is the simplest linearizable read (§8 describes
//! cheaper ones, read-index and leases, which need more care).

use std::collections::BTreeMap;

use super::history::{KvInput, KvOutput};

// ANCHOR: command
/// A client's request as it is stored in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Command {
    /// The client's id (its simulator node number).
    pub client: u64,
    /// The client's sequence number for this operation, from 1. A retry reuses it.
    pub seq: u64,
    /// What to do.
    pub input: KvInput,
}
// ANCHOR_END: command

/// The last operation the store applied for one client.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Session {
    /// Its sequence number.
    seq: u64,
    /// What it returned.
    output: KvOutput,
}

// ANCHOR: kv_store
/// The key-value store with its client sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KvStore {
    /// The data.
    data: BTreeMap<String, String>,
    /// Per client, the last command applied. Invariant: sequence numbers only grow.
    sessions: BTreeMap<u64, Session>,
    /// How many commands were applied (duplicates excluded).
    applied: u64,
}
// ANCHOR_END: kv_store

impl KvStore {
    // ANCHOR: apply
    /// Applies `command` unless it is a duplicate. Returns the answer for the client: the
    /// fresh one, the remembered one for a retry of the last command, or `None` for a command
    /// older than the client's last (the client has moved on and will not read it).
    pub fn apply(&mut self, command: &Command) -> Option<KvOutput> {
        if let Some(session) = self.sessions.get(&command.client) {
            if command.seq == session.seq {
                return Some(session.output.clone());
            }
            if command.seq < session.seq {
                return None;
            }
        }
        let output = self.execute(&command.input);
        let session = Session {
            seq: command.seq,
            output: output.clone(),
        };
        self.sessions.insert(command.client, session);
        self.applied += 1;
        Some(output)
    }
    // ANCHOR_END: apply

    fn execute(&mut self, input: &KvInput) -> KvOutput {
        match input {
            KvInput::Get { key } => KvOutput::Value(self.data.get(key).cloned()),
            KvInput::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                KvOutput::Ok
            }
        }
    }

    /// The answer already given to `client`'s command `seq`, if that was its last one.
    pub fn cached(&self, client: u64, seq: u64) -> Option<&KvOutput> {
        self.sessions
            .get(&client)
            .filter(|s| s.seq == seq)
            .map(|s| &s.output)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.data.get(key).map(String::as_str)
    }

    /// How many distinct commands were applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(client: u64, seq: u64, value: &str) -> Command {
        let input = KvInput::Append {
            key: "k".into(),
            value: value.into(),
        };
        Command { client, seq, input }
    }

    #[test]
    fn a_retried_command_is_applied_once_and_answered_again_8() {
        let mut kv = KvStore::default();
        assert_eq!(kv.apply(&append(1, 1, "a")), Some(KvOutput::Ok));
        assert_eq!(kv.apply(&append(1, 1, "a")), Some(KvOutput::Ok));
        assert_eq!(kv.get("k"), Some("a"));
        assert_eq!(kv.apply(&append(1, 2, "b")), Some(KvOutput::Ok));
        assert_eq!(kv.apply(&append(1, 1, "a")), None, "older than the session");
        assert_eq!(kv.get("k"), Some("ab"));
        assert_eq!(kv.applied(), 2);
    }

    #[test]
    fn sessions_are_per_client() {
        let mut kv = KvStore::default();
        kv.apply(&append(1, 1, "a"));
        kv.apply(&append(2, 1, "b"));
        assert_eq!(kv.get("k"), Some("ab"));
        let get = Command {
            client: 3,
            seq: 1,
            input: KvInput::Get { key: "k".into() },
        };
        assert_eq!(kv.apply(&get), Some(KvOutput::Value(Some("ab".into()))));
        assert_eq!(kv.cached(3, 1), Some(&KvOutput::Value(Some("ab".into()))));
    }
}
