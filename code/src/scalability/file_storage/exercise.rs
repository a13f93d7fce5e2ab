//! Exercise: the seal rule.
//!
//! When an append fails, the stream manager asks every replica of the extent how long its copy
//! is; some replicas may not answer (`None`). Implement [`starter::seal_length`]: the length at
//! which to seal, such that
//!
//! - no acknowledged append is cut off (an acknowledged append is on *every* replica), and
//! - every replica that answered can be sealed at that length (a replica can drop bytes past
//!   the seal, but cannot invent bytes it never received);
//!
//! and `None` when no replica answered. The tests check the rule on small cases, then run the
//! blob store with your rule over many seeds, failing one extent node at a random moment, and
//! check that every acknowledged blob reads back and every sealed extent is whole again:
//!
//! ```text
//! cargo test -p uds --release --lib exercise_seal_length -- --ignored
//! ```

/// Your version.
pub mod starter {
    /// The commit length to seal at, from the lengths the replicas reported.
    pub fn seal_length(_reported: &[Option<u64>]) -> Option<u64> {
        todo!("pick the length that keeps every acknowledged byte and that every answer reaches")
    }
}

/// One answer.
pub mod solution {
    /// The commit length to seal at, from the lengths the replicas reported.
    pub fn seal_length(reported: &[Option<u64>]) -> Option<u64> {
        reported.iter().flatten().copied().min()
    }
}

/// The claims, for any seal rule.
#[cfg(test)]
pub(crate) fn check_rule(rule: fn(&[Option<u64>]) -> Option<u64>) {
    use super::run::{Setup, run_with_one_failure};
    let cases: [(&[Option<u64>], Option<u64>); 4] = [
        (&[Some(30), Some(30), Some(30)], Some(30)),
        (&[Some(42), Some(30), None], Some(30)),
        (&[None, Some(17), Some(20)], Some(17)),
        (&[None, None, None], None),
    ];
    for (reported, want) in cases {
        assert_eq!(rule(reported), want, "seal length of {reported:?}");
    }
    for seed in 0..40 {
        let setup = Setup {
            seal_rule: rule,
            ..Setup::default()
        };
        if let Err(why) = run_with_one_failure(seed, &setup) {
            panic!("seed {seed}: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{solution, starter};

    #[test]
    fn the_solution_keeps_every_acknowledged_blob() {
        super::check_rule(solution::seal_length);
    }

    #[test]
    #[ignore = "exercise: implement starter::seal_length, then run \
                `cargo test -p uds --release --lib exercise_seal_length -- --ignored`"]
    fn exercise_seal_length() {
        crate::exercise::starter_or_solution(
            || super::check_rule(starter::seal_length),
            || super::check_rule(solution::seal_length),
        );
    }
}
