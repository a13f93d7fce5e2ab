//! Generated histories of a store that is linearizable by construction, for benches and tests.
//!
//! [`atomic_history`] plays `clients` clients against one map, each issuing its operations one
//! after another on `keys` keys (a third each gets, puts and appends, as the chapter 10 clients
//! do). Every operation takes effect at one instant drawn inside its interval, and the outputs
//! are computed by applying the operations to the map in the order of those instants, so the
//! history is linearizable and the instants are a witness. A fraction `unknown` of operations
//! get no answer (the client gave up after a timeout and moved on): each of those took effect
//! or not, at random, and the history records its outcome as unknown. Written values are
//! unique (`client.seq `), so reads show which writes they saw, in which order.
//!
//! One seed fixes the history. The random numbers come from SplitMix64 (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), written out here so
//! that the module needs nothing beyond std.

use std::collections::BTreeMap;

use super::kv::{KvInput, KvOutput};
use super::model::Operation;
use super::witness::Placement;

/// The shape of a generated history.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shape {
    /// Operations in all.
    pub operations: usize,
    /// Clients, each with one operation in flight at a time.
    pub clients: usize,
    /// Keys, named `k0`, `k1`, ...
    pub keys: usize,
    /// The fraction of operations whose outcome is unknown, in `0.0..=1.0`.
    pub unknown: f64,
    /// The seed.
    pub seed: u64,
}

/// SplitMix64: a tiny, good-enough generator for test data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), with a bias below 2^-32 for the sizes used here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

const MS: u64 = 1_000_000;

/// A history of `shape`, and the instants at which its operations took effect, as a witness
/// in linearization order (the operations that never took effect left out).
pub fn atomic_history(shape: &Shape) -> (Vec<Operation<KvInput, KvOutput>>, Vec<Placement>) {
    let mut rng = SplitMix(shape.seed);
    let clients = shape.clients.max(1);
    let keys = shape.keys.max(1) as u64;
    // (operation, instant, takes effect), in the history's order: client by client.
    let mut ops: Vec<(Operation<KvInput, KvOutput>, u64, bool)> = Vec::new();
    for client in 0..clients {
        let mine = shape.operations / clients + usize::from(client < shape.operations % clients);
        let mut now = rng.below(5 * MS);
        for seq in 1..=mine {
            let key = format!("k{}", rng.below(keys));
            let value = format!("{client}.{seq} ");
            let input = match rng.below(3) {
                0 => KvInput::Get { key },
                1 => KvInput::Put { key, value },
                _ => KvInput::Append { key, value },
            };
            let took = 1 + rng.below(20 * MS);
            let instant = now + rng.below(took + 1);
            let gave_up = rng.chance(shape.unknown);
            let takes_effect = !gave_up || rng.chance(0.5);
            let op = Operation {
                client: client as u64,
                input,
                output: None, // filled in below
                call_ns: now,
                return_ns: if gave_up { u64::MAX } else { now + took },
            };
            ops.push((op, instant, takes_effect));
            // A client that gave up waited for its timeout, 30 ms, before moving on.
            now += if gave_up { 30 * MS } else { took } + rng.below(5 * MS);
        }
    }
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].2).collect();
    order.sort_by_key(|&i| (ops[i].1, i));
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for &i in &order {
        let op = &mut ops[i].0;
        let output = match &op.input {
            KvInput::Get { key } => KvOutput::Value(store.get(key).cloned()),
            KvInput::Put { key, value } => {
                store.insert(key.clone(), value.clone());
                KvOutput::Ok
            }
            KvInput::Append { key, value } => {
                store.entry(key.clone()).or_default().push_str(value);
                KvOutput::Ok
            }
        };
        if op.return_ns != u64::MAX {
            op.output = Some(output);
        }
    }
    let witness = order.iter().map(|&i| (i, ops[i].1)).collect();
    (ops.into_iter().map(|(op, _, _)| op).collect(), witness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordination::linearizability::{CheckResult, KvModel, check};

    #[test]
    fn generated_histories_are_linearizable_and_deterministic() {
        let shape = Shape {
            operations: 300,
            clients: 12,
            keys: 3,
            unknown: 0.1,
            seed: 7,
        };
        let (history, witness) = atomic_history(&shape);
        assert_eq!(history.len(), 300);
        assert_eq!(atomic_history(&shape).0, history);
        assert!(history.iter().any(|op| op.output.is_none()));
        assert_eq!(check(&KvModel, &history), CheckResult::Ok);
        let all: Vec<usize> = (0..history.len()).collect();
        let order = crate::coordination::linearizability::witness::fit_reads(
            &KvModel, &history, &all, &witness,
        );
        let verified =
            crate::coordination::linearizability::witness::verify(&KvModel, &history, &all, &order);
        assert_eq!(verified, Ok(()));
    }
}
