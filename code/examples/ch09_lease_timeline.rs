//! Chapter 9 figure: the lease arithmetic of the paused ex-leader, on one time axis.
//!
//! Runs the chapter's story (`scenario::paused_ex_leader`, with fencing; `--pause-ms` changes
//! the length of A's pause) one millisecond at a
//! time and records, at every millisecond of true time: whether the lock service counts a live
//! lease for A or for B, whether A's own clock still says A leads, whether A is paused, and the
//! writes the storage received. It draws them as lanes of one timeline, and marks the numbers
//! that decide the story, all read from the scenario's configuration or from the run: the TTL,
//! the renewal interval, the client's margin, and the threshold TTL - renewal interval, below
//! which a pause ends before anyone else can be granted the lock.
//!
//! outputs: src/figures/ch09_lease_timeline.svg
//!
//! Run: `cargo run --release -p uds --example ch09_lease_timeline -- --write .`
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use uds::coordination::leader_election::scenario::{
    LOCK, Setup, client, client_state, paused_ex_leader_for, service, storage,
};
use uds::experiment::ExperimentArgs;
use uds::sim::{NodeState, Time};

/// The chapter 9 lease timeline (an SVG figure).
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// How much of the story to draw, in milliseconds of true time.
    #[arg(long, default_value_t = 2_600, value_parser = clap::value_parser!(u64).range(1_600..=10_000))]
    until_ms: u64,
    /// How long A is paused, from 510 ms, in milliseconds.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=5_000))]
    pause_ms: u64,
}

/// What was true at one millisecond.
#[derive(Clone, Copy, Default)]
struct Sample {
    /// The service counts a live lease held by A (client 0) / by B (client 1).
    service_a: bool,
    service_b: bool,
    /// A's own clock says its lease is still valid.
    a_believes: bool,
    /// A is frozen.
    a_paused: bool,
    /// When the service's lease for A expires, if A holds it.
    a_expiry: Option<Time>,
}

/// A write as the storage saw it.
struct Write {
    at_ms: u64,
    by_a: bool,
    accepted: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut sim = paused_ex_leader_for(true, Duration::from_millis(args.pause_ms));
    let mut samples = Vec::with_capacity(args.until_ms as usize + 1);
    for ms in 0..=args.until_ms {
        if let Err(e) = sim.run_until(Time::from_millis(ms)) {
            eprintln!("the scenario broke an invariant at {ms} ms: {e}");
            return ExitCode::FAILURE;
        }
        let now = sim.now();
        let lease = service(&sim).locks.get(LOCK).and_then(|l| l.lease);
        let live = |holder| {
            lease
                .as_ref()
                .is_some_and(|l| l.holder == holder && now < l.expires_at)
        };
        let a = client_state(&sim, 0);
        samples.push(Sample {
            service_a: live(client(0)),
            service_b: live(client(1)),
            a_believes: a.token.is_some() && sim.local_time(client(0)) < a.lease_until,
            a_paused: sim.state(client(0)) == NodeState::Paused,
            a_expiry: lease
                .as_ref()
                .filter(|l| l.holder == client(0))
                .map(|l| l.expires_at),
        });
    }
    let writes: Vec<Write> = storage(&sim)
        .log
        .iter()
        .map(|w| Write {
            at_ms: w.at.0 / 1_000_000,
            by_a: w.from == client(0),
            accepted: w.accepted,
        })
        .collect();
    let setup = Setup::book(true);
    let svg = draw(&samples, &writes, &setup);
    let first = |on: fn(&Sample) -> bool| spans(&samples, on).first().copied();
    let when = |span: Option<(u64, u64)>, end: bool| match span {
        Some((_, b)) if end && b < args.until_ms => format!("{b} ms"),
        Some((a, _)) if !end => format!("{a} ms"),
        _ => "never".to_string(),
    };
    println!("A paused from 510 ms for {} ms", args.pause_ms);
    println!(
        "A's lease at the service ends: {}",
        when(first(|s| s.service_a), true)
    );
    println!(
        "A stops believing it leads:    {}",
        when(first(|s| s.a_believes), true)
    );
    println!(
        "B's lease at the service from: {}",
        when(first(|s| s.service_b), false)
    );
    let count = |by_a: bool, accepted: bool| {
        writes
            .iter()
            .filter(|w| w.by_a == by_a && w.accepted == accepted)
            .count()
    };
    let tokens = |holder| {
        let tokens: Vec<String> = service(&sim)
            .grants
            .iter()
            .filter(|g| g.holder == holder)
            .map(|g| format!("{} at {} ms", g.token.0, g.at.0 / 1_000_000))
            .collect();
        if tokens.is_empty() {
            "none".to_string()
        } else {
            tokens.join(", ")
        }
    };
    println!("tokens granted to A: {}", tokens(client(0)));
    println!("tokens granted to B: {}", tokens(client(1)));
    println!(
        "writes at the storage: A {} accepted, {} refused; B {} accepted",
        count(true, true),
        count(true, false),
        count(false, true)
    );
    if let Err(e) = args
        .common
        .emit("src/figures/ch09_lease_timeline.svg", &svg)
    {
        eprintln!("cannot write the figure: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The intervals `[start, end)` in milliseconds where `on` holds.
fn spans(samples: &[Sample], on: impl Fn(&Sample) -> bool) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut start = None;
    for (ms, s) in samples.iter().enumerate() {
        match (on(s), start) {
            (true, None) => start = Some(ms as u64),
            (false, Some(a)) => {
                out.push((a, ms as u64));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(a) = start {
        out.push((a, samples.len() as u64));
    }
    out
}

/// The instants at which the service extended A's lease (the grant and each renewal).
fn renewals(samples: &[Sample]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut last = None;
    for (ms, s) in samples.iter().enumerate() {
        if let Some(expiry) = s.a_expiry
            && Some(expiry) != last
        {
            out.push((ms as u64, expiry.0 / 1_000_000));
            last = Some(expiry);
        }
    }
    out
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 46.0;
const TOP: f64 = 78.0;

fn draw(samples: &[Sample], writes: &[Write], setup: &Setup) -> String {
    let until = samples.len() as f64;
    let x = |ms: u64| LEFT + (ms as f64) / until * (WIDTH - LEFT - RIGHT);
    let lane_y = |i: usize| TOP + LANE * i as f64;
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let (ttl, margin, renew) = (ms(setup.ttl), ms(setup.margin), ms(setup.renew_every));
    let lanes = [
        "A's lease at the service",
        "A's lease on A's clock",
        "A paused (a GC)",
        "B's lease at the service",
        "writes at the storage",
    ];
    let height = lane_y(lanes.len()) + 56.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="24" text-anchor="middle" font-size="15">The paused ex-leader: TTL {ttl} ms, renewals every {renew} ms, margin {margin} ms</text>
"##,
        WIDTH / 2.0
    );
    // Lane labels and guide lines.
    for (i, name) in lanes.iter().enumerate() {
        let y = lane_y(i);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{name}</text><line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/>"##,
            LEFT - 10.0,
            y + 4.0,
            WIDTH - RIGHT
        );
    }
    let bar = |svg: &mut String, lane: usize, (a, b): (u64, u64), fill: &str| {
        let _ = writeln!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="16" fill="{fill}"/>"##,
            x(a),
            lane_y(lane) - 8.0,
            (x(b) - x(a)).max(1.0)
        );
    };
    let (blue, orange, grey) = ("#4e79a7", "#f28e2b", "#9c9c9c");
    for s in spans(samples, |s| s.service_a) {
        bar(&mut svg, 0, s, blue);
    }
    for s in spans(samples, |s| s.a_believes) {
        bar(&mut svg, 1, s, "#a0cbe8");
    }
    for s in spans(samples, |s| s.a_paused) {
        bar(&mut svg, 2, s, grey);
    }
    for s in spans(samples, |s| s.service_b) {
        bar(&mut svg, 3, s, orange);
    }
    // The grant and each renewal: a tick on A's service lane, with the expiry it set.
    let marks = renewals(samples);
    for (at, _) in &marks {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="black" stroke-width="2"/>"##,
            x(*at),
            lane_y(0) - 14.0,
            lane_y(0) + 14.0
        );
    }
    if let [(first, _), (second, _), ..] = marks.as_slice() {
        bracket(
            &mut svg,
            x(*first),
            x(*second),
            lane_y(0) - 18.0,
            true,
            &format!("renewal after {} ms", second - first),
        );
    }
    // The last renewal: the TTL counts from it at the service; the margin comes off A's view.
    if let (Some((at, expiry)), Some(&(_, believed_end))) =
        (marks.last(), spans(samples, |s| s.a_believes).first())
    {
        bracket(
            &mut svg,
            x(*at),
            x(*expiry),
            lane_y(0) + 20.0,
            false,
            &format!("TTL {ttl} ms from the renewal: expires at {expiry} ms"),
        );
        bracket(
            &mut svg,
            x(believed_end),
            x(*expiry),
            lane_y(1) + 20.0,
            false,
            &format!(
                "A stops at {believed_end} ms ({} ms earlier)",
                expiry - believed_end
            ),
        );
        // The threshold: a pause shorter than TTL - renewal interval ends before the lease can
        // run out, since at any instant at least that much of the lease is left.
        let safe = ttl - renew;
        let pause_start = spans(samples, |s| s.a_paused).first().map_or(0, |s| s.0);
        bracket(
            &mut svg,
            x(pause_start),
            x(pause_start + safe),
            lane_y(2) + 20.0,
            false,
            &format!("pauses under TTL - renewal = {safe} ms end in time"),
        );
    }
    for w in writes {
        let (cx, cy) = (x(w.at_ms), lane_y(4));
        let colour = if w.by_a { blue } else { orange };
        if w.accepted {
            let _ = writeln!(
                svg,
                r##"<circle cx="{cx:.1}" cy="{cy}" r="5" fill="{colour}"/>"##
            );
        } else {
            let _ = writeln!(
                svg,
                r##"<path d="M{0:.1},{1} l10,10 m0,-10 l-10,10" transform="translate(-5,-5)" stroke="#e15759" stroke-width="3"/><text x="{2:.1}" y="{3}" text-anchor="end" fill="#e15759">A's token-1 write refused at {4} ms</text>"##,
                cx,
                cy,
                cx - 10.0,
                cy + 22.0,
                w.at_ms
            );
        }
    }
    // Time axis.
    let axis_y = lane_y(lanes.len()) - 12.0;
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="black"/>"##,
        WIDTH - RIGHT
    );
    let mut t = 0;
    while t as f64 <= until {
        let _ = writeln!(
            svg,
            r##"<line x1="{0:.1}" y1="{axis_y}" x2="{0:.1}" y2="{1}" stroke="black"/><text x="{0:.1}" y="{2}" text-anchor="middle">{t}</text>"##,
            x(t),
            axis_y + 5.0,
            axis_y + 20.0
        );
        t += 250;
    }
    let _ = writeln!(
        svg,
        r##"<text x="{}" y="{}" text-anchor="middle">true time (ms)</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        axis_y + 40.0
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="{}">dots: accepted writes (blue A, orange B); cross: refused</text>"##,
        axis_y + 58.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// A horizontal bracket from `x1` to `x2` at height `y`, labelled above it (`above`) or below.
fn bracket(svg: &mut String, x1: f64, x2: f64, y: f64, above: bool, label: &str) {
    let (tip, text_y) = if above {
        (y + 5.0, y - 5.0)
    } else {
        (y - 5.0, y + 14.0)
    };
    let _ = writeln!(
        svg,
        r##"<path d="M{x1:.1},{tip:.1} V{y:.1} H{x2:.1} V{tip:.1}" fill="none" stroke="#555"/><text x="{0:.1}" y="{text_y:.1}" text-anchor="middle" font-size="12" fill="#333">{label}</text>"##,
        (x1 + x2) / 2.0,
    );
}
