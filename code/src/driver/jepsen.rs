//! A Jepsen-style test of the real cluster: OS processes, SIGKILL, partitions, then a check.
//!
//! Kyle Kingsbury's Jepsen (<https://jepsen.io>) tests a database as its users meet it: real
//! servers, clients that record what they saw, a *nemesis* that breaks things while they work,
//! and at the end a checker that asks whether the history could have come from a single copy.
//! This module does the same to chapter 10's Raft, on one machine and without root:
//!
//! - **Processes.** Each server is its own OS process (the `raft-node` binary, or any program
//!   given as [`NodeCommand`]) with its own data directory, where it keeps its write-ahead file
//!   ([`super::process`]). It binds 127.0.0.1 port 0 and writes the address it got to
//!   `<data>/addr`; the harness waits for that file. A kill is `SIGKILL` (`Child::kill`): no
//!   destructor, no flush, exactly a power cut for everything not yet `fsync`ed. A restart runs
//!   the same command on the same directory.
//! - **Network.** Servers reach each other only through one fault-injecting proxy per directed
//!   link, and clients reach servers through one proxy each ([`super::proxy::Network`]), so the
//!   nemesis can cut or stall any direction of any link, and a restarted server's new port is a
//!   retarget away.
//! - **Nemesis.** [`schedule`] draws the faults from one seed, up front: kills, restarts,
//!   partitions that cut a minority off (dropping or stalling), and one-way partitions where no
//!   server can reach one node (which can still reach them). The seed fixes *what* happens and
//!   *when*; the operating system's scheduling still varies from run to run, so a replay repeats
//!   the faults, not the exact interleaving.
//! - **Clients and check.** Several [`WorkloadClient`]s read, put and append on a few keys
//!   throughout. At the end the nemesis heals everything, restarts every killed server, and one
//!   client reads every key until the cluster answers. The whole history then goes to the
//!   linearizability checker with [`KvModel`]; reads whose outcome is unknown constrain nothing
//!   and are left out.
//!
//! Cleanup: [`ProcessCluster`]'s `Drop` kills every child it started and reaps it, even when a
//! test fails, and the data directories are temporary.

use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

use super::proxy::{Mode, Network};
use super::workload::{History, WorkloadClient, WorkloadOptions};
use crate::coordination::linearizability::{self, CheckResult, KvModel};
use crate::coordination::raft::history::KvInput;
use crate::sim::{NodeId, rng_stream};

/// How to start one server process: a program and the arguments before the node's own flags.
#[derive(Clone, Debug)]
pub struct NodeCommand {
    /// The program, e.g. the `raft-node` binary.
    pub program: PathBuf,
    /// Arguments before `--id ...`, e.g. a subcommand.
    pub prefix: Vec<String>,
}

// ANCHOR: fault
/// One action of the nemesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `SIGKILL` server `n`.
    Kill(usize),
    /// Start killed server `n` again from its data directory.
    Restart(usize),
    /// Cut these servers off from the others, both ways, closing connections.
    Partition(Vec<usize>),
    /// Cut them off by stalling: connections stay open, nothing flows.
    Stall(Vec<usize>),
    /// No other server can reach server `n`; it can still reach them.
    OneWay(usize),
    /// Every link passes again.
    Heal,
}
// ANCHOR_END: fault

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = |ns: &[usize]| ns.iter().map(|n| format!("n{n}")).collect::<Vec<_>>();
        match self {
            Fault::Kill(n) => write!(f, "kill -9 n{n}"),
            Fault::Restart(n) => write!(f, "restart n{n}"),
            Fault::Partition(ns) => write!(f, "partition {{{}}} | rest", nodes(ns).join(",")),
            Fault::Stall(ns) => write!(f, "stall {{{}}} | rest", nodes(ns).join(",")),
            Fault::OneWay(n) => write!(f, "one-way: nobody reaches n{n}"),
            Fault::Heal => write!(f, "heal"),
        }
    }
}

// ANCHOR: schedule
/// The nemesis's plan for `duration`, drawn from `seed`: a fault every `every` (give or take
/// half), at most a minority of `servers` killed at once, and every network fault healed before
/// the next one, so that the cluster alternates between trouble and a chance to recover.
pub fn schedule(
    seed: u64,
    servers: usize,
    duration: Duration,
    every: Duration,
) -> Vec<(Duration, Fault)> {
    let mut rng = rng_stream(seed, 0x6e656d65);
    let mut plan = Vec::new();
    let mut down: Vec<usize> = Vec::new();
    let mut cut = false;
    let every_ms = every.as_millis().max(2) as u64;
    let mut at = Duration::ZERO;
    loop {
        at += Duration::from_millis(rng.random_range(every_ms / 2..=every_ms * 3 / 2));
        if at >= duration {
            return plan;
        }
        let minority = (servers - 1) / 2;
        let fault = if cut {
            cut = false;
            Fault::Heal
        } else if !down.is_empty() && (down.len() >= minority || rng.random_bool(0.5)) {
            Fault::Restart(down.remove(rng.random_range(0..down.len())))
        } else {
            let up: Vec<usize> = (0..servers).filter(|n| !down.contains(n)).collect();
            let some = up[rng.random_range(0..up.len())];
            match rng.random_range(0..4) {
                0 if minority > down.len() => {
                    down.push(some);
                    Fault::Kill(some)
                }
                1 => {
                    cut = true;
                    Fault::OneWay(some)
                }
                k => {
                    cut = true;
                    let mut side: Vec<usize> = vec![some];
                    while side.len() < rng.random_range(1..=minority.max(1)) {
                        let other = rng.random_range(0..servers);
                        if !side.contains(&other) {
                            side.push(other);
                        }
                    }
                    side.sort();
                    if k == 2 {
                        Fault::Partition(side)
                    } else {
                        Fault::Stall(side)
                    }
                }
            }
        };
        plan.push((at, fault));
    }
}
// ANCHOR_END: schedule

// ANCHOR: process_cluster
/// Server processes behind their proxies. Dropping it kills and reaps every child.
pub struct ProcessCluster {
    command: NodeCommand,
    network: Network,
    /// Where servers deliver clients' answers: node `servers + k` is client `k`.
    client_addrs: Vec<SocketAddr>,
    /// One data directory per server.
    dirs: Vec<PathBuf>,
    /// The running children; `None` while killed.
    children: Vec<Option<Child>>,
    /// Extra flags for every server (e.g. timeouts).
    extra: Vec<String>,
    /// Owns the data directories; removed after the children are gone (field order).
    _root: tempfile::TempDir,
}
// ANCHOR_END: process_cluster

/// How long a server process may take to start and report its address.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl ProcessCluster {
    /// Starts `servers` processes, each told the proxies for its peers and `client_addrs`.
    pub async fn start(
        command: NodeCommand,
        servers: usize,
        client_addrs: Vec<SocketAddr>,
        extra: Vec<String>,
    ) -> Result<ProcessCluster, String> {
        let network = Network::start(servers)
            .await
            .map_err(|e| format!("cannot bind the proxies on 127.0.0.1: {e}"))?;
        let root = tempfile::Builder::new()
            .prefix("uds-jepsen-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let dirs: Vec<PathBuf> = (0..servers)
            .map(|i| root.path().join(format!("n{i}")))
            .collect();
        let mut cluster = ProcessCluster {
            command,
            network,
            client_addrs,
            dirs,
            children: (0..servers).map(|_| None).collect(),
            extra,
            _root: root,
        };
        for i in 0..servers {
            cluster.spawn(i).await?;
        }
        Ok(cluster)
    }

    /// How many servers.
    pub fn servers(&self) -> usize {
        self.dirs.len()
    }

    /// The proxies.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// Where clients reach each server.
    pub fn client_proxies(&self) -> Vec<SocketAddr> {
        (0..self.servers())
            .map(|i| self.network.client_addr(i))
            .collect()
    }

    /// Server `n`'s data directory.
    pub fn data_dir(&self, n: usize) -> &Path {
        &self.dirs[n]
    }

    /// Whether server `n` runs.
    pub fn is_up(&self, n: usize) -> bool {
        self.children[n].is_some()
    }

    /// The command line that starts server `n`, as a shell would read it.
    pub fn command_line(&self, n: usize) -> String {
        let mut words = vec![self.command.program.display().to_string()];
        words.extend(self.args(n));
        words.join(" ")
    }

    fn args(&self, n: usize) -> Vec<String> {
        let join = |addrs: &[SocketAddr]| {
            addrs
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut args = self.command.prefix.clone();
        args.extend([
            "--id".to_string(),
            n.to_string(),
            "--peers".to_string(),
            join(&self.network.peer_addrs(n)),
            "--clients".to_string(),
            join(&self.client_addrs),
            "--data".to_string(),
            self.dirs[n].display().to_string(),
        ]);
        args.extend(self.extra.iter().cloned());
        args
    }

    // ANCHOR: spawn
    /// Starts server `n` on its data directory and waits until it reports its address.
    async fn spawn(&mut self, n: usize) -> Result<(), String> {
        let dir = &self.dirs[n];
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let addr_file = dir.join("addr");
        let _ = fs::remove_file(&addr_file);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let fail = |why: String| format!("{why}\n  started with: {}", self.command_line(n));
        let mut child = Command::new(&self.command.program)
            .args(self.args(n))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| fail(format!("cannot start server n{n}: {e}")))?;
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            if let Some(addr) = fs::read_to_string(&addr_file)
                .ok()
                .and_then(|text| text.trim().parse::<SocketAddr>().ok())
            {
                break addr;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                let log = fs::read_to_string(dir.join("node.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                let why = match exited {
                    Some(status) => format!("server n{n} exited ({status})"),
                    None => format!("server n{n} did not report its address in time"),
                };
                let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n    ");
                return Err(fail(format!("{why}; its log ends:\n    {tail}")));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        self.network.retarget(n, addr);
        self.children[n] = Some(child);
        Ok(())
    }
    // ANCHOR_END: spawn

    /// `SIGKILL`s server `n` and reaps it; an error if it is not running.
    pub fn kill(&mut self, n: usize) -> Result<(), String> {
        let mut child = self.children[n]
            .take()
            .ok_or(format!("n{n} is not running"))?;
        child.kill().map_err(|e| format!("kill -9 n{n}: {e}"))?;
        child.wait().map_err(|e| format!("reaping n{n}: {e}"))?;
        Ok(())
    }

    /// Starts killed server `n` again on its data directory.
    pub async fn restart(&mut self, n: usize) -> Result<(), String> {
        if self.is_up(n) {
            return Err(format!("n{n} is running"));
        }
        self.spawn(n).await
    }

    /// Server `n`'s log file (its standard output and error, every incarnation).
    pub fn log(&self, n: usize) -> String {
        fs::read_to_string(self.dirs[n].join("node.log")).unwrap_or_default()
    }

    /// Carries out one fault of the nemesis.
    pub async fn apply(&mut self, fault: &Fault) -> Result<(), String> {
        match fault {
            Fault::Kill(n) => return self.kill(*n),
            Fault::Restart(n) => return self.restart(*n).await,
            Fault::Partition(side) => self.network.partition(side, Mode::Drop),
            Fault::Stall(side) => self.network.partition(side, Mode::Stall),
            Fault::OneWay(to) => {
                for from in 0..self.servers() {
                    self.network.set_link(from, *to, Mode::Drop);
                }
            }
            Fault::Heal => self.network.heal(),
        }
        Ok(())
    }

    /// Heals the network and restarts every killed server.
    pub async fn recover(&mut self) -> Result<(), String> {
        self.network.heal();
        for n in 0..self.servers() {
            if !self.is_up(n) {
                self.restart(n).await?;
            }
        }
        Ok(())
    }
}

impl Drop for ProcessCluster {
    /// Kills and reaps every child, so that a failed test leaves no process behind.
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The shape of one test run.
#[derive(Clone, Debug)]
pub struct JepsenOptions {
    /// How to start a server.
    pub node: NodeCommand,
    /// Servers (processes).
    pub servers: usize,
    /// Concurrent client sessions.
    pub clients: usize,
    /// The seed of the nemesis's schedule and of the clients' choices.
    pub seed: u64,
    /// How long the nemesis works while the clients run.
    pub duration: Duration,
    /// About how often the nemesis acts.
    pub every: Duration,
    /// The clients' knobs.
    pub workload: WorkloadOptions,
    /// How long the final reads may take once everything is healed.
    pub recovery: Duration,
    /// Extra flags for every server.
    pub node_flags: Vec<String>,
}

/// What one run did and what the checker said.
#[derive(Debug)]
pub struct JepsenReport {
    /// The seed of the schedule.
    pub seed: u64,
    /// The faults, with when they were applied (since the clients started).
    pub faults: Vec<(Duration, Fault)>,
    /// Every operation, final reads included.
    pub history: History,
    /// Operations whose outcome is unknown (the client gave up).
    pub unknown: usize,
    /// Reads with unknown outcome, left out of the check.
    pub unknown_reads: usize,
    /// From the heal to the first successful final read.
    pub recovered_in: Duration,
    /// The checker's verdict on the history (unknown reads left out).
    pub verdict: CheckResult,
    /// How long the check took.
    pub check_time: Duration,
}

impl JepsenReport {
    /// Operations by kind and outcome, one line.
    pub fn summary(&self) -> String {
        let reads = self
            .history
            .iter()
            .filter(|o| matches!(o.input, KvInput::Get { .. }))
            .count();
        format!(
            "{} operations ({} reads, {} writes), {} with unknown outcome ({} of them reads), \
             {} faults",
            self.history.len(),
            reads,
            self.history.len() - reads,
            self.unknown,
            self.unknown_reads,
            self.faults.len()
        )
    }
}

// ANCHOR: run
/// Runs the test: start the servers, run the clients under the nemesis, heal, read every key
/// until the cluster answers, check the history.
pub async fn run(options: &JepsenOptions) -> Result<JepsenReport, String> {
    let (servers, seed) = (options.servers, options.seed);
    let mut listening = Vec::new();
    for k in 0..options.clients {
        let rng = rng_stream(seed, 1 + k as u64);
        let client = WorkloadClient::bind(NodeId(servers + k), rng, options.workload.clone())
            .await
            .map_err(|e| format!("cannot bind a client on 127.0.0.1: {e}"))?;
        listening.push(client);
    }
    let client_addrs = listening.iter().map(|c| c.listener_addr()).collect();
    let mut cluster = ProcessCluster::start(
        options.node.clone(),
        servers,
        client_addrs,
        options.node_flags.clone(),
    )
    .await?;
    let proxies = cluster.client_proxies();
    let clients = listening.into_iter().map(|c| c.connect(proxies.clone()));

    let clock = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = clients
        .map(|c| tokio::spawn(c.run(clock, stop.clone())))
        .collect();
    let mut faults = Vec::new();
    for (at, fault) in schedule(seed, servers, options.duration, options.every) {
        tokio::time::sleep_until(clock + at).await;
        cluster.apply(&fault).await?;
        faults.push((clock.elapsed(), fault));
    }
    tokio::time::sleep_until(clock + options.duration).await;
    let healed = clock.elapsed();
    cluster.recover().await?;
    faults.push((healed, Fault::Heal));
    stop.store(true, Ordering::Relaxed);
    let mut history = History::new();
    let mut last = None;
    for task in tasks {
        let (client, ops) = task.await.map_err(|e| format!("a client failed: {e}"))?;
        history.extend(ops);
        last = Some(client);
    }
    let mut last = last.ok_or("the test needs a client")?;
    // The cluster must answer again: read every key until it does.
    let mut recovered_in = None;
    for key in 0..options.workload.keys.max(1) {
        loop {
            let op = last
                .invoke(
                    clock,
                    KvInput::Get {
                        key: format!("k{key}"),
                    },
                )
                .await;
            let answered = op.output.is_some();
            history.push(op);
            if answered {
                recovered_in.get_or_insert(clock.elapsed() - healed);
                break;
            }
            if clock.elapsed() - healed > options.recovery {
                return Err(format!(
                    "the cluster did not answer within {:?} after healing; faults: {faults:?}",
                    options.recovery
                ));
            }
        }
    }
    drop(cluster);
    let unknown = history.iter().filter(|o| o.output.is_none()).count();
    let checked: History = history
        .iter()
        .filter(|o| o.output.is_some() || o.input.is_write())
        .cloned()
        .collect();
    let started = std::time::Instant::now();
    let verdict = linearizability::check(&KvModel, &checked);
    Ok(JepsenReport {
        seed,
        faults,
        unknown,
        unknown_reads: history.len() - checked.len(),
        recovered_in: recovered_in.unwrap_or_default(),
        history,
        verdict,
        check_time: started.elapsed(),
    })
}
// ANCHOR_END: run
