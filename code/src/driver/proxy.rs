//! A fault-injecting TCP proxy in front of each node (work in progress, issue 9).
