//! Chapter 10, Raft in practice: ReadIndex, lease reads and batching (issue 9).
