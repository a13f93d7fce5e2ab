//! One transfer on the simulator, with its faults as knobs, and what it measured.
//!
//! [`run_transfer`] builds a two-node simulation (client, server), configures the link in each
//! direction, checks the transport's invariants after every event, runs until both ends have
//! closed or a time limit, and returns a [`TransferReport`]. The chapter's experiments, the
//! property test and the exercise all call it.

use std::time::Duration;

use super::link::{CLIENT, Endpoint, ReadRate, SERVER, Trace};
use super::receiver::ReceiverConfig;
use super::sender::{SenderConfig, SenderStats};
use super::state::State;
use crate::sim::{LinkConfig, Sim, Time};

/// A transfer and the network it crosses.
#[derive(Clone, Debug, PartialEq)]
pub struct TransferConfig {
    /// Bytes to send (`u64::MAX` for a stream that lasts the whole run).
    pub bytes: u64,
    /// The one-way delay of each direction; the round-trip time is twice this.
    pub one_way_delay: Duration,
    /// Probability that a data segment (client to server) is lost.
    pub loss: f64,
    /// Probability that an ACK (server to client) is lost.
    pub ack_loss: f64,
    /// Probability that a segment, either way, is duplicated.
    pub duplicate: f64,
    /// Probability that a segment, either way, is held back by up to `reorder_window`.
    pub reorder: f64,
    pub reorder_window: Duration,
    /// The sender's knobs (segment size, RTO floor, ...).
    pub sender: SenderConfig,
    /// The receiver's knobs (buffer size, ...).
    pub receiver: ReceiverConfig,
    /// How the server's application reads.
    pub read_rate: ReadRate,
    /// The run stops here even if the transfer has not finished.
    pub time_limit: Duration,
    /// Record the congestion window over time.
    pub trace: bool,
}

impl Default for TransferConfig {
    fn default() -> TransferConfig {
        TransferConfig {
            bytes: 1_000_000,
            one_way_delay: Duration::from_millis(50),
            loss: 0.0,
            ack_loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
            sender: SenderConfig::default(),
            receiver: ReceiverConfig::default(),
            read_rate: ReadRate::Immediate,
            time_limit: Duration::from_secs(600),
            trace: false,
        }
    }
}

impl TransferConfig {
    /// Checks the knobs a user can set.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("loss", self.loss),
            ("ack loss", self.ack_loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{name} probability {p} is not in [0, 1)"));
            }
        }
        if self.sender.mss == 0 || self.receiver.capacity == 0 {
            return Err("the segment size and the receive buffer must be positive".into());
        }
        if self.one_way_delay.is_zero() {
            return Err("the one-way delay must be positive".into());
        }
        Ok(())
    }
}

/// What one transfer did.
#[derive(Clone, Debug)]
pub struct TransferReport {
    /// Bytes the server's application read, in order and checked.
    pub delivered: u64,
    /// When the last byte was read (or the time limit, for an endless stream), in seconds.
    pub seconds: f64,
    /// Delivered bytes per second.
    pub goodput: f64,
    /// The sender's counters.
    pub stats: SenderStats,
    /// The states at the end.
    pub client_state: State,
    pub server_state: State,
    /// The first broken invariant or mismatched byte, if any.
    pub error: Option<String>,
    /// The window trace, if recorded.
    pub trace: Vec<Trace>,
    /// Data segments sent by the client, counted by the network.
    pub messages_sent: u64,
}

fn link(config: &TransferConfig, loss: f64) -> LinkConfig {
    LinkConfig::constant(config.one_way_delay)
        .with_loss(loss)
        .with_duplicate(config.duplicate)
        .with_reorder(config.reorder, config.reorder_window)
}

// ANCHOR: invariants
/// The transport's safety properties, checked after every simulated event.
fn check_invariants(sim: &Sim<Endpoint>) -> Result<(), String> {
    let client = sim.process(CLIENT).and_then(Endpoint::as_client);
    let server = sim.process(SERVER).and_then(Endpoint::as_server);
    let (Some(client), Some(server)) = (client, server) else {
        return Ok(());
    };
    let receiver = &server.receiver;
    if receiver.state() != State::Listen && client.sender.data_sent_end() > receiver.right_edge() {
        return Err(format!(
            "the sender sent up to byte {} but the receiver's window ends at {}",
            client.sender.data_sent_end(),
            receiver.right_edge()
        ));
    }
    if receiver.buffered() > receiver.capacity() {
        return Err(format!("the receiver holds {} bytes", receiver.buffered()));
    }
    if let Some(m) = &server.mismatch {
        return Err(format!("delivered out of order or corrupted: {m}"));
    }
    if server.delivered > client.written {
        return Err(format!(
            "delivered {} bytes but only {} were written",
            server.delivered, client.written
        ));
    }
    Ok(())
}
// ANCHOR_END: invariants

/// Runs one transfer with `seed`.
pub fn run_transfer(config: &TransferConfig, seed: u64) -> Result<TransferReport, String> {
    config.validate()?;
    let client = Endpoint::client(config.sender.clone(), config.bytes, config.trace);
    let server = Endpoint::server(config.receiver.clone(), config.read_rate);
    let mut sim = Sim::new(seed, link(config, config.loss), vec![client, server]);
    sim.set_link(SERVER, CLIENT, link(config, config.ack_loss));
    sim.add_invariant("transport", check_invariants);
    let limit = Time::from_secs_f64(config.time_limit.as_secs_f64());
    let mut error = None;
    loop {
        match sim.step() {
            Ok(true) => {}
            Ok(false) => break,
            Err(violation) => {
                error = Some(violation.to_string());
                break;
            }
        }
        if sim.now() > limit {
            break;
        }
        let closed = |id| sim.process(id).map(Endpoint::state) == Some(State::Closed);
        if closed(CLIENT) && closed(SERVER) {
            break;
        }
    }
    let client = sim
        .process(CLIENT)
        .and_then(Endpoint::as_client)
        .expect("node 0");
    let server = sim
        .process(SERVER)
        .and_then(Endpoint::as_server)
        .expect("node 1");
    let seconds = if config.bytes == u64::MAX {
        config.time_limit.as_secs_f64()
    } else {
        server.last_read_at.as_secs_f64()
    };
    Ok(TransferReport {
        delivered: server.delivered,
        seconds,
        goodput: server.delivered as f64 / seconds.max(1e-9),
        stats: client.sender.stats.clone(),
        client_state: client.sender.state(),
        server_state: server.receiver.state(),
        error,
        trace: client.trace.clone().unwrap_or_default(),
        messages_sent: sim.stats().sent,
    })
}

/// The Mathis et al. (1997) estimate of a long transfer's goodput, in bytes per second:
/// `mss / (rtt * sqrt(2p/3))`, for loss probability `p` in congestion avoidance.
pub fn mathis_goodput(mss: u64, rtt: Duration, p: f64) -> f64 {
    mss as f64 / (rtt.as_secs_f64() * (2.0 * p / 3.0).sqrt())
}
