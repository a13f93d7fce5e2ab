//! Small helpers shared by the subcommands: the error type, the repository root, running
//! commands with an echo, fresh temporary directories and recursive file listings.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

pub type Error = Box<dyn std::error::Error>;
pub type Result<T = ()> = std::result::Result<T, Error>;

/// The workspace root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `path` relative to the repository root, for messages.
pub fn rel(path: &Path) -> String {
    let root = repo_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Shell-like rendering of a command, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        if arg.contains(' ') || arg.is_empty() {
            s.push_str(&format!(" '{arg}'"));
        } else {
            s.push(' ');
            s.push_str(&arg);
        }
    }
    s
}

/// Waits for `child` at most `limit`; on time-out kills it (with `group`, its whole process
/// group: a child spawned with `process_group(0)` and what it started) and returns `None`.
pub fn wait_limited(
    child: &mut std::process::Child,
    limit: std::time::Duration,
    group: bool,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if started.elapsed() > limit {
            if group {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
            } else {
                let _ = child.kill();
            }
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// How a check ends: `{check}: OK`, or each problem on its own line and an error that counts
/// them as `what` (e.g. "problem(s)").
pub fn report(check: &str, problems: &[String], what: &str) -> Result {
    if problems.is_empty() {
        println!("{check}: OK");
        return Ok(());
    }
    for p in problems {
        println!("  {p}");
    }
    Err(format!("{check}: {} {what}, listed above", problems.len()).into())
}

/// Runs `cmd` with inherited stdio, echoing it first; an error if it fails or exits non-zero.
pub fn run(cmd: &mut Command) -> Result {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{}`: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)).into())
    }
}

/// A new, empty directory under the system temp dir; removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create temp dir {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `dir`, recursively, sorted. A missing `dir` gives an empty list.
/// The first of `names` found as `/usr/bin/<name>` or on PATH.
pub fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::iter::once(PathBuf::from("/usr/bin"))
            .chain(std::env::split_paths(&path))
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A program from a Debian package (one of `names`), installed with apt-get when missing and
/// running as root (as CI does); otherwise an error naming the exact command to install it.
/// `why` says which check needs it.
pub fn debian_program(names: &[&str], package: &str, why: &str) -> Result<PathBuf> {
    debian_install(
        || find_program(names),
        &format!("`{}`", names[0]),
        package,
        why,
    )
}

/// The folder of PostgreSQL's server programs (`initdb`, `postgres`), which Debian keeps off
/// PATH in the folder that `pg_config --bindir` names; installs Debian's `postgresql` like
/// [`debian_program`]. Chapter 12's tests and experiment start a throw-away server from there.
pub fn postgres_bindir(why: &str) -> Result<PathBuf> {
    let found = || {
        let out = Command::new("pg_config").arg("--bindir").output().ok()?;
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let complete = dir.join("initdb").is_file() && dir.join("postgres").is_file();
        (out.status.success() && complete).then_some(dir)
    };
    debian_install(
        found,
        "PostgreSQL's server (`initdb` and `postgres` in `pg_config --bindir`)",
        "postgresql",
        why,
    )
}

/// `found()`, or else install `package` with apt-get (as root) and try again; `what` names the
/// missing thing in messages.
fn debian_install(
    found: impl Fn() -> Option<PathBuf>,
    what: &str,
    package: &str,
    why: &str,
) -> Result<PathBuf> {
    if let Some(p) = found() {
        return Ok(p);
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(is_root && has_apt) {
        return Err(format!(
            "{why} needs {what} (Debian package {package}), which is not installed; install it: \
             sudo apt-get update && sudo apt-get install -y {package}"
        )
        .into());
    }
    println!("{why}: {what} missing; installing Debian's package {package}");
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    found()
        .ok_or_else(|| format!("apt-get installed {package} but {what} is still not found").into())
}

pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(_) => out.push(path),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

/// Reads a file to a string with the path in the error message.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", rel(path)).into())
}
