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
        "seed {}; 3 processes, {} wake-ups each, send probability {}; clocks: {};\n\
         one-way delay uniform in 3..15 ms. Times in ms; HLC is (l in ms, c).\n\n{}\n{}",
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

/// The space-time diagram as SVG: one line per process, an arrow per message.
fn diagram(r: &Recording, n: usize) -> String {
    let names = names(r);
    let t_max = r
        .events
        .iter()
        .map(|e| e.at.as_millis_f64())
        .fold(1.0, f64::max);
    let mut svg = String::new();
    {
        let height = 140 + 160 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (1000, height)).into_drawing_area();
        root.fill(&WHITE).expect("drawing into a string");
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Space-time diagram: Lamport and vector timestamps",
                ("sans-serif", 22),
            )
            .margin(20)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.03 * t_max..t_max * 1.05, -0.6..(n as f64 - 0.4))
            .expect("valid ranges");
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| format!("n{}", n as i64 - 1 - y.round() as i64))
            .x_desc("true time (ms)")
            .y_desc("process")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .expect("drawing into a string");
        // Processes are drawn top to bottom: n0 at the top.
        let y_of = |node: usize| (n - 1 - node) as f64;
        let px = |x: f64, node: usize| chart.backend_coord(&(x, y_of(node)));
        let grey = RGBColor(120, 120, 120);
        for node in 0..n {
            let line = [px(0.0, node), px(t_max * 1.02, node)];
            root.draw(&PathElement::new(line.to_vec(), grey.stroke_width(2)))
                .expect("drawing into a string");
        }
        let blue = RGBColor(0, 114, 178);
        for event in &r.events {
            if let EventKind::Receive { msg, .. } = event.kind {
                let send = r
                    .events
                    .iter()
                    .position(|x| matches!(x.kind, EventKind::Send { msg: m, .. } if m == msg));
                if let Some(s) = send {
                    let from = px(r.events[s].at.as_millis_f64(), r.events[s].node);
                    let to = px(event.at.as_millis_f64(), event.node);
                    arrow(&root, from, to, blue);
                }
            }
        }
        let mut on_node = vec![0usize; n];
        for (e, event) in r.events.iter().enumerate() {
            let (x, y) = px(event.at.as_millis_f64(), event.node);
            let color = match event.kind {
                EventKind::Local => RGBColor(0, 158, 115),
                EventKind::Send { .. } => RGBColor(213, 94, 0),
                EventKind::Receive { .. } => blue,
            };
            root.draw(&Circle::new((x, y), 5, color.filled()))
                .expect("drawing into a string");
            // Alternate labels above and below the line so neighbours do not collide.
            let above = on_node[event.node].is_multiple_of(2);
            on_node[event.node] += 1;
            let s = &event.stamps;
            let lines = [
                format!("{} L={}", names[e], s.lamport),
                s.vector.to_string(),
            ];
            let (first_dy, step, v) = if above {
                (-22, 13, VPos::Bottom)
            } else {
                (10, 13, VPos::Top)
            };
            for (i, text) in lines.iter().enumerate() {
                let style = ("sans-serif", 12)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, v));
                let dy = first_dy + step * i as i32;
                // A translucent white box behind the text keeps it readable over arrows.
                let half = 3 * text.len() as i32 + 2;
                let top = if above { y + dy - 13 } else { y + dy };
                let backing = Rectangle::new(
                    [(x - half, top), (x + half, top + 13)],
                    WHITE.mix(0.8).filled(),
                );
                root.draw(&backing).expect("drawing into a string");
                root.draw(&Text::new(text.clone(), (x, y + dy), style))
                    .expect("drawing into a string");
            }
        }
        legend(&root, blue);
        root.present().expect("drawing into a string");
    }
    svg
}

/// What the dot colours mean, in the top right corner.
fn legend(root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>, blue: RGBColor) {
    let entries = [
        ("local event", RGBColor(0, 158, 115)),
        ("send", RGBColor(213, 94, 0)),
        ("receive (arrow from its send)", blue),
    ];
    for (i, (label, color)) in entries.iter().enumerate() {
        let (x, y) = (760, 44 + 18 * i as i32);
        root.draw(&Circle::new((x, y), 5, color.filled()))
            .expect("drawing into a string");
        let style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(label.to_string(), (x + 12, y), style))
            .expect("drawing into a string");
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
