//! Chapter 10, Raft in practice: CheckQuorum and PreVote scenarios and campaigns (issue 9).
