//! Chapter 14's coding exercise: the current-age rule of RFC 9111 §4.2.3.
//!
//! Implement `starter::current_age` from the specification below. All times are whole
//! seconds since the Unix epoch, read from the cache's own clock except `date_value` (the
//! origin's clock):
//!
//! 1. `apparent_age` is `response_time - date_value`, or 0 if that is negative.
//! 2. `response_delay` is `response_time - request_time` (0 if negative).
//! 3. `corrected_age_value` is `age_value + response_delay`.
//! 4. `corrected_initial_age` is the larger of `apparent_age` and `corrected_age_value`.
//! 5. `resident_time` is `now - response_time` (0 if negative).
//! 6. The current age is `corrected_initial_age + resident_time`.
//!
//! The sums are mathematical but must not overflow or panic: any input may be as large as
//! `u64::MAX` (a forged `Age` header), and the result then saturates at `u64::MAX`. Use
//! `saturating_sub` and `saturating_add`. [`check_current_age`] is the table the test runs;
//! each row names the rule it exercises.

use super::freshness::AgeInputs;

/// The reader's version.
pub mod starter {
    use super::AgeInputs;

    /// The current age of a stored response at `now` (RFC 9111 §4.2.3).
    pub fn current_age(_a: &AgeInputs, _now: u64) -> u64 {
        todo!("exercise: rules 1-6 of the module documentation")
    }
}

/// One answer.
pub mod solution {
    use super::AgeInputs;

    /// The current age of a stored response at `now` (RFC 9111 §4.2.3).
    pub fn current_age(a: &AgeInputs, now: u64) -> u64 {
        let apparent = a.response_time.saturating_sub(a.date_value);
        let delay = a.response_time.saturating_sub(a.request_time);
        let initial = apparent.max(a.age_value.saturating_add(delay));
        initial.saturating_add(now.saturating_sub(a.response_time))
    }
}

/// One row: what it tests, the inputs, `now`, and the expected age.
type Row = (&'static str, AgeInputs, u64, u64);

fn inputs(age_value: u64, date_value: u64, request_time: u64, response_time: u64) -> AgeInputs {
    AgeInputs {
        age_value,
        date_value,
        request_time,
        response_time,
    }
}

/// The rows every implementation must pass.
pub fn rows() -> Vec<Row> {
    vec![
        (
            "fresh from the origin, read at once",
            inputs(0, 100, 100, 100),
            100,
            0,
        ),
        (
            "resident time adds (rule 5)",
            inputs(0, 100, 100, 100),
            160,
            60,
        ),
        (
            "Date older than arrival: apparent age (rule 1)",
            inputs(0, 90, 100, 100),
            100,
            10,
        ),
        (
            "origin clock ahead: apparent age is 0 (rule 1)",
            inputs(0, 500, 100, 100),
            100,
            0,
        ),
        (
            "upstream Age header counts (rule 3)",
            inputs(30, 100, 100, 100),
            100,
            30,
        ),
        (
            "round trip added to Age (rules 2, 3)",
            inputs(30, 100, 98, 100),
            100,
            32,
        ),
        (
            "larger estimate wins (rule 4)",
            inputs(5, 50, 98, 100),
            110,
            60,
        ),
        (
            "clock went back: resident time 0 (rule 5)",
            inputs(0, 100, 100, 100),
            40,
            0,
        ),
        (
            "response before request: delay 0 (rule 2)",
            inputs(7, 100, 105, 100),
            100,
            7,
        ),
        (
            "forged huge Age saturates (rule 6)",
            inputs(u64::MAX, 0, 0, 10),
            20,
            u64::MAX,
        ),
        (
            "huge clock saturates, never panics",
            inputs(1, 0, 0, 0),
            u64::MAX,
            u64::MAX,
        ),
    ]
}

/// Checks `current_age` against every row; panics naming the first row that fails.
pub fn check_current_age(current_age: impl Fn(&AgeInputs, u64) -> u64) {
    for (what, a, now, expected) in rows() {
        let got = current_age(&a, now);
        assert_eq!(
            got, expected,
            "RFC 9111 §4.2.3, {what}: {a:?} at now = {now}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_passes_the_table() {
        check_current_age(solution::current_age);
    }

    #[test]
    fn the_library_rule_passes_the_table() {
        check_current_age(super::super::freshness::current_age);
    }
}
