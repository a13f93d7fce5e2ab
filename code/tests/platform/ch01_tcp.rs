//! The chapter 1 state machines, unchanged, over real TCP on loopback (`uds::driver::tcp`).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use uds::driver::tcp::Cluster;
use uds::intro::tour::{self, TourConfig};

fn small() -> TourConfig {
    TourConfig {
        clients: 2,
        requests_per_client: 20,
        think_time: Duration::from_millis(1),
        ..TourConfig::default()
    }
}

#[tokio::test]
async fn the_simulated_client_and_server_work_over_real_tcp() {
    let config = small();
    let total = tour::total_requests(&config);
    let cluster = Cluster::start(tour::nodes(&config), 7).await.unwrap();
    let done = |m: &uds::sim::Metrics| m.counter("completed") == total;
    assert!(cluster.wait_until(done, Duration::from_secs(30)).await);
    assert_eq!(cluster.metrics().counter("wrong_answers"), 0);
    cluster.shutdown();
}

#[tokio::test]
async fn garbage_on_the_wire_closes_that_connection_and_nothing_else() {
    let config = small();
    let total = tour::total_requests(&config);
    let cluster = Cluster::start(tour::nodes(&config), 7).await.unwrap();
    // A frame claiming to be 4 GiB, a well-sized frame of bytes that are not JSON, and a
    // well-formed request signed by a node that does not exist (the server would reply to it).
    let mut huge = TcpStream::connect(cluster.addr(tour::SERVER))
        .await
        .unwrap();
    huge.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let mut junk = TcpStream::connect(cluster.addr(tour::SERVER))
        .await
        .unwrap();
    junk.write_all(&5u32.to_be_bytes()).await.unwrap();
    junk.write_all(b"{oops").await.unwrap();
    let mut stranger = TcpStream::connect(cluster.addr(tour::SERVER))
        .await
        .unwrap();
    let forged = br#"{"from":99,"msg":{"Request":{"id":5,"attempt":1}}}"#;
    let len = u32::try_from(forged.len()).unwrap();
    stranger.write_all(&len.to_be_bytes()).await.unwrap();
    stranger.write_all(forged).await.unwrap();
    let done =
        |m: &uds::sim::Metrics| m.counter("completed") == total && m.counter("bad_frames") == 3;
    assert!(
        cluster.wait_until(done, Duration::from_secs(30)).await,
        "{:?}",
        cluster.metrics()
    );
    cluster.shutdown();
}
