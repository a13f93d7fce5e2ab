//! Integration tests of chapter 13 (work in progress, issue 8).
