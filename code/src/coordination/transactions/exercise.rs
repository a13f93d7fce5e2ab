//! Exercise: find the deadlock.
//!
//! Write [`starter::find_cycle`]: given the wait-for graph (`graph[t]` is the set of
//! transactions `t` waits for) and the transaction whose request just blocked, return a cycle
//! through it, listed from `start` along the edges, without repeating `start` at the end; or
//! `None` if `start` is not deadlocked. When several cycles pass through `start`, return the
//! one a depth-first search finds when it tries neighbours in increasing order. The engine's
//! own version is `super::deadlock::find_cycle`; the point of the exercise is to write it
//! without looking.
//!
//! Run `cargo test -p uds --release --lib exercise_find_cycle -- --ignored`.

use super::deadlock::WaitForGraph;
use super::locks::TxId;

/// The reader's version.
pub mod starter {
    use super::*;

    /// A cycle through `start` in the wait-for graph, or `None`.
    pub fn find_cycle(graph: &WaitForGraph, start: TxId) -> Option<Vec<TxId>> {
        let _ = (graph, start);
        todo!("depth-first search from `start` for an edge back to `start`")
    }
}

/// One answer.
pub mod solution {
    use super::*;
    use std::collections::BTreeSet;

    /// A cycle through `start` in the wait-for graph, or `None`.
    pub fn find_cycle(graph: &WaitForGraph, start: TxId) -> Option<Vec<TxId>> {
        fn walk(g: &WaitForGraph, path: &mut Vec<TxId>, seen: &mut BTreeSet<TxId>) -> bool {
            let node = *path.last().expect("the path starts at `start`");
            for &next in g.get(&node).into_iter().flatten() {
                if next == path[0] {
                    return true;
                }
                if seen.insert(next) {
                    path.push(next);
                    if walk(g, path, seen) {
                        return true;
                    }
                    path.pop();
                }
            }
            false
        }
        let mut path = vec![start];
        let mut seen = BTreeSet::from([start]);
        walk(graph, &mut path, &mut seen).then_some(path)
    }
}

/// The claims, for either version.
pub fn check_claims(find_cycle: fn(&WaitForGraph, TxId) -> Option<Vec<TxId>>) {
    let graph = |edges: &[(TxId, TxId)]| {
        let mut g = WaitForGraph::new();
        for &(a, b) in edges {
            g.entry(a).or_default().insert(b);
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[]), 0), None, "no edges, no deadlock");
    assert_eq!(find_cycle(&graph(&[(0, 1), (1, 0)]), 0), Some(vec![0, 1]));
    assert_eq!(find_cycle(&graph(&[(0, 1), (1, 0)]), 1), Some(vec![1, 0]));
    assert_eq!(
        find_cycle(&graph(&[(0, 1), (1, 2), (2, 3)]), 0),
        None,
        "a chain"
    );
    assert_eq!(
        find_cycle(&graph(&[(0, 1), (1, 2), (2, 1)]), 0),
        None,
        "0 waits for a deadlock it is not part of"
    );
    assert_eq!(
        find_cycle(&graph(&[(5, 1), (5, 3), (1, 2), (3, 5)]), 5),
        Some(vec![5, 3]),
        "the dead end through 1 is abandoned"
    );
    assert_eq!(
        find_cycle(&graph(&[(0, 1), (0, 2), (1, 2), (2, 0)]), 0),
        Some(vec![0, 1, 2]),
        "neighbours in increasing order"
    );
    // A long ring must not overflow anything or take long.
    let ring: Vec<(TxId, TxId)> = (0..1000).map(|i| (i, (i + 1) % 1000)).collect();
    let cycle = find_cycle(&graph(&ring), 0).expect("the ring is a cycle");
    assert_eq!(cycle, (0..1000).collect::<Vec<_>>());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solution_finds_exactly_the_cycles_through_start() {
        check_claims(solution::find_cycle);
        check_claims(super::super::deadlock::find_cycle);
    }

    #[test]
    #[ignore = "exercise: implement starter::find_cycle, then run \
                `cargo test -p uds --release --lib exercise_find_cycle -- --ignored`"]
    fn exercise_find_cycle() {
        crate::exercise::starter_or_solution(
            || check_claims(starter::find_cycle),
            || check_claims(solution::find_cycle),
        );
    }
}
