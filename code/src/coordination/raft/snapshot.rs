//! Snapshots and log compaction (work in progress, issue 9).
