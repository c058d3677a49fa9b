//! Three real bough-kv processes on loopback: a leader is SIGKILLed and replaced, it comes
//! back and catches up (past its purged log, so by snapshot), then a follower stays down
//! while the log moves on and receives a snapshot when it returns. And no acknowledged write
//! is lost to a leader killed mid-write or to the whole cluster killed at once.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Cluster, key_value, write_keys};

/// Snapshots every 200 entries, 50 kept behind: a node down for a few hundred writes can
/// only come back through a snapshot.
const ARGS: &[&str] = &[
    "--snapshot-logs",
    "200",
    "--keep-logs",
    "50",
    "--heartbeat-ms",
    "50",
    "--election-ms",
    "300",
];

/// Every key below `n` reads back on node `i` from its own state machine.
async fn all_keys_on(cluster: &Cluster, i: usize, n: u64) {
    let client = cluster.client();
    let addr = cluster.nodes[i].addr.clone();
    let mut tasks = Vec::new();
    for part in 0..8 {
        let (client, addr) = (client.clone(), addr.clone());
        tasks.push(tokio::spawn(async move {
            for k in (0..n).filter(|k| k % 8 == part) {
                let (key, value) = key_value(k);
                let got = client.get_stale(&addr, &key).await.expect("a stale read");
                assert_eq!(got.as_deref(), Some(value.as_str()), "{key} on {addr}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a reader task");
    }
}

async fn snapshots_installed(cluster: &Cluster, i: usize) -> u64 {
    let metrics = cluster.metrics(i).await.expect("metrics");
    metrics["snapshots_installed"]
        .as_u64()
        .expect("snapshots_installed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_kill_restart_and_a_lagging_follower() {
    let bin = Path::new(env!("CARGO_BIN_EXE_bough-kv"));
    let mut cluster = Cluster::start(bin, 3, ARGS);
    cluster.init().await;
    let limit = Duration::from_secs(20);
    let leader = cluster.wait_leader(None, limit).await;
    let client = cluster.client();
    write_keys(&client, 0..1000, 16).await;

    // The leader dies mid-life; another takes over.
    cluster.kill(leader);
    let killed_at = Instant::now();
    let new_leader = cluster.wait_leader(Some(leader), limit).await;
    assert_ne!(new_leader, leader);
    eprintln!(
        "new leader elected {:?} after the kill",
        killed_at.elapsed()
    );
    write_keys(&client, 1000..2000, 16).await;
    assert_eq!(
        client.get("key0001999").await.unwrap().as_deref(),
        Some("value-1999")
    );

    // It comes back on its directory and catches up by snapshot (its log point is purged).
    cluster.spawn(leader);
    let now_leader = cluster.wait_leader(None, limit).await;
    cluster
        .wait_caught_up(leader, now_leader, Duration::from_secs(60))
        .await;
    all_keys_on(&cluster, leader, 2000).await;
    assert!(
        snapshots_installed(&cluster, leader).await >= 1,
        "the restarted node got no snapshot"
    );

    // A follower stays down while 500 more writes go by, then returns.
    let now_leader = cluster.wait_leader(None, limit).await;
    let follower = (0..3).find(|&i| i != now_leader).expect("a follower");
    cluster.kill(follower);
    write_keys(&client, 2000..2500, 16).await;
    cluster.spawn(follower);
    let now_leader = cluster.wait_leader(None, limit).await;
    cluster
        .wait_caught_up(follower, now_leader, Duration::from_secs(60))
        .await;
    assert!(
        snapshots_installed(&cluster, follower).await >= 1,
        "the lagging follower got no snapshot"
    );
    all_keys_on(&cluster, follower, 2500).await;
    for i in 0..3 {
        let m = cluster.metrics(i).await.expect("metrics");
        assert!(m["last_applied"].as_u64().unwrap() >= 2500, "node {i}: {m}");
    }
    // Linearizable reads through whichever node is asked first.
    for k in [0, 999, 1000, 2499] {
        let (key, value) = key_value(k);
        assert_eq!(client.get(&key).await.unwrap(), Some(value));
    }
    assert_eq!(client.get("never-written").await.unwrap(), None);
}

/// Every key below `n` reads back through the leader (linearizable reads).
async fn all_keys_linearizable(cluster: &Cluster, n: u64) {
    let mut tasks = Vec::new();
    for part in 0..8 {
        let client = cluster.client();
        tasks.push(tokio::spawn(async move {
            for k in (0..n).filter(|k| k % 8 == part) {
                let (key, value) = key_value(k);
                let got = client.get(&key).await.expect("a linearizable read");
                assert_eq!(got.as_deref(), Some(value.as_str()), "{key}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a reader task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_a_kill_mid_write_and_a_whole_cluster_kill() {
    let bin = Path::new(env!("CARGO_BIN_EXE_bough-kv"));
    let mut cluster = Cluster::start(bin, 3, ARGS);
    cluster.init().await;
    let limit = Duration::from_secs(20);
    let leader = cluster.wait_leader(None, limit).await;

    // 16 clients write while the leader is SIGKILLed under them; they retry elsewhere.
    let client = cluster.client();
    let writers = tokio::spawn(async move { write_keys(&client, 0..1500, 16).await });
    let deadline = Instant::now() + limit;
    loop {
        let applied = cluster
            .metrics(leader)
            .await
            .and_then(|m| m["last_applied"].as_u64());
        if applied.is_some_and(|a| a >= 400) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!writers.is_finished(), "the writes ended before the kill");
    cluster.kill(leader);
    writers.await.expect("every write acknowledged in the end");
    cluster.spawn(leader);
    all_keys_linearizable(&cluster, 1500).await;

    // Every node SIGKILLed at once, then all restarted on their directories.
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.spawn(i);
    }
    let leader = cluster.wait_leader(None, limit).await;
    all_keys_linearizable(&cluster, 1500).await;
    for i in 0..3 {
        cluster
            .wait_caught_up(i, leader, Duration::from_secs(60))
            .await;
        all_keys_on(&cluster, i, 1500).await;
    }
}
