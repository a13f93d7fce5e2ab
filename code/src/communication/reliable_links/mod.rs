//! Chapter 2 (being written).
