//! Typed tables: every key type's encoding orders as the type does and decodes back
//! (property tests), typed tables round-trip through commits and reopens in both modes, and
//! the catalog refuses other types.

mod common;

use std::fmt::Debug;

use bough::{Error, Key, TableDefinition, Value};
use common::{TestDb, write};
use quickcheck::{Arbitrary, QuickCheck};

fn encode<K: Value>(value: &K::SelfType<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    K::encode(value, &mut out).expect("encode");
    out
}

/// For owned key types: bytewise order of encodings is the type's order, and decoding gives
/// the value back.
fn order_and_round_trip<K>(a: K, b: K) -> bool
where
    K: Key + Ord + Debug + Clone + 'static,
    for<'a> K: Value<SelfType<'a> = K>,
{
    let (ea, eb) = (encode::<K>(&a), encode::<K>(&b));
    let same_order = a.cmp(&b) == ea.cmp(&eb);
    let round_trip = K::decode(&ea).ok() == Some(a.clone()) && K::decode(&eb).ok() == Some(b);
    if !(same_order && round_trip) {
        eprintln!("{a:?}: {ea:?}");
    }
    same_order && round_trip
}

fn check<K>()
where
    K: Key + Ord + Debug + Clone + Arbitrary + 'static,
    for<'a> K: Value<SelfType<'a> = K>,
{
    QuickCheck::new()
        .tests(2_000)
        .quickcheck(order_and_round_trip::<K> as fn(K, K) -> bool);
}

#[test]
fn integers_order_numerically() {
    check::<u8>();
    check::<u16>();
    check::<u32>();
    check::<u64>();
    check::<u128>();
    check::<usize>();
    check::<i8>();
    check::<i16>();
    check::<i32>();
    check::<i64>();
    check::<i128>();
    check::<isize>();
    for (a, b) in [(i64::MIN, -1), (-1, 0), (0, 1), (1, i64::MAX)] {
        assert!(order_and_round_trip(a, b));
    }
}

#[test]
fn other_scalars_order_as_their_types() {
    check::<bool>();
    check::<()>();
    check::<String>();
    check::<Vec<u8>>();
    check::<Option<u32>>();
    check::<Option<String>>();
    check::<[u8; 4]>();
}

/// Tuples order element by element, with zero bytes and prefixes in the variable-length
/// elements (the cases an escape gets wrong).
#[test]
fn tuples_order_element_by_element() {
    check::<(u32, String)>();
    check::<(String, u64)>();
    check::<(Vec<u8>, Vec<u8>)>();
    check::<(i16, Vec<u8>, bool)>();
    check::<(Option<String>, i8, String, u8)>();
    check::<(Option<(String, u8)>, u8)>();
    let tricky: Vec<(Vec<u8>, u8)> = vec![
        (vec![], 9),
        (vec![0], 0),
        (vec![0, 0], 0),
        (vec![0, 0xFF], 0),
        (vec![0, 1], 0),
        (vec![1], 0),
    ];
    for pair in tricky.windows(2) {
        assert!(
            order_and_round_trip(pair[0].clone(), pair[1].clone()),
            "{pair:?}"
        );
    }
}

/// Bytes that no value encodes to give `InvalidEncoding`, never a panic.
#[test]
fn foreign_bytes_are_a_typed_error() {
    for bytes in [&[][..], &[1, 2, 3], &[0xFF; 9]] {
        assert!(matches!(
            u64::decode(bytes),
            Err(Error::InvalidEncoding { .. })
        ));
        assert!(matches!(
            <(String, u8)>::decode(bytes),
            Err(Error::InvalidEncoding { .. })
        ));
        assert!(matches!(
            bool::decode(bytes),
            Err(Error::InvalidEncoding { .. })
        ));
    }
    assert!(matches!(
        <&str>::decode(&[0xFF]),
        Err(Error::InvalidEncoding { .. })
    ));
    assert!(matches!(
        <Option<u8>>::decode(&[2, 0]),
        Err(Error::InvalidEncoding { .. })
    ));
}

const SCORES: TableDefinition<&str, i64> = TableDefinition::new("scores");
const BY_SCORE: TableDefinition<(i64, &str), ()> = TableDefinition::new("by_score");

/// A typed table and a secondary index kept in step in one transaction; reads in typed
/// order, borrowed `&str` keys, ranges over typed bounds; the same after a reopen.
#[test]
fn a_typed_table_and_its_index_round_trip() {
    let mut test_db = TestDb::new();
    let players = [
        ("ann", 30),
        ("bob", -5),
        ("cy", 12),
        ("dee", -40),
        ("eve", 12),
    ];
    write(test_db.db(), |w| {
        let mut scores = w.open_table(SCORES).unwrap();
        let mut by_score = w.open_table(BY_SCORE).unwrap();
        for (name, score) in players {
            scores.insert(name, score).unwrap();
            by_score.insert((score, name), ()).unwrap();
        }
        assert_eq!(scores.get("cy").unwrap(), Some(12));
        // bob improves: the record and the index change together.
        let old = scores.get("bob").unwrap().unwrap();
        scores.insert("bob", 50).unwrap();
        assert!(by_score.remove((old, "bob")).unwrap());
        by_score.insert((50, "bob"), ()).unwrap();
    });
    for _ in 0..2 {
        let rtx = test_db.db().begin_read().unwrap();
        let by_score = rtx.open_table(BY_SCORE).unwrap();
        let ranking: Vec<(i64, &str)> = by_score
            .iter()
            .unwrap()
            .map(|entry| entry.unwrap().0)
            .collect();
        assert_eq!(
            ranking,
            [
                (-40, "dee"),
                (12, "cy"),
                (12, "eve"),
                (30, "ann"),
                (50, "bob")
            ]
        );
        let middle: Vec<_> = by_score
            .range((0, "")..(31, ""))
            .unwrap()
            .map(|entry| entry.unwrap().0.1)
            .collect();
        assert_eq!(middle, ["cy", "eve", "ann"]);
        let scores = rtx.open_table(SCORES).unwrap();
        assert_eq!(scores.first().unwrap(), Some(("ann", 30)));
        assert_eq!(scores.last().unwrap(), Some(("eve", 12)));
        assert_eq!(scores.len().unwrap(), 5);
        drop(rtx);
        test_db.reopen();
    }
}

/// The catalog records the types: another key or value type is refused in both
/// transaction kinds; the byte API reads any table; the byte definition opens byte tables.
#[test]
fn other_types_are_refused() {
    let test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table(SCORES).unwrap().insert("ann", 1).unwrap();
        w.open_table("plain").unwrap().insert(b"k", b"v").unwrap();
    });
    const AS_U32: TableDefinition<&str, u32> = TableDefinition::new("scores");
    const PLAIN_AS_U64: TableDefinition<u64, u64> = TableDefinition::new("plain");
    const PLAIN_AS_BYTES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("plain");
    let mismatch = |e: Error| match e {
        Error::TableTypeMismatch { table, .. } => table,
        other => panic!("expected TableTypeMismatch, got {other:?}"),
    };
    let wtx = test_db.db().begin_write().unwrap();
    assert_eq!(mismatch(wtx.open_table(AS_U32).unwrap_err()), "scores");
    assert_eq!(mismatch(wtx.open_table(PLAIN_AS_U64).unwrap_err()), "plain");
    assert_eq!(
        wtx.open_table(PLAIN_AS_BYTES)
            .unwrap()
            .get(&b"k"[..])
            .unwrap(),
        Some(&b"v"[..])
    );
    let raw = wtx.open_table("scores").unwrap();
    assert_eq!(raw.len().unwrap(), 1);
    drop(raw);
    wtx.abort().unwrap();
    let rtx = test_db.db().begin_read().unwrap();
    assert_eq!(mismatch(rtx.open_table(AS_U32).unwrap_err()), "scores");
    assert_eq!(rtx.open_table(SCORES).unwrap().get("ann").unwrap(), Some(1));
}

/// Bytes written through the byte API that the type cannot decode: reads say so.
#[test]
fn undecodable_entries_are_reported() {
    let test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table(SCORES).unwrap().insert("ok", 7).unwrap();
        w.open_table("scores")
            .unwrap()
            .insert(b"bad", b"xyz")
            .unwrap();
    });
    let rtx = test_db.db().begin_read().unwrap();
    let scores = rtx.open_table(SCORES).unwrap();
    assert_eq!(scores.get("ok").unwrap(), Some(7));
    assert!(matches!(
        scores.get("bad"),
        Err(Error::InvalidEncoding { .. })
    ));
    let results: Vec<_> = scores.iter().unwrap().collect();
    assert!(results[0].is_err() && results[1].is_ok());
    let wtx = test_db.db().begin_write().unwrap();
    let mut scores = wtx.open_table(SCORES).unwrap();
    assert!(matches!(
        scores.retain(|_, v| v > 0),
        Err(Error::InvalidEncoding { .. })
    ));
    assert_eq!(
        scores.len().unwrap(),
        2,
        "an entry that does not decode is kept"
    );
    assert_eq!(scores.delete_range(..).unwrap(), 2);
    drop(scores);
    wtx.commit().unwrap();
}
