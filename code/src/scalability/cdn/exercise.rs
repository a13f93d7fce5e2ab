//! Exercise: answer a DNS question with a ranked list of edges, so clients can fail over
//! without waiting for the TTL.
//!
//! The chapter's load balancer answers with one edge, so a client whose edge dies fails until
//! its cached answer expires. Real DNS answers often carry several addresses, and a client
//! tries the next one when a connection fails. Implement [`starter::ranked_healthy_edges`]:
//!
//! 1. Return at most `k` edges, only healthy ones (`healthy(node)` is true).
//! 2. Order them by round-trip time from `region` ([`rtt_ms`]), nearest first; edges at the
//!    same round-trip time in order of their node id, smallest first.
//! 3. With fewer than `k` healthy edges, return all of them; with none, an empty list.
//!
//! Run the starter's test with
//!
//! ```text
//! cargo test -p uds --release --lib exercise_ranked_edges -- --ignored
//! ```
//!
//! [`solution`] has one answer; its test runs in the normal suite.

use super::geo::rtt_ms;
use super::node::EdgeInfo;
use crate::sim::NodeId;

/// Your version.
pub mod starter {
    use super::{EdgeInfo, NodeId};

    /// The `k` nearest healthy edges from `region`, nearest first.
    pub fn ranked_healthy_edges(
        region: usize,
        edges: &[EdgeInfo],
        healthy: &dyn Fn(NodeId) -> bool,
        k: usize,
    ) -> Vec<NodeId> {
        let _ = (region, edges, healthy, k);
        todo!("exercise: rules 1-3 of the module documentation")
    }
}

/// One answer.
pub mod solution {
    use super::{EdgeInfo, NodeId, rtt_ms};

    /// The `k` nearest healthy edges from `region`, nearest first.
    pub fn ranked_healthy_edges(
        region: usize,
        edges: &[EdgeInfo],
        healthy: &dyn Fn(NodeId) -> bool,
        k: usize,
    ) -> Vec<NodeId> {
        let mut up: Vec<(f64, NodeId)> = edges
            .iter()
            .filter(|e| healthy(e.node))
            .map(|e| (rtt_ms(region, e.region), e.node))
            .collect();
        up.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        up.into_iter().take(k).map(|(_, node)| node).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rank = fn(usize, &[EdgeInfo], &dyn Fn(NodeId) -> bool, usize) -> Vec<NodeId>;

    /// The exercise's claims, for any implementation.
    fn check_claims(rank: Rank) {
        // Two edges in each of the six regions: nodes 10 + 2 * region and 11 + 2 * region.
        let edges: Vec<EdgeInfo> = (0..12)
            .map(|i| EdgeInfo {
                node: NodeId(10 + i),
                region: i / 2,
            })
            .collect();
        let all = |_: NodeId| true;
        // From Europe (region 2): its own two edges, then us-east (region 0), the nearest other.
        assert_eq!(
            rank(2, &edges, &all, 3),
            vec![NodeId(14), NodeId(15), NodeId(10)]
        );
        let not_14 = |n: NodeId| n != NodeId(14);
        assert_eq!(
            rank(2, &edges, &not_14, 2),
            vec![NodeId(15), NodeId(10)],
            "rule 1"
        );
        let none = |_: NodeId| false;
        assert!(rank(2, &edges, &none, 3).is_empty(), "rule 3");
        let only_two = |n: NodeId| n == NodeId(21) || n == NodeId(12);
        // From Oceania (region 5): its edge 21 first, then us-west's 12.
        assert_eq!(
            rank(5, &edges, &only_two, 5),
            vec![NodeId(21), NodeId(12)],
            "rule 3"
        );
        assert!(rank(0, &edges, &all, 0).is_empty(), "rule 1: at most k");
        // Rule 2 over every region: sorted by RTT, ties by id, and the nearest region first.
        for region in 0..6 {
            let got = rank(region, &edges, &all, 12);
            assert_eq!(got.len(), 12);
            assert_eq!(got[0], NodeId(10 + 2 * region), "rule 2: own region first");
            for w in got.windows(2) {
                let r = |n: NodeId| rtt_ms(region, (n.0 - 10) / 2);
                assert!(
                    r(w[0]) < r(w[1]) || (r(w[0]) == r(w[1]) && w[0] < w[1]),
                    "rule 2"
                );
            }
        }
    }

    #[test]
    fn solution_ranks_healthy_edges() {
        check_claims(solution::ranked_healthy_edges);
    }

    #[test]
    #[ignore = "exercise: implement starter::ranked_healthy_edges, then run \
                `cargo test -p uds --release --lib exercise_ranked_edges -- --ignored`"]
    fn exercise_ranked_edges() {
        crate::exercise::starter_or_solution(
            || check_claims(starter::ranked_healthy_edges),
            || check_claims(solution::ranked_healthy_edges),
        );
    }
}
