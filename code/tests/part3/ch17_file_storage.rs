//! Tests of ch17: being written (issue 10).
