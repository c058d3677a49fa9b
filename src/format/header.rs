//! The 32-byte header every page but the metas starts with.

use crate::error::{Error, Result};
use crate::ids::PageId;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) const HEADER_SIZE: usize = 32;

/// DESIGN.md, "Page header (every other page)".
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Debug)]
#[repr(C)]
pub(crate) struct PageHeader {
    pub checksum: U32,
    pub kind: u8,
    pub reserved: u8,
    pub count: U16,
    pub page_id: U64,
    pub txn_id: U64,
    pub lower: U32,
    pub upper: U32,
}

const _: () = assert!(size_of::<PageHeader>() == HEADER_SIZE);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    Branch = 1,
    Leaf = 2,
    Overflow = 3,
    Freelist = 4,
}

impl PageKind {
    pub(crate) fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(PageKind::Branch),
            2 => Some(PageKind::Leaf),
            3 => Some(PageKind::Overflow),
            4 => Some(PageKind::Freelist),
            _ => None,
        }
    }
}

impl PageHeader {
    /// The header of `page`; `page` is at least a header long (pages are >= 4096 bytes).
    pub(crate) fn of(page: &[u8]) -> &PageHeader {
        PageHeader::ref_from_prefix(page)
            .expect("a page is longer than its header and headers are unaligned")
            .0
    }

    pub(crate) fn of_mut(page: &mut [u8]) -> &mut PageHeader {
        PageHeader::mut_from_prefix(page)
            .expect("a page is longer than its header and headers are unaligned")
            .0
    }

    pub(crate) fn kind(&self) -> Option<PageKind> {
        PageKind::from_byte(self.kind)
    }
}

/// Checks what a page says about itself against what its reader expects: its own id, the
/// checksum its parent recorded and, if `verify` is set, the checksum of its bytes.
pub(crate) fn verify_page(
    bytes: &[u8],
    id: PageId,
    expected_crc: Option<u32>,
    verify: bool,
) -> Result<()> {
    let header = PageHeader::of(bytes);
    if header.page_id.get() != id.0 {
        return Err(Error::corruption(
            id,
            format!(
                "page header names page {} (misdirected or stale write)",
                header.page_id.get()
            ),
        ));
    }
    if let Some(expected) = expected_crc
        && header.checksum.get() != expected
    {
        return Err(Error::corruption(
            id,
            format!(
                "checksum {:#010x} differs from {:#010x} recorded by its parent (stale or lost write)",
                header.checksum.get(),
                expected
            ),
        ));
    }
    if verify {
        let actual = super::page_checksum(bytes);
        if actual != header.checksum.get() {
            return Err(Error::corruption(
                id,
                format!(
                    "checksum mismatch: stored {:#010x}, computed {actual:#010x}",
                    header.checksum.get()
                ),
            ));
        }
    }
    Ok(())
}
