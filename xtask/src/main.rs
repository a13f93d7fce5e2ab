//! `cargo xtask`: the book's build tooling.
//!
//! The README has two commands, `cargo xtask serve` (read the book locally) and
//! `cargo xtask test` (everything CI checks). The other subcommands are the individual
//! steps of `test`, runnable on their own. Arguments are parsed by hand to keep this
//! crate quick to compile; a bad flag is an error message, never a panic.

mod actionlint;
mod browser;
mod cdp;
mod chapters;
mod exercises;
mod features;
mod html;
mod listings;
mod markdown;
mod outputs;
mod playground;
mod serve_static;
mod test;
mod tools;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

The README's two commands:
  serve [--port N]     install the pinned tools, serve the book on 127.0.0.1 (default port 3000)
                       with live reload
  test                 run every check below in order, then print a summary table

Single steps:
  install-tools        ensure the per-user tool cache (~/.cache/uds-book/tools) has mdbook 0.5.4
                       and mdbook-mermaid 0.17.1
  build                build the book (mdbook build)
  outputs              regenerate every experiment's declared outputs (code/outputs, src/figures)
  check-listings       every Rust listing is an include of an existing, non-empty file/anchor
  check-chapters       every chapter linked from SUMMARY.md meets the chapter bar (diagrams,
                       listings, a Run button, a figure or table, exercises, further reading)
  check-features       `cargo run -p uds` resolves dependency features as `--workspace` does
                       (so examples reuse the test build instead of rebuilding)
  check-outputs        checked-in experiment outputs are exactly what the experiments produce
  check-html           no unexpanded {{#...}} directive in the built HTML
  check-playground     every runnable listing compiles and runs (< 6 s) exactly as Run sends it
  check-exercises      every command an exercise shows, and every `cargo run --example` in the
                       book, runs as written (exercise tests check their solutions)
  check-browser        every page in headless Chromium (1440x900): no console errors, Mermaid
                       renders, images load, internal links and #fragments resolve, nothing is
                       wider than the text column; Copy, edit and Run on every runnable listing
  check-actionlint     lint .github/workflows/*.yml with actionlint

  help                 this text
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "serve" => parse_serve_port(rest).and_then(tools::serve),
        other => {
            let Some(step) = step(other) else {
                eprintln!("error: unknown command `{other}`\n");
                eprint!("{USAGE}");
                return ExitCode::from(2);
            };
            no_args(other, rest).and_then(|()| step())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = e.to_string();
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            ExitCode::FAILURE
        }
    }
}

/// The commands that take no options.
fn step(command: &str) -> Option<fn() -> util::Result> {
    Some(match command {
        "install-tools" => tools::install_tools,
        "build" => || tools::build().map(|_| ()),
        "outputs" => outputs::outputs,
        "check-listings" => listings::check_listings,
        "check-chapters" => chapters::check_chapters,
        "check-features" => features::check_features,
        "check-exercises" => exercises::check_exercises,
        "check-outputs" => outputs::check_outputs,
        "check-html" => html::check_html,
        "check-playground" => playground::check_playground,
        "check-browser" => browser::check_browser,
        "check-actionlint" => actionlint::check_actionlint,
        "test" => test::test,
        _ => return None,
    })
}

/// Commands other than `serve` take no options.
fn no_args(command: &str, rest: &[String]) -> util::Result {
    match rest.first() {
        None => Ok(()),
        Some(arg) => Err(format!(
            "`{command}` takes no arguments, got `{arg}` (see `cargo xtask help`)"
        )
        .into()),
    }
}

/// `serve [--port N | --port=N]`.
fn parse_serve_port(rest: &[String]) -> util::Result<u16> {
    let mut port = 3000u16;
    let mut i = 0;
    while i < rest.len() {
        let value = match rest[i].as_str() {
            "--port" | "-p" => {
                i += 1;
                rest.get(i)
                    .map(String::as_str)
                    .ok_or("`--port` needs a value, e.g. `--port 3000`")?
            }
            arg => match arg.strip_prefix("--port=") {
                Some(v) => v,
                None => {
                    return Err(format!(
                        "unknown option `{arg}` for `serve` (expected `--port N`)"
                    )
                    .into());
                }
            },
        };
        port = value
            .parse()
            .map_err(|_| format!("invalid port `{value}`: expected a number from 1 to 65535"))?;
        if port == 0 {
            return Err("invalid port `0`: expected a number from 1 to 65535".into());
        }
        i += 1;
    }
    Ok(port)
}
