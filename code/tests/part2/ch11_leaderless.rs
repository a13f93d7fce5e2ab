//! Chapter 11, leaderless replication: the Dynamo-style store's claims, as scenarios and as a
//! campaign over many seeds with crashes, restarts and partitions.
//!
//! Run: `cargo test -p uds --release --test part2 ch11_leaderless`. The campaigns run
//! `UDS_SEEDS` seeds (default 1,000) from `UDS_FIRST_SEED` (default 0); a failing seed prints
//! the command that replays that seed alone.

use std::time::Duration;

use uds::coordination::leaderless::merkle::leaf_of;
use uds::coordination::leaderless::run::campaign_setup;
use uds::coordination::leaderless::{
    Quorum, StoreMsg, StoreNode, StoreSetup, build, check_convergence, check_fresh_reads, run,
};
use uds::coordination::time::vector::VectorClock;
use uds::sim::{Campaign, Fault, NodeId, Sim};

use crate::support::env;

fn seeds() -> u64 {
    env("UDS_SEEDS", 1000)
}

/// A campaign over `seeds` seeds from `UDS_FIRST_SEED` whose failures name the command that
/// reruns the test `name` on the failing seed alone.
fn campaign(name: &str, seeds: u64) -> Campaign {
    let mut campaign = Campaign::for_test(module_path!(), name, seeds.max(1));
    campaign.first_seed = env("UDS_FIRST_SEED", 0);
    campaign.replay = format!(
        "UDS_FIRST_SEED={{seed}} UDS_SEEDS=1 cargo test -p uds --release --test part2 \
         ch11_leaderless::{name}"
    );
    campaign
}

const STRICT: Quorum = Quorum { n: 3, r: 2, w: 2 };

/// A fault-free deployment with no clients, driven by hand through the probe.
fn quiet(sloppy: bool) -> (StoreSetup, Sim<StoreNode>) {
    let mut setup = campaign_setup(STRICT, sloppy);
    setup.clients = 0;
    setup.nemesis = None;
    setup.config.anti_entropy_every = None;
    let mut sim = build(&setup, 1).expect("a valid setup");
    sim.run_for(Duration::from_millis(1)).expect("no invariant"); // every server has started
    (setup, sim)
}

fn probe(sim: &Sim<StoreNode>) -> NodeId {
    NodeId(sim.node_count() - 1)
}

/// Sends `msg` from the probe to `server` now and runs until the answer to `req` arrives.
fn ask(sim: &mut Sim<StoreNode>, server: usize, msg: StoreMsg, req: u64) -> StoreMsg {
    let from = probe(sim);
    sim.inject(sim.now(), from, NodeId(server), msg);
    for _ in 0..100_000 {
        sim.step().expect("no invariant");
        let Some(StoreNode::Probe(p)) = sim.process(from) else {
            unreachable!()
        };
        if let Some((_, answer)) = p.answer(req) {
            return answer.clone();
        }
    }
    panic!("no answer to request {req}");
}

fn put(
    sim: &mut Sim<StoreNode>,
    server: usize,
    req: u64,
    value: u64,
    context: VectorClock,
) -> StoreMsg {
    ask(
        sim,
        server,
        StoreMsg::Put {
            req,
            key: 0,
            value,
            context,
        },
        req,
    )
}

fn get_values(sim: &mut Sim<StoreNode>, server: usize, req: u64) -> (Vec<u64>, VectorClock) {
    match ask(sim, server, StoreMsg::Get { req, key: 0 }, req) {
        StoreMsg::GetOk { siblings, .. } => (siblings.values(), siblings.context()),
        other => panic!("get failed: {other:?}"),
    }
}

fn stored(sim: &Sim<StoreNode>, server: usize) -> Vec<u64> {
    match sim.process(NodeId(server)) {
        Some(StoreNode::Server(s)) => s.disk.store.get(&0).map(|s| s.values()).unwrap_or_default(),
        _ => panic!("server {server} is down"),
    }
}

fn hints(sim: &Sim<StoreNode>) -> usize {
    (0..5)
        .filter_map(|i| match sim.process(NodeId(i)) {
            Some(StoreNode::Server(s)) => Some(s.disk.hints.len()),
            _ => None,
        })
        .sum()
}

#[test]
fn concurrent_puts_become_siblings_and_a_put_with_the_context_resolves_them() {
    // Dynamo §4.4: two clients write key 0 without having read it, through two servers.
    let (setup, mut sim) = quiet(false);
    let owners = setup.ring().preference_list(0, 3);
    put(&mut sim, owners[0], 1, 10, VectorClock::default());
    put(&mut sim, owners[1], 2, 20, VectorClock::default());
    let (values, context) = get_values(&mut sim, owners[2], 3);
    assert_eq!(values, vec![10, 20], "both versions surface as siblings");
    put(&mut sim, owners[2], 4, 30, context);
    sim.run_for(Duration::from_millis(10)).unwrap();
    assert_eq!(
        get_values(&mut sim, owners[0], 5).0,
        vec![30],
        "the merge replaced both"
    );
}

#[test]
fn without_sloppy_quorums_a_put_fails_when_two_of_three_owners_are_down() {
    let (setup, mut sim) = quiet(false);
    let owners = setup.ring().preference_list(0, 3);
    sim.apply(Fault::Crash(NodeId(owners[1])));
    sim.apply(Fault::Crash(NodeId(owners[2])));
    let answer = put(&mut sim, owners[0], 1, 10, VectorClock::default());
    assert!(matches!(answer, StoreMsg::Failed { .. }), "{answer:?}");
}

#[test]
fn sloppy_quorums_take_the_write_as_hints_and_hand_it_back() {
    // Dynamo §4.6: stand-ins hold the write for the crashed owners, then hand it over.
    let (setup, mut sim) = quiet(true);
    let owners = setup.ring().preference_list(0, 3);
    sim.apply(Fault::Crash(NodeId(owners[1])));
    sim.apply(Fault::Crash(NodeId(owners[2])));
    let answer = put(&mut sim, owners[0], 1, 10, VectorClock::default());
    assert!(matches!(answer, StoreMsg::PutOk { .. }), "{answer:?}");
    sim.run_for(Duration::from_millis(10)).unwrap();
    assert_eq!(hints(&sim), 2, "one hint per crashed owner");
    sim.apply(Fault::Restart(NodeId(owners[1])));
    sim.apply(Fault::Restart(NodeId(owners[2])));
    sim.run_for(Duration::from_millis(200)).unwrap();
    assert_eq!(hints(&sim), 0, "every hint handed back");
    for o in owners {
        assert_eq!(stored(&sim, o), vec![10], "owner {o}");
    }
}

#[test]
fn a_read_repairs_the_owner_that_missed_a_write() {
    let (setup, mut sim) = quiet(false);
    let owners = setup.ring().preference_list(0, 3);
    let others: Vec<NodeId> = (0..sim.node_count())
        .filter(|&i| i != owners[2])
        .map(NodeId)
        .collect();
    sim.apply(Fault::Partition(vec![NodeId(owners[2])], others));
    put(&mut sim, owners[0], 1, 10, VectorClock::default());
    sim.run_for(Duration::from_millis(30)).unwrap();
    assert_eq!(stored(&sim, owners[2]), Vec::<u64>::new());
    sim.apply(Fault::Heal);
    get_values(&mut sim, owners[0], 2);
    sim.run_for(Duration::from_millis(30)).unwrap();
    assert_eq!(
        stored(&sim, owners[2]),
        vec![10],
        "read repair brought the owner up to date"
    );
    assert!(sim.metrics().counter("read_repairs_sent") >= 1);
}

#[test]
fn anti_entropy_repairs_a_replica_and_sends_only_the_keys_of_differing_leaves() {
    // Dynamo §4.7: one owner misses writes to a few keys; Merkle exchanges find just those.
    let mut setup = campaign_setup(STRICT, false);
    setup.clients = 0;
    setup.nemesis = None;
    setup.config.read_repair = false;
    setup.workload.keys = 64;
    let mut sim = build(&setup, 3).unwrap();
    let ring = setup.ring();
    let p = probe(&sim);
    // Put keys 0..64 everywhere, then 4 more versions while server 0 is cut off.
    for key in 0..64u64 {
        let msg = StoreMsg::Put {
            req: key,
            key,
            value: key,
            context: VectorClock::default(),
        };
        sim.inject(sim.now(), p, NodeId(1), msg);
    }
    sim.run_for(Duration::from_millis(100)).unwrap();
    let before = sim.metrics().counter("ae_keys");
    let cut: Vec<NodeId> = (1..sim.node_count()).map(NodeId).collect();
    sim.apply(Fault::Partition(vec![NodeId(0)], cut));
    let missed: Vec<u64> = (0..64)
        .filter(|&k| ring.preference_list(k, 3).contains(&0))
        .take(4)
        .collect();
    for &key in &missed {
        let msg = StoreMsg::Put {
            req: 100 + key,
            key,
            value: 1000 + key,
            context: VectorClock::default(),
        };
        sim.inject(sim.now(), p, NodeId(1), msg);
    }
    sim.run_for(Duration::from_millis(50)).unwrap();
    sim.apply(Fault::Heal);
    sim.run_for(Duration::from_millis(1500)).unwrap();
    let disk = |i: usize| match sim.process(NodeId(i)) {
        Some(StoreNode::Server(s)) => s.disk.clone(),
        _ => unreachable!(),
    };
    for key in 0..64u64 {
        let owners = ring.preference_list(key, 3);
        let first = disk(owners[0]).store.get(&key).cloned();
        for &o in &owners[1..] {
            assert_eq!(disk(o).store.get(&key).cloned(), first, "key {key}");
        }
    }
    let keys_sent = sim.metrics().counter("ae_keys") - before;
    // Only keys of the differing leaves travel: those sharing a range and a Merkle leaf with
    // a missed key, once each way per exchange. Shipping the whole ranges would send more.
    let leaves = setup.config.merkle_leaves;
    let place = |k: u64| (ring.range_of(k), leaf_of(k, leaves));
    let in_leaves = (0..64u64)
        .filter(|&k| missed.iter().any(|&m| place(m) == place(k)))
        .count() as u64;
    let in_ranges = (0..64u64)
        .filter(|&k| missed.iter().any(|&m| ring.range_of(m) == ring.range_of(k)))
        .count() as u64;
    println!(
        "{keys_sent} keys sent; {in_leaves} in the differing leaves, {in_ranges} in their ranges"
    );
    assert!(keys_sent >= missed.len() as u64, "{keys_sent} keys sent");
    assert!(
        keys_sent <= 2 * in_leaves && keys_sent < 2 * in_ranges,
        "anti-entropy sent {keys_sent} keys to repair {} ({in_leaves} keys share their leaves, \
         {in_ranges} their ranges)",
        missed.len()
    );
}

/// Claims (1) and (2) of the chapter on one seed.
fn strict_claims(seed: u64) -> Result<(), String> {
    let setup = campaign_setup(STRICT, false);
    let out = run(&setup, seed)?;
    check_fresh_reads(&out.history)?;
    check_convergence(&setup, &out)
}

// ANCHOR: campaign
#[test]
fn strict_quorums_read_every_completed_write_and_replicas_converge() {
    let campaign = campaign("strict_quorums_read", seeds());
    campaign.run(strict_claims).assert_passed();
}

#[test]
fn with_sloppy_quorums_replicas_still_converge() {
    let setup = campaign_setup(STRICT, true);
    let campaign = campaign("with_sloppy_quorums_replicas", seeds() / 4);
    campaign
        .run(|seed| check_convergence(&setup, &run(&setup, seed)?))
        .assert_passed();
}

#[test]
fn with_sloppy_quorums_a_read_can_miss_a_completed_write() {
    let setup = campaign_setup(STRICT, true);
    let first = (0..seeds())
        .find(|&seed| check_fresh_reads(&run(&setup, seed).unwrap().history).is_err())
        .expect("some seed shows a stale read with sloppy quorums");
    let why = check_fresh_reads(&run(&setup, first).unwrap().history).unwrap_err();
    println!("seed {first}: {why}");
    println!(
        "replay: cargo run --release -p uds --example ch11_dynamo -- --seed {first} --seeds 1"
    );
}
// ANCHOR_END: campaign
