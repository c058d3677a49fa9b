//! Reads inside a write transaction: its own changed pages first, then the file (and, in
//! write-ahead-log mode, the log). [`TablePages`] owns what one open table reads through,
//! so that its reads stay valid while other tables of the transaction change theirs.

use super::dirty::DirtyPages;
use super::{LogView, PageSource, ReadPages, VerifiedPages};
use crate::error::{Error, Result};
use crate::format::HEADER_SIZE;
use crate::ids::Ptr;
use crate::io::Mapping;
use std::sync::Arc;

/// The committed pages a write transaction reads, as of its last change: maps held by
/// `Arc`, so a later growth of the file (a new map) leaves them valid.
#[derive(Debug, Clone)]
pub(crate) struct PageView {
    pub(super) map: Arc<Mapping>,
    /// Write-ahead-log mode: the log's map and index (every logged commit is visible).
    pub(super) log: Option<LogView>,
    pub(super) page_size: usize,
    pub(super) high_water: u64,
    pub(super) verify: bool,
    pub(super) verified: Arc<VerifiedPages>,
}

impl PageView {
    /// Lets go of the maps (the transaction ended; a handle still in scope must not keep
    /// the file mapped, which would keep its lock).
    pub(crate) fn release(&mut self) {
        self.map = Arc::new(Mapping::Empty);
        self.log = None;
    }

    pub(super) fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.map,
            page_size: self.page_size,
            high_water: self.high_water,
            verify: self.verify,
            wal: self.log.as_ref().map(|log| log.read(u64::MAX)),
            verified: Some(&self.verified),
        }
    }
}

/// The page `ptr` points to, from `dirty` if this transaction changed it (`pages` is built
/// only if not: the hot path of a write is a page it changed already).
#[inline]
pub(super) fn read_page<'a>(
    pages: impl FnOnce() -> ReadPages<'a>,
    dirty: &'a DirtyPages,
    ptr: Ptr,
) -> Result<&'a [u8]> {
    if let Some(page) = dirty.pages.get(&ptr.page.0) {
        return Ok(page);
    }
    let pages = pages();
    if dirty.spilled.contains_key(&ptr.page.0) {
        // Written by this transaction moments ago, under the file lock: not hashed again.
        return pages.raw(ptr.page, 1);
    }
    pages.checked_page(ptr)
}

/// The `len` bytes of the overflow value at `ptr`, from `dirty` if this transaction wrote it
/// and keeps it in memory.
pub(super) fn read_overflow<'a>(
    pages: ReadPages<'a>,
    dirty: &'a DirtyPages,
    ptr: Ptr,
    len: u64,
) -> Result<&'a [u8]> {
    match dirty.runs.get(&ptr.page.0) {
        Some(run) => run
            .get(HEADER_SIZE..HEADER_SIZE.saturating_add(len as usize))
            .ok_or_else(|| Error::corruption(ptr.page, "value longer than its overflow run")),
        None => pages.checked_overflow(ptr, len),
    }
}

/// What one open table of a write transaction reads through: the committed pages as of its
/// last change and the pages its tree changed. Only this table's own writes change either
/// (DESIGN.md, "Several tables in one transaction").
#[derive(Debug, Clone)]
pub(crate) struct TablePages {
    pub(crate) view: PageView,
    pub(crate) dirty: DirtyPages,
}

impl PageSource for TablePages {
    fn page_size(&self) -> usize {
        self.view.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        read_page(|| self.view.pages(), &self.dirty, ptr)
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        read_overflow(self.view.pages(), &self.dirty, ptr, len)
    }
}
