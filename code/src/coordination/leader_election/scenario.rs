//! Runs of the lease-based lock: the cluster, the faults, and what came of them.
//!
//! Every run has the same shape: node 0 is the lock service ([`SERVICE`]), node 1 the storage
//! ([`STORAGE`]), and nodes 2, 3, ... are clients competing for one lock ([`client`]), all on
//! the same links. [`Setup`] fixes the timings; [`Setup::build`] makes the simulation, to
//! which a test or an experiment adds faults; [`Outcome::of`] judges the finished run.
//!
//! Two kinds of fault make a lease unsafe, and both are here:
//!
//! - a **pause** of a client between its lease check and its write ([`Fault::Pause`]), longer
//!   than what is left of its lease at the service: [`pause_schedule`] draws pauses of one
//!   fixed length, so that the experiment can vary the length relative to the TTL;
//! - a **slow clock** on a client cut off from the service ([`Clock`] with negative drift), so
//!   that its lease looks valid for longer than it is.
//!
//! [`transcript`] turns a run recorded at [`TraceLevel::Full`] into the lines a reader follows
//! (who sent what to whom, with which token), which is what the runnable listing prints and
//! what the chapter's sequence diagram draws.

use std::fmt::Write as _;
use std::time::Duration;

use super::client::{Client, ClientConfig};
use super::lock_service::LockService;
use super::node::LeaseNode;
use super::storage::Storage;
use crate::sim::{
    Clock, Exponential, Fault, FaultSchedule, LinkConfig, NodeId, Sim, Time, TraceKind, TraceLevel,
    rng_stream,
};
use rand::{Rng, RngExt};

/// The lock service, in every run of this module.
pub const SERVICE: NodeId = NodeId(0);
/// The storage service.
pub const STORAGE: NodeId = NodeId(1);
/// The name of the lock whose holder leads.
pub const LOCK: &str = "leader";

/// Client `i` (from 0): client 0 is "A" in the chapter, client 1 is "B".
pub fn client(i: usize) -> NodeId {
    NodeId(2 + i)
}

// ANCHOR: setup
/// Everything about a run except its seed and its faults.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// How many clients compete for the lock.
    pub clients: usize,
    /// Whether the storage checks fencing tokens.
    pub fencing: bool,
    /// The lease's time-to-live, on the service's clock.
    pub ttl: Duration,
    /// What clients subtract from the TTL when they count their lease.
    pub margin: Duration,
    /// Time between renewals by the leader.
    pub renew_every: Duration,
    /// Time between attempts to acquire, by the others.
    pub retry: Duration,
    /// Time between a leader's writes.
    pub write_every: Duration,
    /// Time between a leader's lease check and its write.
    pub work: Duration,
    /// How every link behaves.
    pub link: LinkConfig,
}
// ANCHOR_END: setup

impl Setup {
    /// The chapter's setting: two clients, a 1 s TTL with a 100 ms margin, renewals every
    /// 300 ms, a write every 250 ms that takes 20 ms from check to send, 1 ms links.
    pub fn book(fencing: bool) -> Setup {
        let ms = Duration::from_millis;
        Setup {
            clients: 2,
            fencing,
            ttl: ms(1_000),
            margin: ms(100),
            renew_every: ms(300),
            retry: ms(100),
            write_every: ms(250),
            work: ms(20),
            link: LinkConfig::constant(ms(1)),
        }
    }

    /// Checks the timings make sense, so that a bad experiment flag is an error, not a panic.
    pub fn validate(&self) -> Result<(), String> {
        if self.clients == 0 {
            return Err("a run needs at least one client".into());
        }
        if self.margin >= self.ttl {
            return Err(format!(
                "the margin ({:?}) must be below the TTL ({:?})",
                self.margin, self.ttl
            ));
        }
        if self.renew_every >= self.ttl.saturating_sub(self.margin) {
            return Err(format!(
                "renewals every {:?} cannot keep a {:?} lease (margin {:?}) alive",
                self.renew_every, self.ttl, self.margin
            ));
        }
        let zero = [self.retry, self.write_every, self.work];
        if zero.contains(&Duration::ZERO) {
            return Err("retry, write and work intervals must be positive".into());
        }
        self.link.validate()
    }

    /// The configuration every client gets.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            lock: LOCK.to_string(),
            service: SERVICE,
            storage: STORAGE,
            retry: self.retry,
            renew_every: self.renew_every,
            write_every: self.write_every,
            work: self.work,
            margin: self.margin,
        }
    }

    // ANCHOR: build
    /// A simulation of this setup from `seed`, without faults yet. Panics on an invalid setup
    /// (call [`Setup::validate`] first on user input).
    pub fn build(&self, seed: u64) -> Sim<LeaseNode> {
        if let Err(e) = self.validate() {
            panic!("invalid setup: {e}");
        }
        let mut nodes = vec![
            LeaseNode::Service(LockService::new(self.ttl)),
            LeaseNode::Storage(Storage::new(self.fencing)),
        ];
        for _ in 0..self.clients {
            nodes.push(LeaseNode::Client(Client::new(self.client_config())));
        }
        Sim::new(seed, self.link.clone(), nodes)
    }
    // ANCHOR_END: build
}

/// The storage of a run.
pub fn storage(sim: &Sim<LeaseNode>) -> &Storage {
    sim.process(STORAGE)
        .and_then(LeaseNode::as_storage)
        .expect("node 1 is the storage and never crashes")
}

/// The lock service of a run.
pub fn service(sim: &Sim<LeaseNode>) -> &LockService {
    sim.process(SERVICE)
        .and_then(LeaseNode::as_service)
        .expect("node 0 is the lock service and never crashes")
}

/// Client `i` of a run.
pub fn client_state(sim: &Sim<LeaseNode>, i: usize) -> &Client {
    sim.process(client(i))
        .and_then(LeaseNode::as_client)
        .expect("clients are paused, never crashed")
}

// ANCHOR: paused_ex_leader
/// The chapter's story, on [`Setup::book`]: client A (client 0) wins the lock with token 1;
/// at 510 ms, between deciding a write (500 ms) and sending it (520 ms), it is paused for
/// 2 s, a stop-the-world garbage collection; its lease runs out at the service at 1,303 ms;
/// B (client 1) acquires the lock with token 2 at 1,401 ms and writes; A resumes at 2,510 ms
/// and sends the write it decided before the pause, with token 1.
pub fn paused_ex_leader(fencing: bool) -> Sim<LeaseNode> {
    paused_ex_leader_for(fencing, Duration::from_secs(2))
}
// ANCHOR_END: paused_ex_leader

/// The same story with a pause of `pause` starting at 510 ms.
pub fn paused_ex_leader_for(fencing: bool, pause: Duration) -> Sim<LeaseNode> {
    let mut sim = Setup::book(fencing).build(1);
    sim.set_trace(TraceLevel::Full);
    let start = Time::from_millis(510);
    sim.schedule_fault(start, Fault::Pause(client(0)));
    sim.schedule_fault(start + pause, Fault::Resume(client(0)));
    sim
}

// ANCHOR: slow_clock_ex_leader
/// The same story without a pause: A's clock runs at half speed (drift -500,000 ppm, wildly
/// exaggerated so that one TTL shows it), and at 250 ms a partition cuts A off from the lock
/// service, though not from the storage. A's renewals are lost, its lease runs out at the
/// service at 1,001 ms, B acquires it at 1,101 ms; but A's clock says only about 500 ms have
/// passed, so A keeps writing with token 1 until its clock reaches 900 ms (1,800 ms true time).
pub fn slow_clock_ex_leader(fencing: bool) -> Sim<LeaseNode> {
    let mut sim = Setup::book(fencing).build(1);
    sim.set_trace(TraceLevel::Full);
    let half_speed = Clock {
        offset_ns: 0,
        drift_ppm: -500_000,
    };
    sim.set_clock(client(0), half_speed);
    let cut = Fault::Partition(vec![client(0)], vec![SERVICE]);
    sim.schedule_fault(Time::from_millis(250), cut);
    sim
}
// ANCHOR_END: slow_clock_ex_leader

// ANCHOR: pause_schedule
/// Pauses of exactly `pause` that hit a random client, starting as a Poisson process with
/// `mean_interval` between starts, from `start` to `end`. A client is never paused twice at
/// once, and every pause ends by `end`.
pub fn pause_schedule(
    rng: &mut impl Rng,
    clients: usize,
    mean_interval: Duration,
    pause: Duration,
    start: Time,
    end: Time,
) -> FaultSchedule {
    let interval = Exponential {
        mean: mean_interval.as_secs_f64(),
    };
    let mut schedule = FaultSchedule::default();
    let mut paused_until = vec![Time::ZERO; clients];
    let mut t = start;
    loop {
        t = t + Duration::from_secs_f64(rng.sample(interval));
        if t >= end || clients == 0 {
            break;
        }
        let i = rng.random_range(0..clients);
        if paused_until[i] > t {
            continue;
        }
        let resume = (t + pause).min(end);
        paused_until[i] = resume;
        schedule.add(t, Fault::Pause(client(i)));
        schedule.add(resume, Fault::Resume(client(i)));
    }
    schedule
}
// ANCHOR_END: pause_schedule

// ANCHOR: outcome
/// What a run did to the storage, judged afterwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// New grants of the lock: each is a change of leader (or a leader re-elected after its
    /// lease ran out), with a new token.
    pub leadership_changes: u64,
    /// Writes the storage accepted.
    pub writes_accepted: u64,
    /// Writes the storage refused (only with fencing).
    pub writes_refused: u64,
    /// Accepted writes with a token below one accepted earlier: lost updates.
    pub stale_accepted: u64,
    /// Accepted writes whose token had already been superseded by a newer grant at the lock
    /// service when they arrived: writes by an ex-leader that fencing lets through because the
    /// new leader had not written yet. Harmless to the order of the storage's history.
    pub superseded_accepted: u64,
    /// The run's fingerprint.
    pub trace_hash: u64,
}

impl Outcome {
    /// Judges a finished run. Assumes the service's and the storage's clocks agree (neither
    /// drifts in this module's runs), so their timestamps can be compared.
    pub fn of(sim: &Sim<LeaseNode>) -> Outcome {
        let storage = storage(sim);
        let grants = &service(sim).grants;
        let accepted = storage.log.iter().filter(|w| w.accepted);
        let superseded = accepted
            .clone()
            .filter(|w| grants.iter().any(|g| g.at <= w.at && g.token > w.token))
            .count();
        Outcome {
            leadership_changes: grants.len() as u64,
            writes_accepted: accepted.count() as u64,
            writes_refused: storage.log.iter().filter(|w| !w.accepted).count() as u64,
            stale_accepted: storage.stale_accepted,
            superseded_accepted: superseded as u64,
            trace_hash: sim.trace_hash(),
        }
    }

    /// Adds another run's counts to these (the trace hashes are combined).
    pub fn add(&mut self, other: &Outcome) {
        self.leadership_changes += other.leadership_changes;
        self.writes_accepted += other.writes_accepted;
        self.writes_refused += other.writes_refused;
        self.stale_accepted += other.stale_accepted;
        self.superseded_accepted += other.superseded_accepted;
        let mut hash = crate::sim::Fnv64(self.trace_hash);
        hash.u64(other.trace_hash);
        self.trace_hash = hash.0;
    }
}
// ANCHOR_END: outcome

// ANCHOR: run_with_pauses
/// One run of `setup` from `seed` for `duration`, with pauses of `pause` every
/// `mean_interval` on average. The pause schedule is drawn from its own stream of the seed,
/// so a run with fencing and one without face the same pauses.
pub fn run_with_pauses(
    setup: &Setup,
    seed: u64,
    pause: Duration,
    mean_interval: Duration,
    duration: Duration,
) -> Outcome {
    let mut sim = setup.build(seed);
    let mut rng = rng_stream(seed, u64::MAX);
    let end = Time::ZERO + duration;
    let start = Time::from_millis(500);
    let schedule = pause_schedule(&mut rng, setup.clients, mean_interval, pause, start, end);
    sim.schedule(&schedule);
    sim.run_until(end).expect("this run checks no invariants");
    Outcome::of(&sim)
}
// ANCHOR_END: run_with_pauses

/// A node's name in transcripts: "lock", "storage", then "A", "B", ... for the clients.
pub fn name(id: NodeId) -> String {
    match id {
        SERVICE => "lock".to_string(),
        STORAGE => "storage".to_string(),
        NodeId(n) => char::from(b'A' + (n - 2) as u8).to_string(),
    }
}

/// Which messages a transcript shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every delivered message and fault.
    All,
    /// First grants of each token, denied renewals, writes, refusals and faults; not the
    /// polls of clients waiting for the lock, nor renewals that succeeded, nor acknowledgements.
    Story,
}

// ANCHOR: transcript
/// The lines of a run recorded at [`TraceLevel::Full`]: each delivered message as
/// `time  from -> to  message`, each fault as `time  ** fault`, in true (simulated) time.
pub fn transcript(sim: &Sim<LeaseNode>, detail: Detail) -> Vec<String> {
    let mut lines = Vec::new();
    // The first grant of each token; repeats of it are renewals.
    let mut grants_seen = std::collections::BTreeSet::new();
    for event in sim.trace() {
        let ms = event.at_ns as f64 / 1e6;
        let mut line = String::new();
        match &event.kind {
            TraceKind::Deliver { from, to, msg } => {
                let renewal = msg.starts_with("Granted") && !grants_seen.insert(msg.clone());
                if detail == Detail::Story && (renewal || !in_story(msg)) {
                    continue;
                }
                let (from, to) = (name(NodeId(*from)), name(NodeId(*to)));
                let _ = write!(line, "{ms:>8.0} ms  {from:>7} -> {to:<7}  {msg}");
            }
            TraceKind::Fault { fault } => {
                let fault = fault_text(fault);
                let _ = write!(line, "{ms:>8.0} ms  ** {fault}");
            }
            _ => continue,
        }
        lines.push(line);
    }
    lines
}
// ANCHOR_END: transcript

/// Whether a message belongs in the short version of the story.
fn in_story(msg: &str) -> bool {
    let chatter = ["Acquire", "Renew", "Written", "Denied(leader, held"];
    !chatter.iter().any(|c| msg.starts_with(c))
}

/// A fault as the simulator prints it (`pause 2`), with node names instead of numbers.
fn fault_text(fault: &str) -> String {
    let words: Vec<String> = fault
        .split_whitespace()
        .map(|w| match w.trim_end_matches(',').parse::<usize>() {
            Ok(n) => name(NodeId(n)),
            Err(_) => w.to_string(),
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimRng;
    use rand::SeedableRng;

    #[test]
    fn book_setup_is_valid_and_bad_setups_are_errors() {
        assert_eq!(Setup::book(true).validate(), Ok(()));
        let ms = Duration::from_millis;
        let mut s = Setup::book(true);
        s.margin = ms(1_000);
        assert!(s.validate().unwrap_err().contains("margin"));
        let mut s = Setup::book(true);
        s.renew_every = ms(950);
        assert!(s.validate().unwrap_err().contains("renewals"));
        let mut s = Setup::book(true);
        s.clients = 0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn pause_schedules_pause_each_client_at_most_once_at_a_time() {
        let mut rng = SimRng::seed_from_u64(3);
        let end = Time::from_millis(60_000);
        let pause = Duration::from_millis(1_500);
        let ms500 = Duration::from_millis(500);
        let s = pause_schedule(&mut rng, 3, ms500, pause, Time::ZERO, end);
        let mut paused = std::collections::BTreeSet::new();
        for (at, fault) in &s.faults {
            assert!(*at <= end);
            match fault {
                Fault::Pause(n) => assert!(paused.insert(*n), "{n} paused twice"),
                Fault::Resume(n) => assert!(paused.remove(n), "{n} resumed unpaused"),
                other => panic!("unexpected fault {other}"),
            }
        }
        assert!(paused.is_empty());
        assert!(s.faults.len() > 20);
    }

    #[test]
    fn transcripts_name_the_nodes() {
        assert_eq!(name(SERVICE), "lock");
        assert_eq!(name(client(1)), "B");
        assert_eq!(fault_text("partition 2 | 0"), "partition A | lock");
    }
}
