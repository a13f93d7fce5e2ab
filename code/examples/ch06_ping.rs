//! Chapter 6 listing: the ping/timeout monitor under partial synchrony, with a crash.
//!
//! playground-bundle: sim coordination::system_models
//!
//! Run: `cargo run -p uds --example ch06_ping`
use std::time::Duration;

use uds::coordination::system_models::ping::{MONITOR, Monitor, PingNode, TARGET, Target};
use uds::coordination::system_models::process_models::Conduct;
use uds::coordination::system_models::timing::{TimingModel, run_until};
use uds::sim::{Fault, Sim, Time};

// ANCHOR: main
fn main() {
    // Long-tailed delays for the first 2 s (GST), then 1 to 10 ms one way.
    let [_, _, timing] = TimingModel::book_models(Duration::from_secs(2));
    let period = Duration::from_millis(50);
    let timeout = Duration::from_millis(20); // the round-trip bound after GST
    let nodes = vec![
        PingNode::Monitor(Monitor::new(TARGET, period, timeout)),
        PingNode::Target(Target::new(Conduct::Honest)),
    ];
    let mut sim = Sim::new(7, timing.initial_link(), nodes);
    sim.schedule_fault(Time::from_millis(4_000), Fault::Crash(TARGET));
    run_until(&timing, &mut sim, Time::from_millis(5_000)).expect("no invariants");

    let Some(PingNode::Monitor(m)) = sim.process(MONITOR) else {
        unreachable!("the monitor never crashes")
    };
    println!(
        "{}: {} pings, {} late pongs",
        timing.name(),
        m.next_seq,
        m.late_pongs
    );
    for s in &m.suspicions {
        let verdict = if s.ping_sent_at < Time::from_millis(4_000) {
            "false: the target was up"
        } else {
            "true: the target had crashed"
        };
        println!("suspected at {} (ping {}): {verdict}", s.at, s.ping);
    }
    println!("suspected at the end: {}", m.suspected);
    println!("trace hash: {:016x}", sim.trace_hash());
}
// ANCHOR_END: main
