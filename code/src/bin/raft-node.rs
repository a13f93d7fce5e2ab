//! `raft-node`: one Raft server of chapter 10 as an operating-system process, persisting to a
//! write-ahead file in its data directory. Everything is in `uds::driver::process`; the
//! real-fault test (`code/tests/part2/ch10_jepsen.rs`) starts five of these.
//!
//! Run: `cargo run --release -p uds --bin raft-node -- --help`

use clap::Parser;
use uds::driver::process::{NodeArgs, main_with};

fn main() -> std::process::ExitCode {
    main_with(NodeArgs::parse())
}
