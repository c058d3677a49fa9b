//! Owned transactions and several tables at once: transactions move between threads and
//! outlive the `Database` handle, one write transaction writes many tables through live
//! handles, and a table is never open twice.

mod common;

use std::sync::Arc;
use std::thread;

use bough::{Database, Error, ReadTransaction, WriteTransaction};
use common::{TestDb, read_all, write};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_static<T: 'static>() {}

/// The bounds the API promises, checked by the compiler.
#[test]
fn transactions_are_owned_and_thread_safe() {
    assert_send::<ReadTransaction>();
    assert_sync::<ReadTransaction>();
    assert_static::<ReadTransaction>();
    assert_send::<WriteTransaction>();
    assert_static::<WriteTransaction>();
    assert_send::<Database>();
    assert_sync::<Database>();
}

fn pairs(entries: &[(&[u8], &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    entries
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// A write transaction begun on one thread is written on a second and committed on a
/// third; a read transaction is shared by reference between threads.
#[test]
fn a_write_transaction_moves_between_threads() {
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    let wtx = thread::spawn(move || {
        wtx.open_table("t").unwrap().insert(b"k", b"v").unwrap();
        wtx
    })
    .join()
    .unwrap();
    thread::spawn(move || wtx.commit().unwrap()).join().unwrap();
    let rtx = Arc::new(test_db.db().begin_read().unwrap());
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let rtx = rtx.clone();
            thread::spawn(move || {
                rtx.open_table("t")
                    .unwrap()
                    .get(b"k")
                    .unwrap()
                    .map(<[u8]>::to_vec)
            })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), Some(b"v".to_vec()));
    }
}

/// Dropping the `Database` while transactions live is fine: they keep working, the write
/// commits, and the file closes when the last of them ends (a reopen sees the commit).
#[test]
fn transactions_outlive_the_database_handle() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("t").unwrap().insert(b"old", b"1").unwrap()
    });
    let (rtx, wtx) =
        test_db.close_keeping(|db| (db.begin_read().unwrap(), db.begin_write().unwrap()));
    wtx.open_table("t").unwrap().insert(b"new", b"2").unwrap();
    wtx.commit().unwrap();
    assert_eq!(rtx.open_table("t").unwrap().len().unwrap(), 1);
    drop(rtx);
    test_db.reopen();
    assert_eq!(
        read_all(test_db.db(), "t"),
        pairs(&[(b"new", b"2"), (b"old", b"1")])
    );
}

/// `try_begin_write` returns at once: `None` while another writer is active, a transaction
/// once it is gone.
#[test]
fn try_begin_write_never_waits() {
    let test_db = TestDb::new();
    let db = test_db.db();
    let first = db.try_begin_write().unwrap().expect("no writer is active");
    assert!(db.try_begin_write().unwrap().is_none());
    thread::scope(|s| {
        s.spawn(|| assert!(db.try_begin_write().unwrap().is_none()))
            .join()
            .unwrap();
    });
    first.commit().unwrap();
    let second = db.try_begin_write().unwrap().expect("the writer committed");
    second.abort().unwrap();
}

/// A record and its index are written in step through two live handles of one
/// transaction; reads of one table go on while the other is written.
#[test]
fn several_tables_are_open_at_once() {
    let mut test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    let mut records = wtx.open_table("records").unwrap();
    let mut by_name = wtx.open_table("by_name").unwrap();
    for id in 0..500u32 {
        let name = format!("name-{:04}", 499 - id);
        records.insert(&id.to_be_bytes(), name.as_bytes()).unwrap();
        by_name.insert(name.as_bytes(), &id.to_be_bytes()).unwrap();
    }
    // Iterate one table while writing another: a copy keyed the other way.
    let mut reversed = wtx.open_table("reversed").unwrap();
    for entry in records.iter().unwrap() {
        let (id, name) = entry.unwrap();
        reversed.insert(name, id).unwrap();
        assert_eq!(by_name.get(name).unwrap(), Some(id));
    }
    assert_eq!(reversed.len().unwrap(), 500);
    // Handles still in scope are committed with the transaction.
    wtx.commit().unwrap();
    test_db.reopen();
    assert_eq!(
        read_all(test_db.db(), "by_name"),
        read_all(test_db.db(), "reversed")
    );
    assert_eq!(read_all(test_db.db(), "records").len(), 500);
}

/// A table with a live handle cannot be opened again or deleted in the same transaction;
/// once the handle is dropped it can, and its writes are kept.
#[test]
fn a_table_is_open_once_per_write_transaction() {
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    let mut t = wtx.open_table("t").unwrap();
    t.insert(b"a", b"1").unwrap();
    match wtx.open_table("t") {
        Err(Error::TableAlreadyOpen(name)) => assert_eq!(name, "t"),
        other => panic!("second open: expected TableAlreadyOpen, got {other:?}"),
    }
    match wtx.delete_table("t") {
        Err(Error::TableAlreadyOpen(name)) => assert_eq!(name, "t"),
        other => panic!("delete of an open table: expected TableAlreadyOpen, got {other:?}"),
    }
    drop(t);
    let t = wtx.open_table("t").unwrap();
    assert_eq!(t.get(b"a").unwrap(), Some(&b"1"[..]));
    drop(t);
    assert!(wtx.delete_table("t").unwrap());
    assert_eq!(wtx.list_tables().unwrap(), Vec::<String>::new());
    wtx.commit().unwrap();
    assert!(read_all_tables(test_db.db()).is_empty());
}

fn read_all_tables(db: &Database) -> Vec<String> {
    db.begin_read().unwrap().list_tables().unwrap()
}

/// A read transaction opens any number of handles, the same table included.
#[test]
fn read_handles_are_unlimited() {
    let test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("a").unwrap().insert(b"k", b"a").unwrap();
        w.open_table("b").unwrap().insert(b"k", b"b").unwrap();
    });
    let rtx = test_db.db().begin_read().unwrap();
    let (a1, a2, b) = (
        rtx.open_table("a").unwrap(),
        rtx.open_table("a").unwrap(),
        rtx.open_table("b").unwrap(),
    );
    let got = [a1.get(b"k"), a2.get(b"k"), b.get(b"k")].map(|v| v.unwrap().unwrap());
    assert_eq!(got, [&b"a"[..], b"a", b"b"]);
}

/// Writes through a dropped handle, a deleted table re-created, and an abort: the
/// transaction's view and the committed state agree with what was done.
#[test]
fn handles_dropped_and_reopened_keep_their_writes() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("gone").unwrap().insert(b"x", b"old").unwrap()
    });
    let wtx = test_db.db().begin_write().unwrap();
    for i in 0..100u8 {
        let name = if i % 2 == 0 { "even" } else { "odd" };
        wtx.open_table(name).unwrap().insert(&[i], &[i]).unwrap();
    }
    assert!(wtx.delete_table("gone").unwrap());
    assert!(!wtx.delete_table("gone").unwrap());
    wtx.open_table("gone")
        .unwrap()
        .insert(b"y", b"new")
        .unwrap();
    assert_eq!(wtx.list_tables().unwrap(), ["even", "gone", "odd"]);
    wtx.commit().unwrap();
    let aborted = test_db.db().begin_write().unwrap();
    aborted
        .open_table("even")
        .unwrap()
        .insert(b"z", b"z")
        .unwrap();
    aborted.abort().unwrap();
    test_db.reopen();
    assert_eq!(read_all(test_db.db(), "even").len(), 50);
    assert_eq!(read_all(test_db.db(), "odd").len(), 50);
    assert_eq!(read_all(test_db.db(), "gone"), pairs(&[(b"y", b"new")]));
}
