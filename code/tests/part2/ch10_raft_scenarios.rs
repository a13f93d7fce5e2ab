//! Chapters 9 and 10's scenario tests: each replays a situation from the Raft paper as a
//! transcript and checks a claim.
//!
//! Two kinds of transcript. *Desk* tests hold one server and hand it messages one by one, the
//! way the paper's figures are drawn: every message is explicit and nothing else happens.
//! *Cluster* tests run whole clusters on the simulator with partitions, crashes and injected
//! client requests, with the safety invariants checked after every event.

use std::time::Duration;

use rand::SeedableRng;
use uds::coordination::raft::cluster::{self, Cluster, KvNode};
use uds::coordination::raft::history::{KvInput, KvOutput};
use uds::coordination::raft::kv::Command;
use uds::coordination::raft::log::{Entry, Log, LogIndex, Term};
use uds::coordination::raft::message::*;
use uds::coordination::raft::server::{Config, ConfigError, Durable, ELECTION, Role, Server};
use uds::sim::{Ctx, Effect, Fault, LinkConfig, Metrics, NodeId, Sim, SimRng, Time};

/// One server on a desk: we hand it inputs and read back what it sent.
struct Desk {
    server: Server,
    rng: SimRng,
    metrics: Metrics,
}

impl Desk {
    /// Server `id` of a cluster of five, with `disk` as its durable state.
    fn new(id: usize, term: Term, log_terms: &[Term]) -> Desk {
        let mut log = Log::new();
        for &t in log_terms {
            log.append(Entry {
                term: t,
                command: None,
            });
        }
        let disk = Durable {
            current_term: term,
            voted_for: None,
            log,
            snapshot: None,
        };
        Desk::from_disk(id, disk)
    }

    fn from_disk(id: usize, disk: Durable) -> Desk {
        let server = Server::restart(NodeId(id), 5, Config::default(), disk);
        Desk {
            server,
            rng: SimRng::seed_from_u64(1),
            metrics: Metrics::default(),
        }
    }

    fn run(
        &mut self,
        f: impl FnOnce(&mut Server, &mut Ctx<'_, Message>),
    ) -> Vec<(NodeId, Message)> {
        let mut effects = Vec::new();
        let mut ctx = Ctx::new(
            self.server.id(),
            Time::ZERO,
            &mut self.rng,
            &mut effects,
            &mut self.metrics,
        );
        f(&mut self.server, &mut ctx);
        // The desk's disk keeps nothing: these tests read the server's memory.
        let (_writes, messages) = self.server.take_ready().into_parts();
        assert!(effects.iter().all(|e| !matches!(e, Effect::Send { .. })));
        messages
    }

    fn deliver(&mut self, from: usize, msg: Message) -> Vec<(NodeId, Message)> {
        self.run(|s, ctx| s.on_message(ctx, NodeId(from), msg))
    }

    fn timeout(&mut self) -> Vec<(NodeId, Message)> {
        self.run(|s, ctx| s.on_timer(ctx, ELECTION))
    }

    fn vote_from(&mut self, from: usize) {
        let term = self.server.current_term();
        let m = RequestVoteResponse {
            term,
            vote_granted: true,
        };
        self.deliver(from, Message::RequestVoteResponse(m));
    }

    fn ack_from(&mut self, from: usize, match_index: LogIndex) {
        let m = AppendEntriesResponse {
            term: self.server.current_term(),
            success: true,
            match_index,
            conflict_index: 0,
        };
        self.deliver(from, Message::AppendEntriesResponse(m));
    }

    fn terms(&self) -> Vec<Term> {
        let log = self.server.log();
        (1..=log.last_index())
            .map(|i| log.term_at(i).unwrap())
            .collect()
    }
}

fn request_vote(
    term: Term,
    candidate: usize,
    last_log_term: Term,
    last_log_index: LogIndex,
) -> Message {
    Message::RequestVote(RequestVote {
        term,
        candidate: NodeId(candidate),
        last_log_index,
        last_log_term,
    })
}

fn granted(sent: &[(NodeId, Message)]) -> bool {
    match sent {
        [(_, Message::RequestVoteResponse(r))] => r.vote_granted,
        other => panic!("expected one vote response, got {other:?}"),
    }
}

// ANCHOR: figure_8
/// §5.4.2, Figure 8 (c): S1 leads term 4 with the term-2 entry at index 2 stored on a majority
/// (S1, S2, S3). Counting replicas must not commit it: S5 could still win term 5 and erase it.
/// Only once an entry of term 4 is on a majority does index 2 commit, indirectly.
#[test]
fn figure_8_leader_does_not_commit_previous_term_entry_by_counting() {
    let mut s1 = Desk::new(0, 3, &[1, 2]);
    s1.timeout(); // candidate in term 4
    s1.vote_from(1);
    s1.vote_from(2);
    assert_eq!(s1.server.role(), Role::Leader);
    assert_eq!(
        s1.terms(),
        [1, 2, 4],
        "a new leader appends a no-op of its term"
    );

    s1.ack_from(1, 2); // S2 and S3 hold index 2 (term 2): a majority with S1
    s1.ack_from(2, 2);
    assert_eq!(
        s1.server.commit_index(),
        0,
        "a term-2 entry is not committed by counting"
    );

    s1.ack_from(1, 3); // the term-4 no-op reaches a majority
    s1.ack_from(2, 3);
    assert_eq!(s1.server.commit_index(), 3, "index 2 commits with index 3");
}
// ANCHOR_END: figure_8

/// §5.4.2, Figure 8 (d): why the rule above is needed. A voter holding the term-2 entry votes
/// for S5, whose last entry is from term 3, and S5 then overwrites that entry.
#[test]
fn figure_8_entry_on_a_majority_can_still_be_overwritten() {
    let mut s3 = Desk::new(2, 4, &[1, 2]);
    assert!(
        granted(&s3.deliver(4, request_vote(5, 4, 3, 2))),
        "S5's log is more up to date"
    );
    let overwrite = AppendEntries {
        term: 5,
        leader: NodeId(4),
        prev_log_index: 1,
        prev_log_term: 1,
        entries: vec![Entry {
            term: 3,
            command: None,
        }],
        leader_commit: 0,
    };
    s3.deliver(4, Message::AppendEntries(overwrite));
    assert_eq!(s3.terms(), [1, 3], "the term-2 entry at index 2 is gone");
}

/// §5.4.1: a voter refuses a candidate whose log is less up to date, whatever its term.
#[test]
fn candidate_with_stale_log_loses_the_vote() {
    let mut voter = Desk::new(1, 2, &[1, 2]);
    assert!(!granted(&voter.deliver(0, request_vote(7, 0, 1, 9))));
    assert_eq!(
        voter.server.current_term(),
        7,
        "the higher term is adopted anyway (§5.1)"
    );
    assert_eq!(voter.server.voted_for(), None);
}

// ANCHOR: restarted_node_keeps_its_vote
/// §5.2 with Figure 2's persistence: a server votes once per term, even if it crashes and
/// restarts in between, because `voted_for` is on its disk.
#[test]
fn restarted_node_keeps_its_vote() {
    let mut voter = Desk::new(0, 0, &[]);
    assert!(granted(&voter.deliver(1, request_vote(1, 1, 0, 0))));

    let disk = voter.server.durable(); // crash
    let mut voter = Desk::from_disk(0, disk); // restart
    assert_eq!(voter.server.voted_for(), Some(NodeId(1)));
    assert!(
        !granted(&voter.deliver(2, request_vote(1, 2, 0, 0))),
        "second vote in term 1"
    );
    assert!(
        granted(&voter.deliver(1, request_vote(1, 1, 0, 0))),
        "a repeat is fine"
    );

    // Had the vote not been durable, the restarted server would have voted twice.
    let mut amnesiac = Desk::new(0, 1, &[]);
    assert!(granted(&amnesiac.deliver(2, request_vote(1, 2, 0, 0))));
}
// ANCHOR_END: restarted_node_keeps_its_vote

/// §5.1: a leader that sees a higher term steps down at once.
#[test]
fn higher_term_makes_a_leader_step_down() {
    let mut s = Desk::new(0, 0, &[]);
    s.timeout();
    s.vote_from(1);
    s.vote_from(2);
    assert!(s.server.is_leader());
    let stale = AppendEntriesResponse {
        term: 9,
        success: false,
        match_index: 0,
        conflict_index: 0,
    };
    s.deliver(3, Message::AppendEntriesResponse(stale));
    assert_eq!(
        (s.server.role(), s.server.current_term()),
        (Role::Follower, 9)
    );
}

/// §5.3: the consistency check rejects entries that do not follow a matching entry, and tells
/// the leader where the follower's conflicting term starts.
#[test]
fn consistency_check_rejects_a_gap_and_hints_the_conflict() {
    let mut f = Desk::new(1, 3, &[1, 2, 2, 2]);
    let ae = |prev_log_index, prev_log_term| {
        Message::AppendEntries(AppendEntries {
            term: 3,
            leader: NodeId(0),
            prev_log_index,
            prev_log_term,
            entries: vec![],
            leader_commit: 0,
        })
    };
    let answer = |sent: Vec<(NodeId, Message)>| match &sent[..] {
        [(_, Message::AppendEntriesResponse(r))] => (r.success, r.match_index, r.conflict_index),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        answer(f.deliver(0, ae(9, 3))),
        (false, 0, 5),
        "too short: retry at 5"
    );
    assert_eq!(
        answer(f.deliver(0, ae(4, 3))),
        (false, 0, 2),
        "term 2 starts at 2"
    );
    assert_eq!(answer(f.deliver(0, ae(1, 1))), (true, 1, 0));
    assert_eq!(f.terms(), [1, 2, 2, 2], "a heartbeat never truncates");
}

#[test]
fn bad_configurations_are_errors_not_panics() {
    let bad = |f: fn(&mut Config)| {
        let mut c = Config::default();
        f(&mut c);
        c.validate().unwrap_err()
    };
    let e = bad(|c| c.election_timeout_ms_max = 100);
    assert_eq!(e, ConfigError::TimeoutRange { min: 150, max: 100 });
    let e = bad(|c| c.heartbeat_ms = 150);
    assert!(matches!(e, ConfigError::HeartbeatTooSlow { .. }), "{e}");
    let e = bad(|c| c.max_entries_per_message = 0);
    assert_eq!(e, ConfigError::NoEntriesPerMessage);
    let cluster = Cluster {
        config: Config {
            election_timeout_ms_min: 0,
            ..Config::default()
        },
        ..Cluster::default()
    };
    assert!(
        cluster
            .build(1, LinkConfig::constant(Duration::from_millis(1)))
            .is_err()
    );
}

/// A cluster of `servers` with one idle client node (node `servers`) for injected requests.
fn idle_cluster(servers: usize, seed: u64) -> Sim<KvNode> {
    let cluster = Cluster {
        servers,
        clients: 1,
        ops_per_client: 0,
        ..Cluster::default()
    };
    let link = LinkConfig::constant(Duration::from_millis(5));
    cluster.build(seed, link).expect("valid configuration")
}

fn the_leader(sim: &Sim<KvNode>) -> NodeId {
    let leaders = cluster::leaders(sim);
    let newest = leaders
        .iter()
        .max_by_key(|(_, term)| *term)
        .expect("a leader");
    newest.0
}

fn append(client: usize, seq: u64, value: &str) -> Message {
    Message::ClientRequest(Command {
        client: client as u64,
        seq,
        input: KvInput::Append {
            key: "k".into(),
            value: value.into(),
        },
    })
}

fn value_on(sim: &Sim<KvNode>, id: NodeId) -> Option<String> {
    cluster::server(sim, id).and_then(|s| s.kv().get("k").map(str::to_string))
}

// ANCHOR: stale_leader
/// §5.4.1 and §5.3: a leader cut off from the majority keeps believing it leads, accepts a
/// command, and cannot commit it; the majority elects a new leader, commits a different
/// command at that index, and on healing the old leader steps down and its entry is replaced.
#[test]
fn stale_leader_cannot_commit_after_partition() {
    let mut sim = idle_cluster(5, 3);
    let client = 5;
    sim.run_until(Time::from_millis(1_000)).unwrap();
    let old = the_leader(&sim);
    let rest: Vec<NodeId> = (0..5).map(NodeId).filter(|n| *n != old).collect();
    sim.apply(Fault::Partition(vec![old], rest.clone()));
    sim.inject(sim.now(), NodeId(client), old, append(client, 1, "lost"));
    sim.run_for(Duration::from_millis(1_000)).unwrap();

    let stale = cluster::server(&sim, old).unwrap();
    assert!(
        stale.is_leader(),
        "the old leader does not know it is deposed"
    );
    assert!(
        stale.log().last_index() > stale.commit_index(),
        "its entry is not committed"
    );
    let new = the_leader(&sim);
    assert_ne!(
        new, old,
        "the majority elected a new leader in a later term"
    );
    sim.inject(sim.now(), NodeId(client), new, append(client, 2, "kept"));
    sim.run_for(Duration::from_millis(500)).unwrap();

    sim.apply(Fault::Heal);
    sim.run_for(Duration::from_millis(1_000)).unwrap();
    assert!(
        !cluster::server(&sim, old).unwrap().is_leader(),
        "stepped down"
    );
    for id in (0..5).map(NodeId) {
        assert_eq!(value_on(&sim, id).as_deref(), Some("kept"), "{id}");
    }
}
// ANCHOR_END: stale_leader

// ANCHOR: client_retry
/// §8: a client that retries (its answer was lost, or it timed out) may put its command in the
/// log twice; the store's session applies it once and answers both copies alike.
#[test]
fn client_retry_applied_once() {
    let mut sim = idle_cluster(3, 5);
    let client = 3;
    sim.run_until(Time::from_millis(1_000)).unwrap();
    let leader = the_leader(&sim);
    sim.inject(sim.now(), NodeId(client), leader, append(client, 1, "a"));
    // The retry arrives before the first copy is committed: both copies enter the log.
    sim.inject(sim.now(), NodeId(client), leader, append(client, 1, "a"));
    sim.run_for(Duration::from_millis(200)).unwrap();
    // A late retry, after the command was applied, is answered from the session.
    sim.inject(sim.now(), NodeId(client), leader, append(client, 1, "a"));
    sim.run_for(Duration::from_millis(500)).unwrap();

    for id in (0..3).map(NodeId) {
        let s = cluster::server(&sim, id).unwrap();
        let copies = (1..=s.log().last_index())
            .filter(|&i| s.log().entry(i).is_some_and(|e| e.command.is_some()))
            .count();
        assert_eq!(copies, 2, "{id}: both early copies are in the log");
        assert_eq!(
            value_on(&sim, id).as_deref(),
            Some("a"),
            "{id}: applied once"
        );
        assert_eq!(s.kv().applied(), 1);
    }
}
// ANCHOR_END: client_retry

/// A healthy cluster elects a leader, serves every client operation, and ends with the same
/// state on every server (§5.3), with the invariants checked after every event.
#[test]
fn healthy_cluster_serves_every_client_and_agrees() {
    let cluster = Cluster::default();
    let link = LinkConfig::constant(Duration::from_millis(2));
    let mut sim = cluster.build(11, link).unwrap();
    sim.run_until(Time::from_millis(3_000)).unwrap();
    let history = cluster::histories(&sim);
    assert_eq!(history.len(), cluster.clients * cluster.ops_per_client);
    assert!(
        history.iter().all(|op| op.output.is_some()),
        "every operation answered"
    );
    let kv0 = cluster::server(&sim, NodeId(0)).unwrap().kv().clone();
    for id in (1..5).map(NodeId) {
        assert_eq!(cluster::server(&sim, id).unwrap().kv(), &kv0, "{id}");
    }
    let gets = history
        .iter()
        .filter(|op| matches!(op.output, Some(KvOutput::Value(_))));
    assert!(gets.count() > 0, "the mix includes reads");
}

/// §5.2: a leader crash leads to a new leader in a later term, and the run stays safe.
#[test]
fn leader_crash_elects_a_new_leader() {
    let mut sim = idle_cluster(5, 9);
    sim.run_until(Time::from_millis(1_000)).unwrap();
    let old = the_leader(&sim);
    let old_term = cluster::server(&sim, old).unwrap().current_term();
    sim.apply(Fault::Crash(old));
    sim.run_for(Duration::from_millis(1_000)).unwrap();
    let new = the_leader(&sim);
    assert_ne!(new, old);
    assert!(cluster::server(&sim, new).unwrap().current_term() > old_term);
    sim.apply(Fault::Restart(old));
    sim.run_for(Duration::from_millis(500)).unwrap();
    let back = cluster::server(&sim, old).unwrap();
    assert_eq!(
        back.role(),
        Role::Follower,
        "the restarted leader rejoins as a follower"
    );
}
