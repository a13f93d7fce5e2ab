//! Integration tests of part I (chapters 2-5), one module per chapter, in one test binary so
//! that the crate is linked once for the whole part (see DESIGN.md, build-time budget).

mod ch02_reliable_links;
mod ch03_secure_links;
mod ch04_discovery;
mod ch05_apis;
