//! Exercise: CRAQ's dirty-read rule.
//!
//! A CRAQ replica keeps, per key, its newest clean (committed) version and any dirty versions
//! written after it ([`KeyVersions`]). Implement [`starter::craq_read`], the rule a replica
//! applies to a read (Terrace and Freedman 2009, §2.3):
//!
//! - first pass (`tail_committed == None`): if the key has no dirty version, answer with the
//!   clean value; otherwise return [`ReadDecision::AskTail`];
//! - second pass (`tail_committed == Some(seq)`, the sequence number of the tail's latest
//!   committed write of the key): answer with the value of that version. Careful: between the
//!   question and the answer, an acknowledgement may have made a *newer* version clean and
//!   dropped version `seq` ([`KeyVersions::committed_version`] handles that case).
//!
//! The tests first check the rule on small cases, then run a CRAQ chain on the simulator with
//! your rule in every replica, over many seeds with latency jitter, and check that no read is
//! stale. Run them with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_craq_read -- --ignored
//! ```
//!
//! Then try [`tempting_but_wrong`], which skips the tail and answers with the last clean
//! version: the test `answering_the_last_clean_version_without_asking_the_tail_is_stale` shows
//! why CRAQ does not do that. [`solution`] has one answer; its tests run in the normal suite.

use super::versions::{KeyVersions, ReadDecision};

/// Your version.
pub mod starter {
    use super::{KeyVersions, ReadDecision};

    /// CRAQ's dirty-read rule.
    pub fn craq_read(_key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
        todo!("answer a clean key locally; ask the tail about a dirty one; then answer its version")
    }
}

/// One answer.
pub mod solution {
    use super::{KeyVersions, ReadDecision};

    // ANCHOR: solution
    /// CRAQ's dirty-read rule.
    pub fn craq_read(key: &KeyVersions, tail_committed: Option<u64>) -> ReadDecision {
        match tail_committed {
            None if key.is_dirty() => ReadDecision::AskTail,
            None => ReadDecision::Answer(key.clean().value.clone()),
            Some(seq) => {
                let version = key.committed_version(seq).expect("the tail is never ahead");
                ReadDecision::Answer(version.value.clone())
            }
        }
    }
    // ANCHOR_END: solution
}

// ANCHOR: tempting_but_wrong
/// Never asks the tail: a dirty key is answered with its last clean version. Committed, yes,
/// but possibly older than a write the tail has already acknowledged to its client, because the
/// acknowledgement has not yet climbed back up to this replica.
pub fn tempting_but_wrong(key: &KeyVersions, _tail_committed: Option<u64>) -> ReadDecision {
    ReadDecision::Answer(key.clean().value.clone())
}
// ANCHOR_END: tempting_but_wrong

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::client::{ReadMode, Workload};
    use super::super::history::check_stale_reads;
    use super::super::run::{ChainSetup, run};
    use super::super::versions::{ReadDecision, ReadRule};
    use super::*;
    use crate::sim::{Latency, LinkConfig};

    fn v(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    /// A small, busy CRAQ deployment: many clients on few keys, jittery links.
    fn setup(rule: ReadRule) -> ChainSetup {
        let ms = Duration::from_millis;
        ChainSetup {
            chain_length: 3,
            clients: 8,
            read_mode: ReadMode::Craq,
            workload: Workload {
                read_fraction: 0.7,
                keys: 3,
                think_time_mean: ms(1),
            },
            link: LinkConfig::constant(ms(1)).with_latency(Latency::Uniform {
                min: Duration::from_micros(200),
                max: ms(2),
            }),
            service_time: Duration::ZERO,
            duration: ms(300),
            read_rule: Some(rule),
            failures: None,
        }
    }

    /// Total stale reads of `rule` over `seeds` runs.
    fn stale_reads(rule: ReadRule, seeds: u64) -> u64 {
        (0..seeds)
            .map(|seed| {
                let outcome =
                    run(&setup(rule), seed).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                let report = check_stale_reads(&outcome.history).expect("append-only history");
                assert_eq!(report.divergent, 0, "seed {seed}");
                report.stale
            })
            .sum()
    }

    fn check_rule(rule: ReadRule) {
        let mut key = KeyVersions::default();
        assert_eq!(rule(&key, None), ReadDecision::Answer(None));
        key.push_dirty(1, v("a;"));
        assert_eq!(rule(&key, None), ReadDecision::AskTail);
        assert_eq!(rule(&key, Some(0)), ReadDecision::Answer(None));
        assert_eq!(rule(&key, Some(1)), ReadDecision::Answer(v("a;")));
        key.push_dirty(2, v("a;b;"));
        key.commit(2);
        assert_eq!(rule(&key, None), ReadDecision::Answer(v("a;b;")));
        // The tail named write 1, but write 2 was acknowledged meanwhile: 2 is fine.
        assert_eq!(rule(&key, Some(1)), ReadDecision::Answer(v("a;b;")));
        assert_eq!(stale_reads(rule, 20), 0, "a correct rule never reads stale");
    }

    /// CRAQ §2.3: with the dirty-read rule, any replica may answer and no read is stale.
    #[test]
    fn craq_read_solution_never_returns_a_stale_value() {
        check_rule(solution::craq_read);
        check_rule(super::super::versions::craq_read);
    }

    #[test]
    #[ignore = "exercise: implement starter::craq_read, then run \
                `cargo test -p uds --release --lib exercise_craq_read -- --ignored`"]
    fn exercise_craq_read() {
        crate::exercise::starter_or_solution(
            || check_rule(starter::craq_read),
            || check_rule(solution::craq_read),
        );
    }

    /// Why CRAQ asks the tail: the last clean version can be behind an acknowledged write.
    #[test]
    fn answering_the_last_clean_version_without_asking_the_tail_is_stale() {
        assert!(stale_reads(tempting_but_wrong, 20) > 0);
    }
}
