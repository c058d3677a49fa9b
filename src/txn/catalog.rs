//! The catalog: a B+ tree from table name to table record (DESIGN.md, "Catalog").

use crate::error::{Error, Result};
use crate::ids::{PageId, Ptr};
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
