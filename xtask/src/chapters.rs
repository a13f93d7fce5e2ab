//! `check-chapters`: every linked chapter meets the chapter bar, in the terms a program can
//! judge.
//!
//! The bar (README, Contributing) asks more than a program can see, such as original prose and
//! tests of the chapter's claims. This check looks at what it can. Every page that SUMMARY.md
//! links as a numbered chapter or after them (the appendix) must have:
//! - at least [`MIN_DIAGRAMS`] ```` ```mermaid ```` blocks;
//! - listings only through includes: `check-listings`' rules hold on the page (no Rust typed
//!   into it, every include resolves to a non-empty file or anchor);
//! - a runnable listing: a ```` ```rust ```` block (not `noplayground` or `ignore`) that
//!   `{{#rustdoc_include}}`s a generated playground bundle under `code/playground/`;
//! - a generated figure (an image `figures/<name>.svg`) or an output table (a fence that
//!   `{{#include}}`s a file under `code/outputs/`);
//! - a `## Exercises` section with at least [`MIN_EXERCISES`] exercises (top-level items
//!   numbered `1.` or `**1.`), which names at least one `exercise_*` test, each of which is a
//!   `#[test] fn` somewhere under `code/` (the coding exercise's tested solution, see
//!   `uds::exercise`);
//! - a `## Further reading` section.
//!
//! Prefix pages (linked before the first numbered chapter, like how-to-use.md) and draft entries
//! (`[Title]()`) are exempt. The check prints one row per chapter, with its words of prose
//! (printed, never judged), and fails naming what each short chapter lacks.

use crate::listings;
use crate::markdown::{self, Block};
use crate::util::{self, Result, repo_root};
use std::collections::BTreeSet;
use std::path::Path;

pub const MIN_DIAGRAMS: usize = 2;
pub const MIN_EXERCISES: usize = 3;

pub fn check_chapters() -> Result {
    let root = repo_root();
    let summary = util::read(&root.join("src/SUMMARY.md"))?;
    let tests = exercise_tests(&root.join("code"))?;
    let mut failures = Vec::new();
    println!(
        "{:<34} {:>6} {:>8} {:>8} {:>8} {:>7} {:>9}  status",
        "chapter", "words", "diagrams", "listings", "runnable", "fig+tab", "exercises"
    );
    for link in markdown::summary_links(&summary) {
        if link.prefix || link.path.is_empty() {
            continue;
        }
        let page = root.join("src").join(&link.path);
        let text = util::read(&page)?;
        let mut listing_problems = Vec::new();
        listings::check_page(
            &page,
            &text,
            &mut listing_problems,
            &mut listings::Stats::default(),
        );
        let f = facts(&text);
        let missing = judge(&f, &listing_problems, &tests);
        println!(
            "{:<34} {:>6} {:>8} {:>8} {:>8} {:>7} {:>9}  {}",
            link.path,
            f.words,
            f.diagrams,
            f.listings,
            f.runnable,
            format!("{}+{}", f.figures, f.tables),
            f.exercises,
            if missing.is_empty() { "ok" } else { "SHORT" }
        );
        for m in missing {
            failures.push(format!("{}: {m}", link.path));
        }
    }
    util::report("check-chapters", &failures, "shortfall(s)")
}

/// What a page has, as counted from its Markdown.
#[derive(Debug, Default)]
pub struct Facts {
    /// Words outside code blocks, include lines, images and tables.
    pub words: usize,
    /// ```` ```mermaid ```` blocks.
    pub diagrams: usize,
    /// ```` ```rust ```` blocks.
    pub listings: usize,
    /// Rust blocks with a Run button that include a playground bundle.
    pub runnable: usize,
    /// Images of `figures/*.svg`.
    pub figures: usize,
    /// Blocks that include a file under `code/outputs/`.
    pub tables: usize,
    /// Whether the page has a `## Exercises` section.
    pub has_exercises: bool,
    /// Numbered exercises in it.
    pub exercises: usize,
    /// The `exercise_*` names it mentions.
    pub exercise_tests: BTreeSet<String>,
    /// Whether the page has a `## Further reading` section.
    pub has_further_reading: bool,
}

/// Counts what `text` (a chapter's Markdown) has.
pub fn facts(text: &str) -> Facts {
    let blocks = markdown::blocks(text);
    let mut f = Facts::default();
    for block in &blocks {
        match block {
            Block::Fence(fence) => {
                let body: Vec<&str> = fence.body.iter().map(|(_, l)| l.trim()).collect();
                let includes = |kind: &str, dir: &str| {
                    body.iter()
                        .any(|l| l.starts_with(&format!("{{{{#{kind} ")) && l.contains(dir))
                };
                match fence.lang() {
                    "mermaid" => f.diagrams += 1,
                    "rust" => {
                        f.listings += 1;
                        let runs = !fence
                            .attributes()
                            .any(|a| a == "noplayground" || a == "ignore");
                        if runs && includes("rustdoc_include", "code/playground/") {
                            f.runnable += 1;
                        }
                    }
                    _ => {}
                }
                if includes("include", "code/outputs/") {
                    f.tables += 1;
                }
            }
            Block::Text(t) => {
                for line in &t.lines {
                    f.figures += figure_count(line);
                    let l = line.trim_start();
                    let skip = ["{{#", "![", "|", "<"].iter().any(|p| l.starts_with(p));
                    if !skip {
                        f.words += l.split_whitespace().count();
                    }
                }
            }
        }
    }
    if let Some(section) = markdown::section(&blocks, "Exercises") {
        f.has_exercises = true;
        for block in section {
            match block {
                Block::Text(t) => {
                    f.exercises += t.lines.iter().filter(|l| is_numbered_item(l)).count();
                    let text = t.joined();
                    f.exercise_tests.extend(exercise_names(&text));
                }
                Block::Fence(fence) => {
                    for (_, line) in &fence.body {
                        f.exercise_tests.extend(exercise_names(line));
                    }
                }
            }
        }
    }
    f.has_further_reading = markdown::section(&blocks, "Further reading").is_some();
    f
}

/// `![...](figures/<name>.svg)` images on a line.
fn figure_count(line: &str) -> usize {
    line.match_indices("](figures/")
        .filter(|(i, _)| {
            line[..*i].contains("![")
                && line[i + 2..]
                    .split(')')
                    .next()
                    .is_some_and(|p| p.ends_with(".svg"))
        })
        .count()
}

/// `1. ` or `**1. ` at the start of an unindented line.
fn is_numbered_item(line: &str) -> bool {
    let l = line.strip_prefix("**").unwrap_or(line);
    let digits = l.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && l[digits..].starts_with(". ")
}

/// Every `exercise_<name>` word of `text`, except file names (`exercise_gossip.rs`).
fn exercise_names(text: &str) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("exercise_") {
        let preceded_by_word = rest[..start].chars().next_back().is_some_and(word);
        let tail = &rest[start..];
        let len = tail.find(|c: char| !word(c)).unwrap_or(tail.len());
        let (name, after) = tail.split_at(len);
        if !preceded_by_word && name.len() > "exercise_".len() && !after.starts_with(".rs") {
            names.push(name.to_string());
        }
        rest = after;
    }
    names
}

/// What `f` lacks, one message per shortfall (empty: the chapter meets the bar).
pub fn judge(f: &Facts, listing_problems: &[String], tests: &BTreeSet<String>) -> Vec<String> {
    let mut missing = Vec::new();
    if f.diagrams < MIN_DIAGRAMS {
        missing.push(format!(
            "{} Mermaid diagram(s), needs at least {MIN_DIAGRAMS} (```mermaid blocks)",
            f.diagrams
        ));
    }
    for p in listing_problems {
        missing.push(format!("listing: {p}"));
    }
    if f.runnable == 0 {
        missing.push(
            "no runnable listing: a ```rust block with \
             {{#rustdoc_include ../code/playground/<example>.rs:main}}"
                .into(),
        );
    }
    if f.figures + f.tables == 0 {
        missing.push(
            "no experiment output: a figure ![...](figures/<name>.svg) or a table \
             ```text + {{#include ../code/outputs/<name>.txt}}"
                .into(),
        );
    }
    if !f.has_exercises {
        missing.push("no `## Exercises` section".into());
    } else {
        if f.exercises < MIN_EXERCISES {
            missing.push(format!(
                "{} exercise(s), needs at least {MIN_EXERCISES} (items numbered `1.` or `**1.`)",
                f.exercises
            ));
        }
        if f.exercise_tests.is_empty() {
            missing.push(
                "no coding exercise: the Exercises section names no `exercise_*` test \
                 (see uds::exercise for how to write one)"
                    .into(),
            );
        }
        for name in f.exercise_tests.difference(tests) {
            missing.push(format!(
                "the Exercises section names `{name}`, but no `#[test] fn {name}` exists under code/"
            ));
        }
    }
    if !f.has_further_reading {
        missing.push("no `## Further reading` section".into());
    }
    missing
}

/// The names of the `#[test] fn exercise_*` functions under `dir` (generated playground bundles
/// excluded).
pub fn exercise_tests(dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for file in util::files_under(dir) {
        let generated = file.components().any(|c| c.as_os_str() == "playground");
        if generated || file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        names.extend(test_functions(&util::read(&file)?));
    }
    Ok(names)
}

/// `fn exercise_*` items of `source` with a `#[test]` among the attribute lines above them.
fn test_functions(source: &str) -> Vec<String> {
    let lines: Vec<&str> = source.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("fn exercise_") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let is_test = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with("#[") || l.starts_with("//") || l.ends_with(']'))
            .any(|l| l.starts_with("#[test]"));
        if is_test {
            out.push(format!("exercise_{name}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::TempDir;

    /// A chapter that meets the bar, written with its included files into a temporary root.
    const GOOD: &str = "# A chapter

Some prose, with `code`.

```mermaid
flowchart LR
  a --> b
```

```mermaid
sequenceDiagram
  a->>b: hi
```

```rust
{{#rustdoc_include ../code/playground/demo.rs:main}}
```

```text
{{#include ../code/outputs/demo.txt}}
```

![A figure](figures/demo.svg)

## Exercises

**1. Code it (coding).** Implement it, then run
`cargo test -p uds --release --lib exercise_demo -- --ignored`.

**2. Predict.** Then run it.

**3. Think.** Why?

## Further reading

- A paper.
";

    fn fixture(page: &str) -> (TempDir, Vec<String>, Facts) {
        let dir = TempDir::new("xtask-chapters").unwrap();
        let root = dir.path();
        for (path, text) in [
            (
                "code/playground/demo.rs",
                "// ANCHOR: main\nfn main() {}\n// ANCHOR_END: main\n",
            ),
            ("code/outputs/demo.txt", "a table\n"),
            ("src/figures/demo.svg", "<svg/>\n"),
            ("src/ch.md", page),
        ] {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        let mut problems = Vec::new();
        let page_path = root.join("src/ch.md");
        listings::check_page(
            &page_path,
            page,
            &mut problems,
            &mut listings::Stats::default(),
        );
        (dir, problems, facts(page))
    }

    fn shortfalls(page: &str) -> Vec<String> {
        let (_dir, problems, f) = fixture(page);
        let tests = BTreeSet::from(["exercise_demo".to_string()]);
        judge(&f, &problems, &tests)
    }

    #[test]
    fn a_chapter_that_meets_the_bar_passes() {
        let (_dir, problems, f) = fixture(GOOD);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            (
                f.diagrams,
                f.listings,
                f.runnable,
                f.figures,
                f.tables,
                f.exercises
            ),
            (2, 1, 1, 1, 1, 3)
        );
        assert_eq!(shortfalls(GOOD), Vec::<String>::new());
    }

    #[test]
    fn one_diagram_is_short() {
        let page = GOOD.replacen("```mermaid\nflowchart LR\n  a --> b\n```\n", "", 1);
        let s = shortfalls(&page);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].contains("1 Mermaid diagram"), "{s:?}");
    }

    #[test]
    fn a_chapter_without_exercises_is_short() {
        let start = GOOD.find("## Exercises").unwrap();
        let end = GOOD.find("## Further reading").unwrap();
        let page = format!("{}{}", &GOOD[..start], &GOOD[end..]);
        assert_eq!(shortfalls(&page), vec!["no `## Exercises` section"]);
    }

    #[test]
    fn a_coding_exercise_naming_a_missing_test_is_short() {
        let page = GOOD.replace("exercise_demo", "exercise_nowhere");
        let s = shortfalls(&page);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].contains("`exercise_nowhere`"), "{s:?}");
        let page = GOOD.replace("--lib exercise_demo", "--lib demo");
        assert!(shortfalls(&page)[0].contains("no coding exercise"));
    }

    #[test]
    fn typed_rust_no_run_button_no_output_and_no_reading_are_short() {
        let page = GOOD
            .replace(
                "{{#rustdoc_include ../code/playground/demo.rs:main}}",
                "fn main() {}",
            )
            .replace("```text\n{{#include ../code/outputs/demo.txt}}\n```\n", "")
            .replace("![A figure](figures/demo.svg)", "")
            .replace("## Further reading", "## Notes");
        let s = shortfalls(&page);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[0].starts_with("listing:") && s[0].contains("Rust typed"));
        assert!(s[1].starts_with("no runnable listing"));
        assert!(s[2].starts_with("no experiment output"));
        assert!(s[3].contains("Further reading"));
    }

    #[test]
    fn two_exercises_are_short_and_noplayground_is_not_runnable() {
        let page = GOOD
            .replace("**3. Think.** Why?", "")
            .replace("```rust\n{{#rustdoc", "```rust,noplayground\n{{#rustdoc");
        let s = shortfalls(&page);
        assert_eq!(s.len(), 2, "{s:#?}");
        assert!(s[0].starts_with("no runnable listing"));
        assert!(s[1].starts_with("2 exercise(s)"));
    }

    #[test]
    fn exercise_tests_are_test_functions_named_exercise() {
        let src = "#[test]\n#[ignore = \"x \\\n y\"]\nfn exercise_a() {}\n\
                   fn exercise_not_a_test() {}\n#[test]\nfn other() {}\n";
        assert_eq!(test_functions(src), vec!["exercise_a"]);
    }

    #[test]
    fn file_names_are_not_test_names() {
        let text =
            "In `exercise_gossip.rs`, run `--lib exercise_gossip_detection`; not my_exercise_x.";
        assert_eq!(exercise_names(text), vec!["exercise_gossip_detection"]);
    }
}
