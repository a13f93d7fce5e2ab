//! Chapter 10's linearizability checker, held to its claims: it accepts what a single copy could
//! have done, rejects what it could not, says why, and agrees with exhaustive enumeration.
//!
//! Times in the hand-written histories are milliseconds; `None` as a return time means the
//! client gave up (the outcome is unknown).

use proptest::prelude::*;
use uds::coordination::linearizability::{
    CheckResult, Explanation, KvInput, KvModel, KvOutput, Model, Operation, Unpartitioned, check,
    check_with_budget, render_history,
};

type KvOp = Operation<KvInput, KvOutput>;

const MS: u64 = 1_000_000;

fn op(
    client: u64,
    input: KvInput,
    output: Option<KvOutput>,
    call_ms: u64,
    ret: Option<u64>,
) -> KvOp {
    let output = ret.and(output);
    let return_ns = ret.map_or(u64::MAX, |r| r * MS);
    Operation {
        client,
        input,
        output,
        call_ns: call_ms * MS,
        return_ns,
    }
}

fn put(client: u64, key: &str, value: &str, call_ms: u64, ret: Option<u64>) -> KvOp {
    let input = KvInput::Put {
        key: key.into(),
        value: value.into(),
    };
    op(client, input, Some(KvOutput::Ok), call_ms, ret)
}

fn append(client: u64, key: &str, value: &str, call_ms: u64, ret: Option<u64>) -> KvOp {
    let input = KvInput::Append {
        key: key.into(),
        value: value.into(),
    };
    op(client, input, Some(KvOutput::Ok), call_ms, ret)
}

fn get(client: u64, key: &str, seen: Option<&str>, call_ms: u64, ret: Option<u64>) -> KvOp {
    let input = KvInput::Get { key: key.into() };
    op(
        client,
        input,
        Some(KvOutput::Value(seen.map(String::from))),
        call_ms,
        ret,
    )
}

/// The explanation of an illegal history; fails the test, showing the history, otherwise.
fn illegal(history: &[KvOp]) -> Explanation {
    match check(&KvModel, history) {
        CheckResult::Illegal(e) => e,
        other => panic!(
            "expected illegal, got {other:?} for\n{}",
            render_history(&KvModel, history)
        ),
    }
}

fn assert_linearizable(history: &[KvOp]) {
    let result = check(&KvModel, history);
    assert_eq!(
        result,
        CheckResult::Ok,
        "\n{}{result}",
        render_history(&KvModel, history)
    );
}

// Accepted: what a single copy could have done (Herlihy and Wing 1990, §2).

#[test]
fn concurrent_writes_may_take_effect_in_either_order() {
    for winner in ["1", "2"] {
        assert_linearizable(&[
            put(1, "x", "1", 0, Some(20)),
            put(2, "x", "2", 10, Some(30)),
            get(3, "x", Some(winner), 40, Some(50)),
        ]);
    }
}

#[test]
fn a_read_concurrent_with_a_write_may_see_the_old_or_the_new_value() {
    for seen in ["1", "2"] {
        assert_linearizable(&[
            put(1, "x", "1", 0, Some(10)),
            put(1, "x", "2", 20, Some(40)),
            get(2, "x", Some(seen), 25, Some(35)),
        ]);
    }
}

#[test]
fn a_write_with_unknown_outcome_may_or_may_not_have_taken_effect() {
    for seen in ["1", "2"] {
        assert_linearizable(&[
            put(1, "x", "1", 0, Some(10)),
            put(1, "x", "2", 20, None),
            get(2, "x", Some(seen), 50, Some(60)),
        ]);
    }
}

#[test]
fn a_write_with_unknown_outcome_may_take_effect_long_after_its_call() {
    assert_linearizable(&[
        put(1, "x", "1", 0, None),
        get(2, "x", None, 10, Some(20)),
        get(2, "x", None, 30, Some(40)),
        get(2, "x", Some("1"), 500, Some(510)),
    ]);
}

#[test]
fn operations_whose_intervals_touch_count_as_concurrent() {
    assert_linearizable(&[
        put(1, "x", "1", 0, Some(10)),
        get(2, "x", None, 10, Some(20)),
    ]);
}

#[test]
fn keys_are_independent() {
    assert_linearizable(&[
        put(1, "x", "1", 0, Some(10)),
        put(2, "y", "1", 5, Some(15)),
        get(3, "y", Some("1"), 20, Some(30)),
        get(3, "x", Some("1"), 20, Some(30)),
    ]);
}

// Rejected, with an explanation that names the offending operation.

#[test]
fn a_stale_read_after_a_completed_write_is_rejected() {
    let history = [
        put(1, "x", "1", 0, Some(5)),
        put(1, "x", "2", 10, Some(20)),
        get(2, "x", Some("1"), 30, Some(40)),
    ];
    let e = illegal(&history);
    assert_eq!(e.partition, "key \"x\"");
    assert_eq!(e.offending(), vec![2]);
    assert_eq!(e.prefix.len(), 2);
    let text = e.to_string();
    assert!(
        text.contains(
            "get(x) -> Some(\"1\") by client 2 [30..40 ms] cannot be linearized: \
             after put(x, \"2\") [10..20 ms], which completed before it began, x = \"2\""
        ),
        "{text}"
    );
}

#[test]
fn a_new_old_inversion_between_two_reads_is_rejected() {
    // The write is still in flight, so each read alone could go either way; but the second
    // read began after the first had seen the new value, so it may not see the old one.
    let history = [
        put(1, "x", "1", 0, Some(100)),
        get(2, "x", Some("1"), 10, Some(20)),
        get(3, "x", None, 30, Some(40)),
    ];
    let e = illegal(&history);
    assert_eq!(e.offending(), vec![2]);
    let text = e.to_string();
    assert!(
        text.contains(
            "get(x) -> None by client 3 [30..40 ms] cannot be linearized: \
             after get(x) -> Some(\"1\") [10..20 ms], which completed before it began, x = \"1\""
        ),
        "{text}"
    );
}

#[test]
fn a_lost_append_is_rejected() {
    let history = [
        append(1, "x", "a", 0, Some(10)),
        append(2, "x", "b", 20, Some(30)),
        get(3, "x", Some("b"), 40, Some(50)),
    ];
    let e = illegal(&history);
    assert_eq!(e.offending(), vec![2]);
    assert!(e.to_string().contains("x = \"ab\""), "{e}");
}

#[test]
fn a_write_with_unknown_outcome_once_seen_stays_seen() {
    let history = [
        put(1, "x", "1", 0, Some(10)),
        put(1, "x", "2", 20, None),
        get(2, "x", Some("2"), 50, Some(60)),
        get(2, "x", Some("1"), 70, Some(80)),
    ];
    assert_eq!(illegal(&history).offending(), vec![3]);
}

#[test]
fn a_read_of_a_value_never_written_is_rejected_at_the_start() {
    let e = illegal(&[get(4, "k", Some("ghost"), 0, Some(1))]);
    assert!(
        e.to_string()
            .contains("cannot be linearized: initially, k is absent"),
        "{e}"
    );
}

#[test]
fn an_illegal_key_is_reported_even_when_another_key_is_legal() {
    let history = [
        put(1, "a", "1", 0, Some(10)),
        get(1, "a", Some("1"), 20, Some(30)),
        put(2, "b", "1", 0, Some(10)),
        get(2, "b", None, 20, Some(30)),
    ];
    let e = illegal(&history);
    assert_eq!(e.partition, "key \"b\"");
    assert_eq!(e.offending(), vec![3]);
}

// The budget.

/// `n` appends all concurrent with each other and with a read of a value nobody wrote: every
/// order of the appends leaves a different string, so nothing prunes the `n!` orders.
fn pathological(key: &str, n: u64) -> Vec<KvOp> {
    let mut history: Vec<KvOp> = (0..n)
        .map(|i| append(i, key, &i.to_string(), 0, Some(100)))
        .collect();
    history.push(get(n, key, Some("never written"), 0, Some(100)));
    history
}

#[test]
fn an_exhausted_budget_yields_unknown_not_a_verdict() {
    let history = pathological("x", 7);
    assert_eq!(
        check_with_budget(&KvModel, &history, 1_000),
        CheckResult::Unknown
    );
    // With room to finish, the same history is decided.
    assert!(matches!(check(&KvModel, &history), CheckResult::Illegal(_)));
}

#[test]
fn an_illegal_key_wins_over_an_undecided_one() {
    let mut history = pathological("a", 7);
    history.push(put(1, "b", "1", 0, Some(10)));
    history.push(get(2, "b", None, 20, Some(30)));
    match check_with_budget(&KvModel, &history, 1_000) {
        CheckResult::Illegal(e) => assert_eq!(e.partition, "key \"b\""),
        other => panic!("expected key b to be illegal, got {other:?}"),
    }
}

#[test]
#[should_panic(expected = "before its call")]
fn a_history_with_an_inverted_interval_is_a_bug_not_a_verdict() {
    check(&KvModel, &[put(1, "x", "1", 10, Some(5))]);
}

#[test]
fn the_rendered_history_has_one_bar_per_operation_in_call_order() {
    let history = [
        get(2, "x", Some("1"), 30, Some(40)),
        put(1, "x", "1", 0, Some(20)),
        put(3, "x", "2", 10, None),
    ];
    let text = render_history(&KvModel, &history);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].contains("put(x, \"1\") [0..20 ms]"), "{text}");
    assert!(
        lines[1].contains(">| put(x, \"2\") -> ? [10 ms..?]"),
        "{text}"
    );
    assert!(
        lines[2].contains("]| get(x) -> Some(\"1\") [30..40 ms]"),
        "{text}"
    );
}

// Properties: histories of an atomic store, mutated histories, and exhaustive enumeration.

/// One generated operation: client, key, kind (0 get, 1 put, 2 append), linearization point,
/// how long before the point it was called and after it returned, and whether the client
/// gave up (`Some(took_effect)`).
type Spec = (u64, usize, u8, u64, u64, u64, Option<bool>);

fn spec(keys: usize) -> impl Strategy<Value = Spec> {
    (
        0..4u64,
        0..keys,
        0..3u8,
        1_000..2_000u64,
        0..300u64,
        0..300u64,
        prop::option::weighted(0.15, any::<bool>()),
    )
}

const KEYS: [&str; 3] = ["x", "y", "z"];

/// Executes the operations one at a time, at their linearization points, against a map: the
/// history of an object that is atomic by construction. Written values are unique.
fn atomic_history(specs: &[Spec]) -> Vec<KvOp> {
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by_key(|&i| (specs[i].3, i));
    let mut store = std::collections::BTreeMap::<String, String>::new();
    let mut history: Vec<Option<KvOp>> = vec![None; specs.len()];
    for i in order {
        let (client, key, kind, point, before, after, gave_up) = specs[i];
        let key = KEYS[key].to_string();
        let value = format!("v{i}");
        let takes_effect = gave_up.unwrap_or(true);
        let (input, output) = match kind {
            0 => {
                let seen = store.get(&key).cloned();
                (KvInput::Get { key }, KvOutput::Value(seen))
            }
            1 => {
                if takes_effect {
                    store.insert(key.clone(), value.clone());
                }
                (KvInput::Put { key, value }, KvOutput::Ok)
            }
            _ => {
                if takes_effect {
                    store.entry(key.clone()).or_default().push_str(&value);
                }
                (KvInput::Append { key, value }, KvOutput::Ok)
            }
        };
        let known = gave_up.is_none();
        history[i] = Some(Operation {
            client,
            input,
            output: known.then_some(output),
            call_ns: point - before,
            return_ns: if known { point + after } else { u64::MAX },
        });
    }
    history.into_iter().flatten().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_history_of_an_atomic_store_is_linearizable(
        specs in prop::collection::vec(spec(3), 1..16)
    ) {
        let history = atomic_history(&specs);
        let result = check(&KvModel, &history);
        prop_assert_eq!(&result, &CheckResult::Ok, "\n{}{}", render_history(&KvModel, &history), result);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_rejected(
        specs in prop::collection::vec(spec(3), 1..16),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut history = atomic_history(&specs);
        let reads: Vec<usize> = (0..history.len())
            .filter(|&i| matches!(history[i].input, KvInput::Get { .. }) && history[i].output.is_some())
            .collect();
        prop_assume!(!reads.is_empty());
        let read = reads[pick.index(reads.len())];
        history[read].output = Some(KvOutput::Value(Some("never written".into())));
        match check(&KvModel, &history) {
            // The other keys are untouched, so the illegal partition is the mutated read's key.
            CheckResult::Illegal(e) => {
                prop_assert_eq!(e.partition, format!("key {:?}", history[read].input.key()));
            }
            other => prop_assert!(false, "accepted a read of a value never written: {:?}", other),
        }
    }
}

/// A small arbitrary history (not necessarily linearizable): two keys, two values, random
/// intervals and outputs, some operations with unknown outcome.
fn arbitrary_history() -> impl Strategy<Value = Vec<KvOp>> {
    let one = (
        0..2usize,
        0..3u8,
        0..3u8,
        0..60u64,
        1..40u64,
        prop::bool::weighted(0.15),
    );
    prop::collection::vec(one, 1..8).prop_map(|ops| {
        ops.into_iter()
            .enumerate()
            .map(|(i, (key, kind, v, call, len, gave_up))| {
                let key = KEYS[key].to_string();
                let value = ["1", "2"][usize::from(v % 2)].to_string();
                let (input, output) = match kind {
                    0 => {
                        let seen = [None, Some("1"), Some("2")][usize::from(v)].map(String::from);
                        (KvInput::Get { key }, KvOutput::Value(seen))
                    }
                    1 => (KvInput::Put { key, value }, KvOutput::Ok),
                    _ => (KvInput::Append { key, value }, KvOutput::Ok),
                };
                Operation {
                    client: i as u64,
                    input,
                    output: (!gave_up).then_some(output),
                    call_ns: call,
                    return_ns: if gave_up { u64::MAX } else { call + len },
                }
            })
            .collect()
    })
}

/// Linearizability by brute force: try every order that respects real time, without memory.
/// Operations with unknown outcome may be placed or left out.
fn enumerate(
    model: &KvModel,
    history: &[KvOp],
    placed: &mut Vec<bool>,
    state: &<KvModel as Model>::State,
) -> bool {
    let unplaced = |i: usize, placed: &[bool]| !placed[i];
    if (0..history.len()).all(|i| placed[i] || history[i].output.is_none()) {
        return true;
    }
    for i in 0..history.len() {
        let blocked =
            (0..history.len()).any(|j| unplaced(j, placed) && history[j].precedes(&history[i]));
        if placed[i] || blocked {
            continue;
        }
        if let Some(next) = model.step(state, &history[i].input, history[i].output.as_ref()) {
            placed[i] = true;
            let found = enumerate(model, history, placed, &next);
            placed[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn the_search_agrees_with_exhaustive_enumeration(history in arbitrary_history()) {
        let expected = enumerate(&KvModel, &history, &mut vec![false; history.len()], &KvModel.init());
        let result = check(&KvModel, &history);
        prop_assert_eq!(result == CheckResult::Ok, expected, "\n{}{}", render_history(&KvModel, &history), result);
    }

    #[test]
    fn partitioning_per_key_gives_the_same_verdict_as_one_search(history in arbitrary_history()) {
        let per_key = check(&KvModel, &history);
        let whole = check(&Unpartitioned(KvModel), &history);
        prop_assert_eq!(per_key == CheckResult::Ok, whole == CheckResult::Ok, "per key: {}whole: {}", per_key, whole);
        prop_assert!(per_key != CheckResult::Unknown && whole != CheckResult::Unknown);
    }
}
