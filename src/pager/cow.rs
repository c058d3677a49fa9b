//! The copy-on-write page store of one write transaction (DESIGN.md, "Commit protocol").
//! A page reachable from a committed meta is never written: the first change copies it to a
//! page that no snapshot can see, and the original goes to the freelist under this
//! transaction's id.

use super::freelist::{FreeList, pages_needed};
use super::{PageSource, PageStore, ReadPages};
use crate::error::{Error, Result};
use crate::format::freelist_page::{self, RecordKind};
use crate::format::{HEADER_SIZE, PageHeader, PageKind, node, overflow, page_checksum};
use crate::ids::{PageId, Ptr};
use crate::io::{Mapping, Storage};
use crate::plant::{Bug, planted};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Writes of dirty pages are coalesced into runs of at most this many bytes.
const MAX_WRITE: usize = 1 << 20;

#[derive(Debug)]
pub(crate) struct CowPager<'a> {
    storage: &'a dyn Storage,
    map: Arc<Mapping>,
    page_size: usize,
    verify: bool,
    txn: u64,
    high_water: u64,
    file_len: u64,
    freelist: FreeList,
    dirty: HashMap<u64, Box<[u8]>>,
    /// Pages allocated by this transaction (dirty tree pages and written overflow runs).
    fresh: HashSet<u64>,
    /// Ids taken from `freelist.ready`, given back if the transaction aborts.
    taken: Vec<u64>,
    /// Fresh pages freed again: reusable at once.
    loose: Vec<u64>,
    /// Pages of earlier transactions freed by this one.
    freed: Vec<u64>,
    grew: bool,
    saved: bool,
}

/// What a write transaction starts from.
#[derive(Debug)]
pub(crate) struct PagerStart<'a> {
    pub storage: &'a dyn Storage,
    pub map: Arc<Mapping>,
    pub page_size: usize,
    pub verify: bool,
    pub txn: u64,
    pub high_water: u64,
    pub file_len: u64,
    pub freelist: FreeList,
    /// An earlier commit grew the file and its new length is not durable yet.
    pub length_unsynced: bool,
}

impl<'a> CowPager<'a> {
    pub(crate) fn new(start: PagerStart<'a>) -> Self {
        CowPager {
            storage: start.storage,
            map: start.map,
            page_size: start.page_size,
            verify: start.verify,
            txn: start.txn,
            high_water: start.high_water,
            file_len: start.file_len,
            freelist: start.freelist,
            dirty: HashMap::new(),
            fresh: HashSet::new(),
            taken: Vec::new(),
            loose: Vec::new(),
            freed: Vec::new(),
            grew: start.length_unsynced,
            saved: false,
        }
    }

    fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.map,
            page_size: self.page_size,
            high_water: self.high_water,
            verify: self.verify,
        }
    }

    pub(crate) fn high_water(&self) -> u64 {
        self.high_water
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    pub(crate) fn map(&self) -> &Arc<Mapping> {
        &self.map
    }

    /// Whether the file grew since its length was last synced (the commit must sync it).
    pub(crate) fn grew(&self) -> bool {
        self.grew
    }

    /// Maps the file again, for storage whose maps do not show later writes.
    pub(crate) fn remap(&mut self) -> Result<()> {
        self.map = Arc::new(self.storage.map(self.file_len)?);
        Ok(())
    }

    /// Makes sure pages below `high_water` exist in the file and the map.
    fn ensure_file(&mut self) -> Result<()> {
        let need = self.high_water * self.page_size as u64;
        if need <= self.file_len {
            return Ok(());
        }
        let step = (self.file_len / 2).clamp(16 * self.page_size as u64, 1 << 30);
        let target = need
            .max(self.file_len + step)
            .next_multiple_of(self.page_size as u64);
        self.storage.set_len(target)?;
        self.file_len = target;
        self.map = Arc::new(self.storage.map(target)?);
        self.grew = true;
        Ok(())
    }

    /// Allocates `count` consecutive pages: a loose page, then the freelist, then the end
    /// of the file.
    fn alloc_run(&mut self, count: u64) -> Result<u64> {
        let start = if count == 1
            && let Some(id) = self.loose.pop()
        {
            id
        } else if let Some(start) = self.freelist.take_run(count) {
            self.taken.extend(start..start + count);
            start
        } else {
            let start = self.high_water;
            self.high_water += count;
            self.ensure_file()?;
            start
        };
        self.fresh.extend(start..start + count);
        Ok(start)
    }

    /// Moves every fresh page freed again back to where it came from and returns the
    /// records this commit appends to the freelist log.
    fn settle_frees(&mut self) -> Vec<(RecordKind, u64, Vec<u64>)> {
        let taken: HashSet<u64> = self.taken.iter().copied().collect();
        let mut new_free = Vec::new();
        for id in self.loose.drain(..) {
            if taken.contains(&id) {
                self.taken.retain(|&t| t != id);
            } else {
                new_free.push(id);
            }
            self.freelist.ready.insert(id);
        }
        let freed = std::mem::take(&mut self.freed);
        if !freed.is_empty() {
            self.freelist
                .pending
                .entry(self.txn)
                .or_default()
                .extend(&freed);
        }
        vec![
            (RecordKind::Consumed, 0, self.taken.clone()),
            (RecordKind::Freed, 0, new_free),
            (RecordKind::Freed, self.txn, freed),
        ]
    }

    /// Appends this transaction's freelist records (or a snapshot of the whole freelist) as
    /// dirty pages and returns the new head. Call once, after every tree change.
    pub(crate) fn save_freelist(&mut self) -> Result<Option<Ptr>> {
        self.saved = true;
        let capacity = freelist_page::capacity(self.page_size);
        let mut records = self.settle_frees();
        let new_ids: usize = records.iter().map(|r| r.2.len()).sum();
        if new_ids == 0 {
            return Ok(self.freelist.head);
        }
        let live = (self.freelist.ready.len() as u64 + self.freelist.pending_count()) as usize;
        let snapshot = self.freelist.chain_ids + new_ids > 2 * live + 4 * capacity;
        let mut pages: Vec<u64> = Vec::new();
        if snapshot {
            let old_chain = std::mem::take(&mut self.freelist.chain);
            self.freelist
                .pending
                .entry(self.txn)
                .or_default()
                .extend(old_chain);
            loop {
                records = self.freelist.snapshot_records();
                if pages.len() >= pages_needed(&records, capacity) {
                    break;
                }
                // Taken straight from the state being written: no consumed record needed.
                let id = match self.freelist.ready.pop_first() {
                    Some(id) => id,
                    None => self.alloc_run(1)?,
                };
                pages.push(id);
            }
        } else {
            while pages.len() < pages_needed(&records, capacity) {
                let taken_before = self.taken.len();
                let id = self.alloc_run(1)?;
                if self.taken.len() > taken_before {
                    records[0].2.push(id);
                }
                pages.push(id);
            }
        }
        let pieces: Vec<(RecordKind, u64, &[u64])> = records
            .iter()
            .flat_map(|(kind, tag, ids)| ids.chunks(capacity).map(move |c| (*kind, *tag, c)))
            .collect();
        let mut next = if snapshot { None } else { self.freelist.head };
        let empty: (RecordKind, u64, &[u64]) = (RecordKind::Freed, 0, &[]);
        for (i, &id) in pages.iter().enumerate().rev() {
            let (kind, tag, ids) = pieces.get(i).copied().unwrap_or(empty);
            let mut page = vec![0u8; self.page_size].into_boxed_slice();
            let header = PageHeader::of_mut(&mut page);
            header.page_id = id.into();
            header.txn_id = self.txn.into();
            freelist_page::encode(&mut page, next, kind, tag, ids);
            let crc = page_checksum(&page);
            PageHeader::of_mut(&mut page).checksum = crc.into();
            self.dirty.insert(id, page);
            next = Some(Ptr {
                page: PageId(id),
                crc,
            });
        }
        let written: usize = records.iter().map(|r| r.2.len()).sum();
        if snapshot {
            self.freelist.chain = pages;
            self.freelist.chain_ids = written;
        } else {
            pages.extend_from_slice(&self.freelist.chain);
            self.freelist.chain = pages;
            self.freelist.chain_ids += written;
        }
        self.freelist.head = next;
        self.taken.clear();
        Ok(next)
    }

    /// Ends an aborted transaction: every page it took from the freelist goes back.
    pub(crate) fn rollback(mut self) -> FreeList {
        debug_assert!(!self.saved, "a saved freelist cannot be rolled back");
        self.freelist.ready.extend(self.taken.drain(..));
        self.freelist
    }

    /// Ends a committed transaction, handing back the freelist it saved.
    pub(crate) fn into_freelist(self) -> FreeList {
        self.freelist
    }

    /// Writes every dirty page to its place in the file, in page order, coalescing
    /// neighbours. Pages must be sealed.
    pub(crate) fn write_dirty(&self) -> Result<()> {
        let mut ids: Vec<u64> = self.dirty.keys().copied().collect();
        ids.sort_unstable();
        let mut buffer: Vec<u8> = Vec::with_capacity(MAX_WRITE.min(ids.len() * self.page_size));
        let mut run_start = 0;
        for (i, &id) in ids.iter().enumerate() {
            let contiguous = i > 0 && id == ids[i - 1] + 1 && buffer.len() < MAX_WRITE;
            if !contiguous && !buffer.is_empty() {
                self.storage
                    .write_at(&buffer, run_start * self.page_size as u64)?;
                buffer.clear();
            }
            if buffer.is_empty() {
                run_start = id;
            }
            buffer.extend_from_slice(&self.dirty[&id]);
        }
        if !buffer.is_empty() {
            self.storage
                .write_at(&buffer, run_start * self.page_size as u64)?;
        }
        Ok(())
    }
}

impl PageSource for CowPager<'_> {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        match self.dirty.get(&ptr.page.0) {
            Some(page) => Ok(page),
            None => self.pages().checked_page(ptr),
        }
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        self.pages().checked_overflow(ptr, len)
    }
}

impl PageStore for CowPager<'_> {
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
        let mut page: Box<[u8]> = self.pages().checked_page(ptr)?.into();
        if planted(Bug::UpdateInPlace) {
            PageHeader::of_mut(&mut page).txn_id = self.txn.into();
            self.dirty.insert(ptr.page.0, page);
            self.fresh.insert(ptr.page.0);
            return Ok(ptr.page);
        }
        let id = self.alloc_run(1)?;
        let header = PageHeader::of_mut(&mut page);
        header.page_id = id.into();
        header.txn_id = self.txn.into();
        self.dirty.insert(id, page);
        self.free(ptr.page)?;
        Ok(PageId(id))
    }

    fn allocate(&mut self, kind: PageKind) -> Result<PageId> {
        let id = self.alloc_run(1)?;
        let mut page = vec![0u8; self.page_size].into_boxed_slice();
        node::init(&mut page, kind);
        let header = PageHeader::of_mut(&mut page);
        header.page_id = id.into();
        header.txn_id = self.txn.into();
        self.dirty.insert(id, page);
        Ok(PageId(id))
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        if id.0 < 2 || id.0 >= self.high_water {
            return Err(Error::corruption(
                id,
                "freeing a page outside the data pages",
            ));
        }
        if self.fresh.remove(&id.0) || planted(Bug::ReuseBeforeDurable) {
            self.dirty.remove(&id.0);
            self.loose.push(id.0);
        } else {
            self.freed.push(id.0);
        }
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr> {
        let len = value.len() as u64;
        let pages = overflow::run_pages(self.page_size, len);
        let start = self.alloc_run(pages)?;
        let mut first = vec![0u8; self.page_size];
        overflow::write_header(&mut first, PageId(start), self.txn, pages, len);
        let in_first = value.len().min(self.page_size - HEADER_SIZE);
        first[HEADER_SIZE..HEADER_SIZE + in_first].copy_from_slice(&value[..in_first]);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&first[4..HEADER_SIZE]), value);
        PageHeader::of_mut(&mut first).checksum = crc.into();
        let offset = start * self.page_size as u64;
        self.storage.write_at(&first, offset)?;
        if in_first < value.len() {
            self.storage
                .write_at(&value[in_first..], offset + self.page_size as u64)?;
        }
        if !self.storage.map_follows_writes() {
            self.remap()?;
        }
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
        let page = self.page_mut(id);
        let crc = page_checksum(page);
        PageHeader::of_mut(page).checksum = crc.into();
        Ok(crc)
    }
}
