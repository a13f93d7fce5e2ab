//! The appendix's first simulation: two nodes, one lossy link, one seed. Node 0 pings node 1
//! every 10 ms for a second of virtual time; node 1 answers each ping it receives. The program
//! runs seed 1 twice and seed 2 once, to show that a seed fixes the whole run.
//!
//! Run: `cargo run --release -p uds --example appendix_ping`
//!
//! playground-bundle: sim

use std::time::Duration;

use uds::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId};

// ANCHOR: main
struct Pinger;

impl Process for Pinger {
    type Msg = &'static str;
    type Durable = (); // nothing survives a crash: these nodes keep no state at all

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>) {
        if ctx.id() == NodeId(0) {
            ctx.set_timer(TimerId(0), Duration::ZERO);
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId) {
        ctx.send(NodeId(1), "ping");
        ctx.set_timer(timer, Duration::from_millis(10));
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg) {
        ctx.count(msg); // node 1 counts "ping"s received, node 0 counts "pong"s
        if msg == "ping" {
            ctx.send(from, "pong");
        }
    }
    fn durable(&self) {}
}

fn main() {
    // Every link takes 5 ms and loses one message in ten, at random.
    let link = LinkConfig::constant(Duration::from_millis(5)).with_loss(0.1);
    let one_second = Time::from_millis(1_000);
    for seed in [1, 1, 2] {
        let mut sim = Sim::new(seed, link.clone(), vec![Pinger, Pinger]);
        sim.run_until(one_second).expect("no invariants to break");
        let (net, pongs, hash) = (sim.stats(), sim.metrics().counter("pong"), sim.trace_hash());
        println!(
            "seed {seed}: {} sent, {} lost, {pongs} pongs, hash {hash:016x}",
            net.sent, net.lost
        );
    }
}
// ANCHOR_END: main
