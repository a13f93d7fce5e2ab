//! Chapter 10, Raft in practice: persistence as an effect, snapshots and compaction (issue 9).
