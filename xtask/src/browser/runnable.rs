//! Runnable listings in the browser: Copy copies the whole program, and an edit is run.
//!
//! theme/runnable.js turns every runnable block (`pre.playground`) into an ACE editor holding
//! the whole program, with the hidden lines folded. For each such block this check:
//! 1. clicks Copy and reads the clipboard (`navigator.clipboard`, allowed by
//!    `Browser.grantPermissions`): it must hold the whole program, hidden lines included,
//!    which is then compiled as `check-playground` compiles a listing;
//! 2. puts the cursor on the first visible line and types a comment line (CDP
//!    `Input.insertText`, as a keyboard would), clicks Run and reads the request it sends
//!    (the page's `fetch` to play.rust-lang.org is stubbed; see [`FETCH_STUB`](super)): it must
//!    be the original program with the typed line in place, so hidden lines survive editing;
//! 3. clicks Copy again (the edited program), the eye button twice (the hidden lines unfold
//!    and fold again), then the undo button (the original program again).

use crate::cdp::Chrome;
use crate::playground;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

/// The line typed into each editor.
pub const TYPED: &str = "// typed by check-browser\n";

/// Helpers of the two steps below, defined on the page before each (as globals, so that a
/// second definition replaces the first): `sleep(ms)`, and `copyVia(button)`, which clicks a
/// Copy button and returns what it put on the clipboard.
const HELPERS: &str = r#"globalThis.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
globalThis.copyVia = async (button) => {
  await navigator.clipboard.writeText('(Copy put nothing on the clipboard)');
  button.focus(); // as a mouse click would: the editor loses the focus
  button.click();
  await sleep(100);
  return navigator.clipboard.readText();
};
"#;

/// Step 1 and the cursor placement, for block `I` (0-based) of `main pre.playground`.
const BEFORE_EDIT: &str = r#"(async (i, typed) => {
  const pre = document.querySelectorAll('main pre.playground')[i];
  const code = pre.querySelector('code');
  const editor = window.ace && code.classList.contains('ace_editor') ? window.ace.edit(code) : null;
  const r = { editable: editor !== null, boring: code.querySelectorAll('.boring').length };
  r.text = editor ? editor.getValue() : code.textContent;
  const copy = pre.querySelector('.clip-button');
  r.copied = copy ? await copyVia(copy) : null;
  if (editor) {
    const s = editor.getSession();
    r.rows = s.getLength();
    r.screenRows = s.getScreenLength();
    r.folds = s.getAllFolds().length;
    let row = 0;
    while (row < r.rows && s.isRowFolded(row)) row++;
    editor.focus();
    editor.clearSelection();
    editor.moveCursorTo(row, 0);
    editor.clearSelection();
    const offset = s.getDocument().positionToIndex({ row, column: 0 });
    r.expected = r.text.slice(0, offset) + typed + r.text.slice(offset);
  }
  return r;
})"#;

/// Steps 2 (after typing) and 3.
const AFTER_EDIT: &str = r#"(async (i) => {
  const pre = document.querySelectorAll('main pre.playground')[i];
  const code = pre.querySelector('code');
  const editor = window.ace.edit(code);
  const r = { value: editor.getValue(), noRun: code.classList.contains('no_run') };
  const play = r.noRun ? null : pre.querySelector('.play-button');
  const shown = () => play && !play.hidden && !play.classList.contains('hidden');
  const deadline = Date.now() + 5000;
  while (play && Date.now() < deadline && !shown()) await sleep(50);
  r.runShown = shown();
  window.__udsRunRequests = [];
  if (play) play.click();
  while (play && Date.now() < deadline + 2000 && !window.__udsRunRequests.length) await sleep(20);
  r.sent = window.__udsRunRequests.length ? window.__udsRunRequests[0].code : null;
  r.copied = await copyVia(pre.querySelector('.clip-button'));
  const eye = pre.querySelector('.buttons button[title="Show hidden lines"]');
  const s = editor.getSession();
  if (eye) {
    eye.click();
    r.unfolded = s.getScreenLength() === s.getLength();
    eye.click();
    r.refolded = s.getScreenLength() < s.getLength();
  }
  const undo = pre.querySelector('.reset-button');
  if (undo) undo.click();
  r.afterUndo = editor.getValue();
  return r;
})"#;

/// What the blocks of one page did: (runnable blocks, blocks that passed), and problems.
pub struct PageRun {
    pub blocks: usize,
    pub passed: usize,
    pub problems: Vec<String>,
}

/// Runs the three steps on every runnable block of the loaded page. `compiled` holds the
/// programs already compiled (pages such as print.html repeat blocks).
pub fn check_page(
    chrome: &mut Chrome,
    session: &str,
    rel: &str,
    compiled: &mut HashSet<String>,
) -> crate::util::Result<PageRun> {
    let s = Some(session);
    let long = Duration::from_secs(30);
    let count = eval(
        chrome,
        session,
        "document.querySelectorAll('main pre.playground').length".into(),
    )?
    .as_u64()
    .unwrap_or(0) as usize;
    let mut run = PageRun {
        blocks: count,
        passed: 0,
        problems: Vec::new(),
    };
    for i in 0..count {
        let label = format!("{rel}: runnable listing {}", i + 1);
        let before = eval(
            chrome,
            session,
            format!("{HELPERS}{BEFORE_EDIT}({i}, {})", json!(TYPED)),
        )?;
        let text = before["text"].as_str().unwrap_or_default().to_string();
        let mut problems = Vec::new();
        if before["editable"] != true {
            problems.push(format!(
                "{label} is not editable (no ACE editor; is theme/runnable.js loaded?)"
            ));
        }
        check_copy(&label, &text, &before["copied"], "", &mut problems);
        let lines = text.lines().count();
        if before["editable"] == true {
            let rows = before["rows"].as_u64().unwrap_or(0);
            let screen = before["screenRows"].as_u64().unwrap_or(0);
            if before["folds"].as_u64().unwrap_or(0) > 0 && screen >= rows {
                problems.push(format!(
                    "{label}: its hidden lines are not folded ({screen} rows shown of {rows})"
                ));
            }
            chrome.call(s, "Input.insertText", json!({ "text": TYPED }), long)?;
            let after = eval(chrome, session, format!("{HELPERS}{AFTER_EDIT}({i})"))?;
            let expected = before["expected"].as_str().unwrap_or_default();
            if after["value"].as_str() != Some(expected) {
                problems.push(format!(
                    "{label}: typing a line at the top of the visible code did not give the \
                     expected program ({} lines instead of {})",
                    after["value"].as_str().unwrap_or_default().lines().count(),
                    expected.lines().count()
                ));
            }
            // A `no_run` listing has no Run button (mdBook hides it): only Copy is checked.
            let no_run = after["noRun"] == true;
            if !no_run && after["runShown"] != true {
                problems.push(format!("{label}: the Run button is not shown"));
            }
            match after["sent"].as_str() {
                _ if no_run => {}
                Some(sent) if sent == expected => {}
                Some(sent) => problems.push(format!(
                    "{label}: after an edit, Run sent {} lines, not the edited whole program \
                     ({} lines, hidden lines included)",
                    sent.lines().count(),
                    expected.lines().count()
                )),
                None => problems.push(format!("{label}: Run sent no request")),
            }
            check_copy(
                &label,
                expected,
                &after["copied"],
                " after an edit",
                &mut problems,
            );
            if before["folds"].as_u64().unwrap_or(0) > 0
                && (after["unfolded"] != true || after["refolded"] != true)
            {
                problems.push(format!(
                    "{label}: the eye button does not unfold and fold the hidden lines \
                     (unfolded: {}, folded again: {})",
                    after["unfolded"], after["refolded"]
                ));
            }
            if after["afterUndo"].as_str() != Some(text.as_str()) {
                problems.push(format!(
                    "{label}: the undo button did not restore the original program"
                ));
            }
        }
        if let Some(copied) = before["copied"].as_str()
            && copied == text
            && compiled.insert(copied.to_string())
        {
            let edition = eval(
                chrome,
                session,
                format!(
                    "[...document.querySelectorAll('main pre.playground')[{i}]\
                     .querySelector('code').classList].filter((c) => c.startsWith('edition'))\
                     .map((c) => c.slice(7)).pop() || '2015'"
                ),
            )?;
            let edition = edition.as_str().unwrap_or("2015");
            if let Err(e) = playground::compile_and_run(copied, edition) {
                problems.push(format!(
                    "{label}: the copied program ({lines} lines) does not compile: {e}"
                ));
            }
        }
        if problems.is_empty() {
            run.passed += 1;
        }
        run.problems.extend(problems);
    }
    Ok(run)
}

/// The clipboard after clicking Copy must hold `want`.
fn check_copy(label: &str, want: &str, copied: &Value, when: &str, problems: &mut Vec<String>) {
    match copied.as_str() {
        Some(c) if c == want => {}
        Some(c) => problems.push(format!(
            "{label}: Copy{when} put {} lines on the clipboard, not the whole program ({} lines, \
             hidden lines included); first line copied: {:?}",
            c.lines().count(),
            want.lines().count(),
            c.lines().next().unwrap_or("")
        )),
        None => problems.push(format!("{label}: no Copy button")),
    }
}

/// Evaluates an expression (awaiting a promise) as a user gesture; its value or an error.
fn eval(chrome: &mut Chrome, session: &str, expression: String) -> crate::util::Result<Value> {
    let r = chrome.call(
        Some(session),
        "Runtime.evaluate",
        json!({"expression": expression, "awaitPromise": true, "returnByValue": true,
               "userGesture": true}),
        Duration::from_secs(30),
    )?;
    if let Some(ex) = r.get("exceptionDetails") {
        let msg = ex["exception"]["description"]
            .as_str()
            .or(ex["text"].as_str())
            .unwrap_or("exception");
        return Err(format!("a runnable-listing script failed: {msg}").into());
    }
    Ok(r["result"]["value"].clone())
}
