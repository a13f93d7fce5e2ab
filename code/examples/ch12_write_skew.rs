//! Chapter 12 listing: write skew under snapshot isolation, prevented by two-phase locking.
//!
//! playground-bundle: coordination::transactions::deadlock coordination::transactions::engine coordination::transactions::locks
//!
//! Run: `cargo run -p uds --example ch12_write_skew`
use uds::coordination::transactions::engine::{Engine, Isolation, Outcome, Pred};

// ANCHOR: main
/// How many doctors transaction `tx` sees on call (rows `doctor -> 1 if on call`).
fn on_call(db: &mut Engine, tx: usize) -> i64 {
    match db.scan(tx, &Pred::All) {
        Outcome::Done(rows) => rows.iter().map(|(_, on)| on).sum(),
        other => panic!("the scans of this script never wait: {other:?}"),
    }
}

fn main() {
    for isolation in [Isolation::Snapshot, Isolation::Serializable] {
        println!("--- {isolation:?} ---");
        // Alice (row 1) and Bob (row 2) are on call; the rule: at least one must stay.
        let mut db = Engine::with_rows(&[(1, 1), (2, 1)]);
        let alice = db.begin(isolation);
        let bob = db.begin(isolation);
        let seen_by_alice = on_call(&mut db, alice);
        let seen_by_bob = on_call(&mut db, bob);
        println!("Alice sees {seen_by_alice} on call, Bob sees {seen_by_bob}: both may leave");
        let alice_leaves = db.write(alice, 1, Some(0));
        println!("Alice goes off call:  {alice_leaves:?}");
        println!("Bob goes off call:    {:?}", db.write(bob, 2, Some(0)));
        if matches!(alice_leaves, Outcome::Blocked(_)) {
            println!("Alice tries again:    {:?}", db.write(alice, 1, Some(0)));
        }
        println!("Alice commits:        {:?}", db.commit(alice));
        println!("Bob commits:          {:?}", db.commit(bob));
        let left = db
            .committed_rows()
            .iter()
            .filter(|(_, on)| *on == 1)
            .count();
        println!("doctors on call now: {left}\n");
    }
}
// ANCHOR_END: main
