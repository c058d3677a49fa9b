//! Space reuse: repeated insert/delete and overwrite cycles reach a steady file size, a live
//! reader pins the pages it can see, and dropping it lets reuse resume.

mod common;

use std::fs;

use bough::{Database, Mode};
use common::{Options, TestDb, check_ok, test_mode, value, write};

const KEYS: u64 = 2000;
const VALUE_LEN: usize = 100;

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

/// Inserts all keys (values derived from `round`) in one commit.
fn insert_all(db: &Database, round: u64) {
    write(db, |w| {
        let mut t = w.open_table("churn").unwrap();
        for i in 0..KEYS {
            t.insert(&key(i), &value(round * KEYS + i, VALUE_LEN))
                .unwrap();
        }
    });
}

/// Deletes all keys in one commit.
fn delete_all(db: &Database) {
    write(db, |w| {
        let mut t = w.open_table("churn").unwrap();
        for i in 0..KEYS {
            assert!(t.remove(&key(i)).unwrap(), "key {i} was missing");
        }
    });
}

/// What the tests watch: the file's length (two ways) and the page high-water mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Footprint {
    file_len: u64,
    stats_file_size: u64,
    high_water: u64,
}

/// The high-water mark and file length of each round, for failure messages.
fn by_round(footprints: &[Footprint]) -> String {
    let high_water: Vec<u64> = footprints.iter().map(|f| f.high_water).collect();
    let file_len: Vec<u64> = footprints.iter().map(|f| f.file_len).collect();
    format!("high-water mark by round {high_water:?}, file length by round {file_len:?}")
}

fn footprint(test_db: &TestDb) -> Footprint {
    if test_mode() == Mode::Wal {
        // Pages reach the file only at checkpoints: without one, the file would stay as it
        // was created, flat whatever the engine does, until the log fills up.
        test_db.db().checkpoint().unwrap();
    }
    let stats = test_db.db().stats().unwrap();
    Footprint {
        file_len: fs::metadata(test_db.path()).unwrap().len(),
        stats_file_size: stats.file_size,
        high_water: stats.high_water,
    }
}

/// Thirty rounds of inserting then deleting 2000 keys, each in its own commit, leave the file
/// and the high-water mark exactly where they were after ten rounds: freed pages are reused.
/// Warm-up: the freelist log grows to its steady length (DESIGN.md "Freelist and reader
/// tracking"); small commits keep their records in the meta page and move them to freelist
/// pages every few commits, so the log takes some rounds to get there.
#[test]
fn insert_delete_churn_keeps_the_file_flat() {
    let test_db = TestDb::with(Options::page_size(4096));
    let db = test_db.db();
    let mut after_round = Vec::new();
    for round in 0..30 {
        insert_all(db, round);
        delete_all(db);
        after_round.push(footprint(&test_db));
    }
    assert_eq!(
        after_round[29],
        after_round[9],
        "the footprint changed between round 10 and round 30: {}",
        by_round(&after_round)
    );
    assert!(common::read_all(db, "churn").is_empty());
}

/// A reader whose snapshot holds the keys keeps those pages from reuse while churn frees
/// them: they stay pending, the high-water mark grows by at least as many pages, and the
/// reader's view stays intact. Once it is dropped, nothing stays pending and further churn
/// stops the growth.
#[test]
fn live_reader_pins_pages_until_dropped() {
    let test_db = TestDb::with(Options::page_size(4096));
    let db = test_db.db();
    insert_all(db, 0);
    for round in 1..6 {
        delete_all(db);
        insert_all(db, round);
    }
    let before = db.stats().unwrap();
    let snapshot_pages = before.branch_pages + before.leaf_pages;

    let reader = db.begin_read().unwrap();
    let pinned_round = 5;
    let mut round = 6;
    for _ in 0..10 {
        delete_all(db);
        insert_all(db, round);
        round += 1;
    }
    let during = db.stats().unwrap();
    if common::test_mode() == bough::Mode::Wal {
        // Write-ahead-log mode reuses pages at once (the reader reads its versions from the
        // log); what the reader holds is the log: it cannot be copied into the file.
        assert!(
            !db.checkpoint().unwrap(),
            "a checkpoint ran under a reader of an older snapshot"
        );
    } else {
        assert!(
            during.pending_pages >= snapshot_pages,
            "the reader's {snapshot_pages} tree pages are not all held: {during:?}"
        );
        assert!(
            during.high_water >= before.high_water + snapshot_pages,
            "the high-water mark did not grow by the {snapshot_pages} pinned pages: before {before:?}, with reader {during:?}"
        );
    }
    let t = reader.open_table("churn").unwrap();
    let seen = common::collect(t.iter().unwrap());
    assert_eq!(seen.len() as u64, KEYS);
    for (i, (k, v)) in seen.iter().enumerate() {
        let i = i as u64;
        assert_eq!(
            (k, v),
            (&key(i), &value(pinned_round * KEYS + i, VALUE_LEN)),
            "entry {i}"
        );
    }
    drop(reader);

    let mut after_release = Vec::new();
    for _ in 0..10 {
        delete_all(db);
        insert_all(db, round);
        round += 1;
        after_release.push(footprint(&test_db));
    }
    assert_eq!(
        db.stats().unwrap().pending_pages,
        0,
        "pages stay pending with no reader"
    );
    assert!(
        after_release[9].high_water <= after_release[1].high_water
            && after_release[9].file_len <= after_release[1].file_len,
        "the footprint kept growing after the reader was dropped: {}",
        by_round(&after_release)
    );
    check_ok(db);
}

/// Overwriting the same keys with fresh 50 KiB values (overflow runs) again and again keeps the
/// file flat after warm-up, and the last values read back intact. Warm-up: the freelist log
/// grows to its steady length (about twice its snapshot, DESIGN.md "Freelist and reader
/// tracking"); each commit's records fill most of the meta page, so they move to freelist pages
/// every commit or two, and the log gets there in about 30 commits. The footprint is compared
/// from round 40 on (a local run of 400 rounds stayed flat from round 32).
#[test]
fn large_value_overwrite_churn_keeps_the_file_flat() {
    const BIG_KEYS: u64 = 16;
    const BIG_LEN: usize = 50 * 1024;
    let test_db = TestDb::with(Options::page_size(4096));
    let db = test_db.db();
    let mut after_round = Vec::new();
    for round in 0..80 {
        write(db, |w| {
            let mut t = w.open_table("big").unwrap();
            for i in 0..BIG_KEYS {
                t.insert(&key(i), &value(round * BIG_KEYS + i, BIG_LEN))
                    .unwrap();
            }
        });
        after_round.push(footprint(&test_db));
    }
    assert_eq!(
        after_round[79],
        after_round[39],
        "the footprint changed between round 40 and round 80: {}",
        by_round(&after_round)
    );
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("big").unwrap();
    for i in 0..BIG_KEYS {
        let got = t.get(&key(i)).unwrap().expect("key present");
        assert!(
            got == value(79 * BIG_KEYS + i, BIG_LEN),
            "value {i} is wrong"
        );
    }
}
