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
//! malformed frame closes its connection and is counted, never a panic. Simplification: no
//! restart of killed nodes, and the clock `ctx.now()` is time since the cluster started.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
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

use crate::sim::{Ctx, Effect, Metrics, NodeId, Process, Rng, Time, TimerId};

/// Frames larger than this are refused: a corrupt length must not allocate gigabytes.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// What goes in one frame: the sender's name and its message.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<M> {
    from: NodeId,
    msg: M,
}

/// A running cluster of processes on loopback.
pub struct Cluster {
    addrs: Vec<SocketAddr>,
    metrics: Arc<Mutex<Metrics>>,
    /// Per node: its event loop and its accept loop (which owns the connection readers).
    tasks: Vec<Option<(JoinHandle<()>, JoinHandle<()>)>>,
}

impl Cluster {
    /// Binds a listener per process on 127.0.0.1 (ephemeral ports) and starts every node.
    /// Must be called inside a tokio runtime.
    pub async fn start<P>(processes: Vec<P>, seed: u64) -> io::Result<Cluster>
    where
        P: Process + Send + 'static,
        P::Msg: Serialize + DeserializeOwned + Send + 'static,
    {
        let mut listeners = Vec::new();
        for _ in &processes {
            listeners.push(TcpListener::bind("127.0.0.1:0").await?);
        }
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<_>>()?;
        let metrics = Arc::new(Mutex::new(Metrics::default()));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (i, (process, listener)) in processes.into_iter().zip(listeners).enumerate() {
            let (inbox, rx) = mpsc::unbounded_channel();
            let accept = tokio::spawn(accept_loop::<P::Msg>(listener, inbox, metrics.clone()));
            let node = Node {
                id: NodeId(i),
                process,
                addrs: addrs.clone(),
                rng: Rng::derive(seed, i as u64 + 1),
                metrics: metrics.clone(),
                started,
                peers: BTreeMap::new(),
                timers: BTreeMap::new(),
            };
            let run = tokio::spawn(node.run(rx));
            tasks.push(Some((run, accept)));
        }
        Ok(Cluster {
            addrs,
            metrics,
            tasks,
        })
    }

    /// The address node `id` listens on.
    pub fn addr(&self, id: NodeId) -> SocketAddr {
        self.addrs[id.0]
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

    /// Stops node `id` abruptly, as a crash would: its tasks end, its connections close.
    pub fn kill(&mut self, id: NodeId) {
        if let Some((run, accept)) = self.tasks[id.0].take() {
            run.abort();
            accept.abort();
        }
    }

    /// Stops every node.
    pub fn shutdown(mut self) {
        for i in 0..self.tasks.len() {
            self.kill(NodeId(i));
        }
    }
}

/// Accepts connections and spawns a reader per connection; aborting it ends them all.
async fn accept_loop<M>(
    listener: TcpListener,
    inbox: mpsc::UnboundedSender<(NodeId, M)>,
    metrics: Arc<Mutex<Metrics>>,
) where
    M: DeserializeOwned + Send + 'static,
{
    let mut readers = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        readers.spawn(read_frames(stream, inbox.clone(), metrics.clone()));
        while readers.try_join_next().is_some() {} // reap finished readers
    }
}

// ANCHOR: read_frames
/// Reads length-prefixed JSON frames until the peer closes or sends something malformed.
async fn read_frames<M>(
    mut stream: TcpStream,
    inbox: mpsc::UnboundedSender<(NodeId, M)>,
    metrics: Arc<Mutex<Metrics>>,
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
    process: P,
    addrs: Vec<SocketAddr>,
    rng: Rng,
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
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<(NodeId, P::Msg)>) {
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
            let mut ctx = Ctx::new(self.id, now, &mut self.rng, &mut effects, &mut metrics);
            handler(&mut self.process, &mut ctx);
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
