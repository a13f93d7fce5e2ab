//! Chapter 11: a Dynamo-style leaderless store (ring, quorums, sloppy quorums, hinted handoff, read repair, Merkle anti-entropy) and probabilistically bounded staleness.
//!
//! Work in progress (issue 8).
