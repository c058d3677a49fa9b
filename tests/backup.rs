//! Hot backup: `copy_to` writes exactly its snapshot, compacted, as a database that opens in
//! the same mode and passes `check()`, while a writer goes on; an existing path is refused
//! and left alone.

mod common;

use std::io::ErrorKind;
use std::sync::Arc;
use std::thread;

use bough::{Database, Error, Mode, TableDefinition};
use common::{Options, TestDb, read_all, test_mode, write};

const SCORES: TableDefinition<&str, u64> = TableDefinition::new("scores");

fn open_copy(path: &std::path::Path) -> Database {
    Database::builder().mode(test_mode()).open(path).unwrap()
}

fn fill(test_db: &TestDb) {
    write(test_db.db(), |w| {
        let mut bytes = w.open_table("bytes").unwrap();
        for i in 0..3_000u32 {
            let value = match i % 50 {
                0 => vec![i as u8; 30_000],
                _ => vec![i as u8; 100],
            };
            bytes.insert(&i.to_be_bytes(), &value).unwrap();
        }
        let mut scores = w.open_table(SCORES).unwrap();
        for (name, score) in [("ann", 3), ("bob", 9)] {
            scores.insert(name, score).unwrap();
        }
        w.open_table("empty").unwrap();
    });
}

#[test]
fn a_copy_holds_its_snapshot_exactly_while_writes_go_on() {
    let test_db = TestDb::new();
    fill(&test_db);
    // Churn so the source has free space a copy drops.
    for round in 0..5u32 {
        write(test_db.db(), |w| {
            let mut t = w.open_table("bytes").unwrap();
            for i in (0..3_000u32).step_by(3) {
                t.insert(&i.to_be_bytes(), &round.to_be_bytes().repeat(30))
                    .unwrap();
            }
        });
    }
    let rtx = test_db.db().begin_read().unwrap();
    let want_bytes = read_all(test_db.db(), "bytes");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.bough");
    let db = Arc::new(test_db.db());
    let report = thread::scope(|s| {
        // A writer commits while the copy runs; the copy must not see it.
        let writer = s.spawn(|| {
            for i in 0..20u32 {
                write(&db, |w| {
                    w.open_table("bytes")
                        .unwrap()
                        .insert(b"late", &i.to_be_bytes())
                        .unwrap()
                });
            }
        });
        let report = rtx.copy_to(&path).unwrap();
        writer.join().unwrap();
        report
    });
    assert_eq!(report.tables, 3);
    assert_eq!(report.entries, 3_002);
    // In log mode the source's pages may still be in its log.
    let mut log = test_db.path().as_os_str().to_owned();
    log.push("-wal");
    let log_size = std::fs::metadata(&log).map_or(0, |m| m.len());
    let source_size = std::fs::metadata(test_db.path()).unwrap().len() + log_size;
    assert!(
        report.file_size < source_size,
        "{} against {source_size}",
        report.file_size
    );
    let copy = open_copy(&path);
    copy.check().unwrap();
    assert_eq!(read_all(&copy, "bytes"), want_bytes);
    assert_eq!(read_all(&copy, "empty"), vec![]);
    let crtx = copy.begin_read().unwrap();
    // Types came along: the typed open works, another type is refused.
    assert_eq!(
        crtx.open_table(SCORES).unwrap().get("bob").unwrap(),
        Some(9)
    );
    const WRONG: TableDefinition<&str, u32> = TableDefinition::new("scores");
    assert!(matches!(
        crtx.open_table(WRONG),
        Err(Error::TableTypeMismatch { .. })
    ));
    assert!(
        crtx.open_table("bytes")
            .unwrap()
            .get(b"late")
            .unwrap()
            .is_none()
    );
    drop(crtx);
    // The copy is an ordinary database: it takes writes and reopens.
    write(&copy, |w| {
        w.open_table("bytes").unwrap().insert(b"new", b"1").unwrap()
    });
    drop(copy);
    let copy = open_copy(&path);
    copy.check().unwrap();
    assert_eq!(read_all(&copy, "bytes").len(), 3_001);
    // The other storage mode is refused, as for any file.
    drop(copy);
    let other = match test_mode() {
        Mode::CopyOnWrite => Mode::Wal,
        _ => Mode::CopyOnWrite,
    };
    assert!(matches!(
        Database::builder().mode(other).open(&path),
        Err(Error::ModeMismatch { .. })
    ));
}

#[test]
fn an_existing_path_is_never_overwritten() {
    let test_db = TestDb::with(Options::default());
    fill(&test_db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken");
    std::fs::write(&path, b"precious").unwrap();
    match test_db.db().backup(&path) {
        Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::AlreadyExists),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    // A backup into a missing directory fails and leaves nothing behind.
    let missing = dir.path().join("no-such-dir").join("copy.bough");
    assert!(test_db.db().backup(&missing).is_err());
    assert!(!missing.exists());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["taken"], "no scratch file is left");
    // `Database::backup` copies the newest snapshot.
    let fresh = dir.path().join("fresh.bough");
    let report = test_db.db().backup(&fresh).unwrap();
    assert_eq!(
        report.snapshot_id,
        test_db.db().begin_read().unwrap().snapshot_id()
    );
    open_copy(&fresh).check().unwrap();
}
