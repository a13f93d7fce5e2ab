//! `check-exercises`: every command the book tells a reader to run works as written.
//!
//! **Which commands.** On every page SUMMARY.md links (drafts have no page): every command
//! starting with `cargo ` (after optional `NAME=value` environment assignments) inside the
//! `## Exercises` section, in a code fence line or an inline code span; and, anywhere on the
//! page, every `cargo run ... --example ...` command. A fence line ending in `\` continues on
//! the next line; a `$ ` prompt and a trailing `# comment` are dropped; a line that starts with
//! anything else (`printf ... | cargo ...`) is not a command this check runs.
//!
//! **What is rejected without running** (the rules are in [`plan`], unit-tested below):
//! - a `cargo test` without `--lib`, `--test NAME`, `--doc`, `--example NAME` or `--bench NAME`:
//!   it builds every test target of the package, 40-55 s after an edit instead of about 13 s;
//! - a `cargo run` whose sentence says it regenerates, rewrites or produces the outputs while
//!   neither it nor a command of its code block has `--write` (an experiment writes nothing
//!   without it). The sentence is the one around an inline command, or the one that introduces
//!   a code block (the last sentence of the paragraph right before it); a sentence that says
//!   "without `--write`" or "without writing" claims nothing;
//! - a command with shell syntax (pipes, redirections, quotes, `$`), since commands run without
//!   a shell, and a `cargo` subcommand other than `test` and `run` that [`NOT_RUN`] does not
//!   list with its reason.
//!
//! **What is skipped**, and said so in the report: a template with a `<placeholder>`; a command
//! listed in [`NOT_RUN`]; and `cargo run --release -p uds --example NAME`, with no arguments or
//! only `-- --write DIR`, for an experiment that declares outputs, because `check-outputs` runs
//! exactly that program with its default arguments and compares what it writes.
//!
//! **What is listed rather than run**: a `cargo test --release` command with no environment
//! assignment and nothing after `--` but output options (`--nocapture`). Every test it selects
//! runs, as written, in the `cargo test --workspace --release` step of `cargo xtask test`, so
//! running it again would only repeat minutes of campaigns. The check runs it with `--list`
//! appended instead, which builds the same target and must list at least one test. Commands with
//! `--ignored` (exercise tests) or with `UDS_SEEDS=...`-style assignments run in full.
//!
//! **How the rest run.** Each distinct command runs once, from the repository root, with the
//! page's environment assignments, `UDS_EXERCISE=solution` (so an exercise test checks the
//! tested solution instead of the reader's `todo!()` starter, see `uds::exercise`), and an
//! empty standard input (an interactive program reads end of input and must exit cleanly),
//! within [`LIMIT`] of wall-clock time. The builds they need are made first, outside the limit
//! (`cargo build` / `cargo test --no-run` with the command's build flags). A `--write DIR` is
//! pointed at a fresh temporary directory instead, so the check never changes the repository,
//! and the program must write at least one file there. A `cargo run` must exit 0. A `cargo test`
//! must exit 0 and pass at least one test, summed over its `test result:` lines: a filter that
//! matches nothing runs 0 tests and "passes", which here is a failure. Commands that ask the
//! reader to edit the code first run on the unmodified code, so they must work as written.

use crate::markdown::{self, Block};
use crate::outputs;
use crate::util::{self, Result, TempDir, repo_root};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The wall-clock limit of one command (its build excluded).
pub const LIMIT: Duration = Duration::from_secs(120);

/// Commands that cannot run unattended, each with the reason: (command as written, reason).
/// Empty today: `raft_cluster`'s prompt exits at the end of its (empty) input.
pub const NOT_RUN: &[(&str, &str)] = &[];

pub fn check_exercises() -> Result {
    let started = Instant::now();
    let root = repo_root();
    let summary = util::read(&root.join("src/SUMMARY.md"))?;
    let experiments: BTreeSet<String> = outputs::experiments()?
        .into_iter()
        .map(|e| e.name)
        .collect();
    let mut problems = Vec::new();
    // Distinct commands to run, in page order, with every place that shows them.
    let mut runs: Vec<(Plan, Vec<String>)> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut skipped = Vec::new();
    for link in markdown::summary_links(&summary) {
        if link.path.is_empty() {
            continue;
        }
        let text = util::read(&root.join("src").join(&link.path))?;
        for found in find(&text) {
            let place = format!("{}:{}", link.path, found.line);
            match plan(&found, &experiments) {
                Err(e) => problems.push(format!("{place}: `{}`: {e}", found.text)),
                Ok(Plan::Skip(reason)) => skipped.push((place, found.text, reason)),
                Ok(p) => {
                    let key = p.key();
                    match index.get(&key) {
                        Some(&i) => runs[i].1.push(place),
                        None => {
                            index.insert(key, runs.len());
                            runs.push((p, vec![place]));
                        }
                    }
                }
            }
        }
    }
    let plans: Vec<&Plan> = runs.iter().map(|(p, _)| p).collect();
    println!(
        "check-exercises: {} command(s) to run, {} skipped; building first",
        runs.len(),
        skipped.len()
    );
    for args in builds(&plans) {
        if let Err(e) = util::run(Command::new("cargo").current_dir(&root).args(args)) {
            // Nothing can run; the problems found on the pages are reported too.
            problems.push(format!("the build the commands need failed: {e}"));
            return util::report("check-exercises", &problems, "problem(s)");
        }
    }
    println!("{:>7}  {:<8} command (where)", "seconds", "result");
    for (p, places) in &runs {
        let t = Instant::now();
        let outcome = execute(p, &root);
        let secs = t.elapsed().as_secs_f64();
        let result = match &outcome {
            Ok(n) if n.is_empty() => "ok".to_string(),
            Ok(n) => n.clone(),
            Err(_) => "FAILED".to_string(),
        };
        println!(
            "{secs:>7.1}  {result:<8} {} ({})",
            p.text(),
            places.join(", ")
        );
        if let Err(e) = outcome {
            problems.push(format!("{}: `{}`: {e}", places.join(", "), p.text()));
        }
    }
    for (place, text, reason) in &skipped {
        println!("{:>7}  {:<8} {text} ({place}): {reason}", "-", "skipped");
    }
    println!(
        "check-exercises: {} command(s) run in {:.1} s",
        runs.len(),
        started.elapsed().as_secs_f64()
    );
    util::report("check-exercises", &problems, "problem(s)")
}

/// A command found on a page.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    /// The line it starts on (1-based).
    pub line: usize,
    /// The command on one line, as written.
    pub text: String,
    /// Inside the `## Exercises` section.
    pub in_exercises: bool,
    /// Its sentence says it regenerates or writes outputs.
    pub claims_write: bool,
    /// It, or another command of its code block, has `--write`.
    pub block_writes: bool,
}

/// The commands of a page that this check looks at (see the module doc).
pub fn find(text: &str) -> Vec<Found> {
    let blocks = markdown::blocks(text);
    let mut out = Vec::new();
    let mut in_exercises = false;
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Block::Text(t) => {
                if let Some((level, title)) = t.heading() {
                    if level <= 2 {
                        in_exercises = level == 2 && title.eq_ignore_ascii_case("exercises");
                    }
                    continue;
                }
                for span in markdown::spans(t) {
                    if selected(&span.code, in_exercises) {
                        out.push(Found {
                            line: span.line,
                            block_writes: has_write(&span.code),
                            text: span.code,
                            in_exercises,
                            claims_write: claims_write(&span.sentence),
                        });
                    }
                }
            }
            Block::Fence(f) => {
                if matches!(f.lang(), "rust" | "mermaid") {
                    continue;
                }
                let lead_in = match i.checked_sub(1).map(|j| &blocks[j]) {
                    Some(Block::Text(t)) if t.heading().is_none() => markdown::last_sentence(t),
                    _ => String::new(),
                };
                let commands: Vec<(usize, String)> = fence_commands(&f.body)
                    .into_iter()
                    .filter(|(_, c)| selected(c, in_exercises))
                    .collect();
                let block_writes = commands.iter().any(|(_, c)| has_write(c));
                for (line, text) in commands {
                    out.push(Found {
                        line,
                        text,
                        in_exercises,
                        claims_write: claims_write(&lead_in),
                        block_writes,
                    });
                }
            }
        }
    }
    out
}

/// The lines of a code block as commands: continuations joined, prompts and comments dropped.
fn fence_commands(body: &[(usize, String)]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut continues = false;
    for (line, text) in body {
        let mut t = text.trim();
        t = t.strip_prefix("$ ").unwrap_or(t);
        if let Some(at) = t.find(" #") {
            t = &t[..at];
        }
        let (t, next_continues) = match t.strip_suffix('\\') {
            Some(rest) => (rest.trim_end(), true),
            None => (t.trim_end(), false),
        };
        match out.last_mut() {
            Some(last) if continues => {
                last.1.push(' ');
                last.1.push_str(t);
            }
            _ => out.push((*line, t.to_string())),
        }
        continues = next_continues;
    }
    out
}

/// Whether the check looks at `command`: any `cargo` command in the Exercises, and
/// `cargo run --example` everywhere.
fn selected(command: &str, in_exercises: bool) -> bool {
    let Some(c) = split(command) else {
        return false;
    };
    in_exercises
        || (c.args.first().is_some_and(|s| s == "run") && c.args.contains(&"--example".into()))
}

fn has_write(command: &str) -> bool {
    command
        .split_whitespace()
        .any(|t| t == "--write" || t.starts_with("--write="))
}

/// Whether a sentence says its command regenerates or writes the book's outputs.
fn claims_write(sentence: &str) -> bool {
    let s = sentence.to_lowercase();
    let negated = ["without `--write`", "without --write", "without writing"]
        .iter()
        .any(|n| s.contains(n));
    let claims = [
        "regenerat",
        "rewrit",
        "produce it",
        "produce them",
        "update the",
    ]
    .iter()
    .any(|k| s.contains(k));
    claims && !negated
}

/// A `cargo` command: its environment assignments and the arguments after `cargo`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cargo {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

/// `NAME=value ... cargo args...`, or `None` if the text is not a cargo command.
fn split(text: &str) -> Option<Cargo> {
    let mut env = Vec::new();
    let mut words = text.split_whitespace();
    for word in words.by_ref() {
        if word == "cargo" {
            let args: Vec<String> = words.map(str::to_string).collect();
            return (!args.is_empty()).then_some(Cargo { env, args });
        }
        let (name, value) = word.split_once('=')?;
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !is_name {
            return None;
        }
        env.push((name.to_string(), value.to_string()));
    }
    None
}

/// What the check does with a command.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Run the tests: they are not run elsewhere as written (an environment assignment, or
    /// `--ignored`).
    Test(Cargo),
    /// List the tests the command selects: each one also runs, unchanged, in `cargo test
    /// --workspace --release`.
    List(Cargo),
    Run(Cargo),
    Skip(String),
}

/// Whether `cargo test` with these arguments runs nothing that `cargo test --workspace
/// --release` (a step of `cargo xtask test`) does not run already in the same way: no
/// environment assignment (`UDS_SEEDS`, `UDS_FIRST_SEED` change what a campaign runs), and
/// nothing after `--` but output options (so no `--ignored`, which selects the exercise tests).
fn runs_in_the_suite(cmd: &Cargo, after: &[String]) -> bool {
    const OUTPUT_ONLY: &[&str] = &["--", "--nocapture", "--show-output", "--quiet", "-q"];
    cmd.env.is_empty()
        && cmd.args.iter().any(|a| a == "--release")
        && after.iter().all(|a| OUTPUT_ONLY.contains(&a.as_str()))
}

pub const NARROW: &str = "builds every test target of the package (40-55 s after an edit \
     instead of about 13 s): name one, e.g. `--lib` for the unit tests in code/src or \
     `--test PART` for the tests of code/tests/PART/main.rs";

/// The judgement on one found command (see the module doc); `Err` is a problem in the book.
pub fn plan(found: &Found, experiments: &BTreeSet<String>) -> std::result::Result<Plan, String> {
    let text = &found.text;
    if let Some((_, reason)) = NOT_RUN.iter().find(|(c, _)| *c == text) {
        return Ok(Plan::Skip(format!("not run: {reason}")));
    }
    if text.contains('<') && text.contains('>') {
        return Ok(Plan::Skip("a template with a <placeholder>".into()));
    }
    if let Some(c) = text.chars().find(|c| {
        matches!(
            c,
            '|' | '&' | ';' | '>' | '<' | '$' | '`' | '\'' | '"' | '*'
        )
    }) {
        return Err(format!(
            "shell syntax (`{c}`): commands run without a shell, write a plain command"
        ));
    }
    let Some(cmd) = split(text) else {
        return Err("not a cargo command".into());
    };
    let sub = cmd.args[0].as_str();
    let dashdash = cmd.args.iter().position(|a| a == "--");
    let (flags, after) = cmd.args.split_at(dashdash.unwrap_or(cmd.args.len()));
    match sub {
        "test" => {
            let narrow = flags.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "--lib" | "--doc" | "--test" | "--example" | "--bench"
                ) || ["--test=", "--example=", "--bench="]
                    .iter()
                    .any(|p| a.starts_with(p))
            });
            if !narrow {
                Err(NARROW.into())
            } else if runs_in_the_suite(&cmd, after) {
                Ok(Plan::List(cmd))
            } else {
                Ok(Plan::Test(cmd))
            }
        }
        "run" => {
            if found.claims_write && !found.block_writes {
                return Err(
                    "its sentence says it regenerates the outputs, but an experiment \
                            writes nothing without `--write`: add `--write .` (from the \
                            repository's root)"
                        .into(),
                );
            }
            if let Some(i) = after.iter().position(|a| a == "--write")
                && after.get(i + 1).is_none_or(|v| v.starts_with('-'))
            {
                return Err("`--write` needs a folder, e.g. `--write .`".into());
            }
            let mut sorted: Vec<&str> = flags.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            let example = flags
                .iter()
                .position(|a| a == "--example")
                .and_then(|i| flags.get(i + 1));
            if let Some(name) = example
                && experiments.contains(name)
                && (after.is_empty() || (after.len() == 3 && after[1] == "--write"))
            {
                let mut expected = vec!["run", "--release", "-p", "uds", "--example", name];
                expected.sort_unstable();
                if sorted == expected {
                    return Ok(Plan::Skip(format!(
                        "check-outputs runs `{name}` with its default arguments (and \
                         `--write <dir>`) and compares what it writes"
                    )));
                }
            }
            Ok(Plan::Run(cmd))
        }
        other => Err(format!(
            "`cargo {other}`: this check runs `cargo test` and `cargo run` commands; list a \
             command that cannot run here in NOT_RUN (xtask/src/exercises.rs) with the reason"
        )),
    }
}

impl Plan {
    fn cargo(&self) -> Option<&Cargo> {
        match self {
            Plan::Test(c) | Plan::List(c) | Plan::Run(c) => Some(c),
            Plan::Skip(_) => None,
        }
    }

    /// The command as one line, with its environment.
    pub fn text(&self) -> String {
        let Some(c) = self.cargo() else {
            return String::new();
        };
        let env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        format!("{}cargo {}", env.concat(), c.args.join(" "))
    }

    /// Commands that differ only in their `--write` folder run once.
    fn key(&self) -> String {
        let text = self.text();
        let mut words: Vec<&str> = text.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "--write")
            && i + 1 < words.len()
        {
            words[i + 1] = "<dir>";
        }
        words.join(" ")
    }

    /// What the command needs built: the cargo subcommand that builds without running
    /// (`build`, or `test ... --no-run`), its other flags (sorted, test-name filters dropped),
    /// and its target flags (`--lib`, `--test NAME`, `--example NAME`, ...), which [`builds`]
    /// merges across commands.
    fn build(&self) -> Option<(String, Vec<String>, Vec<String>)> {
        /// Flags whose next word is their value, not a test-name filter.
        const VALUED: &[&str] = &[
            "-p",
            "--package",
            "--test",
            "--example",
            "--bench",
            "--bin",
            "--features",
            "-F",
            "--profile",
            "--target",
            "--manifest-path",
            "-j",
            "--jobs",
        ];
        const TARGETS: &[&str] = &["--lib", "--test", "--example", "--bench", "--bin"];
        let (kind, c) = match self {
            Plan::Test(c) | Plan::List(c) => ("test", c),
            Plan::Run(c) => ("build", c),
            Plan::Skip(_) => return None,
        };
        let (mut base, mut targets) = (Vec::new(), Vec::new());
        let mut words = c.args[1..].iter().take_while(|a| *a != "--");
        while let Some(a) = words.next() {
            let unit = if VALUED.contains(&a.as_str()) {
                format!("{a} {}", words.next()?)
            } else if a.starts_with('-') || kind == "build" {
                a.clone()
            } else {
                continue; // a test-name filter: it selects what runs, not what is built
            };
            let first = unit.split([' ', '=']).next().unwrap_or("");
            if TARGETS.contains(&first) {
                targets.push(unit);
            } else {
                base.push(unit);
            }
        }
        base.sort();
        Some((kind.to_string(), base, targets))
    }
}

/// The build commands for `plans`: one per subcommand and set of other flags, with the
/// targets of every command that shares them (one `cargo build` builds all the examples).
fn builds(plans: &[&Plan]) -> Vec<Vec<String>> {
    let mut merged: BTreeMap<(String, Vec<String>), BTreeSet<String>> = BTreeMap::new();
    for (kind, base, targets) in plans.iter().filter_map(|p| p.build()) {
        merged.entry((kind, base)).or_default().extend(targets);
    }
    merged
        .into_iter()
        .map(|((kind, base), targets)| {
            let mut args = vec![kind.clone()];
            for unit in base.iter().chain(&targets) {
                args.extend(unit.split(' ').map(str::to_string));
            }
            if kind == "test" {
                args.push("--no-run".into());
            }
            args
        })
        .collect()
}

/// Runs a planned command; `Ok` holds a short note for the report (tests passed).
fn execute(plan: &Plan, root: &Path) -> Result<String> {
    let Some(c) = plan.cargo() else {
        return Ok(String::new());
    };
    let tmp = TempDir::new("uds-check-exercises")?;
    let write_dir = tmp.path().join("write");
    let mut args = c.args.clone();
    if let Plan::List(_) = plan {
        if !args.iter().any(|a| a == "--") {
            args.push("--".into());
        }
        args.push("--list".into());
    }
    let mut writes = false;
    if let Some(i) = args.iter().position(|a| a == "--write")
        && i + 1 < args.len()
    {
        std::fs::create_dir_all(&write_dir)?;
        args[i + 1] = write_dir.display().to_string();
        writes = true;
    }
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut cmd = Command::new("cargo");
    cmd.args(&args)
        .envs(c.env.iter().map(|(k, v)| (k, v)))
        .env("UDS_EXERCISE", "solution")
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path)?)
        .stderr(File::create(&err_path)?)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", util::show(&cmd)))?;
    // On time-out, the whole process group: cargo and the program it started.
    let status = util::wait_limited(&mut child, LIMIT, true)?;
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let tail = || {
        let lines: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
        lines[lines.len().saturating_sub(15)..].join("\n      ")
    };
    let Some(status) = status else {
        return Err(format!(
            "still running after {} s: make the command faster (fewer seeds, a shorter run) \
             while it still shows the point",
            LIMIT.as_secs()
        )
        .into());
    };
    if !status.success() {
        return Err(format!("failed ({status}); its last lines:\n      {}", tail()).into());
    }
    match plan {
        Plan::Test(_) => {
            let passed = tests_passed(&stdout).map_err(|e| format!("{e}\n      {}", tail()))?;
            Ok(format!("{passed} passed"))
        }
        Plan::List(_) => {
            let listed = tests_listed(&stdout);
            if listed == 0 {
                return Err("lists no test: the command names a test that does not exist".into());
            }
            Ok(format!("{listed} listed"))
        }
        _ if writes && util::files_under(&write_dir).is_empty() => {
            Err("it was given `--write` but wrote no file".into())
        }
        _ => Ok(String::new()),
    }
}

/// The number of tests in the output of `cargo test ... -- --list` (lines `name: test`).
pub fn tests_listed(stdout: &str) -> usize {
    stdout.lines().filter(|l| l.ends_with(": test")).count()
}

/// The number of tests passed according to `cargo test`'s `test result:` lines; an error if
/// there is no such line or no test passed.
pub fn tests_passed(stdout: &str) -> std::result::Result<usize, String> {
    let mut passed = 0;
    let mut results = 0;
    for line in stdout.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        results += 1;
        passed += rest
            .split(';')
            .find_map(|part| {
                part.trim()
                    .trim_start_matches("ok.")
                    .trim()
                    .strip_suffix(" passed")
            })
            .and_then(|n| n.trim().rsplit(' ').next()?.parse::<usize>().ok())
            .unwrap_or(0);
    }
    if results == 0 {
        return Err("printed no `test result:` line".into());
    }
    if passed == 0 {
        return Err(
            "ran no test: the command names a test that does not exist (or, with \
                    `--ignored`, one that is not ignored)"
                .into(),
        );
    }
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiments() -> BTreeSet<String> {
        BTreeSet::from(["demo".to_string()])
    }

    /// Every command the page shows, with the check's judgement.
    fn plans(page: &str) -> Vec<(String, std::result::Result<Plan, String>)> {
        find(page)
            .into_iter()
            .map(|f| (f.text.clone(), plan(&f, &experiments())))
            .collect()
    }

    const PAGE: &str = "# Ch

Regenerate the table with:

```text
cargo run --release -p uds --example demo -- --write .
```

To regenerate it, or to try another seed:

```text
cargo run --release -p uds --example demo -- --seed 2
cargo run --release -p uds --example demo -- --seed 2 --write .
```

Run `cargo test -p uds --release` for everything, and
`cargo run --release -p uds --example <name>` for one experiment.

## Exercises

1. Implement it and run
   `cargo test -p uds --release --lib exercise_demo -- --ignored`. Then run
   `UDS_SEEDS=10 cargo test --release -p uds --test campaign -- --nocapture`.
2. Run, without writing into the repository:
   `cargo run --release -p uds --example demo -- --seed 3`
";

    #[test]
    fn commands_are_found_in_exercises_and_every_cargo_run_example() {
        let found: Vec<String> = find(PAGE).into_iter().map(|f| f.text).collect();
        assert_eq!(
            found,
            vec![
                "cargo run --release -p uds --example demo -- --write .",
                "cargo run --release -p uds --example demo -- --seed 2",
                "cargo run --release -p uds --example demo -- --seed 2 --write .",
                "cargo run --release -p uds --example <name>",
                "cargo test -p uds --release --lib exercise_demo -- --ignored",
                "UDS_SEEDS=10 cargo test --release -p uds --test campaign -- --nocapture",
                "cargo run --release -p uds --example demo -- --seed 3",
            ]
        );
        let sections: Vec<bool> = find(PAGE).iter().map(|f| f.in_exercises).collect();
        assert_eq!(sections, [false, false, false, false, true, true, true]);
        let p = plans(PAGE);
        assert!(matches!(&p[0].1, Ok(Plan::Skip(r)) if r.contains("check-outputs")));
        assert!(matches!(&p[1].1, Ok(Plan::Run(_))), "{p:?}");
        assert!(matches!(&p[2].1, Ok(Plan::Run(_))));
        assert!(matches!(&p[3].1, Ok(Plan::Skip(r)) if r.contains("placeholder")));
        assert!(matches!(&p[4].1, Ok(Plan::Test(_))));
        let Ok(Plan::Test(c)) = &p[5].1 else {
            panic!("{p:?}")
        };
        assert_eq!(c.env, vec![("UDS_SEEDS".into(), "10".into())]);
        assert!(matches!(&p[6].1, Ok(Plan::Run(_))));
    }

    #[test]
    fn a_test_the_suite_already_runs_is_listed_not_run_again() {
        let page = "## Exercises\n\n1. Run `cargo test -p uds --release --test ch08_time`,\n\
                    `cargo test -p uds --release --test c x -- --nocapture`,\n\
                    `UDS_SEEDS=5 cargo test -p uds --release --test c`,\n\
                    `cargo test -p uds --release --lib exercise_x -- --ignored` and\n\
                    `cargo test -p uds --lib x`.\n";
        let kinds: Vec<&str> = plans(page)
            .iter()
            .map(|(_, p)| match p {
                Ok(Plan::List(_)) => "list",
                Ok(Plan::Test(_)) => "test",
                _ => "other",
            })
            .collect();
        // Listed: the suite runs them as written. Run: a changed campaign, an exercise test
        // (only run with --ignored), and a debug build the release suite does not make.
        assert_eq!(kinds, ["list", "list", "test", "test", "test"]);
        let out = "a::b: test\nc: test\n\n2 tests, 0 benchmarks\n";
        assert_eq!(tests_listed(out), 2);
        assert_eq!(tests_listed("\n0 tests, 0 benchmarks\n"), 0);
    }

    #[test]
    fn an_experiment_run_with_its_default_arguments_is_left_to_check_outputs() {
        let page = "## Exercises\n\n1. Run `cargo run --release -p uds --example demo` and\n\
                    `cargo run --release -p uds --example demo -- --seed 2`.\n";
        let p = plans(page);
        assert!(
            matches!(&p[0].1, Ok(Plan::Skip(r)) if r.contains("check-outputs")),
            "{p:?}"
        );
        assert!(matches!(&p[1].1, Ok(Plan::Run(_))), "{p:?}");
    }

    #[test]
    fn a_regenerate_command_without_write_is_rejected() {
        let page = "Regenerate the table and figure with:\n\n```text\n\
                    cargo run --release -p uds --example demo -- --seed 1\n```\n\n\
                    Or rewrite them with `cargo run -p uds --example demo`.\n";
        let p = plans(page);
        assert_eq!(p.len(), 2);
        for (_, verdict) in p {
            assert!(verdict.unwrap_err().contains("add `--write .`"));
        }
    }

    #[test]
    fn a_cargo_test_without_a_target_is_rejected() {
        let page =
            "## Exercises\n\n1. Run `cargo test -p uds --release exercise_x -- --ignored`.\n";
        let p = plans(page);
        assert_eq!(p[0].1, Err(NARROW.to_string()));
        let page = "## Exercises\n\n1. Run `cargo test -p uds --release --tests x`.\n";
        assert_eq!(plans(page)[0].1, Err(NARROW.to_string()));
    }

    #[test]
    fn shell_syntax_and_other_subcommands_are_rejected() {
        let page = "## Exercises\n\n```text\ncargo run --example demo > out.txt\ncargo bench -p x\n\
                    printf 'x' | \\\n  cargo run --example demo\n```\n";
        let p = plans(page);
        assert_eq!(
            p.len(),
            2,
            "the printf pipeline is not a cargo command: {p:?}"
        );
        assert!(p[0].1.as_ref().unwrap_err().contains("shell syntax"));
        assert!(p[1].1.as_ref().unwrap_err().contains("NOT_RUN"));
    }

    #[test]
    fn a_command_that_selects_no_test_fails() {
        let none = "running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; \
                    0 measured; 412 filtered out; finished in 0.00s\n";
        assert!(
            tests_passed(none)
                .unwrap_err()
                .contains("names a test that does not exist")
        );
        assert!(tests_passed("error: no test target named `x`\n").is_err());
        let two = "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 9 filtered out\n\
                   test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(tests_passed(two), Ok(2));
    }

    #[test]
    fn builds_merge_targets_drop_test_filters_and_write_folders_share_a_key() {
        let cmd = |args: &str| Cargo {
            env: vec![],
            args: args.split_whitespace().map(str::to_string).collect(),
        };
        let plans = [
            Plan::Test(cmd("test -p uds --release --lib exercise_x -- --ignored")),
            Plan::Test(cmd("test --release -p uds --test ch08_time x")),
            Plan::Test(cmd("test -p uds --release --lib exercise_y -- --ignored")),
            Plan::Run(cmd("run -p uds --example b")),
            Plan::Run(cmd("run -p uds --example a -- --write /tmp/a")),
        ];
        let b: Vec<String> = builds(&plans.iter().collect::<Vec<_>>())
            .iter()
            .map(|args| args.join(" "))
            .collect();
        assert_eq!(
            b,
            vec![
                "build -p uds --example a --example b",
                "test --release -p uds --lib --test ch08_time --no-run"
            ]
        );
        let r = &plans[4];
        let r2 = Plan::Run(cmd("run -p uds --example a -- --write ."));
        assert_eq!(r.key(), r2.key());
    }
}
