//! `outputs` and `check-outputs`: every number and figure in the book is generated, and the
//! checked-in copies are fresh.
//!
//! An experiment is an example `code/examples/<name>.rs` (or `code/examples/<name>/main.rs`)
//! that declares what it writes in its header, one or more lines of
//! `//! outputs: <path> [<path> ...]` (paths relative to the repository root), and accepts
//! `--write <ROOT>`, writing exactly those files under ROOT.
//!
//! `outputs` builds all examples once in release mode and runs each experiment with
//! `--write <repo root>`. `check-outputs` runs each into a fresh temporary root and fails if a
//! declared file is not produced or differs from the checked-in copy, if an experiment writes
//! an undeclared file, or if `code/outputs/` (except `code/outputs/measured/`, which holds
//! machine-dependent measurements) or `src/figures/` holds a file that no experiment declares.

use crate::playground::target_dir;
use crate::util::{self, Result, TempDir, repo_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const REGENERATE: &str = "cargo xtask outputs";

pub(crate) struct Experiment {
    pub(crate) name: String,
    source: PathBuf,
    outputs: Vec<String>,
}

/// Experiments declaring outputs, sorted by name; errors on malformed or duplicate declarations.
pub(crate) fn experiments() -> Result<Vec<Experiment>> {
    let examples = repo_root().join("code/examples");
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(&examples) else {
        return Ok(found);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let (name, source) = if path.is_dir() {
            (
                entry.file_name().to_string_lossy().into_owned(),
                path.join("main.rs"),
            )
        } else if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            (stem.unwrap_or_default(), path.clone())
        } else {
            continue;
        };
        if !source.exists() {
            continue;
        }
        let text = util::read(&source)?;
        let mut outputs = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("//! outputs:") else {
                continue;
            };
            if rest.trim().is_empty() {
                return Err(format!(
                    "{}:{}: `//! outputs:` lists no path",
                    util::rel(&source),
                    i + 1
                )
                .into());
            }
            for p in rest.split_whitespace() {
                if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                    return Err(format!(
                        "{}:{}: output `{p}` must be a path relative to the repository root, without `..`",
                        util::rel(&source),
                        i + 1
                    )
                    .into());
                }
                outputs.push(p.to_string());
            }
        }
        if !outputs.is_empty() {
            found.push(Experiment {
                name,
                source,
                outputs,
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for e in &found {
        for o in &e.outputs {
            if let Some(other) = owner.insert(o, &e.name) {
                return Err(format!("`{o}` is declared by both `{other}` and `{}`", e.name).into());
            }
        }
    }
    Ok(found)
}

fn build_examples() -> Result {
    util::run(Command::new("cargo").current_dir(repo_root()).args([
        "build",
        "--release",
        "-p",
        "uds",
        "--examples",
    ]))
}

/// Runs one experiment binary with `--write root`, returning its wall time in seconds. With
/// `quiet`, what it prints is captured and shown only if it fails.
fn run_experiment(e: &Experiment, root: &Path, quiet: bool) -> Result<f64> {
    for o in &e.outputs {
        if let Some(parent) = root.join(o).parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let bin = target_dir().join("release/examples").join(&e.name);
    let started = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.current_dir(repo_root()).arg("--write").arg(root);
    let cannot = |err: std::io::Error| {
        format!(
            "cannot run experiment {} ({}): {err}",
            e.name,
            bin.display()
        )
    };
    let (status, stderr) = if quiet {
        let out = cmd.output().map_err(cannot)?;
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    } else {
        (cmd.status().map_err(cannot)?, String::new())
    };
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n      ");
        return Err(format!(
            "experiment `{}` failed ({status}): {}\n      {tail}",
            e.name,
            util::show(&cmd)
        )
        .into());
    }
    Ok(secs)
}

pub fn outputs() -> Result {
    let exps = experiments()?;
    if exps.is_empty() {
        println!("outputs: no example in code/examples declares `//! outputs:`; nothing to do");
        return Ok(());
    }
    build_examples()?;
    let root = repo_root();
    for e in &exps {
        let secs = run_experiment(e, &root, false)?;
        println!(
            "outputs: {:<28} {secs:>7.2} s  wrote {}",
            e.name,
            e.outputs.join(" ")
        );
    }
    Ok(())
}

pub fn check_outputs() -> Result {
    let exps = experiments()?;
    let root = repo_root();
    let mut problems = Vec::new();
    // Orphans first: they need no build.
    let declared: Vec<&str> = exps
        .iter()
        .flat_map(|e| e.outputs.iter().map(String::as_str))
        .collect();
    let measured = root.join("code/outputs/measured");
    for dir in ["code/outputs", "src/figures"] {
        for f in util::files_under(&root.join(dir)) {
            let rel = util::rel(&f);
            let ignored =
                f.starts_with(&measured) || f.file_name().is_some_and(|n| n == ".gitkeep");
            if !ignored && !declared.contains(&rel.as_str()) {
                problems.push(format!(
                    "{rel}: no experiment declares it (`//! outputs:` in code/examples); delete it or declare it"
                ));
            }
        }
    }
    if exps.is_empty() {
        println!(
            "check-outputs: no example in code/examples declares `//! outputs:` yet; nothing to compare"
        );
    } else {
        build_examples()?;
        let tmp = TempDir::new("uds-check-outputs")?;
        for e in &exps {
            let eroot = tmp.path().join(&e.name);
            std::fs::create_dir_all(&eroot)?;
            let secs = match run_experiment(e, &eroot, true) {
                Ok(s) => s,
                Err(err) => {
                    problems.push(format!("{err} (source {})", util::rel(&e.source)));
                    continue;
                }
            };
            let mut fresh = 0;
            for o in &e.outputs {
                match compare(&eroot.join(o), &root.join(o)) {
                    Ok(()) => fresh += 1,
                    Err(msg) => problems.push(format!("{o} (from {}): {msg}", e.name)),
                }
            }
            for f in util::files_under(&eroot) {
                let rel = f.strip_prefix(&eroot).unwrap_or(&f).display().to_string();
                if !e.outputs.contains(&rel) {
                    problems.push(format!(
                        "{}: wrote `{rel}`, which its `//! outputs:` lines do not declare",
                        e.name
                    ));
                }
            }
            println!(
                "check-outputs: {:<28} {secs:>7.2} s  {fresh}/{} output(s) fresh",
                e.name,
                e.outputs.len()
            );
        }
    }
    if problems.is_empty() {
        println!(
            "check-outputs: OK ({} experiment(s), {} output(s))",
            exps.len(),
            declared.len()
        );
        Ok(())
    } else {
        for p in &problems {
            println!("  {p}");
        }
        Err(format!(
            "check-outputs: {} problem(s), listed above; regenerate with `{REGENERATE}`",
            problems.len()
        )
        .into())
    }
}

/// Compares a freshly generated file with the checked-in one, describing the first differences.
fn compare(generated: &Path, checked_in: &Path) -> std::result::Result<(), String> {
    let Ok(new) = std::fs::read(generated) else {
        return Err("declared but not produced by the experiment".into());
    };
    let Ok(old) = std::fs::read(checked_in) else {
        return Err(format!("not checked in; run `{REGENERATE}` and commit it"));
    };
    if new == old {
        return Ok(());
    }
    let new = String::from_utf8_lossy(&new);
    let old = String::from_utf8_lossy(&old);
    let (new_lines, old_lines): (Vec<&str>, Vec<&str>) =
        (new.lines().collect(), old.lines().collect());
    let mut msg = format!("stale: differs from a fresh run (regenerate with `{REGENERATE}`)");
    let mut shown = 0;
    for i in 0..new_lines.len().max(old_lines.len()) {
        let (a, b) = (old_lines.get(i), new_lines.get(i));
        if a != b {
            let cut = |s: Option<&&str>| {
                s.map_or("<no line>".to_string(), |s| s.chars().take(120).collect())
            };
            msg.push_str(&format!(
                "\n      line {}:\n        checked in: {}\n        fresh:      {}",
                i + 1,
                cut(a),
                cut(b)
            ));
            shown += 1;
            if shown == 3 {
                break;
            }
        }
    }
    if shown == 0 {
        msg.push_str("\n      (the difference is in line endings or a trailing newline)");
    }
    Err(msg)
}
