//! Chapter 10, Raft in practice: ReadIndex, lease reads and batching (issue 9).
//!
//! Scenario tests drive a cluster by hand through a recording client; the campaigns run the
//! chapter's nemesis with reads outside the log and check every history for linearizability.
//! `UDS_SEEDS=n` runs more seeds; a failure prints the command that replays its one seed.

use std::time::Duration;

use rand::RngExt;
use uds::coordination::raft::chaos::{Chaos, run_chaos_prepared};
use uds::coordination::raft::history::{KvInput, KvOutput};
use uds::coordination::raft::kv::Command;
use uds::coordination::raft::message::{ClientResponse, Message};
use uds::coordination::raft::reads::{ReadMode, lease_duration};
use uds::coordination::raft::storage::{MemStorage, ServerNode};
use uds::coordination::raft::{Config, Durable, Server};
use uds::sim::rng_stream;
use uds::sim::{
    Campaign, Clock, Ctx, Fault, FaultSchedule, LinkConfig, NodeId, Process, Sim, Time, TimerId,
};

use crate::support::env;

/// A Raft server, or a client that only records what it is told.
#[derive(Clone, Debug)]
enum Node {
    Server(Box<ServerNode>),
    Recorder(Vec<(Time, ClientResponse)>),
}

impl Process for Node {
    type Msg = Message;
    type Durable = ();
    fn on_start(&mut self, ctx: &mut Ctx<'_, Message>) {
        if let Node::Server(s) = self {
            s.on_start(ctx);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Message>, from: NodeId, msg: Message) {
        match (self, msg) {
            (Node::Server(s), msg) => s.on_message(ctx, from, msg),
            (Node::Recorder(seen), Message::ClientResponse(r)) => seen.push((ctx.now(), r)),
            (Node::Recorder(_), _) => {}
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Message>, timer: TimerId) {
        if let Node::Server(s) = self {
            s.on_timer(ctx, timer);
        }
    }
    fn durable(&self) {}
}

/// Three servers (nodes 0-2) and two recording clients (nodes 3 and 4).
fn cluster(config: &Config, seed: u64) -> Sim<Node> {
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            let server = Server::new(NodeId(i), 3, config.clone());
            Node::Server(Box::new(ServerNode::new(
                server,
                MemStorage::new(Durable::empty()),
            )))
        })
        .collect();
    nodes.push(Node::Recorder(Vec::new()));
    nodes.push(Node::Recorder(Vec::new()));
    Sim::new(seed, LinkConfig::constant(Duration::from_millis(1)), nodes)
}

fn server(sim: &Sim<Node>, id: usize) -> &Server {
    match sim.process(NodeId(id)) {
        Some(Node::Server(s)) => &s.server,
        _ => panic!("node {id} is a server and up"),
    }
}

fn leader(sim: &Sim<Node>) -> Option<usize> {
    (0..3)
        .filter(|i| server(sim, *i).is_leader())
        .max_by_key(|i| server(sim, *i).current_term())
}

/// Sends `input` as client `client`'s command `seq` to `to`, runs `wait`, and returns the
/// answer to it, if any.
fn ask(
    sim: &mut Sim<Node>,
    client: usize,
    to: usize,
    seq: u64,
    input: KvInput,
    wait: Duration,
) -> Option<KvOutput> {
    let command = Command {
        client: client as u64,
        seq,
        input,
    };
    let now = sim.now();
    sim.inject(
        now,
        NodeId(client),
        NodeId(to),
        Message::ClientRequest(command),
    );
    sim.run_for(wait).expect("no invariant here");
    let Some(Node::Recorder(seen)) = sim.process(NodeId(client)) else {
        panic!("node {client} is a recorder");
    };
    seen.iter().rev().find_map(|(_, r)| match r {
        ClientResponse::Done { seq: s, output } if *s == seq => Some(output.clone()),
        _ => None,
    })
}

fn get() -> KvInput {
    KvInput::Get { key: "x".into() }
}
fn put(value: &str) -> KvInput {
    let (key, value) = ("x".into(), value.into());
    KvInput::Put { key, value }
}
fn value(v: &str) -> Option<KvOutput> {
    Some(KvOutput::Value(Some(v.into())))
}

/// A cluster with a leader that has committed `x = a`.
fn with_leader(config: &Config, seed: u64) -> (Sim<Node>, usize) {
    let mut sim = cluster(config, seed);
    sim.run_until(Time::from_millis(1_000))
        .expect("no invariant");
    let l = leader(&sim).expect("a leader within a second");
    let ms = Duration::from_millis(50);
    assert_eq!(ask(&mut sim, 3, l, 1, put("a"), ms), Some(KvOutput::Ok));
    (sim, l)
}

// ANCHOR: read_index_test
/// A ReadIndex read is answered correctly without adding anything to the log, and costs one
/// round of `ReadHeartbeat`s instead of an append.
#[test]
fn a_read_index_read_appends_nothing_to_the_log() {
    let config = Config {
        read_mode: ReadMode::ReadIndex,
        ..Config::default()
    };
    let (mut sim, l) = with_leader(&config, 1);
    let before = server(&sim, l).log().last_index();
    let ms = Duration::from_millis(20);
    assert_eq!(ask(&mut sim, 3, l, 2, get(), ms), value("a"));
    assert_eq!(
        server(&sim, l).log().last_index(),
        before,
        "no entry for a read"
    );
    assert_eq!(sim.metrics().counter("raft.read_index_reads"), 1);
    // In log mode the same read is an entry.
    let (mut sim, l) = with_leader(&Config::default(), 1);
    let before = server(&sim, l).log().last_index();
    assert_eq!(ask(&mut sim, 3, l, 2, get(), ms), value("a"));
    assert_eq!(server(&sim, l).log().last_index(), before + 1);
}
// ANCHOR_END: read_index_test

/// A deposed leader cut off from the majority cannot confirm a round, so it never answers a
/// ReadIndex read, while a new leader has accepted a newer write. (An answer from its own
/// state, without the round, would be stale: the second half shows that state.)
#[test]
fn a_partitioned_leader_answers_no_read_index_read() {
    // CheckQuorum off, so that the deposed leader still believes it leads when asked.
    let config = Config {
        read_mode: ReadMode::ReadIndex,
        check_quorum: false,
        ..Config::default()
    };
    let (mut sim, old) = with_leader(&config, 2);
    let others: Vec<NodeId> = (0..3).filter(|i| *i != old).map(NodeId).collect();
    sim.apply(Fault::Partition(vec![NodeId(old)], others.clone()));
    sim.run_for(Duration::from_millis(1_000))
        .expect("no invariant");
    let new = leader(&sim).expect("a new leader among the majority");
    assert_ne!(new, old);
    let ms = Duration::from_millis(100);
    assert_eq!(ask(&mut sim, 4, new, 1, put("b"), ms), Some(KvOutput::Ok));
    assert!(
        server(&sim, old).is_leader(),
        "without CheckQuorum it still thinks it leads"
    );
    assert_eq!(
        ask(&mut sim, 3, old, 2, get(), ms),
        None,
        "no answer without a majority"
    );
    assert_eq!(
        server(&sim, old).kv().get("x"),
        Some("a"),
        "its state is stale"
    );
}

// ANCHOR: drift_test
/// The lease's clock assumption, shown both ways. The leader's clock is slowed to a quarter of
/// true time just before it is cut off from the other two servers; they elect a new leader,
/// which accepts `x = b`; then a client reads from the old leader.
/// - Leases computed for perfect clocks (`max_drift_ppm: 0`): the slow clock still shows the
///   lease valid, and the old leader answers the stale `a`.
/// - Leases computed for clocks up to 4 times fast or slow (`max_drift_ppm: 3_000_000`): the
///   lease has expired by then, the leader falls back to ReadIndex, and no stale answer comes.
fn lease_read_after_slowing_the_leader(max_drift_ppm: u64) -> Option<KvOutput> {
    let config = Config {
        read_mode: ReadMode::Lease { max_drift_ppm },
        heartbeat_ms: 10,
        ..Config::default()
    };
    let (mut sim, old) = with_leader(&config, 3);
    // Refresh the lease: a read answered by the leader.
    let ms = Duration::from_millis;
    assert_eq!(ask(&mut sim, 3, old, 2, get(), ms(5)), value("a"));
    // A quarter of true speed from now on, reading `now` at this instant (no jump).
    let drift_ppm = -750_000;
    let now = sim.now().0 as i64;
    let clock = Clock {
        offset_ns: now - (i128::from(now) * (1_000_000 + drift_ppm) as i128 / 1_000_000) as i64,
        drift_ppm: drift_ppm as i64,
    };
    sim.set_clock(NodeId(old), clock);
    let others: Vec<NodeId> = (0..3).filter(|i| *i != old).map(NodeId).collect();
    let cut = sim.now();
    sim.apply(Fault::Partition(vec![NodeId(old)], others));
    let mut new = None;
    while new.is_none() && sim.now() < cut + ms(2_000) {
        sim.run_for(ms(5)).expect("no invariant");
        new = (0..3).find(|i| *i != old && server(&sim, *i).is_leader());
    }
    let new = new.expect("the majority elects a leader");
    assert_eq!(
        ask(&mut sim, 4, new, 1, put("b"), ms(10)),
        Some(KvOutput::Ok)
    );
    let elapsed = sim.now().since(cut);
    let lease = lease_duration(config.election_timeout_ms_min, max_drift_ppm);
    println!("new leader wrote b {elapsed:?} after the cut; lease {lease:?} of the slow clock");
    ask(&mut sim, 3, old, 3, get(), ms(5))
}

#[test]
fn a_lease_read_is_stale_when_clock_drift_exceeds_the_bound() {
    assert_eq!(
        lease_read_after_slowing_the_leader(0),
        value("a"),
        "the old leader answers from its stale state"
    );
}

#[test]
fn a_lease_read_is_not_stale_within_the_drift_bound() {
    assert_eq!(lease_read_after_slowing_the_leader(3_000_000), None);
}
// ANCHOR_END: drift_test

/// The chapter's nemesis, with reads outside the log, in runs of 4 s of chaos and 3 s of calm
/// (half the chapter's, to keep 1,000 seeds within the test budget).
fn chaos(read_mode: ReadMode, batching: bool) -> Chaos {
    let mut chaos = Chaos {
        chaos: Duration::from_secs(4),
        calm: Duration::from_secs(3),
        ..Chaos::default()
    };
    chaos.cluster.config.read_mode = read_mode;
    chaos.cluster.config.batching = batching;
    chaos
}

fn replay(test: &str) -> String {
    format!(
        "UDS_FIRST_SEED={{seed}} UDS_SEEDS=1 cargo test --release -p uds --test part2 \
         ch10_raft_reads::{test} -- --nocapture"
    )
}

// ANCHOR: campaigns
/// ReadIndex reads and batched replication under crashes, restarts, pauses, partitions, loss,
/// duplication and reordering: safe, live, and every history linearizable.
#[test]
fn read_index_campaign() {
    let chaos = chaos(ReadMode::ReadIndex, true);
    let campaign = Campaign {
        name: "raft ReadIndex + batching".into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 1_000),
        threads: 0,
        replay: replay("read_index_campaign"),
    };
    let report = campaign.run(|seed| {
        run_chaos_prepared(seed, &chaos, &FaultSchedule::default(), |_| {}).map(|_| ())
    });
    println!(
        "{}: {} seeds passed in {:?}",
        report.name, report.passed, report.elapsed
    );
    report.assert_passed();
}

/// The lease's bound in the campaign: clocks up to 20% fast or slow.
const CAMPAIGN_DRIFT_PPM: u64 = 200_000;

/// Lease reads under the same nemesis, every server's clock drifting within the lease's
/// bound (a rate drawn per server and seed between `1 / 1.2` and `1.2`).
#[test]
fn lease_read_campaign_within_the_drift_bound() {
    let chaos = chaos(
        ReadMode::Lease {
            max_drift_ppm: CAMPAIGN_DRIFT_PPM,
        },
        false,
    );
    let campaign = Campaign {
        name: "raft lease reads, drift within the bound".into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 300),
        threads: 0,
        replay: replay("lease_read_campaign_within_the_drift_bound"),
    };
    let report = campaign.run(|seed| {
        let drifting = |sim: &mut Sim<_>| {
            let mut rng = rng_stream(seed, u64::MAX - 1); // a stream no node uses
            let bound = CAMPAIGN_DRIFT_PPM as f64 / 1e6;
            for i in 0..chaos.cluster.servers {
                let rate: f64 = rng.random_range(1.0 / (1.0 + bound)..=1.0 + bound);
                let drift_ppm = ((rate - 1.0) * 1e6) as i64;
                sim.set_clock(
                    NodeId(i),
                    Clock {
                        offset_ns: 0,
                        drift_ppm,
                    },
                );
            }
        };
        run_chaos_prepared(seed, &chaos, &FaultSchedule::default(), drifting).map(|_| ())
    });
    println!(
        "{}: {} seeds passed in {:?}",
        report.name, report.passed, report.elapsed
    );
    report.assert_passed();
}
// ANCHOR_END: campaigns
