//! The linearizability checker on generated histories of 100 to 2,000 operations (issue 9, work in progress).

fn main() {}
