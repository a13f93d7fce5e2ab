//! Tests of ch14: being written (issue 10).
