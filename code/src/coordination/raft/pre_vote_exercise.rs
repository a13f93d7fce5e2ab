//! Exercise: the rule by which a Raft server answers a pre-vote (Ongaro's thesis §9.6).
//!
//! A pre-vote asks "would you vote for me in `term`?" before the asker raises its term. The
//! voter answers yes only if three things hold: the proposed term is above its own; it has not
//! heard from a leader lately (within the *shortest* election timeout), so a server that was
//! merely cut off cannot depose a healthy leader; and the asker's log is at least as up to date
//! as its own (§5.4.1). A leader always says no. Answering writes nothing: no term, no vote.
//!
//! Implement [`starter::Rule::grant`]. The claims to make true are this file's tests: each
//! condition on its own, and agreement with the book's server, which hears a heartbeat from a
//! leader some time before the pre-vote arrives. Run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_pre_vote_rule -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use std::time::Duration;

use super::log::{LogIndex, Term};
use super::message::RequestVote;

/// What a voter knows when a pre-vote arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreVoter {
    /// Its current term (a pre-vote does not change it).
    pub current_term: Term,
    /// Whether it leads its current term.
    pub is_leader: bool,
    /// How long ago, on its clock, it last heard from a leader of its current term; `None` if
    /// it never has.
    pub heard_leader_ago: Option<Duration>,
    /// The index and term of its last log entry (0 and 0 for an empty log).
    pub last_log_index: LogIndex,
    pub last_log_term: Term,
}

/// A pre-vote rule.
pub trait PreVoteRule {
    /// Whether `voter` would vote for the asker of `request`, given the shortest election
    /// timeout `min_timeout`.
    fn grant(voter: &PreVoter, request: &RequestVote, min_timeout: Duration) -> bool;
}

/// Your version.
pub mod starter {
    use super::{Duration, PreVoteRule, PreVoter, RequestVote};

    /// The pre-vote rule.
    pub struct Rule;

    impl PreVoteRule for Rule {
        fn grant(_voter: &PreVoter, _request: &RequestVote, _min_timeout: Duration) -> bool {
            todo!("a later term, no leader heard lately, and a log at least as up to date")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{Duration, PreVoteRule, PreVoter, RequestVote};

    /// The pre-vote rule.
    pub struct Rule;

    impl PreVoteRule for Rule {
        fn grant(voter: &PreVoter, request: &RequestVote, min_timeout: Duration) -> bool {
            let later_term = request.term > voter.current_term;
            let leader_lately =
                voter.is_leader || voter.heard_leader_ago.is_some_and(|ago| ago < min_timeout);
            let up_to_date = (request.last_log_term, request.last_log_index)
                >= (voter.last_log_term, voter.last_log_index);
            later_term && !leader_lately && up_to_date
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::{RngExt, SeedableRng};

    use super::{PreVoteRule, PreVoter, RequestVote};
    use crate::coordination::raft::log::{Entry, Log};
    use crate::coordination::raft::message::{AppendEntries, Message};
    use crate::coordination::raft::server::{Config, Durable, Server};
    use crate::sim::{Ctx, Metrics, NodeId, SimRng, Time};

    const MIN: Duration = Duration::from_millis(150);

    fn voter(term: u64, ago_ms: Option<u64>, last: (u64, u64)) -> PreVoter {
        PreVoter {
            current_term: term,
            is_leader: false,
            heard_leader_ago: ago_ms.map(Duration::from_millis),
            last_log_index: last.0,
            last_log_term: last.1,
        }
    }

    fn ask(term: u64, last: (u64, u64)) -> RequestVote {
        RequestVote {
            term,
            candidate: NodeId(1),
            last_log_index: last.0,
            last_log_term: last.1,
        }
    }

    /// Each condition on its own, for a voter in term 5 whose log ends at index 7 of term 4.
    fn the_conditions<R: PreVoteRule>() {
        let quiet = voter(5, Some(400), (7, 4));
        assert!(R::grant(&quiet, &ask(6, (7, 4)), MIN), "all three hold");
        assert!(!R::grant(&quiet, &ask(5, (7, 4)), MIN), "not a later term");
        assert!(
            !R::grant(&voter(5, Some(40), (7, 4)), &ask(6, (7, 4)), MIN),
            "leader lately"
        );
        assert!(
            R::grant(&voter(5, None, (7, 4)), &ask(6, (7, 4)), MIN),
            "never heard one"
        );
        assert!(
            !R::grant(&quiet, &ask(6, (9, 3)), MIN),
            "log less up to date"
        );
        let leader = PreVoter {
            is_leader: true,
            ..voter(5, None, (7, 4))
        };
        assert!(
            !R::grant(&leader, &ask(6, (9, 5)), MIN),
            "a leader always says no"
        );
    }

    /// Agreement with the book's server on random states: node 0 restarts from a disk with a
    /// term and a log, hears a heartbeat from leader n2 (or not), and later gets the pre-vote.
    fn agrees_with_the_server<R: PreVoteRule>() {
        for seed in 0..300 {
            let mut rng = SimRng::seed_from_u64(seed);
            let term = rng.random_range(1..6);
            let mut terms: Vec<u64> = (0..rng.random_range(0..5))
                .map(|_| rng.random_range(1..=term))
                .collect();
            terms.sort_unstable();
            let ago = rng.random_bool(0.7).then(|| rng.random_range(0..300u64));
            let last = (terms.len() as u64, terms.last().copied().unwrap_or(0));
            let request = ask(
                rng.random_range(term..=term + 1),
                (rng.random_range(0..6), rng.random_range(0..=term)),
            );
            let expected = server_answer(term, &terms, ago, &request);
            let v = voter(term, ago, last);
            assert_eq!(
                R::grant(&v, &request, MIN),
                expected,
                "seed {seed}: {v:?} {request:?}"
            );
        }
    }

    /// What the real server answers.
    fn server_answer(term: u64, terms: &[u64], ago_ms: Option<u64>, request: &RequestVote) -> bool {
        let mut log = Log::new();
        for &t in terms {
            log.append(Entry {
                term: t,
                command: None,
            });
        }
        let (last_index, last_term) = (log.last_index(), log.last_term());
        let disk = Durable {
            current_term: term,
            log,
            ..Durable::empty()
        };
        let config = Config::default();
        assert_eq!(
            config.election_timeout_ms_min, 150,
            "MIN matches the default"
        );
        let mut server = Server::restart(NodeId(0), 3, config, disk);
        let (mut rng, mut metrics) = (SimRng::seed_from_u64(0), Metrics::default());
        let now = Time::from_millis(1_000);
        if let Some(ago) = ago_ms {
            let heartbeat = AppendEntries {
                term,
                leader: NodeId(2),
                prev_log_index: last_index,
                prev_log_term: last_term,
                entries: Vec::new(),
                leader_commit: 0,
            };
            let mut effects = Vec::new();
            let at = Time(now.0 - ago * 1_000_000);
            let mut ctx = Ctx::new(NodeId(0), at, &mut rng, &mut effects, &mut metrics);
            server.on_message(&mut ctx, NodeId(2), Message::AppendEntries(heartbeat));
            let _ = server.take_ready();
        }
        let mut effects = Vec::new();
        let mut ctx = Ctx::new(NodeId(0), now, &mut rng, &mut effects, &mut metrics);
        server.on_message(
            &mut ctx,
            request.candidate,
            Message::PreVote(request.clone()),
        );
        let (_, sent) = server.take_ready().into_parts();
        let answers: Vec<bool> = sent
            .iter()
            .filter_map(|(_, msg)| match msg {
                Message::PreVoteResponse(r) => Some(r.vote_granted),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 1, "one answer to one pre-vote: {sent:?}");
        assert_eq!(server.current_term(), term, "a pre-vote changes no term");
        answers[0]
    }

    fn check_claims<R: PreVoteRule>() {
        the_conditions::<R>();
        agrees_with_the_server::<R>();
    }

    #[test]
    fn pre_vote_rule_matches_the_thesis_and_the_server() {
        check_claims::<super::solution::Rule>();
    }

    #[test]
    #[ignore = "exercise: implement starter::Rule::grant, then run \
                `cargo test -p uds --release --lib exercise_pre_vote_rule -- --ignored`"]
    fn exercise_pre_vote_rule() {
        crate::exercise::starter_or_solution(
            check_claims::<super::starter::Rule>,
            check_claims::<super::solution::Rule>,
        );
    }
}
