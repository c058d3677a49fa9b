//! Behaviours of the public API, one per test: limits, errors, table management, snapshots,
//! ranges, very large values, options, and damaged files.

mod common;

use std::fs;
use std::io::ErrorKind;
use std::ops::Bound::{self, Excluded, Included, Unbounded};

use bough::{Database, Durability, Error, MAX_KEY_LEN, Range};
use common::{Entries, Options, TestDb, collect, read_all, value, write};

/// The error of a call that must fail.
fn expect_err<T>(result: bough::Result<T>, what: &str) -> Error {
    match result {
        Ok(_) => panic!("{what} succeeded; it must fail"),
        Err(e) => e,
    }
}

fn pair(k: &[u8], v: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (k.to_vec(), v.to_vec())
}

/// An empty key and an empty value are ordinary data: stored, found, ordered first, and
/// distinct from absence, before and after a reopen.
#[test]
fn empty_key_and_empty_value_round_trip() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        let mut t = w.open_table("t").unwrap();
        t.insert(b"", b"").unwrap();
        t.insert(b"k", b"").unwrap();
        assert_eq!(t.get(b"").unwrap(), Some(&b""[..]));
    });
    for _ in 0..2 {
        let rtx = test_db.db().begin_read().unwrap();
        let t = rtx.open_table("t").unwrap();
        assert_eq!(t.get(b"").unwrap(), Some(&b""[..]));
        assert_eq!(t.get(b"k").unwrap(), Some(&b""[..]));
        assert_eq!(t.get(b"missing").unwrap(), None);
        assert_eq!(t.first().unwrap(), Some((&b""[..], &b""[..])));
        assert_eq!(t.len().unwrap(), 2);
        drop(rtx);
        test_db.reopen();
    }
    write(test_db.db(), |w| {
        assert!(w.open_table("t").unwrap().remove(b"").unwrap())
    });
    assert_eq!(read_all(test_db.db(), "t"), vec![pair(b"k", b"")]);
}

/// A key of exactly MAX_KEY_LEN bytes is stored; one byte more is KeyTooLarge, and the
/// transaction stays usable.
#[test]
fn key_length_limit() {
    let mut test_db = TestDb::new();
    let longest = vec![b'k'; MAX_KEY_LEN];
    let too_long = vec![b'k'; MAX_KEY_LEN + 1];
    write(test_db.db(), |w| {
        let mut t = w.open_table("t").unwrap();
        t.insert(&longest, b"v").unwrap();
        match expect_err(
            t.insert(&too_long, b"v"),
            "inserting a key of MAX_KEY_LEN + 1 bytes",
        ) {
            Error::KeyTooLarge { len, max } => {
                assert_eq!((len, max), (MAX_KEY_LEN + 1, MAX_KEY_LEN))
            }
            other => panic!("expected KeyTooLarge, got {other:?}"),
        }
        t.insert(b"after", b"error").unwrap();
    });
    test_db.reopen();
    let expected = vec![pair(b"after", b"error"), pair(&longest, b"v")];
    assert_eq!(read_all(test_db.db(), "t"), expected);
}

/// Table names must be non-empty UTF-8 of at most 255 bytes (bytes, not characters).
#[test]
fn table_name_limits() {
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    for bad in [String::new(), "n".repeat(256), "é".repeat(128)] {
        match expect_err(wtx.open_table(&bad), "open_table with an invalid name") {
            Error::InvalidTableName(name) => assert_eq!(name, bad),
            other => panic!(
                "name of {} bytes: expected InvalidTableName, got {other:?}",
                bad.len()
            ),
        }
    }
    let longest_ascii = "n".repeat(255);
    let longest_utf8 = format!("{}x", "é".repeat(127));
    for good in [&longest_ascii, &longest_utf8] {
        wtx.open_table(good).unwrap().insert(b"k", b"v").unwrap();
    }
    wtx.commit().unwrap();
    let mut want = vec![longest_utf8, longest_ascii];
    want.sort();
    assert_eq!(
        test_db.db().begin_read().unwrap().list_tables().unwrap(),
        want
    );
}

/// A read transaction cannot create tables: opening a missing one is TableNotFound(name).
#[test]
fn read_open_of_a_missing_table_is_table_not_found() {
    let test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("present").unwrap().insert(b"k", b"v").unwrap()
    });
    let rtx = test_db.db().begin_read().unwrap();
    match expect_err(
        rtx.open_table("absent"),
        "read open_table of a missing table",
    ) {
        Error::TableNotFound(name) => assert_eq!(name, "absent"),
        other => panic!("expected TableNotFound, got {other:?}"),
    }
    assert_eq!(rtx.list_tables().unwrap(), vec!["present".to_string()]);
}

/// Dropping a write transaction, or calling abort, discards all its changes, including
/// table creation; a reopen shows nothing of them either.
#[test]
fn dropped_or_aborted_write_transaction_changes_nothing() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("keep")
            .unwrap()
            .insert(b"k", b"original")
            .unwrap()
    });
    for explicit_abort in [false, true] {
        let wtx = test_db.db().begin_write().unwrap();
        wtx.open_table("keep")
            .unwrap()
            .insert(b"k", b"changed")
            .unwrap();
        wtx.open_table("keep")
            .unwrap()
            .insert(b"k2", b"added")
            .unwrap();
        wtx.open_table("new").unwrap().insert(b"k", b"v").unwrap();
        if explicit_abort {
            wtx.abort().unwrap();
        } else {
            drop(wtx);
        }
        for _ in 0..2 {
            let db = test_db.db();
            assert_eq!(read_all(db, "keep"), vec![pair(b"k", b"original")]);
            let rtx = db.begin_read().unwrap();
            assert!(matches!(
                rtx.open_table("new"),
                Err(Error::TableNotFound(_))
            ));
            assert_eq!(rtx.list_tables().unwrap(), vec!["keep".to_string()]);
            drop(rtx);
            test_db.reopen();
        }
    }
}

/// A write transaction reads its own uncommitted writes, across separate table handles.
#[test]
fn write_transaction_sees_its_own_writes() {
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    wtx.open_table("t").unwrap().insert(b"a", b"1").unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        assert_eq!(t.get(b"a").unwrap(), Some(&b"1"[..]));
        t.insert(b"a", b"2").unwrap();
        t.insert(b"b", b"3").unwrap();
        assert!(t.remove(b"b").unwrap());
        assert!(!t.remove(b"b").unwrap());
        assert_eq!(collect(t.iter().unwrap()), vec![pair(b"a", b"2")]);
    }
    assert_eq!(wtx.list_tables().unwrap(), vec!["t".to_string()]);
    wtx.commit().unwrap();
    assert_eq!(read_all(test_db.db(), "t"), vec![pair(b"a", b"2")]);
}

/// delete_table reports whether the table existed, removes it from list_tables (sorted) and
/// takes its entries with it: a table created again under the same name starts empty.
#[test]
fn delete_table_then_list() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        for name in ["c", "a", "b"] {
            let mut t = w.open_table(name).unwrap();
            for i in 0..500u32 {
                t.insert(&i.to_be_bytes(), name.as_bytes()).unwrap();
            }
        }
        assert_eq!(w.list_tables().unwrap(), ["a", "b", "c"]);
    });
    write(test_db.db(), |w| {
        assert!(w.delete_table("b").unwrap());
        assert!(!w.delete_table("b").unwrap());
        assert!(!w.delete_table("never-existed").unwrap());
        assert_eq!(w.list_tables().unwrap(), ["a", "c"]);
    });
    let rtx = test_db.db().begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), ["a", "c"]);
    assert!(matches!(rtx.open_table("b"), Err(Error::TableNotFound(_))));
    drop(rtx);
    test_db.reopen();
    write(test_db.db(), |w| {
        assert!(w.open_table("b").unwrap().is_empty().unwrap())
    });
    let rtx = test_db.db().begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), ["a", "b", "c"]);
    assert_eq!(rtx.open_table("a").unwrap().len().unwrap(), 500);
    assert!(rtx.open_table("b").unwrap().is_empty().unwrap());
}

/// The page size is stored in the file: opening with the builder's default reports the size
/// the file was created with.
#[test]
fn page_size_persists_across_reopen() {
    let mut test_db = TestDb::with(Options::page_size(16384));
    write(test_db.db(), |w| {
        w.open_table("t").unwrap().insert(b"k", b"v").unwrap()
    });
    assert_eq!(test_db.db().stats().unwrap().page_size, 16384);
    test_db.reopen_with(Options::default());
    assert_eq!(test_db.db().stats().unwrap().page_size, 16384);
    assert_eq!(fs::metadata(test_db.path()).unwrap().len() % 16384, 0);
    assert_eq!(read_all(test_db.db(), "t"), vec![pair(b"k", b"v")]);
}

/// Powers of two from 4096 to 65536 are accepted; anything else is InvalidPageSize.
#[test]
fn page_size_must_be_a_power_of_two_in_range() {
    for good in [4096, 8192, 16384, 32768, 65536] {
        let test_db = TestDb::with(Options::page_size(good));
        write(test_db.db(), |w| {
            w.open_table("t").unwrap().insert(b"k", b"v").unwrap()
        });
        assert_eq!(test_db.db().stats().unwrap().page_size, good);
    }
    for bad in [0, 512, 2048, 4095, 4097, 12288, 131072] {
        let mut test_db = TestDb::unopened(Options::page_size(bad));
        match expect_err(test_db.try_open(), "opening with an invalid page size") {
            Error::InvalidPageSize(size) => assert_eq!(size, bad),
            other => panic!("page size {bad}: expected InvalidPageSize, got {other:?}"),
        }
    }
}

/// Only one read-write handle per file: a second open is AlreadyOpen until the first closes.
#[test]
fn second_read_write_open_is_already_open() {
    let mut test_db = TestDb::new();
    assert_eq!(test_db.db().path(), test_db.path());
    let second = Database::open(test_db.path());
    assert!(
        matches!(second, Err(Error::AlreadyOpen)),
        "second open gave {:?}",
        second.err()
    );
    let with_builder = Database::builder().page_size(4096).open(test_db.path());
    assert!(
        matches!(with_builder, Err(Error::AlreadyOpen)),
        "builder open gave {:?}",
        with_builder.err()
    );
    test_db.reopen(); // the lock goes with the first handle
}

/// A read-only handle reads everything but refuses begin_write with ReadOnly.
#[test]
fn read_only_open_reads_and_refuses_writes() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table("t").unwrap().insert(b"k", b"v").unwrap()
    });
    test_db.reopen_with(Options::default().read_only());
    let error = expect_err(
        test_db.db().begin_write(),
        "begin_write on a read-only handle",
    );
    assert!(
        matches!(error, Error::ReadOnly),
        "expected ReadOnly, got {error:?}"
    );
    assert_eq!(read_all(test_db.db(), "t"), vec![pair(b"k", b"v")]);
    assert_eq!(
        test_db.db().begin_read().unwrap().list_tables().unwrap(),
        ["t"]
    );
}

/// Opening a missing file read-only fails with NotFound and creates nothing.
#[test]
fn read_only_open_of_a_missing_file_is_not_found() {
    let mut test_db = TestDb::unopened(Options::default().read_only());
    match expect_err(test_db.try_open(), "read-only open of a missing file") {
        Error::Io(e) => assert_eq!(e.kind(), ErrorKind::NotFound),
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
    assert!(!test_db.path().exists());
}

/// Non-durable commits (database-wide or per transaction) are still visible after a clean
/// close and reopen.
#[test]
fn non_durable_commits_survive_a_reopen() {
    let mut test_db = TestDb::with(Options::default().durability(Durability::None));
    write(test_db.db(), |w| {
        w.open_table("t").unwrap().insert(b"a", b"1").unwrap()
    });
    test_db.reopen_with(Options::default());
    let mut wtx = test_db.db().begin_write().unwrap();
    wtx.set_durability(Durability::None);
    wtx.open_table("t").unwrap().insert(b"b", b"2").unwrap();
    wtx.commit().unwrap();
    test_db.reopen();
    assert_eq!(
        read_all(test_db.db(), "t"),
        vec![pair(b"a", b"1"), pair(b"b", b"2")]
    );
}

/// A read transaction keeps the snapshot it began with across later commits that overwrite,
/// add, remove and delete tables; a new reader sees the new state.
#[test]
fn reader_snapshot_is_unaffected_by_later_commits() {
    let test_db = TestDb::new();
    let db = test_db.db();
    write(db, |w| {
        let mut t = w.open_table("t").unwrap();
        for i in 0..300u32 {
            t.insert(&i.to_be_bytes(), b"old").unwrap();
        }
        w.open_table("doomed").unwrap().insert(b"k", b"v").unwrap();
    });
    let old = db.begin_read().unwrap();
    let before = collect(old.open_table("t").unwrap().iter().unwrap());
    for round in 0..5u32 {
        write(db, |w| {
            w.delete_table("doomed").unwrap();
            let mut t = w.open_table("t").unwrap();
            for i in 0..300u32 {
                if i % 3 == 0 {
                    t.remove(&i.to_be_bytes()).unwrap();
                } else {
                    t.insert(&i.to_be_bytes(), format!("new {round}").as_bytes())
                        .unwrap();
                }
            }
            t.insert(b"added", b"x").unwrap();
        });
    }
    let t = old.open_table("t").unwrap();
    assert_eq!(collect(t.iter().unwrap()), before);
    assert_eq!(t.len().unwrap(), 300);
    assert_eq!(t.get(b"added").unwrap(), None);
    assert_eq!(old.list_tables().unwrap(), ["doomed", "t"]);
    assert_eq!(
        old.open_table("doomed").unwrap().get(b"k").unwrap(),
        Some(&b"v"[..])
    );
    let new = db.begin_read().unwrap();
    assert_eq!(new.list_tables().unwrap(), ["t"]);
    assert_eq!(new.open_table("t").unwrap().len().unwrap(), 201);
}

/// A table whose keys leave gaps and share prefixes, for the range tests.
fn range_fixture(test_db: &TestDb) {
    write(test_db.db(), |w| {
        let mut t = w.open_table("r").unwrap();
        for k in ["a", "c", "ca", "e", "g", "i"] {
            t.insert(k.as_bytes(), k.to_uppercase().as_bytes()).unwrap();
        }
    });
}

/// The keys of a range, space-separated, checking each value.
fn keys(range: Range<'_>) -> String {
    let entries = collect(range);
    for (k, v) in &entries {
        assert_eq!(v, &k.to_ascii_uppercase(), "value of {k:?}");
    }
    let names: Vec<String> = entries
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    names.join(" ")
}

/// Bounds and the keys they select.
type RangeCase = (Bound<&'static [u8]>, Bound<&'static [u8]>, &'static str);

/// Every kind of bound (included, excluded, unbounded; on present keys, absent keys, the
/// empty key and beyond both ends) selects the same keys forward and backward.
#[test]
fn range_bounds_of_every_kind() {
    let test_db = TestDb::new();
    range_fixture(&test_db);
    let rtx = test_db.db().begin_read().unwrap();
    let t = rtx.open_table("r").unwrap();
    let k = |s: &'static str| s.as_bytes();
    let cases: Vec<RangeCase> = vec![
        (Unbounded, Unbounded, "a c ca e g i"),
        (Included(k("c")), Unbounded, "c ca e g i"),
        (Excluded(k("c")), Unbounded, "ca e g i"),
        (Included(k("b")), Unbounded, "c ca e g i"),
        (Unbounded, Included(k("e")), "a c ca e"),
        (Unbounded, Excluded(k("e")), "a c ca"),
        (Unbounded, Excluded(k("d")), "a c ca"),
        (Included(k("c")), Included(k("g")), "c ca e g"),
        (Included(k("c")), Excluded(k("g")), "c ca e"),
        (Excluded(k("c")), Included(k("g")), "ca e g"),
        (Excluded(k("c")), Excluded(k("g")), "ca e"),
        (Excluded(k("b")), Excluded(k("h")), "c ca e g"),
        (Included(k("c")), Included(k("c")), "c"),
        (Included(k("c")), Excluded(k("c")), ""),
        (Excluded(k("c")), Excluded(k("c")), ""),
        (Excluded(k("c")), Excluded(k("ca")), ""),
        (Included(k("")), Unbounded, "a c ca e g i"),
        (Unbounded, Excluded(k("")), ""),
        (Unbounded, Included(k("a")), "a"),
        (Excluded(k("i")), Unbounded, ""),
        (Included(k("j")), Unbounded, ""),
        (Unbounded, Excluded(k("a")), ""),
    ];
    for (lo, hi, want) in cases {
        assert_eq!(
            keys(t.range((lo, hi)).unwrap()),
            want,
            "forward {lo:?}..{hi:?}"
        );
        let mut backward: Entries = common::collect_rev(t.range((lo, hi)).unwrap());
        backward.reverse();
        let backward: Vec<String> = backward
            .iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect();
        assert_eq!(backward.join(" "), want, "reverse {lo:?}..{hi:?}");
    }
    // The standard range syntax works too.
    assert_eq!(keys(t.range(..).unwrap()), "a c ca e g i");
    assert_eq!(keys(t.range(k("c")..).unwrap()), "c ca e g i");
    assert_eq!(keys(t.range(..k("e")).unwrap()), "a c ca");
    assert_eq!(keys(t.range(..=k("e")).unwrap()), "a c ca e");
    assert_eq!(keys(t.range(k("c")..k("g")).unwrap()), "c ca e");
    assert_eq!(keys(t.range(k("c")..=k("g")).unwrap()), "c ca e g");
    assert_eq!(keys(t.iter().unwrap()), "a c ca e g i");
    assert_eq!(t.last().unwrap(), Some((k("i"), k("I"))));
}

/// next and next_back on one range share it: they never cross or repeat, and both end
/// where they meet.
#[test]
fn next_and_next_back_meet_in_the_middle() {
    let test_db = TestDb::new();
    range_fixture(&test_db);
    let rtx = test_db.db().begin_read().unwrap();
    let t = rtx.open_table("r").unwrap();
    let key = |item: Option<bough::Result<(&[u8], &[u8])>>| {
        item.map(|r| String::from_utf8(r.unwrap().0.to_vec()).unwrap())
    };
    let some = |s: &str| Some(s.to_string());

    let mut all = t.iter().unwrap();
    assert_eq!(key(all.next()), some("a"));
    assert_eq!(key(all.next_back()), some("i"));
    assert_eq!(key(all.next_back()), some("g"));
    assert_eq!(key(all.next()), some("c"));
    assert_eq!(key(all.next()), some("ca"));
    assert_eq!(key(all.next_back()), some("e"));
    assert_eq!(key(all.next()), None);
    assert_eq!(key(all.next_back()), None);

    let bounded = (Excluded(&b"a"[..]), Excluded(&b"i"[..]));
    let mut inner = t.range(bounded).unwrap();
    assert_eq!(key(inner.next_back()), some("g"));
    assert_eq!(key(inner.next()), some("c"));
    assert_eq!(key(inner.next_back()), some("e"));
    assert_eq!(key(inner.next_back()), some("ca"));
    assert_eq!(key(inner.next()), None);
    assert_eq!(key(inner.next_back()), None);
}

/// A range whose start lies after its end yields no entry and does not panic (an error is
/// also acceptable).
#[test]
fn inverted_range_yields_nothing() {
    let test_db = TestDb::new();
    range_fixture(&test_db);
    let rtx = test_db.db().begin_read().unwrap();
    let t = rtx.open_table("r").unwrap();
    if let Ok(range) = t.range((Included(&b"g"[..]), Included(&b"c"[..]))) {
        let yielded: Vec<_> = range
            .filter_map(Result::ok)
            .map(|(k, _)| k.to_vec())
            .collect();
        assert!(yielded.is_empty(), "an inverted range yielded {yielded:?}");
    }
}

/// Values of 1 MiB and 20 MiB round-trip exactly, before and after a reopen, and can be
/// replaced by small values.
#[test]
fn very_large_values_round_trip() {
    let mut test_db = TestDb::new();
    let one_mib = value(1, 1 << 20);
    let twenty_mib = value(2, 20 << 20);
    write(test_db.db(), |w| {
        let mut t = w.open_table("big").unwrap();
        t.insert(b"1MiB", &one_mib).unwrap();
        t.insert(b"20MiB", &twenty_mib).unwrap();
        assert!(
            t.get(b"20MiB").unwrap() == Some(&twenty_mib[..]),
            "uncommitted 20 MiB value differs"
        );
    });
    for _ in 0..2 {
        let rtx = test_db.db().begin_read().unwrap();
        let t = rtx.open_table("big").unwrap();
        assert!(
            t.get(b"1MiB").unwrap() == Some(&one_mib[..]),
            "1 MiB value differs"
        );
        assert!(
            t.get(b"20MiB").unwrap() == Some(&twenty_mib[..]),
            "20 MiB value differs"
        );
        drop(rtx);
        test_db.reopen();
    }
    write(test_db.db(), |w| {
        w.open_table("big")
            .unwrap()
            .insert(b"20MiB", b"small")
            .unwrap()
    });
    let expected = vec![pair(b"1MiB", &one_mib), pair(b"20MiB", b"small")];
    assert!(
        read_all(test_db.db(), "big") == expected,
        "values differ after the overwrite"
    );
}
