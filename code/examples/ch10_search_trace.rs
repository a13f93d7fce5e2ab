//! Chapter 10 output: a worked trace of the linearizability checker's search on one key.
//!
//! The search of `coordination::linearizability::search` asks its model one question at a
//! time: from this state, could this operation have produced this answer? This program wraps
//! the key-value model in [`Traced`], which answers exactly as the model does and writes each
//! question down. Its state is the model's state together with the set of operations placed so
//! far, which is exactly the configuration the search memoises (a set of operations and a
//! state), so the wrapper changes nothing the search can see and prunes the same
//! configurations. From the sequence of questions the program then tells which attempt placed
//! an operation, which was pruned as already explored, and where the search backtracked.
//!
//! outputs: code/outputs/ch10_search_trace.txt
//!
//! Run: `cargo run --release -p uds --example ch10_search_trace -- --write .`
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Parser;
use uds::coordination::linearizability::search::{Verdict, search};
use uds::coordination::linearizability::{
    KvInput, KvModel, KvOutput, KvState, Model, Operation, render_history,
};
use uds::experiment::ExperimentArgs;

/// A worked trace of the checker's search on two four-operation histories.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

/// One question the search asked the model.
struct Question {
    /// Operations already placed when it asked.
    placed: BTreeSet<usize>,
    /// The key-value state after them.
    state: KvState,
    /// The operation it tried to place next.
    op: usize,
    /// Whether the model accepted it.
    accepted: bool,
}

/// The key-value model, with operations tagged by their index and every question recorded.
struct Traced {
    questions: RefCell<Vec<Question>>,
}

impl Model for Traced {
    /// The model's state and the set of operations placed: the search's configuration.
    type State = (KvState, BTreeSet<usize>);
    type Input = (usize, KvInput);
    type Output = KvOutput;

    fn init(&self) -> Self::State {
        (KvModel.init(), BTreeSet::new())
    }

    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&KvOutput>,
    ) -> Option<Self::State> {
        let next = KvModel.step(&state.0, &input.1, output);
        self.questions.borrow_mut().push(Question {
            placed: state.1.clone(),
            state: state.0.clone(),
            op: input.0,
            accepted: next.is_some(),
        });
        next.map(|kv| {
            let mut placed = state.1.clone();
            placed.insert(input.0);
            (kv, placed)
        })
    }
}

fn op(
    client: u64,
    input: KvInput,
    output: KvOutput,
    call_ms: u64,
    return_ms: u64,
) -> Operation<KvInput, KvOutput> {
    Operation {
        client,
        input,
        output: Some(output),
        call_ns: call_ms * 1_000_000,
        return_ns: return_ms * 1_000_000,
    }
}

fn put(client: u64, value: &str, call_ms: u64, return_ms: u64) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Put {
        key: "x".into(),
        value: value.into(),
    };
    op(client, input, KvOutput::Ok, call_ms, return_ms)
}

fn get(client: u64, seen: &str, call_ms: u64, return_ms: u64) -> Operation<KvInput, KvOutput> {
    let input = KvInput::Get { key: "x".into() };
    op(
        client,
        input,
        KvOutput::Value(Some(seen.into())),
        call_ms,
        return_ms,
    )
}

/// Operation `i` as the trace names it, such as `B:put(x,2)`.
fn name(history: &[Operation<KvInput, KvOutput>], i: usize) -> String {
    let o = &history[i];
    let client = format!("c{}", o.client);
    match (&o.input, &o.output) {
        (KvInput::Put { value, .. }, _) => format!("{client}:put(x,{value})"),
        (KvInput::Get { .. }, Some(KvOutput::Value(Some(v)))) => format!("{client}:get(x)->{v}"),
        (input, output) => format!("{client}:{input:?}->{output:?}"),
    }
}

fn names(history: &[Operation<KvInput, KvOutput>], set: &BTreeSet<usize>) -> String {
    if set.is_empty() {
        return "nothing".into();
    }
    let all: Vec<String> = set.iter().map(|&i| name(history, i)).collect();
    all.join(" ")
}

fn value(state: &KvState) -> String {
    state
        .get("x")
        .map_or("x absent".into(), |v| format!("x = {v}"))
}

/// Runs the search on `history` through [`Traced`] and narrates every question.
fn trace(title: &str, history: &[Operation<KvInput, KvOutput>]) -> String {
    let mut out = format!("{title}\n");
    out += &render_history(&KvModel, history);
    let model = Traced {
        questions: RefCell::new(Vec::new()),
    };
    let tagged: Vec<Operation<(usize, KvInput), KvOutput>> = history
        .iter()
        .enumerate()
        .map(|(i, o)| Operation {
            client: o.client,
            input: (i, o.input.clone()),
            output: o.output.clone(),
            call_ns: o.call_ns,
            return_ns: o.return_ns,
        })
        .collect();
    let all: Vec<usize> = (0..history.len()).collect();
    let result = search(&model, &tagged, &all, 1_000);
    let questions = model.questions.into_inner();
    for (k, q) in questions.iter().enumerate() {
        let next = questions.get(k + 1).map(|n| &n.placed);
        let mut grown = q.placed.clone();
        grown.insert(q.op);
        let placed = q.accepted && next.is_none_or(|n| n.is_superset(&grown));
        let what = match (q.accepted, placed) {
            (false, _) => "refused",
            (true, true) => "placed",
            (true, false) => "pruned, this set and state were explored before",
        };
        let _ = writeln!(
            out,
            "{:>2}. after [{}] ({}): try {}: {what}",
            k + 1,
            names(history, &q.placed),
            value(&q.state),
            name(history, q.op)
        );
        // What the search holds after this question; fewer operations at the next question
        // means it met a return and undid choices.
        let holds = if placed { grown } else { q.placed.clone() };
        // After the last question of a failed search, it undoes everything it still holds.
        let failed = matches!(result.verdict, Verdict::Illegal { .. });
        let undone: BTreeSet<usize> = match next {
            Some(n) => holds.difference(n).copied().collect(),
            None if failed => holds,
            None => BTreeSet::new(),
        };
        if !undone.is_empty() {
            let _ = writeln!(
                out,
                "    a return comes first: backtrack, take out [{}]",
                names(history, &undone)
            );
        }
    }
    let verdict = match result.verdict {
        Verdict::Linearizable => "verdict: linearizable".to_string(),
        Verdict::Illegal { prefix, .. } => {
            let longest: Vec<String> = prefix.iter().map(|&i| name(history, i)).collect();
            format!(
                "a return comes first with nothing left to take out: no order works.\n\
                 verdict: not linearizable; longest order found: {}",
                longest.join(" ")
            )
        }
        Verdict::GaveUp => "verdict: undecided (budget exhausted)".to_string(),
    };
    let _ = writeln!(
        out,
        "{verdict}\n{} events visited, {} configurations memoised, {} questions asked\n",
        result.steps,
        result.configurations,
        questions.len()
    );
    out
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The two histories of the ch10_linearizability listing: overlapping writes, then reads.
    let good = vec![
        put(1, "1", 0, 20),
        put(2, "2", 10, 30),
        get(3, "1", 25, 35),
        get(3, "2", 40, 50),
    ];
    let mut bad = good.clone();
    bad[2] = get(3, "2", 25, 35);
    bad[3] = get(3, "1", 40, 50);
    let text = format!(
        "The search of coordination::linearizability::search, one question to the model per \
         line.\n[...] is the set of operations placed so far (with the state after them, the \
         configuration\nthe search memoises); c1 is client 1.\n\n{}{}",
        trace("good history:", &good),
        trace("bad history:", &bad)
    );
    print!("{text}");
    match args
        .common
        .emit("code/outputs/ch10_search_trace.txt", &text)
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
