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

const RECORD_SIZE: usize = 24;
const _: () = assert!(size_of::<RawRecord>() == RECORD_SIZE);

/// The encodings of a table's keys and values, as typed tables name them (DESIGN.md,
/// "Catalog"); tables of plain bytes are `bytes`/`bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableTypes {
    pub key: String,
    pub value: String,
}

/// The name of the plain byte encoding, the byte API's and every older table's.
pub(crate) const BYTES: &str = "bytes";

impl TableTypes {
    pub(crate) fn bytes() -> Self {
        TableTypes {
            key: BYTES.to_owned(),
            value: BYTES.to_owned(),
        }
    }

    pub(crate) fn is_bytes(&self) -> bool {
        self.key == BYTES && self.value == BYTES
    }
}

impl std::fmt::Display for TableTypes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "keys {}, values {}", self.key, self.value)
    }
}

/// Where a table's tree is, how many entries it holds and what types they have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableRecord {
    pub root: Option<Ptr>,
    pub len: u64,
    pub types: TableTypes,
}

impl TableRecord {
    /// The fixed 24 bytes, then for typed tables each type name after its length (u8).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let raw = RawRecord {
            root: self.root.map_or(0, |p| p.page.0).into(),
            root_crc: self.root.map_or(0, |p| p.crc).into(),
            reserved: 0.into(),
            len: self.len.into(),
        };
        let mut out = raw.as_bytes().to_vec();
        if !self.types.is_bytes() {
            for name in [&self.types.key, &self.types.value] {
                let name = &name.as_bytes()[..name.len().min(255)];
                out.push(name.len() as u8);
                out.extend_from_slice(name);
            }
        }
        out
    }

    /// Decodes a table record found in catalog page `page`.
    pub(crate) fn decode(bytes: &[u8], catalog_root: PageId) -> Result<TableRecord> {
        let bad = || {
            Error::corruption(
                catalog_root,
                format!("table record of {} bytes", bytes.len()),
            )
        };
        let (raw, mut rest) = RawRecord::ref_from_prefix(bytes).map_err(|_| bad())?;
        let types = match rest.is_empty() {
            true => TableTypes::bytes(),
            false => {
                let mut name = || -> Result<String> {
                    let (&len, tail) = rest.split_first().ok_or_else(bad)?;
                    let (name, tail) = tail.split_at_checked(len as usize).ok_or_else(bad)?;
                    rest = tail;
                    String::from_utf8(name.to_vec()).map_err(|_| bad())
                };
                let types = TableTypes {
                    key: name()?,
                    value: name()?,
                };
                if !rest.is_empty() {
                    return Err(bad());
                }
                types
            }
        };
        let root = raw.root.get();
        Ok(TableRecord {
            root: (root != 0).then_some(Ptr {
                page: PageId(root),
                crc: raw.root_crc.get(),
            }),
            len: raw.len.get(),
            types,
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
    pub(crate) fn found(record: &TableRecord) -> Self {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bytes_tables_keep_the_24_byte_form() {
        let root = Some(Ptr {
            page: PageId(7),
            crc: 0xDEAD_BEEF,
        });
        let plain = TableRecord {
            root,
            len: 3,
            types: TableTypes::bytes(),
        };
        assert_eq!(plain.encode().len(), RECORD_SIZE);
        assert_eq!(
            TableRecord::decode(&plain.encode(), PageId(2)).unwrap(),
            plain
        );
        let typed = TableRecord {
            types: TableTypes {
                key: "u64".into(),
                value: "str".into(),
            },
            ..plain
        };
        assert_eq!(
            TableRecord::decode(&typed.encode(), PageId(2)).unwrap(),
            typed
        );
        let mut cut = typed.encode();
        cut.pop();
        assert!(matches!(
            TableRecord::decode(&cut, PageId(2)),
            Err(Error::Corruption { page: 2, .. })
        ));
        assert!(TableRecord::decode(&cut[..10], PageId(2)).is_err());
    }
}
