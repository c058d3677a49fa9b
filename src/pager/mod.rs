//! The pager: the page store the B+ tree works on. Readers see a snapshot through
//! [`ReadPages`]; a write transaction uses [`CowPager`], which copies a page before its first
//! change, allocates from the freelist and writes its pages at commit; each tree it changes
//! keeps its changed pages in its own [`DirtyPages`]. The tree only sees the
//! [`PageSource`] and [`PageStore`] traits, never which storage mode is behind them.

mod alloc;
mod cow;
mod dirty;
mod free_set;
mod freelist;
mod freelist_log;
mod page_runs;
mod placement;
mod read;
mod stream;
mod verified;
mod view;
pub(crate) mod wal;

pub(crate) use cow::{CowPager, PagerStart};
pub(crate) use dirty::DirtyPages;
#[cfg(test)]
pub(crate) use dirty::{empty_node, seal};
pub(crate) use freelist::FreeList;
pub(crate) use freelist_log::walk_chain;
pub(crate) use read::{LogView, ReadPages};
pub(crate) use verified::VerifiedPages;
pub(crate) use view::{PageView, TablePages};

use crate::error::Result;
use crate::format::PageKind;
use crate::format::freelist_page::Record;
use crate::ids::{PageId, Ptr};

/// Read access to tree pages and overflow values.
pub(crate) trait PageSource {
    fn page_size(&self) -> usize;
    /// The page `ptr` points to, checked against `ptr.crc` (unless the page was written by
    /// the current transaction and is not sealed yet).
    fn page(&self, ptr: Ptr) -> Result<&[u8]>;
    /// The `len` bytes of the value stored in the overflow run at `ptr`.
    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]>;
}

/// Write access for one transaction.
pub(crate) trait PageStore: PageSource {
    /// Whether `id` was written by this transaction (and may be changed in place).
    fn is_dirty(&self, id: PageId) -> bool;
    /// A dirty page's bytes; `id` must be dirty.
    fn page_mut(&mut self, id: PageId) -> &mut [u8];
    /// Makes the page at `ptr` changeable and returns its id: a copy on a fresh page in
    /// copy-on-write mode (the original is freed), the page itself if already dirty.
    fn make_dirty(&mut self, ptr: Ptr) -> Result<PageId>;
    /// A fresh, empty node of `kind`.
    fn allocate(&mut self, kind: PageKind) -> Result<PageId>;
    /// Releases a tree page no longer reachable from this transaction's trees.
    fn free(&mut self, id: PageId) -> Result<()>;
    /// Stores `value` in a new overflow run and returns the pointer to it.
    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr>;
    /// Releases the overflow run at `ptr` holding `len` bytes.
    fn free_overflow(&mut self, ptr: Ptr, len: u64) -> Result<()>;
    /// Computes and stores the checksum of dirty page `id` (its content is final).
    fn seal(&mut self, id: PageId) -> Result<u32>;
    /// The checksum of dirty page `id` if it is sealed already (written early, and not
    /// changed since): it and every page below it need no sealing.
    fn sealed_crc(&self, _id: PageId) -> Option<u32> {
        None
    }
    /// Compaction (DESIGN.md, "Giving space back"): moves the page at `ptr` onto the lowest
    /// free page and returns its new id; the original is freed. A page this transaction
    /// copied already may stay where it is (its copy was placed lowest-first).
    fn relocate(&mut self, ptr: Ptr) -> Result<PageId>;
    /// Compaction: the id below which every page should lie, and whether a free page below
    /// it is left; `None` when the transaction is not compacting.
    fn compaction(&self) -> Option<(u64, bool)>;
    /// A page of this transaction still in memory that no `seal` reached, if any: sealing
    /// walks the trees, so such a page is one no tree reaches (checked before commit).
    fn unsealed_page(&self) -> Option<PageId>;
    /// Called between tree operations, when no page is half-changed: the store may write
    /// dirty pages early to keep its memory within budget.
    fn end_operation(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether this transaction freed enough of the pages it allocated that moving its pages
    /// in memory down into them (`lower_page`) may let the commit lower the file's
    /// high-water mark (DESIGN.md, "Packing changed leaves").
    fn worth_lowering(&self) -> bool {
        false
    }
    /// Moves page `id`, this transaction's and in memory, onto the lowest page this
    /// transaction allocated and freed again, if that lies below it, and returns its new id;
    /// its parent must be pointed there.
    fn lower_page(&mut self, _id: PageId) -> Result<Option<PageId>> {
        Ok(None)
    }
    /// Whether the next `end_operation` writes pages early: the pages in memory exceed the
    /// budget.
    fn over_budget(&self) -> bool {
        false
    }
    /// Whether this transaction keeps changing pages it wrote early to stay within its
    /// memory budget: its changes reach more pages than the budget holds, in no useful
    /// order, so changes applied in key order would serve it better (DESIGN.md, "Held
    /// writes").
    fn thrashing(&self) -> bool {
        false
    }
    /// Sets aside up to `bytes` of the memory budget for the transaction's other uses and
    /// returns how much it did: dirty pages keep within the rest from the next
    /// `end_operation` on.
    fn reserve_memory(&mut self, _bytes: usize) -> usize {
        0
    }
}

/// The allocator's state at a savepoint.
#[derive(Debug, Clone)]
pub(crate) struct Allocation(alloc::Allocator);

/// What one write transaction shares among its trees, in either storage mode.
#[derive(Debug)]
pub(crate) enum TxnPager {
    Cow(CowPager),
    Wal(wal::WalPager),
}

/// The page store of one tree of a write transaction, in either storage mode.
#[derive(Debug)]
pub(crate) enum TxnStore<'a> {
    Cow(cow::CowStore<'a>),
    Wal(wal::WalStore<'a>),
}

impl TxnStore<'_> {
    /// Writes every page of this tree early that can be (copy-on-write mode; log mode keeps
    /// its pages in memory). Only between tree operations.
    pub(crate) fn spill_all(&mut self) -> Result<()> {
        match self {
            TxnStore::Cow(s) => s.spill(0),
            TxnStore::Wal(_) => Ok(()),
        }
    }

    pub(crate) fn store(&mut self) -> &mut dyn PageStore {
        match self {
            TxnStore::Cow(s) => s,
            TxnStore::Wal(s) => s,
        }
    }

    pub(crate) fn source(&self) -> &dyn PageSource {
        match self {
            TxnStore::Cow(s) => s,
            TxnStore::Wal(s) => s,
        }
    }
}

impl TxnPager {
    /// The page store of the tree whose changed pages are `dirty`.
    pub(crate) fn with<'a>(&'a mut self, dirty: &'a mut DirtyPages) -> TxnStore<'a> {
        match self {
            TxnPager::Cow(p) => TxnStore::Cow(p.store(dirty)),
            TxnPager::Wal(p) => TxnStore::Wal(p.store(dirty)),
        }
    }

    /// Bytes of dirty pages the transaction's trees may keep in memory together (`None` in
    /// log mode, which keeps every changed page until commit).
    pub(crate) fn budget_bytes(&self) -> Option<usize> {
        match self {
            TxnPager::Cow(p) => Some(p.budget_bytes()),
            TxnPager::Wal(_) => None,
        }
    }

    /// Brings a table's `view` up to now, cloning maps only if they changed (the common
    /// case after a change is that only the high-water mark moved).
    pub(crate) fn refresh(&self, view: &mut PageView) {
        let (map, high_water) = match self {
            TxnPager::Cow(p) => (p.map(), p.high_water()),
            TxnPager::Wal(p) => (p.main_map(), p.high_water()),
        };
        if !std::sync::Arc::ptr_eq(map, &view.map) {
            *view = self.view();
        }
        view.high_water = high_water;
    }

    /// The committed pages as of now, for a table's reads.
    pub(crate) fn view(&self) -> PageView {
        match self {
            TxnPager::Cow(p) => p.view(),
            TxnPager::Wal(p) => p.view(),
        }
    }

    /// Saves this transaction's freelist records into `dirty`; returns the new head of the
    /// chain and the records the meta holds.
    pub(crate) fn save_freelist(
        &mut self,
        dirty: &mut DirtyPages,
    ) -> Result<(Option<crate::ids::Ptr>, Vec<Record>)> {
        match self {
            TxnPager::Cow(p) => p.save_freelist(dirty),
            TxnPager::Wal(p) => Ok((p.save_freelist(dirty)?, Vec::new())),
        }
    }

    pub(crate) fn high_water(&self) -> u64 {
        match self {
            TxnPager::Cow(p) => p.high_water(),
            TxnPager::Wal(p) => p.high_water(),
        }
    }

    /// The copy-on-write pager, if that is the mode.
    pub(crate) fn cow_mut(&mut self) -> Option<&mut CowPager> {
        match self {
            TxnPager::Cow(p) => Some(p),
            TxnPager::Wal(_) => None,
        }
    }

    /// Makes this transaction a compaction step (DESIGN.md, "Giving space back") and
    /// returns the id below which it packs the file's pages.
    pub(crate) fn start_compaction(&mut self) -> u64 {
        let alloc = match self {
            TxnPager::Cow(p) => p.alloc_mut(),
            TxnPager::Wal(p) => p.alloc_mut(),
        };
        let limit = alloc.compaction_limit();
        alloc.start_compaction(limit);
        limit
    }

    /// Whether a free page below the compaction limit is left.
    pub(crate) fn compaction_room(&self) -> bool {
        match self {
            TxnPager::Cow(p) => p.alloc().room_below_limit(),
            TxnPager::Wal(p) => p.alloc().room_below_limit(),
        }
    }

    /// Where a savepoint can return to: the allocator's state (DESIGN.md, "Savepoints").
    pub(crate) fn savepoint(&mut self) -> Allocation {
        Allocation(match self {
            TxnPager::Cow(p) => p.savepoint(),
            TxnPager::Wal(p) => p.savepoint(),
        })
    }

    /// Returns to a savepoint's allocator state.
    pub(crate) fn restore(&mut self, to: &Allocation) {
        match self {
            TxnPager::Cow(p) => p.restore(to.0.clone()),
            TxnPager::Wal(p) => p.restore(to.0.clone()),
        }
    }

    /// Ends an aborted transaction, handing back the freelist as it was.
    pub(crate) fn rollback(self) -> FreeList {
        match self {
            TxnPager::Cow(p) => p.rollback(),
            TxnPager::Wal(p) => p.rollback(),
        }
    }

    /// Ends a committed transaction, handing back the freelist it saved.
    pub(crate) fn into_freelist(self) -> FreeList {
        match self {
            TxnPager::Cow(p) => p.into_freelist(),
            TxnPager::Wal(p) => p.into_freelist(),
        }
    }
}
