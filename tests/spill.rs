//! A write transaction larger than its dirty-page budget (issue 5; DESIGN.md, "Spilling dirty
//! pages"): in copy-on-write mode it keeps at most the budget in memory between operations,
//! writing pages early and reading them back when they change again, and it still reads its own
//! writes, commits, aborts and survives a reopen exactly like a small one. Log mode keeps every
//! changed page in memory; there the tests check the contents only.

mod common;

use bough::{Mode, Table};
use common::{Options, Rng, TestDb, read_all, test_mode, write};
use std::collections::BTreeMap;

const BUDGET: usize = 64 * 4096;

fn entry(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let key: Vec<u8> = (0..3).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
    let len = 100 + rng.index(100);
    let value: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    (key, value)
}

/// Inserts `count` random entries into `table`, recording them in `model`.
fn insert_random(
    table: &mut Table<'_>,
    rng: &mut Rng,
    count: usize,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
) {
    for _ in 0..count {
        let (key, value) = entry(rng);
        table.insert(&key, &value).unwrap();
        model.insert(key, value);
    }
}

fn as_entries(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Whether this run's mode honours the budget.
fn spills() -> bool {
    test_mode() == Mode::CopyOnWrite
}

#[test]
fn a_transaction_many_times_its_budget_stays_within_it() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(7);
    let mut model = BTreeMap::new();
    let mut peak = 0;
    write(db.db(), |tx| {
        let mut table = tx.open_table("big").unwrap();
        for i in 0..30_000 {
            let (key, value) = entry(&mut rng);
            table.insert(&key, &value).unwrap();
            model.insert(key, value);
            if i % 3 == 2 {
                // Overwrite an earlier key: its leaf may be in the file by now.
                let old = model.keys().nth(rng.index(model.len())).unwrap().clone();
                let (_, value) = entry(&mut rng);
                table.insert(&old, &value).unwrap();
                model.insert(old, value);
            }
        }
        // Reads inside the transaction see pages written early as well as those in memory.
        for (key, value) in model.iter().step_by(7) {
            assert_eq!(table.get(key).unwrap(), Some(&value[..]));
        }
        let removed: Vec<Vec<u8>> = model.keys().step_by(3).cloned().collect();
        for key in &removed {
            assert!(table.remove(key).unwrap());
            model.remove(key);
        }
        let seen: Vec<(Vec<u8>, Vec<u8>)> = table
            .iter()
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(seen, as_entries(&model));
        peak = peak.max(tx.dirty_memory());
    });
    if spills() {
        assert!(peak <= BUDGET, "{peak} bytes of dirty pages in memory");
    }
    assert_eq!(read_all(db.db(), "big"), as_entries(&model));
    db.reopen();
    assert_eq!(read_all(db.db(), "big"), as_entries(&model));
}

#[test]
fn memory_stays_within_the_budget_after_every_operation() {
    let db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(11);
    let tx = db.db().begin_write().unwrap();
    let mut most = 0;
    for i in 0..20_000 {
        let (key, value) = entry(&mut rng);
        let table_name = if i % 2 == 0 { "even" } else { "odd" };
        tx.open_table(table_name)
            .unwrap()
            .insert(&key, &value)
            .unwrap();
        most = most.max(tx.dirty_memory());
    }
    // Without a budget the two tables would hold about 4 MiB of leaves in memory.
    assert!(
        most > BUDGET / 2,
        "{most} bytes: the workload never filled the budget"
    );
    if spills() {
        assert!(most <= BUDGET, "{most} bytes of dirty pages in memory");
    }
    tx.commit().unwrap();
}

#[test]
fn an_aborted_transaction_that_spilled_leaves_no_trace() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(3);
    let mut model = BTreeMap::new();
    write(db.db(), |tx| {
        insert_random(
            &mut tx.open_table("t").unwrap(),
            &mut rng,
            2_000,
            &mut model,
        )
    });
    let before = db.db().stats().unwrap();
    {
        let tx = db.db().begin_write().unwrap();
        let mut table = tx.open_table("t").unwrap();
        insert_random(&mut table, &mut rng, 20_000, &mut BTreeMap::new());
        for key in model.keys().step_by(2) {
            table.remove(key).unwrap();
        }
        // A table with a live handle cannot be deleted.
        drop(table);
        tx.delete_table("t").unwrap();
        tx.abort().unwrap();
    }
    assert_eq!(read_all(db.db(), "t"), as_entries(&model));
    // The pages it wrote early were never part of a commit: the free space is as before.
    let after_abort = db.db().stats().unwrap();
    assert_eq!(after_abort.high_water, before.high_water);
    assert_eq!(after_abort.free_pages, before.free_pages);
    assert_eq!(after_abort.leaf_pages, before.leaf_pages);
    write(db.db(), |tx| {
        insert_random(
            &mut tx.open_table("t").unwrap(),
            &mut rng,
            20_000,
            &mut model,
        )
    });
    db.reopen();
    assert_eq!(read_all(db.db(), "t"), as_entries(&model));
}

#[test]
fn large_values_and_table_deletion_within_a_spilling_transaction() {
    let mut db = TestDb::with(Options::default().dirty_budget(8 * 4096));
    let mut rng = Rng::new(5);
    let mut model = BTreeMap::new();
    write(db.db(), |tx| {
        let mut doomed = tx.open_table("doomed").unwrap();
        insert_random(&mut doomed, &mut rng, 3_000, &mut BTreeMap::new());
        let mut kept = tx.open_table("kept").unwrap();
        for i in 0..3_000u32 {
            let (key, mut value) = entry(&mut rng);
            if i % 100 == 0 {
                value = vec![i as u8; 20_000];
            }
            kept.insert(&key, &value).unwrap();
            model.insert(key, value);
        }
        drop(doomed);
        assert!(tx.delete_table("doomed").unwrap());
    });
    db.reopen();
    assert_eq!(read_all(db.db(), "kept"), as_entries(&model));
    assert!(db.db().begin_read().unwrap().open_table("doomed").is_err());
}
