//! What `open_table` accepts: a table name, giving a table of bytes, or a typed table's
//! definition (`typed::TableDefinition`), giving a typed handle.

use super::{ReadTable, Table};

/// Names a table to open and the handle it opens as: `&str` (or `String`) for a table of
/// bytes, a [`TableDefinition`](crate::TableDefinition) for a typed table.
pub trait TableSpec {
    /// The handle a write transaction gives.
    type Write<'txn>;
    /// The handle a read transaction gives.
    type Read<'txn>;
    /// The table's name.
    fn table_name(&self) -> &str;
    /// The names of the key and value encodings the catalog must record, or `None` for the
    /// byte API, which reads and writes any table as bytes.
    fn table_types(&self) -> Option<(String, String)>;
    /// Wraps a write transaction's table of bytes.
    fn write_handle(table: Table<'_>) -> Self::Write<'_>;
    /// Wraps a read transaction's table of bytes.
    fn read_handle(table: ReadTable<'_>) -> Self::Read<'_>;
}

/// A name opens a table of bytes, through any string type.
macro_rules! byte_table_by_name {
    ($(impl<$($param:ident),*> for $name:ty $(where $bound:ident: $trait:path)?;)*) => {$(
        impl<$($param: ?Sized),*> TableSpec for $name $(where $bound: $trait)? {
            type Write<'txn> = Table<'txn>;
            type Read<'txn> = ReadTable<'txn>;

            fn table_name(&self) -> &str {
                AsRef::<str>::as_ref(self)
            }

            fn table_types(&self) -> Option<(String, String)> {
                None
            }

            fn write_handle(table: Table<'_>) -> Table<'_> {
                table
            }

            fn read_handle(table: ReadTable<'_>) -> ReadTable<'_> {
                table
            }
        }
    )*};
}

byte_table_by_name! {
    impl<T> for &T where T: AsRef<str>;
    impl<> for String;
}
