//! The appendix: small programs that show how to use the simulator.
//!
//! [`primary_backup`] is a deliberately tiny replicated register with an optional planted bug,
//! used to show invariants, fault schedules, campaigns and seed replay; [`exercise`] asks the
//! reader to write the invariant that catches the bug.

pub mod exercise;
pub mod primary_backup;
