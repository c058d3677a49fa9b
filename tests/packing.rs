//! Packing the leaves a transaction changed (DESIGN.md, "Packing changed leaves"): large
//! transactions that fit in memory leave full leaves and, in copy-on-write mode, a file with
//! few free pages; what they leave reads back whole after a reopen.

mod common;

use bough::Mode;
use common::{Rng, TestDb, check_ok, read_all, test_mode, write};
use std::collections::BTreeMap;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Bytes of a leaf cell beside its key and value: its header and its slot.
const CELL_OVERHEAD: usize = 7 + 2;
const KEY_LEN: usize = 16;
const VALUE_LEN: usize = 120;

/// Loads `count` random entries in one transaction.
fn load(db: &TestDb, rng: &mut Rng, count: usize, model: &mut Model) {
    write(db.db(), |tx| {
        let mut table = tx.open_table("t").unwrap();
        for _ in 0..count {
            let (key, value) = (rng.bytes(KEY_LEN), rng.bytes(VALUE_LEN));
            table.insert(&key, &value).unwrap();
            model.insert(key, value);
        }
    });
}

/// How full the leaves are on average, for `entries` entries.
fn leaf_fill(db: &TestDb, entries: usize) -> f64 {
    let stats = db.db().stats().unwrap();
    let cells = entries * (KEY_LEN + VALUE_LEN + CELL_OVERHEAD);
    cells as f64 / (stats.leaf_pages * (stats.page_size - 32) as u64) as f64
}

/// Checks that the pages a commit packed away do not stay inside the file as free pages:
/// the commit moves its pages down into them and the free run left at the top of the file
/// leaves it. A few may stay below the pages written after the move (catalog, freelist).
fn assert_few_free_pages(db: &TestDb) {
    if test_mode() == Mode::Wal {
        return; // Pages keep their places in log mode: packing frees pages inside the file.
    }
    let stats = db.db().stats().unwrap();
    let free = stats.free_pages + stats.pending_pages;
    assert!(free <= 8, "{stats:?}");
}

#[test]
fn a_random_load_that_fits_in_memory_leaves_full_leaves_and_no_holes() {
    let mut db = TestDb::new();
    let mut model = Model::new();
    load(&db, &mut Rng::new(3), 30_000, &mut model);
    let fill = leaf_fill(&db, model.len());
    assert!(fill > 0.9, "leaves {fill:.3} full");
    assert_few_free_pages(&db);
    db.reopen();
    assert_eq!(
        read_all(db.db(), "t"),
        model.into_iter().collect::<Vec<_>>()
    );
    check_ok(db.db());
}

#[test]
fn removals_in_memory_leave_packed_leaves() {
    let mut db = TestDb::new();
    let mut model = Model::new();
    load(&db, &mut Rng::new(5), 30_000, &mut model);
    // Three of every four keys in key order: every leaf loses most of its entries.
    let doomed: Vec<Vec<u8>> = (model.keys().enumerate())
        .filter(|(i, _)| i % 4 != 0)
        .map(|(_, k)| k.clone())
        .collect();
    write(db.db(), |tx| {
        let mut table = tx.open_table("t").unwrap();
        for key in &doomed {
            assert!(table.remove(key).unwrap());
            model.remove(key);
        }
    });
    let fill = leaf_fill(&db, model.len());
    assert!(fill > 0.9, "leaves {fill:.3} full");
    db.reopen();
    assert_eq!(
        read_all(db.db(), "t"),
        model.into_iter().collect::<Vec<_>>()
    );
    check_ok(db.db());
}
