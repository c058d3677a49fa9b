//! Read transactions: a pinned snapshot, never blocked by the writer.

use super::range::{Range, bounds};
use super::{Shared, Snapshot, TableRecord, validate_table_name};
use crate::btree::{self, RangeIter};
use crate::error::{Error, Result};
use crate::ids::Ptr;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

/// A consistent view of the database as of `begin_read`, however many commits follow.
/// Pages it can see are not reused until it is dropped.
#[derive(Debug)]
pub struct ReadTransaction<'db> {
    shared: &'db Shared,
    snapshot: Arc<Snapshot>,
}

impl<'db> ReadTransaction<'db> {
    pub(crate) fn new(shared: &'db Shared) -> Self {
        ReadTransaction {
            shared,
            snapshot: shared.pin_newest(),
        }
    }

    /// Opens a table for reading; [`Error::TableNotFound`] if it does not exist.
    pub fn open_table(&self, name: &str) -> Result<ReadTable<'_>> {
        validate_table_name(name)?;
        let record = find_table(&self.snapshot, name)?
            .ok_or_else(|| Error::TableNotFound(name.to_owned()))?;
        Ok(ReadTable {
            snapshot: &self.snapshot,
            root: record.root,
            len: record.len,
        })
    }

    /// The names of all tables, sorted.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        table_names(&*self.snapshot, self.snapshot.meta.catalog)
    }

    pub(crate) fn snapshot_ref(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The id of the transaction whose state this reader sees.
    pub fn snapshot_id(&self) -> u64 {
        self.snapshot.meta.txn_id.0
    }
}

impl Drop for ReadTransaction<'_> {
    fn drop(&mut self) {
        self.shared.unpin(self.snapshot.meta.txn_id.0);
    }
}

pub(crate) fn find_table(snapshot: &Snapshot, name: &str) -> Result<Option<TableRecord>> {
    let catalog = snapshot.meta.catalog;
    btree::get(snapshot, catalog, name.as_bytes())?
        .map(|bytes| TableRecord::decode(bytes, catalog.map_or(crate::ids::PageId(0), |c| c.page)))
        .transpose()
}

/// The table names in the catalog at `catalog`, sorted.
pub(crate) fn table_names(
    src: &dyn crate::pager::PageSource,
    catalog: Option<Ptr>,
) -> Result<Vec<String>> {
    RangeIter::new(src, catalog, Bound::Unbounded, Bound::Unbounded)?
        .map(|entry| {
            let (name, _) = entry?;
            String::from_utf8(name.to_vec()).map_err(|_| {
                Error::corruption(catalog.map_or(0, |c| c.page.0), "table name is not UTF-8")
            })
        })
        .collect()
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

    /// Entries with keys in `r`, in order; iterate from either end.
    pub fn range<'k>(&self, r: impl RangeBounds<&'k [u8]>) -> Result<Range<'txn>> {
        let (start, end) = bounds(&r);
        Ok(Range::new(RangeIter::new(
            self.snapshot,
            self.root,
            start,
            end,
        )?))
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
