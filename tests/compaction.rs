//! Giving space back (DESIGN.md, "Giving space back"): the free tail leaves the file by
//! itself, and `compact()` packs a file online, while readers keep their snapshots and
//! writers go on, to within 1.15x of a fresh load of what is left.

mod common;

use std::sync::Barrier;
use std::thread;

use bough::{Database, Durability};

use common::{Options, TestDb, check_ok, read_all, write};

fn key(i: u64) -> Vec<u8> {
    format!("key{i:010}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let len = if i % 997 == 0 { 20_000 } else { 100 };
    vec![(i % 251) as u8; len]
}

/// A permutation of `0..n` (n a power of ten here): inserts in no useful order.
fn scrambled(n: u64) -> impl Iterator<Item = u64> {
    let step = 7_919; // a prime that divides no power of ten
    (0..n).map(move |i| (i * step) % n)
}

fn load(db: &Database, ids: impl Iterator<Item = u64>) {
    let ids: Vec<u64> = ids.collect();
    for chunk in ids.chunks(100_000) {
        write(db, |w| {
            let mut t = w.open_table("t").unwrap();
            for &i in chunk {
                t.insert(&key(i), &value(i)).unwrap();
            }
        });
    }
}

/// Bytes on disk: the file, and the log in log mode.
fn file_size(db: &Database) -> u64 {
    main_size(db) + log_size(db)
}

/// Bytes of the database file alone.
fn main_size(db: &Database) -> u64 {
    std::fs::metadata(db.path()).unwrap().len()
}

/// Bytes of the log (log mode; 0 otherwise).
fn log_size(db: &Database) -> u64 {
    let mut log = db.path().as_os_str().to_owned();
    log.push("-wal");
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// Bytes this process has written through system calls so far (Linux; 0 elsewhere).
fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("wchar: ").and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn delete_nine_in_ten(db: &Database, n: u64) {
    write(db, |w| {
        let mut t = w.open_table("t").unwrap();
        for i in (0..n).filter(|i| i % 10 != 0) {
            assert!(t.remove(&key(i)).unwrap());
        }
    });
}

#[test]
fn compaction_after_deleting_nine_in_ten_of_a_million_entries_reaches_a_fresh_load() {
    let n = 1_000_000;
    let test_db = TestDb::with(Options::default().durability(Durability::None));
    let db = test_db.db();
    load(db, scrambled(n));
    delete_nine_in_ten(db, n);
    let expected = read_all(db, "t");
    let before = file_size(db);
    let written = bytes_written();
    let report = db.compact().unwrap();
    let written = bytes_written() - written;
    assert_eq!(report.size_before, before);
    assert_eq!(report.size_after, file_size(db));
    // Log mode: the log is started over and cut back to its two header slots (8 KiB) and a
    // small slack.
    assert!(
        log_size(db) <= (1 << 20) + 8192,
        "log of {} bytes",
        log_size(db)
    );
    let after = main_size(db);
    assert_eq!(read_all(db, "t"), expected);
    check_ok(db);

    let fresh = TestDb::with(Options::default().durability(Durability::None));
    load(fresh.db(), (0..n).filter(|i| i % 10 == 0));
    fresh.db().checkpoint().unwrap();
    let fresh_size = main_size(fresh.db());
    let ratio = after as f64 / fresh_size as f64;
    eprintln!(
        "compaction: {before} -> {after} bytes ({ratio:.3}x a fresh load of {fresh_size}), \
         {} leaves packed, {} pages moved, {} commits, {written} bytes written, {:?}",
        report.leaves_packed, report.pages_moved, report.commits, report.elapsed
    );
    assert!(
        ratio <= 1.15,
        "compacted file {after} bytes is {ratio:.3}x a fresh load ({fresh_size} bytes)"
    );
}

#[test]
fn a_reader_from_before_the_deletion_sees_its_snapshot_whole_while_compaction_waits() {
    let n = 50_000;
    let mut test_db = TestDb::new();
    let db = test_db.db();
    load(db, scrambled(n));
    let all = read_all(db, "t");
    let (begun, started) = std::sync::mpsc::channel();
    let deleted = Barrier::new(2);
    let (seen, report, left, before) = thread::scope(|scope| {
        // Begun on the thread that reads it: compaction waits for readers of other threads.
        let reading = scope.spawn(|| {
            let reader = db.begin_read().unwrap();
            begun.send(()).unwrap();
            deleted.wait();
            // Compaction runs meanwhile, and waits for this reader.
            thread::sleep(std::time::Duration::from_millis(300));
            let t = reader.open_table("t").unwrap();
            let seen: Vec<(Vec<u8>, Vec<u8>)> = t
                .iter()
                .unwrap()
                .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<bough::Result<_>>()
                .unwrap();
            seen
        });
        started.recv().unwrap();
        delete_nine_in_ten(db, n);
        let left = read_all(db, "t");
        let before = file_size(db);
        deleted.wait();
        let report = db.compact().unwrap();
        (reading.join().unwrap(), report, left, before)
    });
    assert_eq!(seen, all, "the snapshot whole");
    assert!(report.waited_for_readers > std::time::Duration::ZERO);
    assert!(
        report.size_after < before / 2,
        "{report:?}: the pages the reader held were reused once it was gone"
    );
    assert_eq!(read_all(db, "t"), left);
    check_ok(db);
    test_db.reopen();
    assert_eq!(read_all(test_db.db(), "t"), left);
}

#[test]
fn a_reader_on_the_calling_thread_is_not_waited_for_and_keeps_its_snapshot() {
    let n = 20_000;
    let test_db = TestDb::new();
    let db = test_db.db();
    load(db, scrambled(n));
    let all = read_all(db, "t");
    let reader = db.begin_read().unwrap();
    delete_nine_in_ten(db, n);
    let report = db.compact().unwrap();
    assert_eq!(report.waited_for_readers, std::time::Duration::ZERO);
    let t = reader.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), all.len() as u64);
    assert_eq!(t.get(&key(1)).unwrap(), Some(&value(1)[..]));
    drop(reader);
    let before = file_size(db);
    let report = db.compact().unwrap();
    assert!(report.size_after < before / 2, "{report:?}");
    check_ok(db);
}

#[test]
fn writers_and_readers_go_on_between_compaction_steps() {
    let n = 100_000;
    let test_db = TestDb::with(Options::default().durability(Durability::None));
    let db = test_db.db();
    load(db, scrambled(n));
    delete_nine_in_ten(db, n);
    let report = thread::scope(|scope| {
        scope.spawn(|| {
            for round in 0..200u64 {
                write(db, |w| {
                    let mut t = w.open_table("new").unwrap();
                    t.insert(&round.to_be_bytes(), &[7u8; 300]).unwrap();
                });
                let r = db.begin_read().unwrap();
                let t = r.open_table("t").unwrap();
                assert_eq!(t.len().unwrap(), n / 10);
            }
        });
        db.compact().unwrap()
    });
    assert!(report.commits > 1);
    assert_eq!(read_all(db, "new").len(), 200);
    assert_eq!(read_all(db, "t").len() as u64, n / 10);
    check_ok(db);
}

#[test]
fn the_free_tail_leaves_the_file_by_itself() {
    let test_db = TestDb::with(Options::default().durability(Durability::None));
    let db = test_db.db();
    // Sorted loads, one table after the other: the second one's pages end the file.
    for (table, count) in [("kept", 20_000u64), ("dropped", 180_000)] {
        write(db, |w| {
            let mut t = w.open_table(table).unwrap();
            for i in 0..count {
                t.insert(&key(i), &[1u8; 100]).unwrap();
            }
        });
    }
    db.checkpoint().unwrap();
    let full = main_size(db);
    write(db, |w| assert!(w.delete_table("dropped").unwrap()));
    // Durable commits release the freed pages, rewrite the freelist's own pages (written at
    // the end of the file when nothing was free) lower down, lower the high-water mark, and
    // let the tail go once both metas name the lower mark.
    for i in 0..5u64 {
        let mut w = db.begin_write().unwrap();
        w.set_durability(Durability::Immediate);
        w.open_table("kept")
            .unwrap()
            .insert(&i.to_be_bytes(), b"x")
            .unwrap();
        w.commit().unwrap();
        db.checkpoint().unwrap();
    }
    let after = main_size(db);
    assert!(
        after < full / 4,
        "the file kept its free tail: {full} -> {after} bytes"
    );
    assert_eq!(read_all(db, "kept").len(), 20_005);
    check_ok(db);
}
