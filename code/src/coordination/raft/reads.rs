//! ReadIndex and lease reads (work in progress, issue 9).
