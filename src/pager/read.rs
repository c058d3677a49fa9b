//! Page access for a read snapshot: zero-copy slices of the map, verified.

use super::PageSource;
use crate::error::{Error, Result};
use crate::format::HEADER_SIZE;
use crate::format::header::verify_page;
use crate::format::overflow;
use crate::ids::{PageId, Ptr};
use crate::io::Mapping;
use crate::pager::VerifiedPages;
use crate::pager::wal::WalIndex;
use std::sync::{Arc, RwLock};

/// Pages of one committed snapshot, read from the map (and, in write-ahead-log mode, from
/// the log's map for pages the log holds a version of).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadPages<'a> {
    pub map: &'a Mapping,
    pub page_size: usize,
    /// Pages at or beyond this id do not exist in the snapshot.
    pub high_water: u64,
    pub verify: bool,
    pub wal: Option<WalRead<'a>>,
    /// Page versions already hashed by this process (see `VerifiedPages`); `None` hashes
    /// every page (the integrity check).
    pub verified: Option<&'a VerifiedPages>,
}

/// The log as one snapshot sees it: versions written by transactions after `floor` and up
/// to `upto` (older ones are in the main file).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WalRead<'a> {
    pub map: &'a Mapping,
    pub index: &'a RwLock<WalIndex>,
    pub floor: u64,
    pub upto: u64,
}

/// The log as a snapshot or a write transaction holds it: its map, its index, and the
/// floor: versions up to that commit were in the main file when the holder began (DESIGN.md,
/// "Reusing the log's space").
#[derive(Clone, Debug)]
pub(crate) struct LogView {
    pub map: Arc<Mapping>,
    pub index: Arc<RwLock<WalIndex>>,
    pub floor: u64,
}

impl LogView {
    /// The versions up to transaction `upto`.
    pub(crate) fn read(&self, upto: u64) -> WalRead<'_> {
        WalRead {
            map: &self.map,
            index: &self.index,
            floor: self.floor,
            upto,
        }
    }
}

impl<'a> ReadPages<'a> {
    /// The raw bytes of `pages` pages starting at `id`, unchecked beyond bounds.
    pub(crate) fn raw(&self, id: PageId, pages: u64) -> Result<&'a [u8]> {
        let end = id.0.checked_add(pages);
        if id.0 < 2 || end.is_none_or(|end| end > self.high_water) {
            return Err(Error::corruption(
                id,
                format!(
                    "pointer to pages {}..+{pages} outside the data pages 2..{}",
                    id.0, self.high_water
                ),
            ));
        }
        let len = pages as usize * self.page_size;
        if let Some(wal) = &self.wal {
            // The index latch is held only for the lookup; the bytes it points at are never
            // rewritten while a snapshot that can see them lives (DESIGN.md, "Write-ahead-log
            // mode").
            let index = wal.index.read().unwrap_or_else(|e| e.into_inner());
            if let Some(offset) = index.lookup(id.0, wal.floor, wal.upto) {
                let last = offset + (pages - 1) * self.page_size as u64;
                if pages > 1 && index.lookup(id.0 + pages - 1, wal.floor, wal.upto) != Some(last) {
                    return Err(Error::corruption(
                        id,
                        "overflow run split across log frames",
                    ));
                }
                return wal
                    .map
                    .slice(offset, len)
                    .ok_or_else(|| Error::corruption(id, "page lies beyond the end of the log"));
            }
        }
        id.0.checked_mul(self.page_size as u64)
            .and_then(|offset| self.map.slice(offset, len))
            .ok_or_else(|| Error::corruption(id, "page lies beyond the end of the file"))
    }

    pub(crate) fn checked_page(&self, ptr: Ptr) -> Result<&'a [u8]> {
        let bytes = self.raw(ptr.page, 1)?;
        let known = self
            .verified
            .is_some_and(|v| v.contains(ptr.page.0, ptr.crc));
        verify_page(bytes, ptr.page, Some(ptr.crc), self.verify && !known)?;
        if self.verify
            && !known
            && let Some(verified) = self.verified
        {
            verified.insert(ptr.page.0, ptr.crc);
        }
        Ok(bytes)
    }

    pub(crate) fn checked_overflow(&self, ptr: Ptr, len: u64) -> Result<&'a [u8]> {
        let first = self.raw(ptr.page, 1)?;
        verify_page(first, ptr.page, Some(ptr.crc), false)?;
        let pages = overflow::check_header(first, ptr.page, self.page_size, len)?;
        let run = self.raw(ptr.page, pages)?;
        let end = HEADER_SIZE + len as usize;
        let known = self
            .verified
            .is_some_and(|v| v.contains(ptr.page.0, ptr.crc));
        if self.verify && !known {
            let actual = crc32c::crc32c(&run[4..end]);
            if actual != ptr.crc {
                return Err(Error::corruption(
                    ptr.page,
                    format!(
                        "overflow run checksum mismatch: expected {:#010x}, computed {actual:#010x}",
                        ptr.crc
                    ),
                ));
            }
            if let Some(verified) = self.verified {
                verified.insert(ptr.page.0, ptr.crc);
            }
        }
        Ok(&run[HEADER_SIZE..end])
    }
}

impl PageSource for ReadPages<'_> {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        self.checked_page(ptr)
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        self.checked_overflow(ptr, len)
    }
}
