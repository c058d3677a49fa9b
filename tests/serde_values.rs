//! Values through serde (feature `serde`): structured values round-trip through commits and
//! reopens, a value serde refuses to serialize is a typed error that changes nothing, bytes
//! postcard cannot decode are reported, and the catalog records the format.

mod common;

use std::collections::BTreeMap;

use bough::{Error, Postcard, TableDefinition};
use common::{TestDb, write};
use serde::ser::{Error as _, Serialize, Serializer};

type Order = (String, Vec<u32>, Option<bool>, BTreeMap<String, i64>);

const ORDERS: TableDefinition<u64, Postcard<Order>> = TableDefinition::new("orders");

fn order(i: u64) -> Order {
    let lines = BTreeMap::from([(format!("item-{i}"), -(i as i64)), ("tax".into(), 7)]);
    (
        format!("customer {i}"),
        (0..i as u32).collect(),
        (i % 3 != 0).then_some(i % 2 == 0),
        lines,
    )
}

#[test]
fn structured_values_round_trip() {
    let mut test_db = TestDb::new();
    write(test_db.db(), |w| {
        let mut orders = w.open_table(ORDERS).unwrap();
        for i in 0..200 {
            orders.insert(i, order(i)).unwrap();
        }
        assert_eq!(orders.get(7).unwrap(), Some(order(7)));
    });
    test_db.reopen();
    let rtx = test_db.db().begin_read().unwrap();
    let orders = rtx.open_table(ORDERS).unwrap();
    for (i, entry) in orders.iter().unwrap().enumerate() {
        assert_eq!(entry.unwrap(), (i as u64, order(i as u64)));
    }
    const AS_BYTES: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
    assert!(matches!(
        rtx.open_table(AS_BYTES),
        Err(Error::TableTypeMismatch { .. })
    ));
}

/// A value whose `Serialize` fails.
struct Refuses;

impl Serialize for Refuses {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("this value cannot be stored"))
    }
}

impl<'de> serde::Deserialize<'de> for Refuses {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Ok(Refuses)
    }
}

#[test]
fn a_value_serde_refuses_is_an_error_and_changes_nothing() {
    const REFUSED: TableDefinition<u64, Postcard<Refuses>> = TableDefinition::new("refused");
    let test_db = TestDb::new();
    let wtx = test_db.db().begin_write().unwrap();
    let mut table = wtx.open_table(REFUSED).unwrap();
    match table.insert(1, Refuses) {
        Err(Error::InvalidEncoding { type_name, .. }) => assert_eq!(type_name, "postcard"),
        other => panic!("expected InvalidEncoding, got {:?}", other.map(|_| ())),
    }
    assert_eq!(table.len().unwrap(), 0);
    drop(table);
    wtx.commit().unwrap();
}

#[test]
fn undecodable_bytes_are_reported() {
    let test_db = TestDb::new();
    write(test_db.db(), |w| {
        w.open_table(ORDERS).unwrap().insert(1, order(1)).unwrap();
        w.open_table("orders")
            .unwrap()
            .insert(&2u64.to_be_bytes(), &[0xFF; 3])
            .unwrap();
    });
    let rtx = test_db.db().begin_read().unwrap();
    let orders = rtx.open_table(ORDERS).unwrap();
    assert_eq!(orders.get(1).unwrap(), Some(order(1)));
    assert!(matches!(orders.get(2), Err(Error::InvalidEncoding { .. })));
}
