//! What Raft needs to survive a restart does: the vote, the log, the purge point, the
//! committed id, the last applied id and membership, and the current snapshot, after a clean
//! reopen and after a SIGKILL of a real process in the middle of its life. A damaged snapshot
//! is refused.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use bough_raft::log_store::BoughLogStore;
use bough_raft::snapshot::{SnapshotData, SnapshotReader};
use bough_raft::state_machine::BoughStateMachine;
use bough_raft::{NodeId, Request, TypeConfig};
use openraft::storage::{RaftLogStorage, RaftStateMachine};
use openraft::{
    CommittedLeaderId, Entry, EntryPayload, LogId, Membership, RaftLogReader, RaftSnapshotBuilder,
    StoredMembership, Vote,
};
use tokio::io::AsyncWriteExt;

const CHILD_DIR: &str = "BOUGH_RAFT_TEST_CHILD_DIR";

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn put(term: u64, index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Request::Put {
            key: format!("k{index:03}"),
            value: format!("v{index}"),
        }),
    }
}

fn membership_entry(index: u64) -> Entry<TypeConfig> {
    let voters: BTreeSet<NodeId> = [1, 2, 3].into();
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], None)),
    }
}

async fn open(dir: &Path) -> (BoughLogStore, BoughStateMachine) {
    let log = BoughLogStore::open(dir.join("log.bough")).expect("open log");
    let sm = BoughStateMachine::open(dir).expect("open state machine");
    (log, sm)
}

/// A node's life: a vote, 30 entries, a purge to 10, entries 1..=20 applied, a snapshot at
/// 20, then 21..=25 applied after it. Returns the snapshot id.
async fn live(dir: &Path) -> String {
    let (mut log, mut sm) = open(dir).await;
    log.save_vote(&Vote::new_committed(2, 1)).await.unwrap();
    let mut entries = vec![membership_entry(1)];
    entries.extend((2..=30).map(|i| put(2, i)));
    log.append_now(&entries).unwrap();
    // Kept in memory until the next commit of the log file, the purge, carries it.
    log.save_committed(Some(log_id(2, 25))).await.unwrap();
    log.purge(log_id(2, 10)).await.unwrap();
    sm.apply(entries[..20].to_vec()).await.unwrap();
    let snapshot = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    sm.apply(entries[20..25].to_vec()).await.unwrap();
    snapshot.meta.snapshot_id
}

/// Everything [`live`] did is there.
async fn check(dir: &Path, snapshot_id: &str) {
    let (mut log, mut sm) = open(dir).await;
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(2, 1))
    );
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 10)));
    assert_eq!(state.last_log_id, Some(log_id(2, 30)));
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(2, 25)));
    let entries = log.try_get_log_entries(0..100).await.unwrap();
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, (11..=30).collect::<Vec<_>>());
    assert_eq!(entries[0], put(2, 11));

    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, Some(log_id(2, 25)));
    assert_eq!(membership.log_id(), &Some(log_id(1, 1)));
    assert_eq!(sm.get("k025").unwrap().as_deref(), Some("v25"));
    assert_eq!(sm.get("k026").unwrap(), None);

    let current = sm
        .get_current_snapshot()
        .await
        .unwrap()
        .expect("a current snapshot");
    assert_eq!(current.meta.snapshot_id, snapshot_id);
    assert_eq!(current.meta.last_log_id, Some(log_id(2, 20)));
    let SnapshotData::File { path, .. } = *current.snapshot else {
        panic!("the Bough store's snapshot is a file");
    };
    let (meta, reader) = SnapshotReader::open(std::fs::File::open(path).unwrap()).unwrap();
    assert_eq!(meta, current.meta);
    reader.verify_rest().expect("the snapshot file checks");
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = live(dir.path()).await;
    check(dir.path(), &id).await;
    // And a second reopen: the first one changed nothing it should not have.
    check(dir.path(), &id).await;
}

/// Run by [`everything_survives_a_sigkill`] in a child process; does nothing otherwise.
#[tokio::test]
#[ignore = "a child process of everything_survives_a_sigkill"]
async fn child_lives_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return;
    };
    let id = live(Path::new(&dir)).await;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "ready {id}").unwrap();
    stdout.flush().unwrap();
    // The stores stay open, as in a node that is killed; the parent kills us well before.
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn everything_survives_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_lives_until_killed",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(id) = line.strip_prefix("ready ") {
                let _ = tx.send(id.to_owned());
            }
        }
    });
    let id = rx.recv_timeout(Duration::from_secs(60));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    let id = id.expect("the child reported its work done");
    check(dir.path(), &id).await;
}

#[tokio::test]
async fn a_damaged_snapshot_is_refused_and_changes_nothing() {
    let leader_dir = tempfile::tempdir().unwrap();
    let (_, mut leader) = open(leader_dir.path()).await;
    let entries: Vec<_> = (1..=50).map(|i| put(1, i)).collect();
    leader.apply(entries).await.unwrap();
    let snapshot = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    let SnapshotData::File { path, .. } = *snapshot.snapshot else {
        panic!("a file snapshot");
    };
    let good = std::fs::read(path).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let (_, mut follower) = open(dir.path()).await;
    follower.apply(vec![put(1, 1)]).await.unwrap();
    for at in [0, 10, good.len() / 2, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let mut data = follower.begin_receiving_snapshot().await.unwrap();
        data.write_all(&bad).await.unwrap();
        data.shutdown().await.unwrap();
        let refused = follower.install_snapshot(&snapshot.meta, data).await;
        assert!(refused.is_err(), "a flip at byte {at} was installed");
        assert_eq!(
            follower.applied_state().await.unwrap().0,
            Some(log_id(1, 1))
        );
        assert_eq!(follower.get("k050").unwrap(), None);
        assert!(follower.get_current_snapshot().await.unwrap().is_none());
    }
    let mut data = follower.begin_receiving_snapshot().await.unwrap();
    data.write_all(&good).await.unwrap();
    data.shutdown().await.unwrap();
    follower
        .install_snapshot(&snapshot.meta, data)
        .await
        .unwrap();
    assert_eq!(
        follower.applied_state().await.unwrap().0,
        Some(log_id(1, 50))
    );
    assert_eq!(follower.get("k050").unwrap().as_deref(), Some("v50"));
    let current = follower.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snapshot.meta);
    let unused = StoredMembership::<NodeId, openraft::BasicNode>::default();
    assert_eq!(follower.applied_state().await.unwrap().1, unused);
}

#[tokio::test]
async fn a_build_that_is_not_newer_still_returns_a_readable_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut sm) = open(dir.path()).await;
    sm.apply((1..=5).map(|i| put(1, i)).collect::<Vec<_>>())
        .await
        .unwrap();
    let first = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    // Nothing applied since: the second build is not newer, so the first stays current.
    let second = sm
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(second.meta.last_log_id, first.meta.last_log_id);
    let SnapshotData::File { file, .. } = *second.snapshot else {
        panic!("a file snapshot");
    };
    let (meta, reader) = SnapshotReader::open(file.into_std().await).unwrap();
    assert_eq!(meta, second.meta);
    reader.verify_rest().unwrap();
    let current = sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, first.meta);
    let files = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "only the current snapshot's file is kept");
}
