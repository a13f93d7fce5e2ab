//! Integration tests of chapter 1 and of the simulator (the appendix), in one test binary so that
//! the crate is linked once for them (see DESIGN.md, build-time budget). Run one file's tests with
//! a filter: `cargo test -p uds --release --test platform appendix_first_sim`.

mod appendix_first_sim;
mod appendix_mm1;
mod ch01_tcp;
mod sim_faults;
