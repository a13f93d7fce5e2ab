//! `check-playground`: every Run button in the built book works.
//!
//! For each `<pre class="playground">` in the built HTML (mdBook puts that class on exactly
//! the Rust blocks that get a Run button), this reconstructs the text the button sends to
//! play.rust-lang.org. From mdBook 0.5.4's `book.js` and `hide_lines.rs`:
//! - the text is the `textContent` of the `<code>` element (for ACE-editable blocks, the
//!   editor's initial value, which ACE also takes from `textContent`), so hidden "boring"
//!   lines (`# ` lines from `{{#rustdoc_include}}`) are sent too;
//! - the `fn main` wrapper for snippets without one is added at build time, so it is already
//!   in the HTML;
//! - the edition is the `editionNNNN` class (book.toml's `rust.edition`), or 2015 without one;
//! - the playground compiles in debug mode (`optimize: "0"`), and the page gives up after 6 s.
//!
//! The text is compiled the way the playground compiles it: as a binary crate of a cargo
//! project whose dependencies are the playground's crates at exactly the playground's versions
//! ([`PLAYGROUND_CRATES`], from the playground's 2026 crate list), in debug mode, and run with a
//! 6 s wall-clock limit. So a listing may `use rand::...` (the simulator does), and what passes
//! here compiles there. All listings are binaries of one project under
//! `target/xtask-playground/project`, named by a hash of their text, so the dependencies are
//! built once and an unchanged listing is not rebuilt. [`compile_and_run`] does the same for
//! one program text (the browser check uses it for the text the Copy button copies).

use crate::html::{attr, html_pages, text_content};
use crate::tools;
use crate::util::{self, Result, repo_root};
use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUN_LIMIT: Duration = Duration::from_secs(6);

/// One runnable block of the built book.
pub struct Listing {
    pub page: String,
    pub index: usize,
    pub code: String,
    pub edition: String,
    pub no_run: bool,
}

pub fn check_playground() -> Result {
    let site = tools::build()?;
    let listings = collect(&site)?;
    println!(
        "check-playground: {} runnable block(s) in {}",
        listings.len(),
        util::rel(&site)
    );
    // One program per distinct text: index.html and print.html repeat the chapters.
    let mut programs: Vec<Program> = Vec::new();
    let mut first_label: HashMap<String, String> = HashMap::new();
    let mut labels = Vec::new();
    for l in &listings {
        let label = format!("{} block {}", l.page, l.index);
        let program = Program {
            code: l.code.clone(),
            edition: l.edition.clone(),
            run: !l.no_run,
        };
        let name = program.bin_name();
        match first_label.get(&name) {
            Some(first) => labels.push((label, Err(first.clone()))),
            None => {
                first_label.insert(name, label.clone());
                labels.push((label, Ok(programs.len())));
                programs.push(program);
            }
        }
    }
    let project = Project::open()?;
    project.prune(&programs)?;
    let results = project.check(&programs)?;
    let mut problems = Vec::new();
    for (label, which) in &labels {
        match which {
            Err(first) => println!("  {label}: same text as {first}, checked there"),
            Ok(i) => match &results[*i] {
                Ok(line) => println!("  {label}: {line}"),
                Err(e) => {
                    println!("  {label}: FAILED");
                    problems.push(format!("{label}: {e}"));
                }
            },
        }
    }
    if problems.is_empty() {
        println!("check-playground: OK");
        Ok(())
    } else {
        for p in &problems {
            println!("\n{p}");
        }
        Err(format!(
            "check-playground: {} listing(s) failed, listed above",
            problems.len()
        )
        .into())
    }
}

/// Compiles `code` as the Rust playground would (a binary crate with the playground's crates
/// at the playground's versions, debug mode, the given edition) and runs it with the Run
/// button's 6 s limit. `Ok` is a one-line summary; `Err` says what failed, with the compiler's
/// or the program's output.
pub fn compile_and_run(code: &str, edition: &str) -> Result<String> {
    let program = Program {
        code: code.to_string(),
        edition: edition.to_string(),
        run: true,
    };
    let project = Project::open()?;
    let mut results = project.check(std::slice::from_ref(&program))?;
    results
        .pop()
        .expect("one result per program")
        .map_err(Into::into)
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                repo_root().join(p)
            }
        })
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Every playground block of every page, in page order.
pub fn collect(site: &Path) -> Result<Vec<Listing>> {
    let mut out = Vec::new();
    // index.html and print.html repeat chapters: check them last, so that problems (and the
    // "same text as" notes) name the chapter's own page.
    let mut pages = html_pages(site);
    pages.sort_by_key(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (name == "index.html" || name == "print.html", p.clone())
    });
    for page in pages {
        let html = util::read(&page)?;
        let name = page
            .strip_prefix(site)
            .unwrap_or(&page)
            .display()
            .to_string();
        let mut index = 0;
        let mut rest = html.as_str();
        while let Some(at) = rest.find("<pre") {
            rest = &rest[at..];
            let Some(tag_end) = rest.find('>') else { break };
            let pre_tag = &rest[..tag_end];
            rest = &rest[tag_end + 1..];
            let is_playground =
                attr(pre_tag, "class").is_some_and(|c| c.split(' ').any(|c| c == "playground"));
            if !is_playground {
                continue;
            }
            index += 1;
            let Some(code_at) = rest.find("<code") else {
                break;
            };
            let code = &rest[code_at..];
            let Some(code_tag_end) = code.find('>') else {
                break;
            };
            let classes = attr(&code[..code_tag_end], "class")
                .unwrap_or("")
                .to_string();
            let body = &code[code_tag_end + 1..];
            let Some(close) = body.find("</code>") else {
                break;
            };
            let edition = classes
                .split(' ')
                .filter_map(|c| c.strip_prefix("edition"))
                .next_back()
                .unwrap_or("2015")
                .to_string();
            out.push(Listing {
                page: name.clone(),
                index,
                code: text_content(&body[..close]),
                edition,
                no_run: classes.split(' ').any(|c| c == "no_run"),
            });
            rest = &body[close..];
        }
    }
    Ok(out)
}

/// The crates the Rust playground offers that a Run program of this book may use, with the
/// playground's versions (see `../shared/DESIGN.md`, "Known facts"), as `Cargo.toml` lines.
/// Pinned with `=`, so that a listing compiles here exactly when it compiles there.
pub const PLAYGROUND_CRATES: &[(&str, &str)] = &[
    ("rand", r#"{ version = "=0.10.2" }"#),
    (
        "serde",
        r#"{ version = "=1.0.229", features = ["derive"] }"#,
    ),
    ("tokio", r#"{ version = "=1.53.1", features = ["full"] }"#),
    // Hashing and MACs for chapter 3's key schedule: the newest release lines, which the
    // playground's daily top-crates list takes.
    ("sha2", r#"{ version = "=0.11.1" }"#),
    ("hmac", r#"{ version = "=0.13.0" }"#),
];

/// One program to compile (and maybe run) as the playground would.
struct Program {
    code: String,
    edition: String,
    /// False for `no_run` blocks, which have no Run button: compiled, not run.
    run: bool,
}

impl Program {
    /// The binary's name: the edition and a hash of the text and of the dependency list, so an
    /// existing binary of that name was built from exactly this text against these crates.
    fn bin_name(&self) -> String {
        let mut h = std::hash::DefaultHasher::new();
        (&self.code, &self.edition, PLAYGROUND_CRATES).hash(&mut h);
        format!("p{}_{:016x}", self.edition, h.finish())
    }
}

/// The cargo project under `target/xtask-playground/project` whose binaries are the listings.
struct Project {
    dir: PathBuf,
}

impl Project {
    fn open() -> Result<Project> {
        let dir = target_dir().join("xtask-playground").join("project");
        let bins = dir.join("src").join("bin");
        std::fs::create_dir_all(&bins)
            .map_err(|e| format!("cannot create {}: {e}", bins.display()))?;
        Ok(Project { dir })
    }

    fn bin_dir(&self) -> PathBuf {
        self.dir.join("src").join("bin")
    }

    /// Deletes the sources of listings that are no longer in the book.
    fn prune(&self, keep: &[Program]) -> Result {
        let keep: Vec<String> = keep
            .iter()
            .map(|p| format!("{}.rs", p.bin_name()))
            .collect();
        for entry in std::fs::read_dir(self.bin_dir())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !keep.contains(&name) {
                std::fs::remove_file(entry.path())?;
            }
        }
        Ok(())
    }

    /// Writes `text` to `path` unless it already holds it, so cargo sees no change.
    fn write_if_changed(path: &Path, text: &str) -> Result {
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(());
        }
        std::fs::write(path, text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()).into())
    }

    /// The manifest: every binary whose source is in `src/bin`, with its own edition.
    fn write_manifest(&self) -> Result {
        let mut names: Vec<String> = std::fs::read_dir(self.bin_dir())?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".rs").map(str::to_string)
            })
            .collect();
        names.sort();
        let mut toml = String::from(
            "# Generated by `cargo xtask check-playground`: the book's Run programs, compiled\n\
             # against the Rust playground's crates at the playground's versions.\n\
             [package]\nname = \"playground\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
             publish = false\nautobins = false\n\n\
             # Not part of the book's workspace.\n[workspace]\n\n[dependencies]\n",
        );
        for (name, spec) in PLAYGROUND_CRATES {
            toml += &format!("{name} = {spec}\n");
        }
        for name in &names {
            let edition = name
                .strip_prefix('p')
                .and_then(|n| n.split('_').next())
                .unwrap_or("2024");
            toml += &format!("\n[[bin]]\nname = \"{name}\"\npath = \"src/bin/{name}.rs\"\n");
            toml += &format!("edition = \"{edition}\"\n");
        }
        Project::write_if_changed(&self.dir.join("Cargo.toml"), &toml)
    }

    /// `cargo build` (debug, as the playground compiles) of the given binaries. `Err` is a
    /// failure of the build as a whole; a binary that does not compile is in the returned map,
    /// with the compiler's messages.
    fn build(&self, names: &[String]) -> Result<HashMap<String, String>> {
        let mut failed = HashMap::new();
        if names.is_empty() {
            return Ok(failed);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let run = |bins: &[String]| -> Result<std::process::Output> {
            let mut cmd = Command::new(&cargo);
            cmd.current_dir(&self.dir)
                .args(["build", "--keep-going", "--message-format", "short"])
                .env("CARGO_TARGET_DIR", self.dir.join("target"))
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .stdin(Stdio::null());
            for b in bins {
                cmd.args(["--bin", b]);
            }
            cmd.output()
                .map_err(|e| format!("cannot run cargo: {e}").into())
        };
        let out = run(names)?;
        if out.status.success() {
            return Ok(failed);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let broken: Vec<String> = names
            .iter()
            .filter(|n| stderr.contains(&format!("(bin \"{n}\")")))
            .cloned()
            .collect();
        if broken.is_empty() {
            // Not a listing's fault: resolving or building the dependencies failed.
            return Err(format!(
                "cannot build the playground project {} (its dependencies are the playground's \
                 crates: {}):\n{}",
                self.dir.display(),
                PLAYGROUND_CRATES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", "),
                indent(&stderr, 40)
            )
            .into());
        }
        // Each failing binary again on its own, for its own messages only.
        for name in broken {
            let alone = run(std::slice::from_ref(&name))?;
            failed.insert(name, String::from_utf8_lossy(&alone.stderr).into_owned());
        }
        Ok(failed)
    }

    /// Compiles every program in one cargo build, then runs each that should run. One result
    /// per program, in order.
    fn check(&self, programs: &[Program]) -> Result<Vec<std::result::Result<String, String>>> {
        // One check at a time in this process: each rewrites the shared manifest.
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut results: Vec<Option<std::result::Result<String, String>>> =
            vec![None; programs.len()];
        let mut names = Vec::new();
        for (i, p) in programs.iter().enumerate() {
            if p.code.contains("#![feature") {
                results[i] = Some(Err("uses `#![feature]`: the Run button would switch to \
                                       nightly; use stable Rust"
                    .into()));
                continue;
            }
            let name = p.bin_name();
            Project::write_if_changed(&self.bin_dir().join(format!("{name}.rs")), &p.code)?;
            names.push(name);
        }
        self.write_manifest()?;
        let started = Instant::now();
        let failed = self.build(&names)?;
        println!(
            "  built {} program(s) against the playground's crates ({}) in {:.1} s",
            names.len(),
            PLAYGROUND_CRATES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
            started.elapsed().as_secs_f64()
        );
        let compiled = "compile ok";
        for (i, p) in programs.iter().enumerate() {
            if results[i].is_some() {
                continue;
            }
            let name = p.bin_name();
            let src = self.bin_dir().join(format!("{name}.rs"));
            results[i] = Some(match failed.get(&name) {
                Some(stderr) => Err(compile_error(stderr, &p.edition, &src)),
                None if !p.run => Ok(format!("{compiled}, not run (no_run: no Run button)")),
                None => {
                    let bin = self.dir.join("target").join("debug").join(&name);
                    run_limited(&bin, &self.dir.join("target").join(&name))
                        .map(|secs| format!("{compiled}, ran in {secs:.2} s"))
                }
            });
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every program has a result"))
            .collect())
    }
}

/// What to tell the author when a listing does not compile.
fn compile_error(stderr: &str, edition: &str, src: &Path) -> String {
    if let Some(name) = missing_crate(stderr) {
        let offered: Vec<&str> = PLAYGROUND_CRATES.iter().map(|(n, _)| *n).collect();
        return format!(
            "uses crate `{name}`, which this check does not provide: runnable listings may use \
             std and the playground's {} (add a crate to PLAYGROUND_CRATES in \
             xtask/src/playground.rs only at the playground's version, or mark library excerpts \
             `rust,noplayground`); text in {}",
            offered.join(", "),
            src.display()
        );
    }
    format!(
        "does not compile (edition {edition}, debug, with the playground's crates, as the Run \
         button sends it; text in {}):\n{}",
        src.display(),
        indent(stderr, 40)
    )
}

/// Runs `bin` with the Run button's limit, its output in `out_dir`; the run time in seconds.
fn run_limited(bin: &Path, out_dir: &Path) -> std::result::Result<f64, String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let stdout_path = out_dir.join("stdout.txt");
    let stderr_path = out_dir.join("stderr.txt");
    let open = |p: &Path| File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()));
    let started = Instant::now();
    let mut child = Command::new(bin)
        .current_dir(out_dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(open(&stdout_path)?)
        .stderr(open(&stderr_path)?)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let status = util::wait_limited(&mut child, RUN_LIMIT, false).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let tail = |p: &Path| indent(&std::fs::read_to_string(p).unwrap_or_default(), 20);
    match status {
        None => Err(format!(
            "still running after {} s (the Run button gives up at 6 s); stdout so far:\n{}",
            RUN_LIMIT.as_secs(),
            tail(&stdout_path)
        )),
        Some(s) if !s.success() => Err(format!(
            "exits with {s} after {secs:.2} s; stderr:\n{}",
            tail(&stderr_path)
        )),
        Some(_) => Ok(secs),
    }
}

/// The crate rustc says is missing (`use rand::...` without `rand`), if that is the error.
fn missing_crate(stderr: &str) -> Option<String> {
    [
        "unlinked crate `",
        "missing a crate named `",
        "can't find crate for `",
    ]
    .iter()
    .find_map(|marker| {
        let at = stderr.find(marker)? + marker.len();
        let rest = &stderr[at..];
        Some(rest[..rest.find('`')?].to_string())
    })
}

/// The last `max` lines of `s`, indented.
fn indent(s: &str, max: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let skip = lines.len().saturating_sub(max);
    let mut out = String::new();
    if skip > 0 {
        out.push_str(&format!("    ... ({skip} lines omitted)\n"));
    }
    for l in &lines[skip..] {
        out.push_str("    ");
        out.push_str(l);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // These build the playground project (its dependencies once, then only the program);
    // `Project::check` makes them take turns on its manifest.

    #[test]
    fn a_program_using_rand_compiles_and_runs() {
        let code = "use rand::RngExt;\n\
                    fn main() { let x: u8 = rand::rng().random(); println!(\"{x}\"); }\n";
        let ok = compile_and_run(code, "2024").expect("compiles and runs");
        assert!(ok.contains("ran in"), "{ok}");
    }

    #[test]
    fn a_crate_the_check_does_not_provide_is_named() {
        let code = "fn main() { let _ = regex::Regex::new(\"a\"); }\n";
        let err = compile_and_run(code, "2024").expect_err("regex is not provided");
        assert!(err.to_string().contains("uses crate `regex`"), "{err}");
    }

    #[test]
    fn a_program_that_outlives_the_run_button_fails() {
        let code = "fn main() { std::thread::sleep(std::time::Duration::from_secs(60)); }\n";
        let err = compile_and_run(code, "2024").expect_err("too slow");
        assert!(err.to_string().contains("still running after 6 s"), "{err}");
    }
}
