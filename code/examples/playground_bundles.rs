//! Generates the single-file programs that the book's Run buttons send to the Rust playground.
//!
//! The playground compiles one file against std and a fixed set of popular crates (among them
//! rand, serde and tokio, at versions it chooses), not our crate. So that a runnable listing is
//! never a second copy of library code, each runnable example names the library modules it
//! needs in a header line `//! playground-bundle: <module path> ...`, and this program writes
//! `code/playground/<example>.rs`: the example itself, followed by those modules inlined as
//! nested `mod` blocks (their `#[cfg(test)]` modules left out). Modules that go into a bundle
//! may therefore use only std and the playground's crates (the simulator uses `rand`); `cargo
//! xtask check-playground` compiles every bundle against exactly the playground's versions.
//! The book includes the example's `main` anchor from the bundle, so the page shows the
//! example and the Run button sends the whole file. The freshness check regenerates the
//! bundles and fails if a checked-in copy differs from its sources.
//!
//! outputs: code/playground/appendix_first_sim.rs code/playground/appendix_ping.rs
//! outputs: code/playground/ch01_tour.rs code/playground/ch02_transfer.rs
//! outputs: code/playground/ch03_key_schedule.rs code/playground/ch04_ttl_cache.rs
//! outputs: code/playground/ch05_idempotency.rs
//! outputs: code/playground/ch06_ping.rs code/playground/ch07_phi.rs
//! outputs: code/playground/ch08_clocks.rs code/playground/ch09_election.rs
//! outputs: code/playground/ch09_fencing_demo.rs
//! outputs: code/playground/ch10_craq.rs code/playground/ch10_linearizability.rs
//! outputs: code/playground/ch10_raft.rs code/playground/ch10_check_quorum.rs
//! outputs: code/playground/ch11_crdt.rs code/playground/ch11_quorum.rs
//! outputs: code/playground/ch12_wal.rs code/playground/ch12_write_skew.rs
//! outputs: code/playground/ch13_saga.rs
//! outputs: code/playground/ch14_freshness.rs code/playground/ch15_tiers.rs
//! outputs: code/playground/ch16_jump_ring.rs code/playground/ch17_seal.rs
//! outputs: code/playground/ch18_p2c.rs code/playground/ch18_maglev_table.rs
//!
//! Run: `cargo run -p uds --example playground_bundles -- --write .`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Write the playground bundles of the runnable examples")]
struct Args {
    #[command(flatten)]
    common: uds::experiment::ExperimentArgs,
}

const MARKER: &str = "//! playground-bundle:";

fn main() -> ExitCode {
    let args = Args::parse();
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    match bundles(crate_dir) {
        Ok(bundles) => {
            for (name, text) in bundles {
                let path = format!("code/playground/{name}.rs");
                println!("{path}: {} lines", text.lines().count());
                if let Err(e) = args.common.emit(&path, &text) {
                    eprintln!("cannot write {path}: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every bundle, as (example name, file text), sorted by name.
fn bundles(crate_dir: &Path) -> Result<Vec<(String, String)>, String> {
    let examples = crate_dir.join("examples");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&examples)
        .map_err(|e| format!("{}: {e}", examples.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    entries.sort();
    let mut out = Vec::new();
    for path in entries {
        let source = read(&path)?;
        let Some(spec) = source.lines().find_map(|l| l.strip_prefix(MARKER)) else {
            continue;
        };
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("bad file name")?;
        let modules: Vec<&str> = spec.split_whitespace().collect();
        out.push((
            name.to_string(),
            bundle(crate_dir, name, &source, &modules)?,
        ));
    }
    Ok(out)
}

/// One bundle: a generated-file notice, the example, then its modules.
fn bundle(crate_dir: &Path, name: &str, example: &str, modules: &[&str]) -> Result<String, String> {
    let mut text = format!(
        "// GENERATED from code/examples/{name}.rs and the `uds` modules {} by\n\
         // code/examples/playground_bundles.rs (`cargo xtask outputs`). Do not edit.\n\
         #![allow(dead_code, unused_imports)]\n",
        modules.join(", ")
    );
    text += &example.replace("uds::", "crate::");
    // Module paths sharing a prefix share a block: `a::b a::c` is `mod a { pub mod b; pub mod c }`.
    let mut tree = Tree::default();
    for module in modules {
        let mut node = &mut tree;
        for segment in module.split("::") {
            node = node.children.entry(segment.to_string()).or_default();
        }
        node.whole = true;
    }
    text += &emit(&tree, &crate_dir.join("src"), 0)?;
    Ok(text)
}

/// Module paths as a tree: a node marked `whole` is inlined with everything below it.
#[derive(Default)]
struct Tree {
    children: BTreeMap<String, Tree>,
    whole: bool,
}

/// The `mod` blocks for the children of `tree`, whose files live in `dir`.
fn emit(tree: &Tree, dir: &Path, depth: usize) -> Result<String, String> {
    let vis = if depth == 0 { "" } else { "pub " };
    let mut text = String::new();
    for (name, child) in &tree.children {
        text += &format!("\n{vis}mod {name} {{\n");
        if child.whole {
            text += &inline_module(dir, name)?;
        } else {
            text += &emit(child, &dir.join(name), depth + 1)?;
        }
        text += "}\n";
    }
    Ok(text)
}

/// The text of module `name` declared in `dir`, with its own `mod x;` children inlined.
fn inline_module(dir: &Path, name: &str) -> Result<String, String> {
    let file = dir.join(format!("{name}.rs"));
    let (file, child_dir) = if file.exists() {
        (file, dir.join(name))
    } else {
        (dir.join(name).join("mod.rs"), dir.join(name))
    };
    let source = read(&file)?;
    let mut out = String::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" && lines.peek().is_some_and(|l| l.trim() == "mod tests {")
        {
            break; // by convention the tests module closes the file
        }
        match child_declaration(line) {
            Some((vis, child)) => {
                out += &format!("{vis}mod {child} {{\n");
                out += &inline_module(&child_dir, child)?;
                out += "}\n";
            }
            None => {
                out += line;
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// `pub mod x;` or `mod x;` on a line of its own: its visibility and name.
fn child_declaration(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let (vis, rest) = match line.strip_prefix("pub ") {
        Some(rest) => ("pub ", rest),
        None => ("", line),
    };
    let name = rest.strip_prefix("mod ")?.strip_suffix(';')?;
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_')
        .then_some((vis, name))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
