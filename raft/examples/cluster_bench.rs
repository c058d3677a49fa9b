//! Measures bough-kv: writes per second of a 3-node loopback cluster with 1 and 16 clients,
//! p50/p99 write latency, the time to elect a new leader after a SIGKILL, and snapshot build
//! and install time of a 1M-key state machine; each on Bough and on the in-memory store.
//!
//! ```sh
//! cargo build --release -p bough-raft --bins --examples
//! target/release/examples/cluster_bench            # or: cluster_bench WRITES SNAPSHOT_KEYS
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bough_raft::memory::MemStateMachine;
use bough_raft::snapshot::SnapshotData;
use bough_raft::state_machine::BoughStateMachine;
use bough_raft::{Request, TypeConfig};
use common::{Client, Cluster, key_value};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder};
use tokio::io::AsyncWriteExt;

fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's path");
    // target/<profile>/examples/cluster_bench -> target/<profile>/bough-kv
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("bough-kv");
    assert!(
        bin.exists(),
        "build the server first: cargo build --release -p bough-raft --bins --examples"
    );
    bin
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// `writes` puts from `clients` concurrent clients: writes per second, p50, p99.
async fn write_rate(
    client: &Client,
    first: u64,
    writes: u64,
    clients: u64,
) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in (first..first + writes).filter(|i| i % clients == c) {
                let (key, value) = key_value(i);
                let t = Instant::now();
                client.put(&key, &value).await.expect("a put");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("a client task"));
    }
    let rate = writes as f64 / start.elapsed().as_secs_f64();
    all.sort();
    (rate, percentile(&all, 0.5), percentile(&all, 0.99))
}

async fn cluster_figures(store: &str, writes: u64) {
    let mut cluster = Cluster::start(
        &server_binary(),
        3,
        &["--store", store, "--snapshot-logs", "1000000"],
    );
    cluster.init().await;
    let leader = cluster.wait_leader(None, Duration::from_secs(20)).await;
    let client = cluster.client();
    client.put("warm-up", "1").await.expect("warm-up");
    for clients in [1, 16] {
        let n = writes * clients.min(4);
        let first = clients * 10_000_000;
        let (rate, p50, p99) = write_rate(&client, first, n, clients).await;
        println!(
            "{store:>6} | {clients:>2} clients | {n:>6} writes | {rate:>8.0} writes/s | p50 {:>7.2} ms | p99 {:>7.2} ms",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    cluster.kill(leader);
    let killed = Instant::now();
    cluster
        .wait_leader(Some(leader), Duration::from_secs(20))
        .await;
    println!(
        "{store:>6} | new leader {:.0} ms after SIGKILL of the leader (default heartbeat 100 ms, election timeout 500-1000 ms)",
        killed.elapsed().as_secs_f64() * 1e3
    );
}

fn puts(first: u64, n: u64) -> Vec<Entry<TypeConfig>> {
    (first..first + n)
        .map(|i| {
            let (key, value) = key_value(i);
            Entry {
                log_id: LogId::new(CommittedLeaderId::new(1, 1), i + 1),
                payload: EntryPayload::Normal(Request::Put { key, value }),
            }
        })
        .collect()
}

/// Loads `keys` keys by applying them, then times one snapshot build and one install into
/// a fresh state machine (the bytes delivered first, as chunks from a leader would be).
async fn snapshot_figures<SM, F>(name: &str, keys: u64, mut make: F)
where
    SM: RaftStateMachine<TypeConfig>,
    SM::SnapshotBuilder: Send,
    F: FnMut() -> SM,
{
    let mut sm = make();
    let batch = 10_000;
    let t = Instant::now();
    for first in (0..keys).step_by(batch as usize) {
        sm.apply(puts(first, batch.min(keys - first)))
            .await
            .expect("apply");
    }
    let load = t.elapsed();
    let t = Instant::now();
    let snapshot = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .expect("build");
    let build = t.elapsed();
    let bytes = match *snapshot.snapshot {
        SnapshotData::File { path, .. } => std::fs::read(path).expect("the snapshot file"),
        SnapshotData::Memory(cursor) => cursor.into_inner(),
    };
    // Again with applies going on: how many commit while the stream is written.
    let mut builder = sm.get_snapshot_builder().await;
    let busy = tokio::spawn(async move {
        let t = Instant::now();
        builder.build_snapshot().await.expect("build");
        t.elapsed()
    });
    let mut applied = 0;
    while !busy.is_finished() {
        sm.apply(puts(keys + applied, 1_000)).await.expect("apply");
        applied += 1_000;
    }
    let busy_build = busy.await.expect("the build task");
    let mut follower = make();
    let mut data = follower.begin_receiving_snapshot().await.expect("receive");
    data.write_all(&bytes).await.expect("write");
    data.shutdown().await.expect("shutdown");
    let t = Instant::now();
    follower
        .install_snapshot(&snapshot.meta, data)
        .await
        .expect("install");
    let install = t.elapsed();
    println!(
        "{name:>6} | {keys} keys ({:.1} MB snapshot) | applied in {:.2} s | build {:.2} s | install {:.2} s",
        bytes.len() as f64 / 1e6,
        load.as_secs_f64(),
        build.as_secs_f64(),
        install.as_secs_f64()
    );
    println!(
        "{name:>6} | a second build took {:.2} s while {applied} more entries were applied",
        busy_build.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let writes: u64 = args
        .next()
        .map_or(2_000, |a| a.parse().expect("WRITES is a number"));
    let keys: u64 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("SNAPSHOT_KEYS is a number"));
    for store in ["bough", "memory"] {
        cluster_figures(store, writes).await;
    }
    let dirs = tempfile::tempdir().expect("a temporary directory");
    let mut n = 0;
    snapshot_figures("bough", keys, || {
        n += 1;
        BoughStateMachine::open(dirs.path().join(format!("sm{n}"))).expect("open")
    })
    .await;
    snapshot_figures("memory", keys, MemStateMachine::default).await;
}
