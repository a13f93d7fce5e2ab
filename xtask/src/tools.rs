//! Pinned tools (`install-tools`), `build` and `serve`.
//!
//! The book is built with exactly mdBook 0.5.4 and mdbook-mermaid 0.17.1, so that every
//! contributor and CI render the same HTML. They live in a per-user cache outside the
//! repository, one directory per tool and version, so that a machine builds each version once
//! however many clones it has:
//!
//! ```text
//! ${XDG_CACHE_HOME:-$HOME/.cache}/uds-book/tools/mdbook-0.5.4/bin/mdbook
//! ${XDG_CACHE_HOME:-$HOME/.cache}/uds-book/tools/mdbook-mermaid-0.17.1/bin/mdbook-mermaid
//! ```
//!
//! `UDS_TOOLS_CACHE` overrides the `.../uds-book/tools` part (CI points its cache action at
//! the default). A missing tool is installed with `cargo install --locked --root` into a
//! `<tool>-<version>.partial-<pid>` directory next to its final place, checked with
//! `--version`, and only then renamed into place; so an interrupted install leaves a
//! `.partial-*` directory (removed by the next install) and never a directory that looks
//! finished. A version directory is trusted only if its binary prints the pinned version.
//! A clone that still has binaries of the pinned versions in `.tools/bin` (where they were
//! installed before the cache existed) seeds the cache by copying them.
//!
//! mdbook runs with the tools' `bin` directories first on `PATH`, so that it finds the mermaid
//! preprocessor that `book.toml` names.

use crate::util::{self, Result, repo_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// (crate, version, what `--version` prints).
const TOOLS: [(&str, &str, &str); 2] = [
    ("mdbook", "0.5.4", "mdbook v0.5.4"),
    ("mdbook-mermaid", "0.17.1", "mdbook-mermaid 0.17.1"),
];

/// `.tools/` in the repository, where earlier versions of this crate installed mdBook: its
/// binaries, if of the pinned version, seed the cache instead of a rebuild from source.
pub fn tools_dir() -> PathBuf {
    repo_root().join(".tools")
}

/// The per-user cache of pinned tools: `$UDS_TOOLS_CACHE`, else
/// `${XDG_CACHE_HOME:-$HOME/.cache}/uds-book/tools`, else (no home) `target/uds-book-tools`.
pub fn cache_dir() -> PathBuf {
    cache_dir_from(|k| std::env::var_os(k))
        .unwrap_or_else(|| crate::playground::target_dir().join("uds-book-tools"))
}

/// [`cache_dir`] from the environment `var`; `None` without a usable variable.
fn cache_dir_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let non_empty = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    non_empty("UDS_TOOLS_CACHE").or_else(|| {
        non_empty("XDG_CACHE_HOME")
            .or_else(|| non_empty("HOME").map(|h| h.join(".cache")))
            .map(|c| c.join("uds-book").join("tools"))
    })
}

/// The directory of one pinned tool version (its `bin/` holds the binary).
fn version_dir(name: &str, version: &str) -> PathBuf {
    cache_dir().join(format!("{name}-{version}"))
}

fn tool_bin(name: &str, version: &str) -> PathBuf {
    version_dir(name, version).join("bin").join(name)
}

/// What `bin --version` prints, or `None` if it does not run or fails.
fn version_of(bin: &Path) -> Option<String> {
    Command::new(bin)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Ensures the cache holds the pinned versions, installing whatever is missing or broken.
pub fn install_tools() -> Result {
    for (name, version, expected) in TOOLS {
        let dir = version_dir(name, version);
        let bin = tool_bin(name, version);
        match version_of(&bin) {
            Some(v) if v == expected => continue,
            Some(v) => println!(
                "{} prints `{v}`, want `{expected}`: reinstalling",
                bin.display()
            ),
            None if dir.exists() => println!("{} does not run: reinstalling", bin.display()),
            None => println!(
                "{name} {version} not in {}: installing",
                cache_dir().display()
            ),
        }
        install_one(name, version, expected, &dir)?;
    }
    Ok(())
}

/// Installs one tool into `<dir>.partial-<pid>`, checks it, then renames it to `dir`.
fn install_one(name: &str, version: &str, expected: &str, dir: &Path) -> Result {
    let parent = dir.parent().ok_or("tool cache directory has no parent")?;
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Leftovers of interrupted installs (this process's pid is fresh, so none is ours).
    if let Ok(entries) = std::fs::read_dir(parent) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&format!("{dir_name}.partial-")) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let partial = parent.join(format!("{dir_name}.partial-{}", std::process::id()));
    let seed = tools_dir().join("bin").join(name);
    if version_of(&seed).as_deref() == Some(expected) {
        println!(
            "copying {} (already {expected}) into the cache",
            util::rel(&seed)
        );
        std::fs::create_dir_all(partial.join("bin"))?;
        std::fs::copy(&seed, partial.join("bin").join(name))
            .map_err(|e| format!("cannot copy {}: {e}", seed.display()))?;
    } else {
        util::run(
            Command::new("cargo")
                .args(["install", "--locked", "--root"])
                .arg(&partial)
                .args([name, "--version", version]),
        )?;
    }
    let installed = partial.join("bin").join(name);
    match version_of(&installed) {
        Some(v) if v == expected => {}
        other => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(format!(
                "{} prints {other:?} after installing, want `{expected}`",
                installed.display()
            )
            .into());
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot remove the broken {}: {e}", dir.display()))?;
    }
    if let Err(e) = std::fs::rename(&partial, dir) {
        let _ = std::fs::remove_dir_all(&partial);
        // Another process may have finished the same install first.
        if version_of(&dir.join("bin").join(name)).as_deref() != Some(expected) {
            return Err(format!("cannot move the install into {}: {e}", dir.display()).into());
        }
    }
    println!("installed {name} {version} in {}", dir.display());
    Ok(())
}

/// `mdbook` from the cache, run in the repository root with the tools first on PATH.
fn mdbook() -> Command {
    let mut paths: Vec<PathBuf> = TOOLS
        .iter()
        .map(|(name, version, _)| version_dir(name, version).join("bin"))
        .collect();
    if let Some(old) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    let (name, version, _) = TOOLS[0];
    let mut cmd = Command::new(tool_bin(name, version));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn the_cache_is_per_user_and_outside_the_repository() {
        let home = [("HOME", "/home/ada")];
        assert_eq!(
            cache_dir_from(env(&home)),
            Some(PathBuf::from("/home/ada/.cache/uds-book/tools"))
        );
        let xdg = [("HOME", "/home/ada"), ("XDG_CACHE_HOME", "/var/cache/ada")];
        assert_eq!(
            cache_dir_from(env(&xdg)),
            Some(PathBuf::from("/var/cache/ada/uds-book/tools"))
        );
        let empty_xdg = [("HOME", "/home/ada"), ("XDG_CACHE_HOME", "")];
        assert_eq!(
            cache_dir_from(env(&empty_xdg)),
            Some(PathBuf::from("/home/ada/.cache/uds-book/tools"))
        );
        let moved = [("HOME", "/home/ada"), ("UDS_TOOLS_CACHE", "/opt/tools")];
        assert_eq!(
            cache_dir_from(env(&moved)),
            Some(PathBuf::from("/opt/tools"))
        );
        assert_eq!(cache_dir_from(env(&[])), None);
    }
}
