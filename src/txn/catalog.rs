//! The catalog: a B+ tree from table name to table record (DESIGN.md, "Catalog"), and a
//! table's state as a write transaction changes it.

use crate::btree::{self, RangeIter};
use crate::error::{Error, Result};
use crate::ids::{PageId, Ptr};
use crate::pager::PageSource;
use std::ops::Bound;
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
struct RawRecord {
    root: U64,
    root_crc: U32,
    reserved: U32,
    len: U64,
}

pub(crate) const RECORD_SIZE: usize = 24;
const _: () = assert!(size_of::<RawRecord>() == RECORD_SIZE);

/// Where a table's tree is and how many entries it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableRecord {
    pub root: Option<Ptr>,
    pub len: u64,
}

impl TableRecord {
    pub(crate) fn encode(&self) -> [u8; RECORD_SIZE] {
        let raw = RawRecord {
            root: self.root.map_or(0, |p| p.page.0).into(),
            root_crc: self.root.map_or(0, |p| p.crc).into(),
            reserved: 0.into(),
            len: self.len.into(),
        };
        let mut out = [0u8; RECORD_SIZE];
        out.copy_from_slice(raw.as_bytes());
        out
    }

    /// Decodes the record of table `name` found in catalog page `page`.
    pub(crate) fn decode(bytes: &[u8], catalog_root: PageId) -> Result<TableRecord> {
        let raw = RawRecord::read_from_bytes(bytes).map_err(|_| {
            Error::corruption(
                catalog_root,
                format!("table record of {} bytes", bytes.len()),
            )
        })?;
        let root = raw.root.get();
        Ok(TableRecord {
            root: (root != 0).then_some(Ptr {
                page: PageId(root),
                crc: raw.root_crc.get(),
            }),
            len: raw.len.get(),
        })
    }
}

/// Table names are non-empty UTF-8 of at most 255 bytes.
pub(crate) fn validate_table_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 255 {
        return Err(Error::InvalidTableName(name.to_owned()));
    }
    Ok(())
}

/// The record of table `name` in the catalog at `catalog`, if it exists.
pub(crate) fn find_table(
    src: &dyn PageSource,
    catalog: Option<Ptr>,
    name: &str,
) -> Result<Option<TableRecord>> {
    btree::get(src, catalog, name.as_bytes())?
        .map(|bytes| TableRecord::decode(bytes, catalog.map_or(PageId(0), |c| c.page)))
        .transpose()
}

/// Every table of the catalog at `catalog` with its record, sorted by name.
pub(crate) fn list_tables(
    src: &dyn PageSource,
    catalog: Option<Ptr>,
) -> Result<Vec<(String, TableRecord)>> {
    let catalog_page = catalog.map_or(PageId(0), |c| c.page);
    RangeIter::new(src, catalog, Bound::Unbounded, Bound::Unbounded)?
        .map(|entry| {
            let (name, value) = entry?;
            let name = String::from_utf8(name.to_vec())
                .map_err(|_| Error::corruption(catalog_page, "table name is not UTF-8"))?;
            Ok((name, TableRecord::decode(value, catalog_page)?))
        })
        .collect()
}

/// A table's tree as a write transaction has it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableState {
    pub root: Option<Ptr>,
    pub len: u64,
    /// Created or changed: its record must be written at commit.
    pub changed: bool,
}

impl TableState {
    /// The state of a table found in the catalog.
    pub(crate) fn found(record: TableRecord) -> Self {
        TableState {
            root: record.root,
            len: record.len,
            changed: false,
        }
    }

    /// The state of a table created by this transaction.
    pub(crate) fn created() -> Self {
        TableState {
            root: None,
            len: 0,
            changed: true,
        }
    }

    /// Records an insert that left the tree at `root`; `existed` if it replaced a value.
    pub(crate) fn inserted(&mut self, root: Ptr, existed: bool) {
        self.root = Some(root);
        self.len += u64::from(!existed);
        self.changed = true;
    }

    /// Records writes that left the tree at `root` with `len_change` more entries.
    pub(crate) fn merged(&mut self, root: Option<Ptr>, len_change: i64) {
        self.root = root;
        self.len = self.len.wrapping_add_signed(len_change);
        self.changed = true;
    }

    /// Records that the tree was freed whole.
    pub(crate) fn cleared(&mut self) {
        self.root = None;
        self.len = 0;
        self.changed = true;
    }

    /// Records a removal that left the tree at `root`, if it `removed` anything.
    pub(crate) fn removed(&mut self, root: Option<Ptr>, removed: bool) {
        if removed {
            self.root = root;
            self.len -= 1;
            self.changed = true;
        }
    }
}
