//! CheckQuorum and PreVote (work in progress, issue 9).
