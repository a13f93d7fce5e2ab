//! Integration tests of part III (chapters 14-23), one module per test file, in one test binary
//! so that the crate is linked once for the whole part (see DESIGN.md, build-time budget). Run
//! one file's tests with a filter: `cargo test -p uds --release --test part3 ch16_partitioning`.

mod ch14_http_caching;
mod ch15_cdn;
mod ch16_partitioning;
mod ch17_file_storage;
mod ch18_load_balancing;
