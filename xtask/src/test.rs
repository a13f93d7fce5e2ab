//! `test`: everything CI checks, in order, continuing after a failure so that one run
//! reports every problem. Ends with a summary table and the line
//! `xtask test: N passed, N failed`; exits non-zero if any step failed.
//!
//! Cargo steps use `--release` so that simulation campaigns run fast and share their build
//! with the experiments that `check-outputs` runs.

use crate::util::{self, Result, repo_root};
use crate::{
    actionlint, browser, chapters, exercises, features, html, listings, outputs, playground, tools,
};
use std::process::Command;
use std::time::Instant;

type Step = (&'static str, Box<dyn Fn() -> Result>);

fn cargo(args: &'static [&'static str]) -> Box<dyn Fn() -> Result> {
    Box::new(move || util::run(Command::new("cargo").current_dir(repo_root()).args(args)))
}

pub fn test() -> Result {
    let steps: Vec<Step> = vec![
        (
            "cargo fmt --all --check",
            cargo(&["fmt", "--all", "--check"]),
        ),
        (
            "cargo clippy",
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--release",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        ("check-features", Box::new(features::check_features)),
        (
            "cargo test",
            Box::new(|| {
                // Chapter 2's tests read the kernel's view of a loopback connection with `ss`.
                util::debian_program(&["ss"], "iproute2", "cargo test (chapter 2)")?;
                // Chapter 12 runs its isolation scenarios against a real PostgreSQL server.
                util::postgres_bindir("cargo test (chapter 12)")?;
                cargo(&["test", "--workspace", "--release"])()
            }),
        ),
        ("check-listings", Box::new(listings::check_listings)),
        ("check-chapters", Box::new(chapters::check_chapters)),
        ("check-outputs", Box::new(outputs::check_outputs)),
        ("build", Box::new(|| tools::build().map(|_| ()))),
        ("check-html", Box::new(html::check_html)),
        ("check-playground", Box::new(playground::check_playground)),
        ("check-exercises", Box::new(exercises::check_exercises)),
        ("check-browser", Box::new(browser::check_browser)),
        ("check-actionlint", Box::new(actionlint::check_actionlint)),
    ];
    let total = Instant::now();
    let mut results = Vec::new();
    for (name, step) in &steps {
        println!("\n==> xtask test: {name}");
        let started = Instant::now();
        let outcome = step();
        let secs = started.elapsed().as_secs_f64();
        if let Err(e) = &outcome {
            eprintln!("error: {e}");
        }
        println!(
            "<== {name}: {} in {secs:.1} s",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        results.push((*name, outcome.is_ok(), secs));
    }
    println!("\n{:<26} {:<7} {:>9}", "step", "status", "seconds");
    for (name, ok, secs) in &results {
        println!(
            "{name:<26} {:<7} {secs:>9.1}",
            if *ok { "ok" } else { "FAILED" }
        );
    }
    println!(
        "{:<26} {:<7} {:>9.1}",
        "total",
        "",
        total.elapsed().as_secs_f64()
    );
    let failed = results.iter().filter(|r| !r.1).count();
    println!(
        "xtask test: {} passed, {failed} failed",
        results.len() - failed
    );
    if failed == 0 {
        Ok(())
    } else {
        // The summary line above must stay the last line: an empty error prints nothing.
        Err("".into())
    }
}
