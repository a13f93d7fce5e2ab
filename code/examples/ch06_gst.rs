//! Chapter 6 figures: the two partially synchronous models of Dwork, Lynch and Stockmeyer (1988).
//!
//! One process sends a message to another every 50 ms (for 30 s and 5 s of virtual time); each
//! point of a figure is one message: when it was sent, and how long it took.
//!
//! - `ch06_gst_known_bound.svg`: the bound is known (10 ms) but holds only after a global
//!   stabilisation time (GST, here 15 s) that the processes do not know. Before it, delays come
//!   from the chapter's long-tailed (Pareto) links; from it on, from the bounded ones. This is
//!   the model the chapter's simulator implements (`timing::run_until`).
//! - `ch06_gst_unknown_bound.svg`: a bound always holds (40 ms) but nobody knows it. A timeout
//!   that starts too short and doubles after each late message (each a false suspicion) stops
//!   erring once it passes the bound: the algorithms of Dwork, Lynch and Stockmeyer do this.
//!
//! outputs: src/figures/ch06_gst_known_bound.svg src/figures/ch06_gst_unknown_bound.svg
//!
//! Run: `cargo run --release -p uds --example ch06_gst -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::system_models::timing::{
    BOOK_BOUNDED, BOOK_UNBOUNDED, Bounded, TimingModel, run_until,
};
use uds::experiment::ExperimentArgs;
use uds::plot::{Chart, Series, SeriesLabelPosition};
use uds::sim::{Ctx, NodeId, Process, Sim, Time, TimerId};

/// The delays of messages sent at a steady rate, under each variant of partial synchrony.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

/// Time between two messages.
const PERIOD: Duration = Duration::from_millis(50);
/// How long each run lasts: the known-bound one, and the unknown-bound one (whose timeout
/// settles within its first second).
const RUN: Duration = Duration::from_secs(30);
const UNKNOWN_RUN: Duration = Duration::from_secs(5);
/// The global stabilisation time of the known-bound variant.
const GST: Duration = Duration::from_secs(15);
/// The bound of the unknown-bound variant, and where its doubling timeout starts.
const UNKNOWN_BOUND: Duration = Duration::from_millis(40);
const FIRST_TIMEOUT: Duration = Duration::from_millis(3);

/// Node 0 sends its clock reading to node 1 every `PERIOD`; node 1 notes each message's delay.
#[derive(Clone, Debug, Default)]
struct Probe {
    /// At node 1: `(sent at, delay)` of every message received, in order of arrival.
    received: Vec<(Time, Duration)>,
}

impl Process for Probe {
    type Msg = Time;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, Time>) {
        if ctx.id() == NodeId(0) {
            ctx.set_timer(TimerId(0), Duration::ZERO);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Time>, _from: NodeId, sent_at: Time) {
        self.received.push((sent_at, ctx.now().since(sent_at)));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Time>, _timer: TimerId) {
        let now = ctx.now();
        ctx.send(NodeId(1), now);
        ctx.set_timer(TimerId(0), PERIOD);
    }

    fn durable(&self) {}
}

/// `(sent at, delay)` of every message sent before the end of the run and delivered by then,
/// in order of sending.
fn delays(seed: u64, model: &TimingModel, run: Duration) -> Result<Vec<(Time, Duration)>, String> {
    let mut sim = Sim::new(seed, model.initial_link(), vec![Probe::default(); 2]);
    run_until(model, &mut sim, Time::ZERO + run).map_err(|e| e.to_string())?;
    let mut received = sim
        .process(NodeId(1))
        .expect("never crashes")
        .received
        .clone();
    received.sort();
    Ok(received)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn points(received: &[(Time, Duration)]) -> Vec<(f64, f64)> {
    received
        .iter()
        .map(|&(sent, delay)| (sent.as_secs_f64(), ms(delay).max(0.5)))
        .collect()
}

fn known_bound(received: &[(Time, Duration)]) -> Chart {
    let top = received.iter().map(|r| ms(r.1)).fold(100.0, f64::max);
    let mut chart = Chart::new(
        "Bound known, holding only after an unknown GST",
        "time the message was sent (s)",
        "delay of the message (ms, log scale)",
    );
    chart.log_y = true;
    chart.x_range = Some((0.0, RUN.as_secs_f64()));
    chart.y_range = Some((0.5, top));
    chart.legend = SeriesLabelPosition::UpperRight;
    let gst = GST.as_secs_f64();
    let bound = ms(BOOK_BOUNDED.max);
    chart
        .with(Series::points("one message", points(received)))
        .with(Series::dashed("GST", vec![(gst, 0.5), (gst, top)]))
        .with(Series::dashed(
            "the known bound (10 ms)",
            vec![(0.0, bound), (RUN.as_secs_f64(), bound)],
        ))
}

fn unknown_bound(received: &[(Time, Duration)]) -> (Chart, usize) {
    let mut timeout = FIRST_TIMEOUT;
    let mut steps = vec![(0.0, ms(timeout))];
    let mut late = Vec::new();
    for &(sent, delay) in received {
        if delay > timeout {
            let x = sent.as_secs_f64();
            late.push((x, ms(delay)));
            steps.push((x, ms(timeout)));
            timeout *= 2;
            steps.push((x, ms(timeout)));
        }
    }
    steps.push((UNKNOWN_RUN.as_secs_f64(), ms(timeout)));
    let mut chart = Chart::new(
        "Bound always holding, but unknown",
        "time the message was sent (s)",
        "delay of the message (ms)",
    );
    chart.x_range = Some((0.0, UNKNOWN_RUN.as_secs_f64()));
    chart.y_range = Some((0.0, ms(timeout.max(UNKNOWN_BOUND)) * 1.5)); // room for the legend
    chart.legend = SeriesLabelPosition::UpperRight;
    let bound = ms(UNKNOWN_BOUND);
    let mistakes = late.len();
    let chart = chart
        .with(Series::points("one message", points(received)))
        .with(Series::dashed(
            "the bound (40 ms), unknown to the processes",
            vec![(0.0, bound), (UNKNOWN_RUN.as_secs_f64(), bound)],
        ))
        .with(Series::line(
            "timeout, doubled after each late message",
            steps,
        ))
        .with(Series::points("late message: a false suspicion", late));
    (chart, mistakes)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.common.seed;
    let after_gst = TimingModel::PartiallySynchronous {
        before: BOOK_UNBOUNDED,
        gst: GST,
        after: BOOK_BOUNDED,
    };
    let unknown = TimingModel::Synchronous(Bounded {
        min: BOOK_BOUNDED.min,
        max: UNKNOWN_BOUND,
    });
    let (known_run, unknown_run) = match (
        delays(seed, &after_gst, RUN),
        delays(seed, &unknown, UNKNOWN_RUN),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gst = Time::ZERO + GST;
    let over = |from: Time, to: Time| {
        known_run
            .iter()
            .filter(|r| from <= r.0 && r.0 < to && r.1 > BOOK_BOUNDED.max)
            .count()
    };
    let (unknown_chart, mistakes) = unknown_bound(&unknown_run);
    println!(
        "seed {seed}: known bound: {} of {} messages sent before GST took longer than the bound, \
         {} sent after it; unknown bound: {mistakes} false suspicions before the timeout passed it",
        over(Time::ZERO, gst),
        known_run.iter().filter(|r| r.0 < gst).count(),
        over(gst, Time::MAX),
    );
    let written = args
        .common
        .emit(
            "src/figures/ch06_gst_known_bound.svg",
            &known_bound(&known_run).to_svg(),
        )
        .and_then(|()| {
            args.common.emit(
                "src/figures/ch06_gst_unknown_bound.svg",
                &unknown_chart.to_svg(),
            )
        });
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
