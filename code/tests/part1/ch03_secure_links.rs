//! Tests of secure_links (being written).
