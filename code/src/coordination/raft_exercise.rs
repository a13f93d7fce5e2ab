//! Exercise: the leader's commit rule, as one pure function.
//!
//! A Raft leader learns, from the answers to its `AppendEntries`, how far each server's log
//! matches its own (`match_index`, its own last index included). From those numbers and the
//! terms of its own log it decides how far the log is committed (Raft §5.3, §5.4.2):
//!
//! - an index stored on a majority of servers is a candidate;
//! - the leader commits a candidate *by counting* only if the entry there is from its current
//!   term; everything before it is then committed too (Log Matching);
//! - the commit index never moves backwards.
//!
//! Implement [`starter::new_commit_index`]. `log_terms[i]` is the term of the entry at index
//! `i + 1` (index 0 is the sentinel of term 0, not stored). The tests replay the situations of
//! Figure 8 drawn by the chapter's `ch10_figure8` example, then compare your function with the
//! rule of `raft::replication` on many random logs. Run them with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_commit_rule -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal suite.

use super::raft::log::{LogIndex, Term};

/// Your version.
pub mod starter {
    use super::{LogIndex, Term};

    /// The leader's new commit index.
    pub fn new_commit_index(
        _log_terms: &[Term],
        _match_indexes: &[LogIndex],
        _current_term: Term,
        _commit_index: LogIndex,
    ) -> LogIndex {
        todo!("count replicas, then commit only an entry of the current term, never backwards")
    }
}

/// One answer.
pub mod solution {
    use super::{LogIndex, Term};
    use crate::coordination::raft::rules::commit_index;

    /// The leader's new commit index.
    pub fn new_commit_index(
        log_terms: &[Term],
        match_indexes: &[LogIndex],
        current_term: Term,
        commit_index_now: LogIndex,
    ) -> LogIndex {
        let candidate = commit_index(match_indexes);
        let term_there = match candidate {
            0 => 0,
            i => log_terms.get(i as usize - 1).copied().unwrap_or(0),
        };
        if candidate > commit_index_now && term_there == current_term {
            candidate
        } else {
            commit_index_now
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::{RngExt, SeedableRng};

    type Rule = fn(&[Term], &[LogIndex], Term, LogIndex) -> LogIndex;

    /// Figure 8 as the `ch10_figure8` example draws it, from the leader S1's point of view.
    fn figure_8(rule: Rule) {
        // (c): S1 leads term 4, log 1 2 4; index 2 is on S1, S2, S3; nothing of term 4 elsewhere.
        let c = rule(&[1, 2, 4], &[3, 2, 2, 1, 1], 4, 1);
        assert_eq!(
            c, 1,
            "(c): the term-2 entry on a majority is not committed by counting"
        );
        // (e): the term-4 entry reaches S2 and S3: index 3 commits, and index 2 with it.
        let e = rule(&[1, 2, 4], &[3, 3, 3, 1, 1], 4, 1);
        assert_eq!(
            e, 3,
            "(e): an entry of the current term on a majority commits"
        );
        // A leader never moves its commit index back, whatever it hears.
        assert_eq!(rule(&[1, 2, 4], &[3, 1, 1, 1, 1], 4, 3), 3);
    }

    /// The rule by brute force: the highest index of the current term stored on a majority.
    fn oracle(terms: &[Term], matches: &[LogIndex], current: Term, commit: LogIndex) -> LogIndex {
        let majority = matches.len() / 2 + 1;
        (1..=terms.len() as LogIndex)
            .filter(|&i| terms[i as usize - 1] == current)
            .filter(|&i| matches.iter().filter(|&&m| m >= i).count() >= majority)
            .fold(commit, LogIndex::max)
    }

    /// Random logs with non-decreasing terms, compared with a brute-force rule.
    fn agrees_with_the_solution(rule: Rule) {
        let mut rng = SimRng::seed_from_u64(10);
        for case in 0..2_000 {
            let len = rng.random_range(0..8u64);
            let mut terms = Vec::new();
            let mut t = 1;
            for _ in 0..len {
                t += rng.random_range(0..2u64);
                terms.push(t);
            }
            let current = t + rng.random_range(0..2u64);
            let servers = rng.random_range(1..=7usize);
            let matches: Vec<LogIndex> = (0..servers).map(|_| rng.random_range(0..=len)).collect();
            let commit = rng.random_range(0..=len);
            let want = oracle(&terms, &matches, current, commit);
            let got = rule(&terms, &matches, current, commit);
            assert_eq!(
                got, want,
                "case {case}: log terms {terms:?}, match indexes {matches:?}, current term \
                 {current}, commit index {commit}"
            );
        }
    }

    #[test]
    fn the_solution_passes_figure_8() {
        figure_8(solution::new_commit_index);
    }

    #[test]
    #[ignore = "exercise: implement starter::new_commit_index, then run \
                `cargo test -p uds --release --lib exercise_commit_rule -- --ignored`"]
    fn exercise_commit_rule() {
        crate::exercise::starter_or_solution(
            || {
                figure_8(starter::new_commit_index);
                agrees_with_the_solution(starter::new_commit_index);
            },
            || {
                figure_8(solution::new_commit_index);
                agrees_with_the_solution(solution::new_commit_index);
            },
        );
    }
}
