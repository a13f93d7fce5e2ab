//! Chapter 12 experiment: the anomaly table. Every Hermitage test case, run against our engine
//! at read committed, snapshot isolation and serializable (2PL), and against a real PostgreSQL
//! server (started for the run in a temporary directory) at read committed, repeatable read
//! and serializable. The PostgreSQL columns are compared with Hermitage's published results.
//!
//! outputs: code/outputs/ch12_anomalies.txt
//!
//! Run: `cargo run --release -p uds --example ch12_anomalies`
//! One scenario's transcripts: `... -- --scenario P4` (add `--level si`, `--backend engine`).
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use uds::coordination::transactions::engine::Isolation;
use uds::coordination::transactions::hermitage::{disagreements_with_hermitage, scenarios};
use uds::coordination::transactions::postgres::PgBackend;
use uds::coordination::transactions::scenario::{
    Backend, Cell, EngineBackend, Scenario, classify, render_transcript, run,
};
use uds::experiment::{ExperimentArgs, Table};
use uds::servers::postgres::PostgresServer;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Engine,
    Postgres,
    Both,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Level {
    /// Read committed.
    Rc,
    /// Snapshot isolation (PostgreSQL: repeatable read).
    Si,
    /// Serializable.
    Ser,
}

#[derive(Parser)]
#[command(about = "Run Hermitage's isolation tests against our engine and PostgreSQL")]
struct Args {
    #[command(flatten)]
    common: ExperimentArgs,
    /// Which backends to run.
    #[arg(long, value_enum, default_value = "both")]
    backend: Which,
    /// Print the transcripts of this scenario (e.g. P4, G2-item) instead of the table.
    #[arg(long)]
    scenario: Option<String>,
    /// With --scenario: only this level.
    #[arg(long, value_enum, requires = "scenario")]
    level: Option<Level>,
}

const LEVELS: [Isolation; 3] = [
    Isolation::ReadCommitted,
    Isolation::Snapshot,
    Isolation::Serializable,
];

fn main() -> ExitCode {
    match main_inner() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main_inner() -> Result<(), String> {
    let args = Args::parse();
    let all = scenarios();
    let server = match args.backend {
        Which::Engine => None,
        _ => Some(PostgresServer::start()?),
    };
    let mut backends: Vec<(&str, Box<dyn Backend>)> = Vec::new();
    if args.backend != Which::Postgres {
        backends.push(("our engine", Box::new(EngineBackend::default())));
    }
    if let Some(server) = &server {
        backends.push(("PostgreSQL", Box::new(PgBackend::new(server, 3)?)));
    }
    if let Some(name) = &args.scenario {
        let Some(scenario) = all.iter().find(|s| s.name.eq_ignore_ascii_case(name)) else {
            let names: Vec<&str> = all.iter().map(|s| s.name).collect();
            return Err(format!(
                "no scenario {name:?}; choose one of {}",
                names.join(", ")
            ));
        };
        let levels: Vec<Isolation> = match args.level {
            None => LEVELS.to_vec(),
            Some(Level::Rc) => vec![Isolation::ReadCommitted],
            Some(Level::Si) => vec![Isolation::Snapshot],
            Some(Level::Ser) => vec![Isolation::Serializable],
        };
        for (backend_name, backend) in &mut backends {
            for &level in &levels {
                let transcript = run(backend.as_mut(), scenario, level)?;
                let cell = classify(scenario, &transcript);
                println!(
                    "{} on {backend_name} at {level:?}: {}",
                    scenario.name,
                    cell.label()
                );
                println!("{}", render_transcript(&transcript));
            }
        }
        return Ok(());
    }
    if args.common.write.is_some() && args.backend != Which::Both {
        return Err("--write needs both backends (the table has both)".into());
    }
    // cells[backend][scenario][level]
    let mut cells: Vec<Vec<[Cell; 3]>> = Vec::new();
    for (_, backend) in &mut backends {
        let mut rows = Vec::new();
        for scenario in &all {
            let mut row = [Cell::Stuck; 3];
            for (l, &level) in LEVELS.iter().enumerate() {
                row[l] = classify(scenario, &run(backend.as_mut(), scenario, level)?);
            }
            rows.push(row);
        }
        cells.push(rows);
    }
    let text = render(&all, &backends, &cells);
    print!("{text}");
    args.common
        .emit("code/outputs/ch12_anomalies.txt", &text)
        .map_err(|e| e.to_string())
}

fn render(
    all: &[Scenario],
    backends: &[(&str, Box<dyn Backend>)],
    cells: &[Vec<[Cell; 3]>],
) -> String {
    let mut headers = vec!["test case", "class"];
    for (name, _) in backends {
        if name.starts_with("our") {
            headers.extend(["our RC", "our SI", "our SER"]);
        } else {
            headers.extend(["PG RC", "PG RR", "PG SER"]);
        }
    }
    let mut table = Table::new(&headers);
    for (i, scenario) in all.iter().enumerate() {
        let mut row = vec![scenario.name.to_string(), scenario.class.to_string()];
        for backend in cells {
            row.extend(backend[i].iter().map(|c| c.label().to_string()));
        }
        table.row(row);
    }
    let mut text = table.render();
    if let Some(pg) = backends.iter().position(|(name, _)| *name == "PostgreSQL") {
        let pairs: Vec<(&Scenario, [Cell; 3])> =
            all.iter().zip(cells[pg].iter().copied()).collect();
        let differ = disagreements_with_hermitage(&pairs);
        let classes = uds::coordination::transactions::hermitage::HERMITAGE_POSTGRES.len();
        text += &format!(
            "\nPostgreSQL against Hermitage's published results: {} of {} class/level cells agree\n",
            classes * 3 - differ.len(),
            classes * 3
        );
        for d in differ {
            text += &format!("  differs: {d}\n");
        }
    }
    text
}
