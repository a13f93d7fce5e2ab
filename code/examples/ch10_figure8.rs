//! Chapter 10 figure: Figure 8 of the Raft paper, replayed with our servers and drawn as
//! per-server log grids.
//!
//! Five real `Server`s sit on a desk. The program plays the network: it fires election timers,
//! delivers the messages the script allows one at a time, drops the others, crashes servers and
//! restarts them from their durable state. After each situation (a) to (e) of §5.4.2 it records
//! every server's log, term, role and commit index, prints them, and draws them as grids: one
//! row per server, one cell per log entry labelled with its term. Nothing in the pictures is
//! typed by hand; change the script and the figure changes.
//!
//! (a) to (d) are one run: the term-2 entry at index 2 reaches a majority in (c) and is
//! overwritten in (d), which is why a leader must not commit it by counting. (e) branches from
//! (c): the leader of term 4 stores an entry of its own term on a majority first, and then S5
//! can no longer win.
//!
//! outputs: code/outputs/ch10_figure8.txt src/figures/ch10_figure8.svg
//!
//! Run: `cargo run --release -p uds --example ch10_figure8 -- --write .`
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Parser;
use rand::SeedableRng;
use uds::coordination::raft::log::{LogIndex, Term};
use uds::coordination::raft::message::Message;
use uds::coordination::raft::server::{Config, ELECTION, HEARTBEAT, Role, Server};
use uds::coordination::raft::storage::MemStorage;
use uds::experiment::ExperimentArgs;
use uds::sim::{Ctx, Effect, Metrics, NodeId, SimRng, Time};

/// Figure 8 of the Raft paper, replayed with our servers and drawn as log grids.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
}

const SERVERS: usize = 5;

/// The cluster on a desk: servers (None while crashed), each server as it was after its last
/// step (what a crashed server's row shows), their disks, and the messages in flight.
#[derive(Clone)]
struct Desk {
    servers: Vec<Option<Server>>,
    disks: Vec<Server>,
    storages: Vec<MemStorage>,
    in_flight: Vec<(NodeId, NodeId, Message)>,
    now: Time,
    rng: SimRng,
    metrics: Metrics,
    /// Events since the last panel, with how many times each happened in a row.
    log: Vec<(String, usize)>,
}

/// One server at one instant, as the figure draws it.
#[derive(Clone, Debug)]
struct Row {
    up: bool,
    role: Role,
    term: Term,
    log_terms: Vec<Term>,
    commit: LogIndex,
}

/// A situation of the figure: a caption and every server's row.
struct Panel {
    caption: String,
    /// What the script did since the previous panel.
    events: String,
    rows: Vec<Row>,
}

fn config() -> Config {
    Config {
        // One entry per AppendEntries, so that the script can stop after any entry.
        max_entries_per_message: 1,
        // The paper's algorithm, as in its Figure 8: no PreVote round before an election (the
        // script delivers RequestVote messages only), and no CheckQuorum timer.
        pre_vote: false,
        check_quorum: false,
        ..Config::default()
    }
}

/// The paper numbers servers from S1; our ids start at 0.
fn s(n: usize) -> NodeId {
    NodeId(n - 1)
}

impl Desk {
    fn new(seed: u64) -> Desk {
        let servers: Vec<Server> = (0..SERVERS)
            .map(|i| Server::new(NodeId(i), SERVERS, config()))
            .collect();
        Desk {
            disks: servers.clone(),
            storages: vec![MemStorage::default(); SERVERS],
            servers: servers.into_iter().map(Some).collect(),
            in_flight: Vec::new(),
            now: Time::ZERO,
            rng: SimRng::seed_from_u64(seed),
            metrics: Metrics::default(),
            log: Vec::new(),
        }
    }

    /// Runs one input on server `id`, writes what it must persist to its disk, then queues
    /// what it sends (the runtime's order: persist, then send).
    fn run(&mut self, id: NodeId, f: impl FnOnce(&mut Server, &mut Ctx<'_, Message>)) {
        let Some(server) = self.servers[id.0].as_mut() else {
            return; // a crashed server handles nothing
        };
        let mut effects = Vec::new();
        let mut ctx = Ctx::new(id, self.now, &mut self.rng, &mut effects, &mut self.metrics);
        f(server, &mut ctx);
        let outbox = server
            .take_ready()
            .persist(&mut self.storages[id.0])
            .expect("an in-memory disk does not fail");
        self.disks[id.0] = server.clone();
        for effect in effects {
            if let Effect::Send { to, msg } = effect {
                self.in_flight.push((id, to, msg));
            }
        }
        self.in_flight
            .extend(outbox.into_iter().map(|(to, msg)| (id, to, msg)));
    }

    /// Server `n`'s election timer fires.
    fn timeout(&mut self, n: usize) {
        self.now = self.now + std::time::Duration::from_secs(1);
        self.note(format!("S{n} times out"));
        self.run(s(n), |server, ctx| server.on_timer(ctx, ELECTION));
    }

    /// Delivers, one at a time and in sending order, the messages `allow` accepts, until none
    /// is left or `stop` holds; drops every other message.
    fn deliver(
        &mut self,
        allow: impl Fn(usize, usize, &Message) -> bool,
        stop: impl Fn(&Desk) -> bool,
    ) {
        while !stop(self) {
            let next = self
                .in_flight
                .iter()
                .position(|(from, to, m)| allow(from.0 + 1, to.0 + 1, m));
            let Some(i) = next else { break };
            let (from, to, msg) = self.in_flight.remove(i);
            self.now = self.now + std::time::Duration::from_millis(1);
            self.run(to, |server, ctx| server.on_message(ctx, from, msg));
        }
        self.in_flight.clear();
    }

    /// Times server `n` out until it leads, delivering only election messages, at most
    /// `attempts` times (a candidate may first have to pass a term in which everyone voted).
    fn elect(&mut self, n: usize, attempts: usize) {
        for _ in 0..attempts {
            self.timeout(n);
            self.deliver(|_, _, m| is_election(m), |_| false);
            if self.server(n).is_leader() {
                return;
            }
        }
    }

    /// Server `n`'s heartbeat timer fires.
    fn heartbeat(&mut self, n: usize) {
        self.run(s(n), |server, ctx| server.on_timer(ctx, HEARTBEAT));
    }

    fn crash(&mut self, n: usize) {
        self.note(format!("S{n} crashes"));
        self.servers[n - 1] = None;
    }

    /// Server `n` restarts from what it last made durable (term, vote, log).
    fn restart(&mut self, n: usize) {
        self.note(format!("S{n} restarts"));
        let disk = self.storages[n - 1].contents().clone();
        self.servers[n - 1] = Some(Server::restart(s(n), SERVERS, config(), disk));
    }

    /// Records an event for the next panel's caption; repeats are counted, not listed.
    fn note(&mut self, line: String) {
        match self.log.last_mut() {
            Some((last, count)) if *last == line => *count += 1,
            _ => self.log.push((line, 1)),
        }
    }

    fn server(&self, n: usize) -> &Server {
        self.servers[n - 1].as_ref().unwrap_or(&self.disks[n - 1])
    }

    fn panel(&mut self, caption: &str) -> Panel {
        let rows = (1..=SERVERS)
            .map(|n| {
                let server = self.server(n);
                let log = server.log();
                Row {
                    up: self.servers[n - 1].is_some(),
                    role: server.role(),
                    term: server.current_term(),
                    log_terms: (1..=log.last_index())
                        .map(|i| log.term_at(i).unwrap_or(0))
                        .collect(),
                    commit: server.commit_index(),
                }
            })
            .collect();
        let events: Vec<String> = self
            .log
            .drain(..)
            .map(|(line, count)| match count {
                1 => line,
                2 => format!("{line} twice"),
                n => format!("{line} {n} times"),
            })
            .collect();
        Panel {
            caption: caption.to_string(),
            events: events.join(", "),
            rows,
        }
    }

    fn log_len(&self, n: usize) -> LogIndex {
        self.server(n).log().last_index()
    }
}

fn is_election(m: &Message) -> bool {
    matches!(m, Message::RequestVote(_) | Message::RequestVoteResponse(_))
}

/// The script of Figure 8. Returns the panels (a) to (e).
fn figure_8(seed: u64) -> Result<Vec<Panel>, String> {
    let mut desk = Desk::new(seed);
    // Before (a): S2 leads term 1, and its no-op reaches everyone.
    desk.timeout(2);
    desk.deliver(|_, _, _| true, |_| false);
    desk.log.clear();
    if (1..=SERVERS).any(|n| desk.log_len(n) != 1) {
        return Err("every server should hold index 1 before (a)".into());
    }

    // (a) S1 wins term 2; its entry at index 2 reaches S2 only.
    desk.timeout(1);
    desk.deliver(
        |from, to, m| is_election(m) || (from, to) == (1, 2) || (from, to) == (2, 1),
        |_| false,
    );
    let a = desk.panel("(a) S1 leads term 2; its index 2 reaches S2 only");

    // (b) S1 crashes; S5 wins term 3 with the votes of S3 and S4 and appends its own index 2.
    desk.crash(1);
    desk.elect(5, 1);
    let b = desk.panel("(b) S5 leads term 3 with votes from S3, S4");

    // (c) S5 crashes; S1 restarts and wins term 4; its term-2 entry reaches S3.
    desk.crash(5);
    desk.restart(1);
    desk.elect(1, 3);
    desk.heartbeat(1);
    desk.deliver(
        |from, to, _| (from, to) == (1, 3) || (from, to) == (3, 1),
        |d| d.log_len(3) >= 2,
    );
    let c = desk.panel("(c) S1 leads term 4; index 2 is on S1, S2, S3");
    let at_c = desk.clone();

    // (d) S1 crashes before its term-4 entry is on a majority; S5 restarts, wins term 5 with
    // the votes of S2, S3, S4, and overwrites index 2 everywhere.
    desk.crash(1);
    desk.restart(5);
    desk.elect(5, 3);
    desk.heartbeat(5);
    desk.deliver(|_, _, _| true, |_| false);
    let d = desk.panel("(d) if S1 crashes now: S5 leads term 5");

    // (e) Instead, from (c): S1's term-4 entry reaches S2 and S3 first, and commits.
    let mut desk = at_c;
    for _ in 0..4 {
        desk.heartbeat(1);
        desk.deliver(
            |from, to, _| from <= 3 && to <= 3,
            |d| d.server(1).commit_index() >= 3,
        );
    }
    desk.crash(1);
    desk.restart(5);
    desk.elect(5, 3);
    let e = desk.panel("(e) instead, S1 commits index 3 first; S5 cannot win");

    let panels = vec![a, b, c, d, e];
    check(&panels).map_err(|e| format!("{e}\n{}", render_text(&panels)))?;
    Ok(panels)
}

/// The facts the chapter states about the figure; the example fails if the code disagrees.
fn check(p: &[Panel]) -> Result<(), String> {
    let [a, b, c, d, e] = p else {
        return Err("five panels".into());
    };
    let leads = |p: &Panel, n: usize, term: Term| {
        let row = &p.rows[n - 1];
        row.up && row.role == Role::Leader && row.term == term
    };
    let facts = [
        (leads(a, 1, 2), "S1 leads term 2 in (a)"),
        (leads(b, 5, 3), "S5 leads term 3 in (b)"),
        (leads(c, 1, 4), "S1 leads term 4 in (c)"),
        (leads(d, 5, 5), "S5 leads term 5 in (d)"),
        (
            (1..=3).all(|n| c.rows[n - 1].log_terms.get(1) == Some(&2)),
            "in (c) S1, S2 and S3 hold the term-2 entry at index 2",
        ),
        (
            c.rows[0].commit < 2,
            "in (c) the leader of term 4 has not committed index 2",
        ),
        (
            (2..=5).all(|n| d.rows[n - 1].log_terms.get(1) == Some(&3)),
            "in (d) S5 replaced index 2 by its term-3 entry on S2, S3, S4",
        ),
        (
            e.rows[4].role != Role::Leader && e.rows[0].commit >= 3,
            "in (e) S5 does not win and index 2 is committed",
        ),
    ];
    match facts.iter().find(|(holds, _)| !holds) {
        Some((_, fact)) => Err(format!("the run contradicts the text: {fact}")),
        None => Ok(()),
    }
}

fn role_name(row: &Row) -> &'static str {
    match (row.up, row.role) {
        (false, _) => "crashed",
        (true, Role::Leader) => "leader",
        (true, Role::Candidate) => "candidate",
        (true, _) => "follower",
    }
}

/// The panels as text: one line per server, the terms of its log entries.
fn render_text(panels: &[Panel]) -> String {
    let mut out = String::from(
        "Figure 8 of the Raft paper replayed with uds::coordination::raft::Server.\n\
         Each row: a server, its current term and role, and the term of each log entry;\n\
         a '*' marks entries the server knows are committed.\n",
    );
    for p in panels {
        let _ = writeln!(out, "\n{}\n  events: {}", p.caption, p.events);
        for (i, row) in p.rows.iter().enumerate() {
            let cells: Vec<String> = row
                .log_terms
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let mark = if (k as u64) < row.commit { "*" } else { "" };
                    format!("{t}{mark}")
                })
                .collect();
            let _ = writeln!(
                out,
                "  S{} term {} {:<9} | {}",
                i + 1,
                row.term,
                role_name(row),
                cells.join(" ")
            );
        }
    }
    out
}

/// Fill colours of terms 1 to 5 (Okabe and Ito's palette, light enough for black text).
const TERM_FILL: [&str; 5] = ["#cfe3f2", "#f6cfb3", "#b3e2d3", "#ecd0e1", "#f5dfa8"];

/// The panels as an SVG: two columns of grids, a caption above each.
fn render_svg(panels: &[Panel]) -> String {
    const W: usize = 900;
    const PANEL_W: usize = 440;
    const CELL: usize = 34;
    const ROW_H: usize = 30;
    const PANEL_H: usize = 40 + SERVERS * ROW_H + 16;
    let rows_of_panels = panels.len().div_ceil(2);
    let h = 50 + rows_of_panels * PANEL_H;
    let mut svg = format!(
        "<svg width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" \
         xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\">\n\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{h}\" fill=\"#FFFFFF\"/>\n\
         <text x=\"{}\" y=\"26\" text-anchor=\"middle\" font-size=\"18\">\
         Raft Figure 8 replayed: each server's log, one cell per entry, labelled with its \
         term</text>\n",
        W / 2
    );
    for (k, p) in panels.iter().enumerate() {
        let x0 = 10 + (k % 2) * (PANEL_W + 10);
        let y0 = 50 + (k / 2) * PANEL_H;
        let (title, detail) = (&p.caption, &p.events);
        let _ = writeln!(
            svg,
            "<text x=\"{x0}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\">{title}</text>\n\
             <text x=\"{x0}\" y=\"{}\" font-size=\"11\" fill=\"#555555\">{}</text>",
            y0 + 14,
            y0 + 30,
            detail
        );
        for (i, row) in p.rows.iter().enumerate() {
            let y = y0 + 40 + i * ROW_H;
            let opacity = if row.up { "1" } else { "0.35" };
            let label = format!("S{} t{} {}", i + 1, row.term, role_name(row));
            let weight = if row.role == Role::Leader && row.up {
                "bold"
            } else {
                "normal"
            };
            let _ = writeln!(
                svg,
                "<g opacity=\"{opacity}\"><text x=\"{x0}\" y=\"{}\" font-size=\"13\" \
                 font-weight=\"{weight}\">{label}</text>",
                y + 18
            );
            for (j, &term) in row.log_terms.iter().enumerate() {
                let x = x0 + 150 + j * (CELL + 4);
                let fill = TERM_FILL[(term as usize).saturating_sub(1) % TERM_FILL.len()];
                let committed = (j as u64) < row.commit;
                let (stroke, width) = if committed {
                    ("#000000", 3)
                } else {
                    ("#888888", 1)
                };
                let _ = writeln!(
                    svg,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{}\" fill=\"{fill}\" \
                     stroke=\"{stroke}\" stroke-width=\"{width}\"/>\
                     <text x=\"{}\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\">{term}\
                     </text>",
                    ROW_H - 6,
                    x + CELL / 2,
                    y + 17
                );
            }
            svg.push_str("</g>\n");
        }
        if k == 0 {
            // Index numbers above the first panel's cells.
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"#555555\">index</text>",
                x0 + 110,
                y0 + 38
            );
            for j in 0..3 {
                let x = x0 + 150 + j * (CELL + 4) + CELL / 2;
                let _ = writeln!(
                    svg,
                    "<text x=\"{x}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\" \
                     fill=\"#555555\">{}</text>",
                    y0 + 38,
                    j + 1
                );
            }
        }
    }
    let (x, y) = (PANEL_W + 20, 50 + 2 * PANEL_H + PANEL_H / 2);
    let _ = writeln!(
        svg,
        "<text x=\"{x}\" y=\"{y}\" font-size=\"12\" fill=\"#333333\">Thick border: committed, \
         as that server knows it.</text>\n<text x=\"{x}\" y=\"{}\" font-size=\"12\" \
         fill=\"#333333\">Faded row: crashed (shown as it was at the crash).</text>\n\
         <text x=\"{x}\" y=\"{}\" font-size=\"12\" fill=\"#333333\">S1 t2: server S1, \
         whose current term is 2.</text>\n</svg>",
        y + 18,
        y + 36
    );
    svg
}

fn main() -> ExitCode {
    let args = Args::parse();
    match figure_8(args.common.seed) {
        Ok(panels) => {
            let text = render_text(&panels);
            print!("{text}");
            let written = args
                .common
                .emit("code/outputs/ch10_figure8.txt", &text)
                .and_then(|()| {
                    args.common
                        .emit("src/figures/ch10_figure8.svg", &render_svg(&panels))
                });
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
