//! A typed table's name and types, usable as a `const`.

use super::key::Key;
use super::table::{TypedReadTable, TypedTable};
use super::value::Value;
use crate::txn::{ReadTable, Table, TableSpec};
use std::marker::PhantomData;

/// A table whose keys are `K` and values `V`, opened with `open_table` on either
/// transaction kind:
///
/// ```
/// use bough::TableDefinition;
/// const SCORES: TableDefinition<&str, u64> = TableDefinition::new("scores");
/// ```
///
/// The catalog records both types' names when the table is created; opening it with other
/// types gives [`Error::TableTypeMismatch`](crate::Error::TableTypeMismatch).
pub struct TableDefinition<K: Key + 'static, V: Value + 'static> {
    name: &'static str,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key + 'static, V: Value + 'static> TableDefinition<K, V> {
    /// The table named `name`.
    pub const fn new(name: &'static str) -> Self {
        TableDefinition {
            name,
            types: PhantomData,
        }
    }

    /// The table's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<K: Key + 'static, V: Value + 'static> Clone for TableDefinition<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: Key + 'static, V: Value + 'static> Copy for TableDefinition<K, V> {}

impl<K: Key + 'static, V: Value + 'static> std::fmt::Debug for TableDefinition<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TableDefinition({:?}: {} -> {})",
            self.name,
            K::type_name(),
            V::type_name()
        )
    }
}

impl<K: Key + 'static, V: Value + 'static> TableSpec for TableDefinition<K, V> {
    type Write<'txn> = TypedTable<'txn, K, V>;
    type Read<'txn> = TypedReadTable<'txn, K, V>;

    fn table_name(&self) -> &str {
        self.name
    }

    fn table_types(&self) -> Option<(String, String)> {
        Some((K::type_name(), V::type_name()))
    }

    fn write_handle(table: Table<'_>) -> TypedTable<'_, K, V> {
        TypedTable::new(table)
    }

    fn read_handle(table: ReadTable<'_>) -> TypedReadTable<'_, K, V> {
        TypedReadTable::new(table)
    }
}
