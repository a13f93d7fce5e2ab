//! Coding exercises: one test that checks either the reader's code or the tested answer.
//!
//! A coding exercise is a module `exercise.rs` next to the code it extends, with
//! `pub mod starter` (the reader's version: the signatures, and `todo!()` where the work goes)
//! and `pub mod solution` (one answer). Its claims are written once, as a function or macro
//! over either version, and checked by two tests: one on `solution`, in the normal test suite,
//! and the exercise test, `#[ignore]`d and named `exercise_<what>`, that the chapter tells the
//! reader to run. The exercise test calls [`starter_or_solution`] with both versions:
//!
//! ```text
//! #[test]
//! #[ignore = "exercise: implement starter::X, then run \
//!             `cargo test -p uds --release --lib exercise_x -- --ignored`"]
//! fn exercise_x() {
//!     crate::exercise::starter_or_solution(
//!         || check_claims::<starter::X>(),
//!         || check_claims::<solution::X>(),
//!     );
//! }
//! ```
//!
//! Run as the chapter says, it checks the starter (and panics at its `todo!()` until the
//! reader has written the code). With `UDS_EXERCISE=solution` in the environment, the same
//! test binary checks the solution instead, with no rebuild: that is how
//! `cargo xtask check-exercises` runs every exercise command of the book against an answer
//! that is known to pass, so that a wrong command or a test that cannot pass fails CI.

/// The environment variable that selects the version an exercise test checks.
pub const ENV: &str = "UDS_EXERCISE";

/// Which version of an exercise a test checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// The reader's code, `starter` (the default).
    Starter,
    /// The tested answer, `solution` (with `UDS_EXERCISE=solution`).
    Solution,
}

/// The version selected by `value`, the content of [`ENV`] (`None` if it is unset).
pub fn parse_version(value: Option<&str>) -> Result<Version, String> {
    match value.map(str::trim) {
        None | Some("") | Some("starter") => Ok(Version::Starter),
        Some("solution") => Ok(Version::Solution),
        Some(other) => Err(format!(
            "{ENV}={other:?}: expected `starter` (the default) or `solution`"
        )),
    }
}

/// The version selected by the environment.
pub fn version() -> Result<Version, String> {
    let value = std::env::var(ENV).ok();
    parse_version(value.as_deref())
}

/// Runs `starter`, or `solution` when `UDS_EXERCISE=solution`, and returns what it returns.
///
/// # Panics
/// If `UDS_EXERCISE` holds anything but `starter` or `solution` (only tests call this, and a
/// panic with the message is how a test reports a misconfiguration).
pub fn starter_or_solution<T>(starter: impl FnOnce() -> T, solution: impl FnOnce() -> T) -> T {
    match version() {
        Ok(Version::Starter) => starter(),
        Ok(Version::Solution) => solution(),
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_selects_the_version_and_rejects_anything_else() {
        assert_eq!(parse_version(None), Ok(Version::Starter));
        assert_eq!(parse_version(Some("starter")), Ok(Version::Starter));
        assert_eq!(parse_version(Some("solution")), Ok(Version::Solution));
        let err = parse_version(Some("answer")).unwrap_err();
        assert!(
            err.contains("UDS_EXERCISE") && err.contains("solution"),
            "{err}"
        );
    }
}
