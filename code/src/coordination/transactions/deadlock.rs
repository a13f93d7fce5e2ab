//! Deadlock detection on a wait-for graph.
//!
//! Under two-phase locking a transaction that cannot get a lock waits for the holders. Draw an
//! edge from each waiter to each transaction it waits for: the result is the *wait-for graph*,
//! and the transactions are deadlocked exactly when the graph has a cycle, since every member of
//! a cycle waits, directly or not, for itself (Bernstein, Hadzilacos and Goodman,
//! *Concurrency Control and Recovery in Database Systems*, 1987, chapter 3).
//!
//! The engine checks eagerly: each time a request blocks, it adds the new edges and asks whether
//! the requester now lies on a cycle. Every cycle is found at the moment its last edge appears,
//! and the last edge always leaves the requester, so searching from the requester is enough.

use std::collections::{BTreeMap, BTreeSet};

use super::locks::TxId;

/// Who waits for whom: `graph[t]` are the transactions `t` waits for.
pub type WaitForGraph = BTreeMap<TxId, BTreeSet<TxId>>;

// ANCHOR: find_cycle
/// A cycle through `start`, as the list of transactions from `start` along wait-for edges back
/// to (but not repeating) `start`; `None` if `start` is on no cycle. Depth-first, visiting
/// neighbours in increasing order, so the answer is deterministic.
pub fn find_cycle(graph: &WaitForGraph, start: TxId) -> Option<Vec<TxId>> {
    let mut path = vec![start];
    let mut visited = BTreeSet::from([start]);
    if dfs(graph, start, &mut path, &mut visited) {
        Some(path)
    } else {
        None
    }
}

/// Extends `path` (which ends at a node whose successors we explore) until an edge leads back
/// to `path[0]`; returns whether it did.
fn dfs(
    graph: &WaitForGraph,
    node: TxId,
    path: &mut Vec<TxId>,
    visited: &mut BTreeSet<TxId>,
) -> bool {
    for &next in graph.get(&node).into_iter().flatten() {
        if next == path[0] {
            return true;
        }
        if visited.insert(next) {
            path.push(next);
            if dfs(graph, next, path, visited) {
                return true;
            }
            path.pop();
        }
    }
    false
}
// ANCHOR_END: find_cycle

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(TxId, TxId)]) -> WaitForGraph {
        let mut g = WaitForGraph::new();
        for &(a, b) in edges {
            g.entry(a).or_default().insert(b);
        }
        g
    }

    #[test]
    fn cycles_through_the_start_are_found_and_others_are_not() {
        assert_eq!(find_cycle(&graph(&[(0, 1), (1, 0)]), 0), Some(vec![0, 1]));
        assert_eq!(
            find_cycle(&graph(&[(0, 1), (1, 2), (2, 0)]), 1),
            Some(vec![1, 2, 0])
        );
        assert_eq!(find_cycle(&graph(&[(0, 1), (1, 2)]), 0), None);
        // A cycle that does not pass through the start is not the start's deadlock.
        assert_eq!(find_cycle(&graph(&[(0, 1), (1, 2), (2, 1)]), 0), None);
        assert_eq!(find_cycle(&graph(&[(3, 3)]), 3), Some(vec![3]));
    }
}
