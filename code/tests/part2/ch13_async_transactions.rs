//! Chapter 13's claims: the outbox never loses an event and the idempotent consumer never
//! applies one twice; every saga, orchestrated or choreographed, ends all committed or all
//! compensated; all of it with a crash injected at every crash point and under random crash
//! schedules. And the two broken baselines and the missing semantic lock really do fail.

use uds::coordination::async_transactions::crash::Schedule;
use uds::coordination::async_transactions::exercise::{check_apply_once, solution, starter};
use uds::coordination::async_transactions::isolation::interleavings;
use uds::coordination::async_transactions::scenarios::{Kind, SAGAS, every_step, run_once};
use uds::sim::Campaign;

fn campaign(name: &str, seeds: u64) -> Campaign {
    Campaign::for_test(module_path!(), name, seeds)
}

/// Random crash schedules to run, each on all three systems: `UDS_SEEDS`, or 150.
fn seeds() -> u64 {
    std::env::var("UDS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150)
}

#[test]
fn the_outbox_loses_nothing_and_ships_nothing_twice_with_a_crash_at_every_point() {
    let t = every_step(Kind::Outbox, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((t.runs, t.crashes), (t.points, t.points));
    assert_eq!((t.lost, t.twice), (0, 0));
    assert_eq!(
        t.effects,
        t.runs * SAGAS,
        "every order shipped once in every run"
    );
    assert!(
        t.published > t.unique,
        "some crash made the relay publish again"
    );
    assert!(t.duplicates > 0, "some redelivery reached the dedup table");
}

#[test]
fn orchestrated_sagas_end_all_committed_or_all_compensated_with_a_crash_at_every_point() {
    let t = every_step(Kind::Orchestrated, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((t.lost, t.twice), (0, 0));
    assert_eq!(
        t.committed, t.runs,
        "the saga no one refuses commits in every run"
    );
    assert_eq!(
        t.compensated,
        4 * t.runs,
        "the four refused sagas are compensated"
    );
    assert!(
        t.duplicates > 0,
        "some command was sent again after a crash"
    );
    assert_eq!(
        t.effects, t.unique,
        "one effect per distinct command, however often it was sent"
    );
    assert_eq!(
        t.published - t.unique,
        t.crashes,
        "every crash resends one command"
    );
}

#[test]
fn choreographed_sagas_end_all_committed_or_all_compensated_with_a_crash_at_every_point() {
    let t = every_step(Kind::Choreographed, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((t.lost, t.twice), (0, 0));
    assert_eq!((t.committed, t.compensated), (t.runs, 4 * t.runs));
}

#[test]
fn without_an_outbox_a_crash_loses_events_and_without_dedup_a_redelivery_applies_twice() {
    let dual = every_step(Kind::DualWrite, true).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        dual.lost > 0,
        "the dual write should lose an event: {dual:?}"
    );
    let no_dedup = every_step(Kind::NoDedup, true).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        no_dedup.twice > 0,
        "a redelivery should ship twice: {no_dedup:?}"
    );
    assert_eq!(no_dedup.lost, 0);
}

#[test]
fn random_crash_schedules_never_lose_or_double_an_event() {
    campaign(
        "random_crash_schedules_never_lose_or_double_an_event",
        seeds(),
    )
    .run(|seed| {
        for kind in Kind::SAFE {
            let schedule = Schedule::Random {
                probability: 0.05,
                seed,
            };
            run_once(kind, schedule, true)?;
        }
        Ok(())
    })
    .assert_passed();
}

#[test]
fn without_a_semantic_lock_miles_are_awarded_for_cancelled_flights() {
    let refused_at_payment = 3;
    let commits = 4;
    let off = interleavings(refused_at_payment, false).unwrap_or_else(|e| panic!("{e}"));
    assert!(off.awarded_for_cancelled > 0, "{off:?}");
    let on = interleavings(refused_at_payment, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on.awarded_for_cancelled, 0, "{on:?}");
    let on = interleavings(commits, true).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        on.awarded, on.runs,
        "a committed trip earns its miles: {on:?}"
    );
}

#[test]
fn the_idempotent_consumer_solution_applies_every_message_once() {
    check_apply_once(solution::apply_once).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
#[ignore = "exercise: implement starter::apply_once, then run \
            `cargo test -p uds --release --test part2 ch13_async_transactions::exercise -- --ignored`"]
fn exercise_idempotent_consumer() {
    let result = uds::exercise::starter_or_solution(
        || check_apply_once(starter::apply_once),
        || check_apply_once(solution::apply_once),
    );
    result.unwrap_or_else(|e| panic!("{e}"));
}
