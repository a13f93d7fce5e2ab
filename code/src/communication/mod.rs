//! Part I of the book, communication: reliable links (chapter 2), secure links (chapter 3),
//! discovery (chapter 4) and APIs (chapter 5). Each chapter pairs a sans-I/O model that the
//! simulator can break with the real component a reader meets at work, run on loopback.

// The HTTP service serialises JSON bodies with serde.
#[cfg(feature = "serde")]
pub mod apis;
pub mod discovery;
pub mod reliable_links;
pub mod secure_links;
