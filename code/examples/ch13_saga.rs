//! Chapter 13 listing: the trip saga's state machine, with one step refusing.
//!
//! playground-bundle: coordination::async_transactions::saga
//!
//! Run: `cargo run -p uds --example ch13_saga`
use uds::coordination::async_transactions::saga::{Action, Reply, Saga, Step};

// ANCHOR: main
fn main() {
    // Which service refuses: try Some(Step::Hotel), or None for a saga that commits.
    let refusing = Some(Step::Payment);
    let semantic_lock = true;

    let mut saga = Saga::new(&Step::TRIP, semantic_lock);
    let mut action = saga.next_action();
    loop {
        // The participants, reduced to their answers; a real one runs a local transaction.
        let reply = match action {
            Action::Execute(step) if Some(step) == refusing => Reply::Failed,
            Action::Finish(outcome) => {
                println!("saga ended: {outcome:?}");
                break;
            }
            _ => Reply::Done,
        };
        println!("{:<22} -> {reply:?}", format!("{action:?}"));
        action = saga.on_reply(reply);
        println!(
            "    log: phase {:<12} index {}",
            saga.phase.name(),
            saga.index
        );
    }
}
// ANCHOR_END: main
