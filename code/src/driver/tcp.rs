//! A tokio driver: the simulator's processes, over real TCP on loopback.
//!
//! Each node gets a TCP listener on `127.0.0.1` and one task that owns its process. The task
//! waits for the next input (a message from a connection, or its earliest timer), calls the
//! process exactly as the simulator would, and carries out the effects: a `Send` becomes a
//! length-prefixed JSON frame on a TCP connection to the peer (opened on first use), a
//! `SetTimer` a deadline. The process cannot tell the difference, which is the point of
//! writing protocols sans-I/O: the code the simulator tested is the code that runs.
//!
//! Faithful to the real world rather than to the simulator: a message to a peer that cannot be
//! reached is dropped (TCP gives no guarantee beyond the connection, see chapter 2).
//!
//! **Bytes from the network are untrusted input.** Three gates stand between a socket and a
//! handler, and none of them panics:
//! 1. The frame ([`decode_frame`]): a length above [`MAX_FRAME_BYTES`], bytes that are not a
//!    JSON envelope, a sender number outside the cluster, or a sender that changes within one
//!    connection close that connection. A body is read as it arrives (a length prefix alone
//!    allocates nothing) and must arrive within [`FRAME_TIMEOUT`]; a node accepts at most
//!    [`MAX_CONNECTIONS`] connections at once.
//! 2. The protocol ([`Hooks::validate`], optional): a check of the decoded message against the
//!    receiving process, just before its handler, for what only the protocol knows (ids inside
//!    the message, terms, indexes). A refused message is dropped, not handled.
//! 3. The handler itself runs under [`std::panic::catch_unwind`]: if a protocol bug panics
//!    anyway, that one node stops (as a crash would) and the others and every read of the
//!    cluster carry on.
//!
//! Every refusal is counted twice, as `bad_frames` and as `bad_frames.<reason>`, and logged to
//! stderr (the first few of each reason, then every power of two, so a flood cannot fill a disk).
//!
//! **Locks.** The metrics and each process live behind mutexes shared with the cluster's
//! readers (`metrics`, `inspect`, `status`). A handler holds them only while it runs, never
//! across an `await`, and a panic inside it is caught before the guards are dropped, so the
//! mutexes are never poisoned by a handler; every lock is still taken with
//! [`PoisonError::into_inner`], so that even a panic elsewhere cannot turn every later read
//! into a second panic.
//!
//! **Crash and restart.** [`Cluster::kill`] aborts a node's tasks between two awaits, which
//! leaves the process exactly as it was after its last handler: the driver reads its
//! [`Process::durable`] state from there, as the simulator does at the instant of a crash.
//! [`Cluster::restart`] rebuilds a process from that state with the [`Hooks::restart`]
//! function, binds the node's old address again and calls `on_start`. Everything volatile (the
//! process's other fields, its timers, its open connections, messages in flight to it) is lost.
//!
//! **One node per OS process.** [`Standalone`] runs a single node whose peers live elsewhere
//! (other processes, behind proxies), with the same frames, gates and event loop.
//!
//! **Looking in and poking.** [`Cluster::inspect`] reads a process (killed or not) under its
//! mutex; [`Hooks::observe`] is called after every handler with the process, to publish a
//! status or notice events as they happen; [`Cluster::inject`] runs a closure on a node *as an
//! input*, with a [`Ctx`], so its effects are carried out like any handler's: this is how an
//! interactive client hands a node its next command without the protocol knowing about stdin.
//!
//! Simplifications: the clock `ctx.now()` is time since the cluster started; a restarted node
//! draws from a fresh random stream derived from the seed, its node number and its
//! incarnation; the gates stop malformed and impossible frames, not a peer that forges
//! plausible ones, which needs authenticated connections (mutual TLS, chapter 3).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::sim::{Ctx, Effect, Metrics, NodeId, Process, SimRng, Time, TimerId, rng_stream};

/// Frames larger than this are refused: a corrupt length must not allocate gigabytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// How long the body of a frame may take to arrive once its length has.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

/// How many connections one node reads from at once; more are closed on arrival.
pub const MAX_CONNECTIONS: usize = 256;

/// What goes in one frame: the sender's name and its message.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<M> {
    from: NodeId,
    msg: M,
}

/// A closure run on a node as one input, with the node's context: see [`Cluster::inject`].
pub type Injection<P> = Box<dyn FnOnce(&mut P, &mut Ctx<'_, <P as Process>::Msg>) + Send>;

/// Called after every handler of every node, with the node and its process.
pub type Observer<P> = Arc<dyn Fn(NodeId, &P) + Send + Sync>;

/// Rebuilds a crashed node's process from its durable state.
pub type Rebuild<P> = Arc<dyn Fn(NodeId, <P as Process>::Durable) -> P + Send + Sync>;

/// Checks a message from `from` against the receiving process before its handler runs.
pub type Validator<P> =
    Arc<dyn Fn(NodeId, &<P as Process>::Msg, &P) -> Result<(), Rejected> + Send + Sync>;

/// Why a frame or message was refused: the counter to bump and a line for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// The counter, `bad_frames.<reason>`; `bad_frames` is counted too.
    pub counter: &'static str,
    /// What exactly was wrong, for the log.
    pub detail: String,
}

impl Rejected {
    /// A refusal counted as `counter`, explained by `detail`.
    pub fn new(counter: &'static str, detail: impl Into<String>) -> Rejected {
        Rejected {
            counter,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.counter, self.detail)
    }
}

/// Optional behaviour of a cluster beyond running its processes.
pub struct Hooks<P: Process> {
    /// Called after every handler (start, message, timer, injection) with the process.
    pub observe: Option<Observer<P>>,
    /// How to bring a killed node back; without it, [`Cluster::restart`] refuses.
    pub restart: Option<Rebuild<P>>,
    /// The protocol's check of every received message; without it, only frames are checked.
    pub validate: Option<Validator<P>>,
}

impl<P: Process> Default for Hooks<P> {
    fn default() -> Hooks<P> {
        Hooks {
            observe: None,
            restart: None,
            validate: None,
        }
    }
}

impl<P: Process> Clone for Hooks<P> {
    fn clone(&self) -> Hooks<P> {
        Hooks {
            observe: self.observe.clone(),
            restart: self.restart.clone(),
            validate: self.validate.clone(),
        }
    }
}

/// Why the driver refused to act on a node.
#[derive(Debug)]
pub enum NodeError {
    /// There is no node with this number.
    NoSuchNode { id: NodeId, nodes: usize },
    /// The node is killed.
    Down(NodeId),
    /// The node is running (restart asked for a running node).
    Up(NodeId),
    /// The cluster was started without [`Hooks::restart`].
    NoRestart,
    /// The node's address could not be bound again.
    Bind(NodeId, io::Error),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeError::NoSuchNode { id, nodes } => {
                write!(f, "there is no node {id} in a cluster of {nodes}")
            }
            NodeError::Down(id) => write!(f, "{id} is killed"),
            NodeError::Up(id) => write!(f, "{id} is running"),
            NodeError::NoRestart => write!(f, "this cluster cannot restart nodes"),
            NodeError::Bind(id, e) => write!(f, "cannot bind {id}'s address again: {e}"),
        }
    }
}

impl std::error::Error for NodeError {}

/// Locks `mutex` even if a panic poisoned it: every value the driver shares stays consistent
/// between two statements (metrics are counters, a process is only changed by its handler).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One node as the cluster sees it.
struct Slot<P: Process> {
    /// The process, locked by its task only while a handler runs. Kept after a kill: it is
    /// the crashed node, whose durable state a restart reads.
    process: Arc<Mutex<P>>,
    /// The running node's tasks and input channel; `None` while killed.
    running: Option<Running<P>>,
    /// How many times the node was started; a restart draws from a fresh random stream.
    incarnation: u64,
}

/// A running node's handles.
struct Running<P: Process> {
    /// Injections into the node's event loop.
    control: mpsc::UnboundedSender<Injection<P>>,
    /// The event loop; it ends early only if a handler panicked.
    run: JoinHandle<()>,
    /// The accept loop, which owns the listener and the connection readers.
    accept: JoinHandle<()>,
}

impl<P: Process> Running<P> {
    /// Whether the event loop still runs (false after a handler panicked).
    fn alive(&self) -> bool {
        !self.run.is_finished()
    }

    /// Ends both tasks and waits until they are dropped (so the listener's port is free).
    async fn stop(self) {
        self.run.abort();
        self.accept.abort();
        let _ = self.run.await;
        let _ = self.accept.await;
    }
}

/// Where a node sits: its number, every node's address, and its random stream.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// The node's number; `addrs[id]` is its own address (what peers connect to).
    pub id: NodeId,
    /// Every node's address, indexed by node number: where this node sends.
    pub addrs: Vec<SocketAddr>,
    /// The seed its random stream derives from.
    pub seed: u64,
    /// How many times this node was started before (0 the first time).
    pub incarnation: u64,
}

/// Starts a node's tasks on `listener`: the accept loop feeding its inbox, and the event loop.
fn spawn_node<P>(
    spec: &NodeSpec,
    listener: TcpListener,
    process: Arc<Mutex<P>>,
    hooks: &Hooks<P>,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
) -> Running<P>
where
    P: Process + Send + 'static,
    P::Msg: Serialize + DeserializeOwned + Send + 'static,
{
    let (inbox, rx) = mpsc::unbounded_channel();
    let (control, control_rx) = mpsc::unbounded_channel();
    let nodes = spec.addrs.len();
    let accept = tokio::spawn(accept_loop::<P::Msg>(
        listener,
        inbox,
        metrics.clone(),
        nodes,
    ));
    let stream = (spec.incarnation << 32) | (spec.id.0 as u64 + 1);
    let node = Node {
        id: spec.id,
        process,
        observe: hooks.observe.clone(),
        validate: hooks.validate.clone(),
        addrs: spec.addrs.clone(),
        rng: rng_stream(spec.seed, stream),
        metrics,
        started,
        peers: BTreeMap::new(),
        timers: BTreeMap::new(),
    };
    let run = tokio::spawn(node.run(rx, control_rx));
    Running {
        control,
        run,
        accept,
    }
}

/// A running cluster of processes on loopback.
pub struct Cluster<P: Process> {
    addrs: Vec<SocketAddr>,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    seed: u64,
    hooks: Hooks<P>,
    nodes: Vec<Slot<P>>,
}

impl<P> Cluster<P>
where
    P: Process + Send + 'static,
    P::Msg: Serialize + DeserializeOwned + Send + 'static,
{
    /// Binds a listener per process on 127.0.0.1 (ephemeral ports) and starts every node.
    /// Must be called inside a tokio runtime.
    pub async fn start(processes: Vec<P>, seed: u64) -> io::Result<Cluster<P>> {
        Cluster::start_with(processes, seed, Hooks::default()).await
    }

    /// [`Cluster::start`] with hooks: an observer called after every handler, the rule that
    /// rebuilds a killed node from its durable state, and the protocol's message check.
    pub async fn start_with(
        processes: Vec<P>,
        seed: u64,
        hooks: Hooks<P>,
    ) -> io::Result<Cluster<P>> {
        let mut listeners = Vec::new();
        for _ in &processes {
            listeners.push(TcpListener::bind("127.0.0.1:0").await?);
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<_>>()?;
        let nodes = processes
            .into_iter()
            .map(|p| Slot {
                process: Arc::new(Mutex::new(p)),
                running: None,
                incarnation: 0,
            })
            .collect();
        let mut cluster = Cluster {
            addrs,
            metrics: Arc::new(Mutex::new(Metrics::default())),
            started: Instant::now(),
            seed,
            hooks,
            nodes,
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            cluster.spawn(NodeId(i), listener);
        }
        Ok(cluster)
    }

    // ANCHOR: spawn
    /// Starts node `id`'s tasks: the accept loop feeding its inbox, and the event loop.
    fn spawn(&mut self, id: NodeId, listener: TcpListener) {
        let slot = &mut self.nodes[id.0];
        let spec = NodeSpec {
            id,
            addrs: self.addrs.clone(),
            seed: self.seed,
            incarnation: slot.incarnation,
        };
        let process = slot.process.clone();
        let (metrics, started) = (self.metrics.clone(), self.started);
        slot.running = Some(spawn_node(
            &spec,
            listener,
            process,
            &self.hooks,
            metrics,
            started,
        ));
        slot.incarnation += 1;
    }
    // ANCHOR_END: spawn

    /// How many nodes the cluster has, running or killed.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes at all.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The address node `id` listens on.
    pub fn addr(&self, id: NodeId) -> SocketAddr {
        self.addrs[id.0]
    }

    /// Whether node `id` is running (false if killed, stopped by a panic, or out of range).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes
            .get(id.0)
            .and_then(|s| s.running.as_ref())
            .is_some_and(Running::alive)
    }

    /// Whether node `id` stopped because one of its handlers panicked (it was not killed).
    pub fn has_failed(&self, id: NodeId) -> bool {
        self.nodes
            .get(id.0)
            .and_then(|s| s.running.as_ref())
            .is_some_and(|r| !r.alive())
    }

    /// A copy of the metrics every node has recorded so far.
    pub fn metrics(&self) -> Metrics {
        lock(&self.metrics).clone()
    }

    /// Waits until `done(metrics)` holds, checking every 10 ms; false if `timeout` passes first.
    pub async fn wait_until(&self, done: impl Fn(&Metrics) -> bool, timeout: Duration) -> bool {
        wait_for(&self.metrics, done, timeout).await
    }

    /// Reads node `id`'s process, running or killed (then as it was when it crashed).
    pub fn inspect<R>(&self, id: NodeId, read: impl FnOnce(&P) -> R) -> Result<R, NodeError> {
        let slot = self.slot(id)?;
        Ok(read(&lock(&slot.process)))
    }

    // ANCHOR: inject
    /// Runs `input` on node `id` as one more input of its event loop, with its context: the
    /// effects it asks for (messages, timers) are carried out like a handler's. The closure runs
    /// later, on the node's task, in order with the node's other inputs.
    pub fn inject(
        &self,
        id: NodeId,
        input: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>) + Send + 'static,
    ) -> Result<(), NodeError> {
        let running = self.slot(id)?.running.as_ref().ok_or(NodeError::Down(id))?;
        running
            .control
            .send(Box::new(input))
            .map_err(|_| NodeError::Down(id))
    }
    // ANCHOR_END: inject

    // ANCHOR: kill
    /// Stops node `id` abruptly, as a crash would: its tasks end between two awaits, its
    /// listener and connections close, its timers and queued messages are lost. The process
    /// stays as it was after its last handler, for [`Cluster::inspect`] and a restart.
    pub async fn kill(&mut self, id: NodeId) -> Result<(), NodeError> {
        let running = self
            .slot_mut(id)?
            .running
            .take()
            .ok_or(NodeError::Down(id))?;
        running.stop().await;
        Ok(())
    }

    /// Brings killed node `id` back from its durable state (its "disk"), at its old address.
    /// A node stopped by a panicking handler counts as killed.
    pub async fn restart(&mut self, id: NodeId) -> Result<(), NodeError> {
        let rebuild = self.hooks.restart.clone().ok_or(NodeError::NoRestart)?;
        let slot = self.slot_mut(id)?;
        match slot.running.take() {
            Some(running) if running.alive() => {
                slot.running = Some(running);
                return Err(NodeError::Up(id));
            }
            Some(failed) => failed.stop().await,
            None => {}
        }
        let listener = bind_again(self.addrs[id.0])
            .await
            .map_err(|e| NodeError::Bind(id, e))?;
        {
            let slot = self.slot(id)?;
            let mut process = lock(&slot.process);
            let disk = process.durable();
            *process = rebuild(id, disk);
        }
        self.spawn(id, listener);
        Ok(())
    }
    // ANCHOR_END: kill

    fn slot(&self, id: NodeId) -> Result<&Slot<P>, NodeError> {
        let nodes = self.nodes.len();
        self.nodes
            .get(id.0)
            .ok_or(NodeError::NoSuchNode { id, nodes })
    }

    fn slot_mut(&mut self, id: NodeId) -> Result<&mut Slot<P>, NodeError> {
        let nodes = self.nodes.len();
        self.nodes
            .get_mut(id.0)
            .ok_or(NodeError::NoSuchNode { id, nodes })
    }

    /// Stops every node.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl<P: Process> Drop for Cluster<P> {
    /// Aborts every node's tasks, so that a dropped cluster stops serving.
    fn drop(&mut self) {
        for slot in &mut self.nodes {
            if let Some(running) = slot.running.take() {
                running.run.abort();
                running.accept.abort();
            }
        }
    }
}

// ANCHOR: standalone
/// One node of a cluster whose other nodes run elsewhere: in other OS processes, behind
/// proxies. Same frames, gates and event loop as a [`Cluster`]'s nodes; dropping it stops it.
pub struct Standalone<P: Process> {
    spec: NodeSpec,
    local: SocketAddr,
    process: Arc<Mutex<P>>,
    metrics: Arc<Mutex<Metrics>>,
    running: Option<Running<P>>,
}

impl<P> Standalone<P>
where
    P: Process + Send + 'static,
    P::Msg: Serialize + DeserializeOwned + Send + 'static,
{
    /// Runs `process` as node `spec.id`, accepting on `listener` and sending to `spec.addrs`,
    /// and calls its `on_start`. Must be called inside a tokio runtime.
    /// [`Hooks::restart`] is not used: a restart is a new OS process, calling `start` again.
    pub fn start(
        spec: NodeSpec,
        listener: TcpListener,
        process: P,
        hooks: Hooks<P>,
    ) -> io::Result<Standalone<P>> {
        if spec.id.0 >= spec.addrs.len() {
            let (id, nodes) = (spec.id, spec.addrs.len());
            let msg = format!("node {id} outside a cluster of {nodes} addresses");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        let local = listener.local_addr()?;
        let process = Arc::new(Mutex::new(process));
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        let running = spawn_node(
            &spec,
            listener,
            process.clone(),
            &hooks,
            metrics.clone(),
            Instant::now(),
        );
        Ok(Standalone {
            spec,
            local,
            process,
            metrics,
            running: Some(running),
        })
    }

    /// The node's number.
    pub fn id(&self) -> NodeId {
        self.spec.id
    }

    /// The address its listener accepts on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether its event loop runs (false once a handler panicked, or after `stop`).
    pub fn is_running(&self) -> bool {
        self.running.as_ref().is_some_and(Running::alive)
    }

    /// A copy of its metrics.
    pub fn metrics(&self) -> Metrics {
        lock(&self.metrics).clone()
    }

    /// Waits until `done(metrics)` holds, checking every 10 ms; false if `timeout` passes first.
    pub async fn wait_until(&self, done: impl Fn(&Metrics) -> bool, timeout: Duration) -> bool {
        wait_for(&self.metrics, done, timeout).await
    }

    /// Reads the process.
    pub fn inspect<R>(&self, read: impl FnOnce(&P) -> R) -> R {
        read(&lock(&self.process))
    }

    /// Runs `input` on the node as one more input of its event loop (see [`Cluster::inject`]).
    pub fn inject(
        &self,
        input: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>) + Send + 'static,
    ) -> Result<(), NodeError> {
        let id = self.spec.id;
        let running = self.running.as_ref().ok_or(NodeError::Down(id))?;
        running
            .control
            .send(Box::new(input))
            .map_err(|_| NodeError::Down(id))
    }

    /// Stops the node and waits until its listener is closed.
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}
// ANCHOR_END: standalone

impl<P: Process> Drop for Standalone<P> {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.run.abort();
            running.accept.abort();
        }
    }
}

/// Waits until `done(metrics)` holds, checking every 10 ms; false if `timeout` passes first.
async fn wait_for(
    metrics: &Mutex<Metrics>,
    done: impl Fn(&Metrics) -> bool,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done(&lock(metrics)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done(&lock(metrics))
}

/// Binds `addr` again after its node was killed, retrying briefly while the port is released.
async fn bind_again(addr: SocketAddr) -> io::Result<TcpListener> {
    let mut tries = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Ok(listener),
            Err(e) if tries >= 20 => return Err(e),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Accepts connections and spawns a reader per connection; aborting it ends them all.
async fn accept_loop<M>(
    listener: TcpListener,
    inbox: mpsc::UnboundedSender<(NodeId, M)>,
    metrics: Arc<Mutex<Metrics>>,
    nodes: usize,
) where
    M: DeserializeOwned + Send + 'static,
{
    let mut readers = JoinSet::new();
    while let Ok((stream, peer)) = listener.accept().await {
        while readers.try_join_next().is_some() {} // reap finished readers
        if readers.len() >= MAX_CONNECTIONS {
            let why = format!("{MAX_CONNECTIONS} connections already open");
            refuse(
                &metrics,
                &Rejected::new("bad_frames.connections", why),
                peer,
            );
            continue; // dropping the stream closes it
        }
        readers.spawn(read_frames(stream, inbox.clone(), metrics.clone(), nodes));
    }
}

// ANCHOR: read_frames
// ANCHOR: decode_frame
/// Checks a frame's length prefix: at most [`MAX_FRAME_BYTES`].
pub fn frame_len(prefix: u32) -> Result<usize, Rejected> {
    let len = prefix as usize;
    if len > MAX_FRAME_BYTES {
        let detail = format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}");
        return Err(Rejected::new("bad_frames.oversized", detail));
    }
    Ok(len)
}

/// Decodes a frame's body: a JSON envelope whose sender is one of the `nodes` nodes.
pub fn decode_frame<M: DeserializeOwned>(
    body: &[u8],
    nodes: usize,
) -> Result<(NodeId, M), Rejected> {
    match serde_json::from_slice::<Envelope<M>>(body) {
        Ok(env) if env.from.0 >= nodes => {
            let detail = format!("frame from {}, outside a cluster of {nodes}", env.from);
            Err(Rejected::new("bad_frames.unknown_sender", detail))
        }
        Ok(env) => Ok((env.from, env.msg)),
        Err(e) => Err(Rejected::new("bad_frames.malformed", e.to_string())),
    }
}
// ANCHOR_END: decode_frame

/// Reads length-prefixed JSON frames until the peer closes or sends something bad, which is
/// counted, logged, and closes this connection only. The sender's name is checked here, at the
/// edge: a node replies to `from`, and it must be one node, the same for the whole connection.
async fn read_frames<M>(
    mut stream: TcpStream,
    inbox: mpsc::UnboundedSender<(NodeId, M)>,
    metrics: Arc<Mutex<Metrics>>,
    nodes: usize,
) where
    M: DeserializeOwned,
{
    let mut sender: Option<NodeId> = None;
    loop {
        let Ok(prefix) = stream.read_u32().await else {
            return; // closed
        };
        let frame = match frame_len(prefix) {
            Ok(len) => read_body(&mut stream, len).await,
            Err(rejected) => Err(rejected),
        };
        let problem = match frame.and_then(|body| decode_frame::<M>(&body, nodes)) {
            Ok((from, _)) if sender.is_some_and(|s| s != from) => {
                let detail = format!("{from} on a connection opened by {sender:?}");
                Rejected::new("bad_frames.sender_changed", detail)
            }
            Ok((from, msg)) => {
                sender = Some(from);
                if inbox.send((from, msg)).is_err() {
                    return; // the node is gone
                }
                continue;
            }
            Err(rejected) => rejected,
        };
        let peer = stream.peer_addr().ok();
        return refuse(&metrics, &problem, peer);
    }
}

/// Reads a body of `len` bytes as it arrives (a lying length allocates nothing up front).
async fn read_body(stream: &mut TcpStream, len: usize) -> Result<Vec<u8>, Rejected> {
    let mut body = Vec::new();
    let mut limited = (&mut *stream).take(len as u64);
    let read = limited.read_to_end(&mut body);
    match tokio::time::timeout(FRAME_TIMEOUT, read).await {
        Ok(Ok(n)) if n == len => Ok(body),
        Err(_) => Err(Rejected::new(
            "bad_frames.slow",
            format!("{len} bytes not in time"),
        )),
        Ok(_) => Err(Rejected::new(
            "bad_frames.truncated",
            format!("closed after {} of {len} bytes", body.len()),
        )),
    }
}
// ANCHOR_END: read_frames

/// Counts a refusal (`bad_frames` and its own counter) and logs it, sparsely.
fn refuse(metrics: &Mutex<Metrics>, rejected: &Rejected, peer: impl Into<Option<SocketAddr>>) {
    let seen = {
        let mut metrics = lock(metrics);
        metrics.count("bad_frames", 1);
        metrics.count(rejected.counter, 1);
        metrics.counter(rejected.counter)
    };
    if seen <= 3 || seen.is_power_of_two() {
        let peer = peer.into().map(|a| a.to_string()).unwrap_or_default();
        eprintln!("refused a frame from {peer} ({seen} so far): {rejected}");
    }
}

/// One node's event loop state.
struct Node<P: Process> {
    id: NodeId,
    /// The process; locked only while a handler runs.
    process: Arc<Mutex<P>>,
    /// Called after every handler.
    observe: Option<Observer<P>>,
    /// The protocol's check of each message, before its handler.
    validate: Option<Validator<P>>,
    addrs: Vec<SocketAddr>,
    rng: SimRng,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    /// Open connections to peers, opened on first send.
    peers: BTreeMap<NodeId, OwnedWriteHalf>,
    /// Pending timers and their deadlines.
    timers: BTreeMap<TimerId, Instant>,
}

/// A handler panicked: the node stops, as if it had crashed.
struct Stopped;

impl<P> Node<P>
where
    P: Process + Send + 'static,
    P::Msg: Serialize + DeserializeOwned + Send + 'static,
{
    // ANCHOR: node_run
    /// The event loop: one input at a time, exactly as the simulator delivers them. It ends
    /// when the cluster goes away or a handler panics (`Stopped`).
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<(NodeId, P::Msg)>,
        mut control: mpsc::UnboundedReceiver<Injection<P>>,
    ) {
        let _ = self.step(|p, ctx| p.on_start(ctx)).await;
        loop {
            let next = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            let handled = tokio::select! {
                received = inbox.recv() => match received {
                    Some((from, msg)) => self.deliver(from, msg).await,
                    None => return,
                },
                injected = control.recv() => match injected {
                    Some(input) => self.step(input).await,
                    None => return, // the cluster is gone
                },
                _ = tokio::time::sleep_until(next.map_or_else(far_future, |(_, at)| at)),
                    if next.is_some() =>
                {
                    let (timer, _) = next.expect("guarded by the branch condition");
                    self.timers.remove(&timer);
                    self.step(|p, ctx| p.on_timer(ctx, timer)).await
                }
            };
            if let Err(Stopped) = handled {
                return;
            }
        }
    }
    // ANCHOR_END: node_run

    /// Hands a received message to the process, if the protocol's check lets it through.
    async fn deliver(&mut self, from: NodeId, msg: P::Msg) -> Result<(), Stopped> {
        let Some(validate) = self.validate.clone() else {
            return self.step(|p, ctx| p.on_message(ctx, from, msg)).await;
        };
        let verdict = {
            let process = lock(&self.process);
            catch_unwind(AssertUnwindSafe(|| validate(from, &msg, &process)))
        };
        match verdict {
            Ok(Ok(())) => self.step(|p, ctx| p.on_message(ctx, from, msg)).await,
            Ok(Err(rejected)) => {
                let peer = self.addrs.get(from.0).copied();
                refuse(&self.metrics, &rejected, peer);
                Ok(())
            }
            Err(_) => self.stop("the message check panicked"),
        }
    }

    // ANCHOR: step
    /// Calls the process with a context, then carries out its effects. A panicking handler is
    /// caught while the locks are still held (so they are not poisoned) and stops this node.
    async fn step(
        &mut self,
        handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>),
    ) -> Result<(), Stopped> {
        let mut effects = Vec::new();
        let outcome = {
            let now = Time(crate::sim::nanos(self.started.elapsed()));
            let mut metrics = lock(&self.metrics);
            let mut process = lock(&self.process);
            let (id, rng, observe) = (self.id, &mut self.rng, &self.observe);
            catch_unwind(AssertUnwindSafe(|| {
                let mut ctx = Ctx::new(id, now, rng, &mut effects, &mut metrics);
                handler(&mut process, &mut ctx);
                if let Some(observe) = observe {
                    observe(id, &process);
                }
            }))
        };
        if outcome.is_err() {
            return self.stop("a handler panicked");
        }
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => self.send(to, msg).await?,
                Effect::SetTimer { timer, after } => {
                    self.timers.insert(timer, Instant::now() + after);
                }
                Effect::CancelTimer { timer } => {
                    self.timers.remove(&timer);
                }
            }
        }
        Ok(())
    }
    // ANCHOR_END: step

    /// Stops this node for a bug: counted as `handler_panics`, logged, never propagated.
    fn stop(&self, why: &str) -> Result<(), Stopped> {
        lock(&self.metrics).count("handler_panics", 1);
        eprintln!(
            "{} stopped: {why} (a bug; the other nodes carry on)",
            self.id
        );
        Err(Stopped)
    }

    /// Sends one frame to `to`, connecting first if needed. Failures drop the message; a
    /// message to a node that does not exist is a protocol bug and stops this node.
    async fn send(&mut self, to: NodeId, msg: P::Msg) -> Result<(), Stopped> {
        let Some(&addr) = self.addrs.get(to.0) else {
            return self.stop(&format!("it sent to unknown node {to}"));
        };
        let frame = match serde_json::to_vec(&Envelope { from: self.id, msg }) {
            Ok(body) => body,
            Err(e) => return self.stop(&format!("a message did not serialise: {e}")),
        };
        let Some(len) = u32::try_from(frame.len())
            .ok()
            .filter(|len| frame_len(*len).is_ok())
        else {
            self.count("oversized_sends"); // the receiver would refuse it
            return Ok(());
        };
        let peer = match self.peers.entry(to) {
            Entry::Occupied(open) => open.into_mut(),
            Entry::Vacant(slot) => match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let (_read, write) = stream.into_split();
                    slot.insert(write)
                }
                Err(_) => {
                    self.count("send_failures");
                    return Ok(());
                }
            },
        };
        let written = async {
            peer.write_u32(len).await?;
            peer.write_all(&frame).await
        };
        if written.await.is_err() {
            self.peers.remove(&to); // reconnect on the next send
            self.count("send_failures");
        }
        Ok(())
    }

    fn count(&self, name: &'static str) {
        lock(&self.metrics).count(name, 1);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
