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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::SeedableRng;

    #[test]
    fn script_parses_into_sorted_faults() {
        let script = "at 5s partition 0 | 1,2\nat 1s crash 2 # early\n\nat 7.5s heal\n";
        let s = FaultSchedule::parse(script, 3).unwrap();
        assert_eq!(
            s.faults,
            vec![
                (Time::from_millis(1000), Fault::Crash(NodeId(2))),
                (
                    Time::from_millis(5000),
                    Fault::Partition(vec![NodeId(0)], vec![NodeId(1), NodeId(2)])
                ),
                (Time::from_millis(7500), Fault::Heal),
            ]
        );
    }

    #[test]
    fn schedule_round_trips_through_text() {
        let script = "at 1000ms oneway 0 -> 1,2\nat 2000ms pause 1\nat 3000ms resume 1\n";
        let s = FaultSchedule::parse(script, 3).unwrap();
        assert_eq!(s.to_string(), script);
    }

    #[test]
    fn bad_scripts_name_the_line_and_the_problem() {
        let cases = [
            ("crash 1", "should start with `at"),
            ("at 5 crash 1", "no unit"),
            ("at 5s explode 1", "unknown fault `explode`"),
            ("at 5s crash 9", "node 9 does not exist"),
            ("at 5s crash x", "`x` is not a node number"),
            ("at 5s partition 0 1", "two sides"),
            ("at 5s heal now", "takes no arguments"),
            ("at 5s", "missing fault"),
        ];
        for (script, expected) in cases {
            let err = FaultSchedule::parse(&format!("\n{script}"), 3).unwrap_err();
            assert_eq!(err.line, 2, "{script}");
            assert!(err.message.contains(expected), "{script}: {}", err.message);
        }
    }

    #[test]
    fn nemesis_repairs_everything_and_respects_max_down() {
        let nemesis = Nemesis {
            mean_interval: Duration::from_millis(300),
            mean_duration: Duration::from_millis(500),
            crash: true,
            pause: true,
            partition: true,
            max_down: 1,
        };
        for seed in 0..50 {
            let mut rng = SimRng::seed_from_u64(seed);
            let end = Time::from_millis(10_000);
            let s = nemesis.schedule(&mut rng, 5, Time::ZERO, end);
            let mut down = std::collections::BTreeSet::new();
            let mut partitioned = false;
            for (at, fault) in &s.faults {
                assert!(*at <= end);
                match fault {
                    Fault::Crash(n) | Fault::Pause(n) => assert!(down.insert(*n)),
                    Fault::Restart(n) | Fault::Resume(n) => assert!(down.remove(n)),
                    Fault::Partition(..) | Fault::OneWay(..) => partitioned = true,
                    Fault::Heal => partitioned = false,
                }
                assert!(
                    down.len() <= 1,
                    "seed {seed}: more than max_down nodes down"
                );
            }
            assert!(
                down.is_empty() && !partitioned,
                "seed {seed}: fault left unrepaired"
            );
        }
    }
}
