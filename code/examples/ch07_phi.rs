//! Chapter 7 listing: φ rising after a crash.
//!
//! playground-bundle: sim coordination::failure_detection
//!
//! Run: `cargo run -p uds --example ch07_phi`
use std::time::Duration;

use uds::coordination::failure_detection::detector::{AnyDetector, PhiAccrual, PhiConfig};
use uds::coordination::failure_detection::heartbeat::{HeartbeatNode, HeartbeatSender, Monitor};
use uds::sim::{Fault, Latency, LinkConfig, NodeId, Sim, Time};

// ANCHOR: main
fn main() {
    let interval = Duration::from_millis(100);
    let config = PhiConfig::new(8.0, interval); // suspect when phi > 8
    let phi = PhiAccrual::new(&config).expect("valid settings");
    let sender = HeartbeatSender {
        monitors: vec![NodeId(1)],
        interval,
        next_seq: 0,
    };
    let monitor = Monitor::new(AnyDetector::Phi(phi), false);
    let nodes = vec![
        HeartbeatNode::Sender(sender),
        HeartbeatNode::Monitor(monitor),
    ];
    // One-way delay: log-normal, median 10 ms, with a long tail; 1% of heartbeats lost.
    let link = LinkConfig::constant(Duration::ZERO)
        .with_latency(Latency::LogNormal {
            median: Duration::from_millis(10),
            sigma: 0.5,
        })
        .with_loss(0.01);
    let mut sim = Sim::new(7, link, nodes);
    let crash = Time::from_millis(30_000);
    sim.schedule_fault(crash, Fault::Crash(NodeId(0)));

    println!("the sender crashes at {crash}");
    println!("    time   silent for      phi  suspected");
    for step in 0..16 {
        let t = Time::from_millis(29_800 + 40 * step);
        sim.run_until(t).expect("no invariants");
        let Some(HeartbeatNode::Monitor(m)) = sim.process(NodeId(1)) else {
            unreachable!("node 1 is the monitor")
        };
        let AnyDetector::Phi(d) = &m.watch.detector else {
            unreachable!("a phi detector")
        };
        let silent = t.since(m.watch.last_arrival);
        println!(
            "{:>8.2}s {:>9.0} ms {:>8.2}  {}",
            t.as_secs_f64(),
            silent.as_secs_f64() * 1e3,
            d.phi(silent),
            m.watch.suspected
        );
    }
    let Some(HeartbeatNode::Monitor(m)) = sim.process(NodeId(1)) else {
        unreachable!("node 1 is the monitor")
    };
    let AnyDetector::Phi(d) = &m.watch.detector else {
        unreachable!("a phi detector")
    };
    let (mean, stddev) = d.estimate_ms();
    println!("learned: mean {mean:.1} ms, stddev {stddev:.1} ms between heartbeats");
    println!(
        "suspicions while the sender was up: {}",
        m.watch.suspicions.iter().filter(|&&s| s < crash).count()
    );
    println!("trace hash: {:016x}", sim.trace_hash());
}
// ANCHOR_END: main
