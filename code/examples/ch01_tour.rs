//! Chapter 1's tour: one server, four clients, and the fallacies of distributed computing as
//! knobs. Change a knob in `main`, run, and compare the report with the well-behaved network.
//!
//! Run: `cargo run --release -p uds --example ch01_tour`
//!
//! playground-bundle: sim intro::tour

use std::time::Duration;

use uds::intro::tour::{self, TourConfig};

// ANCHOR: main
fn main() {
    let seed = 1;
    let calm = TourConfig::default();
    // Turn some knobs: each one undoes a fallacy.
    let stormy = TourConfig {
        latency: Duration::from_millis(20), // latency is not zero
        loss: 0.02,                         // the network is not reliable
        tapped: 0.05,                       // the network is not secure
        authenticate: false,                // ...and the clients do not check
        ..TourConfig::default()
    };
    for (name, config) in [("calm", calm), ("stormy", stormy)] {
        match tour::run(&config, seed) {
            Ok((report, _)) => println!("== {name} network, seed {seed}\n{report}\n"),
            Err(e) => eprintln!("{name}: {e}"),
        }
    }
}
// ANCHOR_END: main
