//! Exercise: the rule by which a Raft server grants its vote (§5.2 and §5.4.1).
//!
//! A voter has three pieces of state that matter: its current term, whom it voted for in that
//! term, and the last entry of its log (index and term). A `RequestVote` carries the
//! candidate's term and the index and term of the candidate's last entry. Implement
//! [`starter::Rule::grant`], which says whether the voter grants the vote. Assume, as the
//! server does, that a request with a higher term has already made the voter adopt that term
//! with no vote cast, so `request.term <= voter.current_term` whenever `grant` is asked.
//!
//! The claims to make true are this file's tests: the rule's three conditions, a duplicated
//! request (the network duplicates messages) answered the same way twice, and agreement with
//! the book's server on random states. Run the starter's with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_vote_rule -- --ignored
//! ```
//!
//! [`solution`] has one answer; its tests run in the normal test suite.

use super::log::{LogIndex, Term};
use super::message::RequestVote;
use crate::sim::NodeId;

/// What a voter knows when a `RequestVote` arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Voter {
    /// Its current term (already raised to the request's term if that was higher).
    pub current_term: Term,
    /// Whom it voted for in `current_term`.
    pub voted_for: Option<NodeId>,
    /// The index of its last log entry (0 for an empty log).
    pub last_log_index: LogIndex,
    /// The term of its last log entry (0 for an empty log).
    pub last_log_term: Term,
}

/// A vote-granting rule.
pub trait VoteRule {
    /// Whether `voter` grants its vote to the candidate of `request`.
    fn grant(voter: &Voter, request: &RequestVote) -> bool;
}

/// Your version.
pub mod starter {
    use super::{RequestVote, VoteRule, Voter};

    /// The vote rule.
    pub struct Rule;

    impl VoteRule for Rule {
        fn grant(_voter: &Voter, _request: &RequestVote) -> bool {
            todo!("same term, no vote for anyone else, and a log at least as up to date")
        }
    }
}

/// One answer.
pub mod solution {
    use super::{RequestVote, VoteRule, Voter};

    // ANCHOR: vote_rule
    /// The vote rule.
    pub struct Rule;

    impl VoteRule for Rule {
        fn grant(voter: &Voter, request: &RequestVote) -> bool {
            let same_term = request.term == voter.current_term;
            // A duplicate of the request this voter already granted is granted again.
            let free = voter.voted_for.is_none_or(|v| v == request.candidate);
            // Later last term wins; with equal last terms, the longer log (§5.4.1).
            let up_to_date = (request.last_log_term, request.last_log_index)
                >= (voter.last_log_term, voter.last_log_index);
            same_term && free && up_to_date
        }
    }
    // ANCHOR_END: vote_rule
}

#[cfg(test)]
mod tests {
    use rand::{RngExt, SeedableRng};

    use super::{RequestVote, VoteRule, Voter};
    use crate::coordination::raft::log::{Entry, Log};
    use crate::coordination::raft::message::Message;
    use crate::coordination::raft::server::{Config, Durable, Server};
    use crate::sim::{Ctx, Metrics, NodeId, SimRng, Time};

    fn voter(term: u64, voted_for: Option<usize>, last: (u64, u64)) -> Voter {
        Voter {
            current_term: term,
            voted_for: voted_for.map(NodeId),
            last_log_index: last.0,
            last_log_term: last.1,
        }
    }

    fn request(term: u64, candidate: usize, last: (u64, u64)) -> RequestVote {
        RequestVote {
            term,
            candidate: NodeId(candidate),
            last_log_index: last.0,
            last_log_term: last.1,
        }
    }

    /// The three conditions, one at a time, on a voter in term 5 whose log ends at index 7 of
    /// term 4. `last` pairs are (index, term).
    fn the_three_conditions<R: VoteRule>() {
        let fresh = voter(5, None, (7, 4));
        assert!(R::grant(&fresh, &request(5, 1, (7, 4))), "equal logs");
        assert!(!R::grant(&fresh, &request(4, 1, (9, 4))), "a stale term");
        let voted = voter(5, Some(2), (7, 4));
        assert!(
            !R::grant(&voted, &request(5, 1, (9, 4))),
            "already voted for n2"
        );
        assert!(
            !R::grant(&fresh, &request(5, 1, (9, 3))),
            "longer, older last term"
        );
        assert!(
            !R::grant(&fresh, &request(5, 1, (6, 4))),
            "same last term, shorter"
        );
        assert!(
            R::grant(&fresh, &request(5, 1, (2, 5))),
            "shorter, newer last term"
        );
        assert!(
            R::grant(&voter(5, None, (0, 0)), &request(5, 1, (0, 0))),
            "empty logs"
        );
    }

    /// The network duplicates messages: the candidate it voted for asks again and must get the
    /// same answer, or a duplicated request would cost it a vote.
    fn a_duplicate_request_gets_the_same_answer<R: VoteRule>() {
        let voted = voter(5, Some(1), (7, 4));
        assert!(R::grant(&voted, &request(5, 1, (7, 4))));
    }

    /// The rule agrees with the book's server on random voters and requests: the server is
    /// restarted from a disk with that term, vote and log, and handed the request.
    fn agrees_with_the_server<R: VoteRule>() {
        for seed in 0..300 {
            let mut rng = SimRng::seed_from_u64(seed);
            let current_term = rng.random_range(1..6);
            let terms: Vec<u64> = {
                let len = rng.random_range(0..5);
                let mut t: Vec<u64> = (0..len)
                    .map(|_| rng.random_range(1..=current_term))
                    .collect();
                t.sort_unstable();
                t
            };
            let voted_for = [None, Some(1), Some(2)][rng.random_range(0..3)];
            let last = (terms.len() as u64, terms.last().copied().unwrap_or(0));
            let req = request(
                rng.random_range(1..=current_term),
                1,
                (rng.random_range(0..6), rng.random_range(0..=current_term)),
            );
            let expected = server_grants(current_term, voted_for, &terms, &req);
            let v = voter(current_term, voted_for, last);
            assert_eq!(R::grant(&v, &req), expected, "seed {seed}: {v:?} {req:?}");
        }
    }

    /// What the real server (node 0 of three) answers to `req` from node 1: it is restarted
    /// from a disk with this term, vote and log, and handed the request as one input.
    fn server_grants(
        term: u64,
        voted_for: Option<usize>,
        terms: &[u64],
        req: &RequestVote,
    ) -> bool {
        let mut log = Log::new();
        for &t in terms {
            log.append(Entry {
                term: t,
                command: None,
            });
        }
        let disk = Durable {
            current_term: term,
            voted_for: voted_for.map(NodeId),
            log,
            ..Durable::empty()
        };
        let mut server = Server::restart(NodeId(0), 3, Config::default(), disk);
        let (mut rng, mut effects, mut metrics) =
            (SimRng::seed_from_u64(0), Vec::new(), Metrics::default());
        let mut ctx = Ctx::new(NodeId(0), Time::ZERO, &mut rng, &mut effects, &mut metrics);
        server.on_message(&mut ctx, req.candidate, Message::RequestVote(req.clone()));
        // Handlers queue their messages; the runtime sends them after persisting (storage.rs).
        let (_, sent) = server.take_ready().into_parts();
        let answers: Vec<bool> = sent
            .iter()
            .filter_map(|(_, msg)| match msg {
                Message::RequestVoteResponse(r) => Some(r.vote_granted),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 1, "one answer to one request: {sent:?}");
        answers[0]
    }

    fn check_claims<R: VoteRule>() {
        the_three_conditions::<R>();
        a_duplicate_request_gets_the_same_answer::<R>();
        agrees_with_the_server::<R>();
    }

    #[test]
    fn vote_rule_matches_the_paper_and_the_server() {
        check_claims::<super::solution::Rule>();
    }

    #[test]
    #[ignore = "exercise: implement starter::Rule::grant, then run \
                `cargo test -p uds --release --lib exercise_vote_rule -- --ignored`"]
    fn exercise_vote_rule() {
        crate::exercise::starter_or_solution(
            check_claims::<super::starter::Rule>,
            check_claims::<super::solution::Rule>,
        );
    }
}
