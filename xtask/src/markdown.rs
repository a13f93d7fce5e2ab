//! Just enough Markdown for the chapter checks: the pages SUMMARY.md links, a page cut into
//! blocks (fenced code, and paragraphs between blank lines), sections under `## ` headings, and
//! inline code spans with the sentence around them.
//!
//! This is not a CommonMark parser. It reads the subset this book writes: fences of three or
//! more backticks or tildes, ATX headings, paragraphs and list items separated by blank lines.

use std::ops::Range;

/// A fenced code block.
#[derive(Clone, Debug)]
pub struct Fence {
    /// The info string (`text`, `rust,noplayground`, `mermaid`, ...).
    pub info: String,
    /// The line of the opening fence (1-based).
    pub line: usize,
    /// Whether a closing fence was found (an unclosed one runs to the end of the page).
    pub closed: bool,
    /// The lines inside the fence, with their line numbers.
    pub body: Vec<(usize, String)>,
}

impl Fence {
    /// The language: the info string up to the first comma or space.
    pub fn lang(&self) -> &str {
        self.info.split([',', ' ', '\t']).next().unwrap_or("")
    }

    /// The info string's words (`rust,noplayground` gives `rust` and `noplayground`).
    pub fn attributes(&self) -> impl Iterator<Item = &str> {
        self.info.split([',', ' ', '\t']).filter(|w| !w.is_empty())
    }
}

/// Consecutive non-blank lines outside fences: a paragraph, a list item, a heading, a table.
#[derive(Clone, Debug)]
pub struct Text {
    /// The first line (1-based).
    pub line: usize,
    /// The lines as written.
    pub lines: Vec<String>,
}

impl Text {
    /// The lines joined with `\n`.
    pub fn joined(&self) -> String {
        self.lines.join("\n")
    }

    /// The heading level and title if this block is an ATX heading (`## Exercises`).
    pub fn heading(&self) -> Option<(usize, &str)> {
        heading(self.lines.first()?)
    }
}

#[derive(Clone, Debug)]
pub enum Block {
    Fence(Fence),
    Text(Text),
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = &line[level..];
    (1..=6).contains(&level).then_some(())?;
    (rest.is_empty() || rest.starts_with(' ')).then(|| (level, rest.trim()))
}

/// The page cut into blocks. A heading is always a block of its own; an unclosed fence runs
/// to the end of the page (check-listings reports it).
pub fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut para: Option<Text> = None;
    let mut fence: Option<(char, usize, Fence)> = None;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let trimmed = line.trim_start();
        let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = ch.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        if let Some((fch, flen, f)) = fence.as_mut() {
            if ch == Some(*fch) && run >= *flen && trimmed[run..].trim().is_empty() {
                if let Some((_, _, mut f)) = fence.take() {
                    f.closed = true;
                    out.push(Block::Fence(f));
                }
            } else {
                f.body.push((lineno, line.to_string()));
            }
            continue;
        }
        if let Some(c) = ch
            && run >= 3
            && !(c == '`' && trimmed[run..].contains('`'))
        {
            if let Some(p) = para.take() {
                out.push(Block::Text(p));
            }
            let info = trimmed[run..].trim().to_string();
            fence = Some((
                c,
                run,
                Fence {
                    info,
                    line: lineno,
                    closed: false,
                    body: Vec::new(),
                },
            ));
            continue;
        }
        if line.trim().is_empty() {
            if let Some(p) = para.take() {
                out.push(Block::Text(p));
            }
            continue;
        }
        if heading(line).is_some() {
            if let Some(p) = para.take() {
                out.push(Block::Text(p));
            }
            out.push(Block::Text(Text {
                line: lineno,
                lines: vec![line.to_string()],
            }));
            continue;
        }
        para.get_or_insert_with(|| Text {
            line: lineno,
            lines: Vec::new(),
        })
        .lines
        .push(line.to_string());
    }
    if let Some(p) = para {
        out.push(Block::Text(p));
    }
    if let Some((_, _, f)) = fence {
        out.push(Block::Fence(f));
    }
    out
}

/// The blocks under the `## title` heading (case-insensitive), up to the next heading of level
/// 1 or 2; `None` if the page has no such heading.
pub fn section<'a>(blocks: &'a [Block], title: &str) -> Option<&'a [Block]> {
    let start = blocks.iter().position(|b| {
        matches!(b, Block::Text(t) if t.heading().is_some_and(|(level, h)| level == 2 && h.eq_ignore_ascii_case(title)))
    })? + 1;
    let len = blocks[start..]
        .iter()
        .position(
            |b| matches!(b, Block::Text(t) if t.heading().is_some_and(|(level, _)| level <= 2)),
        )
        .unwrap_or(blocks.len() - start);
    Some(&blocks[start..start + len])
}

/// An inline code span of a text block.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Its content, line breaks (and the indentation after them) made single spaces.
    pub code: String,
    /// The line it starts on (1-based).
    pub line: usize,
    /// The sentence it stands in, with the code spans in place.
    pub sentence: String,
}

/// The inline code spans of `text`, each with its sentence.
pub fn spans(text: &Text) -> Vec<Span> {
    let joined = text.joined();
    let found = span_ranges(&joined);
    // The text with every span's content blanked, so that a `.` inside code is no sentence end.
    let mut masked = joined.clone().into_bytes();
    for (outer, _) in &found {
        for b in &mut masked[outer.clone()] {
            if *b != b'\n' {
                *b = b'x';
            }
        }
    }
    let masked = String::from_utf8_lossy(&masked).into_owned();
    found
        .into_iter()
        .map(|(outer, inner)| {
            let (from, to) = sentence_around(&masked, outer.clone());
            Span {
                code: one_line(&joined[inner]),
                line: text.line + joined[..outer.start].matches('\n').count(),
                sentence: one_line(&joined[from..to]),
            }
        })
        .collect()
}

/// Line breaks and the indentation after them become one space; the ends are trimmed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// (whole span with backticks, content) byte ranges, as CommonMark pairs backtick runs: a run
/// of n backticks closes at the next run of exactly n.
fn span_ranges(s: &str) -> Vec<(Range<usize>, Range<usize>)> {
    let bytes = s.as_bytes();
    let run_at = |i: usize| bytes[i..].iter().take_while(|b| **b == b'`').count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let n = run_at(i);
        let mut j = i + n;
        let mut close = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let m = run_at(j);
                if m == n {
                    close = Some(j);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(j) => {
                out.push((i..j + n, i + n..j));
                i = j + n;
            }
            None => i += n, // an unmatched run is literal text
        }
    }
    out
}

/// The sentence of `masked` that contains `range`: from after the previous `. `, `? ` or `! `
/// to the next one, or to a `: ` (which introduces what follows), inclusive of its punctuation.
fn sentence_around(masked: &str, range: Range<usize>) -> (usize, usize) {
    let b = masked.as_bytes();
    let ends_at = |i: usize, colon: bool| {
        (matches!(b[i], b'.' | b'?' | b'!') || (colon && b[i] == b':'))
            && b.get(i + 1).is_none_or(|c| c.is_ascii_whitespace())
    };
    let from = (0..range.start)
        .rev()
        .find(|&i| ends_at(i, false))
        .map_or(0, |i| i + 1);
    let to = (range.end..masked.len())
        .find(|&i| ends_at(i, true))
        .map_or(masked.len(), |i| i + 1);
    (from, to)
}

/// The last sentence of a text block (the words that introduce a fence that follows it).
pub fn last_sentence(text: &Text) -> String {
    let joined = text.joined();
    let end = joined.trim_end().len();
    let masked = {
        let mut m = joined.clone().into_bytes();
        for (outer, _) in span_ranges(&joined) {
            for b in &mut m[outer] {
                if *b != b'\n' {
                    *b = b'x';
                }
            }
        }
        String::from_utf8_lossy(&m).into_owned()
    };
    let (from, _) = sentence_around(&masked, end.saturating_sub(1)..end.saturating_sub(1));
    one_line(&joined[from..end])
}

/// A page linked from SUMMARY.md.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub title: String,
    /// The path relative to `src/` (empty for a draft entry `[Title]()`).
    pub path: String,
    /// A prefix chapter (a link before the first numbered entry): exempt from the chapter bar.
    pub prefix: bool,
}

/// The entries of SUMMARY.md, drafts included, in order.
pub fn summary_links(summary: &str) -> Vec<Link> {
    let mut out = Vec::new();
    let mut seen_list = false;
    for line in summary.lines() {
        let t = line.trim_start();
        let is_item = t.starts_with("- [") || t.starts_with("* ");
        let rest = if is_item { &t[2..] } else { t };
        let Some(rest) = rest.strip_prefix('[') else {
            continue;
        };
        let Some((title, after)) = rest.split_once("](") else {
            continue;
        };
        let Some((path, _)) = after.split_once(')') else {
            continue;
        };
        seen_list |= is_item;
        out.push(Link {
            title: title.to_string(),
            path: path.trim().to_string(),
            prefix: !is_item && !seen_list,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_sections_and_spans() {
        let md = "# T\n\nIntro `a`.\n\n## Exercises\n\n1. Run\n   `cargo test\n   --lib x`. Then stop.\n\n```text\ncargo run\n```\n\n## Further reading\n\nx\n";
        let b = blocks(md);
        let ex = section(&b, "exercises").unwrap();
        assert_eq!(ex.len(), 2);
        let Block::Text(t) = &ex[0] else {
            panic!("{ex:?}")
        };
        let s = spans(t);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].code, "cargo test --lib x");
        assert_eq!(s[0].line, 8);
        assert_eq!(s[0].sentence, "Run `cargo test --lib x`.");
        let Block::Fence(f) = &ex[1] else {
            panic!("{ex:?}")
        };
        assert_eq!((f.lang(), f.body[0].0, f.body.len()), ("text", 12, 1));
        assert!(section(&b, "Missing").is_none());
    }

    #[test]
    fn sentences_ignore_dots_inside_code() {
        let t = Text {
            line: 1,
            lines: vec!["Done. Regenerate it with `x --write .` today. Next.".into()],
        };
        assert_eq!(
            spans(&t)[0].sentence,
            "Regenerate it with `x --write .` today."
        );
        let t = Text {
            line: 1,
            lines: vec!["First. Regenerate `a. b` with:".into()],
        };
        assert_eq!(last_sentence(&t), "Regenerate `a. b` with:");
    }

    #[test]
    fn summary_prefix_drafts_and_suffix() {
        let s = "# Summary\n\n[Use](how.md)\n\n# Part\n\n- [One](one.md)\n- [Draft]()\n  - [Sub](sub.md)\n\n---\n\n[Appendix](app.md)\n";
        let links = summary_links(s);
        let got: Vec<(&str, bool)> = links.iter().map(|l| (l.path.as_str(), l.prefix)).collect();
        assert_eq!(
            got,
            vec![
                ("how.md", true),
                ("one.md", false),
                ("", false),
                ("sub.md", false),
                ("app.md", false)
            ]
        );
    }
}
