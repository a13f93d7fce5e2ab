//! The appendix's first simulation is deterministic: replaying a seed replays the run.

use std::time::Duration;

use uds::appendix::primary_backup::{acknowledged_writes_survive, nodes};
use uds::sim::{FaultSchedule, LinkConfig, Sim, Time, TraceLevel};

/// The scenario of `examples/appendix_first_sim.rs`: its trace hash and whether it failed.
fn run(seed: u64, ack_early: bool) -> (u64, String, bool) {
    let link = LinkConfig::constant(Duration::from_millis(2)).with_loss(0.1);
    let mut sim = Sim::new(seed, link, nodes(ack_early, 50));
    sim.set_trace(TraceLevel::Full);
    sim.add_invariant("acknowledged writes survive", acknowledged_writes_survive);
    sim.schedule(&FaultSchedule::parse("at 40ms crash 0", 3).unwrap());
    let failed = sim.run_until(Time::from_millis(1_000)).is_err();
    (
        sim.trace_hash(),
        serde_json::to_string(sim.trace()).unwrap(),
        failed,
    )
}

#[test]
fn replaying_a_seed_replays_the_run_event_for_event() {
    for seed in 0..20 {
        for ack_early in [false, true] {
            assert_eq!(run(seed, ack_early), run(seed, ack_early), "seed {seed}");
        }
    }
}

#[test]
fn the_invariant_flags_the_early_acknowledgement_and_never_the_correct_register() {
    assert!((0..100).any(|seed| run(seed, true).2));
    assert!((0..100).all(|seed| !run(seed, false).2));
}
