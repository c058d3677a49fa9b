//! I/O errors on the simulated disk: a failed sync poisons the handle; a full disk, a failed
//! write and a short write fail the commit, leave the database at the previous commit, and
//! the handle keeps working once the fault is gone.

use bough::testing::{FaultPlan, SimDisk};
use bough::{Database, Error};

/// `BOUGH_TEST_MODE=wal` runs these in write-ahead-log mode.
fn open(disk: &SimDisk) -> Database {
    let mode = match std::env::var("BOUGH_TEST_MODE").as_deref() {
        Ok("wal") => bough::Mode::Wal,
        _ => bough::Mode::CopyOnWrite,
    };
    Database::builder()
        .mode(mode)
        .open_simulated(disk.clone())
        .unwrap()
}

/// Commits `count` entries of `len`-byte values starting at `first`.
fn commit_entries(db: &Database, first: u32, count: u32, len: usize) -> bough::Result<()> {
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table("t")?;
        for i in first..first + count {
            table.insert(&i.to_be_bytes(), &vec![i as u8; len])?;
        }
    }
    tx.commit()
}

fn entries(db: &Database) -> u64 {
    let rtx = db.begin_read().unwrap();
    match rtx.open_table("t") {
        Ok(table) => table.len().unwrap(),
        Err(Error::TableNotFound(_)) => 0,
        Err(e) => panic!("{e}"),
    }
}

/// Runs a commit with the fault placed on the operation `offset` operations into it.
fn faulted_commit(
    fault: impl Fn(u64) -> FaultPlan,
    offset: u64,
) -> (SimDisk, Database, bough::Result<()>) {
    let disk = SimDisk::new();
    let db = open(&disk);
    commit_entries(&db, 0, 100, 50).unwrap();
    disk.set_faults(fault(disk.ops() + offset));
    let result = commit_entries(&db, 100, 400, 300);
    (disk, db, result)
}

#[test]
fn a_failed_sync_poisons_the_handle() {
    for offset in 0..6 {
        let (disk, db, result) = faulted_commit(
            |op| FaultPlan {
                fail_sync_at_op: Some(op),
                ..FaultPlan::default()
            },
            offset,
        );
        if result.is_ok() {
            // The fault landed on an operation that is not a sync: nothing to test here.
            assert!(db.check().is_ok());
            continue;
        }
        assert!(
            matches!(result, Err(Error::Io(_))),
            "offset {offset}: {result:?}"
        );
        assert!(matches!(db.begin_write(), Err(Error::Poisoned)));
        // Readers still work, and a new handle (a reopen) may write again.
        assert_eq!(entries(&db), 100);
        drop(db);
        disk.set_faults(FaultPlan::default());
        let db = open(&disk);
        db.check().unwrap();
        assert!([100, 500].contains(&entries(&db)));
        commit_entries(&db, 1000, 10, 10).unwrap();
        db.check().unwrap();
        return;
    }
    panic!("no operation of the commit was a sync");
}

fn fails_then_recovers(fault: impl Fn(u64) -> FaultPlan + Copy, what: &str) {
    let mut failures = 0;
    for offset in 0..12 {
        let (disk, db, result) = faulted_commit(fault, offset);
        if result.is_ok() {
            continue;
        }
        failures += 1;
        assert!(
            !matches!(result, Err(Error::Poisoned)),
            "{what}: a write error must not poison"
        );
        assert_eq!(entries(&db), 100, "{what}: the failed commit left a trace");
        disk.set_faults(FaultPlan::default());
        db.check().unwrap();
        commit_entries(&db, 100, 400, 300).unwrap();
        assert_eq!(entries(&db), 500);
        db.check().unwrap();
        drop(db);
        let db = open(&disk);
        db.check().unwrap();
        assert_eq!(
            entries(&db),
            500,
            "{what}: the commit after recovery was lost"
        );
    }
    assert!(failures > 0, "{what}: no commit failed");
}

#[test]
fn a_full_disk_fails_the_commit_and_recovers() {
    let disk = SimDisk::new();
    let db = open(&disk);
    commit_entries(&db, 0, 100, 50).unwrap();
    let full_at = disk.contents().len() as u64;
    disk.set_faults(FaultPlan {
        disk_full_at: Some(full_at),
        ..FaultPlan::default()
    });
    let result = commit_entries(&db, 100, 2000, 300);
    assert!(
        matches!(&result, Err(Error::Io(e)) if e.raw_os_error() == Some(28)),
        "{result:?}"
    );
    assert_eq!(entries(&db), 100);
    db.check().unwrap();
    disk.set_faults(FaultPlan::default());
    commit_entries(&db, 100, 2000, 300).unwrap();
    assert_eq!(entries(&db), 2100);
    db.check().unwrap();
}

#[test]
fn a_failed_write_fails_the_commit_and_recovers() {
    fails_then_recovers(
        |op| FaultPlan {
            fail_write_at_op: Some(op),
            ..FaultPlan::default()
        },
        "failed write",
    );
}

#[test]
fn a_short_write_fails_the_commit_and_recovers() {
    fails_then_recovers(
        |op| FaultPlan {
            short_write_at_op: Some(op),
            ..FaultPlan::default()
        },
        "short write",
    );
}
