//! `check-listings`: the Markdown side of "prose, code and results cannot drift apart".
//!
//! mdBook is lenient where this book must be strict: a missing include file only logs an
//! error (the build still succeeds), a missing anchor renders an empty block, and Rust typed
//! straight into a chapter is never compiled by `cargo test`. So, for every `src/**/*.md`:
//! - a code fence must say what it holds (a bare fence is compiled as Rust by `mdbook test`;
//!   program output is marked `text`);
//! - a fence whose info string starts with `rust` may contain only `{{#include ...}}` /
//!   `{{#rustdoc_include ...}}` lines: the code lives in the tested `code` crate;
//! - every include names an existing file (relative to the .md file), every `:anchor` has an
//!   `ANCHOR: name` / `ANCHOR_END: name` pair in it, and what it includes is not empty
//!   (ANCHOR marker lines do not count);
//! - every `mermaid` fence has a body.
//!
//! Problems are reported as `file:line: message`.

use crate::markdown::{self, Block, Fence};
use crate::util::{self, Result, repo_root};
use std::path::Path;

pub fn check_listings() -> Result {
    let src = repo_root().join("src");
    let mut problems = Vec::new();
    let mut stats = Stats::default();
    let pages: Vec<_> = util::files_under(&src)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    for page in &pages {
        let text = util::read(page)?;
        check_page(page, &text, &mut problems, &mut stats);
    }
    println!(
        "check-listings: {} Markdown files, {} code fences ({} Rust), {} includes",
        pages.len(),
        stats.fences,
        stats.rust_fences,
        stats.includes
    );
    util::report("check-listings", &problems, "problem(s)")
}

#[derive(Default)]
pub(crate) struct Stats {
    fences: usize,
    rust_fences: usize,
    includes: usize,
}

pub(crate) fn check_page(page: &Path, text: &str, problems: &mut Vec<String>, stats: &mut Stats) {
    let name = util::rel(page);
    for block in markdown::blocks(text) {
        let Block::Fence(f) = block else { continue };
        if f.closed {
            check_fence(&name, &f, problems, stats);
        } else {
            problems.push(format!(
                "{name}:{}: code fence `{}` is never closed",
                f.line, f.info
            ));
        }
    }
    for (lineno, directive) in find_directives(text) {
        check_directive(page, &name, lineno, &directive, problems, stats);
    }
}

fn check_fence(name: &str, f: &Fence, problems: &mut Vec<String>, stats: &mut Stats) {
    stats.fences += 1;
    let lang = f.lang();
    if f.info.is_empty() {
        problems.push(format!(
            "{name}:{}: bare code fence: say what it holds (```text for program output; \
             Rust listings are ```rust + {{{{#include ...}}}})",
            f.line
        ));
    } else if lang.starts_with("rust") {
        stats.rust_fences += 1;
        let mut includes = 0;
        for (lineno, line) in &f.body {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            let is_include = (t.starts_with("{{#include ") || t.starts_with("{{#rustdoc_include "))
                && t.ends_with("}}");
            if is_include {
                includes += 1;
            } else {
                problems.push(format!(
                    "{name}:{lineno}: Rust typed into the Markdown (`{}`): put the code in the \
                     `code` crate and include it with {{{{#include path:anchor}}}} or \
                     {{{{#rustdoc_include path:anchor}}}}",
                    shorten(t)
                ));
            }
        }
        if includes == 0 && f.body.iter().all(|(_, l)| l.trim().is_empty()) {
            problems.push(format!("{name}:{}: empty ```{} block", f.line, f.info));
        }
    } else if lang == "mermaid" && f.body.iter().all(|(_, l)| l.trim().is_empty()) {
        problems.push(format!("{name}:{}: empty ```mermaid block", f.line));
    }
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}

/// `{{#type args}}` directives as mdBook's link regex finds them (escaped `\{{#` skipped),
/// with the line they start on. Returns (line, "type args").
fn find_directives(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut pos = 0;
    while let Some(off) = text[pos..].find("{{") {
        let start = pos + off;
        pos = start + 2;
        if start > 0 && bytes[start - 1] == b'\\' {
            continue;
        }
        let rest = text[pos..].trim_start();
        let Some(rest) = rest.strip_prefix('#') else {
            continue;
        };
        let Some(end) = rest.find("}}") else {
            continue;
        };
        let inner = &rest[..end];
        if inner.contains('}') {
            continue;
        }
        let lineno = text[..start].matches('\n').count() + 1;
        out.push((lineno, inner.trim().to_string()));
    }
    out
}

fn check_directive(
    page: &Path,
    name: &str,
    lineno: usize,
    directive: &str,
    problems: &mut Vec<String>,
    stats: &mut Stats,
) {
    let mut words = directive.split_whitespace();
    let kind = words.next().unwrap_or("");
    let Some(target) = words.next() else {
        problems.push(format!(
            "{name}:{lineno}: `{{{{#{directive}}}}}` has no argument"
        ));
        return;
    };
    match kind {
        "include" | "rustdoc_include" | "playground" | "playpen" => {}
        "title" => return,
        _ => {
            problems.push(format!(
                "{name}:{lineno}: unknown directive `{{{{#{kind} ...}}}}`: mdBook would print it verbatim"
            ));
            return;
        }
    }
    stats.includes += 1;
    let (path, selector) = match target.split_once(':') {
        Some((p, s)) if kind != "playground" && kind != "playpen" => (p, Some(s)),
        _ => (target, None),
    };
    let dir = page.parent().unwrap_or(Path::new("."));
    let file = dir.join(path);
    let Ok(content) = std::fs::read_to_string(&file) else {
        problems.push(format!(
            "{name}:{lineno}: `{{{{#{kind} {target}}}}}`: file `{path}` not found (looked for {})",
            util::rel(&file)
        ));
        return;
    };
    let selected = match selector {
        None | Some("") => content.clone(),
        Some(sel) => match select(&content, sel) {
            Ok(s) => s,
            Err(msg) => {
                problems.push(format!(
                    "{name}:{lineno}: `{{{{#{kind} {target}}}}}`: {msg} in {path}"
                ));
                return;
            }
        },
    };
    let visible: Vec<&str> = selected.lines().filter(|l| !is_anchor_line(l)).collect();
    if visible.iter().all(|l| l.trim().is_empty()) {
        problems.push(format!(
            "{name}:{lineno}: `{{{{#{kind} {target}}}}}` includes nothing (empty after removing ANCHOR lines)"
        ));
    }
}

/// Applies an include's `:anchor` or `:start:end` selector like mdBook does.
fn select(content: &str, sel: &str) -> std::result::Result<String, String> {
    let mut parts = sel.splitn(2, ':');
    let first = parts.next().unwrap_or("");
    let second = parts.next();
    let lines: Vec<&str> = content.lines().collect();
    let start = match first.parse::<usize>() {
        Ok(n) => Some(n.saturating_sub(1)),
        Err(_) if first.is_empty() => None,
        Err(_) => return anchored(content, first),
    };
    let end = second.map(|s| s.parse::<usize>());
    let (from, to) = match (start, end) {
        (Some(s), Some(Ok(e))) => (s, e),
        (Some(s), Some(Err(_))) => (s, lines.len()),
        (Some(s), None) => (s, s + 1),
        (None, Some(Ok(e))) => (0, e),
        (None, _) => (0, lines.len()),
    };
    if from >= lines.len() {
        return Err(format!(
            "line range `{sel}` starts after the last line ({})",
            lines.len()
        ));
    }
    Ok(lines[from..to.min(lines.len())].join("\n"))
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`; both must exist.
fn anchored(content: &str, anchor: &str) -> std::result::Result<String, String> {
    let mut inside = false;
    let mut started = false;
    let mut out = Vec::new();
    for line in content.lines() {
        if inside {
            if anchor_name(line, "ANCHOR_END:") == Some(anchor) {
                return Ok(out.join("\n"));
            }
            if !is_anchor_line(line) {
                out.push(line);
            }
        } else if anchor_name(line, "ANCHOR:") == Some(anchor) {
            inside = true;
            started = true;
        }
    }
    Err(if started {
        format!("anchor `{anchor}` has `ANCHOR: {anchor}` but no `ANCHOR_END: {anchor}`")
    } else {
        format!("anchor `{anchor}` not found (no `ANCHOR: {anchor}` line)")
    })
}

/// The anchor name after `marker` on this line, as mdBook's `[\w_-]+` regex reads it.
fn anchor_name<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let at = line.find(marker)?;
    let rest = line[at + marker.len()..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

fn is_anchor_line(line: &str) -> bool {
    anchor_name(line, "ANCHOR:").is_some() || anchor_name(line, "ANCHOR_END:").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_and_ranges() {
        let src =
            "a\n// ANCHOR: x\nb\n// ANCHOR: inner\nc\n// ANCHOR_END: inner\n// ANCHOR_END: x\nd";
        assert_eq!(select(src, "x").unwrap(), "b\nc");
        assert!(select(src, "nope").is_err());
        assert_eq!(select(src, "1").unwrap(), "a");
        assert_eq!(select(src, "8:").unwrap(), "d");
        assert_eq!(select(src, ":1").unwrap(), "a");
        assert!(select("// ANCHOR: y\nz", "y").is_err());
    }

    #[test]
    fn directives() {
        let d = find_directives(
            "x {{#include a.rs:b}}\n\\{{#include no}}\n{{ #rustdoc_include c.rs }}",
        );
        assert_eq!(
            d,
            vec![
                (1, "include a.rs:b".into()),
                (3, "rustdoc_include c.rs".into())
            ]
        );
    }

    #[test]
    fn fences() {
        let mut problems = Vec::new();
        let mut stats = Stats::default();
        let md = "```\nx\n```\n```rust\nfn main() {}\n```\n```rust,noplayground\n{{#include ../none.rs}}\n```\n```mermaid\n```\n";
        check_page(
            Path::new("/nonexistent/src/t.md"),
            md,
            &mut problems,
            &mut stats,
        );
        assert_eq!(problems.len(), 4, "{problems:#?}");
        problems.clear();
        check_page(
            Path::new("/nonexistent/src/t.md"),
            "text\n\n```text\nnever closed\n",
            &mut problems,
            &mut stats,
        );
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains(":3: code fence `text` is never closed"));
    }
}
