//! Campaigns: the same simulation over many seeds, on every core.
//!
//! One seed explores one interleaving of messages, timers and faults. Bugs in distributed
//! protocols hide in rare interleavings, so we run thousands of seeds. A campaign hands seeds to
//! worker threads, shows a progress line when a person is watching (nothing when standard error
//! is not a terminal, as in CI), and reports every failing seed together with the exact command
//! that replays it: replaying one seed gives the identical run, under a debugger if need be.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Which seeds to run and how to tell a person to replay one.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// A short name for the progress bar and the report.
    pub name: String,
    /// The first seed.
    pub first_seed: u64,
    /// How many consecutive seeds to run.
    pub seeds: u64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// The replay command, with `{seed}` where the seed goes.
    pub replay: String,
}

/// What a campaign found.
#[derive(Clone, Debug)]
pub struct CampaignReport {
    pub name: String,
    pub passed: u64,
    /// Failing seeds and what went wrong, sorted by seed.
    pub failures: Vec<(u64, String)>,
    pub elapsed: Duration,
    /// The replay command template.
    pub replay: String,
}

impl CampaignReport {
    /// Seeds run per wall-clock second.
    pub fn seeds_per_sec(&self) -> f64 {
        (self.passed + self.failures.len() as u64) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The command that replays `seed`.
    pub fn replay_command(&self, seed: u64) -> String {
        self.replay.replace("{seed}", &seed.to_string())
    }

    /// Panics with every failure and its replay command, if there was any failure. For tests.
    pub fn assert_passed(&self) {
        if self.failures.is_empty() {
            return;
        }
        let mut text = format!(
            "campaign `{}`: {} of {} seeds failed\n",
            self.name,
            self.failures.len(),
            self.passed + self.failures.len() as u64
        );
        for (seed, why) in self.failures.iter().take(10) {
            text += &format!(
                "  seed {seed}: {why}\n    replay: {}\n",
                self.replay_command(*seed)
            );
        }
        panic!("{text}");
    }
}

impl Campaign {
    /// A campaign over seeds `0..seeds` on every core, for the test `name` of the integration
    /// test module `module` (pass `module_path!()`: `part2::ch10_chain` is the module
    /// `ch10_chain` of the test binary `code/tests/part2/main.rs`): a failure names the command
    /// that reruns that test.
    pub fn for_test(module: &str, name: &str, seeds: u64) -> Campaign {
        let (binary, filter) = match module.split_once("::") {
            Some((binary, path)) => (binary, format!("{path}::{name}")),
            None => (module, name.to_string()),
        };
        Campaign {
            name: name.to_string(),
            first_seed: 0,
            seeds,
            threads: 0,
            replay: format!("cargo test -p uds --release --test {binary} {filter} (seed {{seed}})"),
        }
    }

    /// Runs `check(seed)` for every seed. `check` returns `Err(explanation)` on failure; a panic
    /// inside it is caught and reported as a failure of that seed too.
    pub fn run<F>(&self, check: F) -> CampaignReport
    where
        F: Fn(u64) -> Result<(), String> + Sync,
    {
        let started = Instant::now();
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let bar = Progress::new(&self.name, self.seeds);
        let next = AtomicU64::new(0);
        let failures = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.seeds {
                            break;
                        }
                        let seed = self.first_seed + i;
                        let run = std::panic::AssertUnwindSafe(|| check(seed));
                        let outcome = std::panic::catch_unwind(run)
                            .unwrap_or_else(|panic| Err(panic_message(&panic)));
                        if let Err(why) = outcome {
                            bar.println(format!(
                                "seed {seed} failed: {why}\n  replay: {}",
                                self.replay.replace("{seed}", &seed.to_string())
                            ));
                            failures
                                .lock()
                                .expect("no worker panics holding it")
                                .push((seed, why));
                        }
                        bar.inc(1);
                    }
                });
            }
        });
        bar.finish();
        let mut failures = failures.into_inner().expect("workers are done");
        failures.sort();
        CampaignReport {
            name: self.name.clone(),
            passed: self.seeds - failures.len() as u64,
            failures,
            elapsed: started.elapsed(),
            replay: self.replay.clone(),
        }
    }
}

/// A progress line on standard error, drawn only when it is a terminal. Hand-rolled with std
/// (rather than `indicatif`, which the Rust playground does not offer) so that the simulator
/// runs in the playground.
struct Progress {
    name: String,
    total: u64,
    done: AtomicU64,
    started: Instant,
    visible: bool,
}

impl Progress {
    fn new(name: &str, total: u64) -> Progress {
        let visible = std::io::stderr().is_terminal();
        Progress {
            name: name.to_string(),
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            visible,
        }
    }

    fn inc(&self, by: u64) {
        let done = self.done.fetch_add(by, Ordering::Relaxed) + by;
        // Redraw about a hundred times per campaign, not once per seed.
        if self.visible && (done == self.total || done.is_multiple_of((self.total / 100).max(1))) {
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{}: {done}/{} seeds ({rate:.0} seeds/s)",
                self.name, self.total
            );
            let _ = err.flush();
        }
    }

    fn println(&self, line: String) {
        let mut err = std::io::stderr().lock();
        let clear = if self.visible { "\r\x1b[2K" } else { "" };
        let _ = writeln!(err, "{clear}{line}");
    }

    fn finish(&self) {
        if self.visible {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_their_seed_and_replay_command() {
        let campaign = Campaign {
            name: "odd seeds fail".into(),
            first_seed: 10,
            seeds: 10,
            threads: 2,
            replay: "cargo run --example x -- --seed {seed}".into(),
        };
        let report = campaign.run(|seed| {
            if seed % 2 == 1 {
                Err(format!("odd {seed}"))
            } else {
                Ok(())
            }
        });
        assert_eq!(report.passed, 5);
        assert_eq!(report.failures.first(), Some(&(11, "odd 11".to_string())));
        assert_eq!(
            report.replay_command(11),
            "cargo run --example x -- --seed 11"
        );
    }

    #[test]
    fn a_panicking_seed_is_a_failure_not_a_crash() {
        let campaign = Campaign {
            name: "panics".into(),
            first_seed: 0,
            seeds: 4,
            threads: 2,
            replay: "{seed}".into(),
        };
        let report = campaign.run(|seed| {
            assert!(seed != 2, "boom");
            Ok(())
        });
        assert_eq!(report.failures.len(), 1);
        assert!(report.failures[0].1.contains("boom"));
    }
}
