//! Crash injection: named crash points, and schedules that decide at which one a process dies.
//!
//! Every piece of the chapter's SQLite code (the order service, the relay, the consumers, the
//! saga participants and the orchestrator) calls [`Crasher::point`] at each place where a crash
//! would leave a different state behind: between two writes of one transaction, between a
//! commit and the message that reports it, between a publish and the row that records it. When
//! the schedule says so, `point` returns [`Halt::Crash`], the `?` operator unwinds the call
//! (dropping an open `rusqlite::Transaction`, which rolls it back: the state a dead process
//! leaves too, since in WAL mode SQLite ignores, on the next open, log frames that no commit
//! covers), and the driver throws away every connection and in-memory value of the process and
//! reopens its database file. What survives is what was committed, and what the broker holds.
//! The connections are closed cleanly, so SQLite's recovery of a killed process's files is not
//! itself exercised.
//!
//! Two schedules: [`Schedule::AtHit`] crashes at the k-th point reached, once, so running
//! k = 1, 2, ... up to the number of points of a crash-free run crashes at every step;
//! [`Schedule::Random`] crashes at each point with a probability, from a seeded generator.
//!
//! Simplification: these are process crashes, not power failures. The operating system keeps
//! the pages SQLite wrote, so we run SQLite with `synchronous = OFF`; surviving a power cut
//! would need `synchronous = FULL` and a disk that honours flushes (chapter 12's WAL sub-page).

use rand::RngExt;

use crate::sim::{SimRng, rng_stream};

/// Why a step of the SQLite code stopped: a scheduled crash, or a database error.
#[derive(Debug)]
pub enum Halt {
    /// The process crashed at this crash point.
    Crash(&'static str),
    /// SQLite refused something: a bug or a broken file, never part of the plan.
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for Halt {
    fn from(e: rusqlite::Error) -> Halt {
        Halt::Db(e)
    }
}

impl std::fmt::Display for Halt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Halt::Crash(point) => write!(f, "crash at `{point}`"),
            Halt::Db(e) => write!(f, "SQLite error: {e}"),
        }
    }
}

/// When to crash.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// Never: the crash-free run that counts the points.
    Never,
    /// At the k-th crash point reached (1-based), and never again.
    AtHit(u64),
    /// At each point with this probability (at most [`MAX_RANDOM_CRASHES`] times per run, so
    /// that a run always ends).
    Random { probability: f64, seed: u64 },
}

/// A bound on the crashes of one random run.
pub const MAX_RANDOM_CRASHES: u64 = 1_000;

/// The crash schedule of one run, and what it did.
#[derive(Clone, Debug)]
pub struct Crasher {
    schedule: Schedule,
    rng: SimRng,
    /// Crash points reached so far.
    pub hits: u64,
    /// Crashes injected so far.
    pub crashes: u64,
}

impl Crasher {
    pub fn new(schedule: Schedule) -> Crasher {
        let seed = match schedule {
            Schedule::Random { seed, .. } => seed,
            _ => 0,
        };
        Crasher {
            schedule,
            rng: rng_stream(seed, 13),
            hits: 0,
            crashes: 0,
        }
    }

    /// A crash point named `name`: returns `Err(Halt::Crash(name))` if the process dies here.
    pub fn point(&mut self, name: &'static str) -> Result<(), Halt> {
        self.hits += 1;
        let crash = match self.schedule {
            Schedule::Never => false,
            Schedule::AtHit(k) => self.hits == k,
            Schedule::Random { probability, .. } => {
                self.crashes < MAX_RANDOM_CRASHES && self.rng.random_bool(probability)
            }
        };
        if crash {
            self.crashes += 1;
            return Err(Halt::Crash(name));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hit_crashes_exactly_once_at_the_kth_point() {
        let mut c = Crasher::new(Schedule::AtHit(3));
        let results: Vec<bool> = (0..6).map(|_| c.point("p").is_err()).collect();
        assert_eq!(results, [false, false, true, false, false, false]);
        assert_eq!(c.crashes, 1);
    }

    #[test]
    fn random_schedules_replay_from_their_seed() {
        let run = |seed| {
            let mut c = Crasher::new(Schedule::Random {
                probability: 0.3,
                seed,
            });
            (0..50).map(|_| c.point("p").is_err()).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
