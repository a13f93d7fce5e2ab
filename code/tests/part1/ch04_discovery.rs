//! Tests of discovery (being written).
