//! Chapter 10, Raft in practice: five OS processes, SIGKILL and partitions, then a linearizability check (issue 9).
