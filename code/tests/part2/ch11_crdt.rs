//! Integration tests of chapter 11 (work in progress, issue 8).
