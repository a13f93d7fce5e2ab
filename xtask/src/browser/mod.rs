//! `check-browser`: every page of the built book works in a real browser.
//!
//! Some failures only show in a browser: a Mermaid syntax error renders as an error diagram,
//! a figure path typo is a broken image, a link to a renamed heading goes nowhere, a script
//! throws. This serves the built site on 127.0.0.1, opens every `.html` page (print.html and
//! 404.html included) in headless Chromium and, per page:
//! - collects console errors and assertions, uncaught exceptions and browser log errors
//!   (which include failed resource loads);
//! - waits up to 15 s for every `pre.mermaid` block to hold an `<svg>`, and fails on blocks
//!   that did not render or rendered Mermaid's syntax-error diagram;
//! - checks every `<img>` loaded (complete, non-zero natural width);
//! - fails on a table, listing or figure wider than the text column ([`widths`]; the window is
//!   a desktop's [`widths::VIEWPORT`]);
//! - on each runnable listing, clicks Copy and compiles the clipboard, types a line into it,
//!   clicks Run and checks what it sends ([`runnable`]);
//! - records its element ids and its same-origin links.
//!
//! Then every internal link must point to an existing file, and its `#fragment` (if any) to an
//! id on that page.
//!
//! Before the book, the sideways-scroll judgement runs on a planted page
//! ([`widths::FIXTURE`]), so a check that has gone blind fails instead of passing.
//!
//! The check runs offline: on pages with a Run button, mdBook's `book.js` asks
//! play.rust-lang.org for its crate list. That request is answered in the page with an empty
//! list (an injected `fetch` stub), so a missing network is not reported as a book error. The
//! stub records what the Run button sends to play.rust-lang.org and answers with a fixed text.

mod runnable;
mod widths;

use crate::cdp::Chrome;
use crate::html::html_pages;
use crate::serve_static;
use crate::tools;
use crate::util::{self, Result};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FETCH_STUB: &str = r#"(() => {
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = String((input && input.url) || input);
    if (url.startsWith('https://play.rust-lang.org/evaluate.json')) {
      (window.__udsRunRequests = window.__udsRunRequests || []).push(JSON.parse(init.body));
      const body = JSON.stringify({ result: 'check-browser: not sent to the playground' });
      return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));
    }
    if (url.startsWith('https://play.rust-lang.org/')) {
      const body = JSON.stringify({ crates: [] });
      return Promise.resolve(new Response(body, { status: 200, headers: { 'Content-Type': 'application/json' } }));
    }
    return realFetch(input, init);
  };
})();"#;

const INSPECT: &str = r#"(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 15000;
  const blocks = () => Array.from(document.querySelectorAll('pre.mermaid'));
  // Mermaid replaces each block's text with its SVG: read the sources from the served HTML.
  let sources = [];
  try {
    const raw = await (await fetch(location.href)).text();
    const doc = new DOMParser().parseFromString(raw, 'text/html');
    sources = Array.from(doc.querySelectorAll('pre.mermaid')).map((b) => b.textContent);
  } catch (e) {}
  while (Date.now() < deadline && !blocks().every((b) => b.querySelector('svg'))) await sleep(100);
  const imgs = Array.from(document.images);
  for (const i of imgs) if (i.loading === 'lazy') i.loading = 'eager'; // headless never scrolls
  while (Date.now() < deadline && !imgs.every((i) => i.complete)) await sleep(100);
  const mermaid = blocks().map((b, i) => {
    const svg = b.querySelector('svg');
    const src = (sources[i] || '').replace(/\s+/g, ' ').trim().slice(0, 80);
    if (!svg) return { ok: false, why: `Mermaid block ${i + 1} ("${src}") did not render an <svg> within 15 s` };
    const text = Array.from(svg.querySelectorAll('text')).map((t) => t.textContent).join(' ');
    if (svg.getAttribute('aria-roledescription') === 'error' || /Syntax error in text/i.test(text)) {
      return { ok: false, why: `Mermaid block ${i + 1} ("${src}") rendered Mermaid's error diagram: ${text.replace(/\s+/g, ' ').trim().slice(0, 80)}` };
    }
    return { ok: true };
  });
  const images = imgs.map((i) => ({ src: i.getAttribute('src') || '', ok: i.complete && i.naturalWidth > 0 }));
  const links = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const raw = a.getAttribute('href');
    if (!raw || raw.startsWith('javascript:') || raw.startsWith('mailto:')) continue;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) continue;
    let frag = url.hash.slice(1);
    try { frag = decodeURIComponent(frag); } catch (e) {}
    links.push({ href: raw, path: url.pathname, frag });
  }
  const ids = Array.from(document.querySelectorAll('[id]')).map((e) => e.id)
    .concat(Array.from(document.querySelectorAll('a[name]')).map((e) => e.getAttribute('name')));
  const widths = (__MEASURE__)();
  return { mermaid, images, links, ids, widths };
})()"#;

struct PageResult {
    ids: BTreeSet<String>,
    links: Vec<(String, String, String)>,
}

pub fn check_browser() -> Result {
    let started = Instant::now();
    let site = tools::build()?;
    let base = serve_static::start(site.clone())?;
    let pages = html_pages(&site);
    let inspect = INSPECT.replace("__MEASURE__", widths::MEASURE);
    let mut chrome = Chrome::launch()?;
    let long = Duration::from_secs(30);
    let target = chrome.call(
        None,
        "Target.createTarget",
        json!({"url": "about:blank"}),
        long,
    )?;
    let target_id = target["targetId"]
        .as_str()
        .ok_or("Target.createTarget returned no targetId")?
        .to_string();
    let attached = chrome.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
        long,
    )?;
    let session = attached["sessionId"]
        .as_str()
        .ok_or("Target.attachToTarget returned no sessionId")?
        .to_string();
    let s = Some(session.as_str());
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
        chrome.call(s, domain, json!({}), long)?;
    }
    let (width, height) = widths::VIEWPORT;
    chrome.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        long,
    )?;
    // Copy and navigator.clipboard need a focused page and the clipboard permissions.
    chrome.call(
        s,
        "Emulation.setFocusEmulationEnabled",
        json!({"enabled": true}),
        long,
    )?;
    chrome.call(
        None,
        "Browser.grantPermissions",
        json!({"origin": base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}),
        long,
    )?;
    self_test(&mut chrome, &session)?;
    chrome.call(
        s,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": FETCH_STUB}),
        long,
    )?;

    let mut problems = Vec::new();
    let mut results: BTreeMap<PathBuf, PageResult> = BTreeMap::new();
    println!("check-browser: {} pages served at {base}", pages.len());
    println!(
        "  {:<34} {:>8} {:>7} {:>6} {:>6} {:>7} {:>8}",
        "page", "mermaid", "images", "links", "errors", "widest", "runnable"
    );
    let mut compiled = HashSet::new();
    let mut widest_overall = (0.0, String::new());
    let mut runnable_time = Duration::ZERO;
    for page in &pages {
        let rel = page
            .strip_prefix(&site)
            .unwrap_or(page)
            .display()
            .to_string();
        let url = format!("{base}/{rel}");
        chrome.drain_events(Duration::ZERO)?;
        let nav = chrome.call(s, "Page.navigate", json!({"url": url}), long)?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str) {
            problems.push(format!("{rel}: navigation failed: {err}"));
            continue;
        }
        if chrome
            .wait_event(&session, "Page.loadEventFired", long)?
            .is_none()
        {
            problems.push(format!("{rel}: the page did not finish loading in 30 s"));
        }
        let eval = chrome.call(
            s,
            "Runtime.evaluate",
            json!({"expression": inspect, "awaitPromise": true, "returnByValue": true}),
            long,
        )?;
        if let Some(ex) = eval.get("exceptionDetails") {
            problems.push(format!("{rel}: the inspection script failed: {ex}"));
            continue;
        }
        let v = &eval["result"]["value"];
        let events = chrome.drain_events(Duration::from_millis(150))?;
        let errors: Vec<String> = events
            .iter()
            .filter(|e| e["sessionId"] == session.as_str())
            .filter_map(error_text)
            .collect();
        let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
        let (mermaid, images, links) = (arr("mermaid"), arr("images"), arr("links"));
        let rendered = mermaid.iter().filter(|m| m["ok"] == true).count();
        let loaded = images.iter().filter(|m| m["ok"] == true).count();
        let (column, measured) = widths::parse(&v["widths"])
            .ok_or_else(|| format!("{rel}: the width measurement found no <main> text column"))?;
        let widest = widths::widest(&measured);
        if widest > widest_overall.0 {
            widest_overall = (widest, rel.clone());
        }
        for w in widths::too_wide(column, &measured) {
            problems.push(format!("{rel}: {w}"));
        }
        let run_started = Instant::now();
        let run = runnable::check_page(&mut chrome, &session, &rel, &mut compiled)?;
        runnable_time += run_started.elapsed();
        problems.extend(run.problems);
        println!(
            "  {rel:<34} {:>8} {:>7} {:>6} {:>6} {:>7} {:>8}",
            format!("{rendered}/{}", mermaid.len()),
            format!("{loaded}/{}", images.len()),
            links.len(),
            errors.len(),
            format!("{widest:.0}/{:.0}", column.width),
            format!("{}/{}", run.passed, run.blocks)
        );
        for m in mermaid.iter().filter(|m| m["ok"] != true) {
            problems.push(format!(
                "{rel}: {}",
                m["why"].as_str().unwrap_or("Mermaid block failed")
            ));
        }
        for i in images.iter().filter(|m| m["ok"] != true) {
            problems.push(format!(
                "{rel}: image `{}` did not load",
                i["src"].as_str().unwrap_or("?")
            ));
        }
        for e in errors {
            problems.push(format!("{rel}: console: {e}"));
        }
        let str_of = |x: &Value, k: &str| x[k].as_str().unwrap_or("").to_string();
        results.insert(
            page.clone(),
            PageResult {
                ids: arr("ids")
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                links: links
                    .iter()
                    .map(|l| (str_of(l, "href"), str_of(l, "path"), str_of(l, "frag")))
                    .collect(),
            },
        );
    }
    drop(chrome);
    problems.extend(check_links(&site, &results));
    println!(
        "check-browser: widest table, listing or figure: {:.0} px ({}); {} runnable program(s) \
         copied and compiled; {:.1} s, of which {:.1} s on runnable listings",
        widest_overall.0,
        widest_overall.1,
        compiled.len(),
        started.elapsed().as_secs_f64(),
        runnable_time.as_secs_f64()
    );
    util::report("check-browser", &problems, "problem(s)")
}

/// The sideways-scroll judgement on the planted page [`widths::FIXTURE`]: its four wide elements
/// and only those are reported, or the check fails before looking at the book.
fn self_test(chrome: &mut Chrome, session: &str) -> Result {
    let dir = util::TempDir::new("uds-browser-fixture")?;
    std::fs::write(dir.path().join("index.html"), widths::FIXTURE)?;
    let base = serve_static::start(dir.path().to_path_buf())?;
    let long = Duration::from_secs(30);
    let s = Some(session);
    chrome.call(s, "Page.navigate", json!({"url": format!("{base}/")}), long)?;
    if chrome
        .wait_event(session, "Page.loadEventFired", long)?
        .is_none()
    {
        return Err("check-browser: the planted page did not load in 30 s".into());
    }
    let eval = chrome.call(
        s,
        "Runtime.evaluate",
        json!({"expression": format!("({})()", widths::MEASURE), "returnByValue": true}),
        long,
    )?;
    let (column, measured) = widths::parse(&eval["result"]["value"])
        .ok_or("check-browser: the width measurement failed on the planted page")?;
    widths::judge_fixture(column, &measured)?;
    chrome.drain_events(Duration::ZERO)?;
    println!(
        "check-browser: the planted page's {} over-wide elements (of {}) are reported",
        widths::too_wide(column, &measured).len(),
        measured.len()
    );
    Ok(())
}

/// Every internal link's file exists, and its fragment is an id on the target page.
fn check_links(site: &Path, results: &BTreeMap<PathBuf, PageResult>) -> Vec<String> {
    let mut problems = Vec::new();
    for (page, r) in results {
        let rel = page.strip_prefix(site).unwrap_or(page).display();
        let mut reported = BTreeSet::new();
        for (href, path, frag) in &r.links {
            let Some(target) = serve_static::resolve(site, path) else {
                if reported.insert(href.clone()) {
                    problems.push(format!(
                        "{rel}: broken link `{href}`: no file {path} in the built book"
                    ));
                }
                continue;
            };
            if frag.is_empty() {
                continue;
            }
            // A bare `#id` link means "on this page" to its author. (404.html has
            // `<base href="/">`, so the browser resolves its heading links against index.html.)
            let target = if href.starts_with('#') {
                page.clone()
            } else {
                target
            };
            if let Some(t) = results.get(&target)
                && !t.ids.contains(frag)
                && reported.insert(href.clone())
            {
                problems.push(format!(
                    "{rel}: broken link `{href}`: no id `{frag}` on {}",
                    util::rel(&target).trim_start_matches("book/")
                ));
            }
        }
    }
    problems
}

/// The message of an error-level console call, exception or log entry; `None` for other events.
fn error_text(e: &Value) -> Option<String> {
    let p = &e["params"];
    match e["method"].as_str()? {
        "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
            let args: Vec<String> = p["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            x["value"]
                                .as_str()
                                .map(String::from)
                                .or_else(|| x["description"].as_str().map(String::from))
                                .unwrap_or_else(|| x["value"].to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            Some(format!(
                "console.{}: {}",
                p["type"].as_str().unwrap_or("error"),
                args.join(" ")
            ))
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let msg = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or("exception");
            Some(format!(
                "uncaught {}",
                msg.lines().take(3).collect::<Vec<_>>().join(" | ")
            ))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let entry = &p["entry"];
            // Browsers ask for /favicon.ico on their own when a page (toc.html) names no icon;
            // that is not a resource the book refers to.
            if entry["url"]
                .as_str()
                .is_some_and(|u| u.ends_with("/favicon.ico"))
            {
                return None;
            }
            let url = entry["url"]
                .as_str()
                .map(|u| format!(" ({u})"))
                .unwrap_or_default();
            Some(format!(
                "{}{url}",
                entry["text"].as_str().unwrap_or("error")
            ))
        }
        _ => None,
    }
}
