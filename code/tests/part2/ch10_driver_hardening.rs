//! Chapter 10, Raft in practice: the TCP driver refuses bad frames and keeps serving (issue 9).
//!
//! A live 3-server cluster (`uds::driver::raft_cluster`) gets raw frames over TCP: every message
//! kind with ids outside the cluster, impersonated ids, wrong and huge terms, absurd indexes,
//! oversized and truncated frames, random bytes, and a seeded fuzz of thousands of frames. Each
//! must be refused and counted exactly once, no handler may panic, and afterwards `status`
//! answers and the cluster commits. Before issue 9 the first of these frames (an
//! `AppendEntriesResponse` "from" the client's node number) panicked the leader while it held
//! the driver's locks. The fuzz size comes from `UDS_FUZZ_FRAMES` (default 3,000) and its seed
//! from `UDS_FUZZ_SEED`.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry as Slot;
use std::time::Duration;

use proptest::prelude::*;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use uds::coordination::raft::history::{KvInput, KvOutput};
use uds::coordination::raft::kv::Command;
use uds::coordination::raft::message::{
    AppendEntries, AppendEntriesResponse, ClientResponse, Message, RequestVote, RequestVoteResponse,
};
use uds::coordination::raft::{Config, Entry, Server};
use uds::driver::raft_cluster::{ClusterOptions, RaftCluster};
use uds::driver::tcp::{self, Hooks, MAX_FRAME_BYTES, NodeSpec, Standalone};
use uds::driver::validate::{self, Membership, Receiver};
use uds::sim::{Ctx, Metrics, NodeId, Process, TimerId};

use super::support::env;

const SERVERS: usize = 3;
/// The console client's node.
const CLIENT: usize = SERVERS;
const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Serialize)]
struct Envelope<'a> {
    from: usize,
    msg: &'a Message,
}

/// A frame as the driver writes it: a big-endian length, then the JSON envelope.
fn frame(from: usize, msg: &Message) -> Vec<u8> {
    let body = serde_json::to_vec(&Envelope { from, msg }).unwrap();
    raw(&body)
}

fn raw(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Writes `bytes` on a new connection to `to` and closes it. Write errors are fine: the node
/// may close the connection first.
async fn send_raw(raft: &RaftCluster, to: usize, bytes: &[u8]) {
    let mut stream = TcpStream::connect(raft.addr(NodeId(to))).await.unwrap();
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
}

fn put(key: &str, value: &str) -> KvInput {
    KvInput::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn command(client: u64, seq: u64, key: &str) -> Command {
    Command {
        client,
        seq,
        input: put(key, "forged"),
    }
}

fn append(term: u64, leader: usize, prev: u64, prev_term: u64, terms: &[u64]) -> Message {
    Message::AppendEntries(AppendEntries {
        term,
        leader: NodeId(leader),
        prev_log_index: prev,
        prev_log_term: prev_term,
        entries: terms
            .iter()
            .map(|&term| Entry {
                term,
                command: Some(command(CLIENT as u64, 1, "k")),
            })
            .collect(),
        leader_commit: 0,
    })
}

fn ack(term: u64, success: bool, match_index: u64) -> Message {
    Message::AppendEntriesResponse(AppendEntriesResponse {
        term,
        success,
        match_index,
        conflict_index: 0,
    })
}

fn vote(term: u64, candidate: usize) -> Message {
    Message::RequestVote(RequestVote {
        term,
        candidate: NodeId(candidate),
        last_log_index: 1_000,
        last_log_term: term,
    })
}

/// Long election timeouts: on a busy machine a spurious election would change the terms the
/// forged frames are built from.
async fn start(seed: u64) -> RaftCluster {
    let config = Config {
        election_timeout_ms_min: 1_000,
        election_timeout_ms_max: 2_000,
        ..Config::default()
    };
    let options = ClusterOptions {
        config,
        client_deadline_ms: 8_000,
        ..ClusterOptions::default()
    };
    RaftCluster::start(SERVERS, seed, options).await.unwrap().0
}

/// The differences between two snapshots of the `bad_frames*` counters.
fn refusals(before: &Metrics, after: &Metrics) -> BTreeMap<&'static str, u64> {
    after
        .counters()
        .filter(|(name, _)| name.starts_with("bad_frames"))
        .map(|(name, n)| (name, n - before.counter(name)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Waits until `sent` more frames were refused than in `before`, then checks the cluster: no
/// handler panicked, every server is up, `status` answers, and a command commits.
async fn still_serving(raft: &RaftCluster, before: &Metrics, sent: u64, what: &str) {
    let refused = |m: &Metrics| m.counter("bad_frames") - before.counter("bad_frames");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while refused(&raft.metrics()) < sent && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = raft.metrics();
    assert_eq!(
        refused(&after),
        sent,
        "{what}: every bad frame refused exactly once: {:?}",
        refusals(before, &after)
    );
    assert_eq!(after.counter("handler_panics"), 0, "{what}");
    let status = raft.status();
    assert_eq!(
        status.len(),
        SERVERS,
        "{what}: status answers for every server"
    );
    assert!(status.iter().all(|s| s.up), "{what}: {status:?}");
    let done = raft.submit(put("after", what)).await.expect(what);
    assert_eq!(done.output, Some(KvOutput::Ok), "{what}");
}

#[tokio::test]
async fn forged_frames_of_every_kind_are_refused_and_the_cluster_keeps_serving() {
    let raft = start(3).await;
    let (leader, term) = raft.wait_for_leader(0, PATIENCE).await.expect("a leader");
    let done = raft.submit(put("x", "1")).await.unwrap();
    assert_eq!(done.output, Some(KvOutput::Ok));
    let (l, f) = (leader.0, (leader.0 + 1) % SERVERS);
    let huge = u64::MAX;
    let not_leader = |leader: Option<usize>| {
        Message::ClientResponse(ClientResponse::NotLeader {
            seq: 999_999,
            leader: leader.map(NodeId),
        })
    };
    // (to, from, message, the counter that must refuse it)
    let forged: Vec<(usize, usize, Message, &str)> = vec![
        // The issue's first crash: a client's node number indexed the leader's match_index.
        (l, CLIENT, ack(term, true, 1), "not_a_server"),
        (l, 99, ack(term, true, 1), "unknown_sender"),
        (l, f, ack(term, true, huge), "index"),
        (l, f, ack(term, true, 1_000), "beyond_log"),
        (l, l, ack(term, true, 1), "from_self"),
        // A vote for a node that does not exist would spend the voter's vote.
        (f, l, vote(term + 1, 99), "impersonation"),
        (f, l, vote(huge, l), "term"),
        (f, CLIENT, vote(term + 1, CLIENT), "not_a_server"),
        (
            l,
            CLIENT,
            Message::RequestVoteResponse(RequestVoteResponse {
                term,
                vote_granted: true,
            }),
            "not_a_server",
        ),
        // A second leader in the leader's own term: the core asserts this never happens.
        (l, f, append(term, f, 0, 0, &[]), "second_leader"),
        (f, l, append(term, 99, 0, 0, &[]), "impersonation"),
        (f, l, append(term, l, huge, term, &[term]), "index"),
        (
            f,
            l,
            append(term, l, 0, 0, &[term, term - 1]),
            "entry_terms",
        ),
        (f, l, append(0, l, 0, 0, &[]), "term"),
        // A session that is not the sender's: the answer would go to node 99.
        (
            l,
            CLIENT,
            Message::ClientRequest(command(99, 1, "x")),
            "impersonation",
        ),
        (
            l,
            f,
            Message::ClientRequest(command(f as u64, 1, "x")),
            "not_a_client",
        ),
        (
            l,
            CLIENT,
            Message::ClientRequest(command(CLIENT as u64, 0, "x")),
            "zero_seq",
        ),
        (
            l,
            CLIENT,
            Message::ClientRequest(command(CLIENT as u64, 7, &"k".repeat(5_000))),
            "too_long",
        ),
        (l, f, not_leader(None), "wrong_receiver"),
        (CLIENT, l, not_leader(Some(99)), "bad_hint"),
        (CLIENT, l, append(term, l, 0, 0, &[]), "wrong_receiver"),
    ];
    let before = raft.metrics();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for (to, from, msg, counter) in &forged {
        send_raw(&raft, *to, &frame(*from, msg)).await;
        *expected.entry(format!("bad_frames.{counter}")).or_default() += 1;
    }
    // The frame gate: lengths that lie, bytes that are not JSON, a sender that changes.
    let harmless = frame(l, &not_leader(None));
    let gate: Vec<(Vec<u8>, &str)> = vec![
        (u32::MAX.to_be_bytes().to_vec(), "oversized"),
        (
            ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes().to_vec(),
            "oversized",
        ),
        (
            [&100u32.to_be_bytes()[..], b"{\"from\":"].concat(),
            "truncated",
        ),
        (raw(b""), "malformed"),
        (raw(&[0xff, 0x00, 0x7b, 0x22]), "malformed"),
        (
            [harmless.clone(), frame(f, &not_leader(None))].concat(),
            "sender_changed",
        ),
    ];
    for (bytes, counter) in &gate {
        send_raw(&raft, CLIENT, bytes).await;
        *expected.entry(format!("bad_frames.{counter}")).or_default() += 1;
    }
    let sent = (forged.len() + gate.len()) as u64;
    still_serving(&raft, &before, sent, "forged frames").await;
    let got = refusals(&before, &raft.metrics());
    for (counter, n) in &expected {
        assert_eq!(got.get(counter.as_str()), Some(n), "{counter}: {got:?}");
    }
    assert_eq!(
        raft.submit(KvInput::Get { key: "x".into() })
            .await
            .unwrap()
            .output,
        Some(KvOutput::Value(Some("1".into()))),
        "no forged command was applied"
    );
}

/// A small seeded generator (SplitMix64), so that the fuzz needs no crate and replays exactly.
struct Fuzz(u64);

impl Fuzz {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    /// A message of a random kind with random, often extreme, fields.
    fn message(&mut self) -> Message {
        let values = [
            0,
            1,
            2,
            3,
            7,
            1 << 48,
            (1 << 48) + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        let ids = [0, 1, 2, 3, 4, 99, usize::MAX];
        let (t, i) = (self.pick(&values), self.pick(&values));
        match self.below(6) {
            0 => vote(t, self.pick(&ids)),
            1 => Message::RequestVoteResponse(RequestVoteResponse {
                term: t,
                vote_granted: self.below(2) == 0,
            }),
            2 => {
                let terms: Vec<u64> = (0..self.below(4)).map(|_| self.pick(&values)).collect();
                append(t, self.pick(&ids), i, self.pick(&values), &terms)
            }
            3 => ack(t, self.below(2) == 0, i),
            4 => Message::ClientRequest(command(self.pick(&values), i, "k")),
            _ => Message::ClientResponse(ClientResponse::NotLeader {
                seq: i,
                leader: Some(NodeId(self.pick(&ids))),
            }),
        }
    }
}

/// Whether a message from `from` to `to` breaks a rule that needs no receiver state.
fn invalid(from: usize, to: usize, msg: &Message) -> bool {
    let members = Membership {
        servers: SERVERS,
        nodes: SERVERS + 1,
    };
    // A fresh server of term 0 holds no leader state, so only stateless rules apply.
    let server = Server::new(NodeId(to % SERVERS), SERVERS, Config::default());
    let receiver = if to < SERVERS {
        Receiver::Server(&server)
    } else {
        Receiver::Client
    };
    validate::check(members, receiver, NodeId(from), msg).is_err()
}

#[tokio::test]
async fn a_seeded_fuzz_of_thousands_of_frames_is_refused_frame_by_frame() {
    let frames = env("UDS_FUZZ_FRAMES", 3_000);
    let seed = env("UDS_FUZZ_SEED", 9);
    println!(
        "fuzzing {frames} frames with seed {seed}; replay: UDS_FUZZ_SEED={seed} cargo test -p uds \
         --release --test part2 ch10_driver_hardening::a_seeded_fuzz"
    );
    let raft = start(seed).await;
    raft.wait_for_leader(0, PATIENCE).await.expect("a leader");
    let mut rng = Fuzz(seed);
    let before = raft.metrics();
    // One connection per (sender, receiver) for messages the protocol check refuses: such a
    // refusal drops the message but keeps the connection.
    let mut open: BTreeMap<(usize, usize), TcpStream> = BTreeMap::new();
    for _ in 0..frames {
        let to = rng.below(SERVERS as u64 + 1) as usize;
        match rng.below(4) {
            // Random bytes behind a true length.
            0 => {
                let len = rng.below(300) as usize;
                send_raw(&raft, to, &raw(&rng.bytes(len))).await;
            }
            // A lying length: too large, or longer than what follows before the close.
            1 => {
                let len = rng.pick(&[u32::MAX, (MAX_FRAME_BYTES + 1) as u32, 64, 4_096]);
                let short = rng.below(u64::from(len.min(64))) as usize;
                let body = rng.bytes(short);
                send_raw(&raft, to, &[&len.to_be_bytes()[..], &body].concat()).await;
            }
            // A valid envelope from node 99 with 1 to 3 bytes replaced at random.
            2 => {
                let mut body = serde_json::to_vec(&Envelope {
                    from: 99,
                    msg: &rng.message(),
                })
                .unwrap();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(body.len() as u64) as usize;
                    body[at] = rng.next() as u8;
                }
                send_raw(&raft, to, &raw(&body)).await;
            }
            // A well-formed message from a node of the cluster that breaks a rule.
            _ => {
                let from = rng.below(SERVERS as u64 + 1) as usize;
                let msg = loop {
                    let msg = rng.message();
                    if invalid(from, to, &msg) {
                        break msg;
                    }
                };
                let stream = match open.entry((from, to)) {
                    Slot::Occupied(open) => open.into_mut(),
                    Slot::Vacant(slot) => {
                        slot.insert(TcpStream::connect(raft.addr(NodeId(to))).await.unwrap())
                    }
                };
                stream.write_all(&frame(from, &msg)).await.unwrap();
            }
        }
    }
    still_serving(&raft, &before, frames, "fuzz").await;
    println!("refusals: {:?}", refusals(&before, &raft.metrics()));
}

proptest! {
    /// The frame decoder alone: any bytes give a message from a node of the cluster or a
    /// refusal, never a panic; any encoded message decodes to itself.
    #[test]
    fn the_frame_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                      prefix in any::<u32>()) {
        match tcp::decode_frame::<Message>(&bytes, SERVERS + 1) {
            Ok((from, _)) => prop_assert!(from.0 <= SERVERS),
            Err(rejected) => prop_assert!(rejected.counter.starts_with("bad_frames.")),
        }
        prop_assert_eq!(tcp::frame_len(prefix).is_ok(), prefix as usize <= MAX_FRAME_BYTES);
    }

    #[test]
    fn encoded_messages_decode_to_themselves(seed in any::<u64>(), from in 0..=SERVERS) {
        let msg = Fuzz(seed).message();
        let body = &frame(from, &msg)[4..];
        let (got_from, got) = tcp::decode_frame::<Message>(body, SERVERS + 1).unwrap();
        prop_assert_eq!(got_from, NodeId(from));
        prop_assert_eq!(got, msg);
    }
}

/// A process with a planted bug: it panics on message 13.
#[derive(Clone, Debug)]
struct Fragile {
    received: u32,
}

impl Process for Fragile {
    type Msg = u32;
    type Durable = u32;

    fn on_start(&mut self, _ctx: &mut Ctx<'_, u32>) {}

    fn on_message(&mut self, _ctx: &mut Ctx<'_, u32>, _from: NodeId, msg: u32) {
        assert_ne!(msg, 13, "the planted bug");
        self.received += 1;
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, u32>, _timer: TimerId) {}

    fn durable(&self) -> u32 {
        self.received
    }
}

#[tokio::test]
async fn a_panicking_handler_stops_its_node_only_and_poisons_nothing() {
    let hooks = Hooks {
        restart: Some(std::sync::Arc::new(|_, received| Fragile { received })),
        ..Hooks::default()
    };
    let nodes = vec![Fragile { received: 0 }; 2];
    let mut cluster = tcp::Cluster::start_with(nodes, 1, hooks).await.unwrap();
    let addrs = [cluster.addr(NodeId(0)), cluster.addr(NodeId(1))];
    let to = |n: usize| addrs[n];
    let mut stream = TcpStream::connect(to(0)).await.unwrap();
    let frame = |msg: u32| raw(format!(r#"{{"from":1,"msg":{msg}}}"#).as_bytes());
    stream.write_all(&frame(1)).await.unwrap();
    stream.write_all(&frame(13)).await.unwrap();
    let panicked = |m: &Metrics| m.counter("handler_panics") == 1;
    assert!(cluster.wait_until(panicked, PATIENCE).await);
    // The metrics and the process can still be read: no lock was poisoned.
    assert!(!cluster.is_up(NodeId(0)) && cluster.has_failed(NodeId(0)));
    assert_eq!(cluster.inspect(NodeId(0), |p| p.received).unwrap(), 1);
    // The other node still works.
    let mut other = TcpStream::connect(to(1)).await.unwrap();
    let frame0 = raw(br#"{"from":0,"msg":5}"#);
    other.write_all(&frame0).await.unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while cluster.inspect(NodeId(1), |p| p.received).unwrap() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "node 1 stopped too");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A failed node restarts like a killed one, from its durable state.
    cluster.restart(NodeId(0)).await.unwrap();
    assert!(cluster.is_up(NodeId(0)));
    let mut again = TcpStream::connect(to(0)).await.unwrap();
    again.write_all(&frame(2)).await.unwrap();
    while cluster.inspect(NodeId(0), |p| p.received).unwrap() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the restarted node serves"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Two nodes that pass a number back and forth, adding one, up to 20.
#[derive(Clone, Debug)]
struct Relay {
    highest: u32,
}

impl Process for Relay {
    type Msg = u32;
    type Durable = ();

    fn on_start(&mut self, ctx: &mut Ctx<'_, u32>) {
        if ctx.id() == NodeId(0) {
            ctx.send(NodeId(1), 1);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, u32>, from: NodeId, msg: u32) {
        self.highest = msg;
        if msg < 20 {
            ctx.send(from, msg + 1);
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, u32>, _timer: TimerId) {}

    fn durable(&self) {}
}

#[tokio::test]
async fn standalone_nodes_talk_as_separate_processes_would() {
    // Node 1 first, so that node 0's first message finds it listening.
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let addrs: Vec<_> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
    let spec = |id: usize| NodeSpec {
        id: NodeId(id),
        addrs: addrs.clone(),
        seed: 5,
        incarnation: 0,
    };
    let [zero, one] = listeners;
    let relay = Relay { highest: 0 };
    let mut one = Standalone::start(spec(1), one, relay.clone(), Hooks::default()).unwrap();
    let mut zero = Standalone::start(spec(0), zero, relay, Hooks::default()).unwrap();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while zero.inspect(|r| r.highest) < 20 {
        assert!(tokio::time::Instant::now() < deadline, "the relay stalled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(one.inspect(|r| r.highest), 19);
    assert_eq!(zero.metrics().counter("bad_frames"), 0);
    // A node outside its own address list is refused with an error.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = Standalone::start(spec(7), listener, Relay { highest: 0 }, Hooks::default());
    assert!(refused.is_err());
    for node in [&mut zero, &mut one] {
        node.stop().await;
        assert!(!node.is_running());
    }
}
