//! Chapter 11: the CRDTs are join semilattices and converge (property tests, written once over
//! the `StateCrdt` trait and run for every type), each type's own semantics (table tests), and
//! the broadcast protocols' guarantees on the simulator.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use uds::coordination::crdt::StateCrdt;
use uds::coordination::crdt::exercise::{solution, starter};
use uds::coordination::crdt::gcounter::GCounter;
use uds::coordination::crdt::lww::LwwRegister;
use uds::coordination::crdt::mvregister::MvRegister;
use uds::coordination::crdt::orset::OrSet;
use uds::coordination::crdt::pncounter::PnCounter;

/// How many replicas the random histories use.
const REPLICAS: usize = 3;

/// A CRDT under test: one random operation, chosen by two random bytes, at a replica.
trait Fixture: StateCrdt + Default {
    fn op(&mut self, replica: usize, code: u8, arg: u8);
}

impl Fixture for GCounter {
    fn op(&mut self, replica: usize, _code: u8, arg: u8) {
        self.increment(replica, u64::from(arg % 4));
    }
}

impl Fixture for PnCounter {
    fn op(&mut self, replica: usize, code: u8, arg: u8) {
        let by = u64::from(arg % 4);
        if code.is_multiple_of(2) {
            self.increment(replica, by);
        } else {
            self.decrement(replica, by);
        }
    }
}

impl Fixture for LwwRegister<u8> {
    /// Timestamps are random: replicas' clocks disagree, and equal timestamps happen often.
    fn op(&mut self, replica: usize, code: u8, arg: u8) {
        self.set(replica, u64::from(code % 8), arg);
    }
}

impl Fixture for MvRegister<u8> {
    fn op(&mut self, replica: usize, _code: u8, arg: u8) {
        self.set(replica, arg % 4);
    }
}

impl Fixture for OrSet<u8> {
    fn op(&mut self, replica: usize, code: u8, arg: u8) {
        if code.is_multiple_of(2) {
            self.add(replica, arg % 4);
        } else {
            self.remove(&(arg % 4));
        }
    }
}

impl Fixture for starter::TombstoneOrSet<u8> {
    fn op(&mut self, replica: usize, code: u8, arg: u8) {
        if code.is_multiple_of(2) {
            self.add(replica, arg % 4);
        } else {
            self.remove(&(arg % 4));
        }
    }
}

impl Fixture for solution::TombstoneOrSet<u8> {
    fn op(&mut self, replica: usize, code: u8, arg: u8) {
        if code.is_multiple_of(2) {
            self.add(replica, arg % 4);
        } else {
            self.remove(&(arg % 4));
        }
    }
}

/// One step of a random history: an operation at a replica, or a state sent between two.
#[derive(Clone, Debug)]
enum Step {
    Op { replica: usize, code: u8, arg: u8 },
    Merge { from: usize, to: usize },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..REPLICAS, any::<u8>(), any::<u8>())
            .prop_map(|(replica, code, arg)| Step::Op { replica, code, arg }),
        1 => (0..REPLICAS, 0..REPLICAS).prop_map(|(from, to)| Step::Merge { from, to }),
    ]
}

/// The replicas' states after `history`, from empty replicas.
fn replay<T: Fixture>(history: &[Step]) -> Vec<T> {
    let mut replicas: Vec<T> = (0..REPLICAS).map(|_| T::default()).collect();
    for step in history {
        match *step {
            Step::Op { replica, code, arg } => replicas[replica].op(replica, code, arg),
            Step::Merge { from, to } => {
                let sent = replicas[from].clone();
                replicas[to].merge(&sent);
            }
        }
    }
    replicas
}

fn join<T: StateCrdt>(a: &T, b: &T) -> T {
    let mut out = a.clone();
    out.merge(b);
    out
}

/// The semilattice laws and convergence for `T`, on 256 random histories.
///
/// The laws are checked on *reachable* states (the three replicas at the end of a random
/// history of operations and merges), not on arbitrary values of the type: some invariants,
/// such as "no two writes share an LWW stamp" or "an OR-Set's context is gap-free", hold only
/// for states that the operations can produce, and the laws only need to hold there. States are
/// compared whole (`PartialEq`), which is stronger than comparing values: two states with the
/// same value but different metadata (an OR-Set that has seen a remove and one that has not)
/// would behave differently at their next merge, so a law that held only for values would not
/// make replicas converge.
// ANCHOR: laws
fn check_laws<T: Fixture>() {
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let history = proptest::collection::vec(step(), 0..40);
    let order = Just((0..REPLICAS).collect::<Vec<usize>>()).prop_shuffle();
    let result = runner.run(&(history, order), |(history, order)| {
        let r = replay::<T>(&history);
        let (a, b, c) = (&r[0], &r[1], &r[2]);
        prop_assert_eq!(join(a, b), join(b, a), "merge must commute");
        prop_assert_eq!(
            join(&join(a, b), c),
            join(a, &join(b, c)),
            "merge must associate"
        );
        prop_assert_eq!(join(a, a), a.clone(), "merge must be idempotent");
        converge(r, &order)
    });
    if let Err(e) = result {
        panic!("{}: {e}", std::any::type_name::<T>());
    }
}
// ANCHOR_END: laws

/// Replicas exchanging states around a ring in a random order, twice round, all reach the
/// join of every state: the same state and the same value.
fn converge<T: Fixture>(mut replicas: Vec<T>, order: &[usize]) -> Result<(), TestCaseError> {
    let everything = replicas
        .iter()
        .skip(1)
        .fold(replicas[0].clone(), |acc, r| join(&acc, r));
    for _ in 0..2 {
        for pair in order
            .windows(2)
            .chain(std::iter::once(&[order[REPLICAS - 1], order[0]][..]))
        {
            let sent = replicas[pair[0]].clone();
            replicas[pair[1]].merge(&sent);
        }
    }
    for replica in &replicas {
        prop_assert_eq!(replica, &everything, "replicas did not converge");
        prop_assert_eq!(replica.value(), everything.value());
    }
    Ok(())
}

#[test]
fn g_counter_is_a_semilattice_and_converges() {
    check_laws::<GCounter>();
}

#[test]
fn pn_counter_is_a_semilattice_and_converges() {
    check_laws::<PnCounter>();
}

#[test]
fn lww_register_is_a_semilattice_and_converges() {
    check_laws::<LwwRegister<u8>>();
}

#[test]
fn mv_register_is_a_semilattice_and_converges() {
    check_laws::<MvRegister<u8>>();
}

#[test]
fn or_set_is_a_semilattice_and_converges() {
    check_laws::<OrSet<u8>>();
}

#[test]
fn tombstone_or_set_solution_is_a_semilattice_and_converges() {
    check_laws::<solution::TombstoneOrSet<u8>>();
}

#[test]
#[ignore = "exercise: implement starter::TombstoneOrSet, then run `cargo test -p uds --release \
            --test part2 ch11_crdt::exercise_tombstone_or_set -- --ignored`"]
fn exercise_tombstone_or_set() {
    uds::exercise::starter_or_solution(
        || {
            check_laws::<starter::TombstoneOrSet<u8>>();
            add_wins::<starter::TombstoneOrSet<u8>>();
        },
        || {
            check_laws::<solution::TombstoneOrSet<u8>>();
            add_wins::<solution::TombstoneOrSet<u8>>();
        },
    );
}

/// Add-wins, as a transcript: a and b both hold 3; a removes 3 while b, concurrently, adds 3
/// again; after they exchange states both hold 3. A later remove at a replica that has seen
/// b's add removes it. And an add right after a remove at the same replica is present (a
/// `remove` that deleted the pairs from `added` would reuse a tag that is already tombstoned).
fn add_wins<T: Fixture<Value = BTreeSet<u8>>>() {
    let (add, remove) = (0, 1);
    let mut a = T::default();
    a.op(0, add, 3);
    let mut b = a.clone();
    a.op(0, remove, 3);
    b.op(1, add, 3);
    // a adds 3 again after its remove: the new add has a tag no remove has seen.
    let mut again = a.clone();
    again.op(0, add, 3);
    assert_eq!(
        again.value(),
        BTreeSet::from([3]),
        "an add after a remove at the same replica is present"
    );
    let (a2, b2) = (join(&a, &b), join(&b, &a));
    assert_eq!(
        a2.value(),
        BTreeSet::from([3]),
        "the concurrent add must win"
    );
    assert_eq!(a2, b2);
    let mut c = a2.clone();
    c.op(2, remove, 3);
    assert_eq!(
        join(&c, &b2).value(),
        BTreeSet::new(),
        "an observed add is removed"
    );
}

#[test]
fn or_set_concurrent_add_beats_remove() {
    add_wins::<OrSet<u8>>();
    add_wins::<solution::TombstoneOrSet<u8>>();
}

#[test]
fn mv_register_keeps_concurrent_writes_and_a_later_write_replaces_them() {
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    a.set(0, "cart=[book]");
    b.set(1, "cart=[pen]");
    let mut c = join(&a, &b);
    assert_eq!(c.value(), vec!["cart=[pen]", "cart=[book]"]);
    assert_eq!(join(&b, &a), c);
    c.set(2, "cart=[book,pen]");
    assert_eq!(join(&join(&a, &b), &c).value(), vec!["cart=[book,pen]"]);
}

#[test]
fn pn_counter_value_is_increments_minus_decrements() {
    // (replica, +by or -by) per step; the expected value after merging everything.
    let cases: [(&[(usize, i64)], i64); 4] = [
        (&[], 0),
        (&[(0, 5), (1, -2)], 3),
        (&[(0, 1), (0, 1), (1, -3), (2, -1)], -2),
        (&[(0, 10), (1, 10), (2, -20)], 0),
    ];
    for (ops, expected) in cases {
        let mut replicas = vec![PnCounter::new(); 3];
        for &(r, delta) in ops {
            if delta >= 0 {
                replicas[r].increment(r, delta.unsigned_abs());
            } else {
                replicas[r].decrement(r, delta.unsigned_abs());
            }
        }
        let all = replicas
            .iter()
            .fold(PnCounter::new(), |acc, r| join(&acc, r));
        assert_eq!(all.value(), expected, "{ops:?}");
    }
}

#[test]
fn lww_register_ties_go_to_the_larger_replica_id_and_concurrent_writes_lose_one() {
    // (timestamp at a, timestamp at b, the value both end with). a writes "a", b writes "b",
    // neither having seen the other.
    let cases = [(10, 20, "b"), (20, 10, "a"), (15, 15, "b")];
    for (ta, tb, winner) in cases {
        let mut a = LwwRegister::new();
        let mut b = LwwRegister::new();
        a.set(0, ta, "a");
        b.set(1, tb, "b");
        assert_eq!(join(&a, &b).value(), Some(winner), "{ta} vs {tb}");
        assert_eq!(join(&b, &a).value(), Some(winner), "{tb} vs {ta}");
    }
}

mod broadcast {
    //! Best-effort against reliable broadcast when the sender crashes mid-send, and gossip
    //! reaching everyone in each style.

    use std::time::Duration;

    use uds::coordination::broadcast::gossip::{Style, spread};
    use uds::coordination::broadcast::reliable::{Broadcaster, Mode};
    use uds::sim::{Fault, LinkConfig, NodeId, Sim, Time};

    const N: usize = 5;

    /// Process 0 broadcasts one message, sending a copy every 10 ms, and crashes at 5 ms:
    /// after its first copy (to process 1) and before its second. Returns who delivered.
    fn crash_after_first_copy(mode: Mode) -> Vec<bool> {
        let gap = Duration::from_millis(10);
        let processes = (0..N)
            .map(|i| Broadcaster::new(mode, N, u64::from(i == 0), gap))
            .collect();
        let mut sim = Sim::new(7, LinkConfig::constant(Duration::from_millis(1)), processes);
        sim.schedule_fault(Time::from_secs_f64(0.005), Fault::Crash(NodeId(0)));
        sim.run_until(Time::from_secs_f64(1.0))
            .expect("no invariants");
        (1..N)
            .map(|i| {
                let p = sim.process(NodeId(i)).expect("only process 0 crashes");
                p.delivered == vec![(0, 1)]
            })
            .collect()
    }

    #[test]
    fn best_effort_broadcast_loses_the_message_when_the_sender_crashes_mid_send() {
        assert_eq!(
            crash_after_first_copy(Mode::BestEffort),
            vec![true, false, false, false],
            "only process 1 got a copy before the crash"
        );
    }

    /// Agreement (Cachin, Guerraoui and Rodrigues 2011): process 1 is correct and
    /// delivered, so it relays, and every correct process delivers.
    #[test]
    fn reliable_broadcast_survives_a_sender_crash_after_one_copy() {
        assert_eq!(crash_after_first_copy(Mode::Reliable), vec![true; N - 1]);
    }

    #[test]
    fn reliable_broadcast_costs_n_squared_messages_without_faults() {
        let gap = Duration::from_millis(1);
        let processes = (0..N)
            .map(|i| Broadcaster::new(Mode::Reliable, N, u64::from(i == 0), gap))
            .collect();
        let mut sim = Sim::new(3, LinkConfig::constant(Duration::from_millis(1)), processes);
        sim.run_until(Time::from_secs_f64(1.0))
            .expect("no invariants");
        let sent: u64 = (0..N)
            .map(|i| sim.process(NodeId(i)).expect("up").sent)
            .sum();
        // The origin sends n - 1 copies; each other process relays to all but itself and the
        // process it first heard from.
        assert_eq!(sent, (N as u64 - 1) + (N as u64 - 1) * (N as u64 - 2));
    }

    #[test]
    fn every_gossip_style_informs_everyone_in_logarithmic_rounds() {
        for style in Style::ALL {
            for seed in 0..20 {
                let s = spread(style, 200, 1, seed, 60).unwrap_or_else(|| {
                    panic!(
                        "{} seed {seed}: not everyone informed in 60 rounds",
                        style.name()
                    )
                });
                assert!(
                    s.rounds <= 30,
                    "{} seed {seed}: {} rounds",
                    style.name(),
                    s.rounds
                );
            }
        }
    }
}
