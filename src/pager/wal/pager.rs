//! The page store of one write transaction in write-ahead-log mode: a page is changed in
//! place (same id), its new image kept in memory until commit, when it goes to the log.

use super::WalIndex;
use crate::error::Result;
use crate::format::{HEADER_SIZE, PageHeader, PageKind, overflow};
use crate::ids::{PageId, Ptr};
use crate::ids::{PageMap, PageSet};
use crate::io::Mapping;
use crate::pager::alloc::{Allocator, Stream};
use crate::pager::dirty;
use crate::pager::{FreeList, PageSource, PageStore, ReadPages, VerifiedPages, WalRead};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub(crate) struct WalPager {
    main: Arc<Mapping>,
    log: Arc<Mapping>,
    index: Arc<RwLock<WalIndex>>,
    page_size: usize,
    verify: bool,
    verified: Arc<VerifiedPages>,
    txn: u64,
    alloc: Allocator,
    dirty: PageMap<Box<[u8]>>,
    /// Dirty pages sealed for the commit.
    sealed: PageSet,
    /// Overflow runs written by this transaction, by first page.
    runs: BTreeMap<u64, Box<[u8]>>,
}

/// What a write transaction in log mode starts from.
#[derive(Debug)]
pub(crate) struct WalPagerStart {
    pub main: Arc<Mapping>,
    pub log: Arc<Mapping>,
    pub index: Arc<RwLock<WalIndex>>,
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
            index: start.index,
            page_size: start.page_size,
            verify: start.verify,
            verified: start.verified,
            txn: start.txn,
            dirty: PageMap::default(),
            sealed: PageSet::default(),
            runs: BTreeMap::new(),
        }
    }

    fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.main,
            page_size: self.page_size,
            high_water: self.alloc.high_water(),
            verify: self.verify,
            wal: Some(WalRead {
                map: &self.log,
                index: &self.index,
                upto: u64::MAX,
            }),
            verified: Some(&self.verified),
        }
    }

    pub(crate) fn high_water(&self) -> u64 {
        self.alloc.high_water()
    }

    /// Adds this transaction's freelist records to its dirty pages; returns the new head.
    pub(crate) fn save_freelist(&mut self) -> Result<Option<Ptr>> {
        let saved = self.alloc.save_freelist();
        debug_assert!(
            saved.records_in_meta.is_empty(),
            "no records in a log-mode meta"
        );
        self.dirty.extend(saved.pages);
        Ok(saved.head)
    }

    /// Bytes of changed pages and overflow runs held in memory.
    pub(crate) fn dirty_bytes(&self) -> usize {
        self.dirty.len() * self.page_size + self.runs.values().map(|r| r.len()).sum::<usize>()
    }

    /// The images to log, in page order: `(first page, bytes of one page or one run)`.
    pub(crate) fn frames(&self) -> Vec<(u64, &[u8])> {
        let mut frames: Vec<(u64, &[u8])> = self
            .dirty
            .iter()
            .map(|(&id, page)| (id, &page[..]))
            .chain(self.runs.iter().map(|(&id, run)| (id, &run[..])))
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

    fn run_of(&self, ptr: Ptr) -> Option<&[u8]> {
        self.runs.get(&ptr.page.0).map(|run| &run[..])
    }
}

impl PageSource for WalPager {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        if let Some(page) = self.dirty.get(&ptr.page.0) {
            return Ok(page);
        }
        self.pages().checked_page(ptr)
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        match self.run_of(ptr) {
            Some(run) => run
                .get(HEADER_SIZE..HEADER_SIZE.saturating_add(len as usize))
                .ok_or_else(|| {
                    crate::error::Error::corruption(ptr.page, "value longer than its overflow run")
                }),
            None => self.pages().checked_overflow(ptr, len),
        }
    }
}

impl PageStore for WalPager {
    fn is_dirty(&self, id: PageId) -> bool {
        self.dirty.contains_key(&id.0)
    }

    fn page_mut(&mut self, id: PageId) -> &mut [u8] {
        self.dirty
            .get_mut(&id.0)
            .expect("page_mut is only called on dirty pages")
    }

    fn make_dirty(&mut self, ptr: Ptr) -> Result<PageId> {
        if self.dirty.contains_key(&ptr.page.0) {
            return Ok(ptr.page);
        }
        // In place: the page keeps its id; readers of older snapshots keep reading the
        // version the log or the main file held for them.
        let mut page: Box<[u8]> = self.pages().checked_page(ptr)?.into();
        PageHeader::of_mut(&mut page).txn_id = self.txn.into();
        self.dirty.insert(ptr.page.0, page);
        self.alloc.adopt(ptr.page);
        Ok(ptr.page)
    }

    fn allocate(&mut self, kind: PageKind) -> Result<PageId> {
        let id = self.alloc.alloc_page(Stream::Cold);
        let page = dirty::empty_node(id, kind, self.txn, self.page_size);
        self.dirty.insert(id, page);
        Ok(PageId(id))
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        // Reuse is immediate in this mode whatever the page's age (see `reuse_thresholds`).
        self.alloc.free(id, false)?;
        self.dirty.remove(&id.0);
        self.runs.remove(&id.0);
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr> {
        let len = value.len() as u64;
        let pages = overflow::run_pages(self.page_size, len);
        let start = self.alloc.alloc_run(pages);
        let mut run = vec![0u8; pages as usize * self.page_size].into_boxed_slice();
        overflow::write_header(&mut run, PageId(start), self.txn, pages, len);
        run[HEADER_SIZE..HEADER_SIZE + value.len()].copy_from_slice(value);
        let crc = crc32c::crc32c(&run[4..HEADER_SIZE + value.len()]);
        PageHeader::of_mut(&mut run).checksum = crc.into();
        self.runs.insert(start, run);
        Ok(Ptr {
            page: PageId(start),
            crc,
        })
    }

    fn free_overflow(&mut self, ptr: Ptr, len: u64) -> Result<()> {
        let pages = overflow::run_pages(self.page_size, len);
        for id in ptr.page.0..ptr.page.0 + pages {
            self.free(PageId(id))?;
        }
        Ok(())
    }

    fn seal(&mut self, id: PageId) -> Result<u32> {
        self.sealed.insert(id.0);
        Ok(dirty::seal(self.page_mut(id)))
    }

    fn unsealed_page(&self) -> Option<PageId> {
        dirty::first_unsealed(&self.dirty, &self.sealed)
    }
}
