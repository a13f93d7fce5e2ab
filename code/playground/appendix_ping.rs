// GENERATED from code/examples/appendix_ping.rs and the `uds` modules sim by
// code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.
#![allow(dead_code, unused_imports)]
//! The appendix's first simulation: two nodes, one lossy link, one seed. Node 0 pings node 1
//! every 10 ms for a second of virtual time; node 1 answers each ping it receives. The program
//! runs seed 1 twice and seed 2 once, to show that a seed fixes the whole run.
//!
//! Run: `cargo run --release -p uds --example appendix_ping`
//!
//! playground-bundle: sim

use std::time::Duration;

use crate::sim::{Ctx, LinkConfig, NodeId, Process, Sim, Time, TimerId};

// ANCHOR: main
struct Pinger;

impl Process for Pinger {
    type Msg = &'static str;
    type Durable = (); // nothing survives a crash: these nodes keep no state at all

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>) {
        if ctx.id() == NodeId(0) {
            ctx.set_timer(TimerId(0), Duration::ZERO);
        }
    }
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId) {
        ctx.send(NodeId(1), "ping");
        ctx.set_timer(timer, Duration::from_millis(10));
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg) {
        ctx.count(msg); // node 1 counts "ping"s received, node 0 counts "pong"s
        if msg == "ping" {
            ctx.send(from, "pong");
        }
    }
    fn durable(&self) {}
}

fn main() {
    // Every link takes 5 ms and loses one message in ten, at random.
    let link = LinkConfig::constant(Duration::from_millis(5)).with_loss(0.1);
    let one_second = Time::from_millis(1_000);
    for seed in [1, 1, 2] {
        let mut sim = Sim::new(seed, link.clone(), vec![Pinger, Pinger]);
        sim.run_until(one_second).expect("no invariants to break");
        let (net, pongs, hash) = (sim.stats(), sim.metrics().counter("pong"), sim.trace_hash());
        println!(
            "seed {seed}: {} sent, {} lost, {pongs} pongs, hash {hash:016x}",
            net.sent, net.lost
        );
    }
}
// ANCHOR_END: main

mod sim {
//! A deterministic discrete-event simulator for distributed protocols.
//!
//! The simulator runs protocols written as sans-I/O state machines (see [`Process`]) on a
//! simulated network and simulated clocks, under faults you script or draw at random. It is the
//! Rust counterpart of the SimPy models a reader may know, with three differences that matter for
//! distributed systems:
//!
//! - **Determinism.** One seed fixes the whole run. Same seed, same trace, byte for byte
//!   ([`Sim::trace_hash`]). A failing run is a seed; a seed is a bug report.
//! - **Faults as first-class input.** Message loss, duplication, reordering, latency tails,
//!   bandwidth, partitions (both ways or one way), crashes with durable state, pauses and clock
//!   drift are all configuration ([`LinkConfig`], [`Fault`], [`Clock`], [`Nemesis`]).
//! - **Invariants after every event.** A check registered with [`Sim::add_invariant`] sees the
//!   whole system between any two events, which no test of a real deployment can.
//!
//! Layout: `rng` (seeded randomness), `time` (virtual time), `process` (the protocol contract),
//! `network` (links and partitions), `clock` (drift), `faults` (schedules and the nemesis),
//! `world` (the event loop), `metrics`, `trace`, `campaign` (many seeds on many cores).

mod campaign {
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

}
mod clock {
//! Per-node clocks that drift and start offset from true time.
//!
//! A real quartz clock runs a little fast or slow (tens of parts per million is typical, and
//! the rate wanders with temperature), and two machines' clocks disagree by whatever offset
//! their last synchronisation left. The simulator keeps true time; each node reads its own
//! clock, `local = offset + true * (1 + drift)`, and its timers run on that clock: a node whose
//! clock runs fast sees its timeouts expire early in true time.

use std::time::Duration;

use super::time::{Time, nanos};

// ANCHOR: clock
/// How one node's clock relates to true (simulated) time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    /// What the clock reads at true time zero, in nanoseconds (may be negative).
    pub offset_ns: i64,
    /// How fast the clock runs, in parts per million: +50 gains 50 µs per true second.
    /// Invariant: greater than -1,000,000 (a clock cannot run backwards or stand still).
    pub drift_ppm: i64,
}

impl Clock {
    /// The clock's reading at true time `t`, clamped at zero.
    pub fn local(&self, t: Time) -> Time {
        let t = i128::from(t.0);
        let drift = t * i128::from(self.drift_ppm) / 1_000_000;
        let reading = t + drift + i128::from(self.offset_ns);
        Time(reading.clamp(0, i128::from(u64::MAX)) as u64)
    }

    /// How much true time passes while this clock advances by `local`.
    pub fn real_duration(&self, local: Duration) -> Duration {
        if self.drift_ppm == 0 {
            return local;
        }
        assert!(
            self.drift_ppm > -1_000_000,
            "clock drift {} ppm",
            self.drift_ppm
        );
        let ns = u128::from(nanos(local)) * 1_000_000 / (1_000_000 + self.drift_ppm) as u128;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}
// ANCHOR_END: clock

}
mod faults {
//! Faults: what can go wrong, when, scripted by hand or drawn at random.
//!
//! A [`FaultSchedule`] is a list of timed [`Fault`]s. It can be written as text, one fault per
//! line, so that a scenario reads like a transcript:
//!
//! ```text
//! # partition the leader away, then heal
//! at 5s    partition 0 | 1,2
//! at 7.5s  heal
//! at 8s    crash 2
//! at 9s    restart 2
//! at 10s   pause 1
//! at 12s   resume 1
//! at 13s   oneway 0 -> 2
//! ```
//!
//! A [`Nemesis`] (the name Jepsen gave its fault injector) draws such a schedule at random from
//! the run's seed, so a campaign over many seeds explores many different fault patterns.

use std::fmt;
use std::time::Duration;

use super::process::NodeId;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt};

use super::rng::Exponential;
use super::time::{Time, parse_duration};

/// One thing that goes wrong (or is repaired).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The node stops; its volatile state is lost, its durable state is kept.
    Crash(NodeId),
    /// A crashed node starts again from its durable state.
    Restart(NodeId),
    /// The node freezes (a long GC pause, a stopped VM): it keeps its state but handles nothing.
    Pause(NodeId),
    /// A paused node continues, handling everything that arrived meanwhile.
    Resume(NodeId),
    /// No message crosses between the two sides, in either direction.
    Partition(Vec<NodeId>, Vec<NodeId>),
    /// No message goes from the first side to the second; the other direction still works.
    OneWay(Vec<NodeId>, Vec<NodeId>),
    /// Every partition is removed.
    Heal,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ids: &[NodeId]| {
            ids.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Fault::Crash(n) => write!(f, "crash {}", n.0),
            Fault::Restart(n) => write!(f, "restart {}", n.0),
            Fault::Pause(n) => write!(f, "pause {}", n.0),
            Fault::Resume(n) => write!(f, "resume {}", n.0),
            Fault::Partition(a, b) => write!(f, "partition {} | {}", list(a), list(b)),
            Fault::OneWay(a, b) => write!(f, "oneway {} -> {}", list(a), list(b)),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

/// Timed faults, in the order they happen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultSchedule {
    /// Invariant: sorted by time (stable, so faults at one instant keep their written order).
    pub faults: Vec<(Time, Fault)>,
}

/// A line of a fault script that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ScheduleError {}

impl FaultSchedule {
    /// Adds a fault at `at`, keeping the schedule sorted.
    pub fn add(&mut self, at: Time, fault: Fault) {
        let pos = self.faults.partition_point(|(t, _)| *t <= at);
        self.faults.insert(pos, (at, fault));
    }

    /// Parses a script (see the module docs). `nodes` is the number of nodes in the run, so
    /// that a node that does not exist is an error here rather than a panic later.
    pub fn parse(script: &str, nodes: usize) -> Result<FaultSchedule, ScheduleError> {
        let mut schedule = FaultSchedule::default();
        for (i, raw) in script.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| ScheduleError {
                line: i + 1,
                message,
            };
            let (at, fault) = parse_line(line, nodes).map_err(err)?;
            schedule.add(at, fault);
        }
        Ok(schedule)
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, fault) in &self.faults {
            writeln!(f, "at {}ms {fault}", at.0 / 1_000_000)?;
        }
        Ok(())
    }
}

fn parse_line(line: &str, nodes: usize) -> Result<(Time, Fault), String> {
    let mut words = line.split_whitespace();
    if words.next() != Some("at") {
        return Err(format!("`{line}` should start with `at <time>`"));
    }
    let when = words.next().ok_or("missing time after `at`")?;
    let at = Time::ZERO + parse_duration(when)?;
    let verb = words.next().ok_or("missing fault after the time")?;
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    let one = |rest: &str| parse_node(rest.trim(), nodes);
    let fault = match verb {
        "crash" => Fault::Crash(one(&rest)?),
        "restart" => Fault::Restart(one(&rest)?),
        "pause" => Fault::Pause(one(&rest)?),
        "resume" => Fault::Resume(one(&rest)?),
        "heal" if rest.is_empty() => Fault::Heal,
        "heal" => return Err(format!("`heal` takes no arguments, got `{rest}`")),
        "partition" => {
            let (a, b) = rest
                .split_once('|')
                .ok_or("partition needs two sides: `a,b | c`")?;
            Fault::Partition(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        "oneway" => {
            let (a, b) = rest
                .split_once("->")
                .ok_or("oneway needs a direction: `a -> b,c`")?;
            Fault::OneWay(parse_side(a, nodes)?, parse_side(b, nodes)?)
        }
        other => {
            return Err(format!(
                "unknown fault `{other}` (crash, restart, pause, resume, partition, oneway, heal)"
            ));
        }
    };
    Ok((at, fault))
}

fn parse_side(text: &str, nodes: usize) -> Result<Vec<NodeId>, String> {
    let side = text
        .split(',')
        .map(|n| parse_node(n.trim(), nodes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(side)
}

fn parse_node(text: &str, nodes: usize) -> Result<NodeId, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a node number"))?;
    if n >= nodes {
        return Err(format!(
            "node {n} does not exist (the run has nodes 0..{nodes})"
        ));
    }
    Ok(NodeId(n))
}

// ANCHOR: nemesis
/// A random fault injector: draws a fault schedule from a seed.
#[derive(Clone, Debug)]
pub struct Nemesis {
    /// Mean time between the starts of two faults (exponentially distributed).
    pub mean_interval: Duration,
    /// Mean time a fault lasts before it is repaired (exponentially distributed).
    pub mean_duration: Duration,
    /// Which kinds of fault to draw from.
    pub crash: bool,
    pub pause: bool,
    pub partition: bool,
    /// At most this many nodes are crashed or paused at once (e.g. a minority).
    pub max_down: usize,
}

impl Nemesis {
    /// The schedule of faults between `start` and `end` for nodes `0..nodes`. Every fault is
    /// repaired by `end`, so a run can check that the system recovers afterwards.
    pub fn schedule(
        &self,
        rng: &mut impl Rng,
        nodes: usize,
        start: Time,
        end: Time,
    ) -> FaultSchedule {
        let mut schedule = FaultSchedule::default();
        let mut kinds = Vec::new();
        kinds.extend(self.crash.then_some(0));
        kinds.extend(self.pause.then_some(1));
        kinds.extend(self.partition.then_some(2));
        if kinds.is_empty() || nodes == 0 {
            return schedule;
        }
        let interval = Exponential {
            mean: self.mean_interval.as_secs_f64(),
        };
        let duration = Exponential {
            mean: self.mean_duration.as_secs_f64(),
        };
        // When each node becomes healthy again; a node is not faulted twice at once.
        let mut down_until = vec![Time::ZERO; nodes];
        let mut t = start;
        loop {
            t = t + Duration::from_secs_f64(rng.sample(interval));
            if t >= end {
                break;
            }
            let repair = (t + Duration::from_secs_f64(rng.sample(duration))).min(end);
            match *kinds.choose(rng).expect("kinds is not empty") {
                2 => {
                    let cut = rng.random_range(1..nodes.max(2));
                    let mut ids: Vec<NodeId> = (0..nodes).map(NodeId).collect();
                    ids.shuffle(rng);
                    let (a, b) = ids.split_at(cut.min(nodes));
                    if !b.is_empty() {
                        schedule.add(t, Fault::Partition(a.to_vec(), b.to_vec()));
                        schedule.add(repair, Fault::Heal);
                    }
                }
                kind => {
                    let down = down_until.iter().filter(|u| **u > t).count();
                    let node = rng.random_range(0..nodes);
                    if down >= self.max_down || down_until[node] > t {
                        continue;
                    }
                    down_until[node] = repair;
                    let id = NodeId(node);
                    let (fail, fix) = if kind == 0 {
                        (Fault::Crash(id), Fault::Restart(id))
                    } else {
                        (Fault::Pause(id), Fault::Resume(id))
                    };
                    schedule.add(t, fail);
                    schedule.add(repair, fix);
                }
            }
        }
        schedule
    }
}
// ANCHOR_END: nemesis

}
mod metrics {
//! Counters and histograms that processes and the simulator fill during a run.
//!
//! Histograms keep every sample and compute exact percentiles by the nearest-rank method
//! (the smallest sample with at least p% of samples at or below it). Our runs record at most a
//! few million samples, so exactness is cheaper than explaining a sketch's error here; chapter
//! 31 builds a mergeable sketch for when it is not.

use std::collections::BTreeMap;

// ANCHOR: metrics
/// Named counters and histograms. Names are sorted, so reports list them in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    counters: BTreeMap<&'static str, u64>,
    histograms: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    /// Adds `by` to counter `name` (created at zero).
    pub fn count(&mut self, name: &'static str, by: u64) {
        *self.counters.entry(name).or_insert(0) += by;
    }

    /// Records one sample in histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.histograms.entry(name).or_default().record(value);
    }

    /// The value of counter `name` (zero if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// The histogram `name`, if anything was recorded in it.
    pub fn histogram(&self, name: &str) -> Option<&Histogram> {
        self.histograms.get(name)
    }

    /// All counters, by name.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.counters.iter().map(|(k, v)| (*k, *v))
    }
}
// ANCHOR_END: metrics

/// Every sample of one quantity, for exact percentiles.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    samples: Vec<f64>,
    /// Invariant: if true, `samples` is sorted ascending.
    sorted: bool,
}

impl Histogram {
    /// Adds a sample. NaN is refused, since it has no place in an order.
    pub fn record(&mut self, value: f64) {
        assert!(!value.is_nan(), "NaN recorded in a histogram");
        self.samples.push(value);
        self.sorted = false;
    }

    /// How many samples were recorded.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True if no sample was recorded.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The arithmetic mean, or `None` if empty.
    pub fn mean(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        Some(self.samples.iter().sum::<f64>() / self.samples.len() as f64)
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100), or `None` if empty.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        assert!((0.0..=100.0).contains(&p), "percentile {p} outside 0..=100");
        if self.samples.is_empty() {
            return None;
        }
        self.sort();
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        Some(self.samples[rank.clamp(1, self.samples.len()) - 1])
    }

    /// The samples in ascending order (for CDF plots).
    pub fn sorted_samples(&mut self) -> &[f64] {
        self.sort();
        &self.samples
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.samples.sort_by(f64::total_cmp);
            self.sorted = true;
        }
    }
}

}
mod network {
//! The simulated network: what can happen to a message between two nodes.
//!
//! Each directed link `from -> to` has a [`LinkConfig`]: a latency distribution, a probability
//! of losing a message, of duplicating it, of holding it back long enough to reorder it, and an
//! optional bandwidth. Partitions block links, in one direction or both, until healed. A message
//! is judged once, when it is sent: if the link is blocked or the message is lost it never
//! arrives; otherwise it arrives once (or twice, if duplicated) after its sampled delay.
//!
//! Simplification: a partition that starts while a message is in flight does not stop it,
//! just as packets already on the wire still arrive when a cable is pulled at one end.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::process::NodeId;
use rand::distr::{Distribution, OpenClosed01};
use rand::{Rng, RngExt};

use super::rng::{Exponential, StandardNormal};
use super::time::{Time, nanos};

// ANCHOR: latency
/// How long a message spends on a link.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(Duration),
    /// Uniform between `min` and `max`.
    Uniform { min: Duration, max: Duration },
    /// `min` plus an exponential delay with mean `mean`: memoryless queueing delay.
    Exponential { min: Duration, mean: Duration },
    /// Log-normal with median `median` and shape `sigma`: a long tail, as measured in
    /// datacenters, where the p99 is many times the median.
    LogNormal { median: Duration, sigma: f64 },
    /// Pareto with minimum `scale` and tail index `shape`: the heaviest tail; for
    /// `shape <= 1` even the mean is infinite.
    Pareto { scale: Duration, shape: f64 },
}

/// Drawing one delay: a latency model is a distribution in rand's sense.
impl Distribution<Duration> for Latency {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = |d: &Duration| d.as_secs_f64();
        let s = match self {
            Latency::Constant(d) => return *d,
            Latency::Uniform { min, max } => {
                secs(min) + rng.random::<f64>() * (secs(max) - secs(min))
            }
            Latency::Exponential { min, mean } => {
                secs(min) + rng.sample(Exponential { mean: secs(mean) })
            }
            Latency::LogNormal { median, sigma } => {
                secs(median) * (sigma * rng.sample(StandardNormal)).exp()
            }
            Latency::Pareto { scale, shape } => {
                let u: f64 = rng.sample(OpenClosed01);
                secs(scale) / u.powf(1.0 / shape)
            }
        };
        // Cap at a day so that a pathological tail cannot overflow the clock.
        Duration::from_secs_f64(s.clamp(0.0, 86_400.0))
    }
}

impl Latency {
    /// The largest delay this distribution can produce, if it is bounded.
    pub fn upper_bound(&self) -> Option<Duration> {
        match self {
            Latency::Constant(d) => Some(*d),
            Latency::Uniform { max, .. } => Some(*max),
            _ => None,
        }
    }
}
// ANCHOR_END: latency

// ANCHOR: link_config
/// The behaviour of one directed link.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// The delay of a message that is not lost.
    pub latency: Latency,
    /// Probability that a message is silently dropped.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by up to `reorder_window` extra.
    pub reorder: f64,
    /// The extra delay of a held-back message is uniform in `[0, reorder_window]`.
    pub reorder_window: Duration,
    /// Bytes per second, or `None` for unlimited. A limited link sends one message at a time,
    /// so a large message delays the ones behind it.
    pub bandwidth: Option<u64>,
}
// ANCHOR_END: link_config

impl LinkConfig {
    /// A perfect link with a constant delay: no loss, duplication or reordering.
    pub fn constant(latency: Duration) -> LinkConfig {
        LinkConfig {
            latency: Latency::Constant(latency),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            bandwidth: None,
        }
    }

    /// This link with a different latency distribution.
    pub fn with_latency(mut self, latency: Latency) -> LinkConfig {
        self.latency = latency;
        self
    }

    /// This link with loss probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> LinkConfig {
        self.loss = loss;
        self
    }

    /// This link with duplication probability `duplicate`.
    pub fn with_duplicate(mut self, duplicate: f64) -> LinkConfig {
        self.duplicate = duplicate;
        self
    }

    /// This link, holding back a fraction `reorder` of messages by up to `window`.
    pub fn with_reorder(mut self, reorder: f64, window: Duration) -> LinkConfig {
        self.reorder = reorder;
        self.reorder_window = window;
        self
    }

    /// This link with a bandwidth of `bytes_per_sec`.
    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> LinkConfig {
        self.bandwidth = Some(bytes_per_sec);
        self
    }

    /// Checks that every probability is a probability and the bandwidth is not zero.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1]"));
            }
        }
        if self.bandwidth == Some(0) {
            return Err("bandwidth must be positive".to_string());
        }
        if let Latency::LogNormal { sigma: s, .. } | Latency::Pareto { shape: s, .. } = self.latency
            && !(s.is_finite() && s > 0.0)
        {
            return Err(format!("latency shape {s} must be positive"));
        }
        Ok(())
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The link lost it.
    Loss,
    /// A partition blocked the link.
    Partition,
    /// The receiver was crashed when it arrived.
    Crashed,
}

/// The fate of one sent message: when its copies arrive, or why none does.
#[derive(Clone, Debug, PartialEq)]
pub enum Fate {
    /// Delivered at the first instant, and again at the second if duplicated.
    Arrives(Time, Option<Time>),
    /// Never delivered.
    Dropped(DropReason),
}

/// All links of a run: a default configuration, per-link overrides, and the partitions.
#[derive(Clone, Debug)]
pub struct Network {
    default: LinkConfig,
    overrides: BTreeMap<(NodeId, NodeId), LinkConfig>,
    /// Directed links that a partition currently blocks.
    blocked: BTreeSet<(NodeId, NodeId)>,
    /// For bandwidth-limited links: when the link finishes sending what it already has.
    busy_until: BTreeMap<(NodeId, NodeId), Time>,
}

impl Network {
    /// A network in which every link behaves as `default`.
    pub fn new(default: LinkConfig) -> Network {
        Network {
            default,
            overrides: BTreeMap::new(),
            blocked: BTreeSet::new(),
            busy_until: BTreeMap::new(),
        }
    }

    /// Gives the directed link `from -> to` its own configuration.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, config: LinkConfig) {
        self.overrides.insert((from, to), config);
    }

    /// The configuration of link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        if self.overrides.is_empty() {
            return &self.default;
        }
        self.overrides.get(&(from, to)).unwrap_or(&self.default)
    }

    /// Blocks every link from a node of `from` to a node of `to` (one direction only).
    pub fn block(&mut self, from: &[NodeId], to: &[NodeId]) {
        for &a in from {
            for &b in to {
                if a != b {
                    self.blocked.insert((a, b));
                }
            }
        }
    }

    /// Blocks both directions between the two sides.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    /// True if a partition blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        !self.blocked.is_empty() && self.blocked.contains(&(from, to))
    }

    /// Decides the fate of a message of `size` bytes sent at `now` on `from -> to`.
    pub fn transmit(
        &mut self,
        from: NodeId,
        to: NodeId,
        size: usize,
        now: Time,
        rng: &mut impl Rng,
    ) -> Fate {
        if self.is_blocked(from, to) {
            return Fate::Dropped(DropReason::Partition);
        }
        // Cloning is cheap: a link configuration holds no heap data.
        let link = self.link(from, to).clone();
        if rng.random_bool(link.loss) {
            return Fate::Dropped(DropReason::Loss);
        }
        // A bandwidth-limited link serialises messages: this one starts when the link is free.
        let mut departs = now;
        if let Some(bytes_per_sec) = link.bandwidth {
            let busy = self.busy_until.entry((from, to)).or_insert(Time::ZERO);
            let start = departs.max(*busy);
            let transmit_ns = (size as u128 * 1_000_000_000).div_ceil(bytes_per_sec as u128);
            departs = Time(start.0.saturating_add(transmit_ns as u64));
            *busy = departs;
        }
        let first = departs + delay(&link, rng);
        let second = rng
            .random_bool(link.duplicate)
            .then(|| departs + delay(&link, rng));
        Fate::Arrives(first, second)
    }
}

/// One message's delay on `link`: its latency, plus a hold-back if it is chosen for reordering.
fn delay(link: &LinkConfig, rng: &mut impl Rng) -> Duration {
    let mut d = link.latency.sample(rng);
    if rng.random_bool(link.reorder) {
        d += Duration::from_nanos(rng.random_range(0..=nanos(link.reorder_window)));
    }
    d
}

}
mod process {
//! The contract between a protocol and whatever runs it.
//!
//! A protocol is written as a *sans-I/O* state machine: it never reads a clock, opens a socket or
//! touches a global random generator. The runtime calls it with one input at a time (the start
//! of the run, a message, a timer) and a [`Ctx`] that carries the node's clock reading and random
//! stream in, and collects the node's effects out: messages to send and timers to set. The same
//! state machine can therefore run on the simulator (virtual time, injected faults) and on the
//! tokio driver (real sockets, real time) without a line changing. This is the shape of
//! etcd-io/raft's `Ready` and of stateright's `Out`.

use std::fmt::{self, Debug};
use std::time::Duration;

use super::metrics::Metrics;
use super::rng::SimRng;
use super::time::Time;

// ANCHOR: node_id
/// The name of a node in a run: its index, from zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct NodeId(pub usize);
// ANCHOR_END: node_id

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A timer of one node. Each node numbers its own timers (e.g. `0` = election, `1` = heartbeat);
/// setting a timer again replaces the pending one, like resetting an alarm clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TimerId(pub u32);

// ANCHOR: process
/// A protocol participant as a deterministic state machine.
pub trait Process {
    /// What nodes of this protocol send each other.
    type Msg: Clone + Debug;
    /// What survives a crash: the node's disk. `()` for a process with no durable state.
    type Durable: Clone + Debug;

    /// Called once when the node starts, and again after each restart.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self::Msg>);

    /// Called when a message from `from` is delivered to this node.
    fn on_message(&mut self, ctx: &mut Ctx<'_, Self::Msg>, from: NodeId, msg: Self::Msg);

    /// Called when a timer this node set fires (and was not reset or cancelled since).
    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self::Msg>, timer: TimerId);

    /// The state to keep when the node crashes; it is handed to the restarted node.
    fn durable(&self) -> Self::Durable;

    /// The size of a message on the wire, in bytes (only bandwidth-limited links use it).
    fn message_size(_msg: &Self::Msg) -> usize {
        0
    }
}
// ANCHOR_END: process

// ANCHOR: effect
/// What a process asks its runtime to do: effects are data, not calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect<M> {
    /// Send `msg` to node `to`. The network may delay, lose, duplicate or reorder it.
    Send { to: NodeId, msg: M },
    /// Fire `timer` after `after` of this node's local time, replacing a pending one.
    SetTimer { timer: TimerId, after: Duration },
    /// Forget `timer` if it is pending.
    CancelTimer { timer: TimerId },
}
// ANCHOR_END: effect

// ANCHOR: ctx
// ANCHOR: ctx_struct
/// What a process sees of the world while it handles one input.
pub struct Ctx<'a, M> {
    id: NodeId,
    now: Time,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<M>>,
    metrics: &'a mut Metrics,
}
// ANCHOR_END: ctx_struct

impl<'a, M> Ctx<'a, M> {
    /// Assembles a context; runtimes (the simulator, the tokio driver) call this.
    pub fn new(
        id: NodeId,
        now: Time,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<M>>,
        metrics: &'a mut Metrics,
    ) -> Self {
        Ctx {
            id,
            now,
            rng,
            effects,
            metrics,
        }
    }

    /// This node's name.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This node's *local* clock: it may run fast or slow and be offset from true time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// This node's random stream, derived from the run's seed. It implements `rand::Rng`:
    /// draw with `rand::RngExt` (`random_range`, `random_bool`, `sample`) and
    /// `rand::seq::IndexedRandom` (`choose`).
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Sets (or resets) `timer` to fire after `after` of local time.
    pub fn set_timer(&mut self, timer: TimerId, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Cancels `timer` if it is pending.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Adds one to the counter `name`.
    pub fn count(&mut self, name: &'static str) {
        self.metrics.count(name, 1);
    }

    /// Adds `by` to the counter `name`.
    pub fn add(&mut self, name: &'static str, by: u64) {
        self.metrics.count(name, by);
    }

    /// Records `value` in the histogram `name`.
    pub fn observe(&mut self, name: &'static str, value: f64) {
        self.metrics.observe(name, value);
    }
}
// ANCHOR_END: ctx
}
mod rng {
//! Seeded randomness for simulations, through the `rand` crate's traits.
//!
//! Every random choice in a run (a link's latency, a lost packet, a node's election timeout)
//! comes from a generator derived from the run's single seed. That is what makes a run
//! replayable: the same seed gives the same choices in the same order.
//!
//! Protocol code draws with the API a Rust programmer already knows: `ctx.rng()` is a
//! [`SimRng`], which implements `rand::Rng` and `rand::SeedableRng`, so a handler writes
//! `ctx.rng().random_range(150..=300)`, `random_bool(p)`, `items.choose(ctx.rng())` or
//! `ctx.rng().sample(distribution)` with `rand::RngExt` and `rand::seq::IndexedRandom` in scope.
//!
//! Reproducibility is a promise about two things, the generator and the algorithms that turn
//! its bits into values, and we lean on the `rand` project's written policy for both (The Rust
//! Rand Book, "Reproducibility"). The generator is `rand::rngs::Xoshiro256PlusPlus` (Blackman
//! and Vigna, ACM TOMS 2021; seeded through SplitMix64, Steele, Lea and Flood, OOPSLA 2014), one of
//! rand's *named portable* generators, not `StdRng` or `SmallRng`, which rand documents as free
//! to change algorithm in any release. For portable items rand promises the same values on every
//! platform and across patch releases; a minor release (0.10 to 0.11) may change values and
//! must say so in its changelog. So `code/Cargo.toml` asks for rand 0.10 (patch releases only),
//! and `value_stability` below pins a few draws of every kind we use: an upgrade that changes
//! them fails that test, and then every checked-in output must be regenerated on purpose.
//!
//! Indexes are portable too: rand samples a `usize` range, and chooses and shuffles, through
//! 32-bit draws, so a 32-bit and a 64-bit machine make the same choices. One caveat remains:
//! our floating-point transforms ([`Exponential`], [`StandardNormal`], log-normal and Pareto
//! latencies) call std's `ln`, `cos`, `exp` and `powf`, whose last bit may differ between
//! platforms' maths libraries. The checked-in outputs come from x86-64 Linux.
//!
//! The exponential, normal and Zipf distributions live in `rand_distr`, which the Rust
//! playground does not offer, so the three we need are small types here implementing
//! `rand::distr::Distribution`.

use std::f64::consts::TAU;

use rand::distr::{Distribution, OpenClosed01};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

// ANCHOR: rng
/// The simulator's generator: rand's portable xoshiro256++, seeded through SplitMix64.
pub type SimRng = Xoshiro256PlusPlus;

/// The stream of sub-component `stream` (a node, the network, a fault schedule) of the run
/// `seed`. Different streams of one seed are unrelated, so a random choice added to one node's
/// code does not shift the draws of any other node.
pub fn rng_stream(seed: u64, stream: u64) -> SimRng {
    let mut state = seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F);
    SimRng::seed_from_u64(splitmix64(&mut state))
}

/// One step of SplitMix64: it mixes `seed ^ stream` so that nearby inputs seed unrelated
/// generators.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
// ANCHOR_END: rng

// ANCHOR: distributions
/// The exponential distribution with mean `mean` (memoryless waiting times: think times,
/// arrivals of a Poisson process, queueing delay), sampled by inverting its CDF.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Exponential {
    pub mean: f64,
}

impl Distribution<f64> for Exponential {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        // A uniform draw in (0, 1], so that the logarithm is finite.
        let u: f64 = rng.sample(OpenClosed01);
        -self.mean * u.ln()
    }
}

/// The standard normal distribution (mean 0, standard deviation 1), by the Box-Muller
/// transform. Named as in `rand_distr`, so that code moving there changes only an import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StandardNormal;

impl Distribution<f64> for StandardNormal {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let u1: f64 = rng.sample(OpenClosed01);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}
// ANCHOR_END: distributions

// ANCHOR: zipf
/// The Zipf distribution over ranks `0..n` (rank 0 the most popular): rank `k` is drawn with
/// probability proportional to `1 / (k + 1)^s`. It is the usual model of popularity skew in
/// caching and partitioning experiments: a few keys get most requests. With `s = 0` every rank is
/// equally likely; around `s = 1` (web objects, Breslau et al., INFOCOM 1999) the head dominates.
/// Sampled by inverting the cumulative weights with a binary search, so building it costs `O(n)`
/// memory once and each draw `O(log n)`. Named as in `rand_distr`, whose `Zipf` yields a float
/// rank starting at 1; this one yields a `usize` index starting at 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Zipf {
    /// `cumulative[k]` is the total weight of ranks `0..=k`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with exponent `s`. `None` if `n` is 0 or `s` is negative or not finite.
    pub fn new(n: usize, s: f64) -> Option<Zipf> {
        if n == 0 || !s.is_finite() || s < 0.0 {
            return None;
        }
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(s);
                total
            })
            .collect();
        Some(Zipf { cumulative })
    }

    /// How many ranks there are.
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Always false: a `Zipf` has at least one rank.
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// The probability of rank `k` (0 if `k` is out of range).
    pub fn probability(&self, k: usize) -> f64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        match k {
            0 => self.cumulative[0] / total,
            k if k < self.cumulative.len() => (self.cumulative[k] - self.cumulative[k - 1]) / total,
            _ => 0.0,
        }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u: f64 = rng.random::<f64>() * total;
        // The first rank whose cumulative weight exceeds u.
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}
// ANCHOR_END: zipf

}
mod time {
//! Virtual time.
//!
//! Simulated time is an integer count of nanoseconds since the start of the run. Integers,
//! not floats, so that adding the same delays in the same order always lands on the same
//! instant, and so that two events scheduled for the same instant really compare equal (the
//! event queue then breaks the tie by insertion order, see `world.rs`).

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// An instant of virtual time: nanoseconds since the simulation started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub u64);

impl Time {
    /// The start of every run.
    pub const ZERO: Time = Time(0);
    /// Later than any event a run can schedule.
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `secs` seconds after the start (fractions allowed).
    pub fn from_secs_f64(secs: f64) -> Time {
        Time((secs * 1e9).round() as u64)
    }

    /// The instant `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Time {
        Time(ms * 1_000_000)
    }

    /// Seconds since the start, as a float (for reports and figures).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Milliseconds since the start, as a float (for reports and figures).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(d)))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}s", self.as_secs_f64())
    }
}

/// A duration as whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Parses a duration written as a number and a unit: `250ms`, `1.5s`, `20us`, `7ns`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{text}` has no unit (use ns, us, ms or s)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}` (use ns, us, ms or s)"
            ));
        }
    };
    let ns = value * scale;
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(Duration::from_nanos(ns.round() as u64))
}

}
mod trace {
//! What happened in a run: a fingerprint always, a full record on request.
//!
//! The fingerprint (`trace hash`) is a 64-bit FNV-1a hash of every event the simulator
//! processed, message contents included (through their `Debug` text). Two runs with the same seed
//! must have the same fingerprint; a test checks this for every experiment, so any hidden source
//! of non-determinism (a `HashMap` iteration, a wall-clock read) shows up as a failing test.
//!
//! The full record ([`TraceEvent`]s, serialisable with serde when the `serde` feature is on) feeds figures such as space-time
//! diagrams, and can be written as JSON for replay elsewhere.

use super::time::Time;

/// How much of a run the simulator records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TraceLevel {
    /// Nothing: the fastest setting, for benchmarks.
    Off,
    /// The fingerprint only.
    Hash,
    /// The fingerprint and every event.
    Full,
}

/// One recorded event. Node numbers are plain integers so the JSON stays simple.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TraceEvent {
    /// Virtual time in nanoseconds.
    pub at_ns: u64,
    /// What happened.
    pub kind: TraceKind,
}

/// The kinds of recorded event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "type", rename_all = "snake_case"))]
pub enum TraceKind {
    /// A node started (or restarted).
    Start { node: usize },
    /// A node handed a message to the network.
    Send { from: usize, to: usize, msg: String },
    /// A message reached its destination and was handled.
    Deliver { from: usize, to: usize, msg: String },
    /// A message was lost, blocked by a partition, or reached a crashed node.
    Drop {
        from: usize,
        to: usize,
        reason: String,
        msg: String,
    },
    /// A timer fired.
    Timer { node: usize, timer: u32 },
    /// A fault was injected or repaired.
    Fault { fault: String },
}

/// A 64-bit FNV-1a hash, fed field by field. Its output is fixed by its definition, unlike
/// `std`'s `DefaultHasher`, whose algorithm may change between Rust releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xCBF2_9CE4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    /// Mixes a number into the hash.
    pub fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }
}

/// The recorder the simulator owns.
#[derive(Clone, Debug)]
pub(crate) struct Recorder {
    pub(crate) level: TraceLevel,
    pub(crate) hash: Fnv64,
    pub(crate) events: Vec<TraceEvent>,
}

impl Recorder {
    pub(crate) fn new(level: TraceLevel) -> Recorder {
        Recorder {
            level,
            hash: Fnv64::default(),
            events: Vec::new(),
        }
    }

    /// Records `kind` at `at`: hashes it, and keeps it if the level is `Full`.
    pub(crate) fn record(&mut self, at: Time, kind: TraceKind) {
        self.hash.u64(at.0);
        match &kind {
            TraceKind::Start { node } => {
                self.hash.u64(1);
                self.hash.u64(*node as u64);
            }
            TraceKind::Send { from, to, msg } | TraceKind::Deliver { from, to, msg } => {
                self.hash.u64(if matches!(kind, TraceKind::Send { .. }) {
                    2
                } else {
                    3
                });
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Drop {
                from,
                to,
                reason,
                msg,
            } => {
                self.hash.u64(4);
                self.hash.u64(*from as u64);
                self.hash.u64(*to as u64);
                self.hash.bytes(reason.as_bytes());
                self.hash.bytes(msg.as_bytes());
            }
            TraceKind::Timer { node, timer } => {
                self.hash.u64(5);
                self.hash.u64(*node as u64);
                self.hash.u64(u64::from(*timer));
            }
            TraceKind::Fault { fault } => {
                self.hash.u64(6);
                self.hash.bytes(fault.as_bytes());
            }
        }
        if self.level == TraceLevel::Full {
            self.events.push(TraceEvent { at_ns: at.0, kind });
        }
    }
}

}
mod world {
//! The simulator's event loop.
//!
//! A [`Sim`] owns the processes, the network, the clocks and a priority queue of pending events
//! (deliveries, timers, faults). [`Sim::step`] pops the earliest event, advances virtual time to
//! it, hands it to the process it concerns, turns the effects the process returns into new
//! events, and then checks every invariant. Nothing happens between events, so a run that
//! covers an hour of virtual time can take milliseconds of real time.
//!
//! Determinism: events at the same instant are ordered by a sequence number assigned when they
//! were scheduled, every random choice comes from a stream derived from the one seed, and no
//! iteration depends on hash-map order. The same seed therefore gives the same run, which the
//! trace hash (see `trace.rs`) lets tests check.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::clock::Clock;
use super::faults::{Fault, FaultSchedule};
use super::metrics::Metrics;
use super::network::{DropReason, Fate, LinkConfig, Network};
use super::process::{Ctx, Effect, NodeId, Process, TimerId};
use super::rng::{SimRng, rng_stream};
use super::time::Time;
use super::trace::{Recorder, TraceEvent, TraceKind, TraceLevel};

/// An invariant: a named check of the whole system, run after every event.
type Invariant<P> = (String, Box<dyn Fn(&Sim<P>) -> Result<(), String>>);

/// Builds a fresh process for a restarted node from what it had on disk.
type Restarter<P> = Box<dyn FnMut(NodeId, <P as Process>::Durable) -> P>;

/// What the event loop does next.
enum EventKind<M> {
    Start(NodeId),
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: M,
    },
    Timer {
        node: NodeId,
        timer: TimerId,
    },
    /// Boxed: faults are rare and large (a partition holds two lists of nodes), and every
    /// entry of the queue is as large as its largest kind. Small entries make the heap's sift
    /// operations, the hot path of every run, move fewer bytes.
    Fault(Box<Fault>),
}

/// A scheduled event. Ordered by time, then by the order in which it was scheduled.
struct Entry<M> {
    at: Time,
    seq: u64,
    kind: EventKind<M>,
}

impl<M> PartialEq for Entry<M> {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl<M> Eq for Entry<M> {}
impl<M> PartialOrd for Entry<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> Ord for Entry<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed, so that std's max-heap pops the earliest event first.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Whether a node is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Handling events.
    Up,
    /// Frozen: events wait until it resumes.
    Paused,
    /// Stopped: volatile state lost, deliveries dropped, until restarted.
    Crashed,
}

struct Node<P: Process> {
    /// Invariant: `Some` unless the node is crashed.
    process: Option<P>,
    state: NodeState,
    /// What the node had on disk when it last crashed.
    disk: Option<P::Durable>,
    rng: SimRng,
    clock: Clock,
    /// For each timer id, the sequence number of its pending event (0 = none). A timer event
    /// whose sequence number no longer matches was reset or cancelled, and is ignored.
    timers: Vec<u64>,
    /// Events that arrived while the node was paused, in arrival order.
    deferred: Vec<Entry<P::Msg>>,
    /// Whether `on_start` has run (at its start event, or at a restart that came first).
    /// Invariant: `on_start` runs once per incarnation, never on a crashed or paused node.
    started: bool,
}

/// Counts of what the network did to messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub sent: u64,
    pub delivered: u64,
    pub duplicated: u64,
    pub lost: u64,
    pub blocked: u64,
    pub to_crashed: u64,
}

/// A broken invariant, with what is needed to replay the run that broke it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvariantViolation {
    pub name: String,
    pub message: String,
    pub at: Time,
    pub event: u64,
    pub seed: u64,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` broken at {} (event {}) with seed {}: {}",
            self.name, self.at, self.event, self.seed, self.message
        )
    }
}

impl std::error::Error for InvariantViolation {}

// ANCHOR: sim
/// A deterministic discrete-event simulation of processes of type `P`.
pub struct Sim<P: Process> {
    seed: u64,
    now: Time,
    /// The next sequence number; also breaks ties between events at one instant.
    seq: u64,
    queue: BinaryHeap<Entry<P::Msg>>,
    nodes: Vec<Node<P>>,
    network: Network,
    net_rng: SimRng,
    stats: NetStats,
    metrics: Metrics,
    /// Reused for every handler call, so the hot path does not allocate.
    effects: Vec<Effect<P::Msg>>,
    invariants: Vec<Invariant<P>>,
    restarter: Option<Restarter<P>>,
    recorder: Recorder,
    events: u64,
}
// ANCHOR_END: sim

impl<P: Process> Sim<P> {
    /// A run of `processes` (node `i` is `processes[i]`) on a network whose links all behave as
    /// `link`. Every node starts at time zero. Everything random derives from `seed`.
    pub fn new(seed: u64, link: LinkConfig, processes: Vec<P>) -> Sim<P> {
        if let Err(e) = link.validate() {
            panic!("invalid link configuration: {e}");
        }
        let mut sim = Sim {
            seed,
            now: Time::ZERO,
            seq: 1,
            queue: BinaryHeap::new(),
            nodes: Vec::with_capacity(processes.len()),
            network: Network::new(link),
            net_rng: rng_stream(seed, 0),
            stats: NetStats::default(),
            metrics: Metrics::default(),
            effects: Vec::new(),
            invariants: Vec::new(),
            restarter: None,
            recorder: Recorder::new(TraceLevel::Hash),
            events: 0,
        };
        for (i, process) in processes.into_iter().enumerate() {
            sim.nodes.push(Node {
                process: Some(process),
                state: NodeState::Up,
                disk: None,
                rng: rng_stream(seed, i as u64 + 1),
                clock: Clock::default(),
                timers: Vec::new(),
                deferred: Vec::new(),
                started: false,
            });
            sim.push(Time::ZERO, EventKind::Start(NodeId(i)));
        }
        sim
    }

    /// Sets how much of the run is recorded (default: the hash only).
    pub fn set_trace(&mut self, level: TraceLevel) {
        self.recorder.level = level;
    }

    /// Gives node `id` a drifting or offset clock.
    pub fn set_clock(&mut self, id: NodeId, clock: Clock) {
        self.nodes[id.0].clock = clock;
    }

    /// Gives the directed link `from -> to` its own behaviour.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        if let Err(e) = link.validate() {
            panic!("invalid configuration for link {from} -> {to}: {e}");
        }
        self.network.set_link(from, to, link);
    }

    // ANCHOR: callbacks
    /// How a crashed node comes back: `f(id, disk)` builds its fresh process.
    pub fn on_restart(&mut self, f: impl FnMut(NodeId, P::Durable) -> P + 'static) {
        self.restarter = Some(Box::new(f));
    }

    /// Adds an invariant, checked after every event from now on.
    pub fn add_invariant(
        &mut self,
        name: &str,
        check: impl Fn(&Sim<P>) -> Result<(), String> + 'static,
    ) {
        self.invariants.push((name.to_string(), Box::new(check)));
    }
    // ANCHOR_END: callbacks

    /// Schedules `fault` to happen at `at`.
    pub fn schedule_fault(&mut self, at: Time, fault: Fault) {
        self.check_fault(&fault);
        self.push(at.max(self.now), EventKind::Fault(Box::new(fault)));
    }

    /// Schedules every fault of `schedule`.
    pub fn schedule(&mut self, schedule: &FaultSchedule) {
        for (at, fault) in &schedule.faults {
            self.schedule_fault(*at, fault.clone());
        }
    }

    /// Delivers `msg` to `to` at `at` as if `from` had sent it, bypassing the network.
    pub fn inject(&mut self, at: Time, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(to.0 < self.nodes.len(), "inject to unknown node {to}");
        self.push(at.max(self.now), EventKind::Deliver { from, to, msg });
    }

    /// Applies `fault` now.
    pub fn apply(&mut self, fault: Fault) {
        self.check_fault(&fault);
        self.apply_fault(fault);
    }

    /// Runs every event up to and including `until`; virtual time then stands at `until`.
    pub fn run_until(&mut self, until: Time) -> Result<(), InvariantViolation> {
        while self.queue.peek().is_some_and(|e| e.at <= until) {
            self.step()?;
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Runs for `d` of virtual time from now.
    pub fn run_for(&mut self, d: Duration) -> Result<(), InvariantViolation> {
        self.run_until(self.now + d)
    }

    // ANCHOR: step
    /// Processes the earliest pending event. Returns `Ok(false)` if there was none.
    pub fn step(&mut self) -> Result<bool, InvariantViolation> {
        let Some(entry) = self.queue.pop() else {
            return Ok(false);
        };
        debug_assert!(entry.at >= self.now, "time went backwards");
        self.now = entry.at;
        self.events += 1;
        match entry.kind {
            EventKind::Start(id) => match self.nodes[id.0].state {
                // A fault applied before the start event (`apply` at time zero): a restart
                // has already started the node, a crashed node starts when it restarts, and a
                // paused one starts when it resumes.
                NodeState::Up if !self.nodes[id.0].started => self.start(id),
                NodeState::Paused => {
                    let kind = EventKind::Start(id);
                    self.defer(id, entry.at, entry.seq, kind);
                }
                NodeState::Up | NodeState::Crashed => {
                    self.events -= 1;
                    return Ok(true);
                }
            },
            EventKind::Fault(fault) => self.apply_fault(*fault),
            EventKind::Deliver { from, to, msg } => match self.nodes[to.0].state {
                NodeState::Up => self.deliver(from, to, msg),
                NodeState::Paused => {
                    let kind = EventKind::Deliver { from, to, msg };
                    self.defer(to, entry.at, entry.seq, kind);
                }
                NodeState::Crashed => self.drop_message(from, to, DropReason::Crashed, &msg),
            },
            EventKind::Timer { node, timer } => {
                let index = timer.0 as usize;
                if self.nodes[node.0].timers.get(index) != Some(&entry.seq) {
                    // Reset, cancelled or lost in a crash since it was set: not an event.
                    self.events -= 1;
                    return Ok(true);
                }
                match self.nodes[node.0].state {
                    NodeState::Up => {
                        self.nodes[node.0].timers[index] = 0;
                        self.fire(node, timer);
                    }
                    NodeState::Paused => {
                        let kind = EventKind::Timer { node, timer };
                        self.defer(node, entry.at, entry.seq, kind);
                    }
                    NodeState::Crashed => unreachable!("a crash clears the node's timers"),
                }
            }
        }
        self.check_invariants()?;
        Ok(true)
    }
    // ANCHOR_END: step

    fn push(&mut self, at: Time, kind: EventKind<P::Msg>) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        self.queue.push(Entry { at, seq, kind });
        seq
    }

    fn start(&mut self, id: NodeId) {
        self.nodes[id.0].started = true;
        if self.recorder.level > TraceLevel::Off {
            self.recorder
                .record(self.now, TraceKind::Start { node: id.0 });
        }
        self.dispatch(id, |p, ctx| p.on_start(ctx));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.stats.delivered += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Deliver {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        self.dispatch(to, |p, ctx| p.on_message(ctx, from, msg));
    }

    fn fire(&mut self, node: NodeId, timer: TimerId) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Timer {
                    node: node.0,
                    timer: timer.0,
                },
            );
        }
        self.dispatch(node, |p, ctx| p.on_timer(ctx, timer));
    }

    /// Runs one handler of node `id` and turns its effects into events.
    fn dispatch(&mut self, id: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>)) {
        let mut effects = std::mem::take(&mut self.effects);
        let node = &mut self.nodes[id.0];
        // A default clock reads true time: skip its 128-bit arithmetic on the hot path.
        let local_now = if node.clock == Clock::default() {
            self.now
        } else {
            node.clock.local(self.now)
        };
        let process = node.process.as_mut().expect("dispatch to a crashed node");
        let mut ctx = Ctx::new(
            id,
            local_now,
            &mut node.rng,
            &mut effects,
            &mut self.metrics,
        );
        handler(process, &mut ctx);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { to, msg } => self.send(id, to, msg),
                Effect::SetTimer { timer, after } => self.set_timer(id, timer, after),
                Effect::CancelTimer { timer } => {
                    if let Some(slot) = self.nodes[id.0].timers.get_mut(timer.0 as usize) {
                        *slot = 0;
                    }
                }
            }
        }
        self.effects = effects;
    }

    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        assert!(
            to.0 < self.nodes.len(),
            "{from} sent to unknown node {to}: {msg:?}"
        );
        self.stats.sent += 1;
        if self.recorder.level > TraceLevel::Off {
            let text = format!("{msg:?}");
            self.recorder.record(
                self.now,
                TraceKind::Send {
                    from: from.0,
                    to: to.0,
                    msg: text,
                },
            );
        }
        let size = P::message_size(&msg);
        match self
            .network
            .transmit(from, to, size, self.now, &mut self.net_rng)
        {
            Fate::Arrives(first, second) => {
                if let Some(again) = second {
                    self.stats.duplicated += 1;
                    self.push(
                        again,
                        EventKind::Deliver {
                            from,
                            to,
                            msg: msg.clone(),
                        },
                    );
                }
                self.push(first, EventKind::Deliver { from, to, msg });
            }
            Fate::Dropped(reason) => self.drop_message(from, to, reason, &msg),
        }
    }

    fn drop_message(&mut self, from: NodeId, to: NodeId, reason: DropReason, msg: &P::Msg) {
        match reason {
            DropReason::Loss => self.stats.lost += 1,
            DropReason::Partition => self.stats.blocked += 1,
            DropReason::Crashed => self.stats.to_crashed += 1,
        }
        if self.recorder.level > TraceLevel::Off {
            let kind = TraceKind::Drop {
                from: from.0,
                to: to.0,
                reason: format!("{reason:?}"),
                msg: format!("{msg:?}"),
            };
            self.recorder.record(self.now, kind);
        }
    }

    fn set_timer(&mut self, id: NodeId, timer: TimerId, after: Duration) {
        let real = self.nodes[id.0].clock.real_duration(after);
        let seq = self.push(self.now + real, EventKind::Timer { node: id, timer });
        let timers = &mut self.nodes[id.0].timers;
        let index = timer.0 as usize;
        if timers.len() <= index {
            timers.resize(index + 1, 0);
        }
        timers[index] = seq;
    }

    /// Holds an event for a paused node until it resumes.
    fn defer(&mut self, id: NodeId, at: Time, seq: u64, kind: EventKind<P::Msg>) {
        self.nodes[id.0].deferred.push(Entry { at, seq, kind });
    }

    fn check_fault(&self, fault: &Fault) {
        let n = self.nodes.len();
        let ok = |id: &NodeId| id.0 < n;
        let valid = match fault {
            Fault::Crash(id) | Fault::Restart(id) | Fault::Pause(id) | Fault::Resume(id) => ok(id),
            Fault::Partition(a, b) | Fault::OneWay(a, b) => a.iter().chain(b).all(ok),
            Fault::Heal => true,
        };
        assert!(valid, "fault `{fault}` names a node outside 0..{n}");
        if matches!(fault, Fault::Restart(_)) {
            assert!(
                self.restarter.is_some(),
                "restart scheduled but no `on_restart` given"
            );
        }
    }

    fn apply_fault(&mut self, fault: Fault) {
        if self.recorder.level > TraceLevel::Off {
            self.recorder.record(
                self.now,
                TraceKind::Fault {
                    fault: fault.to_string(),
                },
            );
        }
        self.metrics.count("faults", 1);
        match fault {
            Fault::Crash(id) => {
                let node = &mut self.nodes[id.0];
                if let Some(process) = node.process.take() {
                    node.disk = Some(process.durable());
                    node.state = NodeState::Crashed;
                    node.timers.clear();
                    node.deferred.clear();
                }
            }
            Fault::Restart(id) => {
                if self.nodes[id.0].state == NodeState::Crashed {
                    let disk = self.nodes[id.0]
                        .disk
                        .take()
                        .expect("a crashed node has a disk");
                    let restart = self.restarter.as_mut().expect("checked when scheduled");
                    let process = restart(id, disk);
                    let node = &mut self.nodes[id.0];
                    node.process = Some(process);
                    node.state = NodeState::Up;
                    self.start(id);
                }
            }
            Fault::Pause(id) => {
                if self.nodes[id.0].state == NodeState::Up {
                    self.nodes[id.0].state = NodeState::Paused;
                }
            }
            Fault::Resume(id) => {
                if self.nodes[id.0].state == NodeState::Paused {
                    self.nodes[id.0].state = NodeState::Up;
                    // Everything that waited is handled now, in the order it arrived.
                    let deferred = std::mem::take(&mut self.nodes[id.0].deferred);
                    for entry in deferred {
                        let timer = match entry.kind {
                            EventKind::Timer { timer, .. } => Some(timer),
                            _ => None,
                        };
                        let seq = self.push(self.now, entry.kind);
                        if let Some(t) = timer {
                            let slot = &mut self.nodes[id.0].timers[t.0 as usize];
                            if *slot == entry.seq {
                                *slot = seq;
                            }
                        }
                    }
                }
            }
            Fault::Partition(a, b) => self.network.partition(&a, &b),
            Fault::OneWay(from, to) => self.network.block(&from, &to),
            Fault::Heal => self.network.heal(),
        }
    }

    fn check_invariants(&mut self) -> Result<(), InvariantViolation> {
        if self.invariants.is_empty() {
            return Ok(());
        }
        let invariants = std::mem::take(&mut self.invariants);
        let mut result = Ok(());
        for (name, check) in &invariants {
            if let Err(message) = check(self) {
                result = Err(InvariantViolation {
                    name: name.clone(),
                    message,
                    at: self.now,
                    event: self.events,
                    seed: self.seed,
                });
                break;
            }
        }
        self.invariants = invariants;
        result
    }

    /// The seed this run was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The current virtual time (true time, not any node's clock).
    pub fn now(&self) -> Time {
        self.now
    }

    /// How many nodes the run has.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Node `id`'s process, unless it is crashed.
    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.nodes[id.0].process.as_ref()
    }

    /// Node `id`'s process for inspection or reconfiguration by a test, unless it is crashed.
    pub fn process_mut(&mut self, id: NodeId) -> Option<&mut P> {
        self.nodes[id.0].process.as_mut()
    }

    /// Whether node `id` is up, paused or crashed.
    pub fn state(&self, id: NodeId) -> NodeState {
        self.nodes[id.0].state
    }

    /// What node `id`'s clock reads now.
    pub fn local_time(&self, id: NodeId) -> Time {
        self.nodes[id.0].clock.local(self.now)
    }

    /// Whether a partition currently blocks `from -> to`.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.network.is_blocked(from, to)
    }

    /// The metrics processes recorded.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for percentile queries (which sort samples in place).
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// What the network did to messages so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// How many events were processed so far.
    pub fn events_processed(&self) -> u64 {
        self.events
    }

    /// The fingerprint of everything that happened so far (zero-effort determinism check).
    pub fn trace_hash(&self) -> u64 {
        self.recorder.hash.0
    }

    /// The recorded events (empty unless the trace level is `Full`).
    pub fn trace(&self) -> &[TraceEvent] {
        &self.recorder.events
    }

    /// A one-paragraph account of the run, for error messages and logs.
    pub fn summary(&self) -> String {
        let s = self.stats;
        let mut out = String::new();
        let _ = write!(
            out,
            "seed {} at {}: {} events; messages sent {}, delivered {}, lost {}, blocked {}, \
             to crashed nodes {}, duplicated {}",
            self.seed,
            self.now,
            self.events,
            s.sent,
            s.delivered,
            s.lost,
            s.blocked,
            s.to_crashed,
            s.duplicated
        );
        out
    }
}
}

pub use campaign::{Campaign, CampaignReport};
pub use clock::Clock;
pub use faults::{Fault, FaultSchedule, Nemesis, ScheduleError};
pub use metrics::{Histogram, Metrics};
pub use network::{DropReason, Fate, Latency, LinkConfig, Network};
pub use process::{Ctx, Effect, NodeId, Process, TimerId};
pub use rng::{Exponential, SimRng, StandardNormal, Zipf, rng_stream};
pub use time::{Time, nanos, parse_duration};
pub use trace::{Fnv64, TraceEvent, TraceKind, TraceLevel};
pub use world::{InvariantViolation, NetStats, NodeState, Sim};
}
