//! The Raft servers of chapter 10, unchanged, as a live cluster over TCP on loopback
//! (`uds::driver::raft_cluster`): they elect a leader, serve a client, survive the leader's
//! crash (§5.2), apply a retried command once (§8), and a restarted server catches up from its
//! durable state (§5.3, Figure 2). The prompt's parser turns every malformed line into a
//! precise error. Timeouts are generous for a slow machine, and bounded.

use std::time::Duration;

use uds::coordination::raft::Role;
use uds::coordination::raft::history::{KvInput, KvOutput};
use uds::driver::raft_cluster::{
    ClusterOptions, ConsoleCommand, Event, ExecError, RaftCluster, parse,
};
use uds::sim::NodeId;

/// How long any one election may take on a slow, shared machine.
const ELECTION: Duration = Duration::from_secs(10);

fn put(key: &str, value: &str) -> KvInput {
    KvInput::Put {
        key: key.into(),
        value: value.into(),
    }
}

fn append(key: &str, value: &str) -> KvInput {
    KvInput::Append {
        key: key.into(),
        value: value.into(),
    }
}

fn get(key: &str) -> KvInput {
    KvInput::Get { key: key.into() }
}

fn value(v: &str) -> Option<KvOutput> {
    Some(KvOutput::Value(Some(v.into())))
}

async fn start(
    servers: usize,
    seed: u64,
) -> (RaftCluster, tokio::sync::mpsc::UnboundedReceiver<Event>) {
    let options = ClusterOptions {
        client_deadline_ms: 8_000,
        ..ClusterOptions::default()
    };
    RaftCluster::start(servers, seed, options).await.unwrap()
}

#[tokio::test]
async fn a_cluster_over_tcp_serves_and_reelects_after_its_leader_is_killed_5_2() {
    let (mut raft, mut events) = start(3, 1).await;
    let (old, old_term) = raft
        .wait_for_leader(0, ELECTION)
        .await
        .expect("a first leader");

    let done = raft.submit(put("x", "1")).await.unwrap();
    assert_eq!(done.output, Some(KvOutput::Ok));
    assert_eq!(raft.submit(get("x")).await.unwrap().output, value("1"));

    raft.kill(old).await.unwrap();
    let (new, new_term) = raft
        .wait_for_leader(old_term, ELECTION)
        .await
        .expect("the two survivors elect a new leader");
    assert_ne!(new, old);
    assert!(new_term > old_term);

    // The committed value survived the leader; the client finds the new leader by itself.
    assert_eq!(raft.submit(get("x")).await.unwrap().output, value("1"));
    let done = raft.submit(append("x", "2")).await.unwrap();
    assert_eq!(done.output, Some(KvOutput::Ok));
    assert_eq!(done.answered_by, Some(new));
    assert_eq!(raft.submit(get("x")).await.unwrap().output, value("12"));

    // The observer reported both elections as they happened.
    let mut leaders = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let Event::Leader { node, term } = event {
            leaders.push((node, term));
        }
    }
    assert!(leaders.contains(&(old, old_term)), "{leaders:?}");
    assert!(leaders.contains(&(new, new_term)), "{leaders:?}");
}

#[tokio::test]
async fn a_command_retried_while_the_leader_is_down_is_applied_once_8() {
    let (mut raft, _events) = start(3, 2).await;
    let (leader, _) = raft.wait_for_leader(0, ELECTION).await.expect("a leader");
    raft.submit(put("k", "a")).await.unwrap();
    // The client still believes in the dead leader: its first send is lost, and it retries
    // the same sequence number until a new leader answers.
    raft.kill(leader).await.unwrap();
    let done = raft.submit(append("k", "b")).await.unwrap();
    assert!(done.sends > 1, "the first send went to the dead leader");
    assert_eq!(raft.submit(get("k")).await.unwrap().output, value("ab"));
}

#[tokio::test]
async fn a_restarted_server_keeps_its_disk_and_catches_up_figure_2() {
    let (mut raft, _events) = start(3, 3).await;
    let (leader, _) = raft.wait_for_leader(0, ELECTION).await.expect("a leader");
    raft.submit(put("a", "1")).await.unwrap();
    let follower = NodeId((leader.0 + 1) % 3);
    raft.kill(follower).await.unwrap();
    let before = raft.status()[follower.0].clone();
    assert!(!before.up);
    for i in 0..5 {
        raft.submit(append("a", &i.to_string())).await.unwrap();
    }
    raft.restart(follower).await.unwrap();
    let after = raft.status()[follower.0].clone();
    assert!(after.up);
    assert_eq!(after.term, before.term, "the term is durable");
    assert_eq!(after.log_len, before.log_len, "the log is durable");
    assert_eq!(after.commit_index, 0, "the commit index is volatile");

    let deadline = tokio::time::Instant::now() + ELECTION;
    loop {
        let status = raft.status();
        let leader = status.iter().find(|s| s.up && s.role == Role::Leader);
        let me = &status[follower.0];
        if let Some(l) = leader
            && me.log_len == l.log_len
            && me.commit_index == l.commit_index
            && l.log_len >= before.log_len + 5
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{follower} did not catch up: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(raft.submit(get("a")).await.unwrap().output, value("101234"));
}

#[tokio::test]
async fn impossible_requests_are_refused_with_an_error() {
    let options = ClusterOptions {
        client_deadline_ms: 1_000,
        ..ClusterOptions::default()
    };
    let (mut raft, _events) = RaftCluster::start(3, 4, options).await.unwrap();
    raft.wait_for_leader(0, ELECTION).await.expect("a leader");
    raft.kill(NodeId(0)).await.unwrap();
    let e = raft
        .execute(ConsoleCommand::Kill(NodeId(0)))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "n0 is already killed");
    let e = raft
        .execute(ConsoleCommand::Restart(NodeId(1)))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "n1 is running; kill it first");
    // Without a majority nothing commits: the client gives up and says the outcome is unknown.
    raft.kill(NodeId(1)).await.unwrap();
    let e = raft.submit(put("x", "1")).await.unwrap_err();
    assert!(matches!(e, ExecError::NoAnswer { .. }), "{e}");
    assert!(e.to_string().starts_with("no answer after "), "{e}");

    for servers in [0, 16] {
        let Err(e) = RaftCluster::start(servers, 1, ClusterOptions::default()).await else {
            panic!("{servers} servers were accepted");
        };
        assert_eq!(e.to_string(), format!("{servers} servers: use 1 to 15"));
    }
}

#[test]
fn the_parser_rejects_every_malformed_line_with_a_precise_message() {
    let too_long = "v".repeat(1025);
    let cases: Vec<(String, &str)> = vec![
        (
            "frob".into(),
            "unknown command `frob`; type `help` for the commands",
        ),
        (
            "PUT x 1".into(),
            "unknown command `PUT`; type `help` for the commands",
        ),
        ("put".into(), "usage: `put <key> <value>` (got 0 arguments)"),
        (
            "put x".into(),
            "usage: `put <key> <value>` (got 1 argument)",
        ),
        (
            "put x 1 2".into(),
            "usage: `put <key> <value>` (got 3 arguments)",
        ),
        (
            "append x".into(),
            "usage: `append <key> <value>` (got 1 argument)",
        ),
        ("get".into(), "usage: `get <key>` (got 0 arguments)"),
        ("get x y".into(), "usage: `get <key>` (got 2 arguments)"),
        ("kill".into(), "usage: `kill <node>` (got 0 arguments)"),
        ("kill 1 2".into(), "usage: `kill <node>` (got 2 arguments)"),
        (
            "restart".into(),
            "usage: `restart <node>` (got 0 arguments)",
        ),
        ("status now".into(), "usage: `status` (got 1 argument)"),
        ("help me".into(), "usage: `help` (got 1 argument)"),
        ("quit now".into(), "usage: `quit` (got 1 argument)"),
        (
            "kill 5".into(),
            "there is no node 5: the servers are n0 to n4",
        ),
        (
            "restart n7".into(),
            "there is no node 7: the servers are n0 to n4",
        ),
        (
            "kill 99999999999999999999999".into(),
            "`99999999999999999999999` is not a node: use a number from 0 to 4 (or n0 to n4)",
        ),
        (
            "kill x".into(),
            "`x` is not a node: use a number from 0 to 4 (or n0 to n4)",
        ),
        (
            "kill n".into(),
            "`n` is not a node: use a number from 0 to 4 (or n0 to n4)",
        ),
        (
            "kill -1".into(),
            "`-1` is not a node: use a number from 0 to 4 (or n0 to n4)",
        ),
        (
            "kill +1".into(),
            "`+1` is not a node: use a number from 0 to 4 (or n0 to n4)",
        ),
        (
            "put x a\u{7}b".into(),
            "the value contains the control character U+0007",
        ),
        (
            "get \u{1b}[2J".into(),
            "the key contains the control character U+001B",
        ),
        (
            format!("put x {too_long}"),
            "the value is 1025 bytes long; at most 1024 are allowed",
        ),
        (
            format!("get {}", "k".repeat(65)),
            "the key is 65 bytes long; at most 64 are allowed",
        ),
        ("sleep".into(), "usage: `sleep <ms>` (got 0 arguments)"),
        (
            "sleep soon".into(),
            "`soon` is not a whole number of milliseconds from 0 to 60000",
        ),
        (
            "sleep 60001".into(),
            "`60001` is not a whole number of milliseconds from 0 to 60000",
        ),
        (
            "sleep -5".into(),
            "`-5` is not a whole number of milliseconds from 0 to 60000",
        ),
    ];
    for (line, message) in &cases {
        match parse(line, 5) {
            Err(e) => assert_eq!(&e.to_string(), message, "line {line:?}"),
            Ok(c) => panic!("line {line:?} was accepted as {c:?}"),
        }
    }
}

#[test]
fn the_parser_understands_every_command() {
    let cases = [
        ("put x 1", Some(ConsoleCommand::Kv(put("x", "1")))),
        (
            "  append   x  é ",
            Some(ConsoleCommand::Kv(append("x", "é"))),
        ),
        ("get x", Some(ConsoleCommand::Kv(get("x")))),
        ("kill 4", Some(ConsoleCommand::Kill(NodeId(4)))),
        ("kill n0", Some(ConsoleCommand::Kill(NodeId(0)))),
        ("restart n3", Some(ConsoleCommand::Restart(NodeId(3)))),
        ("status", Some(ConsoleCommand::Status)),
        (
            "sleep 250",
            Some(ConsoleCommand::Sleep(Duration::from_millis(250))),
        ),
        ("help", Some(ConsoleCommand::Help)),
        ("quit", Some(ConsoleCommand::Quit)),
        ("exit", Some(ConsoleCommand::Quit)),
        ("", None),
        ("   ", None),
        ("# kill the leader next", None),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(line, 5), Ok(expected), "line {line:?}");
    }
}
