//! Exercise: write an invariant that catches a second bug of the planted register.
//!
//! The client of [`super::primary_backup`] writes 1, 2, 3, ... one after another, and a register
//! should keep them in that order: a reader of the backup after a failover must not see 8 stored
//! before 7. Write that promise as an invariant over the whole simulated system: it receives the
//! `Sim` between two events and returns `Err(explanation)` when the backup stores its values out
//! of the order the client issued them.
//!
//! Hint: `sim.process(BACKUP)` gives the backup's `values` (or `None` if it is crashed). Think
//! about how the buggy register, which acknowledges early and so lets the client run ahead, can
//! deliver a retransmitted copy after a newer one.
//!
//! Run the checks on your version with
//! `cargo test -p uds --release --lib exercise_backup_keeps_write_order -- --ignored`.

use super::primary_backup::Replica;
use crate::sim::Sim;

/// Your version.
pub mod starter {
    use super::*;

    /// The backup stores writes in the order the client issued them.
    pub fn backup_keeps_write_order(sim: &Sim<Replica>) -> Result<(), String> {
        let _ = sim;
        todo!("check that the backup's values are increasing")
    }
}

/// A reference solution.
pub mod solution {
    use super::*;
    use crate::appendix::primary_backup::BACKUP;

    // ANCHOR: solution
    /// The backup stores writes in the order the client issued them.
    pub fn backup_keeps_write_order(sim: &Sim<Replica>) -> Result<(), String> {
        let Some(backup) = sim.process(BACKUP) else {
            return Ok(()); // a crashed backup stores nothing we can read
        };
        match backup.values.windows(2).find(|pair| pair[0] > pair[1]) {
            Some(pair) => Err(format!("the backup stored {} after {}", pair[1], pair[0])),
            None => Ok(()),
        }
    }
    // ANCHOR_END: solution
}

/// The campaign an answer must pass: over `seeds` seeds with 10% loss and jittery latency, the
/// invariant must flag the buggy register in some seed and never the correct one. Returns the
/// first seed that caught the bug.
pub fn check(
    invariant: fn(&Sim<Replica>) -> Result<(), String>,
    seeds: u64,
) -> Result<u64, String> {
    use super::primary_backup::nodes;
    use crate::sim::{Latency, LinkConfig, Time};
    use std::time::Duration;

    let run = |ack_early: bool, seed: u64| {
        let jitter = Latency::Uniform {
            min: Duration::from_millis(1),
            max: Duration::from_millis(5),
        };
        let link = LinkConfig::constant(Duration::ZERO)
            .with_latency(jitter)
            .with_loss(0.1);
        let mut sim = Sim::new(seed, link, nodes(ack_early, 50));
        sim.add_invariant("backup keeps write order", invariant);
        sim.run_until(Time::from_millis(1_000))
    };
    for seed in 0..seeds {
        if let Err(e) = run(false, seed) {
            return Err(format!("the correct register was flagged: {e}"));
        }
    }
    (0..seeds)
        .find(|&seed| run(true, seed).is_err())
        .ok_or_else(|| format!("the bug went unnoticed in {seeds} seeds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_solution_catches_reordering_and_spares_the_correct_register() {
        let seed = check(solution::backup_keeps_write_order, 200).unwrap();
        assert!(seed < 200);
    }

    #[test]
    #[ignore = "exercise: implement starter::backup_keeps_write_order, then run \
                `cargo test -p uds --release --lib exercise_backup_keeps_write_order -- --ignored`"]
    fn exercise_backup_keeps_write_order() {
        let invariant = crate::exercise::starter_or_solution(
            || starter::backup_keeps_write_order as fn(&Sim<Replica>) -> Result<(), String>,
            || solution::backup_keeps_write_order,
        );
        check(invariant, 200).unwrap();
    }
}
