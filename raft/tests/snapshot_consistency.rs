//! A snapshot built while applies go on holds exactly the state at its last log id: every
//! entry up to it, none after, although applies commit all through the build.

use bough_raft::state_machine::BoughStateMachine;
use bough_raft::{Request, TypeConfig};
use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftSnapshotBuilder};

fn puts(first: u64, n: u64) -> Vec<Entry<TypeConfig>> {
    (first..first + n)
        .map(|index| Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Request::Put {
                key: format!("k{index:08}"),
                value: format!("v{index}"),
            }),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_during_applies_is_exactly_its_last_log_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = BoughStateMachine::open(dir.path().join("leader")).unwrap();
    let base = 50_000;
    sm.apply(puts(1, base)).await.unwrap();

    let mut builder = sm.get_snapshot_builder().await;
    let build = tokio::spawn(async move { builder.build_snapshot().await });
    let mut next = base + 1;
    while !build.is_finished() && next < base + 200_000 {
        sm.apply(puts(next, 100)).await.unwrap();
        next += 100;
    }
    let snapshot = build.await.unwrap().unwrap();
    let last = snapshot.meta.last_log_id.expect("a last log id").index;
    assert!(last >= base, "the snapshot misses applied entries");
    eprintln!("snapshot at {last}; applied up to {} meanwhile", next - 1);

    let mut follower = BoughStateMachine::open(dir.path().join("follower")).unwrap();
    let mut data = follower.begin_receiving_snapshot().await.unwrap();
    let mut source = snapshot.snapshot;
    tokio::io::copy(&mut source, &mut data).await.unwrap();
    tokio::io::AsyncWriteExt::shutdown(&mut data).await.unwrap();
    follower
        .install_snapshot(&snapshot.meta, data)
        .await
        .unwrap();
    assert_eq!(
        follower.applied_state().await.unwrap().0.map(|l| l.index),
        Some(last)
    );
    for index in 1..=last {
        let key = format!("k{index:08}");
        assert_eq!(
            follower.get(&key).unwrap(),
            Some(format!("v{index}")),
            "{key}"
        );
    }
    for index in last + 1..next {
        assert_eq!(
            follower.get(&format!("k{index:08}")).unwrap(),
            None,
            "entry {index} leaked in"
        );
    }
}
