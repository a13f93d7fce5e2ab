//! Raft's own witness of linearizability: each command placed at the instant it was committed.
//!
//! The linearizability checker's search (chapter 10) knows only what the clients saw, and a
//! history with many operations of unknown outcome, such as a run where a majority crashes and
//! restarts, can take it more steps than any budget. But the cluster knows more than its
//! clients: Raft applies commands in log order, and a command takes effect when its entry is
//! committed (§5.3). So the run itself proposes a linearization, which the checker only has to
//! verify ([`crate::coordination::linearizability::witness`]).
//!
//! [`record_commits`] registers a per-event hook on the simulator (as the safety invariants
//! are, [`super::invariants`]) that records, for every log index, the first instant at which
//! any server knew it committed, and the command there. After the run, [`CommitLog::witness`]
//! walks the committed log in index order, applying the store's session rule (§8, `kv.rs`): a
//! command whose client already had an equal or later sequence number applied is a duplicate
//! (a client's retry committed twice) or an abandoned one, and is skipped, so a command is
//! placed at its *first* commit. Each placement maps `(client, seq)` to the history: a client
//! issues its operations one at a time with sequence numbers 1, 2, 3, ..., and its history
//! lists them in that order (`client.rs`).
//!
//! Why the instant lies inside the operation's interval: the entry was appended after the client
//! called the operation (the command did not exist before), and the answer was computed by
//! applying it, which needs it committed, so before the client's return. The first instant
//! any server *knew* an index committed is at or after the instant it truly became committed
//! (a majority stored it) and at or before any answer from it. Commit instants grow with the
//! index (knowing index `i` committed means knowing every index below it is), so ordering by
//! (instant, index) is the log order. Reads served without a log entry (ReadIndex, leases)
//! have no placement; the checker fits each into its interval where the value it read held.
//!
//! None of this is trusted: the checker verifies the witness against the clients' history and
//! the key-value model, so a wrong instant or a buggy server yields "unknown", never a false
//! "linearizable". [`judge`] runs the search first and the witness only where the search gave
//! up, and reports which method decided each key.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use super::cluster::{self, KvNode};
use super::history::{KvInput, KvOutput, Operation};
use crate::coordination::linearizability::{KvModel, Limits, Placement, Report, check_report};
use crate::sim::{NodeId, Sim};

/// One committed index: the first instant (ns) a server knew it committed, and its command
/// as `(client, seq)` (`None` for a leader's no-op).
type Committed = (u64, Option<(u64, u64)>);

/// What [`record_commits`] saw: shared with the hook, read after the run.
#[derive(Clone, Debug, Default)]
pub struct CommitLog(Rc<RefCell<Vec<Committed>>>);

// ANCHOR: record_commits
/// Records, after every event of `sim` (whose servers are nodes `0..servers`), the first
/// instant each log index is known committed, and its command.
pub fn record_commits(sim: &mut Sim<KvNode>, servers: usize) -> CommitLog {
    let log = CommitLog::default();
    let committed = Rc::clone(&log.0);
    sim.add_invariant("commit instants (witness)", move |sim| {
        let mut committed = committed.borrow_mut();
        let now = sim.now().0;
        for id in 0..servers {
            let Some(server) = cluster::server(sim, NodeId(id)) else {
                continue; // crashed
            };
            let from = committed.len() as u64 + 1;
            for index in from..=server.commit_index() {
                let Some(entry) = server.log().entry(index) else {
                    break; // compacted away here; another server will show it
                };
                let command = entry.command.as_ref().map(|c| (c.client, c.seq));
                committed.push((now, command));
            }
        }
        Ok(())
    });
    log
}
// ANCHOR_END: record_commits

impl CommitLog {
    /// How many log indexes were seen committed.
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Whether no index was seen committed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: witness
    /// The linearization the log proposes for `history` (the clients' histories in client
    /// order, as `cluster::histories` returns them): every applied command at its first commit.
    pub fn witness(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Placement> {
        // (client, seq) -> history index; a client's k-th operation has sequence number k.
        let mut index: BTreeMap<(u64, u64), usize> = BTreeMap::new();
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            let seq = seen.entry(op.client).or_default();
            *seq += 1;
            index.insert((op.client, *seq), i);
        }
        let mut applied: BTreeMap<u64, u64> = BTreeMap::new(); // client -> last seq applied
        let mut order = Vec::new();
        for &(at_ns, command) in self.0.borrow().iter() {
            let Some((client, seq)) = command else {
                continue; // a no-op
            };
            let last = applied.entry(client).or_default();
            if seq <= *last {
                continue; // a duplicate, or a command its client had given up on
            }
            *last = seq;
            if let Some(&i) = index.get(&(client, seq)) {
                order.push((i, at_ns));
            }
        }
        order
    }
    // ANCHOR_END: witness
}

/// Checks `history` with the search within `limits`, and with the witness of `commits` where
/// the search gives up.
pub fn judge(
    history: &[Operation<KvInput, KvOutput>],
    commits: &CommitLog,
    limits: &Limits,
) -> Report {
    let witness = commits.witness(history);
    check_report(&KvModel, history, limits, Some(&witness))
}
