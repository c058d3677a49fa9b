//! The copy-on-write page store of one write transaction (DESIGN.md, "Commit protocol").
//! A page reachable from a committed meta is never written: the first change copies it to a
//! page that no snapshot can see, and the original goes to the freelist under this
//! transaction's id. [`CowPager`] holds what the whole transaction shares (the file, the map,
//! the allocator); [`CowStore`] is the page store of one tree, over its own [`DirtyPages`].

use super::alloc::{Allocator, Freed};
use super::dirty::{self, DirtyPages};
use super::freelist::FreeList;
use super::page_runs::write_page_runs;
use super::stream::Stream;
use super::view::{PageView, read_overflow, read_page};
use super::{PageSource, PageStore, ReadPages, VerifiedPages};
use crate::error::{Error, Result};
use crate::format::freelist_page::Record;
use crate::format::{HEADER_SIZE, Meta, PageHeader, PageKind, node, overflow};
use crate::ids::{PageId, Ptr};
use crate::io::{Mapping, Storage};
use crate::plant::{Bug, planted};
use std::sync::Arc;

/// A copy of a page written by one of the last this many transaction ids is `Stream::Hot`
/// (ids skip one after a non-durable commit, so this covers at least the last eight
/// commits: enough for the branches just below the root of a four-level tree, which a
/// commit of random single inserts copies every few commits).
const RECENT_TXNS: u64 = 16;

#[derive(Debug)]
pub(crate) struct CowPager {
    storage: Arc<dyn Storage>,
    map: Arc<Mapping>,
    page_size: usize,
    verify: bool,
    verified: Arc<VerifiedPages>,
    txn: u64,
    /// The newest transaction known to be on disk whole.
    durable_txn: u64,
    /// Pages written by a later transaction belong to commits whose metas wait in a group
    /// and are never written once this one replaces them (u64::MAX: none do).
    unwritten_after: u64,
    file_len: u64,
    alloc: Allocator,
    /// The memory budget for the dirty pages of one tree, in bytes.
    budget: usize,
    /// A savepoint was taken: pages stay in memory until the commit (a savepoint's copy of a
    /// spilled page refers to the bytes in the file, which a second spill would overwrite).
    no_spills: bool,
    /// The file's length changed since it was last synced (the commit must sync it).
    length_unsynced: bool,
}

/// What a write transaction starts from.
#[derive(Debug)]
pub(crate) struct PagerStart {
    pub storage: Arc<dyn Storage>,
    pub map: Arc<Mapping>,
    pub page_size: usize,
    pub verify: bool,
    pub txn: u64,
    pub durable_txn: u64,
    /// See `CowPager::unwritten_after`.
    pub unwritten_after: u64,
    pub high_water: u64,
    pub file_len: u64,
    pub freelist: FreeList,
    pub verified: Arc<VerifiedPages>,
    /// An earlier commit grew the file and its new length is not durable yet.
    pub length_unsynced: bool,
    /// Bytes of dirty pages kept in memory before some are written early.
    pub dirty_budget: usize,
    /// Pages free in the log that no allocation may take (DESIGN.md, "Chained commits").
    pub withheld: std::collections::BTreeSet<u64>,
    /// A chain is live: the commit may be chained.
    pub chain_live: bool,
}

impl CowPager {
    pub(crate) fn new(start: PagerStart) -> Self {
        let mut alloc = Allocator::new(
            start.page_size,
            start.txn,
            start.durable_txn,
            start.high_water,
            start.freelist,
            Meta::records_capacity(start.page_size),
        );
        alloc.set_chain(start.withheld, start.chain_live);
        CowPager {
            storage: start.storage,
            map: start.map,
            page_size: start.page_size,
            verify: start.verify,
            verified: start.verified,
            txn: start.txn,
            durable_txn: start.durable_txn,
            unwritten_after: start.unwritten_after,
            file_len: start.file_len,
            alloc,
            budget: start.dirty_budget,
            no_spills: false,
            length_unsynced: start.length_unsynced,
        }
    }

    fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.map,
            page_size: self.page_size,
            high_water: self.alloc.high_water(),
            verify: self.verify,
            wal: None,
            verified: Some(&self.verified),
        }
    }

    /// The committed pages as of now, for a table's reads.
    pub(crate) fn view(&self) -> PageView {
        PageView {
            map: self.map.clone(),
            log: None,
            page_size: self.page_size,
            high_water: self.alloc.high_water(),
            verify: self.verify,
            verified: self.verified.clone(),
        }
    }

    /// The allocator's state for a savepoint; from now on freed pages of this transaction
    /// wait for the commit and nothing is spilled (DESIGN.md, "Savepoints").
    pub(crate) fn savepoint(&mut self) -> Allocator {
        self.no_spills = true;
        self.alloc.hold_fresh_frees();
        self.alloc.clone()
    }

    /// Goes back to the allocator's state at a savepoint: what was allocated since is free
    /// again, what was freed since is in use again.
    pub(crate) fn restore(&mut self, alloc: Allocator) {
        self.alloc = alloc;
    }

    /// Bytes of dirty pages the transaction's trees may keep in memory together.
    pub(crate) fn budget_bytes(&self) -> usize {
        self.budget
    }

    /// The page store of the tree whose changed pages are `dirty`.
    pub(crate) fn store<'a>(&'a mut self, dirty: &'a mut DirtyPages) -> CowStore<'a> {
        CowStore { core: self, dirty }
    }

    pub(crate) fn high_water(&self) -> u64 {
        self.alloc.high_water()
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    pub(crate) fn alloc(&self) -> &Allocator {
        &self.alloc
    }

    pub(crate) fn alloc_mut(&mut self) -> &mut Allocator {
        &mut self.alloc
    }

    pub(crate) fn map(&self) -> &Arc<Mapping> {
        &self.map
    }

    /// Whether the file's length changed since it was last synced (the commit must sync it).
    pub(crate) fn length_unsynced(&self) -> bool {
        self.length_unsynced
    }

    /// Maps the file again, for storage whose maps do not show later writes.
    pub(crate) fn remap(&mut self) -> Result<()> {
        self.map = Arc::new(self.storage.map(self.file_len)?);
        Ok(())
    }

    /// Makes sure pages below `high_water` exist in the file and the map.
    fn ensure_file(&mut self) -> Result<()> {
        let need = self.alloc.high_water() * self.page_size as u64;
        if need <= self.file_len {
            return Ok(());
        }
        // A sixteenth keeps the unused tail small; growth stays geometric, so a load of n
        // pages grows the file O(log n) times.
        let step = (self.file_len / 16).clamp(64 * self.page_size as u64, 256 << 20);
        let target = need
            .max(self.file_len + step)
            .next_multiple_of(self.page_size as u64);
        self.storage.set_len(target)?;
        self.file_len = target;
        self.length_unsynced = true;
        self.map = Arc::new(crate::io::map_resized(&*self.storage, &self.map, target)?);
        Ok(())
    }

    /// How a page (or run) of an earlier transaction that this one frees may be reused, by
    /// the transaction that wrote it, read from its header (a page is written once, by the
    /// transaction that allocated it).
    fn freed_class(&self, id: PageId) -> Freed {
        let written = self
            .pages()
            .raw(id, 1)
            .map_or(0, |page| PageHeader::of(page).txn_id.get());
        if written > self.unwritten_after {
            Freed::Superseded
        } else if written > self.durable_txn {
            Freed::Volatile
        } else {
            Freed::Durable
        }
    }

    /// Allocates `count` consecutive pages, growing the file if they lie past its end.
    fn alloc_run(&mut self, count: u64) -> Result<u64> {
        let start = self.alloc.alloc_run(count);
        self.ensure_file()?;
        Ok(start)
    }

    /// Allocates one page of `stream`, growing the file if it lies past its end.
    fn alloc_page(&mut self, stream: Stream) -> Result<u64> {
        let id = self.alloc.alloc_page(stream);
        self.ensure_file()?;
        Ok(id)
    }

    /// Saves this transaction's freelist records (pages added to `dirty`) and returns where
    /// the log now ends. Call once, after every tree change.
    pub(crate) fn save_freelist(
        &mut self,
        dirty: &mut DirtyPages,
    ) -> Result<(Option<Ptr>, Vec<Record>)> {
        let saved = self.alloc.save_freelist();
        self.ensure_file()?;
        dirty.pages.extend(saved.pages);
        Ok((saved.head, saved.records_in_meta))
    }

    /// Ends an aborted transaction: every page it took from the freelist goes back.
    pub(crate) fn rollback(self) -> FreeList {
        self.alloc.rollback()
    }

    /// Ends a committed transaction, handing back the freelist it saved.
    pub(crate) fn into_freelist(self) -> FreeList {
        self.alloc.into_freelist()
    }

    /// Writes a chained commit: its record at `record_at` and every page of `dirty` still in
    /// memory, neighbours coalesced, so that the record and the pages placed after it are
    /// one write (DESIGN.md, "Chained commits"). Pages must be sealed.
    pub(crate) fn write_chained(
        &self,
        record_at: u64,
        record: &[u8],
        dirty: &DirtyPages,
    ) -> Result<()> {
        let mut ids: Vec<u64> = dirty.pages.keys().copied().collect();
        ids.sort_unstable();
        self.write_pages_with(dirty, &ids, Some((record_at, record)))
    }

    /// Writes every page of `dirty` still in memory to its place in the file. Pages must be
    /// sealed.
    pub(crate) fn write_dirty(&self, dirty: &DirtyPages) -> Result<()> {
        let mut ids: Vec<u64> = dirty.pages.keys().copied().collect();
        ids.sort_unstable();
        self.write_pages(dirty, &ids)
    }

    /// Writes pages `ids` (sorted) of `dirty` to their places in the file, coalescing
    /// neighbours.
    fn write_pages(&self, dirty: &DirtyPages, ids: &[u64]) -> Result<()> {
        self.write_pages_with(dirty, ids, None)
    }

    /// `write_pages`, with one more page (a commit record, withheld and not in `dirty`)
    /// written in its place among them.
    fn write_pages_with(
        &self,
        dirty: &DirtyPages,
        ids: &[u64],
        extra: Option<(u64, &[u8])>,
    ) -> Result<()> {
        // I2 (DESIGN.md, "Invariants"): only pages this transaction allocated are written, so
        // no page a committed meta or a live snapshot reaches is ever overwritten.
        debug_assert!(
            ids.iter().all(|&id| self.alloc.is_fresh(PageId(id))),
            "writing a page this transaction did not allocate"
        );
        let at = extra.map_or(ids.len(), |(id, _)| ids.partition_point(|&p| p < id));
        let page = |id: &u64| Ok((*id, &dirty.pages[id][..]));
        let pages = ids[..at]
            .iter()
            .map(page)
            .chain(extra.map(Ok))
            .chain(ids[at..].iter().map(page));
        write_page_runs(&*self.storage, self.page_size, pages)?;
        // This process hashed these versions when it sealed them: readers need not again
        // (DESIGN.md, "Checksums").
        for id in ids {
            self.verified
                .insert(*id, PageHeader::of(&dirty.pages[id]).checksum.get());
        }
        Ok(())
    }
}

/// The copy-on-write page store of one tree: the transaction's shared state and the tree's
/// own changed pages.
#[derive(Debug)]
pub(crate) struct CowStore<'a> {
    core: &'a mut CowPager,
    dirty: &'a mut DirtyPages,
}

impl CowStore<'_> {
    /// How many dirty pages may stay in memory between operations.
    fn budget_pages(&self) -> usize {
        (self.core.budget.saturating_sub(self.dirty.reserved) / self.core.page_size).max(1)
    }

    /// Whether dirty page `id` can be written now: no child of it is in memory, so its
    /// content, checksums of children included, is final unless it is changed again.
    fn spillable(&self, id: u64) -> Result<bool> {
        let page = &self.dirty.pages[&id];
        if PageHeader::of(page).kind() != Some(PageKind::Branch) {
            return Ok(true);
        }
        let node = node::Node::parse(page, PageId(id))?;
        for i in 0..node.len() {
            if self.dirty.pages.contains_key(&node.child(i)?.page.0) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Writes dirty pages early, leaves first, until at most `keep` stay in memory
    /// (DESIGN.md, "Spilling dirty pages"). Call only between tree operations, when no page
    /// is half-changed.
    pub(crate) fn spill(&mut self, keep: usize) -> Result<()> {
        if self.core.no_spills {
            return Ok(());
        }
        while self.dirty.pages.len() > keep {
            let mut ids = Vec::new();
            let mut candidates: Vec<u64> = self.dirty.pages.keys().copied().collect();
            // In id order: fresh pages from the end of the file go in allocation order, and
            // neighbouring ids coalesce into fewer writes.
            candidates.sort_unstable();
            for id in candidates {
                if self.dirty.pages.len() - ids.len() <= keep {
                    break;
                }
                if self.spillable(id)? {
                    ids.push(id);
                }
            }
            if ids.is_empty() {
                return Ok(());
            }
            let crcs = ids
                .iter()
                .map(|&id| self.seal_for_spill(id))
                .collect::<Result<Vec<u32>>>()?;
            self.core.write_pages(self.dirty, &ids)?;
            // Only once written: a failed write leaves every page in memory.
            for (id, crc) in ids.into_iter().zip(crcs) {
                self.dirty.pages.remove(&id);
                self.dirty.spilled.insert(id, crc);
            }
            if !self.core.storage.map_follows_writes() {
                self.core.remap()?;
            }
        }
        Ok(())
    }

    /// Seals dirty page `id` after pointing its branch cells at the checksums of spilled
    /// children.
    fn seal_for_spill(&mut self, id: u64) -> Result<u32> {
        let page = self
            .dirty
            .pages
            .get_mut(&id)
            .expect("spill candidates are dirty");
        if PageHeader::of(page).kind() == Some(PageKind::Branch) {
            let children: Vec<Ptr> = {
                let node = node::Node::parse(page, PageId(id))?;
                (0..node.len())
                    .map(|i| node.child(i))
                    .collect::<Result<_>>()?
            };
            for (i, child) in children.into_iter().enumerate() {
                if let Some(&crc) = self.dirty.spilled.get(&child.page.0) {
                    node::set_child(
                        page,
                        PageId(id),
                        i,
                        Ptr {
                            page: child.page,
                            crc,
                        },
                    )?;
                }
            }
        }
        Ok(dirty::seal(page))
    }
}

impl PageSource for CowStore<'_> {
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

impl PageStore for CowStore<'_> {
    fn is_dirty(&self, id: PageId) -> bool {
        self.dirty.pages.contains_key(&id.0) || self.dirty.spilled.contains_key(&id.0)
    }

    fn sealed_crc(&self, id: PageId) -> Option<u32> {
        self.dirty.spilled.get(&id.0).copied()
    }

    fn worth_lowering(&self) -> bool {
        self.core.alloc.worth_lowering()
    }

    fn lower_page(&mut self, id: PageId) -> Result<Option<PageId>> {
        if !self.dirty.pages.contains_key(&id.0) {
            return Ok(None);
        }
        let Some(to) = self.core.alloc.move_target(id.0) else {
            return Ok(None);
        };
        let mut page = self
            .dirty
            .pages
            .remove(&id.0)
            .expect("in memory, checked above");
        PageHeader::of_mut(&mut page).page_id = to.into();
        self.dirty.pages.insert(to, page);
        // In memory, so allocated by this transaction: reusable at once.
        self.core.alloc.free(id, Freed::Durable)?;
        Ok(Some(PageId(to)))
    }

    fn over_budget(&self) -> bool {
        // After a savepoint nothing is spilled: packing then would only cost time.
        !self.core.no_spills && self.dirty.pages.len() > self.budget_pages()
    }

    fn end_operation(&mut self) -> Result<()> {
        if self.over_budget() {
            self.spill(self.budget_pages() / 2)?;
        }
        Ok(())
    }

    fn thrashing(&self) -> bool {
        // An eighth of the budget read back: random changes over a tree several times the
        // budget get there within a few thousand operations; ordered ones never do.
        let read_back = self.dirty.read_back;
        read_back > 0 && read_back >= (self.core.budget / self.core.page_size / 8) as u64
    }

    fn reserve_memory(&mut self, bytes: usize) -> usize {
        let budget = self.core.budget;
        let page_size = self.core.page_size;
        let pages = (budget.saturating_sub(bytes) / page_size).max(1);
        let reserved = budget.saturating_sub(pages * page_size).min(bytes);
        self.dirty.reserved = reserved;
        reserved
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
        if self.dirty.spilled.remove(&ptr.page.0).is_some() {
            // Written early by this transaction and unreachable from any snapshot: it is
            // changed in place again, in memory.
            let page: Box<[u8]> = self.core.pages().raw(ptr.page, 1)?.into();
            self.dirty.pages.insert(ptr.page.0, page);
            self.dirty.read_back += 1;
            return Ok(ptr.page);
        }
        let mut page: Box<[u8]> = self.core.pages().checked_page(ptr)?.into();
        if planted(Bug::UpdateInPlace) {
            PageHeader::of_mut(&mut page).txn_id = self.core.txn.into();
            self.dirty.pages.insert(ptr.page.0, page);
            self.core.alloc.adopt(ptr.page);
            return Ok(ptr.page);
        }
        let written_by = PageHeader::of(&page).txn_id.get();
        let stream = match written_by.saturating_add(RECENT_TXNS) >= self.core.txn {
            true => Stream::Hot,
            false => Stream::Cold,
        };
        let id = self.core.alloc_page(stream)?;
        let header = PageHeader::of_mut(&mut page);
        header.page_id = id.into();
        header.txn_id = self.core.txn.into();
        self.dirty.pages.insert(id, page);
        self.free(ptr.page)?;
        Ok(PageId(id))
    }

    fn allocate(&mut self, kind: PageKind) -> Result<PageId> {
        let id = self.core.alloc_page(Stream::Cold)?;
        let page = dirty::empty_node(id, kind, self.core.txn, self.core.page_size);
        self.dirty.pages.insert(id, page);
        Ok(PageId(id))
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        // A page this transaction allocated is reusable at once, whoever wrote the file's
        // bytes there before; reading its header would only fault in a page not read before.
        let class = match self.core.alloc.is_fresh(id) {
            true => Freed::Durable,
            false => self.core.freed_class(id),
        };
        self.core.alloc.free(id, class)?;
        self.dirty.pages.remove(&id.0);
        self.dirty.spilled.remove(&id.0);
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr> {
        let page_size = self.core.page_size;
        let len = value.len() as u64;
        let pages = overflow::run_pages(page_size, len);
        let start = self.core.alloc_run(pages)?;
        let mut first = vec![0u8; page_size];
        overflow::write_header(&mut first, PageId(start), self.core.txn, pages, len);
        let in_first = value.len().min(page_size - HEADER_SIZE);
        first[HEADER_SIZE..HEADER_SIZE + in_first].copy_from_slice(&value[..in_first]);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&first[4..HEADER_SIZE]), value);
        PageHeader::of_mut(&mut first).checksum = crc.into();
        let offset = start * page_size as u64;
        let storage = &self.core.storage;
        storage.write_at(&first, offset)?;
        if in_first < value.len() {
            storage.write_at(&value[in_first..], offset + page_size as u64)?;
        }
        if !storage.map_follows_writes() {
            self.core.remap()?;
        }
        // Hashed just now from the bytes written: reads in this process need not again.
        self.core.verified.insert(start, crc);
        Ok(Ptr {
            page: PageId(start),
            crc,
        })
    }

    fn free_overflow(&mut self, ptr: Ptr, len: u64) -> Result<()> {
        let pages = overflow::run_pages(self.core.page_size, len);
        // A run this transaction wrote is reusable at once: its header need not be read.
        let class = match self.core.alloc.is_fresh(ptr.page) {
            true => Freed::Durable,
            false => self.core.freed_class(ptr.page),
        };
        let run = ptr.page.0..ptr.page.0.saturating_add(pages);
        // Only a corrupt pointer makes a run overlap a tree page this transaction wrote.
        if let Some(id) = run.clone().find(|&id| self.is_dirty(PageId(id))) {
            return Err(Error::corruption(
                PageId(id),
                "overflow run overlaps a page this transaction wrote",
            ));
        }
        for id in run {
            self.core.alloc.free(PageId(id), class)?;
        }
        Ok(())
    }

    fn seal(&mut self, id: PageId) -> Result<u32> {
        Ok(self.dirty.seal(id))
    }

    fn relocate(&mut self, ptr: Ptr) -> Result<PageId> {
        // Copying is moving here: the copy takes the lowest free page while compacting.
        self.make_dirty(ptr)
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
