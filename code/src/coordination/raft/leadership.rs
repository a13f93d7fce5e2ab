//! CheckQuorum and PreVote: a leader that notices it has lost its majority, and elections
//! that a server which cannot win never starts.
//!
//! Basic Raft (§5.2) has two blind spots, both about *who believes what* when the network is
//! only partly broken.
//!
//! - **A leader never learns that it has lost.** A leader steps down only when a message with
//!   a higher term reaches it. If the servers that could elect a successor cannot reach it
//!   (they crashed, or a one-way partition drops their messages), it keeps leading forever: it
//!   accepts client commands that can never commit, and with a one-way partition its
//!   heartbeats keep resetting the followers' timers, so no one else ever campaigns. The
//!   cluster stalls for good. **CheckQuorum** (Ongaro's thesis §6.2; the name is etcd's): every
//!   election timeout (the longest one, `election_timeout_ms_max`) the leader counts the
//!   servers it has heard an `AppendEntries` answer from in its term since the last check,
//!   itself included; short of a majority, it steps down to follower of the same term. Clients
//!   are then redirected and retry elsewhere, and the followers' timers run out.
//! - **A server that cannot win still disrupts.** A server cut off from the leader times out,
//!   increments its term, loses, and does it again, every timeout. When it can talk again, its
//!   inflated term reaches the leader (in a vote request or an answer) and deposes it, and the
//!   cluster holds an election it did not need (§9.6). **PreVote** (thesis §9.6): before
//!   incrementing its term, a would-be candidate asks every server *would you vote for me in
//!   term `current + 1`?* A voter says yes only if the log is up to date (the same check as a
//!   real vote, §5.4.1) and it has not heard from a current leader within the shortest election
//!   timeout. Only with yeses from a majority, itself included, does the server start a real
//!   election.
//!
//! **Invariants.** A pre-vote request carries a term that does not exist yet, so
//! [`Message::term`] reports none for it: the receiver neither adopts it nor changes its vote or
//! its timer. Answering a pre-vote writes no durable state (term, vote, log); only the answer's
//! own term, the voter's real term, is adopted by the asker when higher, as for any message.
//! CheckQuorum changes nothing durable either: a leader that steps down keeps its term. Neither
//! mechanism touches the election restriction or the commit rule, so every safety argument of
//! [`election`](super::election) still holds; the campaign checks the four invariants after
//! every event with both mechanisms on.
//!
//! **Simplifications.** The leader hears a follower only through `AppendEntries` answers (a
//! vote or client message does not count). A pre-candidate stays a follower with no known
//! leader; if a leader's `AppendEntries` arrives, it follows it and the pre-vote round is
//! forgotten. A leader always refuses pre-votes. Both knobs are on by default
//! ([`Config::check_quorum`](super::server::Config::check_quorum),
//! [`Config::pre_vote`](super::server::Config::pre_vote)); the chapter 9 time-to-elect
//! experiment switches them off to measure the paper's algorithm.

use std::collections::BTreeSet;
use std::time::Duration;

use super::message::{AppendEntries, InstallSnapshot, Message, RequestVote, RequestVoteResponse};
use super::rules::{is_log_up_to_date, majority};
use super::server::{Role, Server};
use crate::sim::{Ctx, NodeId, Time, TimerId};

/// A leader checks that it still hears from a majority when this fires.
pub const CHECK_QUORUM: TimerId = TimerId(10);

/// What CheckQuorum and PreVote remember; none of it is durable.
#[derive(Clone, Debug, Default)]
pub struct Leadership {
    /// Leader: the servers heard from in this term since the last quorum check, itself included.
    heard_from: BTreeSet<NodeId>,
    /// When this server last heard from a leader of its current term (its local clock).
    leader_contact: Option<Time>,
    /// Pre-candidate: the term it asks about, and the servers that said yes.
    pre_votes: Option<(u64, BTreeSet<NodeId>)>,
}

impl Server {
    /// Bookkeeping for every message, after the term rule ran and before the handler does.
    pub(super) fn note_contact(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: &Message) {
        match msg {
            Message::AppendEntries(AppendEntries { term, .. })
            | Message::InstallSnapshot(InstallSnapshot { term, .. })
                if *term == self.current_term =>
            {
                self.leadership.leader_contact = Some(ctx.now());
                self.leadership.pre_votes = None;
            }
            Message::AppendEntriesResponse(m)
                if m.term == self.current_term && self.role == Role::Leader =>
            {
                self.leadership.heard_from.insert(from);
            }
            _ => {}
        }
    }

    /// Called when this server takes office: start counting who answers.
    pub(super) fn start_check_quorum(&mut self, ctx: &mut Ctx<'_, Message>) {
        self.leadership.heard_from = BTreeSet::from([self.id]);
        self.leadership.pre_votes = None;
        if self.config.check_quorum {
            let ms = self.config.election_timeout_ms_max;
            ctx.set_timer(CHECK_QUORUM, Duration::from_millis(ms));
        }
    }

    // ANCHOR: check_quorum
    /// CheckQuorum (thesis §6.2): a leader that has not heard from a majority, itself included,
    /// within an election timeout steps down, keeping its term.
    pub(super) fn on_check_quorum(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role != Role::Leader || !self.config.check_quorum {
            return;
        }
        if self.leadership.heard_from.len() < majority(self.servers) {
            ctx.count("raft.check_quorum_step_downs");
            return self.become_follower(ctx, self.current_term, None);
        }
        self.start_check_quorum(ctx); // a new round: forget who answered
    }
    // ANCHOR_END: check_quorum

    // ANCHOR: start_pre_vote
    /// The election timer fired and PreVote is on: ask, without changing any term, whether a
    /// majority would vote for this server in the next term (thesis §9.6).
    pub(super) fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, Message>) {
        if self.role == Role::Candidate {
            self.become_follower(ctx, self.current_term, None); // a split vote: ask again
        }
        self.leader = None;
        let next = self.current_term + 1;
        self.leadership.pre_votes = Some((next, BTreeSet::from([self.id])));
        self.reset_election_timer(ctx); // if this round fails, try again after a timeout
        ctx.count("raft.pre_votes");
        if majority(self.servers) == 1 {
            return self.become_candidate(ctx);
        }
        let request = RequestVote {
            term: next,
            candidate: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        let me = self.id;
        for peer in (0..self.servers).map(NodeId).filter(|p| *p != me) {
            self.send(peer, Message::PreVote(request.clone()));
        }
    }
    // ANCHOR_END: start_pre_vote

    // ANCHOR: on_pre_vote
    /// A voter's side of a pre-vote: the same log check as a real vote, plus "no leader heard
    /// lately". Writes nothing: no term, no vote, no timer.
    pub(super) fn on_pre_vote(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, m: RequestVote) {
        let min = Duration::from_millis(self.config.election_timeout_ms_min);
        let leader_lately = self.role == Role::Leader
            || (self.leader.is_some()
                && self
                    .leadership
                    .leader_contact
                    .is_some_and(|t| ctx.now().since(t) < min));
        let vote_granted = m.term > self.current_term
            && !leader_lately
            && is_log_up_to_date(
                m.last_log_term,
                m.last_log_index,
                self.log.last_term(),
                self.log.last_index(),
            );
        let term = self.current_term;
        let answer = RequestVoteResponse { term, vote_granted };
        self.send(from, Message::PreVoteResponse(answer));
    }
    // ANCHOR_END: on_pre_vote

    /// A pre-candidate counts yeses; with a majority it starts the real election.
    pub(super) fn on_pre_vote_response(
        &mut self,
        ctx: &mut Ctx<'_, Message>,
        from: NodeId,
        m: RequestVoteResponse,
    ) {
        let next = self.current_term + 1;
        let Some((term, votes)) = &mut self.leadership.pre_votes else {
            return;
        };
        if *term != next || self.role != Role::Follower || !m.vote_granted {
            return;
        }
        votes.insert(from);
        if votes.len() >= majority(self.servers) {
            self.leadership.pre_votes = None;
            self.become_candidate(ctx);
        }
    }

    /// How many servers a leader has heard from since its last quorum check (itself included).
    pub fn heard_from_count(&self) -> usize {
        self.leadership.heard_from.len()
    }
}

pub mod scenarios {
    //! The four situations of the "Raft in practice" page, each run with any combination of the
    //! two mechanisms: the tests of `code/tests/part2/ch10_raft_leadership.rs` assert on them and
    //! the example `ch10_leadership` tabulates them.
    //!
    //! Five servers and one client on links of 2-8 ms; the cluster settles for a second, then
    //! the fault strikes at instant `T0` and the run goes on for [`HORIZON`].

    use std::time::Duration;

    use crate::coordination::raft::cluster::{self, Cluster, KvNode};
    use crate::coordination::raft::server::Config;
    use crate::sim::{Fault, Latency, LinkConfig, NodeId, Sim, Time};

    /// How long a scenario runs after its fault.
    pub const HORIZON: Duration = Duration::from_secs(3);

    /// Which of the two mechanisms are on.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Mechanisms {
        pub check_quorum: bool,
        pub pre_vote: bool,
    }

    impl Mechanisms {
        /// Neither, each alone, both (the default).
        pub const ALL: [Mechanisms; 4] = [
            Mechanisms::new(false, false),
            Mechanisms::new(true, false),
            Mechanisms::new(false, true),
            Mechanisms::new(true, true),
        ];

        /// These mechanisms.
        pub const fn new(check_quorum: bool, pre_vote: bool) -> Mechanisms {
            Mechanisms {
                check_quorum,
                pre_vote,
            }
        }

        /// A short name for tables.
        pub fn label(&self) -> &'static str {
            match (self.check_quorum, self.pre_vote) {
                (false, false) => "neither",
                (true, false) => "CheckQuorum",
                (false, true) => "PreVote",
                (true, true) => "both",
            }
        }
    }

    /// The situations.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Scenario {
        /// The three servers other than the leader and one partner crash.
        LostMajority,
        /// Every other server's messages to the leader are dropped; the leader's still arrive.
        OneWay,
        /// A follower cut off for two seconds comes back at `T0`.
        Rejoin,
        /// The leader crashes: what PreVote costs an ordinary election.
        LeaderCrash,
    }

    impl Scenario {
        /// All four, in table order.
        pub const ALL: [Scenario; 4] = [
            Scenario::LostMajority,
            Scenario::OneWay,
            Scenario::Rejoin,
            Scenario::LeaderCrash,
        ];

        /// A short name for tables.
        pub fn label(&self) -> &'static str {
            match self {
                Scenario::LostMajority => "lost majority",
                Scenario::OneWay => "one-way cut",
                Scenario::Rejoin => "rejoin",
                Scenario::LeaderCrash => "leader crash",
            }
        }
    }

    /// What happened after `T0`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Outcome {
        /// The client had an answer in the last second of the run.
        pub served_at_end: bool,
        /// Elections started (terms a candidate asked votes for), from the fault on (for
        /// `Rejoin`, from the cut on).
        pub elections: u64,
        /// How far the highest term moved, over the same period.
        pub term_jump: u64,
        /// The longest time without an answer to the client.
        pub longest_outage: Duration,
        /// How long the leader of `T0` went on believing it led.
        pub old_leader_reign: Duration,
        /// Entries the leader of `T0` appended in that time (client retries it cannot commit).
        pub old_leader_appends: u64,
    }

    fn max_term(sim: &Sim<KvNode>) -> u64 {
        (0..5)
            .filter_map(|i| cluster::server(sim, NodeId(i)))
            .map(|s| s.current_term())
            .max()
            .unwrap_or(0)
    }

    // ANCHOR: run_scenario
    /// Runs `scenario` with `mechanisms` from `seed`; `Err` if the cluster never settled or
    /// a safety invariant broke.
    pub fn run(scenario: Scenario, mechanisms: Mechanisms, seed: u64) -> Result<Outcome, String> {
        let ms = Duration::from_millis;
        let cluster = Cluster {
            servers: 5,
            clients: 1,
            ops_per_client: 100_000,
            client_retry_ms: 100,
            config: Config {
                check_quorum: mechanisms.check_quorum,
                pre_vote: mechanisms.pre_vote,
                ..Config::default()
            },
            ..Cluster::default()
        };
        let latency = Latency::Uniform {
            min: ms(2),
            max: ms(8),
        };
        let link = LinkConfig::constant(ms(2)).with_latency(latency);
        let mut sim = cluster.build(seed, link).map_err(|e| e.to_string())?;
        let fail = |e: crate::sim::InvariantViolation| format!("seed {seed}: {e}");
        sim.run_until(Time::from_millis(1_000)).map_err(fail)?;
        let Some(&(leader, term)) = cluster::leaders(&sim).first() else {
            return Err(format!("seed {seed}: no leader after a second"));
        };
        let others: Vec<NodeId> = (0..5).map(NodeId).filter(|n| *n != leader).collect();
        let (mut elections0, mut term0) = (sim.metrics().counter("raft.elections"), max_term(&sim));
        if scenario == Scenario::Rejoin {
            let rest = (0..5).map(NodeId).filter(|n| *n != others[0]).collect();
            sim.apply(Fault::Partition(vec![others[0]], rest));
            sim.run_until(Time::from_millis(3_000)).map_err(fail)?;
            sim.apply(Fault::Heal);
        }
        let t0 = sim.now();
        let old_leader = cluster::server(&sim, leader).map(|s| s.log().last_index());
        if scenario != Scenario::Rejoin {
            (elections0, term0) = (sim.metrics().counter("raft.elections"), max_term(&sim));
        }
        match scenario {
            Scenario::LostMajority => others[1..].iter().for_each(|&n| sim.apply(Fault::Crash(n))),
            Scenario::OneWay => sim.apply(Fault::OneWay(others.clone(), vec![leader])),
            Scenario::Rejoin => {}
            Scenario::LeaderCrash => sim.apply(Fault::Crash(leader)),
        }
        // Step a millisecond at a time, watching the old leader.
        let (end, mut reign, mut last_index) = (t0 + HORIZON, HORIZON, old_leader.unwrap_or(0));
        let mut t = t0;
        while t < end {
            t = t + ms(1);
            sim.run_until(t).map_err(fail)?;
            let still = cluster::server(&sim, leader)
                .filter(|s| s.is_leader() && s.current_term() == term && reign == HORIZON);
            match still {
                Some(s) => last_index = s.log().last_index(),
                None if reign == HORIZON => reign = t.since(t0),
                None => {}
            }
        }
        let mut answers: Vec<u64> = cluster::histories(&sim)
            .iter()
            .filter(|op| op.output.is_some() && op.return_ns >= t0.0)
            .map(|op| op.return_ns)
            .collect();
        answers.sort_unstable();
        let mut outage = 0;
        let mut before = t0.0;
        for at in answers.iter().copied().chain([end.0]) {
            outage = outage.max(at - before);
            before = at;
        }
        Ok(Outcome {
            served_at_end: answers
                .last()
                .is_some_and(|at| *at + 1_000_000_000 >= end.0),
            elections: sim.metrics().counter("raft.elections") - elections0,
            term_jump: max_term(&sim) - term0,
            longest_outage: Duration::from_nanos(outage),
            old_leader_reign: reign,
            old_leader_appends: last_index - old_leader.unwrap_or(0),
        })
    }
    // ANCHOR_END: run_scenario
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::raft::server::Config;
    use crate::sim::{Effect, Metrics, SimRng};
    use rand::SeedableRng;

    /// Feeds one message to `server` and returns its effects: timers, then what it sent.
    fn deliver(server: &mut Server, from: NodeId, msg: Message, now: Time) -> Vec<Effect<Message>> {
        let mut rng = SimRng::seed_from_u64(1);
        let (mut effects, mut metrics) = (Vec::new(), Metrics::default());
        let mut ctx = Ctx::new(server.id(), now, &mut rng, &mut effects, &mut metrics);
        server.on_message(&mut ctx, from, msg);
        let sent = server.take_ready().into_parts().1;
        effects.extend(sent.into_iter().map(|(to, msg)| Effect::Send { to, msg }));
        effects
    }

    #[test]
    fn a_pre_vote_changes_no_durable_state_and_no_timer() {
        let mut voter = Server::new(NodeId(1), 3, Config::default());
        let before = voter.durable();
        let ask = RequestVote {
            term: 7,
            candidate: NodeId(0),
            last_log_index: 0,
            last_log_term: 0,
        };
        let effects = deliver(&mut voter, NodeId(0), Message::PreVote(ask), Time::ZERO);
        assert_eq!(voter.durable(), before, "a pre-vote wrote durable state");
        let granted = RequestVoteResponse {
            term: 0,
            vote_granted: true,
        };
        let answer = Effect::Send {
            to: NodeId(0),
            msg: Message::PreVoteResponse(granted),
        };
        assert_eq!(effects, vec![answer], "only an answer, no timer reset");
    }

    #[test]
    fn a_voter_that_heard_a_leader_lately_refuses() {
        let mut voter = Server::new(NodeId(1), 3, Config::default());
        let beat = crate::coordination::raft::AppendEntries {
            term: 1,
            leader: NodeId(2),
            prev_log_index: 0,
            prev_log_term: 0,
            entries: Vec::new(),
            leader_commit: 0,
        };
        deliver(
            &mut voter,
            NodeId(2),
            Message::AppendEntries(beat),
            Time::ZERO,
        );
        let ask = RequestVote {
            term: 2,
            candidate: NodeId(0),
            last_log_index: 0,
            last_log_term: 0,
        };
        let at = |ms| Time::from_millis(ms);
        let soon = deliver(
            &mut voter,
            NodeId(0),
            Message::PreVote(ask.clone()),
            at(100),
        );
        let late = deliver(&mut voter, NodeId(0), Message::PreVote(ask), at(200));
        let granted = |effects: &[Effect<Message>]| {
            matches!(
                effects,
                [Effect::Send {
                    msg: Message::PreVoteResponse(RequestVoteResponse {
                        vote_granted: true,
                        ..
                    }),
                    ..
                }]
            )
        };
        assert!(!granted(&soon), "100 ms after a heartbeat: {soon:?}");
        assert!(granted(&late), "200 ms after a heartbeat: {late:?}");
        assert_eq!(voter.current_term(), 1);
    }
}
