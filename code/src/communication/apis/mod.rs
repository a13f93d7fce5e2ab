//! Chapter 5 (being written).
