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
//! reached is dropped (TCP gives no guarantee beyond the connection, see chapter 2), and a
//! malformed frame closes its connection and is counted, never a panic.
//!
//! **Crash and restart.** Each process lives behind a mutex that only its own task locks while
//! a handler runs, so a [`Cluster::kill`] that aborts the task between two awaits leaves the
//! process exactly as it was after its last handler: the driver reads its
//! [`Process::durable`] state from there, as the simulator does at the instant of a crash.
//! [`Cluster::restart`] rebuilds a process from that state with the [`Hooks::restart`]
//! function, binds the node's old address again and calls `on_start`. Everything volatile (the
//! process's other fields, its timers, its open connections, messages in flight to it) is lost.
//!
//! **Looking in and poking.** [`Cluster::inspect`] reads a process (killed or not) under its
//! mutex; [`Hooks::observe`] is called after every handler with the process, to publish a
//! status or notice events as they happen; [`Cluster::inject`] runs a closure on a node *as an
//! input*, with a [`Ctx`], so its effects are carried out like any handler's: this is how an
//! interactive client hands a node its next command without the protocol knowing about stdin.
//!
//! Simplification: the clock `ctx.now()` is time since the cluster started, and a restarted
//! node draws from a fresh random stream derived from the seed, its node number and its
//! incarnation.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
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

/// Optional behaviour of a cluster beyond running its processes.
pub struct Hooks<P: Process> {
    /// Called after every handler (start, message, timer, injection) with the process.
    pub observe: Option<Observer<P>>,
    /// How to bring a killed node back; without it, [`Cluster::restart`] refuses.
    pub restart: Option<Rebuild<P>>,
}

impl<P: Process> Default for Hooks<P> {
    fn default() -> Hooks<P> {
        Hooks {
            observe: None,
            restart: None,
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
    /// The event loop.
    run: JoinHandle<()>,
    /// The accept loop, which owns the listener and the connection readers.
    accept: JoinHandle<()>,
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

    /// [`Cluster::start`] with hooks: an observer called after every handler, and the rule
    /// that rebuilds a killed node from its durable state.
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
        let (inbox, rx) = mpsc::unbounded_channel();
        let (control, control_rx) = mpsc::unbounded_channel();
        let nodes = self.addrs.len();
        let accept = tokio::spawn(accept_loop::<P::Msg>(
            listener,
            inbox,
            self.metrics.clone(),
            nodes,
        ));
        let stream = (slot.incarnation << 32) | (id.0 as u64 + 1);
        let node = Node {
            id,
            process: slot.process.clone(),
            observe: self.hooks.observe.clone(),
            addrs: self.addrs.clone(),
            rng: rng_stream(self.seed, stream),
            metrics: self.metrics.clone(),
            started: self.started,
            peers: BTreeMap::new(),
            timers: BTreeMap::new(),
        };
        let run = tokio::spawn(node.run(rx, control_rx));
        slot.incarnation += 1;
        slot.running = Some(Running {
            control,
            run,
            accept,
        });
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

    /// Whether node `id` is running (false if killed or out of range).
    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes.get(id.0).is_some_and(|s| s.running.is_some())
    }

    /// A copy of the metrics every node has recorded so far.
    pub fn metrics(&self) -> Metrics {
        self.metrics
            .lock()
            .expect("no handler panics holding the lock")
            .clone()
    }

    /// Waits until `done(metrics)` holds, checking every 10 ms; false if `timeout` passes first.
    pub async fn wait_until(&self, done: impl Fn(&Metrics) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if done(&self.metrics()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        done(&self.metrics())
    }

    /// Reads node `id`'s process, running or killed (then as it was when it crashed).
    pub fn inspect<R>(&self, id: NodeId, read: impl FnOnce(&P) -> R) -> Result<R, NodeError> {
        let slot = self.slot(id)?;
        let process = slot
            .process
            .lock()
            .expect("no handler panics holding the lock");
        Ok(read(&process))
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
        running.run.abort();
        running.accept.abort();
        // Wait until both tasks are dropped, so that the listener's port is free again.
        let _ = running.run.await;
        let _ = running.accept.await;
        Ok(())
    }

    /// Brings killed node `id` back from its durable state (its "disk"), at its old address.
    pub async fn restart(&mut self, id: NodeId) -> Result<(), NodeError> {
        let rebuild = self.hooks.restart.clone().ok_or(NodeError::NoRestart)?;
        let slot = self.slot(id)?;
        if slot.running.is_some() {
            return Err(NodeError::Up(id));
        }
        let listener = bind_again(self.addrs[id.0])
            .await
            .map_err(|e| NodeError::Bind(id, e))?;
        {
            let mut process = slot.process.lock().expect("not poisoned");
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
    while let Ok((stream, _)) = listener.accept().await {
        readers.spawn(read_frames(stream, inbox.clone(), metrics.clone(), nodes));
        while readers.try_join_next().is_some() {} // reap finished readers
    }
}

// ANCHOR: read_frames
/// Reads length-prefixed JSON frames until the peer closes or sends something malformed.
/// The sender's name is checked here, at the edge: a node replies to `from`, and a reply to a
/// node that does not exist would be a protocol bug (a panic), not a network error.
async fn read_frames<M>(
    mut stream: TcpStream,
    inbox: mpsc::UnboundedSender<(NodeId, M)>,
    metrics: Arc<Mutex<Metrics>>,
    nodes: usize,
) where
    M: DeserializeOwned,
{
    let mut buf = Vec::new();
    loop {
        let len = match stream.read_u32().await {
            Ok(len) => len as usize,
            Err(_) => return, // closed
        };
        let problem = if len > MAX_FRAME_BYTES {
            Some(format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}"))
        } else {
            buf.resize(len, 0);
            match stream.read_exact(&mut buf).await {
                Err(_) => return, // closed mid-frame
                Ok(_) => match serde_json::from_slice::<Envelope<M>>(&buf) {
                    Ok(env) if env.from.0 >= nodes => {
                        Some(format!("frame from unknown node {}", env.from))
                    }
                    Ok(env) => {
                        if inbox.send((env.from, env.msg)).is_err() {
                            return; // the node is gone
                        }
                        None
                    }
                    Err(e) => Some(format!("malformed frame: {e}")),
                },
            }
        };
        if let Some(problem) = problem {
            metrics.lock().expect("not poisoned").count("bad_frames", 1);
            let peer = stream
                .peer_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            eprintln!("closing connection from {peer}: {problem}");
            return;
        }
    }
}
// ANCHOR_END: read_frames

/// One node's event loop state.
struct Node<P: Process> {
    id: NodeId,
    /// The process; locked only while a handler runs.
    process: Arc<Mutex<P>>,
    /// Called after every handler.
    observe: Option<Observer<P>>,
    addrs: Vec<SocketAddr>,
    rng: SimRng,
    metrics: Arc<Mutex<Metrics>>,
    started: Instant,
    /// Open connections to peers, opened on first send.
    peers: BTreeMap<NodeId, OwnedWriteHalf>,
    /// Pending timers and their deadlines.
    timers: BTreeMap<TimerId, Instant>,
}

impl<P> Node<P>
where
    P: Process + Send + 'static,
    P::Msg: Serialize + DeserializeOwned + Send + 'static,
{
    // ANCHOR: node_run
    /// The event loop: one input at a time, exactly as the simulator delivers them.
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<(NodeId, P::Msg)>,
        mut control: mpsc::UnboundedReceiver<Injection<P>>,
    ) {
        self.handle(|p, ctx| p.on_start(ctx)).await;
        loop {
            let next = self
                .timers
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(t, at)| (*t, *at));
            tokio::select! {
                received = inbox.recv() => match received {
                    Some((from, msg)) => self.handle(|p, ctx| p.on_message(ctx, from, msg)).await,
                    None => return,
                },
                injected = control.recv() => match injected {
                    Some(input) => self.handle(input).await,
                    None => return, // the cluster is gone
                },
                _ = tokio::time::sleep_until(next.map_or_else(far_future, |(_, at)| at)),
                    if next.is_some() =>
                {
                    let (timer, _) = next.expect("guarded by the branch condition");
                    self.timers.remove(&timer);
                    self.handle(|p, ctx| p.on_timer(ctx, timer)).await;
                }
            }
        }
    }
    // ANCHOR_END: node_run

    /// Calls the process with a context, then carries out its effects.
    async fn handle(&mut self, handler: impl FnOnce(&mut P, &mut Ctx<'_, P::Msg>)) {
        let mut effects = Vec::new();
        {
            let now = Time(crate::sim::nanos(self.started.elapsed()));
            let mut metrics = self.metrics.lock().expect("not poisoned");
            let mut process = self.process.lock().expect("not poisoned");
            let mut ctx = Ctx::new(self.id, now, &mut self.rng, &mut effects, &mut metrics);
            handler(&mut process, &mut ctx);
            if let Some(observe) = &self.observe {
                observe(self.id, &process);
            }
        }
        for effect in effects {
            match effect {
                Effect::Send { to, msg } => self.send(to, msg).await,
                Effect::SetTimer { timer, after } => {
                    self.timers.insert(timer, Instant::now() + after);
                }
                Effect::CancelTimer { timer } => {
                    self.timers.remove(&timer);
                }
            }
        }
    }

    /// Sends one frame to `to`, connecting first if needed. Failures drop the message.
    async fn send(&mut self, to: NodeId, msg: P::Msg) {
        let Some(&addr) = self.addrs.get(to.0) else {
            panic!("{} sent to unknown node {to}", self.id); // a protocol bug, as in the simulator
        };
        let frame = match serde_json::to_vec(&Envelope { from: self.id, msg }) {
            Ok(body) => body,
            Err(e) => panic!("a message must serialise: {e}"),
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
                    return;
                }
            },
        };
        let len = u32::try_from(frame.len()).expect("frames are far below 4 GiB");
        let written = async {
            peer.write_u32(len).await?;
            peer.write_all(&frame).await
        };
        if written.await.is_err() {
            self.peers.remove(&to); // reconnect on the next send
            self.count("send_failures");
        }
    }

    fn count(&self, name: &'static str) {
        self.metrics.lock().expect("not poisoned").count(name, 1);
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}
