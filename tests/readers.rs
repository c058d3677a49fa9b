//! Pinned snapshots are visible: `Database::readers()` lists each live read transaction with
//! its snapshot, age and the freed pages it holds back, and `stats()` reports the oldest one.
//! A leaked reader's count grows while a writer churns; a reader dropped normally releases
//! everything it held.

mod common;

use bough::Mode;
use common::{TestDb, test_mode, write};

fn churn(test_db: &TestDb, round: u32) {
    write(test_db.db(), |w| {
        let mut t = w.open_table("t").unwrap();
        for i in 0..200u32 {
            t.insert(
                &(i * 7 % 2_000).to_be_bytes(),
                &round.to_be_bytes().repeat(40),
            )
            .unwrap();
        }
    });
}

fn load(test_db: &TestDb) {
    write(test_db.db(), |w| {
        let mut t = w.open_table("t").unwrap();
        for i in 0..2_000u32 {
            t.insert(&i.to_be_bytes(), &[1; 160]).unwrap();
        }
    });
}

#[test]
fn a_leaked_reader_shows_and_its_pinned_pages_grow() {
    let test_db = TestDb::new();
    load(&test_db);
    let rtx = test_db.db().begin_read().unwrap();
    let snapshot = rtx.snapshot_id();
    std::mem::forget(rtx);
    let mut last = 0;
    for round in 0..10 {
        churn(&test_db, round);
        let readers = test_db.db().readers();
        assert_eq!(readers.len(), 1, "the leaked reader, and only it");
        assert_eq!(readers[0].snapshot_id, snapshot);
        let pinned = readers[0].pinned_pages;
        match test_mode() {
            Mode::CopyOnWrite => assert!(pinned > last, "round {round}: {pinned} after {last}"),
            // Log mode reuses freed pages at once: a reader holds none back.
            _ => assert_eq!(pinned, 0),
        }
        last = pinned;
        let stats = test_db.db().stats().unwrap();
        assert_eq!(stats.oldest_reader_pinned_pages, pinned);
        assert!(stats.oldest_reader_age.is_some());
        assert!(stats.pending_pages >= pinned);
    }
}

#[test]
fn a_reader_dropped_normally_releases_what_it_pinned() {
    let test_db = TestDb::new();
    load(&test_db);
    assert!(test_db.db().readers().is_empty());
    assert_eq!(test_db.db().stats().unwrap().oldest_reader_age, None);
    let old = test_db.db().begin_read().unwrap();
    for round in 0..5 {
        churn(&test_db, round);
    }
    let newer = test_db.db().begin_read().unwrap();
    let readers = test_db.db().readers();
    assert_eq!(readers.len(), 2);
    assert_eq!(readers[0].snapshot_id, old.snapshot_id(), "oldest first");
    assert!(readers[0].pinned_pages >= readers[1].pinned_pages);
    assert!(readers[0].age >= readers[1].age);
    if test_mode() == Mode::CopyOnWrite {
        assert!(readers[0].pinned_pages > 0);
        assert_eq!(
            readers[1].pinned_pages, 0,
            "nothing was freed after the newer snapshot"
        );
    }
    drop((old, newer));
    assert!(test_db.db().readers().is_empty());
    // Two commits later every page freed while the reader lived is reusable again: the file
    // stops growing under the same churn.
    churn(&test_db, 5);
    churn(&test_db, 6);
    let before = test_db.db().stats().unwrap().high_water;
    for round in 7..12 {
        churn(&test_db, round);
    }
    let after = test_db.db().stats().unwrap();
    assert_eq!(after.oldest_reader_pinned_pages, 0);
    assert!(
        after.high_water <= before + 2,
        "the file grew from {before} to {} pages with no reader left",
        after.high_water
    );
}
