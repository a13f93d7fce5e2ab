//! Exercise: write the invariant that catches the planted bug.
//!
//! The primary-backup register in [`super::primary_backup`] promises that a write the client
//! saw acknowledged survives the primary's crash: the backup, which takes over, must hold it.
//! Write that promise as an invariant over the whole simulated system: it receives the `Sim`
//! between two events and returns `Err(explanation)` when the promise is broken.
//!
//! Hint: the client's `values` are the acknowledged writes; the backup's `values` what it
//! stores; `sim.process(id)` is `None` for a crashed node. The promise only binds once the
//! primary has crashed (before that the primary still has the write).
//!
//! Run the checks on your version with
//! `cargo test -p uds --release appendix::exercise -- --ignored`.

use super::primary_backup::Replica;
use crate::sim::Sim;

/// Your version.
pub mod starter {
    use super::*;

    /// Acknowledged writes are on the backup once the primary has crashed.
    pub fn acknowledged_writes_survive(sim: &Sim<Replica>) -> Result<(), String> {
        let _ = sim;
        todo!("compare the client's acknowledged values with the backup's")
    }
}

/// A reference solution.
pub mod solution {
    use super::*;
    use crate::appendix::primary_backup::{BACKUP, CLIENT, PRIMARY};

    // ANCHOR: solution
    /// Acknowledged writes are on the backup once the primary has crashed.
    pub fn acknowledged_writes_survive(sim: &Sim<Replica>) -> Result<(), String> {
        if sim.process(PRIMARY).is_some() {
            return Ok(()); // the primary is up and holds every write it acknowledged
        }
        let (Some(client), Some(backup)) = (sim.process(CLIENT), sim.process(BACKUP)) else {
            return Ok(()); // the scenarios here never crash these two
        };
        match client.values.iter().find(|v| !backup.values.contains(v)) {
            Some(lost) => Err(format!(
                "write {lost} was acknowledged but the backup lacks it"
            )),
            None => Ok(()),
        }
    }
    // ANCHOR_END: solution
}

/// The campaign both versions must pass: over `seeds` seeds, with loss and a primary crash at a
/// random time, the invariant must flag the buggy register in some seed and never the correct
/// one. Returns the first seed that caught the bug.
pub fn check(
    invariant: fn(&Sim<Replica>) -> Result<(), String>,
    seeds: u64,
) -> Result<u64, String> {
    use super::primary_backup::{PRIMARY, nodes};
    use crate::sim::{Fault, LinkConfig, Rng, Time};
    use std::time::Duration;

    let run = |ack_early: bool, seed: u64| {
        let link = LinkConfig::constant(Duration::from_millis(2))
            .with_latency(crate::sim::Latency::Uniform {
                min: Duration::from_millis(1),
                max: Duration::from_millis(5),
            })
            .with_loss(0.1);
        let mut sim = Sim::new(seed, link, nodes(ack_early, 50));
        sim.add_invariant("acknowledged writes survive", invariant);
        let crash_ms = Rng::derive(seed, 99).range(5, 300);
        sim.schedule_fault(Time::from_millis(crash_ms), Fault::Crash(PRIMARY));
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
    fn the_solution_catches_the_planted_bug_and_spares_the_correct_register() {
        let seed = check(solution::acknowledged_writes_survive, 200).unwrap();
        assert!(seed < 200);
    }

    #[test]
    #[ignore = "exercise: implement starter::acknowledged_writes_survive, then run with --ignored"]
    fn the_starter_catches_the_planted_bug_and_spares_the_correct_register() {
        check(starter::acknowledged_writes_survive, 200).unwrap();
    }
}
