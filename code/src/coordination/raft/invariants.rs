//! Raft's safety properties (Figure 3), checked after every simulated event.
//!
//! The paper proves four properties that together give *state machine safety*; here each is a
//! simulator invariant ([`Sim::add_invariant`]) that sees every server between any two events,
//! crashed servers excepted (their disks are checked when they come back):
//!
//! - **Election safety**: at most one leader per term, *over the whole run*. A stale leader may
//!   coexist with a newer one (different terms), so a snapshot is not enough: the checker keeps
//!   a record of who led each term and fails if a second server ever leads the same term.
//! - **Log matching**: two logs with an entry of the same index and term are identical up to
//!   it. Checked in its strongest form: an `(index, term)` pair names one entry, with one
//!   command and one predecessor term, over the whole run and across all servers.
//! - **Leader completeness**: a leader of term `T` holds every entry committed in a term before
//!   `T`. The checker records each committed index with its entry's term and the term of the
//!   first server seen to know it committed: that server learned it from a leader of that term
//!   or an earlier one, so the entry was committed no later, and every leader of that term or
//!   after must hold it. (A restarted server forgets its commit index, so no stale knowledge
//!   survives a crash.)
//! - **State machine safety**: no two servers apply different entries at one index; restarted
//!   servers replaying their logs are held to the same record.
//!
//! With log compaction (§7) a server holds only the entries after its snapshot: each check
//! compares the indexes the server still holds, and treats a compacted index as held (a snapshot
//! covers only applied, hence committed, entries, and the servers keep each applied entry in
//! memory for at least one step, so the checks see it before it goes).
//!
//! Each check keeps what it has already verified (per server: how far, and how many
//! truncations of its log it has seen), so that checking after every event stays cheap: the
//! campaign runs millions of events with the checks on.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::cluster::KvNode;
use super::kv::Command;
use super::log::{Entry, LogIndex, Term};
use super::server::Server;
use crate::sim::{NodeId, Sim};

/// Registers the four safety invariants on a run whose servers are nodes `0..servers`.
pub fn add_safety_invariants(sim: &mut Sim<KvNode>, servers: usize) {
    // ANCHOR: election_safety
    let leaders: RefCell<BTreeMap<Term, NodeId>> = RefCell::default();
    sim.add_invariant("election safety (§5.2)", move |sim| {
        let mut leaders = leaders.borrow_mut();
        for s in up_servers(sim, servers)
            .into_iter()
            .filter(|s| s.is_leader())
        {
            let first = *leaders.entry(s.current_term()).or_insert(s.id());
            if first != s.id() {
                return Err(format!(
                    "{first} and {} both led term {}",
                    s.id(),
                    s.current_term()
                ));
            }
        }
        Ok(())
    });
    // ANCHOR_END: election_safety

    // ANCHOR: log_matching
    // (index, term) -> (term of the entry before it, command).
    type Named = BTreeMap<(LogIndex, Term), (Term, Option<Command>)>;
    let names: RefCell<Named> = RefCell::default();
    // Per server: (truncations seen, entries checked).
    let checked: RefCell<Vec<(u64, LogIndex)>> = RefCell::new(vec![(0, 0); servers]);
    sim.add_invariant("log matching (§5.3)", move |sim| {
        let (mut names, mut checked) = (names.borrow_mut(), checked.borrow_mut());
        for s in up_servers(sim, servers) {
            let log = s.log();
            let (truncations, mut from) = checked[s.id().0];
            if truncations != log.truncations() || from > log.last_index() {
                from = 0;
            }
            for index in from.max(log.offset()) + 1..=log.last_index() {
                let entry = log.entry(index).expect("inside the log");
                let prev = log.term_at(index - 1).expect("inside the log");
                let value = (prev, entry.command.clone());
                let named = names
                    .entry((index, entry.term))
                    .or_insert_with(|| value.clone());
                if *named != value {
                    return Err(format!(
                        "{} holds ({index}, term {}) as {value:?}, seen before as {named:?}",
                        s.id(),
                        entry.term
                    ));
                }
            }
            checked[s.id().0] = (log.truncations(), log.last_index());
        }
        Ok(())
    });
    // ANCHOR_END: log_matching

    // ANCHOR: leader_completeness
    // committed[i - 1] = (term of the entry at i, term of the first server seen knowing it).
    let committed: RefCell<Vec<(Term, Term)>> = RefCell::default();
    // Per server: (its term when last checked as leader, committed entries checked).
    let verified: RefCell<Vec<(Term, usize)>> = RefCell::new(vec![(0, 0); servers]);
    sim.add_invariant("leader completeness (§5.4)", move |sim| {
        let (mut committed, mut verified) = (committed.borrow_mut(), verified.borrow_mut());
        for s in up_servers(sim, servers) {
            let known = s.commit_index() as usize;
            for i in committed.len() + 1..=known {
                // A compacted index is recorded from a server that still holds it.
                let Some(term) = s.log().term_at(i as LogIndex) else {
                    break;
                };
                committed.push((term, s.current_term()));
            }
        }
        for s in up_servers(sim, servers)
            .into_iter()
            .filter(|s| s.is_leader())
        {
            let (term, mut done) = verified[s.id().0];
            if term != s.current_term() {
                done = 0;
            }
            for (i, &(entry_term, seen_in)) in committed.iter().enumerate().skip(done) {
                let index = i as LogIndex + 1;
                let held = index < s.log().offset() || s.log().term_at(index) == Some(entry_term);
                if seen_in <= s.current_term() && !held {
                    return Err(format!(
                        "leader {} of term {} lacks committed entry {index} of term {entry_term}",
                        s.id(),
                        s.current_term()
                    ));
                }
            }
            verified[s.id().0] = (s.current_term(), committed.len());
        }
        Ok(())
    });
    // ANCHOR_END: leader_completeness

    // ANCHOR: state_machine_safety
    let applied: RefCell<Vec<Entry>> = RefCell::default();
    let checked: RefCell<Vec<LogIndex>> = RefCell::new(vec![0; servers]);
    sim.add_invariant("state machine safety (§5.4.3)", move |sim| {
        let (mut applied, mut checked) = (applied.borrow_mut(), checked.borrow_mut());
        for s in up_servers(sim, servers) {
            let from = checked[s.id().0].min(s.last_applied());
            for index in from + 1..=s.last_applied() {
                // Entries installed from a snapshot were not applied one by one here.
                let Some(entry) = s.log().entry(index) else {
                    continue;
                };
                match applied.get(index as usize - 1) {
                    Some(first) if first != entry => {
                        return Err(format!(
                            "{} applied {entry:?} at {index}, another server {first:?}",
                            s.id()
                        ));
                    }
                    Some(_) => {}
                    None if applied.len() as LogIndex == index - 1 => applied.push(entry.clone()),
                    None => {}
                }
            }
            checked[s.id().0] = s.last_applied();
        }
        Ok(())
    });
    // ANCHOR_END: state_machine_safety
}

/// The servers that are not crashed (paused ones included: their state is still there).
fn up_servers(sim: &Sim<KvNode>, servers: usize) -> Vec<&Server> {
    (0..servers)
        .filter_map(|i| sim.process(NodeId(i)).and_then(KvNode::server))
        .collect()
}
