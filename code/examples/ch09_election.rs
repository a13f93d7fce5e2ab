//! Chapter 9 listing: five Raft servers elect a leader, lose it, and elect another; then a
//! partition shows that only a majority can elect.
//!
//! playground-bundle: sim coordination::linearizability coordination::raft
//!
//! Run: `cargo run -p uds --example ch09_election`
use std::time::Duration;

use uds::coordination::raft::Role;
use uds::coordination::raft::cluster::{self, Cluster, KvNode};
use uds::sim::{Fault, LinkConfig, NodeId, Sim, Time};

// ANCHOR: main
fn main() {
    let shape = Cluster {
        servers: 5,
        clients: 0,
        ..Cluster::default() // election timeouts 150-300 ms, heartbeats every 50 ms
    };
    let link = LinkConfig::constant(Duration::from_millis(5));
    let mut sim = shape.build(3, link).expect("a valid configuration");

    watch(&mut sim, Time::from_millis(1_000));
    let (leader, _) = cluster::leaders(&sim)[0];
    println!("{}: crash {leader}", at(&sim));
    sim.apply(Fault::Crash(leader));
    watch(&mut sim, Time::from_millis(2_000));

    // Cut the four survivors two against two: neither side has three of five votes.
    let up: Vec<NodeId> = (0..5).map(NodeId).filter(|&n| n != leader).collect();
    let (a, b) = (up[..2].to_vec(), up[2..].to_vec());
    println!("{}: partition {} | {}", at(&sim), names(&a), names(&b));
    sim.apply(Fault::Partition(a, b));
    watch(&mut sim, Time::from_millis(4_000));
    println!("{}: heal", at(&sim));
    sim.apply(Fault::Heal);
    watch(&mut sim, Time::from_millis(5_000));
}

/// Runs until `until`, printing every server whose role changes (followers' terms are left
/// out: they follow whoever leads).
fn watch(sim: &mut Sim<KvNode>, until: Time) {
    let mut last: Vec<String> = (0..5).map(|i| describe(sim, NodeId(i))).collect();
    while sim.now() < until {
        if let Err(violation) = sim.step() {
            panic!("Raft's invariants: {violation}");
        }
        for (i, seen) in last.iter_mut().enumerate() {
            let now = describe(sim, NodeId(i));
            if now != *seen {
                println!("{}: n{i} {now}", at(sim));
                *seen = now;
            }
        }
    }
}

/// The simulated time, in milliseconds.
fn at(sim: &Sim<KvNode>) -> String {
    format!("{:5.0} ms", sim.now().as_millis_f64())
}

/// "n0,n1".
fn names(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(NodeId::to_string).collect();
    names.join(",")
}

/// "leads term 3", "stands for election in term 4", "follows" or "is down".
fn describe(sim: &Sim<KvNode>, id: NodeId) -> String {
    let Some(s) = cluster::server(sim, id) else {
        return "is down".into();
    };
    match s.role() {
        Role::Leader => format!("leads term {}", s.current_term()),
        Role::Candidate => format!("stands for election in term {}", s.current_term()),
        Role::Follower => "follows".into(),
    }
}
// ANCHOR_END: main
