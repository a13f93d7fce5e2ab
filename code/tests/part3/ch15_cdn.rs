//! Tests of ch15: being written (issue 10).
