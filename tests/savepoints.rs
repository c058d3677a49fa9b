//! Savepoints: a restore returns every table (created, deleted, changed) to the savepoint,
//! later savepoints become invalid, nothing leaks (`check()` whenever a database closes),
//! and large values and spilled pages survive; a random run against a model with savepoints
//! restored in any valid order.

mod common;

use std::collections::BTreeMap;

use bough::{Error, WriteTransaction};
use common::{Options, Rng, TestDb, read_all, write};

type Tables = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Every table the transaction sees, with its entries.
fn contents(wtx: &WriteTransaction) -> Tables {
    let mut tables = Tables::new();
    for name in wtx.list_tables().unwrap() {
        let table = wtx.open_table(&name).unwrap();
        let entries = table
            .iter()
            .unwrap()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        tables.insert(name, entries);
    }
    tables
}

#[test]
fn a_restore_undoes_every_kind_of_change() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("kept").unwrap().insert(b"a", b"1").unwrap();
        w.open_table("doomed").unwrap().insert(b"d", b"1").unwrap();
    });
    let mut wtx = test_db.db().begin_write().unwrap();
    wtx.open_table("kept").unwrap().insert(b"b", b"2").unwrap();
    let before = contents(&wtx);
    let sp = wtx.savepoint().unwrap();
    {
        let mut kept = wtx.open_table("kept").unwrap();
        kept.insert(b"a", b"changed").unwrap();
        kept.remove(b"b").unwrap();
        kept.insert(b"c", &vec![7; 50_000]).unwrap();
    }
    assert!(wtx.delete_table("doomed").unwrap());
    wtx.open_table("created")
        .unwrap()
        .insert(b"x", b"y")
        .unwrap();
    assert_ne!(contents(&wtx), before);
    wtx.restore_savepoint(&sp).unwrap();
    assert_eq!(contents(&wtx), before);
    // The transaction goes on after a restore, and commits what it has then.
    wtx.open_table("kept").unwrap().insert(b"z", b"26").unwrap();
    wtx.commit().unwrap();
    test_db.reopen();
    assert_eq!(
        test_db.db().begin_read().unwrap().list_tables().unwrap(),
        ["doomed", "kept"]
    );
    let kept: Vec<_> = read_all(test_db.db(), "kept")
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(kept, [b"a".to_vec(), b"b".to_vec(), b"z".to_vec()]);
}

#[test]
fn later_savepoints_become_invalid_and_earlier_ones_stay() {
    let test_db = TestDb::new();
    let mut wtx = test_db.db().begin_write().unwrap();
    let empty = wtx.savepoint().unwrap();
    wtx.open_table("t").unwrap().insert(b"1", b"").unwrap();
    let one = wtx.savepoint().unwrap();
    wtx.open_table("t").unwrap().insert(b"2", b"").unwrap();
    let two = wtx.savepoint().unwrap();
    wtx.restore_savepoint(&one).unwrap();
    assert!(matches!(
        wtx.restore_savepoint(&two),
        Err(Error::InvalidSavepoint)
    ));
    // `one` stays valid: restore it again after more changes.
    wtx.open_table("t").unwrap().insert(b"3", b"").unwrap();
    wtx.restore_savepoint(&one).unwrap();
    assert_eq!(wtx.open_table("t").unwrap().len().unwrap(), 1);
    // A savepoint taken after a restore is not confused with an invalidated one.
    let three = wtx.savepoint().unwrap();
    wtx.restore_savepoint(&empty).unwrap();
    assert!(matches!(
        wtx.restore_savepoint(&three),
        Err(Error::InvalidSavepoint)
    ));
    assert!(wtx.list_tables().unwrap().is_empty());
    wtx.commit().unwrap();
    // A savepoint of another transaction is refused.
    let mut other = test_db.db().begin_write().unwrap();
    assert!(matches!(
        other.restore_savepoint(&empty),
        Err(Error::InvalidSavepoint)
    ));
    other.abort().unwrap();
}

/// A savepoint taken with a table handle live, the handle used after it: the savepoint
/// holds the table as it was.
#[test]
fn a_savepoint_beside_a_live_handle() {
    let test_db = TestDb::new();
    let mut wtx = test_db.db().begin_write().unwrap();
    let mut t = wtx.open_table("t").unwrap();
    t.insert(b"before", b"").unwrap();
    let sp = wtx.savepoint().unwrap();
    t.insert(b"after", b"").unwrap();
    assert_eq!(t.len().unwrap(), 2);
    wtx.restore_savepoint(&sp).unwrap();
    let t = wtx.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), 1);
    assert!(t.contains_key(b"before").unwrap());
    wtx.commit().unwrap();
}

/// Pages thrown away by a restore are reusable at once: a transaction that writes, restores
/// and writes the same again ends where one that wrote it once does.
#[test]
fn a_restore_leaves_no_pages_behind() {
    let run = |restore: bool| -> u64 {
        let test_db = TestDb::with(Options::default().dirty_budget(16 * 4096));
        let mut rng = Rng::new(9);
        let mut wtx = test_db.db().begin_write().unwrap();
        let fill = |wtx: &WriteTransaction, rng: &mut Rng| {
            let mut t = wtx.open_table("t").unwrap();
            for i in 0..3_000u32 {
                let value = vec![i as u8; 100 + rng.index(6_000)];
                t.insert(format!("{:08}", rng.index(1 << 20)).as_bytes(), &value)
                    .unwrap();
            }
        };
        // Spilled pages and overflow runs before the savepoint.
        fill(&wtx, &mut rng);
        let sp = wtx.savepoint().unwrap();
        if restore {
            let mut other = rng.clone();
            fill(&wtx, &mut other);
            wtx.open_table("t").unwrap().clear().unwrap();
            wtx.restore_savepoint(&sp).unwrap();
        }
        fill(&wtx, &mut rng);
        wtx.commit().unwrap();
        test_db.db().stats().unwrap().high_water
    };
    let (plain, restored) = (run(false), run(true));
    // Runs may place pages differently; what the restore threw away must not stay used.
    assert!(
        restored <= plain + plain / 8,
        "{restored} pages after a restore against {plain} without"
    );
}

/// Random writes, savepoints and restores against a model, committing or aborting at the
/// end, with a small dirty-page budget so that spills happen before savepoints.
#[test]
fn random_savepoints_against_a_model() {
    let mut test_db = TestDb::with(Options::default().dirty_budget(8 * 4096));
    let mut rng = Rng::new(77);
    let mut committed = Tables::new();
    for round in 0..12 {
        let mut wtx = test_db.db().begin_write().unwrap();
        let mut model = committed.clone();
        let mut saved: Vec<(bough::Savepoint, Tables)> = Vec::new();
        for _ in 0..400 {
            let name = format!("t{}", rng.index(3));
            match rng.index(20) {
                0 => {
                    saved.push((wtx.savepoint().unwrap(), model.clone()));
                }
                1 if !saved.is_empty() => {
                    let at = rng.index(saved.len());
                    saved.truncate(at + 1);
                    let (sp, state) = &saved[at];
                    wtx.restore_savepoint(sp).unwrap();
                    model = state.clone();
                }
                2 => {
                    let existed = wtx.delete_table(&name).unwrap();
                    assert_eq!(existed, model.remove(&name).is_some());
                }
                3..=5 => {
                    let key = format!("{:03}", rng.index(300)).into_bytes();
                    let removed = wtx.open_table(&name).unwrap().remove(&key).unwrap();
                    let entries = model.entry(name).or_default();
                    assert_eq!(removed, entries.remove(&key).is_some());
                }
                _ => {
                    let key = format!("{:03}", rng.index(300)).into_bytes();
                    let len = [0, 10, 500, 5_000, 20_000][rng.index(5)];
                    let value = vec![rng.index(256) as u8; len];
                    wtx.open_table(&name).unwrap().insert(&key, &value).unwrap();
                    model.entry(name).or_default().insert(key, value);
                }
            }
        }
        assert_eq!(contents(&wtx), model, "round {round}");
        if rng.index(4) == 0 {
            wtx.abort().unwrap();
        } else {
            wtx.commit().unwrap();
            committed = model;
        }
        test_db.reopen();
        let rtx = test_db.db().begin_read().unwrap();
        let names = rtx.list_tables().unwrap();
        assert_eq!(names, committed.keys().cloned().collect::<Vec<_>>());
        drop(rtx);
        for (name, entries) in &committed {
            let got: BTreeMap<_, _> = read_all(test_db.db(), name).into_iter().collect();
            assert_eq!(&got, entries, "round {round}, table {name}");
        }
    }
}
