//! What several campaign files of this test binary share.

/// The number in environment variable `name` (a campaign's size or first seed, e.g.
/// `UDS_SEEDS`), or `default` when it is unset. A value that is not a number panics with its
/// name, so a mistyped replay command fails loudly instead of running the default campaign.
pub fn env(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}
