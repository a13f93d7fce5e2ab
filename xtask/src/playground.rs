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
//! The text is compiled with the local `rustc` (debug) and run with a 6 s wall-clock limit.
//! Runnable listings are std-only by design (the book's CI has no playground crates), so a
//! listing that uses another crate fails with a message saying so. Compiled binaries are
//! cached by content hash under `target/xtask-playground/`.

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
    let rustc_version = rustc_version()?;
    let mut problems = Vec::new();
    let mut seen: HashMap<u64, String> = HashMap::new();
    println!(
        "check-playground: {} runnable block(s) in {}",
        listings.len(),
        util::rel(&site)
    );
    for l in &listings {
        let label = format!("{} block {}", l.page, l.index);
        let key = cache_key(l, &rustc_version);
        if let Some(first) = seen.get(&key) {
            println!("  {label}: same text as {first}, checked there");
            continue;
        }
        seen.insert(key, label.clone());
        match check_one(l, &cache_dir(key)) {
            Ok(line) => println!("  {label}: {line}"),
            Err(e) => {
                println!("  {label}: FAILED");
                problems.push(format!("{label}: {e}"));
            }
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

fn rustc_version() -> Result<String> {
    Command::new("rustc")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .map_err(|e| format!("cannot run rustc: {e}").into())
}

fn cache_key(l: &Listing, rustc_version: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    (&l.code, &l.edition, rustc_version).hash(&mut h);
    h.finish()
}

fn cache_dir(key: u64) -> PathBuf {
    target_dir()
        .join("xtask-playground")
        .join(format!("{key:016x}"))
}

/// Compiles `code` (without running it) exactly as this check compiles a listing, sharing its
/// cache; `check-browser` compiles what a Copy button put on the clipboard with it.
pub fn compile_text(label: &str, code: &str, edition: &str) -> Result<String> {
    let l = Listing {
        page: label.to_string(),
        index: 0,
        code: code.to_string(),
        edition: edition.to_string(),
        no_run: true,
    };
    let key = cache_key(&l, &rustc_version()?);
    check_one(&l, &cache_dir(key)).map_err(Into::into)
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

/// Crates named by `extern crate x;` other than the sysroot's.
fn extern_crates(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("extern crate") {
        rest = &rest[at + "extern crate".len()..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !matches!(
            name.as_str(),
            "std" | "core" | "alloc" | "proc_macro" | "test" | ""
        ) {
            out.push(name);
        }
    }
    out
}

fn check_one(l: &Listing, dir: &Path) -> std::result::Result<String, String> {
    let crates = extern_crates(&l.code);
    if !crates.is_empty() {
        return Err(format!(
            "uses external crate(s) {}: runnable listings in this book must be std-only \
             (mark library excerpts `rust,noplayground`)",
            crates.join(", ")
        ));
    }
    if l.code.contains("#![feature") {
        return Err(
            "uses `#![feature]`: the Run button would switch to nightly; use stable Rust".into(),
        );
    }
    let ok_marker = dir.join("compiled-ok");
    let bin = dir.join("listing");
    let compile_started = Instant::now();
    let compiled = if ok_marker.exists() && bin.exists() {
        "compile ok (cached)".to_string()
    } else {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let src = dir.join("main.rs");
        std::fs::write(&src, &l.code)
            .map_err(|e| format!("cannot write {}: {e}", src.display()))?;
        let out = Command::new("rustc")
            .args(["--edition", &l.edition, "--crate-name", "playground", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .map_err(|e| format!("cannot run rustc: {e}"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            if let Some(name) = missing_crate(&stderr) {
                return Err(format!(
                    "uses external crate `{name}`: runnable listings in this book must be std-only \
                     (mark library excerpts `rust,noplayground`); text in {}",
                    src.display()
                ));
            }
            return Err(format!(
                "does not compile (rustc --edition {}, debug, as the Run button sends it; text in {}):\n{}",
                l.edition,
                src.display(),
                indent(&stderr, 40)
            ));
        }
        File::create(&ok_marker)
            .map_err(|e| format!("cannot write {}: {e}", ok_marker.display()))?;
        format!(
            "compile ok ({:.1} s)",
            compile_started.elapsed().as_secs_f64()
        )
    };
    if l.no_run {
        return Ok(format!("{compiled}, not run (no_run: no Run button)"));
    }
    let stdout_path = dir.join("stdout.txt");
    let stderr_path = dir.join("stderr.txt");
    let open = |p: &Path| File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()));
    let started = Instant::now();
    let mut child = Command::new(&bin)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(open(&stdout_path)?)
        .stderr(open(&stderr_path)?)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if started.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
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
        Some(_) => Ok(format!("{compiled}, ran in {secs:.2} s")),
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
