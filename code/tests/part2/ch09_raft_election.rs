//! Chapter 9's claims about leader election (Raft §5.2, §5.4.1, §9.3), on the simulator.
//!
//! `cargo test --release -p uds --test part2 ch09_raft_election -- --nocapture`; `UDS_SEEDS=n`
//! runs more seeds of the election campaign, `UDS_FIRST_SEED=n` starts elsewhere, and
//! `UDS_SEED=n ... replay_one_election_seed` replays one seed.

use std::time::Duration;

use uds::coordination::raft::cluster::{self, Cluster};
use uds::coordination::raft::server::Config;
use uds::coordination::raft::time_to_elect::time_to_elect;
use uds::sim::{Campaign, Fault, Latency, LinkConfig, Nemesis, NodeId, Time, rng_stream};

use crate::support::env;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ANCHOR: election_campaign
/// §5.2: at most one leader per term, over whole runs in which servers crash and come back
/// within a few milliseconds (so that a restarted voter is asked again in the term it voted
/// in), pause, and are partitioned, with narrow timeouts that make candidates collide. The
/// four safety invariants are checked after every event. Mutation check (exercise 3): with
/// `voted_for` left off the disk (`Server::restart` setting it to `None`), 8 of the first 1,000
/// seeds break election safety (13, 16, 432, 717, 727, 768, 847 and 944; seed 727 has two
/// leaders of term 1 at 30 ms).
#[test]
fn election_safety_under_crashes_restarts_and_split_votes() {
    let campaign = Campaign {
        name: "raft elections".into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 1_000),
        threads: 0,
        replay: "UDS_SEED={seed} cargo test --release -p uds --test part2 \
                 ch09_raft_election::replay_one_election_seed -- --nocapture"
            .into(),
    };
    let report = campaign.run(election_run);
    println!(
        "{} seeds: {:.0} per second",
        campaign.seeds,
        report.seeds_per_sec()
    );
    report.assert_passed();
}

/// One seed of the election campaign: a nemesis for 3 s, then a leader within 500 ms.
fn election_run(seed: u64) -> Result<(), String> {
    let shape = Cluster {
        servers: 5,
        clients: 0,
        config: Config {
            election_timeout_ms_min: 20,
            election_timeout_ms_max: 40,
            heartbeat_ms: 8,
            ..Config::default()
        },
        ..Cluster::default()
    };
    let nemesis = Nemesis {
        mean_interval: ms(15),
        mean_duration: ms(10),
        crash: true,
        pause: true,
        partition: true,
        max_down: 2,
    };
    let link = LinkConfig::constant(ms(1))
        .with_latency(Latency::Uniform {
            min: ms(1),
            max: ms(6),
        })
        .with_loss(0.05)
        .with_duplicate(0.05)
        .with_reorder(0.1, ms(10));
    let mut sim = shape.build(seed, link).map_err(|e| e.to_string())?;
    let end = Time::from_millis(3_000);
    let schedule = nemesis.schedule(&mut rng_stream(seed, u64::MAX), 5, Time::ZERO, end);
    sim.schedule(&schedule);
    sim.run_until(end).map_err(|v| v.to_string())?;
    // Liveness (§5.6): once repaired, the cluster elects a leader within 500 ms.
    let deadline = end + ms(500);
    while cluster::leaders(&sim).is_empty() && sim.now() < deadline {
        sim.step().map_err(|v| v.to_string())?;
    }
    if cluster::leaders(&sim).is_empty() {
        let servers: Vec<_> = (0..5)
            .filter_map(|i| cluster::server(&sim, NodeId(i)))
            .map(|s| (s.role(), s.current_term(), s.log().last_index()))
            .collect();
        let summary = sim.summary();
        return Err(format!(
            "no leader within 500 ms of the last repair: {servers:?}; {summary}"
        ));
    }
    Ok(())
}
// ANCHOR_END: election_campaign

/// Replays the seed in `UDS_SEED` (default 0) of the election campaign.
#[test]
fn replay_one_election_seed() {
    let seed = env("UDS_SEED", 0);
    match election_run(seed) {
        Ok(()) => println!("seed {seed}: one leader per term, and a leader after the repair"),
        Err(why) => panic!("seed {seed}: {why}"),
    }
}

/// §5.2 and §5.6: the side of a partition with a majority elects a leader; the minority side
/// cannot, however long it tries, because no candidate there can collect three votes.
#[test]
fn only_a_majority_side_elects_a_leader() {
    let shape = Cluster {
        servers: 5,
        clients: 0,
        ..Cluster::default()
    };
    let mut sim = shape.build(4, LinkConfig::constant(ms(5))).unwrap();
    let (minority, majority) = (
        vec![NodeId(0), NodeId(1)],
        vec![NodeId(2), NodeId(3), NodeId(4)],
    );
    sim.apply(Fault::Partition(minority.clone(), majority.clone()));
    sim.run_until(Time::from_millis(5_000)).unwrap();
    let leaders = cluster::leaders(&sim);
    assert_eq!(leaders.len(), 1, "{leaders:?}");
    assert!(majority.contains(&leaders[0].0));
    let leader_term = leaders[0].1;
    for id in minority {
        let s = cluster::server(&sim, id).unwrap();
        assert!(!s.is_leader());
        assert!(
            s.current_term() > leader_term,
            "{id} kept campaigning in vain, past the majority's term {leader_term}"
        );
    }
}

// ANCHOR: split_votes
/// §5.2 and §9.3: randomised timeouts are what end split votes. After a leader crash, a
/// 150-300 ms range elects a new leader within a second every time; with every timeout equal,
/// most trials are still splitting votes a second later.
#[test]
fn randomised_timeouts_resolve_split_votes_sooner() {
    let link = LinkConfig::constant(ms(1)).with_latency(Latency::Uniform {
        min: ms(2),
        max: ms(8),
    });
    let elected_within_1s = |min: u64, max: u64| {
        let config = Config {
            election_timeout_ms_min: min,
            election_timeout_ms_max: max,
            ..Config::default()
        };
        (0..40)
            .filter(|&seed| {
                let t = time_to_elect(seed, &config, &link, ms(2_000), ms(1_000)).unwrap();
                t.without_leader.is_some()
            })
            .count()
    };
    assert_eq!(elected_within_1s(150, 300), 40);
    let equal = elected_within_1s(150, 150);
    assert!(
        equal < 20,
        "equal timeouts: {equal} of 40 trials elected within 1 s"
    );
}
// ANCHOR_END: split_votes
