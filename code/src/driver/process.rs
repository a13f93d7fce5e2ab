//! One Raft server per OS process (work in progress, issue 9).
