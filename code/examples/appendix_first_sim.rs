//! The appendix's first simulation: a replicated register with a planted bug, an invariant
//! checked after every event, a scripted crash, a search over seeds, and the replay of the seed
//! that failed.
//!
//! Run: `cargo run --release -p uds --example appendix_first_sim`
//!
//! playground-bundle: sim appendix::primary_backup

use std::time::Duration;

use uds::appendix::primary_backup::{BACKUP, CLIENT, acknowledged_writes_survive, nodes};
use uds::sim::{FaultSchedule, LinkConfig, Sim, Time, TraceKind, TraceLevel};

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
        let Some(seed) = failing else {
            println!("  no seed broke the invariant");
            continue;
        };
        // Replaying the seed gives the same run, now with every event recorded.
        let (sim, outcome) = run(seed, ack_early, TraceLevel::Full);
        if let Err(violation) = outcome {
            println!("  {violation}");
        }
        println!(
            "  replay of seed {seed}, trace hash {:016x}",
            sim.trace_hash()
        );
        // The history of the write that was lost: acknowledged to the client, absent from
        // the backup.
        let acked = &sim.process(CLIENT).expect("never crashed").values;
        let stored = &sim.process(BACKUP).expect("never crashed").values;
        let lost = acked
            .iter()
            .find(|v| !stored.contains(v))
            .expect("the violation");
        let tag = format!("value: {lost} }}");
        for event in sim.trace() {
            let about_lost = match &event.kind {
                TraceKind::Send { msg, .. }
                | TraceKind::Deliver { msg, .. }
                | TraceKind::Drop { msg, .. } => msg.ends_with(&tag),
                TraceKind::Fault { .. } => true,
                _ => false,
            };
            if about_lost {
                println!("    {:>7.3} ms  {:?}", event.at_ns as f64 / 1e6, event.kind);
            }
        }
    }
}
// ANCHOR_END: main
