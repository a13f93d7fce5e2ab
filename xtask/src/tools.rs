//! Pinned tools (`install-tools`), `build` and `serve`.
//!
//! The book is built with exactly mdBook 0.5.4 and mdbook-mermaid 0.17.1, installed with
//! `cargo install --locked` into `.tools/` inside the repository, so that every contributor
//! and CI render the same HTML. mdbook runs with `.tools/bin` first on `PATH` so that it finds
//! the mermaid preprocessor that `book.toml` names.

use crate::util::{self, Result, repo_root};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// (crate, version, what `--version` prints).
const TOOLS: [(&str, &str, &str); 2] = [
    ("mdbook", "0.5.4", "mdbook v0.5.4"),
    ("mdbook-mermaid", "0.17.1", "mdbook-mermaid 0.17.1"),
];

pub fn tools_dir() -> PathBuf {
    repo_root().join(".tools")
}

fn tool_bin(name: &str) -> PathBuf {
    tools_dir().join("bin").join(name)
}

/// Ensures `.tools/bin` holds the pinned versions, installing whatever is missing or different.
pub fn install_tools() -> Result {
    for (name, version, expected) in TOOLS {
        let bin = tool_bin(name);
        let found = Command::new(&bin)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        match found {
            Some(v) if v == expected => continue,
            Some(v) => println!("{} is `{v}`, want {version}: reinstalling", util::rel(&bin)),
            None => println!("{} missing: installing {name} {version}", util::rel(&bin)),
        }
        util::run(
            Command::new("cargo")
                .args(["install", "--locked", "--root"])
                .arg(tools_dir())
                .args([name, "--version", version]),
        )?;
    }
    Ok(())
}

/// `mdbook` from `.tools/bin`, run in the repository root with `.tools/bin` first on PATH.
fn mdbook() -> Command {
    let bin_dir = tools_dir().join("bin");
    let mut paths = vec![bin_dir];
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    let mut cmd = Command::new(tool_bin("mdbook"));
    cmd.current_dir(repo_root());
    if let Ok(path) = std::env::join_paths(paths) {
        cmd.env("PATH", path);
    }
    cmd
}

/// The site built earlier by this process: `test` builds once and its later checks reuse it.
static BUILT: OnceLock<PathBuf> = OnceLock::new();

/// Installs the tools, builds the book (once per process) and returns the site directory.
pub fn build() -> Result<PathBuf> {
    if let Some(site) = BUILT.get() {
        return Ok(site.clone());
    }
    install_tools()?;
    util::run(mdbook().arg("build"))?;
    let site = site_dir()?;
    Ok(BUILT.get_or_init(|| site).clone())
}

/// Where the last build put the site: `book/` with only the HTML backend, `book/html/` when
/// several output backends are configured. The fresher `index.html` wins.
pub fn site_dir() -> Result<PathBuf> {
    let book = repo_root().join("book");
    let modified = |dir: &PathBuf| -> Option<SystemTime> {
        std::fs::metadata(dir.join("index.html"))
            .and_then(|m| m.modified())
            .ok()
    };
    let candidates = [book.clone(), book.join("html")];
    candidates
        .into_iter()
        .filter_map(|d| modified(&d).map(|t| (t, d)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, d)| d)
        .ok_or_else(|| {
            "no built book found in book/ or book/html/ (run `cargo xtask build`)".into()
        })
}

/// Installs the tools, then `mdbook serve` on 127.0.0.1 with live reload until interrupted.
pub fn serve(port: u16) -> Result {
    install_tools()?;
    println!("serving the book at http://127.0.0.1:{port}/ (Ctrl-C to stop)");
    util::run(mdbook().args([
        "serve",
        "--hostname",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ]))
}
