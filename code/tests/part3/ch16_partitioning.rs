//! Tests of ch16: being written (issue 10).
