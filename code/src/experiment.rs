//! What every experiment program shares: its command line, its tables and its output files.
//!
//! An experiment (a program in `examples/`) is seeded and prints what it measured. Given
//! `--write <ROOT>` it also writes its table and figure under `ROOT` (the repository root when
//! regenerating the book, a temporary folder when the freshness check compares). The files it
//! writes are declared in its header with `//! outputs:` lines, which the check reads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The flags every experiment takes.
#[derive(Clone, Debug, clap::Args)]
pub struct ExperimentArgs {
    /// The seed from which every random choice of the run derives.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the outputs under this folder (the repository root to update the book).
    #[arg(long, value_name = "ROOT")]
    pub write: Option<PathBuf>,
}

impl ExperimentArgs {
    /// Writes `contents` to `ROOT/relative` if `--write` was given. Creates folders as needed.
    pub fn emit(&self, relative: &str, contents: &str) -> std::io::Result<()> {
        let Some(root) = &self.write else {
            return Ok(());
        };
        let path = root.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        }
        std::fs::write(&path, contents).map_err(|e| with_path(e, &path))
    }
}

/// A current-thread tokio runtime, for the examples and tests that talk to a real server on
/// loopback; the error says what failed.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
}

fn with_path(e: std::io::Error, path: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

// ANCHOR: table
/// A plain-text table with aligned columns, for outputs the book includes verbatim.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; it must have one cell per column.
    pub fn row(&mut self, cells: Vec<String>) {
        assert_eq!(
            cells.len(),
            self.headers.len(),
            "row width differs from header width"
        );
        self.rows.push(cells);
    }

    /// Renders the table: text columns left-aligned, numeric columns right-aligned.
    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let width = |c: usize| {
            let cells = self.rows.iter().map(|r| r[c].len());
            cells.chain([self.headers[c].len()]).max().unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns).map(width).collect();
        let numeric: Vec<bool> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .all(|r| r[c].trim_end_matches('%').parse::<f64>().is_ok())
            })
            .collect();
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let mut text = String::new();
            for (c, cell) in cells.iter().enumerate() {
                let sep = if c == 0 { "" } else { "  " };
                if numeric[c] {
                    let _ = write!(text, "{sep}{cell:>w$}", w = widths[c]);
                } else {
                    let _ = write!(text, "{sep}{cell:<w$}", w = widths[c]);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&mut out, &self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        line(&mut out, &rule);
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}
// ANCHOR_END: table

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_align_right_and_text_left() {
        let mut t = Table::new(&["model", "p99 (ms)"]);
        t.row(vec!["sync".into(), "3.5".into()]);
        t.row(vec!["asynchronous".into(), "120.25".into()]);
        let expected = "\
model         p99 (ms)
------------  --------
sync               3.5
asynchronous    120.25
";
        assert_eq!(t.render(), expected);
    }

    #[test]
    fn without_write_nothing_is_written() {
        let args = ExperimentArgs {
            seed: 1,
            write: None,
        };
        assert!(args.emit("code/outputs/never.txt", "x").is_ok());
    }
}
