//! A typed table of orders and a secondary index by customer, kept in step in one
//! transaction: the index is written through its own handle beside the records, a
//! savepoint undoes a rejected order, and reads use the index to find a customer's orders.
//!
//! `cargo run --release --example typed_index`

use bough::{Database, TableDefinition};

/// Order id -> (customer, amount in cents).
const ORDERS: TableDefinition<u64, (String, u64)> = TableDefinition::new("orders");
/// (customer, order id) -> nothing: the index, ordered by customer, then order id.
const BY_CUSTOMER: TableDefinition<(String, u64), ()> = TableDefinition::new("orders_by_customer");

fn main() -> bough::Result<()> {
    let dir = std::env::temp_dir().join(format!("bough-typed-index-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = Database::open(dir.join("shop.bough"))?;

    let orders = [
        (1, "ann", 1_250),
        (2, "bob", 990),
        (3, "ann", 4_000),
        (4, "cy", 15),
    ];
    let mut wtx = db.begin_write()?;
    {
        let mut records = wtx.open_table(ORDERS)?;
        let mut index = wtx.open_table(BY_CUSTOMER)?;
        for (id, customer, cents) in orders {
            records.insert(id, (customer.to_string(), cents))?;
            index.insert((customer.to_string(), id), ())?;
        }
    }
    // An order that fails a later check is undone with everything it touched.
    let before_rejected = wtx.savepoint()?;
    {
        let mut records = wtx.open_table(ORDERS)?;
        let mut index = wtx.open_table(BY_CUSTOMER)?;
        records.insert(5, ("dee".to_string(), 0))?;
        index.insert(("dee".to_string(), 5), ())?;
    }
    wtx.restore_savepoint(&before_rejected)?;
    wtx.commit()?;

    let rtx = db.begin_read()?;
    let records = rtx.open_table(ORDERS)?;
    let index = rtx.open_table(BY_CUSTOMER)?;
    for customer in ["ann", "bob", "dee"] {
        let from = (customer.to_string(), 0);
        let to = (customer.to_string(), u64::MAX);
        let mut total = 0;
        let mut ids = Vec::new();
        for entry in index.range(from..=to)? {
            let ((_, id), ()) = entry?;
            let (_, cents) = records.get(id)?.expect("the index points at a record");
            total += cents;
            ids.push(id);
        }
        println!("{customer}: orders {ids:?}, {total} cents");
    }
    assert_eq!(records.len()?, 4, "the rejected order was undone");
    assert_eq!(index.len()?, records.len()?);
    drop(rtx);
    db.check()?;
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
