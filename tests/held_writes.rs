//! Held writes (DESIGN.md, "Held writes"): once a copy-on-write transaction keeps reading back
//! pages it spilled, it holds its inserts and removals and applies them in key order. Every read
//! inside the transaction still sees them, the memory budget still bounds the whole, and commit,
//! abort, table deletion and reopening behave as without them. Log mode never holds writes; the
//! same checks run there against the same model.

mod common;

use bough::{Mode, Table};
use common::{Options, Rng, TestDb, check_ok, read_all, test_mode, write};
use std::collections::BTreeMap;
use std::ops::Bound;

const BUDGET: usize = 64 * 4096;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(rng: &mut Rng) -> Vec<u8> {
    (0..3).flat_map(|_| rng.next_u64().to_le_bytes()).collect()
}

fn value(rng: &mut Rng) -> Vec<u8> {
    let len = 100 + rng.index(100);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn holds() -> bool {
    test_mode() == Mode::CopyOnWrite
}

fn owned(entry: bough::Result<(&[u8], &[u8])>) -> (Vec<u8>, Vec<u8>) {
    let (k, v) = entry.unwrap();
    (k.to_vec(), v.to_vec())
}

fn all(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Inserts `count` random entries, in the table and the model.
fn fill(table: &mut Table<'_>, rng: &mut Rng, count: usize, model: &mut Model) {
    for _ in 0..count {
        let (k, v) = (key(rng), value(rng));
        table.insert(&k, &v).unwrap();
        model.insert(k, v);
    }
}

/// Up to 20 entries from `from` on, both ways, against the model.
fn check_short_ranges(table: &Table<'_>, model: &Model, from: &[u8]) {
    let forward: Vec<_> = table.range(from..).unwrap().take(20).map(owned).collect();
    let expected: Vec<_> = model
        .range(from.to_vec()..)
        .take(20)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(forward, expected);
    let backward: Vec<_> = table
        .range(..=from)
        .unwrap()
        .rev()
        .take(20)
        .map(owned)
        .collect();
    let expected: Vec<_> = model
        .range(..=from.to_vec())
        .rev()
        .take(20)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(backward, expected);
}

/// Every entry, from the front and from the back, against the model.
fn check_whole_table(table: &Table<'_>, model: &Model) {
    let forward: Vec<_> = table.iter().unwrap().map(owned).collect();
    assert_eq!(forward, all(model));
    let mut backward: Vec<_> = table.iter().unwrap().rev().map(owned).collect();
    backward.reverse();
    assert_eq!(backward, all(model));
}

#[test]
fn a_thrashing_transaction_reads_its_held_writes_everywhere() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(21);
    let mut model = Model::new();
    write(db.db(), |tx| {
        fill(
            &mut tx.open_table("t").unwrap(),
            &mut rng,
            3_000,
            &mut model,
        )
    });
    let mut most_held = 0;
    let mut most_memory = 0;
    write(db.db(), |tx| {
        for step in 0..30_000 {
            {
                let mut table = tx.open_table("t").unwrap();
                let existing = || model.keys().nth(step * 7919 % model.len()).unwrap().clone();
                match rng.index(100) {
                    0..50 => fill(&mut table, &mut rng, 1, &mut model),
                    50..65 => {
                        let (k, v) = (existing(), value(&mut rng));
                        table.insert(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                    65..75 => {
                        let k = existing();
                        assert!(table.remove(&k).unwrap());
                        model.remove(&k);
                    }
                    75..78 => assert!(!table.remove(&key(&mut rng)).unwrap()),
                    78..88 => {
                        let k = existing();
                        assert_eq!(table.get(&k).unwrap(), model.get(&k).map(|v| &v[..]));
                        assert_eq!(table.get(&key(&mut rng)).unwrap(), None);
                    }
                    88..93 => assert_eq!(table.len().unwrap(), model.len() as u64),
                    93..98 => check_short_ranges(&table, &model, &key(&mut rng)),
                    _ => {
                        let first = table
                            .first()
                            .unwrap()
                            .map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let last = table.last().unwrap().map(|(k, v)| (k.to_vec(), v.to_vec()));
                        let first_model = model.iter().next().map(|(k, v)| (k.clone(), v.clone()));
                        let last_model = model.iter().last().map(|(k, v)| (k.clone(), v.clone()));
                        assert_eq!((first, last), (first_model, last_model));
                    }
                }
            }
            most_held = most_held.max(tx.held_writes());
            most_memory = most_memory.max(tx.dirty_memory());
        }
        let table = tx.open_table("t").unwrap();
        assert_eq!(table.len().unwrap(), model.len() as u64);
        assert!(!table.is_empty().unwrap());
        check_whole_table(&table, &model);
    });
    if holds() {
        // Thousands, not a handful: the budget holds about 1,100 of these entries.
        assert!(most_held > 500, "at most {most_held} inserts were held");
        assert!(most_memory <= BUDGET, "{most_memory} bytes in memory");
    } else {
        assert_eq!(most_held, 0);
    }
    assert_eq!(read_all(db.db(), "t"), all(&model));
    db.reopen();
    assert_eq!(read_all(db.db(), "t"), all(&model));
    check_ok(db.db());
}

#[test]
fn switching_tables_applies_the_held_writes_first() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(8);
    let (mut a, mut b) = (Model::new(), Model::new());
    write(db.db(), |tx| {
        fill(&mut tx.open_table("a").unwrap(), &mut rng, 20_000, &mut a);
        let held = tx.held_writes();
        if holds() {
            assert!(held > 0, "20,000 random inserts held none");
        }
        tx.open_table("b").unwrap();
        assert_eq!(tx.held_writes(), 0, "opening another table applies them");
        fill(&mut tx.open_table("b").unwrap(), &mut rng, 10, &mut b);
        let table = tx.open_table("a").unwrap();
        assert_eq!(table.len().unwrap(), a.len() as u64);
        assert_eq!(
            table.iter().unwrap().map(owned).collect::<Vec<_>>(),
            all(&a)
        );
    });
    db.reopen();
    assert_eq!(read_all(db.db(), "a"), all(&a));
    assert_eq!(read_all(db.db(), "b"), all(&b));
}

#[test]
fn abort_and_table_deletion_drop_held_writes() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(13);
    let mut model = Model::new();
    write(db.db(), |tx| {
        fill(
            &mut tx.open_table("kept").unwrap(),
            &mut rng,
            500,
            &mut model,
        )
    });
    {
        let tx = db.db().begin_write().unwrap();
        fill(
            &mut tx.open_table("kept").unwrap(),
            &mut rng,
            20_000,
            &mut Model::new(),
        );
        assert!(!holds() || tx.held_writes() > 0);
        tx.abort().unwrap();
    }
    assert_eq!(read_all(db.db(), "kept"), all(&model));
    write(db.db(), |tx| {
        fill(
            &mut tx.open_table("doomed").unwrap(),
            &mut rng,
            20_000,
            &mut Model::new(),
        );
        assert!(!holds() || tx.held_writes() > 0);
        assert!(tx.delete_table("doomed").unwrap());
        assert_eq!(tx.held_writes(), 0);
        let table = tx.open_table("doomed").unwrap();
        assert!(table.is_empty().unwrap());
        assert_eq!(table.iter().unwrap().count(), 0);
    });
    db.reopen();
    assert_eq!(read_all(db.db(), "kept"), all(&model));
    assert!(read_all(db.db(), "doomed").is_empty());
    check_ok(db.db());
}

#[test]
fn empty_and_reversed_bounds_over_held_writes() {
    let db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(2);
    let mut model = Model::new();
    write(db.db(), |tx| {
        let mut table = tx.open_table("t").unwrap();
        fill(&mut table, &mut rng, 20_000, &mut model);
        let keys: Vec<Vec<u8>> = model.keys().step_by(997).cloned().collect();
        for pair in keys.windows(2) {
            let (low, high) = (&pair[0][..], &pair[1][..]);
            assert_eq!(table.range(high..low).unwrap().count(), 0);
            let excluded = (Bound::Excluded(low), Bound::Excluded(low));
            assert_eq!(table.range(excluded).unwrap().count(), 0);
            assert_eq!(table.range(low..low).unwrap().count(), 0);
            assert_eq!(table.range(low..=low).unwrap().count(), 1);
            let between = table.range(low..high).unwrap().count();
            assert_eq!(
                between,
                model.range(pair[0].clone()..pair[1].clone()).count()
            );
        }
    });
}

#[test]
fn memory_stays_within_tiny_budgets_and_insert_remove_loops() {
    for pages in [1, 2, 3, 5] {
        let budget = pages * 4096;
        let mut db = TestDb::with(Options::default().dirty_budget(budget));
        let mut rng = Rng::new(pages as u64);
        let mut model = Model::new();
        let mut most = 0;
        write(db.db(), |tx| {
            for _ in 0..3_000 {
                fill(&mut tx.open_table("t").unwrap(), &mut rng, 1, &mut model);
                most = most.max(tx.dirty_memory());
            }
            // A key inserted and removed again and again leaves nothing held, but its
            // bookkeeping must not grow past the budget either.
            let (k, v) = (key(&mut rng), value(&mut rng));
            for _ in 0..20_000 {
                {
                    let mut table = tx.open_table("t").unwrap();
                    table.insert(&k, &v).unwrap();
                    assert!(table.remove(&k).unwrap());
                }
                most = most.max(tx.dirty_memory());
            }
        });
        if holds() {
            assert!(most <= budget, "{most} bytes in memory, budget {budget}");
        }
        db.reopen();
        assert_eq!(read_all(db.db(), "t"), all(&model));
    }
}

#[test]
fn removals_are_held_and_hide_their_keys() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(17);
    let mut model = Model::new();
    write(db.db(), |tx| {
        fill(
            &mut tx.open_table("t").unwrap(),
            &mut rng,
            20_000,
            &mut model,
        )
    });
    let doomed: Vec<Vec<u8>> = model.keys().step_by(2).cloned().collect();
    let mut order: Vec<usize> = (0..doomed.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.index(i + 1));
    }
    let mut most_held = 0;
    write(db.db(), |tx| {
        for (done, &i) in order.iter().enumerate() {
            {
                let mut table = tx.open_table("t").unwrap();
                assert!(table.remove(&doomed[i]).unwrap());
                assert!(!table.remove(&doomed[i]).unwrap(), "removed twice");
                model.remove(&doomed[i]);
                if done % 1_000 == 0 {
                    assert_eq!(table.get(&doomed[i]).unwrap(), None);
                    assert_eq!(table.len().unwrap(), model.len() as u64);
                    check_short_ranges(&table, &model, &doomed[i]);
                }
                if done % 3_000 == 0 {
                    // Back again, and gone again: a held removal turns into a held insert.
                    let v = value(&mut rng);
                    table.insert(&doomed[i], &v).unwrap();
                    assert_eq!(table.get(&doomed[i]).unwrap(), Some(&v[..]));
                    assert_eq!(table.len().unwrap(), model.len() as u64 + 1);
                    assert!(table.remove(&doomed[i]).unwrap());
                }
            }
            most_held = most_held.max(tx.held_writes());
        }
        let table = tx.open_table("t").unwrap();
        assert_eq!(table.len().unwrap(), model.len() as u64);
        check_whole_table(&table, &model);
    });
    if holds() {
        assert!(most_held > 500, "at most {most_held} removals were held");
    }
    db.reopen();
    assert_eq!(read_all(db.db(), "t"), all(&model));
    check_ok(db.db());
}

#[test]
fn removing_a_held_insert_of_a_new_key_leaves_nothing_held() {
    let db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(23);
    let mut model = Model::new();
    write(db.db(), |tx| {
        fill(
            &mut tx.open_table("t").unwrap(),
            &mut rng,
            20_000,
            &mut model,
        );
        let before = tx.held_writes();
        if holds() {
            assert!(before > 0);
        }
        for _ in 0..100 {
            let (k, v) = (key(&mut rng), value(&mut rng));
            {
                let mut table = tx.open_table("t").unwrap();
                table.insert(&k, &v).unwrap();
                assert!(table.remove(&k).unwrap());
                assert_eq!(table.get(&k).unwrap(), None);
            }
            assert_eq!(tx.held_writes(), before);
        }
        let table = tx.open_table("t").unwrap();
        assert_eq!(table.len().unwrap(), model.len() as u64);
    });
    assert_eq!(read_all(db.db(), "t"), all(&model));
}

/// Keys of 1 to 600 bytes (branches of few children, so trees grow deep and splits reach the
/// root) and values from empty to several pages (overflow runs).
fn mixed_entry(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let key_len = 1 + rng.index(600);
    let value_len = match rng.index(10) {
        0..7 => rng.index(50),
        7..9 => 100 + rng.index(900),
        _ => 2_000 + rng.index(8_000),
    };
    let key = (0..key_len).map(|_| rng.next_u64() as u8).collect();
    let value = (0..value_len).map(|_| rng.next_u64() as u8).collect();
    (key, value)
}

/// Held writes reach the tree a span of leaves at a time, merged and repacked: spans that
/// grow a leaf into many, that split branches up to a new root, that empty leaves, branches
/// and the whole tree, and that replace or remove large values, all leave the tree the model
/// says and a file `check()` finds whole.
#[test]
fn held_writes_applied_a_span_at_a_time_keep_the_tree_whole() {
    for budget_pages in [8, 64] {
        spans_keep_the_tree_whole(budget_pages);
    }
}

fn spans_keep_the_tree_whole(budget_pages: usize) {
    let mut db = TestDb::with(Options::default().dirty_budget(budget_pages * 4096));
    let mut rng = Rng::new(41 + budget_pages as u64);
    let mut model = Model::new();
    let mut most_held = 0;
    // Grows from nothing, with overwrites and removals among the inserts.
    write(db.db(), |tx| {
        for step in 0..4_000 {
            {
                let mut table = tx.open_table("t").unwrap();
                match rng.index(10) {
                    0..7 => {
                        let (k, v) = mixed_entry(&mut rng);
                        table.insert(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                    7..9 if !model.is_empty() => {
                        let k = model.keys().nth(step * 7919 % model.len()).unwrap().clone();
                        let (_, v) = mixed_entry(&mut rng);
                        table.insert(&k, &v).unwrap();
                        model.insert(k, v);
                    }
                    _ if !model.is_empty() => {
                        let k = model.keys().nth(step * 31 % model.len()).unwrap().clone();
                        assert!(table.remove(&k).unwrap());
                        model.remove(&k);
                    }
                    _ => {}
                }
            }
            most_held = most_held.max(tx.held_writes());
        }
    });
    assert_eq!(read_all(db.db(), "t"), all(&model));
    check_ok(db.db());
    // Shrinks to a few entries, then to none, then grows again, each in one transaction.
    for keep in [40, 0] {
        let mut doomed: Vec<Vec<u8>> = model.keys().skip(keep).cloned().collect();
        for i in (1..doomed.len()).rev() {
            doomed.swap(i, rng.index(i + 1));
        }
        write(db.db(), |tx| {
            for k in &doomed {
                {
                    let mut table = tx.open_table("t").unwrap();
                    assert!(table.remove(k).unwrap());
                }
                model.remove(k);
                most_held = most_held.max(tx.held_writes());
            }
            let table = tx.open_table("t").unwrap();
            assert_eq!(table.len().unwrap(), model.len() as u64);
        });
        assert_eq!(read_all(db.db(), "t"), all(&model));
        check_ok(db.db());
    }
    assert!(model.is_empty());
    write(db.db(), |tx| {
        let mut table = tx.open_table("t").unwrap();
        for _ in 0..1_500 {
            let (k, v) = mixed_entry(&mut rng);
            table.insert(&k, &v).unwrap();
            model.insert(k, v);
        }
    });
    db.reopen();
    assert_eq!(read_all(db.db(), "t"), all(&model));
    check_ok(db.db());
    if holds() {
        // The budget holds a few dozen of these entries (or a few hundred), a pass at a time.
        assert!(most_held > 50, "at most {most_held} writes were held");
    } else {
        assert_eq!(most_held, 0);
    }
}

/// A table opened once the transaction thrashes holds from its first write, so its held writes
/// build the tree from nothing (a single leaf, then a root above many), and later empty it
/// down to one entry and to none.
#[test]
fn a_table_held_from_its_first_write_is_built_and_emptied_by_spans() {
    let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(43);
    let (mut big, mut small) = (Model::new(), Model::new());
    let thrash = |tx: &mut bough::WriteTransaction, rng: &mut Rng, big: &mut Model| {
        fill(&mut tx.open_table("big").unwrap(), rng, 20_000, big);
    };
    write(db.db(), |tx| {
        thrash(tx, &mut rng, &mut big);
        let mut most_held = 0;
        for _ in 0..3_000 {
            let (k, v) = mixed_entry(&mut rng);
            tx.open_table("small").unwrap().insert(&k, &v).unwrap();
            small.insert(k, v);
            most_held = most_held.max(tx.held_writes());
        }
        if holds() {
            assert!(most_held > 100, "at most {most_held} held");
        }
    });
    assert_eq!(read_all(db.db(), "small"), all(&small));
    check_ok(db.db());
    for keep in [1, 0] {
        let doomed: Vec<Vec<u8>> = small.keys().skip(keep).cloned().collect();
        write(db.db(), |tx| {
            thrash(tx, &mut rng, &mut big);
            let mut table = tx.open_table("small").unwrap();
            for k in &doomed {
                assert!(table.remove(k).unwrap());
                small.remove(k);
            }
            assert_eq!(table.len().unwrap(), keep as u64);
        });
        assert_eq!(read_all(db.db(), "small"), all(&small));
        check_ok(db.db());
    }
    db.reopen();
    assert_eq!(read_all(db.db(), "big"), all(&big));
    assert!(read_all(db.db(), "small").is_empty());
    check_ok(db.db());
}

#[test]
fn leaves_stay_full_when_held_writes_spread_thin_over_a_large_tree() {
    if !holds() {
        return; // Log mode inserts one at a time and never holds.
    }
    // The budget holds a few hundred entries, the tree grows to thousands of leaves: each
    // application gives a leaf well under one write, as a load of 10,000,000 entries gives
    // its leaves under the default budget. Splitting such a leaf in two would leave the tree
    // about two thirds full; a split that fills the leaf beside it instead keeps it fuller.
    let db = TestDb::with(Options::default().dirty_budget(BUDGET));
    let mut rng = Rng::new(77);
    let count = 30_000;
    let cell = 7 + 24 + 150 + 2; // cell header, key, value, slot
    write(db.db(), |tx| {
        let mut table = tx.open_table("t").unwrap();
        for _ in 0..count {
            let k = key(&mut rng);
            table.insert(&k, &[0x5A; 150]).unwrap();
        }
    });
    let stats = db.db().stats().unwrap();
    let usable = 4096 - 32; // below the page header
    let fill = (count * cell) as f64 / (stats.leaf_pages as usize * usable) as f64;
    assert!(fill >= 0.78, "leaves {:.0}% full: {stats:?}", fill * 100.0);
    check_ok(db.db());
}

/// A removal is held from the table's first removal on when its tree is more than about one
/// and a half budgets (twice the held writes' share): removals spread over it would copy
/// more leaves than the budget keeps. Below that, removals change the tree at once. Either
/// way every read sees them, and the commit keeps them.
#[test]
fn removals_from_a_tree_beyond_the_budget_are_held_from_the_first() {
    // About 4 MiB of leaves against 256 KiB; about 300 KiB, between the held writes' share
    // (three quarters of the budget) and twice it; and about 50 KiB.
    for (entries, held_at_once) in [(20_000, true), (1_400, true), (250, false)] {
        let mut db = TestDb::with(Options::default().dirty_budget(BUDGET));
        let mut rng = Rng::new(entries as u64);
        let mut model = Model::new();
        write(db.db(), |tx| {
            fill(
                &mut tx.open_table("t").unwrap(),
                &mut rng,
                entries,
                &mut model,
            )
        });
        let doomed: Vec<Vec<u8>> = model.keys().step_by(3).cloned().collect();
        write(db.db(), |tx| {
            for (done, k) in doomed.iter().enumerate() {
                {
                    let mut table = tx.open_table("t").unwrap();
                    assert!(table.remove(k).unwrap());
                    model.remove(k);
                    if done % 500 == 0 {
                        assert_eq!(table.get(k).unwrap(), None);
                        assert_eq!(table.len().unwrap(), model.len() as u64);
                        check_short_ranges(&table, &model, k);
                    }
                }
                if done == 0 {
                    let expected = usize::from(held_at_once && holds());
                    assert_eq!(tx.held_writes(), expected, "{entries} entries");
                }
            }
            check_whole_table(&tx.open_table("t").unwrap(), &model);
        });
        db.reopen();
        assert_eq!(read_all(db.db(), "t"), all(&model));
        check_ok(db.db());
    }
}
