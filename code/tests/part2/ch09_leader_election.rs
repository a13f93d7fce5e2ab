//! Chapter 9's claims about leases and fencing tokens, checked on the simulator.
//!
//! The scenario tests read as transcripts of the chapter's story: A holds the lease, A is
//! frozen, B takes over, A wakes up and writes. The campaigns then let random pauses and lost
//! messages find the same story on their own, over many seeds. `UDS_SEEDS=n` and
//! `UDS_FIRST_SEED=n` resize the campaigns; `UDS_SEED=n ... replay_one_lease_seed` replays one.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use uds::coordination::leader_election::client::Note;
use uds::coordination::leader_election::fencing::FencingToken;
use uds::coordination::leader_election::node::LeaseNode;
use uds::coordination::leader_election::scenario::{
    Outcome, SERVICE, Setup, client, client_state, paused_ex_leader, run_with_pauses, service,
    slow_clock_ex_leader, storage,
};
use uds::sim::{
    Campaign, Clock, Fault, Latency, LinkConfig, Nemesis, NodeId, Sim, Time, rng_stream,
};

use crate::support::env;

const A: usize = 0;
const B: usize = 1;

fn at(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn token(n: u64) -> Option<FencingToken> {
    Some(FencingToken(n))
}

/// Runs until `ms` of true time.
fn run_until(sim: &mut Sim<LeaseNode>, ms: u64) {
    sim.run_until(at(ms)).expect("no invariant is checked here");
}

/// Whether client `i` believes it leads, on its own clock.
fn believes_it_leads(sim: &Sim<LeaseNode>, i: usize) -> bool {
    client_state(sim, i).is_leader(sim.local_time(client(i)))
}

/// The tokens of the writes the storage has accepted, in order.
fn accepted_tokens(sim: &Sim<LeaseNode>) -> Vec<u64> {
    let log = &storage(sim).log;
    log.iter()
        .filter(|w| w.accepted)
        .map(|w| w.token.0)
        .collect()
}

/// The story up to A's resumption, identical with and without fencing.
/// Kleppmann 2016, "Protecting a resource with a lock", the GC-pause figure.
fn story_until_a_wakes_up(fencing: bool) -> Sim<LeaseNode> {
    let mut sim = paused_ex_leader(fencing);
    // tick 505 ms: A holds the lease with token 1, has written once, and has just decided
    // its next write (at 500 ms); it will send it at 520 ms.
    run_until(&mut sim, 505);
    assert!(believes_it_leads(&sim, A));
    assert_eq!(client_state(&sim, A).token, token(1));
    assert!(
        client_state(&sim, A).pending.is_some(),
        "a write is decided"
    );
    assert_eq!(accepted_tokens(&sim), [1]);
    // pause A at 510 ms (scheduled by the scenario): a stop-the-world GC, 2 s long.
    run_until(&mut sim, 1_400);
    // tick 1,400 ms: A's lease ran out at the service at 1,303 ms; A, frozen, does not know.
    assert_eq!(service(&sim).live_lease("leader", sim.now()), None);
    assert_eq!(client_state(&sim, A).token, token(1), "A's view is frozen");
    // tick 2,500 ms: B acquired the lease with token 2 and has written four times.
    run_until(&mut sim, 2_500);
    let lease = service(&sim)
        .live_lease("leader", sim.now())
        .expect("B holds it");
    assert_eq!((lease.holder, lease.token), (client(B), FencingToken(2)));
    assert!(believes_it_leads(&sim, B));
    assert_eq!(accepted_tokens(&sim), [1, 2, 2, 2, 2]);
    // resume A at 2,510 ms: its deferred timer fires and it sends the write it decided at
    // 500 ms, with token 1; the write reaches the storage at 2,511 ms.
    run_until(&mut sim, 2_511);
    let last = *storage(&sim).log.last().expect("writes arrived");
    assert_eq!((last.from, last.token), (client(A), FencingToken(1)));
    assert!(last.stale, "token 1 arrived after token 2");
    sim
}

/// Kleppmann 2016; Gray and Cheriton 1989 §2 assume no holder outlives its lease. A paused
/// holder does, and without fencing its stale write overwrites the new leader's: a lost update.
#[test]
fn lease_alone_is_unsafe_when_the_holder_pauses() {
    let sim = story_until_a_wakes_up(false);
    assert_eq!(
        accepted_tokens(&sim),
        [1, 2, 2, 2, 2, 1],
        "A's token-1 write accepted"
    );
    let s = storage(&sim);
    assert_eq!(s.stale_accepted, 1);
    let (writer, _, t) = s.value.expect("written");
    assert_eq!(
        (writer, t),
        (client(A), FencingToken(1)),
        "B's write is lost"
    );
}

/// Burrows 2006 §2.4 (sequencers); Kleppmann 2016 ("Making the lock safe with fencing"): the
/// storage has seen token 2, so it refuses the paused ex-leader's token 1.
#[test]
fn fencing_token_rejects_the_paused_ex_leaders_write() {
    let mut sim = story_until_a_wakes_up(true);
    let last = *storage(&sim).log.last().expect("A's write arrived");
    assert!(!last.accepted, "refused");
    assert_eq!(accepted_tokens(&sim), [1, 2, 2, 2, 2]);
    let (writer, _, t) = storage(&sim).value.expect("written");
    assert_eq!(
        (writer, t),
        (client(B), FencingToken(2)),
        "B's write survives"
    );
    // tick 3 s: A has noticed its lease is gone and stopped writing; B still leads.
    run_until(&mut sim, 3_000);
    assert!(!believes_it_leads(&sim, A) && believes_it_leads(&sim, B));
    assert_eq!(storage(&sim).stale_accepted, 0);
    assert_eq!(storage(&sim).log.iter().filter(|w| !w.accepted).count(), 1);
}

/// The lease is only unsafe when the pause outlasts what is left of the lease at the service:
/// the same story with a 300 ms pause ends with A's write accepted and nobody harmed.
#[test]
fn a_pause_shorter_than_the_remaining_lease_is_harmless() {
    let mut sim = Setup::book(false).build(1);
    sim.schedule_fault(at(510), Fault::Pause(client(A)));
    sim.schedule_fault(at(810), Fault::Resume(client(A)));
    run_until(&mut sim, 5_000);
    assert_eq!(service(&sim).grants.len(), 1, "B never got the lock");
    assert_eq!(storage(&sim).stale_accepted, 0);
    assert!(believes_it_leads(&sim, A));
}

/// Gray and Cheriton 1989 §2: leases need bounded drift. A holder whose clock runs at half
/// speed, cut off from the service, keeps writing with token 1 after B got token 2.
#[test]
fn lease_alone_is_unsafe_when_the_holders_clock_runs_slow() {
    let mut sim = slow_clock_ex_leader(false);
    // tick 1,500 ms: the service has given the lock to B (token 2) ...
    run_until(&mut sim, 1_500);
    let lease = service(&sim)
        .live_lease("leader", sim.now())
        .expect("B holds it");
    assert_eq!(lease.token, FencingToken(2));
    // ... but A's clock reads 750 ms, before its local expiry of 900 ms: both believe they lead.
    assert_eq!(sim.local_time(client(A)), at(750));
    assert!(believes_it_leads(&sim, A) && believes_it_leads(&sim, B));
    run_until(&mut sim, 2_500);
    assert!(
        !believes_it_leads(&sim, A),
        "A's clock finally reached its expiry"
    );
    let s = storage(&sim);
    assert!(
        s.stale_accepted >= 1,
        "A's token-1 writes after B's token 2"
    );
    let stale: Vec<_> = s.log.iter().filter(|w| w.stale).collect();
    assert!(stale.iter().all(|w| w.from == client(A) && w.accepted));
}

/// Fencing does not need the clocks: the slow-clocked ex-leader's writes are refused, and the
/// refusal tells A it has been deposed (Burrows 2006 §2.4).
#[test]
fn fencing_token_rejects_the_slow_clocked_ex_leaders_writes() {
    let mut sim = slow_clock_ex_leader(true);
    run_until(&mut sim, 2_500);
    let s = storage(&sim);
    assert_eq!(s.stale_accepted, 0);
    let refused: Vec<_> = s.log.iter().filter(|w| !w.accepted).collect();
    assert!(!refused.is_empty());
    assert!(
        refused
            .iter()
            .all(|w| w.from == client(A) && w.token == FencingToken(1))
    );
    let fenced = client_state(&sim, A).notes.iter().any(|(_, n)| {
        *n == Note::Fenced {
            token: FencingToken(1),
        }
    });
    assert!(fenced, "A learned from the storage that it no longer leads");
}

/// Gray and Cheriton 1989 §2: with drift bounded and a margin that covers it, a lease alone
/// is safe. A's clock runs 5% slow, and the 100 ms margin on a 1 s TTL absorbs it.
#[test]
fn a_safety_margin_covers_drift_within_its_bound() {
    let mut sim = Setup::book(false).build(1);
    let slow = Clock {
        offset_ns: 0,
        drift_ppm: -50_000,
    };
    sim.set_clock(client(A), slow);
    sim.schedule_fault(at(250), Fault::Partition(vec![client(A)], vec![SERVICE]));
    run_until(&mut sim, 5_000);
    assert_eq!(service(&sim).grants.len(), 2, "B took over");
    assert_eq!(storage(&sim).stale_accepted, 0);
    let a_writes = storage(&sim).log.iter().filter(|w| w.from == client(A));
    assert!(
        a_writes.clone().all(|w| w.at < at(1_001)),
        "A stopped in time"
    );
}

/// The same seed gives the same run, byte for byte, so any failure here can be replayed.
#[test]
fn same_seed_same_trace() {
    let setup = Setup::book(true);
    let run = |seed| run_with_pauses(&setup, seed, ms(1_500), ms(2_000), ms(20_000));
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).trace_hash, run(8).trace_hash);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The campaign's cluster: three clients on lossy, jittery links.
fn campaign_setup(fencing: bool) -> Setup {
    let link = LinkConfig::constant(ms(1))
        .with_latency(Latency::Uniform {
            min: ms(1),
            max: ms(5),
        })
        .with_loss(0.05);
    Setup {
        clients: 3,
        link,
        ..Setup::book(fencing)
    }
}

const CAMPAIGN_RUN: Duration = Duration::from_secs(20);

/// One campaign run: random pauses of the clients (the nemesis draws them for nodes 0..3, which
/// we map to the clients), 5% loss, and an invariant on the storage checked after every event.
fn campaign_run(seed: u64, fencing: bool) -> Result<Outcome, String> {
    let setup = campaign_setup(fencing);
    let mut sim = setup.build(seed);
    let nemesis = Nemesis {
        mean_interval: ms(1_000),
        mean_duration: ms(1_000),
        crash: false,
        pause: true,
        partition: false,
        max_down: 2,
    };
    let mut rng = rng_stream(seed, u64::MAX);
    let end = Time::ZERO + CAMPAIGN_RUN;
    let schedule = nemesis.schedule(&mut rng, setup.clients, at(500), end);
    for (t, fault) in schedule.faults {
        let fault = match fault {
            Fault::Pause(NodeId(i)) => Fault::Pause(client(i)),
            Fault::Resume(NodeId(i)) => Fault::Resume(client(i)),
            other => unreachable!("the nemesis only pauses: {other}"),
        };
        sim.schedule_fault(t, fault);
    }
    if fencing {
        sim.add_invariant("fenced storage accepts no token below one it accepted", {
            // An observer separate from the storage's own check: it reads the log.
            let checked = Cell::new(0usize);
            let highest = Cell::new(0u64);
            move |sim: &Sim<LeaseNode>| {
                let log = &storage(sim).log;
                for w in &log[checked.get()..] {
                    if w.accepted && w.token.0 < highest.get() {
                        return Err(format!(
                            "accepted {} from {} after token {}",
                            w.token,
                            w.from,
                            highest.get()
                        ));
                    }
                    if w.accepted {
                        highest.set(highest.get().max(w.token.0));
                    }
                }
                checked.set(log.len());
                Ok(())
            }
        });
    }
    sim.run_until(end).map_err(|v| v.to_string())?;
    let grants = &service(&sim).grants;
    if !grants.windows(2).all(|g| g[0].token < g[1].token) {
        return Err(format!("tokens not increasing: {grants:?}"));
    }
    Ok(Outcome::of(&sim))
}

/// A campaign of `UDS_SEEDS` seeds (default 2,000) from `UDS_FIRST_SEED` (default 0), whose
/// failures name the command that replays that one seed, fenced and unfenced.
fn campaign(name: &str) -> Campaign {
    Campaign {
        name: name.into(),
        first_seed: env("UDS_FIRST_SEED", 0),
        seeds: env("UDS_SEEDS", 2_000),
        threads: 0,
        replay: "UDS_SEED={seed} cargo test --release -p uds --test part2 \
                 ch09_leader_election::replay_one_lease_seed -- --nocapture"
            .into(),
    }
}

/// Replays the seed in `UDS_SEED` (default 0) of both lease campaigns: the same pauses and
/// losses against the storage with fencing and against the one without.
#[test]
fn replay_one_lease_seed() {
    let seed = env("UDS_SEED", 0);
    for fencing in [true, false] {
        match campaign_run(seed, fencing) {
            Ok(o) => println!(
                "seed {seed}, fencing {fencing}: {} leadership changes, {} stale writes \
                 accepted, {} refused",
                o.leadership_changes, o.stale_accepted, o.writes_refused
            ),
            Err(why) => panic!("seed {seed}, fencing {fencing}: {why}"),
        }
    }
}

/// Kleppmann 2016: with fencing, whatever the pauses and losses, the storage's accepted tokens
/// never go backwards. Checked after every event of every seed.
#[test]
fn with_fencing_the_storage_never_accepts_a_token_below_one_it_accepted() {
    let changes = AtomicU64::new(0);
    let refused = AtomicU64::new(0);
    let campaign = campaign("lease campaign, fenced");
    let report = campaign.run(|seed| {
        let outcome = campaign_run(seed, true)?;
        changes.fetch_add(outcome.leadership_changes, Ordering::Relaxed);
        refused.fetch_add(outcome.writes_refused, Ordering::Relaxed);
        Ok(())
    });
    report.assert_passed();
    eprintln!(
        "fenced campaign: {} seeds, {} leadership changes, {} stale writes refused, {:.0} seeds/s",
        campaign.seeds,
        changes.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        report.seeds_per_sec()
    );
    assert!(refused.load(Ordering::Relaxed) > 0, "the fence was tested");
}

/// The danger is real: without fencing, the same random pauses make the storage accept stale
/// writes (lost updates) on some seeds.
#[test]
fn without_fencing_random_pauses_cause_lost_updates() {
    let stale = AtomicU64::new(0);
    let seeds_with_stale = AtomicU64::new(0);
    let changes = AtomicU64::new(0);
    let campaign = campaign("lease campaign, unfenced");
    let report = campaign.run(|seed| {
        let outcome = campaign_run(seed, false)?;
        stale.fetch_add(outcome.stale_accepted, Ordering::Relaxed);
        changes.fetch_add(outcome.leadership_changes, Ordering::Relaxed);
        if outcome.stale_accepted > 0 {
            seeds_with_stale.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    report.assert_passed();
    let stale = stale.load(Ordering::Relaxed);
    eprintln!(
        "unfenced campaign: {} seeds, {} leadership changes, {stale} stale writes accepted on {} \
         seeds, {:.0} seeds/s",
        campaign.seeds,
        changes.load(Ordering::Relaxed),
        seeds_with_stale.load(Ordering::Relaxed),
        report.seeds_per_sec()
    );
    assert!(stale > 0, "no stale write in {} seeds", campaign.seeds);
}
