//! Exercise: a rack-aware preference list.
//!
//! [`Ring::range_preference`] takes the first `n` distinct servers clockwise. If two of them
//! sit in the same rack (or data centre), one power failure takes out two replicas of the key;
//! Dynamo builds its preference lists so that replicas span data centres (DeCandia et al.
//! 2007, §4.6). Implement [`starter::rack_aware_preference`]: walk clockwise from token
//! `range` as before, but skip a server whose rack (`rack_of[server]`) already has a replica
//! in the list, *unless* no server of a new rack is left anywhere on the ring; in that case fill
//! up with the skipped servers, in the order the walk met them. The result must:
//!
//! 1. hold `min(n, servers on the ring)` distinct servers, the first being the range's owner;
//! 2. cover `min(n, racks)` distinct racks;
//! 3. equal `range_preference(range, n)` when every server has its own rack.
//!
//! Run the tests with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_rack_aware_preference -- --ignored
//! ```

use super::ring::Ring;

/// Your version.
pub mod starter {
    use super::Ring;

    /// The first `n` servers clockwise from token `range`, spread over as many racks as
    /// possible.
    pub fn rack_aware_preference(
        _ring: &Ring,
        _range: usize,
        _n: usize,
        _rack_of: &[usize],
    ) -> Vec<usize> {
        todo!("walk clockwise; skip a server of a rack already used; fill up with the skipped")
    }
}

/// One answer.
pub mod solution {
    use super::Ring;

    /// The first `n` servers clockwise from token `range`, spread over as many racks as
    /// possible.
    pub fn rack_aware_preference(
        ring: &Ring,
        range: usize,
        n: usize,
        rack_of: &[usize],
    ) -> Vec<usize> {
        // Every server in walk order, each once.
        let walk = ring.range_preference(range, usize::MAX);
        let mut list = Vec::new();
        let mut skipped = Vec::new();
        for server in walk {
            if list.len() == n {
                break;
            }
            if list.iter().any(|&s: &usize| rack_of[s] == rack_of[server]) {
                skipped.push(server);
            } else {
                list.push(server);
            }
        }
        for server in skipped {
            if list.len() == n {
                break;
            }
            list.push(server);
        }
        list
    }
}

/// The claims of the exercise, for either version.
pub fn check(f: fn(&Ring, usize, usize, &[usize]) -> Vec<usize>) {
    use std::collections::BTreeSet;
    let ring = Ring::new(9, 4);
    let racks_of_three = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    let two_racks = [0, 1, 0, 1, 0, 1, 0, 1, 0];
    let own_rack: Vec<usize> = (0..9).collect();
    for range in 0..ring.ranges() {
        for (rack_of, racks) in [
            (&racks_of_three[..], 3),
            (&two_racks[..], 2),
            (&own_rack, 9),
        ] {
            for n in 1..=5 {
                let list = f(&ring, range, n, rack_of);
                let plain = ring.range_preference(range, n);
                assert_eq!(list.len(), n, "range {range}, n {n}: {list:?}");
                assert_eq!(list[0], plain[0], "the owner comes first: {list:?}");
                let distinct: BTreeSet<usize> = list.iter().copied().collect();
                assert_eq!(distinct.len(), n, "distinct servers: {list:?}");
                let covered: BTreeSet<usize> = list.iter().map(|&s| rack_of[s]).collect();
                assert_eq!(
                    covered.len(),
                    n.min(racks),
                    "racks of {list:?} ({rack_of:?})"
                );
                if racks == 9 {
                    assert_eq!(list, plain, "own racks: the plain preference list");
                }
            }
        }
    }
    // Fewer servers than n: every server, once.
    let small = Ring::new(2, 3);
    assert_eq!(f(&small, 0, 3, &[0, 0]).len(), 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_spreads_replicas_over_racks() {
        check(solution::rack_aware_preference);
    }

    #[test]
    #[ignore = "exercise: implement starter::rack_aware_preference, then run \
                `cargo test -p uds --release --lib exercise_rack_aware_preference -- --ignored`"]
    fn exercise_rack_aware_preference() {
        crate::exercise::starter_or_solution(
            || check(starter::rack_aware_preference),
            || check(solution::rack_aware_preference),
        );
    }
}
