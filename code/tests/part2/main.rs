//! Integration tests of part II (chapters 6-13), one module per test file, in one test binary so
//! that the crate is linked once for the whole part (see DESIGN.md, build-time budget). Run one
//! file's tests with a filter: `cargo test -p uds --release --test part2 ch10_raft_campaign`.

mod support;

mod ch06_system_models;
mod ch07_failure_detection;
mod ch08_time;
mod ch09_leader_election;
mod ch09_raft_election;
mod ch10_chain;
mod ch10_compare;
mod ch10_driver_hardening;
mod ch10_figure8_campaign;
mod ch10_jepsen;
mod ch10_linearizability;
mod ch10_raft_campaign;
mod ch10_raft_cluster;
mod ch10_raft_leadership;
mod ch10_raft_reads;
mod ch10_raft_scenarios;
mod ch10_raft_storage;
mod ch11_crdt;
mod ch11_leaderless;
mod ch12_atomic_commit;
mod ch12_isolation;
mod ch13_async_transactions;
