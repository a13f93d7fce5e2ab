//! A campaign aimed at the Figure 8 subtlety of the Raft paper (§5.4.2), and the proof that it
//! can see it: with the commit rule deliberately broken it finds a safety violation, and with
//! the correct rule the very same seeds pass.
//!
//! Why the general campaign (`ch10_raft_campaign.rs`) misses the bug. The bad interleaving needs
//! a leader that takes office holding entries of an earlier term that are *not yet* on a
//! majority, brings them to a majority, commits them by counting, and then loses office before
//! its own first entry (the no-op it appends on election) is on a majority; and a server holding
//! a conflicting entry of a later term than the counted one must then win an election. The
//! window is one round trip after the leader's election. A nemesis that strikes every few
//! hundred milliseconds at random servers almost never lands in it: with the bug planted it
//! passed thousands of seeds.
//!
//! The *leader hunter* here is built to land in it. It watches the run event by event; every
//! server that takes office is crashed after a short random reign (a few message delays, drawn
//! from the hunter's own random stream), and restarted after a short downtime; when two of the
//! five servers are already down, the doomed leader lives on until one is back. Elections are
//! fast (short timeouts next to the message delay), clients send steadily so that every leader
//! has fresh entries in flight when it dies, messages are delayed, lost, duplicated and
//! reordered, and each `AppendEntries` carries one entry. That last knob matters: a new leader
//! sends its no-op first; a follower missing older entries rejects it, is backed off, and then
//! receives the older entries one message at a time, so their acknowledgements put an old entry
//! on a majority one round trip before the no-op gets there. With the planted bug the leader
//! commits the old entry in that round trip; the hunter kills it there often enough. The safety
//! invariants (Figure 3) are checked after every event, as in every Raft run of this book.
//!
//! `cargo test --release -p uds --test part2 ch10_figure8_campaign -- --nocapture` runs both claims;
//! `UDS_SEEDS` and `UDS_FIRST_SEED` change the seeds, and `UDS_SEED=n ... replay_figure_8_seed`
//! replays one seed with the planted bug (`UDS_RULE=correct` for the correct rule).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::RngExt;
use uds::coordination::raft::chaos::Chaos;
use uds::coordination::raft::cluster::{self, Cluster};
use uds::coordination::raft::server::{CommitRule, Config};
use uds::sim::{
    Campaign, Exponential, Fault, Latency, LinkConfig, NodeId, NodeState, Time, rng_stream,
};

use crate::support::env;

/// The knobs of the leader hunter.
#[derive(Clone, Debug)]
struct Hunter {
    /// The cluster, the link and how long the hunt lasts (`chaos`); the random `Nemesis` of
    /// `Chaos` is not used.
    chaos: Chaos,
    /// Mean time from a server taking office to the hunter crashing it (exponential).
    mean_reign: Duration,
    /// A crashed leader restarts after a downtime drawn uniformly from this range, in ms.
    downtime_ms: (u64, u64),
    /// At most this many servers down at once (a minority): a doomed leader lives on until
    /// another server is back.
    max_down: usize,
}

impl Hunter {
    /// Five servers, fast elections, one entry per message, a lossy and reordering network
    /// whose delays are short next to the timeouts, steady clients, and leaders that die after a
    /// few message delays.
    fn new(rule: CommitRule) -> Hunter {
        let ms = Duration::from_millis;
        let config = Config {
            election_timeout_ms_min: 30,
            election_timeout_ms_max: 60,
            heartbeat_ms: 10,
            max_entries_per_message: 1,
            commit_rule: rule,
            ..Config::default()
        };
        let chaos = Chaos {
            cluster: Cluster {
                servers: 5,
                clients: 4,
                ops_per_client: 1_000,
                client_retry_ms: 20,
                client_max_attempts: 3,
                config,
                invariants: true,
                ..Cluster::default()
            },
            link: LinkConfig::constant(ms(1))
                .with_latency(Latency::Exponential {
                    min: ms(1),
                    mean: ms(2),
                })
                .with_loss(0.05)
                .with_duplicate(0.02)
                .with_reorder(0.2, ms(10)),
            chaos: ms(3_000),
            ..Chaos::default()
        };
        Hunter {
            chaos,
            mean_reign: ms(5),
            downtime_ms: (5, 60),
            max_down: 2,
        }
    }
}

/// What one hunt did.
#[derive(Clone, Debug)]
struct Hunt {
    /// Simulator events processed.
    events: u64,
    /// Leaders crashed by the hunter.
    kills: u64,
    /// The highest commit index any server reached: the hunt is not vacuous.
    committed: u64,
}

// ANCHOR: hunt
/// Runs seed `seed` of the hunt; `Err` names the safety property that broke.
fn hunt(seed: u64, hunter: &Hunter) -> Result<Hunt, String> {
    let chaos = &hunter.chaos;
    let mut sim = chaos
        .cluster
        .build(seed, chaos.link.clone())
        .map_err(|e| e.to_string())?;
    let servers = chaos.cluster.servers;
    let end = Time::ZERO + chaos.chaos;
    let mut rng = rng_stream(seed, u64::MAX); // a stream no node uses
    // The highest term whose leader the hunter has seen, and that leader's death sentence.
    let mut seen_term = 0;
    let mut doomed: Option<(NodeId, u64, Time)> = None;
    let mut kills = 0;
    while sim.now() < end && sim.step().map_err(|v| v.to_string())? {
        for (leader, term) in cluster::leaders(&sim) {
            if term > seen_term {
                seen_term = term;
                let reign = rng.sample(Exponential {
                    mean: hunter.mean_reign.as_secs_f64(),
                });
                doomed = Some((leader, term, sim.now() + Duration::from_secs_f64(reign)));
            }
        }
        let Some((leader, term, at)) = doomed else {
            continue;
        };
        if sim.now() < at {
            continue;
        }
        let still_leads = cluster::server(&sim, leader)
            .is_some_and(|s| s.is_leader() && s.current_term() == term);
        if !still_leads {
            doomed = None; // deposed or crashed already: the next leader is the target
            continue;
        }
        let down = (0..servers)
            .filter(|&i| sim.state(NodeId(i)) != NodeState::Up)
            .count();
        if down < hunter.max_down {
            let (lo, hi) = hunter.downtime_ms;
            let back = sim.now() + Duration::from_millis(rng.random_range(lo..hi + 1));
            sim.apply(Fault::Crash(leader));
            sim.schedule_fault(back, Fault::Restart(leader));
            doomed = None;
            kills += 1;
        }
    }
    let committed = (0..servers)
        .filter_map(|i| cluster::server(&sim, NodeId(i)))
        .map(|s| s.commit_index())
        .max()
        .unwrap_or(0);
    Ok(Hunt {
        events: sim.events_processed(),
        kills,
        committed,
    })
}
// ANCHOR_END: hunt

fn campaign(name: &str, rule: &str) -> Campaign {
    Campaign {
        name: name.into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 300),
        threads: 0,
        replay: format!(
            "UDS_SEED={{seed}} UDS_RULE={rule} cargo test --release -p uds --test part2 \
             ch10_figure8_campaign::replay_figure_8_seed -- --nocapture"
        ),
    }
}

/// §5.4.2, Figure 8: with the commit rule broken (a leader commits whatever is stored on a
/// majority, whatever its term), the leader hunter finds a run in which a committed entry is
/// overwritten: leader completeness or state machine safety fails.
#[test]
fn campaign_finds_the_figure_8_bug_when_old_terms_are_committed_by_counting() {
    let hunter = Hunter::new(CommitRule::CountAnyTerm);
    let campaign = campaign("figure 8 hunt, planted bug", "bug");
    let report = campaign.run(|seed| hunt(seed, &hunter).map(|_| ()));
    let seeds = report.passed + report.failures.len() as u64;
    println!(
        "planted bug: {} of {seeds} seeds failed in {:.1} s",
        report.failures.len(),
        report.elapsed.as_secs_f64()
    );
    let Some((seed, why)) = report.failures.first() else {
        panic!("the campaign missed the planted Figure 8 bug in {seeds} seeds");
    };
    println!(
        "first failing seed {seed}: {why}\n  replay: {}",
        report.replay_command(*seed)
    );
    for (seed, why) in &report.failures {
        assert!(
            why.contains("leader completeness") || why.contains("state machine safety"),
            "seed {seed} failed for another reason than Figure 8: {why}"
        );
    }
}

/// The same hunt over the same seeds with the correct rule (§5.4.2): every safety property
/// holds after every event.
#[test]
fn campaign_passes_with_the_current_term_commit_rule() {
    let hunter = Hunter::new(CommitRule::CurrentTermOnly);
    let campaign = campaign("figure 8 hunt, correct rule", "correct");
    let [events, kills, committed] = [(); 3].map(|_| AtomicU64::new(0));
    let report = campaign.run(|seed| {
        let h = hunt(seed, &hunter)?;
        events.fetch_add(h.events, Ordering::Relaxed);
        kills.fetch_add(h.kills, Ordering::Relaxed);
        committed.fetch_add(h.committed, Ordering::Relaxed);
        Ok(())
    });
    let total = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "correct rule: {} seeds passed in {:.1} s; {} events, {} leaders crashed, {} entries \
         committed",
        report.passed,
        report.elapsed.as_secs_f64(),
        total(&events),
        total(&kills),
        total(&committed)
    );
    report.assert_passed();
    let seeds = report.passed.max(1);
    assert!(
        total(&kills) >= 10 * seeds && total(&committed) >= 10 * seeds,
        "the hunt is too tame to mean anything: {} kills, {} entries committed in {seeds} seeds",
        total(&kills),
        total(&committed)
    );
}

/// Replays the seed in `UDS_SEED` (default 0), with the planted bug unless `UDS_RULE=correct`.
#[test]
fn replay_figure_8_seed() {
    let seed = env("UDS_SEED", 0);
    let rule = match std::env::var("UDS_RULE").as_deref() {
        Ok("correct") => CommitRule::CurrentTermOnly,
        Ok("bug") | Err(_) => CommitRule::CountAnyTerm,
        Ok(other) => panic!("UDS_RULE={other:?}: expected `bug` or `correct`"),
    };
    match hunt(seed, &Hunter::new(rule)) {
        Ok(h) => println!(
            "seed {seed} ({rule:?}): passed, {} events, {} leaders crashed, {} entries committed",
            h.events, h.kills, h.committed
        ),
        Err(why) => println!("seed {seed} ({rule:?}): {why}"),
    }
}
