//! A throw-away PostgreSQL server for tests and experiments.
//!
//! [`PostgresServer::start`] creates a cluster in a fresh temporary directory with Debian's
//! server binaries (found through `pg_config --bindir`, since Debian keeps them off `PATH`),
//! starts it listening only on a Unix socket inside that directory (no TCP at all:
//! `listen_addresses=''`), and waits, for a bounded time, until it accepts connections.
//! Dropping the guard stops the server (`pg_ctl stop -m fast`) and deletes the directory, also
//! when a test panics, since `Drop` runs while unwinding. A process killed outright (SIGKILL, a
//! harness timeout) runs no `Drop`, and a postmaster whose parent dies keeps running; so a small
//! watchdog (`sh`) waits on a pipe that only this process holds open, and when the pipe closes
//! without the guard having dismissed it, it stops the server (SIGINT, a fast shutdown) and
//! deletes the directory.
//!
//! PostgreSQL refuses to run as root. When we are root (as in CI containers), the directory is
//! given to the `postgres` user that Debian's package creates, and `initdb` and `postgres` run
//! as that user (`CommandExt::uid`/`gid`, no `unsafe`). Durability is switched off
//! (`fsync=off`, `--no-sync`): the cluster lives for seconds and is never recovered.
//!
//! Every failure says what was run and how to get the binaries (`apt-get install postgresql`).

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the server may take to accept its first connection.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The port number; with Unix sockets only, it just names the socket file `.s.PGSQL.5432`.
const PORT: u16 = 5432;
const INSTALL_HINT: &str = "install the server with `apt-get install postgresql`";

/// A running throw-away server. Dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct PostgresServer {
    /// Holds the cluster (`data/`), the socket and the server's log; deleted on drop.
    dir: tempfile::TempDir,
    bindir: PathBuf,
    /// The user the server runs as, when we are root.
    run_as: Option<(u32, u32)>,
    child: Option<Child>,
    /// Stops the server and deletes `dir` if this process dies without dropping the guard.
    watchdog: Option<Child>,
}

impl PostgresServer {
    /// Creates and starts a cluster; the error names the failing command.
    pub fn start() -> Result<PostgresServer, String> {
        let bindir = bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("uds-pg-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let run_as = if running_as_root() {
            let (uid, gid) = postgres_user()?;
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| format!("chown {} to postgres: {e}", dir.path().display()))?;
            Some((uid, gid))
        } else {
            None
        };
        let watchdog = spawn_watchdog(dir.path());
        let mut server = PostgresServer {
            dir,
            bindir,
            run_as,
            child: None,
            watchdog,
        };
        server.initdb()?;
        server.launch()?;
        server.wait_until_ready()?;
        Ok(server)
    }

    /// The directory that holds the socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Connection settings for database `postgres` as user `postgres` over the socket.
    pub fn config(&self) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host_path(self.socket_dir())
            .port(PORT)
            .user("postgres")
            .dbname("postgres")
            .application_name("uds");
        config
    }

    /// A new client connection.
    pub fn connect(&self) -> Result<postgres::Client, String> {
        self.config()
            .connect(postgres::NoTls)
            .map_err(|e| format!("cannot connect to {}: {e}", self.describe()))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn describe(&self) -> String {
        format!(
            "PostgreSQL on socket {}/.s.PGSQL.{PORT}",
            self.socket_dir().display()
        )
    }

    /// A command for one of the server binaries, run as the `postgres` user if we are root.
    fn command(&self, binary: &str) -> Command {
        let mut command = Command::new(self.bindir.join(binary));
        command.current_dir(self.dir.path()).env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn initdb(&self) -> Result<(), String> {
        let mut command = self.command("initdb");
        command.arg("-D").arg(self.data_dir()).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let output = command
            .output()
            .map_err(|e| format!("cannot run {command:?}: {e}; {INSTALL_HINT}"))?;
        if !output.status.success() {
            return Err(format!(
                "{command:?} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(())
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = File::create(self.log_path()).map_err(|e| format!("server log: {e}"))?;
        let log_err = log.try_clone().map_err(|e| format!("server log: {e}"))?;
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.socket_dir())
            .args(["-p", &PORT.to_string()])
            .args(["-c", "listen_addresses="])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=20"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {command:?}: {e}; {INSTALL_HINT}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn wait_until_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if self.config().connect(postgres::NoTls).is_ok() {
                return Ok(());
            }
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                _ => None,
            };
            if exited.is_some() || started.elapsed() > STARTUP_TIMEOUT {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                let why = exited.map_or("did not accept connections in 30 s".into(), |s| {
                    format!("exited ({s})")
                });
                return Err(format!(
                    "{} {why}; started with `{} -D {} -k {} -c listen_addresses=` (as user \
                     postgres when root); {INSTALL_HINT}. Server log:\n{log}",
                    self.describe(),
                    self.bindir.join("postgres").display(),
                    self.data_dir().display(),
                    self.socket_dir().display(),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        // Dismiss the watchdog first: from here on, this guard does its job.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        let stopped = self
            .command("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "20"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            let _ = child.kill();
        }
        let _ = child.wait();
        // `self.dir` is deleted when it drops, right after this.
    }
}

/// Starts the watchdog of the cluster in `dir`: a shell that blocks reading a pipe whose
/// writing end only this process holds (Rust opens it close-on-exec, so the servers do not
/// inherit it). If this process dies, even by SIGKILL, the kernel closes that end; the read
/// returns, and the shell sends the postmaster named in `postmaster.pid` SIGINT (a fast
/// shutdown), waits up to 10 s for it to exit, and deletes `dir`. It ignores SIGINT, SIGTERM and
/// SIGHUP, which a terminal or a harness may send to the whole process group. `None` if it
/// cannot start (the guard's `Drop` still cleans up in every case but a killed process).
fn spawn_watchdog(dir: &Path) -> Option<Child> {
    const SCRIPT: &str = r#"trap '' INT TERM HUP
read -r _
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
fi
rm -rf "$1""#;
    Command::new("sh")
        .args(["-c", SCRIPT, "uds-pg-watchdog"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// The folder of the server binaries, from `pg_config --bindir`.
pub fn bindir() -> Result<PathBuf, String> {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .map_err(|e| format!("cannot run `pg_config --bindir`: {e}; {INSTALL_HINT}"))?;
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !output.status.success() || !dir.join("initdb").exists() {
        return Err(format!(
            "`pg_config --bindir` gave {dir:?}, which has no `initdb`; {INSTALL_HINT}"
        ));
    }
    Ok(dir)
}

/// Are we root? (The owner of `/proc/self` is the effective user.)
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The `postgres` user's uid and gid, from `/etc/passwd`.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() > 3 && fields[0] == "postgres")
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| {
            format!(
                "running as root, but there is no `postgres` user to run the server; {INSTALL_HINT}"
            )
        })
}
