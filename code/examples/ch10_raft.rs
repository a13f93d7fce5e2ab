//! Chapter 10 listing: a three-server Raft cluster elects a leader, replicates a client's
//! commands, loses its leader, and carries on.
//!
//! playground-bundle: sim coordination::linearizability coordination::raft
//!
//! Run: `cargo run -p uds --example ch10_raft`
use std::time::Duration;

use uds::coordination::linearizability::{CheckResult, KvModel, check};
use uds::coordination::raft::cluster::{self, Cluster, KvNode};
use uds::sim::{Fault, LinkConfig, NodeId, Sim, Time};

// ANCHOR: main
fn main() {
    let cluster = Cluster {
        servers: 3,
        clients: 1, // node 3
        ops_per_client: 8,
        ..Cluster::default()
    };
    let link = LinkConfig::constant(Duration::from_millis(5));
    let mut sim = cluster.build(7, link).expect("a valid configuration");

    // Run until the client has four answers, then crash whoever leads.
    while answered(&sim) < 4 {
        sim.step().expect("Raft's invariants hold");
    }
    let (old, term) = cluster::leaders(&sim)[0];
    println!(
        "{}: {old} leads term {term}; the client has 4 answers",
        sim.now()
    );
    sim.apply(Fault::Crash(old));
    println!("{}: crash {old}", sim.now());

    // Step until a server leads a later term, and print the instant it was elected.
    while !cluster::leaders(&sim).iter().any(|&(_, t)| t > term) {
        sim.step().expect("Raft's invariants hold");
    }
    for (leader, t) in cluster::leaders(&sim)
        .into_iter()
        .filter(|&(_, t)| t > term)
    {
        println!("{}: {leader} elected, term {t}", sim.now());
    }

    sim.run_until(Time::from_millis(3_000))
        .expect("Raft's invariants hold");
    for (leader, term) in cluster::leaders(&sim) {
        println!("end of the run, {}: {leader} leads term {term}", sim.now());
    }

    let history = cluster::histories(&sim);
    println!("\nthe client's operations (call and return in ms):");
    for op in &history {
        let returned = match op.output {
            Some(_) => format!("{:7.1}", op.return_ns as f64 / 1e6),
            None => "   gave up".to_string(),
        };
        let (call, input) = (op.call_ns as f64 / 1e6, &op.input);
        println!("  {call:7.1} {returned}  {input:?} -> {:?}", op.output);
    }
    for id in (0..3).map(NodeId) {
        match cluster::server(&sim, id) {
            Some(s) => println!(
                "{id}: term {}, log {} entries, committed {}, x = {:?}",
                s.current_term(),
                s.log().last_index(),
                s.commit_index(),
                s.kv().get("x")
            ),
            None => println!("{id}: crashed"),
        }
    }
    let verdict = match check(&KvModel, &history) {
        CheckResult::Ok => "linearizable".to_string(),
        other => other.to_string(),
    };
    println!("history: {verdict}; {}", sim.summary());
}

/// How many operations the client (node 3) has finished.
fn answered(sim: &Sim<KvNode>) -> usize {
    sim.process(NodeId(3))
        .and_then(KvNode::client)
        .map_or(0, |c| c.completed())
}
// ANCHOR_END: main
