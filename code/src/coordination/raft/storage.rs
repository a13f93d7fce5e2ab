//! Persistence as an effect (work in progress, issue 9).
