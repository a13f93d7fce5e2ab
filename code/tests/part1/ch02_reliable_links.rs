//! Chapter 2: the reliable transport's claims, as scenario tests and as a campaign over many
//! seeds, and the real kernel TCP over loopback.

use std::time::Duration;

use uds::communication::reliable_links::experiment::{TransferConfig, run_transfer};
use uds::communication::reliable_links::link::ReadRate;
use uds::communication::reliable_links::receiver::{Receiver, ReceiverConfig};
use uds::communication::reliable_links::segment::Segment;
use uds::communication::reliable_links::sender::{Sender, SenderConfig};
use uds::communication::reliable_links::state::State;
use uds::communication::reliable_links::tcp;
use uds::sim::Campaign;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A client and a server after the three-way handshake, at time 100 ms.
fn established(receiver: ReceiverConfig) -> (Sender, Receiver) {
    let mut sender = Sender::new(SenderConfig::default());
    let mut receiver = Receiver::new(receiver);
    sender.connect(ms(0));
    let syn = sender.poll_transmit(ms(0));
    assert!(syn.len() == 1 && syn[0].syn, "connect sends one SYN");
    assert_eq!(sender.state(), State::SynSent);
    receiver.on_segment(ms(50), syn[0].clone());
    assert_eq!(receiver.state(), State::SynReceived);
    for seg in receiver.poll_transmit() {
        sender.on_segment(ms(100), seg);
    }
    assert_eq!(sender.state(), State::Established);
    (sender, receiver)
}

/// Delivers segments back and forth, one round trip of 100 ms per round, dropping the
/// client's segments for which `drop` says so, and reading at the server if `read`.
fn exchange(
    sender: &mut Sender,
    receiver: &mut Receiver,
    now: &mut Duration,
    rounds: usize,
    read: bool,
    mut drop: impl FnMut(&Segment) -> bool,
) -> Vec<u8> {
    let mut delivered = Vec::new();
    for _ in 0..rounds {
        if sender.next_timeout().is_some_and(|t| t <= *now) {
            sender.on_timeout(*now);
        }
        for seg in sender.poll_transmit(*now) {
            if !drop(&seg) {
                receiver.on_segment(*now + ms(50), seg);
            }
        }
        if read {
            delivered.extend(receiver.read(usize::MAX));
        }
        *now += ms(100);
        for ack in receiver.poll_transmit() {
            sender.on_segment(*now, ack);
        }
    }
    delivered
}

/// Karn's rule (RFC 6298 §3): an ACK that follows a retransmission gives no RTT sample, since
/// it may answer either copy. Here the SYN is lost, resent after the 1 s initial RTO, and
/// answered: the estimator must still be empty, and the RTO stays backed off (2 s).
#[test]
fn karn_rule_takes_no_sample_from_a_retransmitted_segment() {
    let mut sender = Sender::new(SenderConfig::default());
    let mut receiver = Receiver::new(ReceiverConfig::default());
    sender.connect(ms(0));
    let _lost = sender.poll_transmit(ms(0));
    assert_eq!(
        sender.next_timeout(),
        Some(ms(1000)),
        "initial RTO of 1 s (§2.1)"
    );
    sender.on_timeout(ms(1000));
    let again = sender.poll_transmit(ms(1000));
    assert!(again[0].syn, "the SYN is resent");
    receiver.on_segment(ms(1050), again[0].clone());
    for seg in receiver.poll_transmit() {
        sender.on_segment(ms(1100), seg);
    }
    assert_eq!(sender.state(), State::Established);
    assert_eq!(
        sender.rto().srtt,
        None,
        "no sample from a retransmitted segment"
    );
    assert_eq!(sender.rto().rto, ms(2000), "backed off once (§5.5)");
    // The first data segment is sent once; its ACK is a valid sample of 100 ms.
    sender.write(&[7; 500]);
    let mut now = ms(1100);
    exchange(&mut sender, &mut receiver, &mut now, 1, true, |_| false);
    assert_eq!(sender.rto().srtt, Some(ms(100)));
    assert_eq!(sender.rto().rto, ms(300), "100 + 4 * 50 ms (§2.2)");
}

/// Fast retransmit (RFC 5681 §3.2): one lost segment among many is resent after three
/// duplicate ACKs, long before the retransmission timer would fire, and the window halves.
#[test]
fn three_duplicate_acks_resend_the_lost_segment_before_the_timer() {
    let (mut sender, mut receiver) = established(ReceiverConfig::default());
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(sender.write(&data), data.len());
    let mut now = ms(100);
    let mut dropped = false;
    // Let the window grow to 8 segments, then lose the segment at byte 4001.
    let got = exchange(&mut sender, &mut receiver, &mut now, 12, true, |seg| {
        let lose = !dropped && seg.seq == 4001;
        dropped |= lose;
        lose
    });
    assert!(dropped, "the scenario lost a segment");
    assert_eq!(sender.stats.fast_retransmits, 1, "{:?}", sender.stats);
    assert_eq!(sender.stats.timeouts, 0, "the timer never fired");
    assert_eq!(got, data, "every byte, once, in order");
    let (cwnd, ssthresh) = sender.cwnd();
    assert!(
        ssthresh < 10_000 && cwnd >= ssthresh,
        "cwnd {cwnd}, ssthresh {ssthresh}"
    );
}

/// Flow control: a receiver whose application stops reading shuts its window, and the
/// sender stops at the window's edge. When the application reads again, the window update
/// is lost; the sender's persist timer sends a zero-window probe, whose answer reopens the
/// window, so the connection does not deadlock (RFC 9293 §3.8.6.1).
#[test]
fn a_shut_window_stops_the_sender_and_a_probe_recovers_a_lost_window_update() {
    let capacity = 4000;
    let (mut sender, mut receiver) = established(ReceiverConfig {
        capacity,
        ..ReceiverConfig::default()
    });
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    sender.write(&data);
    let mut now = ms(100);
    exchange(&mut sender, &mut receiver, &mut now, 5, false, |_| false);
    assert_eq!(receiver.window(), 0, "the buffer is full");
    assert_eq!(
        sender.data_sent_end(),
        receiver.right_edge(),
        "sent up to the edge"
    );
    assert_eq!(sender.data_sent_end(), 1 + capacity);
    // The application reads everything; the window update is lost on the way back.
    let first = receiver.read(usize::MAX);
    assert_eq!(first.len() as u64, capacity);
    let update = receiver.poll_transmit();
    assert_eq!(
        update.len(),
        1,
        "reading opened the window: one window update"
    );
    let probes_before = sender.stats.probes;
    // Only the persist timer can unblock the sender now.
    let probe_at = sender.next_timeout().expect("the persist timer is set");
    now = now.max(probe_at);
    let rest = exchange(&mut sender, &mut receiver, &mut now, 30, true, |_| false);
    assert!(
        sender.stats.probes > probes_before,
        "a zero-window probe was sent"
    );
    assert_eq!([first, rest].concat(), data, "every byte, once, in order");
}

/// Closing: the FIN exchange takes the client through FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT to
/// CLOSED, and the server through CLOSE-WAIT and LAST-ACK to CLOSED, as the state diagram shows.
#[test]
fn both_ends_close_through_the_states_of_the_diagram() {
    let (mut sender, mut receiver) = established(ReceiverConfig::default());
    sender.write(b"goodbye");
    sender.close();
    let fin = sender.poll_transmit(ms(100));
    assert_eq!(sender.state(), State::FinWait1);
    assert!(fin.last().is_some_and(|s| s.fin));
    for seg in fin {
        receiver.on_segment(ms(150), seg);
    }
    assert_eq!(receiver.state(), State::CloseWait);
    assert_eq!(receiver.read(100), b"goodbye");
    let ack = receiver.poll_transmit();
    for seg in ack {
        sender.on_segment(ms(200), seg);
    }
    assert_eq!(sender.state(), State::FinWait2);
    receiver.close(ms(200));
    assert_eq!(receiver.state(), State::LastAck);
    for seg in receiver.poll_transmit() {
        sender.on_segment(ms(250), seg);
    }
    assert_eq!(sender.state(), State::TimeWait);
    for seg in sender.poll_transmit(ms(250)) {
        receiver.on_segment(ms(300), seg);
    }
    assert_eq!(receiver.state(), State::Closed);
    let end = sender.next_timeout().expect("TIME-WAIT ends");
    sender.on_timeout(end);
    assert_eq!(sender.state(), State::Closed);
}

/// The property of the chapter, over many seeds: under random loss (both ways), duplication
/// and reordering, with fast and slow readers and small and large buffers, every byte is
/// delivered exactly once and in order, both ends close, and after every event the sender
/// has sent nothing past the receiver's window (checked by the run's invariants).
#[test]
fn every_byte_arrives_exactly_once_in_order_and_never_past_the_window() {
    const NAME: &str = "every_byte_arrives_exactly_once_in_order";
    let seeds: u64 = std::env::var("UDS_CH02_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let mut campaign = Campaign::for_test("part1", NAME, seeds);
    campaign.replay =
        format!("UDS_CH02_SEED={{seed}} cargo test -p uds --release --test part1 {NAME}");
    if let Some(seed) = std::env::var("UDS_CH02_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        campaign.first_seed = seed;
        campaign.seeds = 1;
    }
    let report = campaign.run(|seed| {
        let config = random_transfer(seed);
        let report = run_transfer(&config, seed)?;
        if let Some(e) = report.error {
            return Err(e);
        }
        if report.delivered != config.bytes {
            return Err(format!(
                "delivered {} of {} bytes ({config:?})",
                report.delivered, config.bytes
            ));
        }
        if (report.client_state, report.server_state) != (State::Closed, State::Closed) {
            return Err(format!(
                "ended in {:?} / {:?}",
                report.client_state, report.server_state
            ));
        }
        Ok(())
    });
    report.assert_passed();
    eprintln!(
        "{NAME}: {} seeds, {:.0} seeds/s",
        report.passed,
        report.seeds_per_sec()
    );
}

/// A transfer with faults drawn from `seed`.
fn random_transfer(seed: u64) -> TransferConfig {
    use rand::RngExt;
    let mut rng = uds::sim::rng_stream(seed, 99);
    let slow_reader = rng.random_bool(0.3);
    TransferConfig {
        bytes: rng.random_range(1..40_000),
        one_way_delay: ms(rng.random_range(1..80)),
        loss: rng.random_range(0.0..0.25),
        ack_loss: rng.random_range(0.0..0.25),
        duplicate: rng.random_range(0.0..0.1),
        reorder: rng.random_range(0.0..0.3),
        reorder_window: ms(rng.random_range(1..200)),
        sender: SenderConfig {
            mss: rng.random_range(100..1500),
            ..SenderConfig::default()
        },
        receiver: ReceiverConfig {
            capacity: rng.random_range(1..20) * 1000,
            ..ReceiverConfig::default()
        },
        read_rate: if slow_reader {
            ReadRate::Limited {
                bytes: rng.random_range(100..3000),
                every: ms(rng.random_range(10..200)),
            }
        } else {
            ReadRate::Immediate
        },
        time_limit: Duration::from_secs(3600),
        trace: false,
    }
}

/// The real thing: an echo over the kernel's TCP on loopback, and the kernel's own view of
/// the connection (`ss -tin`): a positive round-trip time (tens of microseconds on an idle
/// machine; the bound asserted is a loose 100 ms, for loaded CI machines), a congestion window
/// of at least the initial 10 segments, every byte acknowledged.
#[test]
fn a_real_tcp_echo_on_loopback_and_the_kernels_view_of_it() {
    let rt = uds::experiment::runtime().expect("tokio starts");
    let report = rt
        .block_on(async {
            let (addr, _server) = tcp::echo_server().await.map_err(|e| e.to_string())?;
            tcp::echo_round_trip(addr, 1_000_000).await
        })
        .unwrap_or_else(|e| {
            panic!("{e}\n(run the same exchange by hand: cargo run --release -p uds --example ch02_tcp)")
        });
    let k = &report.kernel;
    assert!(
        k.rtt_ms > 0.0 && k.rtt_ms < 100.0,
        "loopback RTT {} ms",
        k.rtt_ms
    );
    assert!(k.cwnd >= 10, "cwnd {} segments", k.cwnd);
    assert!(k.mss > 0);
    if let Some(acked) = k.bytes_acked {
        assert!(acked >= 1_000_000, "bytes_acked {acked}");
    }
}

/// Nagle's algorithm with delayed ACKs: write-write-read stalls for the delayed-ACK timer,
/// TCP_NODELAY does not. We assert only what is robust on a loaded machine: with NODELAY the
/// median exchange is fast, and it is not slower than with Nagle.
#[test]
fn nodelay_removes_the_write_write_read_stall() {
    let rt = uds::experiment::runtime().expect("tokio starts");
    let (nagle, nodelay) = rt
        .block_on(async {
            let nodelay = tcp::nagle_latency(true, 9).await?;
            let nagle = tcp::nagle_latency(false, 9).await?;
            Ok::<_, String>((nagle, nodelay))
        })
        .unwrap_or_else(|e| {
            panic!("{e}\n(run the same exchange by hand: cargo run --release -p uds --example ch02_tcp)")
        });
    assert!(nodelay < ms(20), "median with NODELAY {nodelay:?}");
    assert!(nodelay <= nagle, "NODELAY {nodelay:?} vs Nagle {nagle:?}");
}
