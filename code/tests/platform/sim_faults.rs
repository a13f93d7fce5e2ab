//! Scenario tests of the simulator's fault model. Each reads as a transcript: set up, inject,
//! run, assert, and is named after the behaviour it pins down.

use std::time::Duration;

use uds::sim::{
    Clock, Ctx, Fault, FaultSchedule, LinkConfig, NodeId, NodeState, Process, Sim, Time, TimerId,
    TraceLevel,
};

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);
const TICK: TimerId = TimerId(0);

/// Node 0 sends `Ping(i)` to node 1 every 10 ms (local time); node 1 counts what it receives.
/// `seen` is volatile; `saved` is what the node writes to disk.
#[derive(Clone, Debug, Default)]
struct Pinger {
    sent: u64,
    seen: Vec<u64>,
    saved: u64,
    ticks_at: Vec<Time>,
    /// How many times `on_start` ran in this incarnation.
    starts: u32,
}

impl Process for Pinger {
    type Msg = u64;
    type Durable = u64;

    fn on_start(&mut self, ctx: &mut Ctx<'_, u64>) {
        self.starts += 1;
        if ctx.id() == A {
            ctx.set_timer(TICK, Duration::from_millis(10));
        }
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, u64>, _from: NodeId, msg: u64) {
        self.seen.push(msg);
        self.saved += 1;
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, u64>, _timer: TimerId) {
        self.ticks_at.push(ctx.now());
        self.sent += 1;
        ctx.send(B, self.sent);
        ctx.set_timer(TICK, Duration::from_millis(10));
    }

    fn durable(&self) -> u64 {
        self.saved
    }
}

fn pair(link: LinkConfig) -> Sim<Pinger> {
    let mut sim = Sim::new(1, link, vec![Pinger::default(), Pinger::default()]);
    sim.on_restart(|_, saved| Pinger {
        saved,
        ..Pinger::default()
    });
    sim
}

fn one_ms() -> LinkConfig {
    LinkConfig::constant(Duration::from_millis(1))
}

#[test]
fn crash_loses_volatile_state_and_restart_keeps_durable_state() {
    let mut sim = pair(one_ms());
    sim.run_until(Time::from_millis(55)).unwrap(); // pings at 10..50 ms arrive at 11..51
    assert_eq!(sim.process(B).unwrap().seen, vec![1, 2, 3, 4, 5]);
    sim.apply(Fault::Crash(B));
    assert!(sim.process(B).is_none());
    sim.run_until(Time::from_millis(75)).unwrap(); // pings 6 and 7 reach a crashed node
    assert_eq!(sim.stats().to_crashed, 2);
    sim.apply(Fault::Restart(B));
    sim.run_until(Time::from_millis(85)).unwrap();
    let b = sim.process(B).unwrap();
    assert_eq!(
        b.seen,
        vec![8],
        "volatile state starts empty after a restart"
    );
    assert_eq!(
        b.saved, 6,
        "durable state survives: 5 before the crash, 1 after"
    );
}

#[test]
fn a_paused_node_handles_what_arrived_when_it_resumes() {
    let mut sim = pair(one_ms());
    sim.run_until(Time::from_millis(15)).unwrap();
    sim.apply(Fault::Pause(B));
    sim.run_until(Time::from_millis(45)).unwrap();
    assert_eq!(
        sim.process(B).unwrap().seen,
        vec![1],
        "nothing handled while paused"
    );
    assert_eq!(sim.state(B), NodeState::Paused);
    sim.apply(Fault::Resume(B));
    sim.run_until(Time::from_millis(45)).unwrap();
    assert_eq!(
        sim.process(B).unwrap().seen,
        vec![1, 2, 3, 4],
        "handled in arrival order"
    );
}

#[test]
fn a_paused_sender_fires_its_overdue_timer_once_on_resume() {
    let mut sim = pair(one_ms());
    sim.run_until(Time::from_millis(15)).unwrap();
    sim.apply(Fault::Pause(A));
    sim.run_until(Time::from_millis(100)).unwrap();
    sim.apply(Fault::Resume(A));
    sim.run_until(Time::from_millis(100)).unwrap();
    let ticks = &sim.process(A).unwrap().ticks_at;
    assert_eq!(ticks, &[Time::from_millis(10), Time::from_millis(100)]);
}

#[test]
fn faults_applied_before_the_start_event_start_each_incarnation_once() {
    // Crashed before its start event: no start (and no panic) until it restarts.
    let mut sim = pair(one_ms());
    sim.apply(Fault::Crash(A));
    sim.run_until(Time::from_millis(30)).unwrap();
    assert!(sim.process(B).unwrap().seen.is_empty());
    sim.apply(Fault::Restart(A));
    sim.run_until(Time::from_millis(45)).unwrap();
    assert_eq!(sim.process(A).unwrap().starts, 1);
    assert_eq!(sim.process(B).unwrap().seen, vec![1], "first ping at 40 ms");

    // Crashed and restarted before its start event: the restart starts it, once.
    let mut sim = pair(one_ms());
    sim.apply(Fault::Crash(A));
    sim.apply(Fault::Restart(A));
    sim.run_until(Time::from_millis(15)).unwrap();
    assert_eq!(sim.process(A).unwrap().starts, 1);

    // Paused before its start event: it starts when it resumes.
    let mut sim = pair(one_ms());
    sim.apply(Fault::Pause(A));
    sim.run_until(Time::from_millis(30)).unwrap();
    assert_eq!(sim.process(A).unwrap().starts, 0);
    sim.apply(Fault::Resume(A));
    sim.run_until(Time::from_millis(45)).unwrap();
    assert_eq!(sim.process(A).unwrap().starts, 1);
    assert_eq!(sim.process(B).unwrap().seen, vec![1], "first ping at 40 ms");
}

#[test]
fn a_one_way_partition_drops_one_direction_until_healed() {
    let schedule = FaultSchedule::parse("at 25ms oneway 0 -> 1\nat 45ms heal", 2).unwrap();
    let mut sim = pair(one_ms());
    sim.schedule(&schedule);
    sim.run_until(Time::from_millis(65)).unwrap();
    assert_eq!(sim.process(B).unwrap().seen, vec![1, 2, 5, 6]);
    assert_eq!(sim.stats().blocked, 2);
}

#[test]
fn timers_run_on_the_local_drifting_clock() {
    let mut sim = pair(one_ms());
    // A's clock runs 25% fast: its 10 ms timer fires every 8 ms of true time.
    sim.set_clock(
        A,
        Clock {
            offset_ns: 0,
            drift_ppm: 250_000,
        },
    );
    sim.run_until(Time::from_millis(33)).unwrap();
    assert_eq!(sim.process(B).unwrap().seen.len(), 4); // sent at 8, 16, 24, 32
    assert_eq!(sim.local_time(A), Time::from_secs_f64(0.04125));
}

#[test]
fn duplicating_links_deliver_copies() {
    let mut sim = pair(one_ms().with_duplicate(1.0));
    sim.run_until(Time::from_millis(25)).unwrap();
    assert_eq!(sim.process(B).unwrap().seen, vec![1, 1, 2, 2]);
}

#[test]
fn reordering_links_can_deliver_out_of_order() {
    let link = one_ms().with_reorder(0.5, Duration::from_millis(40));
    let mut sim = pair(link);
    sim.run_until(Time::from_millis(500)).unwrap();
    let seen = &sim.process(B).unwrap().seen;
    assert!(seen.windows(2).any(|w| w[0] > w[1]), "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "nothing lost or added"
    );
}

#[test]
fn invariants_are_checked_after_every_event_and_name_the_seed() {
    let mut sim = pair(one_ms());
    sim.add_invariant("fewer than 3 pings", |s| {
        let seen = s.process(B).map_or(0, |b| b.seen.len());
        if seen < 3 {
            Ok(())
        } else {
            Err(format!("{seen} pings seen"))
        }
    });
    let err = sim.run_until(Time::from_secs_f64(1.0)).unwrap_err();
    assert_eq!(
        err.at,
        Time::from_millis(31),
        "caught at the event that broke it"
    );
    assert!(err.to_string().contains("with seed 1"), "{err}");
}

#[test]
fn same_seed_gives_a_byte_identical_trace() {
    let run = |seed| {
        let link = one_ms()
            .with_loss(0.1)
            .with_reorder(0.3, Duration::from_millis(5));
        let mut sim = Sim::new(seed, link, vec![Pinger::default(), Pinger::default()]);
        sim.set_trace(TraceLevel::Full);
        sim.run_until(Time::from_millis(500)).unwrap();
        (
            sim.trace_hash(),
            serde_json::to_string(sim.trace()).unwrap(),
        )
    };
    let (hash_a, trace_a) = run(3);
    let (hash_b, trace_b) = run(3);
    assert_eq!(hash_a, hash_b);
    assert_eq!(trace_a, trace_b);
    assert_ne!(run(4).0, hash_a);
}
