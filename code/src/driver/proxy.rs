//! A fault-injecting TCP proxy per link, so that a test can partition real processes without
//! root.
//!
//! Jepsen partitions a cluster with `iptables` on each machine (Kyle Kingsbury's Jepsen
//! analyses, <https://jepsen.io/analyses>); that needs root, and on one machine it needs network
//! namespaces. A proxy in front of each *directed* link does the same on plain loopback: node
//! `j` is told that node `i` lives at the address of the proxy for the link `j -> i`, and that
//! proxy forwards to wherever `i` really listens. Cutting the proxy cuts `j -> i` and nothing
//! else, so a one-way partition (followers cannot reach the leader, the leader still reaches
//! them) is two lines of a test.
//!
//! A link is in one of three [`Mode`]s:
//!
//! - [`Mode::Pass`]: bytes flow both ways, as if the proxy were not there.
//! - [`Mode::Drop`]: every open connection is closed at once and every new one is closed on
//!   accept. The sender sees a failed write or a reset, and whatever it had in flight is lost,
//!   exactly what a crashed switch or a firewall that sends resets does. Bytes are never
//!   dropped in the *middle* of a connection: that would cut a length-prefixed frame in two
//!   and desynchronise the stream, a fault TCP itself never produces.
//! - [`Mode::Stall`]: the proxy stops reading and forwarding but keeps the connections open:
//!   the sender's kernel buffers fill up and its writes eventually block, like a link that
//!   silently loses every packet (TCP keeps retransmitting). Healing releases what was held.
//!
//! Invariants: a proxy only ever binds `127.0.0.1`, and only connects to the target it is
//! given; the mode and target can change at any time and apply to bytes not yet forwarded.
//! Simplification: one TCP connection on a link carries one direction of Raft traffic (the
//! driver opens its own connection to each peer), so cutting a link's connection cuts exactly
//! one direction of the conversation.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a link does with its traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Close every connection, and every new one on accept.
    Drop,
    /// Keep connections open but forward nothing until the mode changes.
    Stall,
}

// ANCHOR: proxy
/// One directed link: a listener on 127.0.0.1 that forwards to a target address.
pub struct Proxy {
    /// Where the proxy listens: the address the sending node is told.
    addr: SocketAddr,
    /// Where it forwards to (`None`: nowhere yet, connections are closed); changes when the
    /// target restarts on a new port.
    target: Arc<Mutex<Option<SocketAddr>>>,
    /// The link's mode, watched by every connection so that a cut takes effect at once.
    mode: watch::Sender<Mode>,
    /// The accept loop; aborted on drop, which ends every connection with it.
    accept: JoinHandle<()>,
}
// ANCHOR_END: proxy

impl Proxy {
    /// Binds a proxy on 127.0.0.1 (a port the kernel picks) forwarding to `target`, in
    /// [`Mode::Pass`]. Must be called inside a tokio runtime.
    pub async fn start(target: Option<SocketAddr>) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let target = Arc::new(Mutex::new(target));
        let (mode, _) = watch::channel(Mode::Pass);
        let accept = tokio::spawn(accept_loop(listener, target.clone(), mode.clone()));
        Ok(Proxy {
            addr,
            target,
            mode,
            accept,
        })
    }

    /// The address senders connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the proxy forwards new connections.
    pub fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forwards new connections to `target` from now on (the node restarted on a new port).
    pub fn set_target(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// The link's mode.
    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Changes the link's mode; open connections obey at once.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Accepts connections and starts a forwarder for each; aborting it ends them all, because
/// the forwarders live in a `JoinSet` that the loop owns.
async fn accept_loop(
    listener: TcpListener,
    target: Arc<Mutex<Option<SocketAddr>>>,
    mode: watch::Sender<Mode>,
) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((inbound, _)) = listener.accept().await {
        while connections.try_join_next().is_some() {} // reap finished connections
        if *mode.borrow() == Mode::Drop {
            continue; // dropping `inbound` closes it
        }
        let Some(to) = *target.lock().unwrap_or_else(PoisonError::into_inner) else {
            continue; // nowhere to forward yet
        };
        connections.spawn(forward(inbound, to, mode.subscribe()));
    }
}

// ANCHOR: forward
/// Connects to `to` and pumps bytes both ways until either side closes or the link is cut.
async fn forward(inbound: TcpStream, to: SocketAddr, mode: watch::Receiver<Mode>) {
    let Ok(outbound) = TcpStream::connect(to).await else {
        return; // the target is down: the sender sees its connection closed
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    // Whichever direction ends first (close, error, or a cut) ends the connection.
    tokio::select! {
        _ = pump(in_read, out_write, mode.clone()) => {}
        _ = pump(out_read, in_write, mode) => {}
    }
}

/// Copies bytes from `from` to `to`, obeying the link's mode before every chunk.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut mode: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Wait while stalled; leave as soon as the link is cut.
        loop {
            let now = *mode.borrow_and_update();
            match now {
                Mode::Pass => break,
                Mode::Drop => return,
                Mode::Stall => {
                    if mode.changed().await.is_err() {
                        return; // the proxy is gone
                    }
                }
            }
        }
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            changed = mode.changed() => match changed {
                Ok(()) => continue, // re-examine the mode before reading on
                Err(_) => return,
            },
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // A cut that arrives while these bytes are in hand drops them with the connection.
        if *mode.borrow() == Mode::Drop {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
// ANCHOR_END: forward

/// The proxies of a cluster of `servers` nodes: one per directed link between servers, and one
/// in front of each server for the clients.
pub struct Network {
    servers: usize,
    /// `links[from][to]`, `None` on the diagonal.
    links: Vec<Vec<Option<Proxy>>>,
    /// `clients[to]`: the proxy clients use to reach server `to`.
    clients: Vec<Proxy>,
}

impl Network {
    /// Proxies for `servers` servers, forwarding nowhere until [`Network::retarget`] says
    /// where each server listens.
    pub async fn start(servers: usize) -> io::Result<Network> {
        let mut links = Vec::with_capacity(servers);
        for from in 0..servers {
            let mut row = Vec::with_capacity(servers);
            for to in 0..servers {
                row.push(if from == to {
                    None
                } else {
                    Some(Proxy::start(None).await?)
                });
            }
            links.push(row);
        }
        let mut clients = Vec::with_capacity(servers);
        for _ in 0..servers {
            clients.push(Proxy::start(None).await?);
        }
        Ok(Network {
            servers,
            links,
            clients,
        })
    }

    /// How many servers.
    pub fn servers(&self) -> usize {
        self.servers
    }

    /// The addresses server `from` must use for its peers (its own slot: its client proxy,
    /// which it never uses).
    pub fn peer_addrs(&self, from: usize) -> Vec<SocketAddr> {
        (0..self.servers)
            .map(|to| match &self.links[from][to] {
                Some(link) => link.addr(),
                None => self.clients[to].addr(),
            })
            .collect()
    }

    /// The address a client uses to reach server `to`.
    pub fn client_addr(&self, to: usize) -> SocketAddr {
        self.clients[to].addr()
    }

    /// Server `to` now listens at `addr` (it restarted): every proxy in front of it follows.
    pub fn retarget(&self, to: usize, addr: SocketAddr) {
        for row in &self.links {
            if let Some(link) = &row[to] {
                link.set_target(addr);
            }
        }
        self.clients[to].set_target(addr);
    }

    /// Sets the mode of the link `from -> to` (ignored on the diagonal).
    pub fn set_link(&self, from: usize, to: usize, mode: Mode) {
        if let Some(link) = &self.links[from][to] {
            link.set_mode(mode);
        }
    }

    /// Cuts every link between `side` and the other servers, both ways.
    pub fn partition(&self, side: &[usize], mode: Mode) {
        for from in 0..self.servers {
            for to in 0..self.servers {
                if side.contains(&from) != side.contains(&to) {
                    self.set_link(from, to, mode);
                }
            }
        }
    }

    /// Heals every link between servers (client proxies are never cut).
    pub fn heal(&self) {
        for row in &self.links {
            for link in row.iter().flatten() {
                link.set_mode(Mode::Pass);
            }
        }
    }

    /// The links not in [`Mode::Pass`], as `(from, to, mode)`.
    pub fn faults(&self) -> Vec<(usize, usize, Mode)> {
        let mut faults = Vec::new();
        for (from, row) in self.links.iter().enumerate() {
            for (to, link) in row.iter().enumerate() {
                if let Some(link) = link
                    && link.mode() != Mode::Pass
                {
                    faults.push((from, to, link.mode()));
                }
            }
        }
        faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// An echo server on loopback, for the proxy to stand in front of.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(addr: SocketAddr) -> io::Result<Vec<u8>> {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        tokio::time::timeout(Duration::from_millis(300), s.read_exact(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer"))??;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn a_proxy_passes_drops_stalls_and_heals() {
        let proxy = Proxy::start(None).await.unwrap();
        assert!(round_trip(proxy.addr()).await.is_err(), "no target yet");
        proxy.set_target(echo().await);
        assert_eq!(round_trip(proxy.addr()).await.unwrap(), b"ping");
        proxy.set_mode(Mode::Drop);
        assert!(round_trip(proxy.addr()).await.is_err());
        proxy.set_mode(Mode::Stall);
        assert!(round_trip(proxy.addr()).await.is_err());
        proxy.set_mode(Mode::Pass);
        assert_eq!(round_trip(proxy.addr()).await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn a_cut_closes_an_open_connection_and_a_retarget_follows_a_restart() {
        let proxy = Proxy::start(Some(echo().await)).await.unwrap();
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        proxy.set_mode(Mode::Drop);
        let after = tokio::time::timeout(Duration::from_secs(2), open.read(&mut buf)).await;
        assert!(matches!(after, Ok(Ok(0)) | Ok(Err(_))), "closed: {after:?}");
        proxy.set_mode(Mode::Pass);
        proxy.set_target(echo().await);
        assert_eq!(round_trip(proxy.addr()).await.unwrap(), b"ping");
    }

    #[tokio::test]
    async fn a_network_partitions_one_side_both_ways() {
        let net = Network::start(3).await.unwrap();
        for to in 0..3 {
            net.retarget(to, echo().await);
        }
        net.partition(&[0], Mode::Drop);
        let mut cut: Vec<_> = net.faults().into_iter().map(|(f, t, _)| (f, t)).collect();
        cut.sort();
        assert_eq!(cut, vec![(0, 1), (0, 2), (1, 0), (2, 0)]);
        assert!(round_trip(net.peer_addrs(1)[0]).await.is_err());
        assert_eq!(round_trip(net.peer_addrs(1)[2]).await.unwrap(), b"ping");
        net.heal();
        assert!(net.faults().is_empty());
        assert_eq!(round_trip(net.peer_addrs(1)[0]).await.unwrap(), b"ping");
    }
}
