//! Group commit (DESIGN.md, "Group commit"): threads committing durable transactions at once
//! share syncs, every commit that returned is in the file after a reopen, and a failed sync
//! of a group fails every commit of it and poisons the handle without losing any commit that
//! had returned. Both storage modes (log mode commits one sync each).

mod common;

use bough::testing::{FaultPlan, SimDisk};
use bough::{Database, Durability, Error};
use common::TestDb;
use std::sync::Mutex;
use std::time::Duration;

const THREADS: u32 = 8;
const COMMITS: u32 = 40;

fn key(thread: u32, i: u32) -> Vec<u8> {
    format!("t{thread:02}-{i:04}").into_bytes()
}

/// Each thread commits `COMMITS` durable single inserts; returns the keys whose commit
/// returned `Ok` and the errors of the others.
fn commit_from_threads(db: &Database) -> (Vec<Vec<u8>>, Vec<Error>) {
    let outcome = Mutex::new((Vec::new(), Vec::new()));
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let outcome = &outcome;
            scope.spawn(move || {
                for i in 0..COMMITS {
                    let key = key(thread, i);
                    let result = db.begin_write().and_then(|mut tx| {
                        tx.set_durability(Durability::Immediate);
                        tx.open_table("t")?.insert(&key, &i.to_le_bytes())?;
                        tx.commit()
                    });
                    let mut outcome = outcome.lock().unwrap();
                    match result {
                        Ok(()) => outcome.0.push(key),
                        Err(e) => outcome.1.push(e),
                    }
                }
            });
        }
    });
    outcome.into_inner().unwrap()
}

fn keys_in(db: &Database) -> Vec<Vec<u8>> {
    let rtx = db.begin_read().unwrap();
    let table = rtx.open_table("t").unwrap();
    table
        .iter()
        .unwrap()
        .map(|e| e.unwrap().0.to_vec())
        .collect()
}

#[test]
fn every_commit_from_many_threads_is_in_the_file_after_a_reopen() {
    let mut test_db = TestDb::new();
    let db = test_db.db();
    let (committed, errors) = commit_from_threads(db);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(committed.len() as u32, THREADS * COMMITS);
    let stats = db.stats().unwrap();
    assert!(stats.durable_commits >= (THREADS * COMMITS) as u64);
    assert!(stats.commit_syncs <= stats.durable_commits);
    assert_eq!(keys_in(db).len() as u32, THREADS * COMMITS);
    test_db.reopen();
    let mut expected = committed;
    expected.sort();
    assert_eq!(keys_in(test_db.db()), expected);
}

fn simulated(disk: &SimDisk) -> Database {
    Database::builder()
        .mode(common::test_mode())
        .open_simulated(disk.clone())
        .unwrap()
}

#[test]
fn commits_made_during_a_sync_share_the_next_one() {
    let disk = SimDisk::new();
    disk.set_sync_time(Duration::from_millis(2));
    let db = simulated(&disk);
    let (committed, errors) = commit_from_threads(&db);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(keys_in(&db).len(), committed.len());
    let stats = db.stats().unwrap();
    assert_eq!(stats.durable_commits, (THREADS * COMMITS) as u64);
    match common::test_mode() {
        // Eight writers and a sync of 2 ms: commits queue behind nearly every sync.
        bough::Mode::CopyOnWrite => assert!(
            stats.commit_syncs < stats.durable_commits / 2,
            "{} syncs for {} commits",
            stats.commit_syncs,
            stats.durable_commits
        ),
        bough::Mode::Wal => assert_eq!(stats.commit_syncs, stats.durable_commits),
    }
}

/// Tree pages (not metas) written over a page already written since the last sync, over
/// the recorded operations on the database file.
fn pages_written_twice_between_syncs(disk: &SimDisk, page_size: u64) -> usize {
    use bough::testing::Op;
    let mut since_sync = std::collections::HashSet::new();
    let mut twice = 0;
    for event in disk.events().iter().filter(|e| e.file == 0) {
        match &event.op {
            Op::Write { offset, data } => {
                let first = offset / page_size;
                let last = (offset + data.len() as u64).div_ceil(page_size);
                for page in (first..last).filter(|&p| p >= 2) {
                    twice += usize::from(!since_sync.insert(page));
                }
            }
            Op::Sync { .. } => since_sync.clear(),
            _ => {}
        }
    }
    twice
}

#[test]
fn pages_a_waiting_group_replaced_are_written_over_before_its_sync() {
    let disk = SimDisk::new();
    disk.set_sync_time(Duration::from_millis(2));
    let db = simulated(&disk);
    disk.record();
    let (committed, errors) = commit_from_threads(&db);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(keys_in(&db), {
        let mut keys = committed.clone();
        keys.sort();
        keys
    });
    db.check().unwrap();
    let twice = pages_written_twice_between_syncs(&disk, db.stats().unwrap().page_size as u64);
    match common::test_mode() {
        // A commit joining a waiting group frees the root and catalog pages the commit
        // before it wrote, and the next one writes its own over them (DESIGN.md,
        // "Recycling within a group"); without that, no page is written twice between
        // two syncs.
        bough::Mode::CopyOnWrite => assert!(twice > 0, "no page was recycled within a group"),
        // Log mode writes the file only at checkpoints.
        bough::Mode::Wal => {}
    }
    drop(db);
    let db = simulated(&disk);
    assert_eq!(keys_in(&db).len(), committed.len());
    db.check().unwrap();
}

#[test]
fn a_failed_group_sync_fails_its_commits_and_loses_none_that_returned() {
    let mut failed_runs = 0;
    // Which operations are syncs depends on how the threads interleave: try each in turn
    // until a few of the planned operations were syncs.
    for fail_after in 1..120 {
        if failed_runs == 4 {
            break;
        }
        let disk = SimDisk::new();
        disk.set_sync_time(Duration::from_millis(1));
        let db = simulated(&disk);
        disk.set_faults(FaultPlan {
            fail_sync_at_op: Some(disk.ops() + fail_after),
            ..FaultPlan::default()
        });
        let (committed, errors) = commit_from_threads(&db);
        if errors.is_empty() {
            // The planned operation was not a sync in this interleaving.
            continue;
        }
        failed_runs += 1;
        assert!(
            errors
                .iter()
                .all(|e| matches!(e, Error::Io(_) | Error::Poisoned)),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| matches!(e, Error::Io(_))),
            "the failed sync's own error reaches a caller"
        );
        assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
        drop(db);
        // A failed sync loses nothing yet: every commit that returned is there.
        disk.set_faults(FaultPlan::default());
        let db = simulated(&disk);
        let found = keys_in(&db);
        for key in &committed {
            assert!(found.contains(key), "a commit that returned was lost");
        }
        db.check().unwrap();
    }
    assert!(failed_runs > 0, "no planned operation was a sync");
}

/// A writer that took the writer's state from a queued commit builds on that commit's
/// pages; if the group's sync then fails, its own commit must fail too, not be written
/// directly as if the queue were idle.
#[test]
fn a_writer_holding_the_state_when_its_group_fails_cannot_commit() {
    if common::test_mode() == bough::Mode::Wal {
        return; // Log mode never queues: a failed sync poisons the handle before any begin.
    }
    let mut held_through_failure = 0;
    // Which operation of the first commit is its group's sync depends on its pages: try each.
    for fail_after in 1..40 {
        if held_through_failure > 0 {
            break;
        }
        let disk = SimDisk::new();
        disk.set_sync_time(Duration::from_millis(20));
        let db = simulated(&disk);
        let first = db.begin_write().unwrap();
        first
            .open_table("t")
            .unwrap()
            .insert(b"first", b"1")
            .unwrap();
        let (failed_tx, failed_rx) = std::sync::mpsc::channel::<()>();
        let db = &db;
        std::thread::scope(|scope| {
            let second = scope.spawn(move || {
                // Waits for the writer's state, which the first commit hands over as it queues.
                let began = db.begin_write().and_then(|tx| {
                    tx.open_table("t")?.insert(b"second", b"2")?;
                    Ok(tx)
                });
                let _ = failed_rx.recv();
                began.map(|tx| tx.commit())
            });
            // Let the second writer wait, so that the first commit queues behind it.
            std::thread::sleep(Duration::from_millis(50));
            disk.set_faults(FaultPlan {
                fail_sync_at_op: Some(disk.ops() + fail_after),
                ..FaultPlan::default()
            });
            let first_result = first.commit();
            let _ = failed_tx.send(());
            let second_result = second.join().unwrap();
            if first_result.is_ok() {
                return; // The planned operation was not the first commit's sync.
            }
            match second_result {
                // It began before the failure and commits after it: its transaction builds
                // on the failed group, and must not be written.
                Ok(Err(Error::Poisoned)) => held_through_failure += 1,
                // It began only after the failure (the first commit did not queue).
                Err(Error::Poisoned) => {}
                other => panic!("a commit built on a failed group returned {other:?}"),
            }
        });
    }
    assert!(
        held_through_failure > 0,
        "no group failed under a waiting writer"
    );
}
