//! Chapter 9 listing: the paused ex-leader, without and then with fencing tokens.
//!
//! playground-bundle: sim coordination::leader_election
//!
//! Run: `cargo run -p uds --example ch09_fencing_demo`
use uds::coordination::leader_election::scenario::{
    Detail, name, paused_ex_leader, storage, transcript,
};
use uds::sim::Time;

// ANCHOR: main
fn main() {
    for fencing in [false, true] {
        let check = if fencing { "checks" } else { "ignores" };
        println!("== the storage {check} fencing tokens ==");
        // A holds the lease (token 1); paused from 510 ms to 2,510 ms, between deciding a
        // write and sending it. B takes the lease over (token 2) at 1,401 ms and writes.
        let mut sim = paused_ex_leader(fencing);
        sim.run_until(Time::from_millis(2_515))
            .expect("no invariants");
        for line in transcript(&sim, Detail::Story) {
            println!("{line}");
        }
        let s = storage(&sim);
        let (writer, seq, token) = s.value.expect("someone wrote");
        let writer = name(writer);
        println!("the register holds {writer}'s write seq {seq} ({token})");
        println!("stale writes accepted: {}\n", s.stale_accepted);
    }
}
// ANCHOR_END: main
