//! Chapter 4 (being written).
