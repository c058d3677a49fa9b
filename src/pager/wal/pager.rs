//! The page store of one write transaction in write-ahead-log mode: a page is changed in
//! place (same id), its new image kept in memory until commit, when it goes to the log.
//! [`WalPager`] holds what the whole transaction shares; [`WalStore`] is the page store of
//! one tree, over its own [`DirtyPages`].

use crate::error::Result;
use crate::format::{HEADER_SIZE, PageHeader, PageKind, overflow};
use crate::ids::{PageId, Ptr};
use crate::io::Mapping;
use crate::pager::alloc::{Allocator, Freed};
use crate::pager::dirty::{self, DirtyPages};
use crate::pager::stream::Stream;
use crate::pager::view::{PageView, read_overflow, read_page};
use crate::pager::{FreeList, LogView, PageSource, PageStore, ReadPages, VerifiedPages};
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct WalPager {
    main: Arc<Mapping>,
    log: LogView,
    page_size: usize,
    verify: bool,
    verified: Arc<VerifiedPages>,
    txn: u64,
    alloc: Allocator,
}

/// What a write transaction in log mode starts from.
#[derive(Debug)]
pub(crate) struct WalPagerStart {
    pub main: Arc<Mapping>,
    pub log: LogView,
    pub page_size: usize,
    pub verify: bool,
    pub verified: Arc<VerifiedPages>,
    pub txn: u64,
    pub high_water: u64,
    pub freelist: FreeList,
}

impl WalPager {
    pub(crate) fn new(start: WalPagerStart) -> Self {
        WalPager {
            alloc: Allocator::new(
                start.page_size,
                start.txn,
                u64::MAX,
                start.high_water,
                start.freelist,
                // The log's commit frame holds the meta's fixed fields only.
                0,
            ),
            main: start.main,
            log: start.log,
            page_size: start.page_size,
            verify: start.verify,
            verified: start.verified,
            txn: start.txn,
        }
    }

    fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.main,
            page_size: self.page_size,
            high_water: self.alloc.high_water(),
            verify: self.verify,
            wal: Some(self.log.read(u64::MAX)),
            verified: Some(&self.verified),
        }
    }

    /// The committed pages as of now, for a table's reads.
    pub(crate) fn view(&self) -> PageView {
        PageView {
            map: self.main.clone(),
            log: Some(self.log.clone()),
            page_size: self.page_size,
            high_water: self.alloc.high_water(),
            verify: self.verify,
            verified: self.verified.clone(),
        }
    }

    /// The main file's map.
    pub(crate) fn main_map(&self) -> &Arc<Mapping> {
        &self.main
    }

    /// The page store of the tree whose changed pages are `dirty`.
    pub(crate) fn store<'a>(&'a mut self, dirty: &'a mut DirtyPages) -> WalStore<'a> {
        WalStore { core: self, dirty }
    }

    pub(crate) fn high_water(&self) -> u64 {
        self.alloc.high_water()
    }

    pub(crate) fn alloc(&self) -> &Allocator {
        &self.alloc
    }

    pub(crate) fn alloc_mut(&mut self) -> &mut Allocator {
        &mut self.alloc
    }

    /// The allocator's state for a savepoint; from now on freed pages of this transaction
    /// wait for the commit.
    pub(crate) fn savepoint(&mut self) -> Allocator {
        self.alloc.hold_fresh_frees();
        self.alloc.clone()
    }

    /// Goes back to the allocator's state at a savepoint.
    pub(crate) fn restore(&mut self, alloc: Allocator) {
        self.alloc = alloc;
    }

    /// Adds this transaction's freelist records to `dirty`; returns the new head.
    pub(crate) fn save_freelist(&mut self, dirty: &mut DirtyPages) -> Result<Option<Ptr>> {
        let saved = self.alloc.save_freelist();
        debug_assert!(
            saved.records_in_meta.is_empty(),
            "no records in a log-mode meta"
        );
        dirty.pages.extend(saved.pages);
        Ok(saved.head)
    }

    /// The images of `dirty` to log, in page order: `(first page, bytes of one page or one
    /// run)`.
    pub(crate) fn frames(dirty: &DirtyPages) -> Vec<(u64, &[u8])> {
        let mut frames: Vec<(u64, &[u8])> = dirty
            .pages
            .iter()
            .map(|(&id, page)| (id, &page[..]))
            .chain(dirty.runs.iter().map(|(&id, run)| (id, &run[..])))
            .collect();
        frames.sort_unstable_by_key(|f| f.0);
        frames
    }

    pub(crate) fn rollback(self) -> FreeList {
        self.alloc.rollback()
    }

    pub(crate) fn into_freelist(self) -> FreeList {
        self.alloc.into_freelist()
    }
}

/// The log-mode page store of one tree: the transaction's shared state and the tree's own
/// changed pages.
#[derive(Debug)]
pub(crate) struct WalStore<'a> {
    core: &'a mut WalPager,
    dirty: &'a mut DirtyPages,
}

impl PageSource for WalStore<'_> {
    fn page_size(&self) -> usize {
        self.core.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        read_page(|| self.core.pages(), self.dirty, ptr)
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        read_overflow(self.core.pages(), self.dirty, ptr, len)
    }
}

impl PageStore for WalStore<'_> {
    fn is_dirty(&self, id: PageId) -> bool {
        self.dirty.pages.contains_key(&id.0)
    }

    fn page_mut(&mut self, id: PageId) -> &mut [u8] {
        self.dirty
            .pages
            .get_mut(&id.0)
            .expect("page_mut is only called on dirty pages")
    }

    fn make_dirty(&mut self, ptr: Ptr) -> Result<PageId> {
        if self.dirty.pages.contains_key(&ptr.page.0) {
            return Ok(ptr.page);
        }
        // In place: the page keeps its id; readers of older snapshots keep reading the
        // version the log or the main file held for them.
        let mut page: Box<[u8]> = self.core.pages().checked_page(ptr)?.into();
        PageHeader::of_mut(&mut page).txn_id = self.core.txn.into();
        self.dirty.pages.insert(ptr.page.0, page);
        self.core.alloc.adopt(ptr.page);
        Ok(ptr.page)
    }

    fn allocate(&mut self, kind: PageKind) -> Result<PageId> {
        let id = self.core.alloc.alloc_page(Stream::Cold);
        let page = dirty::empty_node(id, kind, self.core.txn, self.core.page_size);
        self.dirty.pages.insert(id, page);
        Ok(PageId(id))
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        // Reuse is immediate in this mode whatever the page's age (see `reuse_thresholds`).
        self.core.alloc.free(id, Freed::Durable)?;
        self.dirty.pages.remove(&id.0);
        self.dirty.runs.remove(&id.0);
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr> {
        let page_size = self.core.page_size;
        let len = value.len() as u64;
        let pages = overflow::run_pages(page_size, len);
        let start = self.core.alloc.alloc_run(pages);
        let mut run = vec![0u8; pages as usize * page_size].into_boxed_slice();
        overflow::write_header(&mut run, PageId(start), self.core.txn, pages, len);
        run[HEADER_SIZE..HEADER_SIZE + value.len()].copy_from_slice(value);
        let crc = crc32c::crc32c(&run[4..HEADER_SIZE + value.len()]);
        PageHeader::of_mut(&mut run).checksum = crc.into();
        self.dirty.runs.insert(start, run);
        Ok(Ptr {
            page: PageId(start),
            crc,
        })
    }

    fn free_overflow(&mut self, ptr: Ptr, len: u64) -> Result<()> {
        let pages = overflow::run_pages(self.core.page_size, len);
        for id in ptr.page.0..ptr.page.0 + pages {
            self.free(PageId(id))?;
        }
        Ok(())
    }

    fn seal(&mut self, id: PageId) -> Result<u32> {
        Ok(self.dirty.seal(id))
    }

    fn relocate(&mut self, ptr: Ptr) -> Result<PageId> {
        // Pages change in place in this mode: moving one takes a new id, and the old id is
        // free (older snapshots read its old version from the log or the file).
        let mut page: Box<[u8]> = match self.dirty.pages.remove(&ptr.page.0) {
            Some(page) => page,
            None => self.core.pages().checked_page(ptr)?.into(),
        };
        self.dirty.sealed.remove(&ptr.page.0);
        let id = self.core.alloc.alloc_page(Stream::Cold);
        let header = PageHeader::of_mut(&mut page);
        header.page_id = id.into();
        header.txn_id = self.core.txn.into();
        self.dirty.pages.insert(id, page);
        self.core.alloc.free(ptr.page, Freed::Durable)?;
        Ok(PageId(id))
    }

    fn compaction(&self) -> Option<(u64, bool)> {
        let alloc = &self.core.alloc;
        alloc
            .compacting()
            .map(|limit| (limit, alloc.room_below_limit()))
    }

    fn unsealed_page(&self) -> Option<PageId> {
        self.dirty.first_unsealed()
    }
}
