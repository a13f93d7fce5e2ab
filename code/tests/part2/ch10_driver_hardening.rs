//! Chapter 10, Raft in practice: the TCP driver refuses bad frames and keeps serving (issue 9).
