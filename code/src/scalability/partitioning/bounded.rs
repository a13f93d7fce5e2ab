//! Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent
//! Hashing with Bounded Loads", SODA 2018, arXiv:1608.01350).
//!
//! A plain ring gives a node whatever its arcs catch; a popular arc overloads it. Bounded
//! loads caps every node at `capacity = ceil((1 + eps) * m / n)` for `m` keys (or requests)
//! in flight over `n` nodes: a key goes to the first node clockwise from its position that is
//! still under the cap, so an overloaded owner's overflow spills to its ring successors.
//!
//! Guarantees, for keys assigned one at a time and never released: no node ever holds more
//! than `ceil((1 + eps) * m / n)` keys, and since `n * capacity > m`, some node is always
//! under the cap, so the walk ends within one lap. The paper also bounds how many keys move
//! on a membership change (in expectation `O(1/eps^2)` times the ideal); we measure the loads,
//! not that bound. Releasing keys (requests that finish) lowers `m` and so the cap; keys
//! already placed stay where they are, as in the load-balancing use the paper describes.

use super::{Node, Ring};

// ANCHOR: bounded
/// A ring whose nodes each take at most `ceil((1 + eps) * mean)` keys.
#[derive(Clone, Debug)]
pub struct BoundedLoads {
    /// Where keys start their walk.
    ring: Ring,
    /// The allowed excess over the mean. Invariant: positive.
    eps: f64,
    /// Keys currently held, indexed by node number.
    loads: Vec<usize>,
    /// The sum of `loads`.
    total: usize,
}

impl BoundedLoads {
    /// Bounded loads over `ring`'s nodes with slack `eps` (for instance 0.25).
    pub fn new(ring: Ring, eps: f64) -> BoundedLoads {
        assert!(eps > 0.0, "eps must be positive, got {eps}");
        assert!(!ring.is_empty(), "bounded loads needs at least one node");
        let slots = ring.nodes().last().map_or(0, |&n| n + 1);
        BoundedLoads {
            ring,
            eps,
            loads: vec![0; slots],
            total: 0,
        }
    }

    /// The cap for the next key: `ceil((1 + eps) * (total + 1) / n)`.
    pub fn capacity(&self) -> usize {
        let n = self.ring.nodes().len() as f64;
        ((1.0 + self.eps) * (self.total + 1) as f64 / n).ceil() as usize
    }

    /// Places `key` on the first node clockwise that is under the cap, and returns it.
    pub fn assign(&mut self, key: u64) -> Node {
        let capacity = self.capacity();
        let node = self
            .ring
            .clockwise(key)
            .find(|&node| self.loads[node] < capacity)
            .expect("n * capacity > total, so some node is under the cap");
        self.loads[node] += 1;
        self.total += 1;
        node
    }
}
// ANCHOR_END: bounded

impl BoundedLoads {
    /// Forgets one key held by `node` (a request that finished). Returns false if it held none.
    pub fn release(&mut self, node: Node) -> bool {
        match self.loads.get_mut(node) {
            Some(load) if *load > 0 => {
                *load -= 1;
                self.total -= 1;
                true
            }
            _ => false,
        }
    }

    /// Keys held per node, indexed by node number.
    pub fn loads(&self) -> &[usize] {
        &self.loads
    }

    /// Keys held in all.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_a_generous_cap_keys_stay_with_their_ring_owner() {
        let ring = Ring::with_nodes(4, 16);
        let mut bounded = BoundedLoads::new(ring.clone(), 100.0);
        for key in 0..1_000 {
            assert_eq!(Some(bounded.assign(key)), ring.owner(key));
        }
    }

    #[test]
    fn release_refuses_a_node_that_holds_nothing() {
        let mut bounded = BoundedLoads::new(Ring::with_nodes(2, 1), 0.5);
        assert!(!bounded.release(0));
        let node = bounded.assign(7);
        assert!(bounded.release(node));
        assert_eq!(bounded.total(), 0);
        assert!(!bounded.release(99));
    }
}
