//! Read transactions: a pinned snapshot, never blocked by the writer.

use super::catalog::{TableTypes, find_table, list_tables};
use super::range::{KeyRange, Range, prefix_range};
use super::spec::TableSpec;
use super::{Shared, Snapshot, validate_table_name};
use crate::btree::{self, RangeIter};
use crate::error::{Error, Result};
use crate::ids::Ptr;
use std::sync::Arc;

/// A consistent view of the database as of `begin_read`, however many commits follow.
/// Pages it can see are not reused until it is dropped. Owned: it keeps the database open by
/// itself, and can be shared between threads (`Send + Sync + 'static`).
#[derive(Debug)]
pub struct ReadTransaction {
    shared: Arc<Shared>,
    snapshot: Arc<Snapshot>,
    /// Its id in the reader registry.
    reader: u64,
}

impl ReadTransaction {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let (snapshot, reader) = shared.pin_newest();
        ReadTransaction {
            shared,
            snapshot,
            reader,
        }
    }

    /// Opens a table for reading, by name for a table of bytes or by a
    /// [`TableDefinition`](crate::TableDefinition) for a typed table;
    /// [`Error::TableNotFound`] if it does not exist, [`Error::TableTypeMismatch`] if a typed
    /// table records other types. Any number of tables, the same one included, can be open
    /// at once.
    pub fn open_table<S: TableSpec>(&self, spec: S) -> Result<S::Read<'_>> {
        let name = spec.table_name();
        validate_table_name(name)?;
        let record = find_table(&*self.snapshot, self.snapshot.meta.catalog, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))?;
        if let Some((key, value)) = spec.table_types() {
            let wanted = TableTypes { key, value };
            if wanted != record.types {
                return Err(Error::TableTypeMismatch {
                    table: name.to_owned(),
                    expected: wanted.to_string(),
                    found: record.types.to_string(),
                });
            }
        }
        Ok(S::read_handle(ReadTable {
            snapshot: &self.snapshot,
            root: record.root,
            len: record.len,
        }))
    }

    /// The names of all tables, sorted.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let tables = list_tables(&*self.snapshot, self.snapshot.meta.catalog)?;
        Ok(tables.into_iter().map(|(name, _)| name).collect())
    }

    /// Every table of the snapshot with the types its record names (backups copy them).
    pub(crate) fn table_types(&self) -> Result<Vec<(String, TableTypes)>> {
        let tables = list_tables(&*self.snapshot, self.snapshot.meta.catalog)?;
        Ok(tables
            .into_iter()
            .map(|(name, r)| (name, r.types))
            .collect())
    }

    pub(crate) fn page_size(&self) -> usize {
        self.snapshot.meta.page_size as usize
    }

    pub(crate) fn mode(&self) -> crate::Mode {
        self.shared.mode
    }

    /// Reads bytes of the database file itself with a system call (page inspection).
    pub(crate) fn read_main_file(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.shared.storage.read_at(buf, offset)
    }

    pub(crate) fn snapshot_ref(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The id of the transaction whose state this reader sees.
    pub fn snapshot_id(&self) -> u64 {
        self.snapshot.meta.txn_id.0
    }
}

impl Drop for ReadTransaction {
    fn drop(&mut self) {
        self.shared.unpin(self.reader);
    }
}

/// A table as seen by a read transaction.
#[derive(Debug)]
pub struct ReadTable<'txn> {
    snapshot: &'txn Snapshot,
    root: Option<Ptr>,
    len: u64,
}

impl<'txn> ReadTable<'txn> {
    /// The value stored under `key`, borrowed from the map without copying.
    pub fn get(&self, key: &[u8]) -> Result<Option<&'txn [u8]>> {
        btree::get(self.snapshot, self.root, key)
    }

    /// Whether `key` is in the table; a large value's overflow run is not read.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        btree::contains(self.snapshot, self.root, key)
    }

    /// Entries with keys in `range`, in order; iterate from either end.
    pub fn range(&self, range: impl KeyRange) -> Result<Range<'txn>> {
        let (start, end) = range.byte_bounds();
        Ok(Range::new(RangeIter::new(
            self.snapshot,
            self.root,
            start,
            end,
        )?))
    }

    /// Entries whose keys start with `prefix`, in order; iterate from either end.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'txn>> {
        self.range(prefix_range(prefix.as_ref()))
    }

    /// All entries, in order.
    pub fn iter(&self) -> Result<Range<'txn>> {
        self.range(..)
    }

    /// The number of entries.
    pub fn len(&self) -> Result<u64> {
        Ok(self.len)
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len == 0)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&'txn [u8], &'txn [u8])>> {
        self.iter()?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&'txn [u8], &'txn [u8])>> {
        self.iter()?.next_back().transpose()
    }
}
