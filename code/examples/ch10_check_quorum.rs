//! Raft in practice, runnable listing: a one-way cut (every follower's messages to the leader
//! are lost, the leader's still arrive) with neither, either or both of CheckQuorum and
//! PreVote.
//!
//! playground-bundle: sim coordination::linearizability coordination::raft
//!
//! Run: `cargo run -p uds --example ch10_check_quorum`
use uds::coordination::raft::leadership::scenarios::{Mechanisms, Scenario, run};

// ANCHOR: main
fn main() {
    println!("one-way cut after 1 s; five servers, one client; 3 s more of simulated time");
    for mechanisms in Mechanisms::ALL {
        let o = run(Scenario::OneWay, mechanisms, 7).expect("Raft's invariants hold");
        let reign = o.old_leader_reign.as_millis();
        let fate = if o.served_at_end {
            "serving"
        } else {
            "STALLED"
        };
        println!(
            "{:<12} old leader: {reign:>4} ms more, {:>2} appends; elections: {:>2}; \
             max wait {:>4} ms; {fate}",
            mechanisms.label(),
            o.old_leader_appends,
            o.elections,
            o.longest_outage.as_millis(),
        );
    }
}
// ANCHOR_END: main
