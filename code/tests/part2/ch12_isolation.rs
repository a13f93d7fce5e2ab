//! Integration tests of chapter 12 (work in progress, issue 8).
