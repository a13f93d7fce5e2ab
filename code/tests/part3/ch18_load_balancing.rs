//! Tests of ch18: being written (issue 10).
