//! Headless Chromium driven over the Chrome DevTools Protocol (a blocking WebSocket).
//!
//! Chromium is started with a fresh profile and `--remote-debugging-port=0`; it writes the
//! port it picked to `DevToolsActivePort` in the profile. We connect to the browser endpoint
//! and talk to pages through flattened sessions (`Target.attachToTarget` with
//! `flatten: true`), so one socket carries everything. Events that arrive while waiting for a
//! command's reply are queued for the caller. Dropping [`Chrome`] closes the browser and kills
//! the process if it does not exit, on success and on failure alike.

use crate::util::{Result, TempDir};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::fs::File;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    // Docker gives /dev/shm 64 MB; Chromium then crashes on big pages without this.
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
];

pub struct Chrome {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    events: VecDeque<Value>,
    profile: TempDir,
}

/// Chromium (`/usr/bin/chromium`, else `chromium` or `chromium-browser` on PATH), installing
/// Debian's package when running as root with apt-get.
pub fn chromium() -> Result<PathBuf> {
    crate::util::debian_program(
        &["chromium", "chromium-browser"],
        "chromium",
        "check-browser",
    )
}

impl Chrome {
    pub fn launch() -> Result<Chrome> {
        let bin = chromium()?;
        let profile = TempDir::new("uds-chromium")?;
        let log = File::create(profile.path().join("chromium.log"))?;
        let child = Command::new(&bin)
            .args(FLAGS)
            .arg(format!(
                "--user-data-dir={}",
                profile.path().join("profile").display()
            ))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        // From here on, `guard` kills Chromium if anything fails.
        let mut guard = Launching {
            child: Some(child),
            profile: Some(profile),
        };
        let port_file = guard.profile().join("profile/DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(30);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.to_string(), path.to_string());
                }
            }
            if let Some(status) = guard
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(
                    format!("Chromium exited at start ({status}):\n{}", guard.log_tail()).into(),
                );
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "Chromium wrote no DevToolsActivePort in 30 s:\n{}",
                    guard.log_tail()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}"))?;
        let url = format!("ws://127.0.0.1:{port}{path}");
        let (ws, _) = tungstenite::client(url.as_str(), stream.try_clone()?)
            .map_err(|e| format!("DevTools WebSocket handshake with {url} failed: {e}"))?;
        stream.set_read_timeout(Some(Duration::from_millis(100)))?;
        let (child, profile) = guard.take()?;
        Ok(Chrome {
            child,
            ws,
            next_id: 0,
            events: VecDeque::new(),
            profile,
        })
    }

    /// Sends a command (to a page session if given) and waits up to `timeout` for its result.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string()))?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self.read_one()? {
                if v["id"].as_u64() == Some(id) {
                    if let Some(err) = v.get("error") {
                        return Err(format!("{method} failed: {err}").into());
                    }
                    return Ok(v["result"].clone());
                }
                if v.get("method").is_some() {
                    self.events.push_back(v);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{method}: no reply from Chromium in {} s",
                    timeout.as_secs()
                )
                .into());
            }
        }
    }

    /// Waits up to `timeout` for event `method` (on `session`); earlier queued events stay queued.
    pub fn wait_event(
        &mut self,
        session: &str,
        method: &str,
        timeout: Duration,
    ) -> Result<Option<Value>> {
        let matches = |v: &Value| v["method"] == method && v["sessionId"] == session;
        if let Some(pos) = self.events.iter().position(matches) {
            return Ok(self.events.remove(pos));
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(v) = self.read_one()? {
                if matches(&v) {
                    return Ok(Some(v));
                }
                if v.get("method").is_some() {
                    self.events.push_back(v);
                }
            }
        }
        Ok(None)
    }

    /// Reads messages for `period`, then returns (and forgets) every queued event.
    pub fn drain_events(&mut self, period: Duration) -> Result<Vec<Value>> {
        let deadline = Instant::now() + period;
        while Instant::now() < deadline {
            if let Some(v) = self.read_one()?
                && v.get("method").is_some()
            {
                self.events.push_back(v);
            }
        }
        Ok(self.events.drain(..).collect())
    }

    /// One message, or `None` after the socket's 100 ms read timeout.
    fn read_one(&mut self) -> Result<Option<Value>> {
        match self.ws.read() {
            Ok(Message::Text(t)) => Ok(Some(serde_json::from_str(t.as_str())?)),
            Ok(_) => Ok(None),
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(format!(
                "DevTools connection lost: {e}\n{}",
                log_tail(self.profile.path())
            )
            .into()),
        }
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.ws.send(Message::text(
            json!({"id": 0, "method": "Browser.close"}).to_string(),
        ));
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills Chromium if launching fails half-way.
struct Launching {
    child: Option<Child>,
    profile: Option<TempDir>,
}

impl Launching {
    fn profile(&self) -> &Path {
        self.profile
            .as_ref()
            .map_or(Path::new("/nonexistent"), |p| p.path())
    }

    fn log_tail(&self) -> String {
        log_tail(self.profile())
    }

    fn take(&mut self) -> Result<(Child, TempDir)> {
        match (self.child.take(), self.profile.take()) {
            (Some(c), Some(p)) => Ok((c, p)),
            _ => Err("internal error: Chromium launch state taken twice".into()),
        }
    }
}

impl Drop for Launching {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn log_tail(profile: &Path) -> String {
    let log = std::fs::read_to_string(profile.join("chromium.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
