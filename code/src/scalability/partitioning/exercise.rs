//! Exercise: implement rendezvous hashing's lookup.
//!
//! Given [`weight`](super::rendezvous::weight), the pseudo-random weight a node gives a key,
//! write `owner`: the node with the highest weight, ties to the lower node number, `None` for
//! no nodes. [`check_owner`] states what a correct answer does; the chapter's exercise test
//! runs it on your version:
//! `cargo test -p uds --release --test part3 ch16_partitioning::exercise_rendezvous -- --ignored`.

use super::Node;
use super::measure::random_keys;
use super::rendezvous::rendezvous_owner;

/// Where the reader's work goes.
pub mod starter {
    use super::super::Node;
    use super::super::rendezvous::weight;

    /// The node of `nodes` whose `weight(key, node)` is highest (ties to the lower node
    /// number), or `None` if `nodes` is empty.
    pub fn owner(key: u64, nodes: &[Node]) -> Option<Node> {
        let _ = (key, nodes, weight(0, 0));
        todo!("return the node with the highest weight(key, node)")
    }
}

/// One answer.
pub mod solution {
    use super::super::Node;
    use super::super::rendezvous::weight;

    /// The node of `nodes` whose `weight(key, node)` is highest (ties to the lower node
    /// number), or `None` if `nodes` is empty.
    pub fn owner(key: u64, nodes: &[Node]) -> Option<Node> {
        let mut best: Option<(u64, Node)> = None;
        for &node in nodes {
            let w = weight(key, node);
            let better = match best {
                None => true,
                Some((bw, bn)) => w > bw || (w == bw && node < bn),
            };
            if better {
                best = Some((w, node));
            }
        }
        best.map(|(_, node)| node)
    }
}

/// The claims an `owner` function must satisfy: it agrees with the library's lookup on
/// 2,000 keys over node sets of 1 to 12 nodes, returns `None` for no nodes, and when node 3
/// leaves a set of 8, only node 3's keys change owner.
pub fn check_owner(owner: fn(u64, &[Node]) -> Option<Node>) {
    assert_eq!(owner(42, &[]), None, "no nodes, no owner");
    let keys = random_keys(16, 2_000);
    for n in 1..=12 {
        let nodes: Vec<Node> = (0..n).map(|i| i * 7 + 1).collect();
        for &key in &keys {
            assert_eq!(
                owner(key, &nodes),
                rendezvous_owner(key, &nodes),
                "key {key:#x}, nodes {nodes:?}"
            );
        }
    }
    let all: Vec<Node> = (0..8).collect();
    let without_3: Vec<Node> = all.iter().copied().filter(|&n| n != 3).collect();
    for &key in &keys {
        let (before, after) = (owner(key, &all), owner(key, &without_3));
        assert!(
            before == Some(3) || before == after,
            "key {key:#x}: {before:?} -> {after:?}"
        );
    }
}
