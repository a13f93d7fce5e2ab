//! Placeholder while the crate is assembled.
