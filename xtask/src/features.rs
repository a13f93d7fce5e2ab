//! `check-features`: `cargo run -p uds --example ...` (what readers type, and what
//! `check-outputs` and `check-exercises` run) must resolve every dependency with the same
//! features as `cargo test --workspace`. Cargo unifies features over the packages a command
//! selects, so when the benches or xtask turn on a feature of a shared dependency (say serde's
//! `alloc`) that `uds` alone does not, every crate above it (serde_json, axum, hickory, ...) is
//! built twice, minutes on a fresh clone. `code/Cargo.toml` names those features in its
//! dev-dependencies; this check reads both resolutions with `cargo tree` (no build) and lists
//! any dependency whose features differ.

use crate::util::{Result, repo_root, report};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

type Features = BTreeMap<String, BTreeSet<String>>;

/// `cargo tree` lines `name vX.Y.Z [(path)] [f1,f2]` → features per `name vX.Y.Z`.
fn parse(tree: &str) -> Features {
    let mut out = Features::new();
    for line in tree.lines() {
        let mut words = line.split_whitespace();
        let (Some(name), Some(version)) = (words.next(), words.next()) else {
            continue;
        };
        if !version.starts_with('v') {
            continue;
        }
        let features = out.entry(format!("{name} {version}")).or_default();
        if let Some(last) = words
            .last()
            .filter(|w| !w.ends_with(')') && !w.starts_with('('))
        {
            features.extend(last.split(',').map(str::to_string));
        }
    }
    out
}

fn tree(selection: &str) -> Result<Features> {
    let out = Command::new("cargo")
        .current_dir(repo_root())
        .args(["tree", selection])
        .args([
            "-e",
            "normal,build,dev,features",
            "--prefix",
            "none",
            "-f",
            "{p} {f}",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "`cargo tree {selection}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(parse(&String::from_utf8_lossy(&out.stdout)))
}

/// The dependencies of `uds` whose features differ between the two selections.
fn differences(uds: &Features, workspace: &Features) -> Vec<String> {
    uds.iter()
        .filter_map(|(package, mine)| {
            let all = workspace.get(package)?;
            (mine != all).then(|| {
                let extra: Vec<_> = all.difference(mine).cloned().collect();
                format!(
                    "{package}: `--workspace` adds feature(s) {} that `-p uds` lacks; name them \
                     in code/Cargo.toml's [dev-dependencies]",
                    extra.join(", ")
                )
            })
        })
        .collect()
}

pub fn check_features() -> Result {
    let problems = differences(&tree("-p=uds")?, &tree("--workspace")?);
    report(
        "check-features",
        &problems,
        "dependency feature difference(s)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_versions_paths_and_features() {
        let f =
            parse("serde v1.0.1 alloc,std\nuds v0.1.0 (/work/code) default,serde\nlog v0.4.3\n");
        assert_eq!(f["serde v1.0.1"], ["alloc", "std"].map(String::from).into());
        assert_eq!(
            f["uds v0.1.0"],
            ["default", "serde"].map(String::from).into()
        );
        assert!(f["log v0.4.3"].is_empty());
    }

    #[test]
    fn a_feature_only_the_workspace_turns_on_is_reported() {
        let uds = parse("serde v1.0.1 std\nlog v0.4.3\n");
        let workspace = parse("serde v1.0.1 alloc,std\nlog v0.4.3\ncriterion v0.8.0\n");
        let found = differences(&uds, &workspace);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("serde v1.0.1: `--workspace` adds feature(s) alloc"));
        assert!(differences(&workspace, &workspace).is_empty());
    }
}
