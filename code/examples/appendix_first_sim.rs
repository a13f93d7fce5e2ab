//! The appendix's first simulation: a replicated register with a planted bug, an invariant
//! checked after every event, a scripted crash, a search over seeds, and the replay of the seed
//! that failed.
//!
//! Run: `cargo run --release -p uds --example appendix_first_sim`
//!
//! playground-bundle: sim appendix::primary_backup appendix::exercise

use std::time::Duration;

use uds::appendix::exercise::solution::acknowledged_writes_survive;
use uds::appendix::primary_backup::nodes;
use uds::sim::{FaultSchedule, LinkConfig, Sim, Time, TraceLevel};

// ANCHOR: main
fn main() {
    // Every link: 2 ms, and one message in ten lost.
    let link = LinkConfig::constant(Duration::from_millis(2)).with_loss(0.1);
    // The fault script: the primary (node 0) crashes 40 ms into the run.
    let script = FaultSchedule::parse("at 40ms crash 0", 3).expect("a valid script");
    // One run: the invariant is checked after every event; a violation stops the run.
    let run = |seed: u64, ack_early: bool, trace: TraceLevel| {
        let mut sim = Sim::new(seed, link.clone(), nodes(ack_early, 50));
        sim.set_trace(trace);
        sim.add_invariant("acknowledged writes survive", acknowledged_writes_survive);
        sim.schedule(&script);
        let outcome = sim.run_until(Time::from_millis(1_000));
        (sim, outcome)
    };
    for ack_early in [false, true] {
        println!("ack_early = {ack_early}: trying seeds 0..100");
        let failing = (0..100).find(|&seed| run(seed, ack_early, TraceLevel::Off).1.is_err());
        match failing {
            None => println!("  no seed broke the invariant"),
            Some(seed) => {
                // Replaying the seed gives the same run, now with every event recorded.
                let (sim, outcome) = run(seed, ack_early, TraceLevel::Full);
                if let Err(violation) = outcome {
                    println!("  {violation}");
                }
                println!("  the last events of seed {seed}:");
                for event in sim.trace().iter().rev().take(6).rev() {
                    println!("    {:>9.3} ms  {:?}", event.at_ns as f64 / 1e6, event.kind);
                }
            }
        }
    }
}
// ANCHOR_END: main
