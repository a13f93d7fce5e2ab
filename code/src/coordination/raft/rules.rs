//! Raft's three counting rules, as pure functions.
//!
//! Everything Raft decides by counting or comparing is here, free of messages and timers, so
//! each rule can be read in one line and tested against a table:
//!
//! - [`majority`]: how many servers make a quorum. Any two majorities of the same cluster share
//!   a server, which is the root of every safety argument in Raft: two candidates cannot both
//!   win a term (§5.2), and a committed entry is stored on at least one voter of every later
//!   election (§5.4.1).
//! - [`is_log_up_to_date`]: the election restriction (§5.4.1). A voter refuses a candidate whose
//!   log is less up to date than its own: compare the terms of the last entries, then, on equal
//!   terms, the lengths.
//! - [`commit_index`]: the highest index stored on a majority, given every server's
//!   `match_index` (the leader's own last index included). This is only a *candidate* for the
//!   commit index: the leader may commit it by counting only if its entry is from the current
//!   term (§5.4.2, Figure 8); see `maybe_commit` in `replication.rs`.

use super::log::{LogIndex, Term};

// ANCHOR: majority
/// The size of the smallest majority of `n` servers.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}
// ANCHOR_END: majority

// ANCHOR: commit_index
/// The highest log index that a majority of servers store, given one `match_index` per server
/// (the leader's own last index included). 0 if there is no server.
pub fn commit_index(match_indexes: &[LogIndex]) -> LogIndex {
    if match_indexes.is_empty() {
        return 0;
    }
    let mut sorted = match_indexes.to_vec();
    // Largest first: the majority-th largest value is stored on at least a majority.
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[majority(sorted.len()) - 1]
}
// ANCHOR_END: commit_index

// ANCHOR: is_log_up_to_date
/// Whether a candidate whose log ends with `(candidate_last_term, candidate_last_index)` is at
/// least as up to date as a voter whose log ends with `(last_term, last_index)` (§5.4.1).
pub fn is_log_up_to_date(
    candidate_last_term: Term,
    candidate_last_index: LogIndex,
    last_term: Term,
    last_index: LogIndex,
) -> bool {
    (candidate_last_term, candidate_last_index) >= (last_term, last_index)
}
// ANCHOR_END: is_log_up_to_date

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_is_more_than_half() {
        let table = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)];
        for (n, expected) in table {
            assert_eq!(majority(n), expected, "majority({n})");
        }
    }

    #[test]
    fn any_two_majorities_intersect() {
        for n in 1..=9 {
            assert!(2 * majority(n) > n, "n = {n}");
        }
    }

    #[test]
    fn commit_index_is_the_highest_index_on_a_majority() {
        let table: [(&[LogIndex], LogIndex); 8] = [
            (&[], 0),
            (&[7], 7),
            (&[5, 0, 0], 0),
            (&[5, 3, 0], 3),
            (&[5, 3, 4], 4),
            (&[9, 9, 1, 1, 1], 1),
            (&[9, 8, 7, 1, 1], 7),
            (&[2, 2, 2, 2], 2),
        ];
        for (matches, expected) in table {
            assert_eq!(commit_index(matches), expected, "{matches:?}");
        }
    }

    #[test]
    fn log_up_to_date_compares_last_term_then_length_5_4_1() {
        // (candidate term, candidate index, voter term, voter index, grant?)
        let table = [
            (3, 1, 2, 9, true),  // a later last term wins however short the log
            (2, 9, 3, 1, false), // an earlier last term loses however long the log
            (2, 5, 2, 5, true),  // equal logs: up to date
            (2, 6, 2, 5, true),  // same term, longer
            (2, 4, 2, 5, false), // same term, shorter
            (0, 0, 0, 0, true),  // two empty logs
            (0, 0, 1, 1, false),
        ];
        for (ct, ci, vt, vi, grant) in table {
            assert_eq!(
                is_log_up_to_date(ct, ci, vt, vi),
                grant,
                "{ct},{ci} vs {vt},{vi}"
            );
        }
    }
}
