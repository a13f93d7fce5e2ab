//! Tests of apis (being written).
