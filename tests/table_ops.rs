//! The everyday table operations beyond get/insert/remove, each against a `BTreeMap` model,
//! on small tables and on tables of many pages (with and without held writes), then read
//! back after a reopen; and opening only an existing file.

mod common;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::ops::Bound::{Excluded, Included, Unbounded};

use bough::{Database, Error, Table};
use common::{Options, TestDb, collect, read_all};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

/// A table of `n` entries, every seventh value large enough for an overflow run.
fn fill(table: &mut Table<'_>, n: u32, model: &mut Model) {
    for i in 0..n {
        let value = match i % 7 {
            0 => vec![i as u8; 9_000],
            _ => format!("value-{i}").into_bytes(),
        };
        table.insert(&key(i), &value).unwrap();
        model.insert(key(i), value);
    }
}

fn entries(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    model.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Runs `ops` on a table of `n` entries in one transaction, compares with the model inside
/// it and after a commit and a reopen.
fn against_model(n: u32, budget: Option<usize>, ops: impl FnOnce(&mut Table<'_>, &mut Model)) {
    let options = match budget {
        Some(bytes) => Options::default().dirty_budget(bytes),
        None => Options::default(),
    };
    let mut test_db = TestDb::with(options);
    let mut model = Model::new();
    let wtx = test_db.db().begin_write().unwrap();
    let mut table = wtx.open_table("t").unwrap();
    fill(&mut table, n, &mut model);
    ops(&mut table, &mut model);
    assert_eq!(collect(table.iter().unwrap()), entries(&model));
    assert_eq!(table.len().unwrap(), model.len() as u64);
    wtx.commit().unwrap();
    test_db.reopen();
    assert_eq!(read_all(test_db.db(), "t"), entries(&model));
}

const SIZES: [(u32, Option<usize>); 3] = [(50, None), (5_000, None), (20_000, Some(16 * 4096))];

#[test]
fn pop_first_and_last_take_the_ends() {
    for (n, budget) in SIZES {
        against_model(n, budget, |table, model| {
            for _ in 0..3 {
                assert_eq!(table.pop_first().unwrap(), model.pop_first());
                assert_eq!(table.pop_last().unwrap(), model.pop_last());
            }
        });
    }
    against_model(0, None, |table, _| {
        assert_eq!(table.pop_first().unwrap(), None);
        assert_eq!(table.pop_last().unwrap(), None);
    });
}

#[test]
fn retain_keeps_what_the_predicate_keeps() {
    for (n, budget) in SIZES {
        against_model(n, budget, |table, model| {
            let keep = |k: &[u8], v: &[u8]| (k.len() + v.len()) % 3 != 0;
            let before = model.len();
            model.retain(|k, v| keep(k, v));
            let removed = table.retain(keep).unwrap();
            assert_eq!(removed, (before - model.len()) as u64);
            // Within a range only.
            let (from, to) = (key(n / 4), key(n / 2));
            let removed = table
                .retain_in(from.as_slice()..to.as_slice(), |k, _| k.ends_with(b"1"))
                .unwrap();
            let doomed: Vec<_> = model
                .range(from.clone()..to.clone())
                .filter(|(k, _)| !k.ends_with(b"1"))
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(removed, doomed.len() as u64);
            for k in doomed {
                model.remove(&k);
            }
        });
    }
}

#[test]
fn extract_if_returns_what_it_removes() {
    for (n, budget) in SIZES {
        against_model(n, budget, |table, model| {
            let chosen = |k: &[u8], _: &[u8]| k.ends_with(b"3");
            let want: Vec<_> = model
                .iter()
                .filter(|(k, v)| chosen(k, v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(table.extract_if(chosen).unwrap(), want);
            model.retain(|k, v| !chosen(k, v));
            let from = key(n / 3);
            let want: Vec<_> = model
                .range(from.clone()..)
                .filter(|(k, _)| k.ends_with(b"5"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let got = table
                .extract_from_if((Excluded(&from[..]), Unbounded), |k, _| k.ends_with(b"5"))
                .unwrap();
            // The model's range includes `from`; the table's excludes it.
            let want: Vec<_> = want.into_iter().filter(|(k, _)| *k != from).collect();
            assert_eq!(got, want);
            for (k, _) in &got {
                model.remove(k);
            }
        });
    }
}

#[test]
fn delete_range_and_clear_remove_everything_in_range() {
    for (n, budget) in SIZES {
        against_model(n, budget, |table, model| {
            let (from, to) = (key(n / 5), key(n / 2));
            let doomed: Vec<_> = model
                .range(from.clone()..=to.clone())
                .map(|(k, _)| k.clone())
                .collect();
            assert_eq!(
                table.delete_range(from.as_slice()..=to.as_slice()).unwrap(),
                doomed.len() as u64
            );
            for k in doomed {
                model.remove(&k);
            }
            assert_eq!(table.delete_range(..key(0)).unwrap(), 0);
        });
        against_model(n, budget, |table, model| {
            assert_eq!(table.clear().unwrap(), model.len() as u64);
            model.clear();
            assert!(table.is_empty().unwrap());
            table.insert(b"after", b"clear").unwrap();
            model.insert(b"after".to_vec(), b"clear".to_vec());
        });
        against_model(n, budget, |table, model| {
            assert_eq!(table.delete_range(..).unwrap(), model.len() as u64);
            model.clear();
        });
    }
}

#[test]
fn replace_take_and_contains_key() {
    against_model(100, None, |table, model| {
        assert!(table.contains_key(&key(5)).unwrap());
        assert!(!table.contains_key(b"absent").unwrap());
        let old = table.replace(&key(5), b"new").unwrap();
        assert_eq!(old, model.insert(key(5), b"new".to_vec()));
        assert_eq!(table.replace(b"fresh", b"1").unwrap(), None);
        model.insert(b"fresh".to_vec(), b"1".to_vec());
        assert_eq!(table.take(&key(7)).unwrap(), model.remove(&key(7)));
        assert_eq!(table.take(&key(7)).unwrap(), None);
        assert!(!table.contains_key(&key(7)).unwrap());
    });
}

/// `prefix` covers exactly the keys starting with it: 0xFF carries, an all-0xFF prefix and
/// the empty prefix, from both ends, on both table kinds.
#[test]
fn prefix_ranges_handle_carries_and_the_empty_prefix() {
    let test_db = TestDb::new();
    let keys: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x01],
        vec![0x01, 0xFF],
        vec![0x01, 0xFF, 0x00],
        vec![0x01, 0xFF, 0xFF],
        vec![0x02],
        vec![0xFF],
        vec![0xFF, 0xFF],
        vec![0xFF, 0xFF, 0x01],
    ];
    let wtx = test_db.db().begin_write().unwrap();
    let mut table = wtx.open_table("t").unwrap();
    for k in &keys {
        table.insert(k, b"v").unwrap();
    }
    let expect =
        |p: &[u8]| -> Vec<Vec<u8>> { keys.iter().filter(|k| k.starts_with(p)).cloned().collect() };
    let prefixes: [&[u8]; 6] = [&[], &[0x01], &[0x01, 0xFF], &[0xFF], &[0xFF, 0xFF], &[0x03]];
    for p in prefixes {
        let forward: Vec<_> = collect(table.prefix(p).unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(forward, expect(p), "prefix {p:?}");
        let mut backward: Vec<_> = table
            .prefix(p)
            .unwrap()
            .rev()
            .map(|e| e.unwrap().0.to_vec())
            .collect();
        backward.reverse();
        assert_eq!(backward, expect(p), "prefix {p:?} from the back");
    }
    wtx.commit().unwrap();
    let rtx = test_db.db().begin_read().unwrap();
    let table = rtx.open_table("t").unwrap();
    for p in prefixes {
        let got: Vec<_> = collect(table.prefix(p).unwrap())
            .into_iter()
            .map(|e| e.0)
            .collect();
        assert_eq!(got, expect(p), "read prefix {p:?}");
        assert!(table.contains_key(p).unwrap() == keys.contains(&p.to_vec()));
    }
}

/// `range` takes any std range over any byte-like key type.
#[test]
fn range_accepts_byte_like_bounds() {
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    let mut table = wtx.open_table("t").unwrap();
    for k in ["a", "b", "c", "d"] {
        table.insert(k.as_bytes(), b"").unwrap();
    }
    let keys = |range: bough::Range<'_>| -> Vec<Vec<u8>> {
        collect(range).into_iter().map(|e| e.0).collect()
    };
    let bc = vec![b"b".to_vec(), b"c".to_vec()];
    assert_eq!(keys(table.range("b".."d").unwrap()), bc);
    assert_eq!(
        keys(table.range(b"b".to_vec()..=b"c".to_vec()).unwrap()),
        bc
    );
    assert_eq!(keys(table.range(*b"b"..*b"d").unwrap()), bc);
    assert_eq!(keys(table.range(&b"b"[..]..&b"d"[..]).unwrap()), bc);
    assert_eq!(
        keys(table.range(String::from("b")..String::from("d")).unwrap()),
        bc
    );
    assert_eq!(
        keys(table.range((Excluded("a"), Included("c"))).unwrap()),
        bc
    );
    assert_eq!(keys(table.range(..).unwrap()).len(), 4);
    assert_eq!(keys(table.range(.."b").unwrap()), vec![b"a".to_vec()]);
    assert_eq!(keys(table.range(..="b").unwrap()).len(), 2);
    assert_eq!(keys(table.range("c"..).unwrap()).len(), 2);
}

/// `open_existing` and `create(false)` refuse a missing file with `NotFound` and create
/// nothing; `Database::open` still creates it.
#[test]
fn opening_only_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.bough");
    for result in [
        Database::open_existing(&path),
        Database::builder().create(false).open(&path),
    ] {
        match result {
            Err(Error::Io(e)) => assert_eq!(e.kind(), ErrorKind::NotFound),
            other => panic!("expected NotFound, got {other:?}"),
        }
        assert!(!path.exists(), "a refused open created the file");
    }
    drop(Database::open(&path).unwrap());
    let db = Database::open_existing(&path).unwrap();
    db.check().unwrap();
}

/// Many range deletions over a tree of several levels (subtrees freed whole, with overflow
/// runs among them), each compared with the model, then committed and checked.
#[test]
fn range_deletions_over_a_deep_tree() {
    let mut rng = common::Rng::new(41);
    against_model(30_000, None, |table, model| {
        for _ in 0..40 {
            let a = rng.index(31_000) as u32;
            let b = a + rng.index(4_000) as u32;
            let (lo, hi) = (key(a), key(b));
            let doomed: Vec<Vec<u8>> = match rng.index(3) {
                0 => {
                    let removed = table.delete_range(lo.as_slice()..hi.as_slice()).unwrap();
                    let doomed: Vec<_> = model
                        .range(lo.clone()..hi.clone())
                        .map(|e| e.0.clone())
                        .collect();
                    assert_eq!(removed, doomed.len() as u64);
                    doomed
                }
                1 => {
                    let removed = table.delete_range(lo.as_slice()..=hi.as_slice()).unwrap();
                    let doomed: Vec<_> = model
                        .range(lo.clone()..=hi.clone())
                        .map(|e| e.0.clone())
                        .collect();
                    assert_eq!(removed, doomed.len() as u64);
                    doomed
                }
                _ => {
                    let removed = table
                        .delete_range((Excluded(lo.as_slice()), Unbounded))
                        .unwrap();
                    let doomed: Vec<_> = model
                        .range::<Vec<u8>, _>((Excluded(lo.clone()), Unbounded))
                        .map(|e| e.0.clone())
                        .collect();
                    assert_eq!(removed, doomed.len() as u64);
                    doomed
                }
            };
            for k in doomed {
                model.remove(&k);
            }
            assert_eq!(table.len().unwrap(), model.len() as u64);
            // Refill a little, so later ranges meet a changed tree.
            for _ in 0..200 {
                let i = rng.index(31_000) as u32;
                table.insert(&key(i), b"again").unwrap();
                model.insert(key(i), b"again".to_vec());
            }
        }
        assert_eq!(collect(table.iter().unwrap()), entries(model));
    });
}

/// Inserts in ascending order go straight into the tree's last leaf while nothing else has
/// changed the tree (DESIGN.md, "Splits and merges"): mixed with removals and overwrites at
/// the edge, keys below the edge, large values, writes to another table between them (a
/// budget of a few pages writes pages early), reads, and savepoints restored part-way, the
/// table holds what a model holds, in the transaction, after its commit and after a reopen.
#[test]
fn appends_at_the_right_edge_mixed_with_everything_else() {
    for budget in [None, Some(6 * 4096)] {
        let options = match budget {
            Some(bytes) => Options::default().dirty_budget(bytes),
            None => Options::default(),
        };
        let mut test_db = TestDb::with(options);
        let mut model = Model::new();
        let mut other = Model::new();
        let mut wtx = test_db.db().begin_write().unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = 0u32;
        for round in 0..60 {
            let saved = (round % 7 == 3)
                .then(|| (wtx.savepoint().unwrap(), model.clone(), other.clone(), next));
            {
                let mut table = wtx.open_table("t").unwrap();
                for _ in 0..150 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let value = format!("value-{rng:x}").into_bytes();
                    match rng % 20 {
                        0 => {
                            if let Some((last, _)) = model.pop_last() {
                                assert!(table.remove(&last).unwrap());
                            }
                        }
                        1 => {
                            if let Some((last, _)) = model.last_key_value() {
                                let last = last.clone();
                                table.insert(&last, &value).unwrap();
                                model.insert(last, value);
                            }
                        }
                        2 if next > 0 => {
                            let below = key(rng as u32 % next);
                            table.insert(&below, &value).unwrap();
                            model.insert(below, value);
                        }
                        3 => {
                            let large = vec![rng as u8; 5_000];
                            table.insert(&key(next), &large).unwrap();
                            model.insert(key(next), large);
                            next += 1;
                        }
                        // The last leaf empties and goes; pages freed are taken again by
                        // leaves that split below the edge.
                        5 => {
                            for _ in 0..40 {
                                if let Some((last, _)) = model.pop_last() {
                                    assert!(table.remove(&last).unwrap());
                                }
                            }
                            for i in 0..40 {
                                let below = key((rng as u32).wrapping_add(i * 7919) % next.max(1));
                                let long = vec![i as u8; 300];
                                table.insert(&below, &long).unwrap();
                                model.insert(below, long);
                            }
                        }
                        4 => {
                            let probe = key(rng as u32 % (next + 1));
                            assert_eq!(
                                table.get(&probe).unwrap(),
                                model.get(&probe).map(|v| &v[..])
                            );
                        }
                        _ => {
                            table.insert(&key(next), &value).unwrap();
                            model.insert(key(next), value);
                            next += 1;
                        }
                    }
                }
            }
            if round % 5 == 1 {
                let mut side = wtx.open_table("other").unwrap();
                for i in 0..40 {
                    let k = key(rng as u32 % 10_000 + i);
                    side.insert(&k, b"side").unwrap();
                    other.insert(k, b"side".to_vec());
                }
            }
            if let Some((savepoint, m, o, n)) = saved.filter(|_| round % 2 == 1) {
                wtx.restore_savepoint(&savepoint).unwrap();
                (model, other, next) = (m, o, n);
            }
            let table = wtx.open_table("t").unwrap();
            assert_eq!(
                collect(table.iter().unwrap()),
                entries(&model),
                "round {round}"
            );
        }
        wtx.commit().unwrap();
        test_db.reopen();
        assert_eq!(read_all(test_db.db(), "t"), entries(&model));
        assert_eq!(read_all(test_db.db(), "other"), entries(&other));
    }
}
