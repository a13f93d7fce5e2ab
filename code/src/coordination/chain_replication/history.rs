//! Client histories, and a checker for the one anomaly the chapter measures: stale reads.
//!
//! A *history* is what clients saw: for every operation, what was asked, what came back, and
//! when the call and the return happened in true (simulated) time. The types here have the shape
//! of the linearizability checker's (`Operation<KvInput, KvOutput>` of
//! `coordination::linearizability`), so that the same history can be handed to both.
//!
//! The full linearizability check is a search. For the experiment we want something cheaper
//! and more specific: *how many* reads were stale, and why. A read is **stale** when it returns
//! a value older than one that was already visible before the read was issued:
//!
//! - **behind a write**: an append that had been acknowledged to its client before the read
//!   began is missing from the value read; this is the staleness of reading a lagging replica
//!   (a Raft follower, an asynchronous backup);
//! - **behind a read**: a read that had already *returned* before this read began saw a longer
//!   value; this is what happens when a read is served from a write that is not yet committed
//!   and a later read is served from a replica that does not have it: time goes backwards.
//!
//! Either one makes the history non-linearizable (Herlihy and Wing, TOPLAS 12(3), 1990): a
//! linearizable read must reflect every operation that completed before it began.
//!
//! To order values without knowing the system's internals, the checker needs writes that are
//! appends of unique tokens ending in [`TOKEN_END`] (as in MIT 6.5840's key/value tests): then
//! every value of a key is a sequence of tokens, and in a correct execution every value read is
//! a prefix of the longest value read or written. A value that is not such a prefix is reported
//! as **divergent** (replicas applied the writes in different orders). Histories with puts are
//! outside the checker's scope and rejected with an error, not a wrong answer.

use std::collections::BTreeMap;
use std::fmt;

use crate::sim::Time;

// ANCHOR: kv_types
/// The key-value operations and histories are the linearizability checker's own types
/// (chapter 10), so a chain's history can be handed to the checker as it is.
pub use crate::coordination::linearizability::{KvInput, KvOutput};

/// One operation of a client history: who asked what, what came back (`None` if nothing did
/// before the run ended), and when, in true nanoseconds (`return_ns` is `u64::MAX` then).
pub type Operation = crate::coordination::linearizability::Operation<KvInput, KvOutput>;
// ANCHOR_END: kv_types

/// The character that ends every append token the checker understands.
pub const TOKEN_END: char = ';';

/// What the stale-read checker found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleReadReport {
    /// Completed reads examined.
    pub reads: u64,
    /// Reads missing an append acknowledged before they began.
    pub behind_write: u64,
    /// Reads older than a value another read had returned before they began.
    pub behind_read: u64,
    /// Reads that were stale for either reason (each counted once).
    pub stale: u64,
    /// Reads whose value is not a prefix of the key's longest value: writes applied in
    /// different orders. Always zero for a correct chain.
    pub divergent: u64,
    /// A readable account of the first stale or divergent read, if any.
    pub first: Option<String>,
}

impl StaleReadReport {
    /// The fraction of reads that were stale (0 when there were no reads).
    pub fn stale_fraction(&self) -> f64 {
        if self.reads == 0 {
            0.0
        } else {
            self.stale as f64 / self.reads as f64
        }
    }

    fn merge(&mut self, other: StaleReadReport) {
        self.reads += other.reads;
        self.behind_write += other.behind_write;
        self.behind_read += other.behind_read;
        self.stale += other.stale;
        self.divergent += other.divergent;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// Why a history cannot be judged by this checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckError {
    /// A put: values are then not ordered by their tokens.
    Put { key: String },
    /// An append whose value is not one token ending in [`TOKEN_END`].
    BadToken { key: String, value: String },
    /// The same token appended twice to a key.
    DuplicateToken { key: String, value: String },
    /// A completed operation whose return precedes its call.
    TimeTravel { client: u64 },
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Put { key } => write!(
                f,
                "put on key {key:?}: the stale-read checker needs append-only histories"
            ),
            CheckError::BadToken { key, value } => write!(
                f,
                "append {value:?} on key {key:?} is not one token ending in {TOKEN_END:?}"
            ),
            CheckError::DuplicateToken { key, value } => {
                write!(f, "token {value:?} appended twice to key {key:?}")
            }
            CheckError::TimeTravel { client } => {
                write!(f, "an operation of client {client} returns before its call")
            }
        }
    }
}

impl std::error::Error for CheckError {}

/// The operations of one key, split by kind.
#[derive(Default)]
struct KeyOps<'a> {
    /// Completed appends: (return time, token).
    appends: Vec<(u64, &'a str)>,
    /// Every append token (completed or not), to find the longest value's order.
    all_tokens: Vec<&'a str>,
    /// Completed reads: the operation and the value it returned.
    reads: Vec<(&'a Operation, &'a str)>,
}

// ANCHOR: check_stale_reads
/// Counts the stale reads of an append-only `history`, key by key.
pub fn check_stale_reads(history: &[Operation]) -> Result<StaleReadReport, CheckError> {
    let mut keys: BTreeMap<&str, KeyOps<'_>> = BTreeMap::new();
    for op in history {
        if op.output.is_some() && op.return_ns < op.call_ns {
            return Err(CheckError::TimeTravel { client: op.client });
        }
        let ops = keys.entry(op.input.key()).or_default();
        match (&op.input, &op.output) {
            (KvInput::Put { key, .. }, _) => return Err(CheckError::Put { key: key.clone() }),
            (KvInput::Append { key, value }, output) => {
                let one_token = value.ends_with(TOKEN_END) && value.matches(TOKEN_END).count() == 1;
                if !one_token {
                    let (key, value) = (key.clone(), value.clone());
                    return Err(CheckError::BadToken { key, value });
                }
                ops.all_tokens.push(value);
                if output.is_some() {
                    ops.appends.push((op.return_ns, value));
                }
            }
            (KvInput::Get { .. }, Some(KvOutput::Value(value))) => {
                ops.reads.push((op, value.as_deref().unwrap_or("")));
            }
            (KvInput::Get { .. }, _) => {} // never answered (or answered nonsense): no claim
        }
    }
    let mut report = StaleReadReport::default();
    for (key, ops) in keys {
        report.merge(check_key(key, ops)?);
    }
    Ok(report)
}
// ANCHOR_END: check_stale_reads

/// The stale reads of one key. Runs in O(n log n) for n operations of the key.
fn check_key(key: &str, mut ops: KeyOps<'_>) -> Result<StaleReadReport, CheckError> {
    // The order of the appends: the longest value read, then any token it lacks, in call order.
    let longest = ops.reads.iter().map(|r| r.1).max_by_key(|v| v.len());
    let mut position: BTreeMap<&str, usize> = BTreeMap::new();
    for token in longest.into_iter().flat_map(tokens) {
        let next = position.len();
        position.entry(token).or_insert(next);
    }
    let mut seen = std::collections::BTreeSet::new();
    for token in &ops.all_tokens {
        if !seen.insert(*token) {
            let (key, value) = (key.to_string(), token.to_string());
            return Err(CheckError::DuplicateToken { key, value });
        }
        let next = position.len();
        position.entry(token).or_insert(next);
    }
    let longest = longest.unwrap_or("");

    // For each time t, the furthest position among appends acknowledged before t.
    ops.appends.sort_unstable();
    let mut acked_max = Vec::with_capacity(ops.appends.len());
    let mut furthest = 0;
    for (_, token) in &ops.appends {
        furthest = furthest.max(position[token] + 1);
        acked_max.push(furthest);
    }
    // For each time t, the longest value (in tokens) among reads returned before t.
    let mut by_return: Vec<(u64, usize)> = ops
        .reads
        .iter()
        .map(|(op, v)| (op.return_ns, tokens(v).count()))
        .collect();
    by_return.sort_unstable();
    let mut read_max = Vec::with_capacity(by_return.len());
    let mut longest_read = 0;
    for (_, n) in &by_return {
        longest_read = longest_read.max(*n);
        read_max.push(longest_read);
    }

    let mut report = StaleReadReport::default();
    for (op, value) in &ops.reads {
        report.reads += 1;
        if !longest.starts_with(value) {
            report.divergent += 1;
            report.first.get_or_insert_with(|| {
                let client = op.client;
                format!(
                    "client {client} read {value:?} from key {key:?}: not a prefix of {longest:?}"
                )
            });
            continue;
        }
        let length = tokens(value).count();
        // Appends and reads strictly before the call: `partition_point` counts them.
        let before = ops.appends.partition_point(|(at, _)| *at < op.call_ns);
        let behind_write = before > 0 && acked_max[before - 1] > length;
        let before = by_return.partition_point(|(at, _)| *at < op.call_ns);
        let behind_read = before > 0 && read_max[before - 1] > length;
        report.behind_write += u64::from(behind_write);
        report.behind_read += u64::from(behind_read);
        if behind_write || behind_read {
            report.stale += 1;
            report.first.get_or_insert_with(|| {
                let why = if behind_write {
                    "an append acknowledged"
                } else {
                    "a longer value returned by another read"
                };
                format!(
                    "client {} read key {key:?} at {} ns and got {length} appends, but {why} \
                     before that showed more",
                    op.client, op.call_ns
                )
            });
        }
    }
    Ok(report)
}

/// The tokens of a value, each with its terminator.
fn tokens(value: &str) -> impl Iterator<Item = &str> {
    value.split_inclusive(TOKEN_END)
}

/// A client's history with its unanswered request, if any, appended as an operation of unknown
/// outcome: it may or may not have taken effect, at any time after its call.
pub fn with_unanswered(
    history: &[Operation],
    client: u64,
    unanswered: Option<(&KvInput, Time)>,
) -> Vec<Operation> {
    let mut ops = history.to_vec();
    if let Some((input, call)) = unanswered {
        ops.push(Operation {
            client,
            input: input.clone(),
            output: None,
            call_ns: call.0,
            return_ns: u64::MAX,
        });
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(client: u64, key: &str, token: &str, call: u64, ret: u64) -> Operation {
        Operation {
            client,
            input: KvInput::Append {
                key: key.into(),
                value: token.into(),
            },
            output: Some(KvOutput::Ok),
            call_ns: call,
            return_ns: ret,
        }
    }

    fn get(client: u64, key: &str, value: &str, call: u64, ret: u64) -> Operation {
        let value = (!value.is_empty()).then(|| value.to_string());
        Operation {
            client,
            input: KvInput::Get { key: key.into() },
            output: Some(KvOutput::Value(value)),
            call_ns: call,
            return_ns: ret,
        }
    }

    #[test]
    fn a_read_concurrent_with_an_append_may_miss_it() {
        let history = [append(1, "k", "a;", 0, 10), get(2, "k", "", 5, 6)];
        let report = check_stale_reads(&history).unwrap();
        assert_eq!((report.reads, report.stale), (1, 0));
    }

    #[test]
    fn a_read_missing_an_acknowledged_append_is_stale_behind_a_write() {
        let history = [append(1, "k", "a;", 0, 10), get(2, "k", "", 11, 12)];
        let report = check_stale_reads(&history).unwrap();
        assert_eq!((report.behind_write, report.behind_read), (1, 0));
        assert!(report.first.unwrap().contains("acknowledged"));
    }

    #[test]
    fn a_read_older_than_an_earlier_read_is_stale_behind_a_read() {
        // The append never returns (it was still in the chain), but one read saw it.
        let mut pending = append(1, "k", "a;", 0, 0);
        pending.output = None;
        pending.return_ns = u64::MAX;
        let history = [pending, get(2, "k", "a;", 1, 2), get(3, "k", "", 3, 4)];
        let report = check_stale_reads(&history).unwrap();
        assert_eq!((report.behind_write, report.behind_read), (0, 1));
        assert_eq!(report.stale_fraction(), 0.5);
    }

    #[test]
    fn values_in_different_orders_are_divergent() {
        let history = [
            append(1, "k", "a;", 0, 1),
            append(2, "k", "b;", 0, 1),
            get(3, "k", "a;b;", 2, 3),
            get(4, "k", "b;", 2, 3),
        ];
        let report = check_stale_reads(&history).unwrap();
        assert_eq!(report.divergent, 1);
    }

    #[test]
    fn histories_outside_the_checkers_scope_are_errors() {
        let put = Operation {
            client: 1,
            input: KvInput::Put {
                key: "k".into(),
                value: "x".into(),
            },
            output: Some(KvOutput::Ok),
            call_ns: 0,
            return_ns: 1,
        };
        assert!(matches!(
            check_stale_reads(&[put]),
            Err(CheckError::Put { .. })
        ));
        let bad = append(1, "k", "no terminator", 0, 1);
        assert!(check_stale_reads(&[bad]).is_err());
        let twice = [append(1, "k", "a;", 0, 1), append(2, "k", "a;", 2, 3)];
        assert!(matches!(
            check_stale_reads(&twice),
            Err(CheckError::DuplicateToken { .. })
        ));
        let backwards = append(1, "k", "a;", 5, 1);
        assert!(check_stale_reads(&[backwards]).is_err());
    }
}
