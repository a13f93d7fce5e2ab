//! Chapter 8 experiment: a space-time diagram of a run of clock-stamping processes.
//!
//! Three processes with offset, drifting clocks wake at random, do local work or send to a
//! random peer, and stamp every event with Lamport, vector and hybrid logical timestamps. The
//! figure draws one horizontal line per process against true time, an arrow per message, and
//! labels each event with its Lamport and vector timestamps; the table lists every event with
//! all three timestamps and counts how the clocks judge each pair of events.
//!
//! outputs: code/outputs/ch08_spacetime.txt src/figures/ch08_spacetime.svg
//!
//! Run: `cargo run --release -p uds --example ch08_spacetime -- --write .`
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use uds::coordination::time::happened_before::{EventKind, Recording};
use uds::coordination::time::stamped::{ClockNode, run_recorded};
use uds::experiment::{ExperimentArgs, Table};
use uds::sim::{Clock, Latency, LinkConfig, NodeId, Sim};

/// A space-time diagram of one run.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Wake-ups per process (each a local event or a send).
    #[arg(long, default_value_t = 4)]
    wakeups: u64,
    /// Probability that a wake-up sends a message.
    #[arg(long, default_value_t = 0.7)]
    send_probability: f64,
}

/// The processes' clocks: offsets in ms and drifts in ppm.
const CLOCKS: [(i64, i64); 3] = [(5, 0), (0, 100), (12, -50)];

fn main() -> ExitCode {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.send_probability) {
        eprintln!("error: --send-probability must be between 0 and 1");
        return ExitCode::FAILURE;
    }
    if !(1..=20).contains(&args.wakeups) {
        eprintln!("error: --wakeups must be between 1 and 20 (the figure must stay readable)");
        return ExitCode::FAILURE;
    }
    let n = CLOCKS.len();
    let gap = Duration::from_millis(10);
    let nodes = (0..n)
        .map(|_| ClockNode::new(n, gap, args.send_probability, args.wakeups))
        .collect();
    let link = LinkConfig::constant(Duration::ZERO).with_latency(Latency::Uniform {
        min: Duration::from_millis(3),
        max: Duration::from_millis(15),
    });
    let mut sim = Sim::new(args.common.seed, link, nodes);
    for (i, (offset_ms, drift_ppm)) in CLOCKS.iter().enumerate() {
        let clock = Clock {
            offset_ns: offset_ms * 1_000_000,
            drift_ppm: *drift_ppm,
        };
        sim.set_clock(NodeId(i), clock);
    }
    let recording = run_recorded(&mut sim);
    let clocks: Vec<String> = CLOCKS
        .iter()
        .enumerate()
        .map(|(i, (o, d))| format!("n{i} {o:+} ms {d:+} ppm"))
        .collect();
    let text = format!(
        "seed {}; 3 processes, {} wake-ups each, send probability {};\nclocks: {};\n\
         one-way delay uniform in 3..15 ms; times in ms; HLC is (l in ms, c).\n\n{}\n{}",
        args.common.seed,
        args.wakeups,
        args.send_probability,
        clocks.join(", "),
        events_table(&recording).render(),
        pair_summary(&recording)
    );
    print!("{text}");
    println!("trace hash: {:016x}", sim.trace_hash());
    let written = args
        .common
        .emit("code/outputs/ch08_spacetime.txt", &text)
        .and_then(|()| {
            let svg = diagram(&recording, n);
            args.common.emit("src/figures/ch08_spacetime.svg", &svg)
        });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A short name for event `e`: process and position on it (`n1.3` is n1's third event).
fn names(r: &Recording) -> Vec<String> {
    let nodes = r.events.iter().map(|e| e.node + 1).max().unwrap_or(0);
    let mut count = vec![0; nodes];
    r.events
        .iter()
        .map(|e| {
            count[e.node] += 1;
            format!("n{}.{}", e.node, count[e.node])
        })
        .collect()
}

fn describe(r: &Recording, names: &[String], e: usize) -> String {
    match r.events[e].kind {
        EventKind::Local => "local".to_string(),
        EventKind::Send { to, .. } => format!("send to n{to}"),
        EventKind::Receive { msg, .. } => {
            let send = r
                .events
                .iter()
                .position(|x| matches!(x.kind, EventKind::Send { msg: m, .. } if m == msg));
            let from = send.map_or("?".to_string(), |s| names[s].clone());
            format!("receive {from}")
        }
    }
}

fn events_table(r: &Recording) -> Table {
    let names = names(r);
    let mut table = Table::new(&[
        "event",
        "true time",
        "own clock",
        "what",
        "Lamport",
        "vector",
        "HLC",
    ]);
    for (e, event) in r.events.iter().enumerate() {
        let s = &event.stamps;
        table.row(vec![
            names[e].clone(),
            format!("{:.3}", event.at.as_millis_f64()),
            format!("{:.3}", s.pt as f64 / 1e6),
            describe(r, &names, e),
            s.lamport.to_string(),
            s.vector.to_string(),
            format!("({:.3}, {})", s.hlc.l as f64 / 1e6, s.hlc.c),
        ]);
    }
    table
}

/// How the clocks judge every pair of events, against the recorded truth.
fn pair_summary(r: &Recording) -> String {
    let n = r.events.len();
    let (mut ordered, mut concurrent, mut lamport_orders_concurrent) = (0, 0, 0);
    let mut vector_exact = true;
    for a in 0..n {
        for b in a + 1..n {
            let (sa, sb) = (&r.events[a].stamps, &r.events[b].stamps);
            if r.happened_before(a, b) || r.happened_before(b, a) {
                ordered += 1;
            } else {
                concurrent += 1;
                lamport_orders_concurrent += usize::from(sa.lamport != sb.lamport);
            }
            let by_vector = sa.vector.happened_before(&sb.vector);
            let backwards = sb.vector.happened_before(&sa.vector);
            vector_exact &= by_vector == r.happened_before(a, b);
            vector_exact &= backwards == r.happened_before(b, a);
        }
    }
    let lead = r
        .events
        .iter()
        .map(|e| e.stamps.hlc.l - e.stamps.pt)
        .max()
        .unwrap_or(0);
    format!(
        "{n} events, {} pairs: {ordered} ordered by happened-before, {concurrent} concurrent.\n\
         Lamport timestamps differ for {lamport_orders_concurrent} of the concurrent pairs \
         (an order that means nothing).\nVector clocks match happened-before on every pair: \
         {vector_exact}.\nLargest lead of an HLC's l over its own clock: {:.3} ms.\n",
        n * (n - 1) / 2,
        lead as f64 / 1e6
    )
}

/// The font size of event labels, in plotters' units: 16 is about 13 px in the SVG, which the
/// book shows at its own size (the figure is as wide as the text column).
const LABEL_FONT: f64 = 16.0;
/// Height of one label line, and a generous width per character, in pixels.
const LINE_PX: i32 = 16;
const CHAR_PX: i32 = 7;

/// A rectangle in pixels: left, top, right, bottom.
type Rect = (i32, i32, i32, i32);

/// The send event of each receive, by index.
fn send_of(r: &Recording, e: usize) -> Option<usize> {
    let EventKind::Receive { msg, .. } = r.events[e].kind else {
        return None;
    };
    r.events
        .iter()
        .position(|x| matches!(x.kind, EventKind::Send { msg: m, .. } if m == msg))
}

/// Whether the segment `a`-`b` passes through `rect` (sampled every pixel: exact enough here).
fn crosses(a: (i32, i32), b: (i32, i32), rect: Rect) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let steps = dx.abs().max(dy.abs()).max(1);
    (0..=steps).any(|k| {
        let x = a.0 + dx * k / steps;
        let y = a.1 + dy * k / steps;
        x >= rect.0 && x <= rect.2 && y >= rect.1 && y <= rect.3
    })
}

fn overlaps(p: Rect, q: Rect) -> bool {
    p.0 < q.2 && q.0 < p.2 && p.1 < q.3 && q.1 < p.3
}

/// The space-time diagram as SVG: one line per process, an arrow per message.
///
/// Events are spaced evenly in the order they happened (true time), not in proportion to
/// it: two events a fraction of a millisecond apart would otherwise share a label's place.
/// Each event's label goes above or below its dot, whichever side crosses fewer arrows and no
/// other label.
fn diagram(r: &Recording, n: usize) -> String {
    let names = names(r);
    let count = r.events.len().max(1);
    let (left, right, top, lane_gap) = (70, 30, 100, 170);
    // As wide as the text column, and wider only when the events would not fit.
    let width = (left + right + 40 * count as i32).max(920);
    let height = top + 40 + lane_gap * (n as i32 - 1) + 160;
    let step = f64::from(width - left - right) / count as f64;
    let at = |e: usize| {
        let x = f64::from(left) + (e as f64 + 0.5) * step;
        (
            x.round() as i32,
            top + 40 + lane_gap * r.events[e].node as i32,
        )
    };
    let messages: Vec<((i32, i32), (i32, i32))> = (0..r.events.len())
        .filter_map(|e| send_of(r, e).map(|s| (at(s), at(e))))
        .collect();
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        root.fill(&WHITE).expect("drawing into a string");
        let font = |size: f64, h: HPos| {
            ("sans-serif", size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(h, VPos::Center))
        };
        let title = "Space-time diagram: Lamport and vector timestamps";
        root.draw(&Text::new(title, (width / 2, 24), font(24.0, HPos::Center)))
            .expect("drawing into a string");
        let grey = RGBColor(120, 120, 120);
        for node in 0..n {
            let y = top + 40 + lane_gap * node as i32;
            let lane = vec![(left - 10, y), (width - right + 10, y)];
            root.draw(&PathElement::new(lane, grey.stroke_width(2)))
                .expect("drawing into a string");
            root.draw(&Text::new(
                format!("n{node}"),
                (24, y),
                font(18.0, HPos::Left),
            ))
            .expect("drawing into a string");
        }
        let blue = RGBColor(0, 114, 178);
        for (from, to) in &messages {
            arrow(&root, *from, *to, blue);
        }
        let mut placed: Vec<Rect> = Vec::new();
        for (e, event) in r.events.iter().enumerate() {
            let (x, y) = at(e);
            let color = match event.kind {
                EventKind::Local => RGBColor(0, 158, 115),
                EventKind::Send { .. } => RGBColor(213, 94, 0),
                EventKind::Receive { .. } => blue,
            };
            root.draw(&Circle::new((x, y), 6, color.filled()))
                .expect("drawing into a string");
            let lines = [
                format!("{} L={}", names[e], event.stamps.lamport),
                event.stamps.vector.to_string(),
            ];
            let chars = lines.iter().map(String::len).max().unwrap_or(0) as i32;
            let half = CHAR_PX * chars / 2 + 3;
            let tall = LINE_PX * 2 + 4;
            // Candidates: just above, just below, then one label's height further out.
            let candidates = [(-1, 0), (1, 0), (-1, 1), (1, 1)].map(|(side, tier)| {
                let near = 12 + tier * (tall + 4);
                let top_y = if side < 0 { y - near - tall } else { y + near };
                (x - half, top_y, x + half, top_y + tall)
            });
            let cost = |rect: &Rect, tier: usize| {
                let labels = placed.iter().filter(|p| overlaps(**p, *rect)).count();
                let dots = (0..r.events.len())
                    .filter(|&o| o != e)
                    .filter(|&o| {
                        let (ox, oy) = at(o);
                        overlaps((ox - 7, oy - 7, ox + 7, oy + 7), *rect)
                    })
                    .count();
                let arrows = messages
                    .iter()
                    .filter(|(a, b)| crosses(*a, *b, *rect))
                    .count();
                // A label further out needs a leader to its dot, which must not cross a label.
                let end = if rect.1 < y { rect.3 } else { rect.1 };
                let leader = placed.iter().filter(|p| crosses((x, y), (x, end), **p));
                let leaders = if tier > 0 { leader.count() } else { 0 };
                1000 * (labels + dots + leaders) + 100 * arrows + 50 * tier
            };
            let (best, rect) = candidates
                .iter()
                .enumerate()
                .min_by_key(|(k, rect)| cost(rect, k / 2))
                .map(|(k, rect)| (k, *rect))
                .expect("four candidates");
            if best >= 2 {
                // A label set further out gets a thin leader to its dot.
                let end = if rect.1 < y { rect.3 } else { rect.1 };
                root.draw(&PathElement::new(
                    vec![(x, y), (x, end)],
                    grey.stroke_width(1),
                ))
                .expect("drawing into a string");
            }
            placed.push(rect);
            root.draw(&Rectangle::new(
                [(rect.0, rect.1), (rect.2, rect.3)],
                WHITE.mix(0.9).filled(),
            ))
            .expect("drawing into a string");
            for (i, text) in lines.iter().enumerate() {
                let line_y = rect.1 + 2 + LINE_PX / 2 + LINE_PX * i as i32 + 1;
                root.draw(&Text::new(
                    text.clone(),
                    (x, line_y),
                    font(LABEL_FONT, HPos::Center),
                ))
                .expect("drawing into a string");
            }
        }
        legend(&root, width / 2, height - 54);
        let note = "events in the order they happened, evenly spaced (true times in the table)";
        root.draw(&Text::new(
            note,
            (width / 2, height - 22),
            font(16.0, HPos::Center),
        ))
        .expect("drawing into a string");
        root.present().expect("drawing into a string");
    }
    svg
}

/// What the dot colours mean, in one row about centred on `x`.
fn legend(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, x: i32, y: i32) {
    let entries = [
        ("local event", RGBColor(0, 158, 115), 140),
        ("send", RGBColor(213, 94, 0), 90),
        ("receive (arrow from its send)", RGBColor(0, 114, 178), 0),
    ];
    let mut left = x - 240;
    for (label, color, advance) in entries {
        root.draw(&Circle::new((left, y), 6, color.filled()))
            .expect("drawing into a string");
        let style = ("sans-serif", 16.0)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(label.to_string(), (left + 12, y), style))
            .expect("drawing into a string");
        left += advance;
    }
}

/// A line from `from` to `to` (pixels) with an arrowhead at `to`.
fn arrow(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    from: (i32, i32),
    to: (i32, i32),
    color: RGBColor,
) {
    let (dx, dy) = (f64::from(to.0 - from.0), f64::from(to.1 - from.1));
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    // Stop at the event's dot, then two barbs at +-25 degrees.
    let tip = (to.0 - (ux * 6.0) as i32, to.1 - (uy * 6.0) as i32);
    let barb = |angle: f64| {
        let (c, s) = (angle.cos(), angle.sin());
        let (bx, by) = (ux * c - uy * s, ux * s + uy * c);
        (tip.0 - (bx * 10.0) as i32, tip.1 - (by * 10.0) as i32)
    };
    let style = color.stroke_width(2);
    for path in [vec![from, tip], vec![barb(0.45), tip, barb(-0.45)]] {
        root.draw(&PathElement::new(path, style))
            .expect("drawing into a string");
    }
}
