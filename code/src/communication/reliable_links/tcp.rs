//! The real thing: the kernel's TCP on loopback, and the kernel's own view of a connection.
//!
//! Everything the rest of this module builds by hand, the operating system does for every
//! socket: [`echo_server`] and [`echo_round_trip`] are a few lines of tokio, and the sequence
//! numbers, retransmissions, windows and timers are all underneath. To see them we ask the
//! kernel: `ss -tin` prints its `tcp_info` for each connection (smoothed RTT and its variance,
//! congestion window in segments, MSS, bytes acknowledged), which [`parse_ss`] reads.
//!
//! [`nagle_latency`] measures the classic interaction of Nagle's algorithm (RFC 896: hold a
//! small segment while an earlier one is unacknowledged) with delayed ACKs (RFC 1122
//! §4.2.3.2: wait a little before acknowledging, hoping to piggyback the ACK on data): a client
//! that writes a request in two pieces and then waits for the answer stalls until the server's
//! delayed-ACK timer fires. `TCP_NODELAY` turns Nagle off.
//!
//! Every server binds 127.0.0.1 port 0 and reports the port the kernel chose.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the kernel reports about one TCP connection (`ss -tin`).
#[derive(Clone, Debug, PartialEq)]
pub struct KernelView {
    /// The smoothed round-trip time and its mean deviation, in milliseconds.
    pub rtt_ms: f64,
    pub rttvar_ms: f64,
    /// The retransmission timeout, in milliseconds.
    pub rto_ms: f64,
    /// The congestion window, in segments.
    pub cwnd: u64,
    /// The maximum segment size, in bytes.
    pub mss: u64,
    /// Bytes the peer acknowledged, if the kernel reports it.
    pub bytes_acked: Option<u64>,
    /// The raw line of `ss`, for the curious.
    pub raw: String,
}

// ANCHOR: parse_ss
/// Reads the `tcp_info` line of the connection whose local port is `port` in the output of
/// `ss -tin`.
pub fn parse_ss(output: &str, port: u16) -> Result<KernelView, String> {
    let local = format!(":{port}");
    let mut lines = output.lines();
    let info = loop {
        let Some(line) = lines.next() else {
            return Err(format!(
                "no connection with local port {port} in:\n{output}"
            ));
        };
        let mut columns = line.split_whitespace();
        let is_ours = columns.nth(3).is_some_and(|addr| addr.ends_with(&local));
        if line.starts_with("ESTAB") && is_ours {
            break lines.next().unwrap_or_default();
        }
    };
    let field = |key: &str| {
        info.split_whitespace()
            .find_map(|t| t.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
    };
    let number = |key: &str| -> Result<f64, String> {
        let v = field(key).ok_or_else(|| format!("no `{key}` in `{}`", info.trim()))?;
        v.parse()
            .map_err(|_| format!("`{key}:{v}` is not a number"))
    };
    let rtt = field("rtt").ok_or_else(|| format!("no `rtt` in `{}`", info.trim()))?;
    let (rtt, rttvar) = rtt
        .split_once('/')
        .ok_or_else(|| format!("`rtt:{rtt}` is not `srtt/rttvar`"))?;
    let ms = |v: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("`{v}` is not a time in ms"))
    };
    Ok(KernelView {
        rtt_ms: ms(rtt)?,
        rttvar_ms: ms(rttvar)?,
        rto_ms: number("rto")?,
        cwnd: number("cwnd")? as u64,
        mss: number("mss")? as u64,
        bytes_acked: field("bytes_acked").and_then(|v| v.parse().ok()),
        raw: info.trim().to_string(),
    })
}
// ANCHOR_END: parse_ss

/// Runs `ss -tin` for the connection whose local port is `port` and parses its line.
pub fn kernel_view(port: u16) -> Result<KernelView, String> {
    let output = Command::new("ss")
        .args(["-tin", "sport", "=", &format!(":{port}")])
        .output()
        .map_err(|e| {
            format!("cannot run `ss` ({e}): install iproute2: apt-get install -y iproute2")
        })?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(format!("`ss -tin` failed: {err}"));
    }
    parse_ss(&String::from_utf8_lossy(&output.stdout), port)
}

// ANCHOR: echo_server
/// An echo server on 127.0.0.1, on a port the kernel picks: it writes back what it reads,
/// on every connection, until the client closes.
pub async fn echo_server() -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = stream.split();
                // Ends when the client closes or the connection fails; nothing to report.
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    Ok((addr, task))
}
// ANCHOR_END: echo_server

/// What one echo exchange measured.
#[derive(Clone, Debug)]
pub struct EchoReport {
    pub bytes: usize,
    pub elapsed: Duration,
    /// The client socket as the kernel saw it just before closing.
    pub kernel: KernelView,
}

// ANCHOR: echo_round_trip
/// Sends `bytes` to the echo server at `addr`, reads them back, checks them, and asks the
/// kernel about the client's connection before closing it.
pub async fn echo_round_trip(addr: SocketAddr, bytes: usize) -> Result<EchoReport, String> {
    let started = Instant::now();
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let port = stream.local_addr().map_err(|e| e.to_string())?.port();
    let (mut rd, mut wr) = stream.into_split();
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    let to_send = data.clone();
    // Write and read at once: a large message would fill both buffers and deadlock otherwise.
    let writer = tokio::spawn(async move { wr.write_all(&to_send).await.map(|()| wr) });
    let mut back = vec![0; bytes];
    rd.read_exact(&mut back)
        .await
        .map_err(|e| format!("read the echo: {e}"))?;
    let _wr = writer
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("write: {e}"))?;
    if back != data {
        return Err("the echo differs from what was sent".to_string());
    }
    let elapsed = started.elapsed();
    let kernel = kernel_view(port)?;
    Ok(EchoReport {
        bytes,
        elapsed,
        kernel,
    })
}
// ANCHOR_END: echo_round_trip

// ANCHOR: nagle
/// The median time of `rounds` request/response exchanges in which the client writes its
/// request as two small writes (a header, then a body) and then reads a small response.
pub async fn nagle_latency(nodelay: bool, rounds: usize) -> Result<Duration, String> {
    const HEADER: usize = 8;
    const BODY: usize = 64;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await?;
        let mut request = [0u8; HEADER + BODY];
        for _ in 0..rounds {
            s.read_exact(&mut request).await?;
            s.write_all(b"ok").await?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut client = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    client.set_nodelay(nodelay).map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(rounds);
    let mut reply = [0u8; 2];
    for _ in 0..rounds {
        let started = Instant::now();
        let io = async {
            client.write_all(&[1; HEADER]).await?; // write...
            client.write_all(&[2; BODY]).await?; // ...write...
            client.read_exact(&mut reply).await // ...read
        };
        io.await.map_err(|e| format!("exchange: {e}"))?;
        times.push(started.elapsed());
    }
    server
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("server: {e}"))?;
    times.sort();
    Ok(times[times.len() / 2])
}
// ANCHOR_END: nagle

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
ESTAB  0      0          127.0.0.1:41234    127.0.0.1:5555
\t cubic wscale:7,7 rto:204 rtt:0.052/0.021 ato:40 mss:32768 pmtu:65535 rcvmss:536 \
advmss:65483 cwnd:10 bytes_sent:100000 bytes_acked:100001 bytes_received:100000 \
segs_out:20 segs_in:18 data_segs_out:8 send 50413.5Mbps lastsnd:4 lastrcv:4 lastack:4
";

    #[test]
    fn parses_the_kernels_view_of_the_connection() {
        let v = parse_ss(SAMPLE, 41234).expect("parses");
        assert_eq!((v.rtt_ms, v.rttvar_ms, v.rto_ms), (0.052, 0.021, 204.0));
        assert_eq!((v.cwnd, v.mss, v.bytes_acked), (10, 32768, Some(100_001)));
    }

    #[test]
    fn a_missing_connection_or_field_is_an_error_not_a_panic() {
        assert!(
            parse_ss(SAMPLE, 5555).is_err(),
            "5555 is the peer's port, not ours"
        );
        assert!(parse_ss("", 1).is_err());
        let broken = SAMPLE.replace("rtt:0.052/0.021", "rtt:fast");
        assert!(
            parse_ss(&broken, 41234)
                .unwrap_err()
                .contains("srtt/rttvar")
        );
        let truncated: String = SAMPLE.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(parse_ss(&truncated, 41234).is_err());
    }
}
