//! Explanations: why a history is not linearizable, in terms a reader can check by hand.
//!
//! "Not linearizable" alone is useless in a failing test. An [`Explanation`] names the
//! partition (for the key-value model, the key), the longest sequence the search managed to
//! build, and the operations that could not come next, each with the model state that refused
//! it. That is the point where every order breaks down, so it is where to start reading the
//! history: typically a read that returned a value the state no longer (or not yet) held.
//!
//! Why the operations listed are exactly the ones refused: the search records its longest
//! sequence the first time it reaches that length. At that moment every candidate for the next
//! place was tried, and any candidate the model accepted would have made a longer sequence
//! (its configuration is new, having never been that long before). So each candidate was refused
//! by the model itself, not pruned, and the state shown is the reason.
//!
//! Candidates are the unplaced operations that no other unplaced operation precedes in real
//! time: those called before the earliest return among the unplaced ones.

use std::fmt;

use super::model::{Model, Operation};

/// One operation, described for a reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpSummary {
    /// Its index in the history.
    pub index: usize,
    /// The client that issued it.
    pub client: u64,
    /// The model's description, such as `get(x) -> Some("1")`.
    pub text: String,
    /// When it was called.
    pub call_ns: u64,
    /// When it returned; `None` if its outcome is unknown.
    pub return_ns: Option<u64>,
}

impl OpSummary {
    /// Describes `history[index]` with `model`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        index: usize,
    ) -> OpSummary {
        let op = &history[index];
        OpSummary {
            index,
            client: op.client,
            text: model.describe_operation(&op.input, op.output.as_ref()),
            call_ns: op.call_ns,
            return_ns: op.output.as_ref().map(|_| op.return_ns),
        }
    }

    /// Its interval, such as `[30..40 ms]`, or `[30 ms..?]` if its outcome is unknown, in the
    /// largest unit (ms, µs or ns) in which its last known time is at least one.
    pub fn interval(&self) -> String {
        let unit = Unit::for_ns(self.return_ns.unwrap_or(self.call_ns));
        let call = unit.format(self.call_ns);
        match self.return_ns {
            Some(r) => format!("[{call}..{} {}]", unit.format(r), unit.name),
            None => format!("[{call} {}..?]", unit.name),
        }
    }
}

impl fmt::Display for OpSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by client {} {}",
            self.text,
            self.client,
            self.interval()
        )
    }
}

/// A unit of time for explanations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    /// Its symbol.
    pub name: &'static str,
    /// Nanoseconds per unit.
    pub ns: u64,
    /// Decimal digits of a nanosecond count in one unit: `log10(ns)`.
    pub digits: usize,
}

impl Unit {
    /// Milliseconds, the unit of the book's simulations.
    pub const MS: Unit = Unit {
        name: "ms",
        ns: 1_000_000,
        digits: 6,
    };
    /// Microseconds.
    pub const US: Unit = Unit {
        name: "µs",
        ns: 1_000,
        digits: 3,
    };
    /// Nanoseconds.
    pub const NS: Unit = Unit {
        name: "ns",
        ns: 1,
        digits: 0,
    };

    /// The largest unit in which `ns` is at least one (nanoseconds for zero).
    pub fn for_ns(ns: u64) -> Unit {
        [Unit::MS, Unit::US]
            .into_iter()
            .find(|u| ns >= u.ns)
            .unwrap_or(Unit::NS)
    }

    /// `ns` in this unit, with as many decimals as needed: `30`, `30.5`, `0.001`.
    pub fn format(self, ns: u64) -> String {
        let (whole, frac) = (ns / self.ns, ns % self.ns);
        if frac == 0 {
            return whole.to_string();
        }
        let digits = format!("{frac:0width$}", width = self.digits);
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// An operation the search could not place next, and the state that refused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stuck {
    /// The operation.
    pub op: OpSummary,
    /// The model's description of the state it met, such as `x = "2"`.
    pub state: String,
}

// ANCHOR: explanation
/// Why one partition of a history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    /// The partition, such as `key "x"`.
    pub partition: String,
    /// How many operations the partition has.
    pub operations: usize,
    /// The longest sequence the model accepted in real-time order, in that order.
    pub prefix: Vec<OpSummary>,
    /// The operations that could not come after `prefix`. Invariant: not empty.
    pub stuck: Vec<Stuck>,
}
// ANCHOR_END: explanation

/// How many operations of the prefix [`Explanation`]'s `Display` shows (the last ones).
pub const SHOWN_PREFIX: usize = 6;

impl Explanation {
    /// The explanation for a search of `partition` that ended with its longest sequence
    /// `prefix` (history indexes), leaving the model in `state`.
    pub fn new<M: Model>(
        model: &M,
        history: &[Operation<M::Input, M::Output>],
        partition: &[usize],
        prefix: &[usize],
        state: &M::State,
    ) -> Explanation {
        let unplaced: Vec<usize> = partition
            .iter()
            .copied()
            .filter(|i| !prefix.contains(i))
            .collect();
        let first_return = unplaced
            .iter()
            .map(|&i| history[i].effective_return_ns())
            .min();
        let first_return = first_return.expect("an illegal partition has an unplaced operation");
        let stuck: Vec<Stuck> = unplaced
            .iter()
            .filter(|&&i| history[i].call_ns <= first_return)
            .filter(|&&i| {
                let op = &history[i];
                model.step(state, &op.input, op.output.as_ref()).is_none()
            })
            .map(|&i| Stuck {
                op: OpSummary::new(model, history, i),
                state: model.describe_state(state, &history[i].input),
            })
            .collect();
        assert!(
            !stuck.is_empty(),
            "the longest sequence could have been extended"
        );
        Explanation {
            partition: model.describe_partition(history, partition),
            operations: partition.len(),
            prefix: prefix
                .iter()
                .map(|&i| OpSummary::new(model, history, i))
                .collect(),
            stuck,
        }
    }

    /// The operations named as not placeable, as history indexes.
    pub fn offending(&self) -> Vec<usize> {
        self.stuck.iter().map(|s| s.op.index).collect()
    }
}

// ANCHOR: display
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} is not linearizable.", self.partition)?;
        let placed = self.prefix.len();
        writeln!(
            f,
            "The longest linearizable prefix places {placed} of its {} operations:",
            self.operations
        )?;
        let hidden = placed.saturating_sub(SHOWN_PREFIX);
        if hidden > 0 {
            writeln!(f, "  ... {hidden} earlier operations")?;
        }
        for (k, op) in self.prefix.iter().enumerate().skip(hidden) {
            writeln!(f, "  {}. {op}", k + 1)?;
        }
        if placed == 0 {
            writeln!(f, "  (none)")?;
        }
        writeln!(f, "Nothing can come next:")?;
        for s in &self.stuck {
            write!(f, "  {} cannot be linearized: ", s.op)?;
            match self.prefix.last() {
                None => writeln!(f, "initially, {}", s.state)?,
                Some(last) => {
                    let relation = match last.return_ns {
                        Some(r) if r < s.op.call_ns => "completed before it began",
                        _ => "overlaps it",
                    };
                    let (text, interval) = (&last.text, last.interval());
                    writeln!(f, "after {text} {interval}, which {relation}, {}", s.state)?;
                }
            }
        }
        Ok(())
    }
}
// ANCHOR_END: display

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_only_the_digits_needed() {
        assert_eq!(Unit::MS.format(30_000_000), "30");
        assert_eq!(Unit::MS.format(30_500_000), "30.5");
        assert_eq!(Unit::MS.format(1), "0.000001");
        assert_eq!(Unit::US.format(2_076), "2.076");
    }

    #[test]
    fn an_interval_is_shown_in_the_unit_of_its_last_known_time() {
        let op = |call_ns, return_ns| OpSummary {
            index: 0,
            client: 0,
            text: String::new(),
            call_ns,
            return_ns,
        };
        assert_eq!(op(30_000_000, Some(40_000_000)).interval(), "[30..40 ms]");
        assert_eq!(op(0, Some(40_000_000)).interval(), "[0..40 ms]");
        assert_eq!(op(2_076, Some(2_102)).interval(), "[2.076..2.102 µs]");
        assert_eq!(op(5, None).interval(), "[5 ns..?]");
    }
}
