//! Tests of reliable_links (being written).
