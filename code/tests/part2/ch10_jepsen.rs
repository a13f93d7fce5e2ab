//! Chapter 10, Raft in practice: the real cluster under real faults, as Jepsen tests databases.
//! Five `raft-node` OS processes on 127.0.0.1, each persisting to its own write-ahead file;
//! clients reading and writing a few keys; a nemesis drawn from one seed that `SIGKILL`s and
//! restarts processes and partitions them (both ways, one way, dropping or stalling) through a
//! proxy per link; then heal, wait for the cluster to answer, and check the whole history for
//! linearizability (`uds::driver::jepsen`). Also: a torn last record is cut off and its node
//! rejoins, a server behind a compacted log is caught up by `InstallSnapshot` over TCP, and the
//! node binary refuses bad flags with a clear message.
//!
//! Size: `UDS_JEPSEN_SECS` seconds of faults (default 10), `UDS_JEPSEN_SEED` the schedule.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use uds::coordination::linearizability::CheckResult;
use uds::coordination::raft::history::{KvInput, KvOutput};
use uds::coordination::raft::storage::Storage;
use uds::driver::file_storage::FileStorage;
use uds::driver::jepsen::{self, Fault, JepsenOptions, NodeCommand, ProcessCluster};
use uds::driver::workload::{WorkloadClient, WorkloadOptions};
use uds::experiment::runtime;
use uds::sim::{NodeId, rng_stream};

use crate::support::env;

fn node_command() -> NodeCommand {
    NodeCommand {
        program: PathBuf::from(env!("CARGO_BIN_EXE_raft-node")),
        prefix: Vec::new(),
    }
}

// ANCHOR: jepsen_test
#[test]
fn five_processes_under_kills_and_partitions_stay_linearizable() {
    let seed = env("UDS_JEPSEN_SEED", 1);
    let secs = env("UDS_JEPSEN_SECS", 10);
    let replay = format!(
        "UDS_JEPSEN_SEED={seed} UDS_JEPSEN_SECS={secs} cargo test -p uds --release --test part2 \
         ch10_jepsen::five_processes -- --nocapture"
    );
    println!("schedule seed {seed}; replay the schedule with: {replay}");
    let options = JepsenOptions {
        node: node_command(),
        servers: 5,
        clients: 5,
        seed,
        duration: Duration::from_secs(secs),
        every: Duration::from_millis(1_000),
        workload: WorkloadOptions::default(),
        recovery: Duration::from_secs(20),
        node_flags: Vec::new(),
    };
    let rt = runtime().unwrap();
    let report = rt
        .block_on(jepsen::run(&options))
        .unwrap_or_else(|e| panic!("{e}\nreplay: {replay}"));
    for (at, fault) in &report.faults {
        println!("  {:>6} ms  {fault}", at.as_millis());
    }
    println!("{}", report.summary());
    println!(
        "recovered {} ms after the heal; checked in {} ms: {}",
        report.recovered_in.as_millis(),
        report.check_time.as_millis(),
        report.verdict
    );
    let kinds = |f: fn(&Fault) -> bool| report.faults.iter().filter(|(_, x)| f(x)).count();
    assert!(
        kinds(|f| matches!(f, Fault::Kill(_))) > 0,
        "the nemesis killed nothing"
    );
    assert!(report.history.iter().filter(|o| o.output.is_some()).count() > 100);
    assert_eq!(
        report.verdict,
        CheckResult::Ok,
        "seed {seed}; replay: {replay}"
    );
}
// ANCHOR_END: jepsen_test

#[test]
fn a_torn_last_record_is_cut_off_and_the_node_rejoins() {
    let rt = runtime().unwrap();
    rt.block_on(async {
        let options = WorkloadOptions {
            deadline: Duration::from_secs(10),
            ..WorkloadOptions::default()
        };
        let listening = WorkloadClient::bind(NodeId(3), rng_stream(1, 1), options)
            .await
            .unwrap();
        let addrs = vec![listening.listener_addr()];
        let mut cluster = ProcessCluster::start(node_command(), 3, addrs, Vec::new())
            .await
            .unwrap();
        let mut client = listening.connect(cluster.client_proxies());
        let clock = tokio::time::Instant::now();
        let put = |v: &str| KvInput::Put {
            key: "x".into(),
            value: v.into(),
        };
        for v in ["1", "2", "3"] {
            let op = client.invoke(clock, put(v)).await;
            assert_eq!(op.output, Some(KvOutput::Ok), "put {v}");
        }

        // Kill n2 and tear its last record: cut the file in the middle of it.
        cluster.kill(2).unwrap();
        let wal = FileStorage::path(cluster.data_dir(2));
        let before = FileStorage::open(cluster.data_dir(2)).unwrap();
        let len = before.len_bytes();
        assert!(len > 3, "n2 persisted nothing: {}", wal.display());
        drop(before);
        let file = OpenOptions::new().write(true).open(&wal).unwrap();
        file.set_len(len - 3).unwrap();
        drop(file);
        cluster.restart(2).await.unwrap();
        let log = cluster.log(2);
        assert!(
            log.contains("cut off a torn last record"),
            "n2's log:\n{log}"
        );

        // It rejoins: with n0 killed, a write needs n1 and n2 both.
        cluster.kill(0).unwrap();
        let op = client.invoke(clock, put("4")).await;
        assert_eq!(
            op.output,
            Some(KvOutput::Ok),
            "n2 did not rejoin:\n{}",
            cluster.log(2)
        );
        let read = client.invoke(clock, KvInput::Get { key: "x".into() }).await;
        assert_eq!(read.output, Some(KvOutput::Value(Some("4".into()))));
    });
}

/// With `--compaction-threshold 4`, a server killed while the others commit a dozen entries
/// comes back to a leader that no longer holds them: it can only rejoin through
/// `InstallSnapshot` over TCP, and its file must then hold the snapshot.
#[test]
fn a_server_behind_a_compacted_log_is_caught_up_by_snapshot() {
    let rt = runtime().unwrap();
    rt.block_on(async {
        let options = WorkloadOptions {
            deadline: Duration::from_secs(10),
            ..WorkloadOptions::default()
        };
        let listening = WorkloadClient::bind(NodeId(3), rng_stream(2, 1), options)
            .await
            .unwrap();
        let addrs = vec![listening.listener_addr()];
        let flags = vec!["--compaction-threshold".to_string(), "4".to_string()];
        let mut cluster = ProcessCluster::start(node_command(), 3, addrs, flags)
            .await
            .unwrap();
        let mut client = listening.connect(cluster.client_proxies());
        let clock = tokio::time::Instant::now();
        let put = |v: usize| KvInput::Put {
            key: "x".into(),
            value: v.to_string(),
        };
        for v in 1..=3 {
            let op = client.invoke(clock, put(v)).await;
            assert_eq!(op.output, Some(KvOutput::Ok), "put {v}");
        }
        cluster.kill(2).unwrap();
        let behind = FileStorage::open(cluster.data_dir(2))
            .unwrap()
            .load()
            .unwrap();
        for v in 4..=15 {
            let op = client.invoke(clock, put(v)).await;
            assert_eq!(op.output, Some(KvOutput::Ok), "put {v}");
        }
        cluster.restart(2).await.unwrap();

        // With n0 killed, a write needs n1 and n2 both: n2 must have caught up.
        cluster.kill(0).unwrap();
        let op = client.invoke(clock, put(16)).await;
        assert_eq!(
            op.output,
            Some(KvOutput::Ok),
            "n2 did not rejoin:\n{}",
            cluster.log(2)
        );
        let read = client.invoke(clock, KvInput::Get { key: "x".into() }).await;
        assert_eq!(read.output, Some(KvOutput::Value(Some("16".into()))));

        cluster.kill(2).unwrap();
        let after = FileStorage::open(cluster.data_dir(2))
            .unwrap()
            .load()
            .unwrap();
        let snapshot = after.snapshot.expect("n2's file holds no snapshot");
        assert!(
            snapshot.last_index > behind.log.last_index() + 4,
            "n2's snapshot ends at {} and it had {} entries when killed",
            snapshot.last_index,
            behind.log.last_index()
        );
    });
}

#[test]
fn the_node_binary_refuses_bad_flags_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--id",
                "7",
                "--peers",
                "127.0.0.1:1,127.0.0.1:2",
                "--data",
                &data,
            ],
            "not a server",
        ),
        (
            &["--id", "0", "--peers", "10.0.0.1:1", "--data", &data],
            "not a loopback",
        ),
        (
            &["--id", "x", "--peers", "127.0.0.1:1", "--data", &data],
            "invalid value",
        ),
        (
            &[
                "--id",
                "0",
                "--peers",
                "127.0.0.1:1",
                "--data",
                &data,
                "--heartbeat-ms",
                "500",
            ],
            "heartbeat",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_raft-node"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_nemesis_schedule_is_a_function_of_its_seed_and_never_kills_a_majority() {
    let every = Duration::from_millis(500);
    for seed in 0..200 {
        let plan = jepsen::schedule(seed, 5, Duration::from_secs(30), every);
        assert_eq!(
            plan,
            jepsen::schedule(seed, 5, Duration::from_secs(30), every)
        );
        let mut down = 0usize;
        for (_, fault) in &plan {
            match fault {
                Fault::Kill(_) => down += 1,
                Fault::Restart(_) => down -= 1,
                _ => {}
            }
            assert!(down <= 2, "seed {seed}: {plan:?}");
        }
    }
}
